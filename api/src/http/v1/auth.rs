//! The authenticated caller of a `/v1` request, as an extractor: a refused key
//! answers 401 in the envelope before the handler runs.

use axum::{extract::FromRequestParts, http::request::Parts, response::Response};

use axum::http::HeaderValue;

use super::envelope;
use crate::{
    auth::{
        Op, Principal,
        authenticate::{AuthenticateError, authenticate},
    },
    domain::DomainError,
    error::{ErrorCode, server_failure},
    http::AppState,
    ratelimit::{Decision, RateClass},
};

/// The caller, authenticated.
pub struct Caller {
    pub principal: Principal,
    pub request_id: String,
    /// The rate-limit decision (bulk class), for the response headers.
    pub rate: Option<Decision>,
}

/// Sets the `X-RateLimit-*`/`X-API-Usage-*` (and `Retry-After`) headers.
pub fn set_rate_headers(response: &mut Response, d: &Decision) {
    for (name, value) in d.headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
}

impl Caller {
    /// Adds the rate-limit headers to a handler's response.
    pub fn finish(&self, mut response: Response) -> Response {
        if let Some(d) = &self.rate {
            set_rate_headers(&mut response, d);
        }
        response
    }
}

impl Caller {
    /// `forbidden` unless the key has `op`.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, op: Op) -> Result<(), Response> {
        if self.principal.can(op) {
            Ok(())
        } else {
            let message = format!("this key lacks the `{}` scope", op.as_str());
            Err(envelope::error(
                ErrorCode::Forbidden,
                &message,
                self.request_id.clone(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    /// Every `/v1` write and export is a bulk operation (1 point).
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Self::extract(parts, state, RateClass::Bulk).await
    }
}

/// A caller of a `/v1` read (job status, results pages), charged as one
/// read-class request instead of a bulk one, so clients can poll a job.
pub struct ReadCaller(pub Caller);

impl FromRequestParts<AppState> for ReadCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Caller::extract(parts, state, RateClass::Read)
            .await
            .map(Self)
    }
}

impl Caller {
    async fn extract(
        parts: &mut Parts,
        state: &AppState,
        class: RateClass,
    ) -> Result<Self, Response> {
        let request_id = envelope::request_id(&parts.headers);
        // A middleware (idempotency) may have authenticated the request already.
        let authenticated = match parts.extensions.remove::<Principal>() {
            Some(principal) => Ok(principal),
            None => authenticate(&state.db, &state.codec, &state.auth, &parts.headers).await,
        };
        match authenticated {
            Ok(principal) => {
                let rate = match state.limiter.check(&principal, class, 1).await {
                    Ok(d) => Some(d),
                    Err(err) => {
                        tracing::warn!(error = %err, "rate-limit check failed; request allowed");
                        None
                    }
                };
                if let Some(d) = rate.as_ref().filter(|d| !d.allowed()) {
                    let (code, message) = if d.quota_exceeded {
                        (
                            ErrorCode::QuotaExceeded,
                            "the monthly API quota of this plan is used up".to_owned(),
                        )
                    } else {
                        (
                            ErrorCode::RateLimited,
                            format!("rate limit exceeded; retry in {} s", d.retry_after_secs()),
                        )
                    };
                    let mut response = envelope::error(code, &message, request_id);
                    set_rate_headers(&mut response, d);
                    return Err(response);
                }
                Ok(Self {
                    principal,
                    request_id,
                    rate,
                })
            }
            Err(AuthenticateError::Refused(err)) => {
                Err(envelope::error(err.code(), &err.to_string(), request_id))
            }
            Err(AuthenticateError::Db(err)) => {
                let (code, message) = server_failure(
                    DomainError::is_busy(&err),
                    &request_id,
                    &err,
                    "authentication query failed",
                );
                Err(envelope::error(code, &message, request_id))
            }
        }
    }
}
