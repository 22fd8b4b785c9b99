//! Phone numbers, parsed with `phonenumber` and stored in E.164.
//!
//! National numbers are read in the market's default region (an ISO 3166
//! alpha-2 code such as `US`, `IN`, `GB`); without a known region only
//! `+`-prefixed international numbers parse. A number must also be *valid*
//! for its country (not just plausible). Extensions are not kept: E.164 has
//! no room for them.
//!
//! Plain input (digits, spaces, `-`, `.`, parentheses, a leading `+`) takes
//! [`phone_fast`](super::phone_fast), which gives `phonenumber`'s answer
//! without its slow regex cache; everything else goes to `phonenumber`.

use std::fmt::Write as _;
use std::sync::LazyLock;

use phonenumber::{Mode, country};

use super::phone_fast::{self, Fast};
use serde::Serialize;

use crate::outcome::{FieldCode, FieldError};
use crate::record::field;

/// Longest accepted input, in characters, before parsing is even tried
/// (bounds the parser's work on hostile input).
pub const PHONE_INPUT_MAX: usize = 64;

/// A valid phone number in E.164 form (`+14155550123`); only built by [`phone`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct E164(String);

impl E164 {
    /// The number as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for E164 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates and normalises a phone number (field `phone`).
///
/// Blank is `Ok(None)` (phone is optional). `default_region` is matched
/// case-insensitively; an unknown region counts as none. Anything that does
/// not parse to a valid number is `invalid_format`; input longer than
/// [`PHONE_INPUT_MAX`] characters is `too_long`.
pub fn phone(raw: &str, default_region: Option<&str>) -> Result<Option<E164>, FieldError> {
    let input = super::trim(raw);
    if input.is_empty() {
        return Ok(None);
    }
    // A string has at most as many characters as bytes.
    if input.len() > PHONE_INPUT_MAX && input.chars().count() > PHONE_INPUT_MAX {
        return Err(FieldError::new(
            field::PHONE,
            FieldCode::TooLong,
            format!("phone must be at most {PHONE_INPUT_MAX} characters"),
        ));
    }
    let region = default_region.and_then(region_id);
    let number = match phone_fast::e164(region, input) {
        Fast::Valid(number) => Some(number),
        Fast::Invalid => None,
        Fast::Unsupported => slow_e164(region, input),
    };
    number.map(|number| Some(E164(number))).ok_or_else(|| {
        FieldError::new(
            field::PHONE,
            FieldCode::InvalidFormat,
            "phone is not a valid phone number",
        )
    })
}

/// The `phonenumber` region for a market code such as `"us"` or `"GB"`.
fn region_id(code: &str) -> Option<country::Id> {
    let code = code.trim();
    match code.as_bytes() {
        // The common case, looked up rather than parsed again each time.
        &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            let (a, b) = (a.to_ascii_uppercase() - b'A', b.to_ascii_uppercase() - b'A');
            TWO_LETTER_REGIONS
                .get(usize::from(a) * 26 + usize::from(b))
                .copied()
                .flatten()
        }
        _ => code.to_ascii_uppercase().parse().ok(),
    }
}

/// `country::Id` for every two-letter code `AA`..`ZZ` (`None` if unknown).
static TWO_LETTER_REGIONS: LazyLock<Vec<Option<country::Id>>> = LazyLock::new(|| {
    (b'A'..=b'Z')
        .flat_map(|a| (b'A'..=b'Z').map(move |b| [a, b]))
        .map(|code| std::str::from_utf8(&code).ok()?.parse().ok())
        .collect()
});

/// `phonenumber` itself: parse, check validity, format as E.164.
pub(super) fn slow_e164(region: Option<country::Id>, input: &str) -> Option<String> {
    // `phonenumber` has panicked on malformed input in the past; one bad row
    // must never take down the whole chunk, so a panic counts as "invalid".
    std::panic::catch_unwind(|| to_e164(region, input))
        .ok()
        .flatten()
}

fn to_e164(region: Option<country::Id>, input: &str) -> Option<String> {
    let number = phonenumber::parse(region, input).ok()?;
    if !phonenumber::is_valid(&number) {
        return None;
    }
    // `write!` rather than `to_string()`: the formatter reports unknown
    // country codes as `fmt::Error`, which `to_string()` would turn into a panic.
    let mut out = String::new();
    write!(out, "{}", number.format().mode(Mode::E164)).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(raw: &str, region: Option<&str>) -> String {
        phone(raw, region).unwrap().unwrap().into_string()
    }

    fn code(raw: &str, region: Option<&str>) -> FieldCode {
        let err = phone(raw, region).unwrap_err();
        assert_eq!(err.field, "phone");
        err.code
    }

    #[test]
    fn blank_is_none() {
        assert_eq!(phone("", Some("US")).unwrap(), None);
        assert_eq!(phone("  \t", None).unwrap(), None);
    }

    #[test]
    fn us_national_numbers_use_the_us_region() {
        assert_eq!(e164("(415) 555-0123", Some("US")), "+14155550123");
        assert_eq!(e164("415.555.0123", Some("us")), "+14155550123");
        assert_eq!(e164("+1 415 555 0123", Some("US")), "+14155550123");
    }

    #[test]
    fn indian_national_numbers_use_the_in_region() {
        assert_eq!(e164("098765 43210", Some("IN")), "+919876543210");
        assert_eq!(e164("98765-43210", Some("IN")), "+919876543210");
    }

    #[test]
    fn international_numbers_ignore_the_default_region() {
        assert_eq!(e164("+44 20 7946 0958", Some("US")), "+442079460958");
        assert_eq!(e164("+44 (0)20 7946 0958", Some("IN")), "+442079460958");
        assert_eq!(e164("+44 20 7946 0958", None), "+442079460958");
        assert_eq!(e164("+44 20 7946 0958", Some("ZZ")), "+442079460958");
    }

    #[test]
    fn national_numbers_need_a_known_region() {
        assert_eq!(code("(415) 555-0123", None), FieldCode::InvalidFormat);
        assert_eq!(code("(415) 555-0123", Some("ZZ")), FieldCode::InvalidFormat);
    }

    #[test]
    fn invalid_numbers_are_refused() {
        for raw in [
            "not a phone",
            "123",
            "+1 000 000 0000",
            "555-0123",
            "+999 1234 5678",
        ] {
            assert_eq!(code(raw, Some("US")), FieldCode::InvalidFormat, "{raw}");
        }
    }

    #[test]
    fn very_long_input_is_too_long() {
        let long = "1".repeat(PHONE_INPUT_MAX + 1);
        assert_eq!(code(&long, Some("US")), FieldCode::TooLong);
    }
}
