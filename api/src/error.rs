//! The one table of error codes (slug + HTTP status) and the API-facing error.
//!
//! Every error a client sees carries one of these slugs in `extensions.code` and the
//! HTTP-equivalent status in `extensions.status`; the slugs are public contract.

use strum::{EnumIter, IntoStaticStr};

pub use batch::FieldError;

/// A stable error slug with its HTTP-equivalent status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadRequest,
    QueryTooComplex,
    Duplicate,
    IdempotencyInProgress,
    ValidationFailed,
    InvalidTransition,
    IdempotencyKeyReused,
    RateLimited,
    QuotaExceeded,
    PayloadTooLarge,
    /// The server is overloaded (no database connection came free in time);
    /// retrying shortly may succeed. An addition to the design's table.
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The slug clients match on (`not_found`, `validation_failed`, ...).
    pub fn slug(self) -> &'static str {
        self.into()
    }

    /// The HTTP status this code maps to.
    pub fn status(self) -> u16 {
        match self {
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::BadRequest | Self::QueryTooComplex => 400,
            Self::Duplicate | Self::IdempotencyInProgress => 409,
            Self::ValidationFailed | Self::InvalidTransition | Self::IdempotencyKeyReused => 422,
            Self::RateLimited | Self::QuotaExceeded => 429,
            Self::PayloadTooLarge => 413,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }
}

/// A failure on the server's side as the client sees it, logged once here.
///
/// Database overload (`busy`: see [`crate::domain::DomainError::is_busy`]) is
/// `unavailable` and logged at warn; anything else is `internal` and logged at
/// error. The message names the request id, never the cause.
pub fn server_failure(
    busy: bool,
    request_id: &str,
    cause: &dyn std::fmt::Display,
    what: &str,
) -> (ErrorCode, String) {
    if busy {
        tracing::warn!(request.id = %request_id, error = %cause, "{what}: the database is busy");
        (
            ErrorCode::Unavailable,
            format!("the server is busy; retry in a moment (request id {request_id})"),
        )
    } else {
        tracing::error!(request.id = %request_id, error = %cause, "{what}");
        (
            ErrorCode::Internal,
            format!("internal error (request id {request_id})"),
        )
    }
}

/// `Retry-After: 1` on a 503 answer: overload passes quickly.
pub fn set_retry_after(response: &mut axum::response::Response) {
    if response.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_code_has_a_snake_case_slug_and_a_status() {
        let table: Vec<(&str, u16)> = ErrorCode::iter().map(|c| (c.slug(), c.status())).collect();
        assert_eq!(
            table,
            vec![
                ("unauthenticated", 401),
                ("forbidden", 403),
                ("not_found", 404),
                ("bad_request", 400),
                ("query_too_complex", 400),
                ("duplicate", 409),
                ("idempotency_in_progress", 409),
                ("validation_failed", 422),
                ("invalid_transition", 422),
                ("idempotency_key_reused", 422),
                ("rate_limited", 429),
                ("quota_exceeded", 429),
                ("payload_too_large", 413),
                ("unavailable", 503),
                ("internal", 500),
            ]
        );
    }

    #[test]
    fn overload_is_unavailable_with_retry_after_anything_else_internal() {
        let (code, message) = server_failure(true, "r1", &"pool timed out", "request failed");
        assert_eq!(code, ErrorCode::Unavailable);
        assert_eq!(
            message,
            "the server is busy; retry in a moment (request id r1)"
        );
        let (code, message) = server_failure(false, "r2", &"boom", "request failed");
        assert_eq!(code, ErrorCode::Internal);
        assert_eq!(message, "internal error (request id r2)");

        use axum::{http::StatusCode, response::IntoResponse};
        let mut busy = StatusCode::SERVICE_UNAVAILABLE.into_response();
        set_retry_after(&mut busy);
        assert_eq!(busy.headers()["retry-after"], "1");
        let mut failed = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        set_retry_after(&mut failed);
        assert!(!failed.headers().contains_key("retry-after"));
    }
}
