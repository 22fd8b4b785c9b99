//! Email addresses: syntax check, the display form and the dedupe key.
//!
//! The display form is the input trimmed, otherwise as given. The
//! [`CanonicalEmail`] key is what uniqueness and dedupe compare: the address
//! lowercased, and for Gmail (`gmail.com`, `googlemail.com`) with dots and any
//! `+tag` removed from the local part and the domain folded to `gmail.com`,
//! because Gmail delivers all those spellings to one mailbox.

use email_address::{EmailAddress, Options};
use serde::Serialize;

use crate::outcome::{FieldCode, FieldError};
use crate::record::field;

/// Longest accepted address, in characters (RFC 5321 path limit).
pub const EMAIL_MAX: usize = 254;

/// Domains that Gmail treats as one, dots and `+tag` insensitive.
const GMAIL_DOMAINS: [&str; 2] = ["gmail.com", "googlemail.com"];

/// The dedupe key of an email address; only built by [`email`] or
/// [`CanonicalEmail::parse`], so it always holds a valid, canonical address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CanonicalEmail(String);

impl CanonicalEmail {
    /// Validates `raw` and returns only its key (e.g. to look a lead up by email).
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        email(raw).map(|e| e.key)
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The domain part of the key (after the last `@`), for dedupe blocking.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl AsRef<str> for CanonicalEmail {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CanonicalEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated email: what to store and show, plus the dedupe key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Email {
    /// The address trimmed, otherwise exactly as given.
    pub display: String,
    /// The canonical dedupe key.
    pub key: CanonicalEmail,
}

/// Validates and canonicalises an email (field `email`).
///
/// Blank is `required`; more than [`EMAIL_MAX`] characters is `too_long`;
/// anything `email_address` refuses, a display name (`Bob <b@x.com>`), a
/// domain literal or a domain without a dot is `invalid_format`.
pub fn email(raw: &str) -> Result<Email, FieldError> {
    let display = super::trim(raw);
    if display.is_empty() {
        return Err(FieldError::new(
            field::EMAIL,
            FieldCode::Required,
            "email is required",
        ));
    }
    // A string has at most as many characters as bytes.
    if display.len() > EMAIL_MAX && display.chars().count() > EMAIL_MAX {
        return Err(FieldError::new(
            field::EMAIL,
            FieldCode::TooLong,
            format!("email must be at most {EMAIL_MAX} characters"),
        ));
    }
    let options = Options::default()
        .with_required_tld()
        .without_domain_literal()
        .without_display_text();
    let key = match ascii_syntax(display) {
        // Plain ASCII: the verdict and the `@` come from one pass.
        Some(at) => at.and_then(|at| ascii_canonical_key_at(display, at)),
        None => EmailAddress::parse_with_options(display, options)
            .is_ok()
            .then(|| canonical_key(display))
            .flatten(),
    };
    let key = key.ok_or_else(|| {
        FieldError::new(
            field::EMAIL,
            FieldCode::InvalidFormat,
            "email is not a valid address",
        )
    })?;
    Ok(Email {
        display: display.to_owned(),
        key: CanonicalEmail(key),
    })
}

/// `email_address`'s verdict with our options (TLD required, no domain
/// literal, no display text), computed without its allocation for plain
/// ASCII addresses: `Some(Some(at))` valid with its `@` at `at`,
/// `Some(None)` invalid; `None` (ask `email_address`) for anything else: non-ASCII,
/// a quoted local part, or a possible display name (`" <"`). Mirrors
/// `email_address` 0.2's `parse_address` for those inputs; the tests compare
/// both on generated addresses, and this with the same rules written with
/// `split` (`ascii_syntax_ok_by_parts` in the tests).
///
/// One pass over the bytes with a table of `atext`: each `.` or `@` closes an
/// atom (checked as it closes), and the pass always runs to the end so that
/// a reason to return `None` anywhere wins over a broken rule before it.
fn ascii_syntax(address: &str) -> Option<Option<usize>> {
    let bytes = address.as_bytes();
    let mut ok = true;
    // Where the `@` is, once seen; a second one breaks the local part.
    let mut at = None;
    let mut atom_start = 0;
    let mut domain_labels = 0;
    let mut previous = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !ATEXT[usize::from(b)] {
            match b {
                b'.' | b'@' => {
                    let atom = &bytes[atom_start..i];
                    if at.is_some() {
                        ok &= domain_label_ok(atom);
                        domain_labels += 1;
                    } else {
                        ok &= !atom.is_empty();
                    }
                    if b == b'@' {
                        // The local part is everything before the `@`.
                        ok &= at.is_none() && i <= 64;
                        at = Some(i);
                    }
                    atom_start = i + 1;
                }
                b'"' => return None,
                b'<' if previous == b' ' => return None,
                _ if !b.is_ascii() => return None,
                _ => ok = false,
            }
        }
        previous = b;
    }
    let Some(at) = at else {
        return Some(None);
    };
    // The last atom is the domain's last label.
    ok &= domain_label_ok(&bytes[atom_start..]);
    domain_labels += 1;
    Some((ok && domain_labels >= 2 && bytes.len() - at - 1 <= 254).then_some(at))
}

/// A domain label (its bytes already known to be `atext`): 1 to 63 bytes,
/// starting and ending with a letter or digit.
fn domain_label_ok(label: &[u8]) -> bool {
    label.len() <= 63
        && label.first().is_some_and(u8::is_ascii_alphanumeric)
        && label.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// [`is_atext`] per byte, for one table lookup in the hot loop.
static ATEXT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_atext(b as u8);
        b += 1;
    }
    table
};

