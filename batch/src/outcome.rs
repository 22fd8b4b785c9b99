//! Per-field validation outcomes.
//!
//! A [`FieldError`] names the field by its GraphQL (camelCase) name, carries a
//! stable machine code ([`FieldCode`]) and a short human message. Messages
//! never echo the submitted value, only the field name, so they are safe to
//! log and to return to any caller (no PII).

use serde::Serialize;

/// Why a field was refused. The snake_case slug ([`FieldCode::as_str`]) is
/// part of the public API contract and must never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldCode {
    /// The field is missing, blank or explicitly null but must have a value.
    Required,
    /// The value does not parse (email, phone, control characters).
    InvalidFormat,
    /// The value is shorter than allowed.
    TooShort,
    /// The value is longer than allowed.
    TooLong,
    /// A number outside its allowed range.
    OutOfRange,
    /// An object with more keys than allowed.
    TooManyKeys,
    /// An array or object where only a scalar is allowed.
    NotScalar,
    /// A value of the wrong kind (e.g. `customFields` that is not an object).
    InvalidValue,
}

impl FieldCode {
    /// Every code, in declaration order (for exhaustive tests and docs).
    pub const ALL: [FieldCode; 8] = [
        FieldCode::Required,
        FieldCode::InvalidFormat,
        FieldCode::TooShort,
        FieldCode::TooLong,
        FieldCode::OutOfRange,
        FieldCode::TooManyKeys,
        FieldCode::NotScalar,
        FieldCode::InvalidValue,
    ];

    /// The stable snake_case slug, identical to the serde representation.
    pub fn as_str(&self) -> &'static str {
        match self {
            FieldCode::Required => "required",
            FieldCode::InvalidFormat => "invalid_format",
            FieldCode::TooShort => "too_short",
            FieldCode::TooLong => "too_long",
            FieldCode::OutOfRange => "out_of_range",
            FieldCode::TooManyKeys => "too_many_keys",
            FieldCode::NotScalar => "not_scalar",
            FieldCode::InvalidValue => "invalid_value",
        }
    }
}

impl std::fmt::Display for FieldCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused field: which field, why, and a short message without PII.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message} ({code})")]
pub struct FieldError {
    /// GraphQL field name (`email`, `firstName`, `customFields.<key>`, ...).
    pub field: String,
    /// Machine-readable reason.
    pub code: FieldCode,
    /// Short human message; never contains the submitted value.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, code: FieldCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_match_serde_for_every_code() {
        for code in FieldCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()));
        }
    }

    #[test]
    fn field_error_serialises_with_its_three_fields() {
        let e = FieldError::new("email", FieldCode::Required, "email is required");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"field": "email", "code": "required", "message": "email is required"})
        );
        assert_eq!(e.to_string(), "email: email is required (required)");
    }
}
