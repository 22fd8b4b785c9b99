//! Free text: names, company, job title, and the name key used for dedupe.
//!
//! Every text field is trimmed and has each internal whitespace run (spaces,
//! tabs, newlines, no-break spaces) collapsed to one space. Lengths count
//! characters, not bytes. Other control characters are refused: they are
//! never meant, and `\0` cannot be stored in a Postgres text column.

use crate::outcome::{FieldCode, FieldError};
use crate::record::NAME_MAX;

/// Validates a required name (`firstName`, `lastName`): trimmed and collapsed,
/// blank is `required`, more than [`NAME_MAX`] characters is `too_long`.
pub fn name(field: &str, raw: &str) -> Result<String, FieldError> {
    optional_text(field, Some(raw), NAME_MAX)?
        .ok_or_else(|| FieldError::new(field, FieldCode::Required, format!("{field} is required")))
}

/// Validates optional text: trimmed and collapsed, blank or absent is
/// `None`, more than `max_chars` characters is `too_long`.
pub fn optional_text(
    field: &str,
    raw: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, FieldError> {
    let raw = raw.unwrap_or_default();
    // Already clean (the usual case): kept as it is.
    if let Some(chars) = clean_chars(raw)
        && chars <= max_chars
    {
        return Ok(Some(raw.to_owned()));
    }
    let text = collapse_whitespace(raw);
    if text.is_empty() {
        return Ok(None);
    }
    // ASCII (the common case): one byte per character, controls below 0x20
    // and 0x7F; the general checks below give the same answers.
    if text.is_ascii() && text.len() <= max_chars && !text.bytes().any(|b| b.is_ascii_control()) {
        return Ok(Some(text));
    }
    if text.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            FieldCode::TooLong,
            format!("{field} must be at most {max_chars} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            FieldCode::InvalidFormat,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(Some(text))
}

/// The number of characters of `raw` when [`optional_text`] would keep it
/// unchanged apart from the length check: not empty, no control character,
/// and no whitespace but single spaces between other characters. `None`
/// when it may need cleaning (or refusing): the general path decides. One
/// pass, with no allocation.
fn clean_chars(raw: &str) -> Option<usize> {
    let bytes = raw.as_bytes();
    if bytes.first().is_none_or(|b| *b == b' ') || bytes.last() == Some(&b' ') {
        return None;
    }
    // Printable ASCII (0x20..=0x7E) with no two spaces in a row; checked
    // as two simple scans, which the compiler vectorises.
    if bytes.iter().all(|b| (b' '..=b'~').contains(b)) {
        return (!bytes.windows(2).any(|pair| pair == b"  ")).then_some(bytes.len());
    }
    if raw.is_ascii() {
        // A control character.
        return None;
    }
    let mut chars = 0;
    let mut previous = '\0';
    for c in raw.chars() {
        if c == ' ' {
            if previous == ' ' {
                return None;
            }
        } else if c.is_whitespace() || c.is_control() {
            return None;
        }
        previous = c;
        chars += 1;
    }
    Some(chars)
}

/// The "full name" dedupe key: first and last name lowercased, punctuation
/// removed (`O'Brien` and `OBrien` match), whitespace collapsed.
pub fn normalize_name_key(first: &str, last: &str) -> String {
    let kept: String = [first, " ", last]
        .into_iter()
        .flat_map(str::chars)
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    collapse_whitespace(&kept)
}

/// `str::trim`, answering at once when both ends are ASCII and not
/// whitespace (almost every cell): only then can no character be trimmed.
pub(crate) fn trim(raw: &str) -> &str {
    match (raw.as_bytes().first(), raw.as_bytes().last()) {
        (Some(first), Some(last))
            if first.is_ascii()
                && last.is_ascii()
                && !is_ascii_space(*first)
                && !is_ascii_space(*last) =>
        {
            raw
        }
        _ => raw.trim(),
    }
}

/// ASCII characters `char::is_whitespace` accepts (`\t`..=`\r` and space).
fn is_ascii_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// Trims and collapses every whitespace run to a single space.
fn collapse_whitespace(raw: &str) -> String {
    if is_collapsed(raw) {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// True when [`collapse_whitespace`] would return `raw` unchanged: ASCII,
/// no whitespace at either end, and only single spaces inside.
fn is_collapsed(raw: &str) -> bool {
    raw.is_ascii()
        && !raw.starts_with(' ')
        && !raw.ends_with(' ')
        && !raw.bytes().any(|b| (b'\t'..=b'\r').contains(&b))
        && !raw.contains("  ")
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy as _;

    use super::*;

    /// `optional_text` by its rules alone, with none of its fast paths (the
    /// clean-input and the ASCII one): the reference they must agree with.
    fn reference_optional_text(
        field: &str,
        raw: Option<&str>,
        max_chars: usize,
    ) -> Result<Option<String>, FieldError> {
        let text = collapse_whitespace(raw.unwrap_or_default());
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > max_chars {
            return Err(FieldError::new(
                field,
                FieldCode::TooLong,
                format!("{field} must be at most {max_chars} characters"),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                FieldCode::InvalidFormat,
                format!("{field} must not contain control characters"),
            ));
        }
        Ok(Some(text))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn optional_text_agrees_with_the_reference(
            raw in proptest::prop_oneof![
                "[ a-zA-Z.&'-]{0,12}",
                "[ \t\n\r\x0b\x0c\x00\x1f\x7f\u{85}\u{a0}\u{2003}\u{3000}a-zéÖ ,]{0,10}",
                "[a-zé]{0,3}( {1,2}[a-zé]{1,3}){0,3} ?",
                proptest::char::any().prop_map(|c| format!("a{c}b")),
                proptest::char::any().prop_map(|c| c.to_string()),
            ],
            max in 0usize..8,
        ) {
            proptest::prop_assert_eq!(
                optional_text("company", Some(&raw), max),
                reference_optional_text("company", Some(&raw), max),
                "{:?} max {}", raw, max
            );
            proptest::prop_assert_eq!(
                optional_text("company", Some(&raw), 200),
                reference_optional_text("company", Some(&raw), 200),
                "{:?}", raw
            );
        }
    }

    #[test]
    fn optional_text_agrees_with_the_reference_on_edge_cases() {
        let long_ascii = "x".repeat(200);
        let long_accented = "é".repeat(100);
        for raw in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "a  b",
            "a b",
            "a\tb",
            "a\u{a0}b",
            "\u{a0}a",
            "a\u{85}",
            "Zoë",
            "Siobhán Moore",
            "a\u{7f}",
            "a\u{9f}b",
            "\u{2003}",
            long_ascii.as_str(),
            long_accented.as_str(),
        ] {
            for max in [0, 1, 3, 100, 200] {
                assert_eq!(
                    optional_text("jobTitle", Some(raw), max),
                    reference_optional_text("jobTitle", Some(raw), max),
                    "{raw:?} max {max}"
                );
            }
        }
        assert_eq!(optional_text("company", None, 200), Ok(None));
    }

    proptest::proptest! {
        #[test]
        fn fast_trim_is_str_trim(raw in "[ \t\n\r\x0b\x0c\u{a0}\u{2003}\u{85}a-zé]{0,8}") {
            proptest::prop_assert_eq!(trim(&raw), raw.trim());
        }
    }

    #[test]
    fn names_are_trimmed_and_collapsed() {
        assert_eq!(
            name("firstName", "  Mary \t Ann\n\u{a0}Lee ").unwrap(),
            "Mary Ann Lee"
        );
    }

    #[test]
    fn blank_name_is_required() {
        let err = name("lastName", " \n ").unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("lastName", FieldCode::Required)
        );
    }

    #[test]
    fn name_limit_counts_characters_not_bytes() {
        let at_limit = "é".repeat(NAME_MAX);
        assert_eq!(at_limit.len(), 2 * NAME_MAX);
        assert_eq!(name("firstName", &at_limit).unwrap(), at_limit);
        let over = "é".repeat(NAME_MAX + 1);
        let err = name("firstName", &over).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("firstName", FieldCode::TooLong)
        );
    }

    #[test]
    fn limit_applies_after_collapsing() {
        let padded = format!("   {}   {}   ", "a".repeat(49), "b".repeat(50));
        assert_eq!(
            name("firstName", &padded).unwrap().chars().count(),
            NAME_MAX
        );
    }

    #[test]
    fn control_characters_are_invalid_format() {
        let err = name("firstName", "Ada\0").unwrap_err();
        assert_eq!(err.code, FieldCode::InvalidFormat);
        assert!(!err.message.contains("Ada"));
    }

    #[test]
    fn optional_text_blank_or_absent_is_none() {
        assert_eq!(optional_text("company", None, 200).unwrap(), None);
        assert_eq!(optional_text("company", Some("   "), 200).unwrap(), None);
        assert_eq!(
            optional_text("company", Some(" Acme   Inc "), 200)
                .unwrap()
                .as_deref(),
            Some("Acme Inc")
        );
    }

    #[test]
    fn optional_text_limit_is_inclusive() {
        assert!(optional_text("jobTitle", Some(&"x".repeat(200)), 200).is_ok());
        let err = optional_text("jobTitle", Some(&"x".repeat(201)), 200).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("jobTitle", FieldCode::TooLong)
        );
    }

    #[test]
    fn name_key_folds_case_punctuation_and_spaces() {
        assert_eq!(
            normalize_name_key("  Mary-Ann ", "O'Brien, Jr."),
            "maryann obrien jr"
        );
        assert_eq!(normalize_name_key("ÉLODIE", "Dupont"), "élodie dupont");
        assert_eq!(normalize_name_key("", "Dupont"), "dupont");
        assert_eq!(
            normalize_name_key("mary ann", "obrien"),
            normalize_name_key("Mary  Ann", "O'Brien")
        );
    }
}