/// RFC 5322 `atext` (ASCII): letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
const fn is_atext(b: u8) -> bool {
    matches!(
        b,
        b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'!'
            | b'#'..=b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'/'
            | b'='
            | b'?'
            | b'^'..=b'`'
            | b'{'..=b'~'
    )
}

/// Lowercases and applies the Gmail rules. `None` when nothing is left of a
/// Gmail local part (`+tag@gmail.com`), which no real mailbox can be.
fn canonical_key(address: &str) -> Option<String> {
    if address.is_ascii() {
        return ascii_canonical_key(address);
    }
    let lower = address.to_lowercase();
    let (local, domain) = lower.rsplit_once('@')?;
    // Quoted local parts are legal but not Gmail's; leave them untouched.
    if !GMAIL_DOMAINS.contains(&domain) || local.starts_with('"') {
        return Some(lower);
    }
    let base = local.split_once('+').map_or(local, |(base, _tag)| base);
    let base: String = base.chars().filter(|c| *c != '.').collect();
    (!base.is_empty()).then(|| format!("{base}@gmail.com"))
}

/// [`canonical_key`] for an ASCII address, building the key in one
/// allocation: ASCII lowercasing keeps every byte where it is, so the parts
/// can be found in the input rather than in a lowercased copy. The tests
/// compare it with the general rules on generated addresses.
fn ascii_canonical_key(address: &str) -> Option<String> {
    ascii_canonical_key_at(address, address.rfind('@')?)
}

