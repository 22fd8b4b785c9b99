//! Rate limiting of GraphQL requests: after parsing, the request's class and
//! cost are checked against the caller's budget (before anything executes). The
//! decision lands in the request's [`RateSlot`], from which the `rateLimit` query
//! reads it and the HTTP handler writes the headers and `extensions.cost`.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{
    ServerError, ServerResult, Value, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::ExecutableDocument,
};

use super::errors::set_code;
use crate::{
    auth::Principal,
    error::ErrorCode,
    ratelimit::{Decision, RateLimiter, cost},
};

/// Per-request slot holding the rate-limit decision.
#[derive(Clone, Default)]
pub struct RateSlot(Arc<Mutex<Option<Decision>>>);

impl RateSlot {
    pub fn get(&self) -> Option<Decision> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, d: Decision) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(d);
    }
}

/// Factory registered on the schema.
pub struct RateLimit;

impl ExtensionFactory for RateLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RateLimitExtension)
    }
}

struct RateLimitExtension;

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

#[async_trait::async_trait]
impl Extension for RateLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let (Some(principal), Some(limiter), Some(slot)) = (
            ctx.data_opt::<Arc<Principal>>(),
            ctx.data_opt::<RateLimiter>(),
            ctx.data_opt::<RateSlot>(),
        ) else {
            return Ok(doc);
        };
        let (class, points) = cost::classify(&doc, variables);
        match limiter.check(principal, class, points).await {
            Ok(decision) => {
                let allowed = decision.allowed();
                let err = (!allowed).then(|| refused(&decision));
                slot.set(decision);
                match err {
                    Some(err) => Err(err),
                    None => Ok(doc),
                }
            }
            Err(err) => {
                // Fail open: a rate-limit store outage must not take the API down.
                tracing::warn!(error = %err, "rate-limit check failed; request allowed");
                Ok(doc)
            }
        }
    }
}
