//! Errors of domain services, mapped to the public code table in `crate::error`.

use entity::LeadStatus;
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, SqlErr};

use crate::error::{ErrorCode, FieldError};

/// SQLite's primary result codes for a lock held by another connection.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

/// Everything a domain service can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The record does not exist for this caller (also: exists outside its scope).
    #[error("not found")]
    NotFound,
    /// The caller lacks the operation scope, or writes outside its markets/teams.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    /// A body, file or row count over a configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A live lead with the same canonical email exists. `existing_id` is `None`
    /// when that lead is outside the caller's scope (its id would leak).
    #[error("a lead with this email already exists")]
    Duplicate { existing_id: Option<i64> },
    #[error("cannot move a lead from {from:?} to {to:?}")]
    InvalidTransition { from: LeadStatus, to: LeadStatus },
    #[error(transparent)]
    Db(DbErr),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbErr> for DomainError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

impl DomainError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::NotFound,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::Duplicate { .. } => ErrorCode::Duplicate,
            Self::InvalidTransition { .. } => ErrorCode::InvalidTransition,
            Self::Db(_) | Self::Internal(_) if self.busy() => ErrorCode::Unavailable,
            Self::Db(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Whether this is a database overload (see [`DomainError::is_busy`]), also
    /// when wrapped in an internal error.
    pub fn busy(&self) -> bool {
        match self {
            Self::Db(err) => Self::is_busy(err),
            Self::Internal(err) => is_busy_anyhow(err),
            _ => false,
        }
    }

    /// Whether a database error means overload rather than a fault: no pooled
    /// connection came free within the acquire timeout
    /// (`LEADGRAPH_DB_ACQUIRE_TIMEOUT_MS`), or SQLite's write lock stayed taken
    /// past its busy timeout (`SQLITE_BUSY`, `SQLITE_LOCKED`: writers queue on
    /// the one write lock). Clients get `unavailable` (503).
    pub fn is_busy(err: &DbErr) -> bool {
        match err {
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => true,
            DbErr::Conn(RuntimeErr::SqlxError(e))
            | DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
                sea_orm::sqlx::Error::PoolTimedOut => true,
                sea_orm::sqlx::Error::Database(db) => db
                    .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                    .and(db.code())
                    .and_then(|code| code.parse::<i32>().ok())
                    // The primary code is the low byte of the extended one.
                    .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED)),
                _ => false,
            },
            _ => false,
        }
    }

    /// One field error as a validation failure.
    pub fn field(field: &str, code: batch::FieldCode, message: &str) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// Whether a database error is a unique-constraint violation (a lost race).
    pub fn is_unique_violation(err: &DbErr) -> bool {
        matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
    }
}

/// Whether an error chain holds a database overload ([`DomainError::is_busy`]).
pub fn is_busy_anyhow(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<DbErr>().is_some_and(DomainError::is_busy)
            || e.downcast_ref::<DomainError>()
                .is_some_and(DomainError::busy)
    })
}

/// One error of a batch item, as reported in per-item results.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItemError {
    /// The input field at fault, when one is.
    pub field: Option<String>,
    /// A field code (`required`, ...) or an error code (`duplicate`, `not_found`, ...).
    pub code: String,
    pub message: String,
}

impl DomainError {
    /// This error as per-item errors: one per field for validation, else one.
    pub fn item_errors(&self) -> Vec<ItemError> {
        match self {
            Self::Validation(fields) => fields
                .iter()
                .map(|f| ItemError {
                    field: Some(f.field.clone()),
                    code: f.code.as_str().to_owned(),
                    message: f.message.clone(),
                })
                .collect(),
            Self::Duplicate { .. } => vec![ItemError {
                field: Some("email".into()),
                code: self.code().slug().to_owned(),
                message: self.to_string(),
            }],
            Self::Db(_) | Self::Internal(_) => vec![ItemError {
                field: None,
                code: self.code().slug().to_owned(),
                message: if self.busy() {
                    "the server is busy; retry in a moment".into()
                } else {
                    "internal error".into()
                },
            }],
            other => vec![ItemError {
                field: None,
                code: other.code().slug().to_owned(),
                message: other.to_string(),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_pool_timeout_is_busy_and_unavailable_other_db_errors_are_internal() {
        let timeout = DbErr::ConnectionAcquire(ConnAcquireErr::Timeout);
        assert!(DomainError::is_busy(&timeout));
        let wrapped = DbErr::Conn(RuntimeErr::SqlxError(Arc::new(
            sea_orm::sqlx::Error::PoolTimedOut,
        )));
        assert!(DomainError::is_busy(&wrapped));
        assert_eq!(
            DomainError::Db(timeout.clone()).code(),
            ErrorCode::Unavailable
        );
        let internal = DomainError::Internal(anyhow::Error::new(timeout).context("loading"));
        assert_eq!(internal.code(), ErrorCode::Unavailable);
        assert_eq!(internal.item_errors()[0].code, "unavailable");

        for other in [
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            DbErr::Custom("boom".into()),
            DbErr::Query(RuntimeErr::Internal("syntax error".into())),
            DbErr::Conn(RuntimeErr::SqlxError(Arc::new(
                sea_orm::sqlx::Error::PoolClosed,
            ))),
        ] {
            assert!(!DomainError::is_busy(&other), "{other}");
            assert_eq!(DomainError::Db(other).code(), ErrorCode::Internal);
        }
        assert_eq!(
            DomainError::Internal(anyhow::anyhow!("boom")).code(),
            ErrorCode::Internal
        );
        assert!(!DomainError::NotFound.busy());
    }
}
