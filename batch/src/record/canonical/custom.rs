//! `customFields`: a flat JSON object of scalar values.
//!
//! Limits: at most [`CUSTOM_FIELDS_MAX_KEYS`] keys, keys of 1 to
//! [`CUSTOM_KEY_MAX_CHARS`] characters, and values that are strings, numbers,
//! booleans or null. A string value may hold up to [`CUSTOM_VALUE_MAX_BYTES`]
//! bytes of UTF-8 (its text, not its quoted JSON form); any other value may
//! serialise to at most that many bytes. `\0` is refused in keys and strings
//! because Postgres `jsonb` cannot store it. Per-key errors name the field
//! `customFields.<key>`.

use serde_json::{Map, Value};

use crate::outcome::{FieldCode, FieldError};
use crate::record::field;

/// Most keys one lead may carry.
pub const CUSTOM_FIELDS_MAX_KEYS: usize = 50;
/// Longest key, in characters.
pub const CUSTOM_KEY_MAX_CHARS: usize = 64;
/// Largest value, in bytes.
pub const CUSTOM_VALUE_MAX_BYTES: usize = 1024;

/// Validates `customFields`, returning every problem found (keys in map order).
pub fn custom_fields(raw: &Value) -> Result<Map<String, Value>, Vec<FieldError>> {
    let Value::Object(map) = raw else {
        return Err(vec![FieldError::new(
            field::CUSTOM_FIELDS,
            FieldCode::InvalidValue,
            "customFields must be a JSON object",
        )]);
    };
    let errors = map_errors(map);
    if errors.is_empty() {
        Ok(map.clone())
    } else {
        Err(errors)
    }
}

/// [`custom_fields`] for an object the caller already owns (no copy).
pub(crate) fn custom_fields_map(
    map: Map<String, Value>,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let errors = map_errors(&map);
    if errors.is_empty() {
        Ok(map)
    } else {
        Err(errors)
    }
}

/// Every problem of an object's keys and values, in map order.
fn map_errors(map: &Map<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if map.len() > CUSTOM_FIELDS_MAX_KEYS {
        errors.push(FieldError::new(
            field::CUSTOM_FIELDS,
            FieldCode::TooManyKeys,
            format!("customFields may have at most {CUSTOM_FIELDS_MAX_KEYS} keys"),
        ));
    }
    errors.extend(
        map.iter()
            .filter_map(|(key, value)| check_key(key).or_else(|| check_value(key, value))),
    );
    errors
}

fn check_key(key: &str) -> Option<FieldError> {
    // A string has at most as many characters as bytes: characters are
    // counted only for a long key.
    let problem = if key.is_empty() {
        (
            FieldCode::Required,
            "customFields keys must not be empty".to_owned(),
        )
    } else if key.len() > CUSTOM_KEY_MAX_CHARS && key.chars().count() > CUSTOM_KEY_MAX_CHARS {
        (
            FieldCode::TooLong,
            format!("customFields keys must be at most {CUSTOM_KEY_MAX_CHARS} characters"),
        )
    } else if key.contains('\0') {
        (
            FieldCode::InvalidFormat,
            "customFields keys must not contain NUL characters".to_owned(),
        )
    } else {
        return None;
    };
    Some(key_error(key, problem))
}

fn check_value(key: &str, value: &Value) -> Option<FieldError> {
    let too_long = || {
        (
            FieldCode::TooLong,
            format!("customFields values must be at most {CUSTOM_VALUE_MAX_BYTES} bytes"),
        )
    };
    let problem = match value {
        Value::Array(_) | Value::Object(_) => (
            FieldCode::NotScalar,
            "customFields values must be a string, number, boolean or null".to_owned(),
        ),
        Value::String(s) if s.len() > CUSTOM_VALUE_MAX_BYTES => too_long(),
        Value::String(s) if s.contains('\0') => (
            FieldCode::InvalidFormat,
            "customFields values must not contain NUL characters".to_owned(),
        ),
        Value::String(_) => return None,
        // Only reachable with serde_json's `arbitrary_precision` numbers.
        other if !serde_json::to_string(other).is_ok_and(|s| s.len() <= CUSTOM_VALUE_MAX_BYTES) => {
            too_long()
        }
        _ => return None,
    };
    Some(key_error(key, problem))
}

fn key_error(key: &str, (code, message): (FieldCode, String)) -> FieldError {
    FieldError::new(format!("{}.{key}", field::CUSTOM_FIELDS), code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object_with_keys(n: usize) -> Value {
        Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect())
    }

    fn codes(raw: &Value) -> Vec<(String, FieldCode)> {
        custom_fields(raw)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn scalars_are_kept_as_given() {
        let raw = json!({"plan": "pro", "seats": 12, "ratio": 0.5, "trial": false, "ref": null});
        assert_eq!(custom_fields(&raw).unwrap(), *raw.as_object().unwrap());
    }

    #[test]
    fn non_objects_are_invalid_value() {
        for raw in [json!([1]), json!("x"), json!(3), json!(null)] {
            assert_eq!(
                codes(&raw),
                [("customFields".to_owned(), FieldCode::InvalidValue)]
            );
        }
    }

    #[test]
    fn fifty_keys_pass_fifty_one_do_not() {
        assert_eq!(custom_fields(&object_with_keys(50)).unwrap().len(), 50);
        assert_eq!(
            codes(&object_with_keys(51)),
            [("customFields".to_owned(), FieldCode::TooManyKeys)]
        );
    }

    #[test]
    fn keys_of_64_chars_pass_65_do_not() {
        let ok = "é".repeat(64);
        assert!(custom_fields(&json!({ ok: 1 })).is_ok());
        let long = "k".repeat(65);
        assert_eq!(
            codes(&json!({ long.clone(): 1 })),
            [(format!("customFields.{long}"), FieldCode::TooLong)]
        );
    }

    #[test]
    fn empty_key_is_required() {
        assert_eq!(
            codes(&json!({"": 1})),
            [("customFields.".to_owned(), FieldCode::Required)]
        );
    }

    #[test]
    fn string_values_of_1024_bytes_pass_1025_do_not() {
        assert!(custom_fields(&json!({"note": "x".repeat(1024)})).is_ok());
        assert!(custom_fields(&json!({"note": "é".repeat(512)})).is_ok());
        assert_eq!(
            codes(&json!({"note": "x".repeat(1025)})),
            [("customFields.note".to_owned(), FieldCode::TooLong)]
        );
        assert_eq!(
            codes(&json!({"note": format!("{}x", "é".repeat(512))})),
            [("customFields.note".to_owned(), FieldCode::TooLong)]
        );
    }

    #[test]
    fn nested_values_are_not_scalar() {
        let raw = json!({"a": [1, 2], "b": {"c": 1}, "d": "ok"});
        assert_eq!(
            codes(&raw),
            [
                ("customFields.a".to_owned(), FieldCode::NotScalar),
                ("customFields.b".to_owned(), FieldCode::NotScalar),
            ]
        );
    }

    #[test]
    fn nul_characters_are_invalid_format() {
        assert_eq!(
            codes(&json!({"a": "x\u{0}y"})),
            [("customFields.a".to_owned(), FieldCode::InvalidFormat)]
        );
    }

    #[test]
    fn all_problems_are_reported_together() {
        let mut map = object_with_keys(51);
        map.as_object_mut()
            .unwrap()
            .insert("zz".to_owned(), json!([1]));
        assert_eq!(
            codes(&map),
            [
                ("customFields".to_owned(), FieldCode::TooManyKeys),
                ("customFields.zz".to_owned(), FieldCode::NotScalar),
            ]
        );
    }
}
