//! Lead records: raw input, validated output, and the functions between.
//!
//! [`validate_new`] and [`validate_patch`] check every field and return all
//! field errors at once, in the fixed order email, firstName, lastName,
//! phone, company, jobTitle, score, customFields. [`process_chunk`] runs
//! [`validate_new`] over a chunk of import rows on the rayon pool.

pub mod canonical;
mod chunk;
pub mod mapping;
mod validate;

use serde_json::{Map, Value};

pub use canonical::{CanonicalEmail, E164, Email, Score};
pub use chunk::{ChunkItem, process_chunk};
pub(crate) use validate::{LeadRef, validate_fields};
pub use validate::{validate_new, validate_patch};

/// Longest first or last name, in characters.
pub const NAME_MAX: usize = 100;
/// Longest company or job title, in characters.
pub const TEXT_MAX: usize = 200;

/// Field names as they appear in [`FieldError::field`](crate::FieldError)
/// (the GraphQL camelCase names).
pub mod field {
    /// `email`
    pub const EMAIL: &str = "email";
    /// `firstName`
    pub const FIRST_NAME: &str = "firstName";
    /// `lastName`
    pub const LAST_NAME: &str = "lastName";
    /// `phone`
    pub const PHONE: &str = "phone";
    /// `company`
    pub const COMPANY: &str = "company";
    /// `jobTitle`
    pub const JOB_TITLE: &str = "jobTitle";
    /// `score`
    pub const SCORE: &str = "score";
    /// `customFields` (per-key errors use `customFields.<key>`)
    pub const CUSTOM_FIELDS: &str = "customFields";
}

/// A lead as submitted (GraphQL input, REST body or CSV row), unchecked.
/// `None` means the field was not given.
#[derive(Debug, Clone, Default)]
pub struct RawLead {
    /// Required.
    pub email: Option<String>,
    /// Required.
    pub first_name: Option<String>,
    /// Required.
    pub last_name: Option<String>,
    /// Optional; national numbers use the market's default region.
    pub phone: Option<String>,
    /// Optional.
    pub company: Option<String>,
    /// Optional.
    pub job_title: Option<String>,
    /// Optional; defaults to 0.
    pub score: Option<i64>,
    /// Optional; a JSON object of scalars. `null` counts as not given.
    pub custom_fields: Option<Value>,
}

/// A lead that passed validation, in canonical form, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanLead {
    /// Display form plus dedupe key.
    pub email: Email,
    /// Trimmed, whitespace collapsed.
    pub first_name: String,
    /// Trimmed, whitespace collapsed.
    pub last_name: String,
    /// E.164, if given.
    pub phone: Option<E164>,
    /// Trimmed, whitespace collapsed, if given.
    pub company: Option<String>,
    /// Trimmed, whitespace collapsed, if given.
    pub job_title: Option<String>,
    /// 0 when not given.
    pub score: Score,
    /// Empty when not given.
    pub custom_fields: Map<String, Value>,
}

impl CleanLead {
    /// The "full name" dedupe key of this lead.
    pub fn name_key(&self) -> String {
        canonical::normalize_name_key(&self.first_name, &self.last_name)
    }
}

/// A partial update. Outer `None`: field not given (unchanged); `Some(None)`:
/// explicit null (clear it; refused with `required` for email, firstName,
/// lastName and score).
#[derive(Debug, Clone, Default)]
pub struct LeadPatch {
    /// Null is refused.
    pub email: Option<Option<String>>,
    /// Null is refused.
    pub first_name: Option<Option<String>>,
    /// Null is refused.
    pub last_name: Option<Option<String>>,
    /// Null or blank clears the phone.
    pub phone: Option<Option<String>>,
    /// Null or blank clears the company.
    pub company: Option<Option<String>>,
    /// Null or blank clears the job title.
    pub job_title: Option<Option<String>>,
    /// Null is refused.
    pub score: Option<Option<i64>>,
    /// Null (or a JSON `null` value) clears all custom fields.
    pub custom_fields: Option<Option<Value>>,
}

/// A validated partial update. `None` everywhere means "leave unchanged".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CleanPatch {
    /// New email, if given.
    pub email: Option<Email>,
    /// New first name, if given.
    pub first_name: Option<String>,
    /// New last name, if given.
    pub last_name: Option<String>,
    /// `Some(None)` clears the phone.
    pub phone: Option<Option<E164>>,
    /// `Some(None)` clears the company.
    pub company: Option<Option<String>>,
    /// `Some(None)` clears the job title.
    pub job_title: Option<Option<String>>,
    /// New score, if given.
    pub score: Option<Score>,
    /// Replacement custom fields; `Some(empty map)` when null was given.
    pub custom_fields: Option<Map<String, Value>>,
}

impl CleanPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests;
