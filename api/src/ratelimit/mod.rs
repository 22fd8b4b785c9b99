//! Rate limits and monthly quotas.
//!
//! Each key has one budget per [`RateClass`] (read, write, bulk), refilled
//! continuously by GCRA (a leaky bucket with burst = the per-period limit), scaled
//! by the tenant's [`Plan`]. Live keys also draw on the tenant's monthly quota
//! (sandbox traffic does not count). State lives in a [`Backend`]: in memory for
//! one instance, in Redis (`REDIS_URL`) so several instances share one budget.

mod backend;
pub mod cost;
mod gcra;

use std::{sync::Arc, time::Duration};

use chrono::{Datelike, TimeZone, Utc};
use entity::Environment;
use strum::IntoStaticStr;

pub use backend::{Backend, CheckRequest, Checked, MemoryBackend, RedisBackend};
pub use gcra::{Gcra, GcraState};

use crate::auth::Principal;

/// What kind of request draws on which budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum RateClass {
    /// Queries; they cost points by the nodes they may return.
    Read,
    /// Single-record mutations (1 point each).
    Write,
    /// Batch mutations, imports, dedupe and `/v1` batch routes (1 point each).
    Bulk,
}

impl RateClass {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A tenant plan and what it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub name: &'static str,
    /// Multiplier of the free plan's per-period limits.
    pub multiplier: u64,
    /// Live requests per calendar month (UTC).
    pub monthly_quota: u64,
}

/// Per-period limits of the free (default) plan: read, write, bulk.
pub const BASE_LIMITS: [(RateClass, u64); 3] = [
    (RateClass::Read, 600),
    (RateClass::Write, 120),
    (RateClass::Bulk, 10),
];

/// The plans, smallest first.
pub const PLANS: [Plan; 5] = [
    Plan {
        name: "free",
        multiplier: 1,
        monthly_quota: 10_000,
    },
    Plan {
        name: "starter",
        multiplier: 2,
        monthly_quota: 100_000,
    },
    Plan {
        name: "pro",
        multiplier: 5,
        monthly_quota: 1_000_000,
    },
    Plan {
        name: "team",
        multiplier: 10,
        monthly_quota: 5_000_000,
    },
    Plan {
        name: "enterprise",
        multiplier: 25,
        monthly_quota: 50_000_000,
    },
];

impl Plan {
    /// The plan called `name` (unknown names get the free plan).
    pub fn named(name: &str) -> Plan {
        PLANS
            .iter()
            .copied()
            .find(|p| p.name == name)
            .unwrap_or(PLANS[0])
    }

    /// Points per period for a class.
    pub fn limit(self, class: RateClass) -> u64 {
        BASE_LIMITS
            .iter()
            .find(|(c, _)| *c == class)
            .map_or(0, |(_, n)| n * self.multiplier)
    }
}

/// The outcome of one check: what the headers and `rateLimit` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub class: RateClass,
    pub plan: &'static str,
    /// Points this request costs.
    pub cost: u64,
    pub limit: u64,
    pub remaining: u64,
    /// When the budget is full again (unix seconds).
    pub reset_at: i64,
    /// Set when refused: wait this long.
    pub retry_after: Option<Duration>,
    /// Refused because the monthly quota is used up (else by the rate limit).
    pub quota_exceeded: bool,
    pub usage_current: u64,
    pub usage_limit: u64,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.retry_after.is_none()
    }

    /// Whole seconds for `Retry-After` (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after
            .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
            .max(1)
    }

    /// The five headers sent on every authenticated response (and `Retry-After`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset_at.to_string()),
            ("x-api-usage-current", self.usage_current.to_string()),
            ("x-api-usage-limit", self.usage_limit.to_string()),
        ];
        if self.retry_after.is_some() {
            h.push(("retry-after", self.retry_after_secs().to_string()));
        }
        h
    }
}

/// How long a month's usage counter is kept.
const USAGE_TTL_SECS: u64 = 40 * 24 * 3600;

/// Checks requests against the budgets.
#[derive(Clone)]
pub struct RateLimiter {
    backend: Arc<dyn Backend>,
    period: Duration,
    /// Multiplier of every plan's limits and quota (1 in production).
    scale: u64,
}

impl RateLimiter {
    /// `period` is the refill period of the per-class limits (one minute in
    /// production; shorter in tests). `scale` multiplies every plan's
    /// per-period limits and monthly quota (1 unless a deployment or a load
    /// benchmark needs bigger budgets; the checks run all the same).
    pub fn new(backend: Arc<dyn Backend>, period: Duration, scale: u64) -> Self {
        Self {
            backend,
            period,
            scale: scale.max(1),
        }
    }

