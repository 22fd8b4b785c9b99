//! Property tests for the canonical constructors.

use proptest::prelude::*;

use super::{email, name, phone};
use crate::record::NAME_MAX;

/// Plausible addresses: dot-separated atoms, mixed case, some Gmail domains.
fn address() -> impl Strategy<Value = String> {
    // Starts alphanumeric so that no Gmail local part is all `+tag`.
    let local = (
        "[A-Za-z0-9]",
        prop::collection::vec("[A-Za-z0-9_+-]{1,8}", 1..4),
    )
        .prop_map(|(head, atoms)| format!("{head}{}", atoms.join(".")));
    let domain = prop_oneof![
        Just("gmail.com".to_owned()),
        Just("GoogleMail.com".to_owned()),
        Just("GMAIL.COM".to_owned()),
        prop::collection::vec("[A-Za-z0-9]{1,10}", 2..4).prop_map(|p| p.join(".")),
    ];
    (local, domain, "[ \t]{0,2}").prop_map(|(l, d, pad)| format!("{pad}{l}@{d}{pad}"))
}

/// Text made of words and assorted whitespace.
fn spaced_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(" ".to_owned()),
        Just("\t".to_owned()),
        Just("\n".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("\u{2003}".to_owned()),
        "[a-zA-Zéø'-]{1,6}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

proptest! {
    #[test]
    fn canonical_email_is_idempotent(raw in address()) {
        let key = email(&raw).unwrap().key;
        let again = email(key.as_str()).unwrap().key;
        prop_assert_eq!(again, key);
    }

    #[test]
    fn name_never_has_stray_spaces(raw in prop_oneof![spaced_text(), any::<String>()]) {
        if let Ok(clean) = name("firstName", &raw) {
            prop_assert!(!clean.is_empty());
            prop_assert!(!clean.starts_with(' ') && !clean.ends_with(' '));
            prop_assert!(!clean.contains("  "));
            prop_assert!(clean.chars().all(|c| c == ' ' || !c.is_whitespace()));
            prop_assert!(clean.chars().count() <= NAME_MAX);
        }
    }

    #[test]
    fn phone_output_is_always_e164(
        raw in prop_oneof![
            "[0-9+()#*;:=x. -]{0,24}",
            "tel:\\+?[0-9-]{0,16}(;ext=[0-9]{0,4})?(;phone-context=[+0-9a-z.]{0,8})?",
            any::<String>(),
        ],
        region in prop_oneof![Just(None), Just(Some("US")), Just(Some("IN")), Just(Some("GB"))],
    ) {
        if let Ok(Some(number)) = phone(&raw, region) {
            let digits = number.as_str().strip_prefix('+').unwrap();
            prop_assert!(!digits.is_empty() && digits.len() <= 15);
            prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
