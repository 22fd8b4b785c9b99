//! Whole-record validation for creates ([`validate_new`]) and updates
//! ([`validate_patch`]).
//!
//! Every field is checked even after one fails, so a caller sees all of a
//! record's problems in one response, always in field order.

use serde_json::{Map, Value};

use super::canonical::{custom_fields, email, name, optional_text, phone, score};
use super::{CleanLead, CleanPatch, LeadPatch, RawLead, Score, TEXT_MAX, field};
use crate::outcome::{FieldCode, FieldError};

/// Validates every field of a new lead and returns ALL field errors (not just
/// the first), in field order email, firstName, lastName, phone, company,
/// jobTitle, score, customFields.
pub fn validate_new(
    raw: &RawLead,
    default_region: Option<&str>,
) -> Result<CleanLead, Vec<FieldError>> {
    let lead = LeadRef {
        email: text(&raw.email),
        first_name: text(&raw.first_name),
        last_name: text(&raw.last_name),
        phone: text(&raw.phone),
        company: raw.company.as_deref(),
        job_title: raw.job_title.as_deref(),
        score: raw.score,
    };
    validate_fields(
        &lead,
        nullable_custom_fields(raw.custom_fields.as_ref()),
        default_region,
    )
}

/// A new lead's fields, borrowed: what [`validate_new`] checks, whether
/// they come from a [`RawLead`] or straight from a CSV row (the import
/// pipeline skips building a `RawLead`). A missing text field is blank.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LeadRef<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub phone: &'a str,
    pub company: Option<&'a str>,
    pub job_title: Option<&'a str>,
    pub score: Option<i64>,
}

/// [`validate_new`] on borrowed fields, with custom fields already checked
/// (their errors come last, as in field order).
pub(crate) fn validate_fields(
    raw: &LeadRef<'_>,
    custom_fields: Result<Map<String, Value>, Vec<FieldError>>,
    default_region: Option<&str>,
) -> Result<CleanLead, Vec<FieldError>> {
    let mut errors = Vec::new();
    let e = &mut errors;
    let email = keep(e, email(raw.email));
    let first_name = keep(e, name(field::FIRST_NAME, raw.first_name));
    let last_name = keep(e, name(field::LAST_NAME, raw.last_name));
    let phone = keep(e, phone(raw.phone, default_region));
    let company = keep(e, optional_text(field::COMPANY, raw.company, TEXT_MAX));
    let job_title = keep(e, optional_text(field::JOB_TITLE, raw.job_title, TEXT_MAX));
    let score = keep(e, raw.score.map_or(Ok(Score::default()), score));
    let custom_fields = keep_all(e, custom_fields);

    match (
        email,
        first_name,
        last_name,
        phone,
        company,
        job_title,
        score,
        custom_fields,
    ) {
        (
            Some(email),
            Some(first_name),
            Some(last_name),
            Some(phone),
            Some(company),
            Some(job_title),
            Some(score),
            Some(custom_fields),
        ) => Ok(CleanLead {
            email,
            first_name,
            last_name,
            phone,
            company,
            job_title,
            score,
            custom_fields,
        }),
        _ => Err(errors),
    }
}

/// Validates the fields a patch gives and returns ALL field errors, in the
/// same field order as [`validate_new`]. Explicit null on email, firstName,
/// lastName or score is `required`; on the other fields it clears them.
pub fn validate_patch(
    raw: &LeadPatch,
    default_region: Option<&str>,
) -> Result<CleanPatch, Vec<FieldError>> {
    let mut errors = Vec::new();
    let e = &mut errors;
    let patch = CleanPatch {
        email: required(e, field::EMAIL, given(&raw.email), email),
        first_name: required(e, field::FIRST_NAME, given(&raw.first_name), |v| {
            name(field::FIRST_NAME, v)
        }),
        last_name: required(e, field::LAST_NAME, given(&raw.last_name), |v| {
            name(field::LAST_NAME, v)
        }),
        phone: clearable(e, given(&raw.phone), |v| {
            phone(v.unwrap_or_default(), default_region)
        }),
        company: clearable(e, given(&raw.company), |v| {
            optional_text(field::COMPANY, v, TEXT_MAX)
        }),
        job_title: clearable(e, given(&raw.job_title), |v| {
            optional_text(field::JOB_TITLE, v, TEXT_MAX)
        }),
        score: required(e, field::SCORE, raw.score, score),
        custom_fields: raw
            .custom_fields
            .as_ref()
            .and_then(|v| keep_all(e, nullable_custom_fields(v.as_ref()))),
    };
    if errors.is_empty() {
        Ok(patch)
    } else {
        Err(errors)
    }
}

/// Borrows a patch field's text: `Option<Option<String>>` to `Option<Option<&str>>`.
fn given(value: &Option<Option<String>>) -> Option<Option<&str>> {
    value.as_ref().map(Option::as_deref)
}

/// A missing optional text field reads as blank.
fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

/// Custom fields where absent or JSON `null` means "none".
fn nullable_custom_fields(value: Option<&Value>) -> Result<Map<String, Value>, Vec<FieldError>> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(value) => custom_fields(value),
    }
}

/// Patch rule for a field that may change but never be null.
fn required<V, T>(
    errors: &mut Vec<FieldError>,
    field: &str,
    given: Option<Option<V>>,
    parse: impl FnOnce(V) -> Result<T, FieldError>,
) -> Option<T> {
    match given? {
        Some(value) => keep(errors, parse(value)),
        None => {
            errors.push(FieldError::new(
                field,
                FieldCode::Required,
                format!("{field} cannot be null"),
            ));
            None
        }
    }
}

/// Patch rule for a field that null (or blank) clears.
fn clearable<V, T>(
    errors: &mut Vec<FieldError>,
    given: Option<Option<V>>,
    parse: impl FnOnce(Option<V>) -> Result<Option<T>, FieldError>,
) -> Option<Option<T>> {
    keep(errors, parse(given?))
}

/// The value if valid; otherwise records the error and yields `None`.
fn keep<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

/// Like [`keep`] for validators that report several errors.
fn keep_all<T>(errors: &mut Vec<FieldError>, result: Result<T, Vec<FieldError>>) -> Option<T> {
    result.map_err(|more| errors.extend(more)).ok()
}
