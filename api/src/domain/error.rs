//! Errors of domain services, mapped to the public code table in `crate::error`.

use entity::LeadStatus;
use sea_orm::{DbErr, SqlErr};

use crate::error::{ErrorCode, FieldError};

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
            Self::Db(_) | Self::Internal(_) => ErrorCode::Internal,
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
                message: "internal error".into(),
            }],
            other => vec![ItemError {
                field: None,
                code: other.code().slug().to_owned(),
                message: other.to_string(),
            }],
        }
    }
}
