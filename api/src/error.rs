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
            Self::Internal => 500,
        }
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
                ("internal", 500),
            ]
        );
    }
}
