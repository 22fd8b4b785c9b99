//! Rate limiting of GraphQL requests: the HTTP handler parses the request,
//! then [`check`] weighs its class and cost against the caller's budget
//! before anything executes (the parsed document is kept for execution). The
//! decision goes into the request's [`RateSlot`], from which the `rateLimit`
//! query reads it; the handler writes the headers and `extensions.cost`.
//!
//! This is not an async-graphql extension: any registered extension puts
//! every field of every request on async-graphql's slow path.

use async_graphql::{ServerError, Value, Variables, parser::types::ExecutableDocument};

use super::errors::set_code;
use crate::{
    auth::Principal,
    error::ErrorCode,
    ratelimit::{Decision, RateLimiter, cost},
};

/// The request's rate-limit decision, as request data.
#[derive(Clone, Default)]
pub struct RateSlot(pub Option<Decision>);

impl RateSlot {
    pub fn get(&self) -> Option<Decision> {
        self.0.clone()
    }
}

/// Weighs a parsed request against the caller's budget: the decision (none
/// when the rate-limit store failed: a store outage must not take the API
/// down, so the request is allowed), or the error refusing it. A document
/// too large to weigh is refused as `query_too_complex` and not charged.
pub async fn check(
    limiter: &RateLimiter,
    principal: &Principal,
    doc: &ExecutableDocument,
    variables: &Variables,
) -> (Option<Decision>, Option<ServerError>) {
    let Some((class, points)) = cost::classify(doc, variables) else {
        let mut err = ServerError::new(
            format!(
                "the query is too complex: with its fragments expanded it has more than {} \
                 selections or {} levels",
                cost::MAX_VISITS,
                cost::MAX_WALK_DEPTH
            ),
            None,
        );
        set_code(
            err.extensions.get_or_insert_with(Default::default),
            ErrorCode::QueryTooComplex,
        );
        return (None, Some(err));
    };
    match limiter.check(principal, class, points).await {
        Ok(decision) => {
            let err = (!decision.allowed()).then(|| refused(&decision));
            (Some(decision), err)
        }
        Err(err) => {
            tracing::warn!(error = %err, "rate-limit check failed; request allowed");
            (None, None)
        }
    }
}

fn refused(d: &Decision) -> ServerError {
    let (code, message) = if d.quota_exceeded {
        (
            ErrorCode::QuotaExceeded,
            "the monthly API quota of this plan is used up".to_owned(),
        )
    } else {
        (
            ErrorCode::RateLimited,
            format!(
                "rate limit of the {} class exceeded; retry in {} s",
                d.class.as_str(),
                d.retry_after_secs()
            ),
        )
    };
    let mut err = ServerError::new(message, None);
    let ext = err.extensions.get_or_insert_with(Default::default);
    set_code(ext, code);
    ext.set("retryAfter", d.retry_after_secs());
    err
}

/// `extensions.cost`.
pub fn cost_value(d: &Decision) -> Value {
    let json = serde_json::json!({
        "class": d.class.as_str(),
        "requested": d.cost,
        "limit": d.limit,
        "remaining": d.remaining,
        "resetAt": d.reset_at,
    });
    Value::from_json(json).unwrap_or(Value::Null)
}