    /// The caller's plan with this limiter's scale applied: (plan name,
    /// per-period limit of `class`, monthly quota).
    fn budget(&self, p: &Principal, class: RateClass) -> (&'static str, u64, u64) {
        let plan = Plan::named(&p.plan);
        (
            plan.name,
            plan.limit(class).saturating_mul(self.scale),
            plan.monthly_quota.saturating_mul(self.scale),
        )
    }

    /// Checks and (when allowed) consumes `cost` points of `class` for the
    /// caller, and one request of the monthly quota for live keys.
    pub async fn check(
        &self,
        p: &Principal,
        class: RateClass,
        cost: u64,
    ) -> anyhow::Result<Decision> {
        let (plan, limit, quota) = self.budget(p, class);
        let cost = cost.clamp(1, limit.max(1));
        let now = Utc::now();
        let month = format!("{}-{:02}", now.year(), now.month());
        let usage_key = format!("usage:{}:{month}", p.tenant_id);
        let gcra = Gcra::new(limit, self.period);

        // Quota first: a request refused by the quota must not spend rate budget.
        let live = p.environment == Environment::Live;
        let bucket = bucket_key(p, class);
        let checked = self
            .backend
            .check(&CheckRequest {
                bucket: &bucket,
                gcra: &gcra,
                cost,
                usage_key: &usage_key,
                quota: live.then_some(quota),
                usage_ttl_secs: USAGE_TTL_SECS,
            })
            .await?;
        Ok(match checked {
            Checked::QuotaExceeded { state, usage } => {
                let view = gcra.view(state, now_micros());
                Decision {
                    class,
                    plan,
                    cost,
                    limit,
                    remaining: view.remaining,
                    reset_at: reset_at(view.full_in),
                    retry_after: Some(until_next_month(now)),
                    quota_exceeded: true,
                    usage_current: usage,
                    usage_limit: quota,
                }
            }
            Checked::Applied { outcome, usage } => Decision {
                class,
                plan,
                cost,
                limit,
                remaining: outcome.remaining,
                reset_at: reset_at(outcome.full_in),
                retry_after: (!outcome.allowed).then_some(outcome.retry_in),
                quota_exceeded: false,
                usage_current: usage,
                usage_limit: quota,
            },
        })
    }
}

impl RateLimiter {
    /// The caller's budget for `class` without spending from it (for responses
    /// that never reach a handler, such as idempotent replays).
    pub async fn peek(&self, p: &Principal, class: RateClass) -> anyhow::Result<Decision> {
        let (plan, limit, quota) = self.budget(p, class);
        let now = Utc::now();
        let usage_key = format!("usage:{}:{}-{:02}", p.tenant_id, now.year(), now.month());
        let state = self.backend.peek(&bucket_key(p, class)).await?;
        let view = Gcra::new(limit, self.period).view(state, now_micros());
        Ok(Decision {
            class,
            plan,
            cost: 0,
            limit,
            remaining: view.remaining,
            reset_at: reset_at(view.full_in),
            retry_after: None,
            quota_exceeded: false,
            usage_current: self.backend.usage(&usage_key).await?,
            usage_limit: quota,
        })
    }
}

fn bucket_key(p: &Principal, class: RateClass) -> String {
    format!("rl:{}:{}", p.key_id, class.as_str())
}

fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

fn reset_at(full_in: Duration) -> i64 {
    let secs = i64::try_from(full_in.as_secs()).unwrap_or(i64::MAX / 2);
    Utc::now().timestamp() + secs + i64::from(full_in.subsec_nanos() > 0)
}

fn until_next_month(now: chrono::DateTime<Utc>) -> Duration {
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let next = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    (next - now).to_std().unwrap_or(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_scale_the_free_limits() {
        assert_eq!(Plan::named("free").limit(RateClass::Read), 600);
        assert_eq!(Plan::named("free").limit(RateClass::Write), 120);
        assert_eq!(Plan::named("free").limit(RateClass::Bulk), 10);
        assert_eq!(Plan::named("pro").limit(RateClass::Bulk), 50);
        assert_eq!(Plan::named("nonsense"), PLANS[0]);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let mut d = Decision {
            class: RateClass::Read,
            plan: "free",
            cost: 1,
            limit: 1,
            remaining: 0,
            reset_at: 0,
            retry_after: Some(Duration::from_millis(1200)),
            quota_exceeded: false,
            usage_current: 0,
            usage_limit: 1,
        };
        assert_eq!(d.retry_after_secs(), 2);
        d.retry_after = Some(Duration::from_millis(10));
        assert_eq!(d.retry_after_secs(), 1);
        assert!(d.headers().iter().any(|(k, _)| *k == "retry-after"));
    }
}