/// [`ascii_canonical_key`] with the position of the last `@` known.
fn ascii_canonical_key_at(address: &str, at: usize) -> Option<String> {
    let (local, domain) = (address.get(..at)?, address.get(at + 1..)?);
    let gmail = GMAIL_DOMAINS
        .iter()
        .any(|gmail| domain.eq_ignore_ascii_case(gmail));
    if !gmail || local.starts_with('"') {
        return Some(address.to_ascii_lowercase());
    }
    let base = local.split_once('+').map_or(local, |(base, _tag)| base);
    let mut key = String::with_capacity(base.len() + "@gmail.com".len());
    key.extend(
        base.bytes()
            .filter(|b| *b != b'.')
            .map(|b| char::from(b.to_ascii_lowercase())),
    );
    if key.is_empty() {
        return None;
    }
    key.push_str("@gmail.com");
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> String {
        email(raw).unwrap().key.into_string()
    }

    fn code(raw: &str) -> FieldCode {
        let err = email(raw).unwrap_err();
        assert_eq!(err.field, "email");
        err.code
    }

    #[test]
    fn display_is_trimmed_but_keeps_case() {
        let e = email("  Ada.Lovelace@Example.COM \t").unwrap();
        assert_eq!(e.display, "Ada.Lovelace@Example.COM");
        assert_eq!(e.key.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn gmail_key_drops_dots_and_plus_tag() {
        assert_eq!(key("A.Da.Love+crm@Gmail.com"), "adalove@gmail.com");
        assert_eq!(key("ada.love@gmail.com"), "adalove@gmail.com");
    }

    #[test]
    fn googlemail_folds_to_gmail() {
        assert_eq!(key("ada.love+x+y@googlemail.com"), "adalove@gmail.com");
        assert_eq!(key("ada.love@gmail.com"), key("adalove@GoogleMail.com"));
    }

    #[test]
    fn other_domains_keep_dots_and_tags() {
        assert_eq!(key("ada.love+crm@example.com"), "ada.love+crm@example.com");
        assert_eq!(key("a.b@gmail.co.uk"), "a.b@gmail.co.uk");
    }

    #[test]
    fn blank_is_required() {
        assert_eq!(code(""), FieldCode::Required);
        assert_eq!(code("   "), FieldCode::Required);
    }

    #[test]
    fn malformed_addresses_are_invalid_format() {
        for raw in [
            "plainaddress",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@example..com",
            "ada@example.com.",
            "ada lovelace@example.com",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "+crm@gmail.com",
        ] {
            assert_eq!(code(raw), FieldCode::InvalidFormat, "{raw}");
        }
    }

    #[test]
    fn length_limit_is_254_characters() {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(60)
        );
        let at_limit = format!("{}@{domain}", "x".repeat(EMAIL_MAX - 1 - domain.len()));
        assert_eq!(at_limit.len(), EMAIL_MAX);
        assert!(email(&at_limit).is_ok());
        let over = format!("x{at_limit}");
        assert_eq!(code(&over), FieldCode::TooLong);
    }

    #[test]
    fn message_does_not_echo_the_address() {
        let err = email("secret-person@nowhere").unwrap_err();
        assert!(!err.message.contains("secret"));
    }

    /// The verdict of [`ascii_syntax`] alone.
    fn ascii_syntax_ok(address: &str) -> Option<bool> {
        ascii_syntax(address).map(|at| at.is_some())
    }

    /// `ascii_syntax_ok` as it was written before its one-pass form: the
    /// same rules with `split`, the reference for the fast version.
    fn ascii_syntax_ok_by_parts(address: &str) -> Option<bool> {
        if !address.is_ascii() || address.contains('"') || address.contains(" <") {
            return None;
        }
        let is_atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
        let is_atom = |s: &str| !s.is_empty() && s.bytes().all(is_atext);
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Some(false);
        };
        let local_ok = !local.is_empty() && local.len() <= 64 && local.split('.').all(is_atom);
        let domain_ok = !domain.is_empty()
            && domain.len() <= 254
            && !(domain.starts_with('[') && domain.ends_with(']'))
            && domain.split('.').count() >= 2
            && domain.split('.').all(|label| {
                label.len() <= 63
                    && label.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && label.ends_with(|c: char| c.is_ascii_alphanumeric())
                    && is_atom(label)
            });
        Some(local_ok && domain_ok)
    }

    /// `canonical_key` as it was written before its ASCII fast path (a
    /// lowercased copy first, then the Gmail rules on it).
    fn reference_key(address: &str) -> Option<String> {
        let lower = if address.is_ascii() {
            address.to_ascii_lowercase()
        } else {
            address.to_lowercase()
        };
        let (local, domain) = lower.rsplit_once('@')?;
        if !GMAIL_DOMAINS.contains(&domain) || local.starts_with('"') {
            return Some(lower);
        }
        let base = local.split_once('+').map_or(local, |(base, _tag)| base);
        let base: String = base.chars().filter(|c| *c != '.').collect();
        (!base.is_empty()).then(|| format!("{base}@gmail.com"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn fast_paths_agree_with_their_references(
            raw in proptest::prop_oneof![
                r"[a-zA-Z0-9._+@<>\[\]\- !#'\\]{0,30}",
                "[a-zA-Z0-9._+-]{0,12}@[a-zA-Z0-9.-]{0,12}",
                r"[A-Za-z.]{0,6}(\+[a-z.]{0,4})?@(gmail|GMail|googlemail|GOOGLEMAIL|gmail\.com|x)\.(com|COM|co)",
                r"[a-z\x22\u{e9}.]{0,5}@[a-z\u{c9}.]{0,8}",
                r"[a-z.+]{0,70}@[a-z]{1,3}\.[a-z]{2,70}",
            ],
        ) {
            proptest::prop_assert_eq!(ascii_syntax_ok(&raw), ascii_syntax_ok_by_parts(&raw), "{:?}", &raw);
            proptest::prop_assert_eq!(canonical_key(&raw), reference_key(&raw), "{:?}", &raw);
            if let Some(Some(at)) = ascii_syntax(&raw) {
                proptest::prop_assert_eq!(Some(at), raw.rfind('@'), "{:?}", &raw);
                proptest::prop_assert_eq!(ascii_canonical_key_at(&raw, at), reference_key(&raw), "{:?}", &raw);
            }
        }
    }

    #[test]
    fn atext_is_the_rfc_set() {
        for b in 0..=u8::MAX {
            let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
            assert_eq!(is_atext(b), expected, "{b:#x}");
            assert_eq!(ATEXT[usize::from(b)], expected, "{b:#x}");
        }
    }

    /// Addresses at the edges of the syntax and of the Gmail rules.
    fn edge_cases() -> Vec<String> {
        let long_label = format!("a@{}.com", "b".repeat(64));
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_domain = format!("a@{}.com", "b.".repeat(127));
        let mut cases: Vec<String> = [
            "",
            "@",
            "a@b.c",
            "a@b",
            "a@-b.com",
            "a@b-.com",
            "a.@b.com",
            ".a@b.com",
            "a..b@c.com",
            "a@b..com",
            "<a@b.com",
            "a <a@b.com",
            "a@[1.2.3.4]",
            "a@@b.com",
            "a@b.com.",
            "@b.com",
            "a@",
            "a b@c.com",
            "a@b_c.com",
            "a+b@c.com",
            "\"a\"@gmail.com",
            "+x@gmail.com",
            "..+x@GMAIL.com",
            "A.B+c+d@GoogleMail.COM",
            "a.b@gmail.co",
            "é@gmail.com",
            "A.É@GMAIL.COM",
        ]
        .map(str::to_owned)
        .into();
        cases.extend([long_label, long_local, long_domain]);
        cases
    }

    #[test]
    fn fast_paths_agree_on_edge_cases() {
        for raw in edge_cases() {
            let raw = raw.as_str();
            assert_eq!(ascii_syntax_ok(raw), ascii_syntax_ok_by_parts(raw), "{raw}");
            assert_eq!(canonical_key(raw), reference_key(raw), "{raw}");
            if let Some(Some(at)) = ascii_syntax(raw) {
                assert_eq!(Some(at), raw.rfind('@'), "{raw}");
                assert_eq!(ascii_canonical_key_at(raw, at), reference_key(raw), "{raw}");
            }
        }
    }

    fn library_ok(raw: &str) -> bool {
        let options = Options::default()
            .with_required_tld()
            .without_domain_literal()
            .without_display_text();
        EmailAddress::parse_with_options(raw, options).is_ok()
    }

    proptest::proptest! {
        #[test]
        fn ascii_check_agrees_with_email_address(
            raw in proptest::prop_oneof![
                r"[a-zA-Z0-9._+@<>\[\]\- !#'\\]{0,30}",
                "[a-z0-9._+-]{0,12}@[a-z0-9.-]{0,12}",
                r"[a-z]{1,4}(\.[a-z]{0,3}){0,2}@[a-z0-9]{0,4}(\.[a-z0-9-]{0,4}){0,3}",
                r"[<]?[a-z]{1,3}@\[[0-9.]{0,8}\]",
            ],
        ) {
            if let Some(fast) = ascii_syntax_ok(&raw) {
                proptest::prop_assert_eq!(fast, library_ok(&raw), "{:?}", raw);
            }
        }
    }

    #[test]
    fn ascii_check_agrees_on_edge_cases() {
        for raw in edge_cases() {
            if let Some(fast) = ascii_syntax_ok(&raw) {
                assert_eq!(fast, library_ok(&raw), "{raw}");
            }
        }
    }

    #[test]
    fn key_domain_is_the_part_after_at() {
        assert_eq!(email("x@Example.org").unwrap().key.domain(), "example.org");
        assert_eq!(
            CanonicalEmail::parse("a.b@googlemail.com")
                .unwrap()
                .domain(),
            "gmail.com"
        );
    }
}
