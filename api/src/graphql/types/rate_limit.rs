//! The `RateLimit` object: the caller's budget for this request's class.

use async_graphql::SimpleObject;
use chrono::{DateTime, TimeZone, Utc};

use crate::ratelimit::Decision;

/// The caller's rate-limit budget, as of this request.
#[derive(SimpleObject, Debug, Clone)]
pub struct RateLimit {
    /// `read`, `write` or `bulk`: the budget this request drew on.
    pub class: String,
    /// The tenant's plan.
    pub plan: String,
    /// Points this request cost (queries: ceil(nodes it may return / 100)).
    pub cost: u64,
    /// Points per period for this class.
    pub limit: u64,
    pub remaining: u64,
    /// When the budget is full again.
    pub reset_at: DateTime<Utc>,
    /// Live requests this calendar month (UTC).
    pub usage_current: u64,
    /// The plan's monthly quota of live requests.
    pub usage_limit: u64,
}

impl From<Decision> for RateLimit {
    fn from(d: Decision) -> Self {
        Self {
            class: d.class.as_str().to_owned(),
            plan: d.plan.to_owned(),
            cost: d.cost,
            limit: d.limit,
            remaining: d.remaining,
            reset_at: Utc
                .timestamp_opt(d.reset_at, 0)
                .single()
                .unwrap_or_else(Utc::now),
            usage_current: d.usage_current,
            usage_limit: d.usage_limit,
        }
    }
}
