//! The fast path must never disagree with `phonenumber`: both run on many
//! generated numbers, in every spelling and several regions. Set
//! `PHONE_FAST_CASES` to run more cases (e.g. `2000000` in release mode).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::{Digits, Fast, decimal, e164};
use crate::record::canonical::phone::slow_e164;

const REGIONS: [Option<&str>; 16] = [
    None,
    Some("US"),
    Some("CA"),
    Some("IN"),
    Some("GB"),
    Some("AU"),
    Some("DE"),
    Some("FR"),
    Some("BR"),
    Some("MX"),
    Some("JP"),
    Some("IT"),
    Some("NZ"),
    Some("AR"),
    Some("RU"),
    Some("PR"),
];

fn region(code: Option<&str>) -> Option<phonenumber::country::Id> {
    code.and_then(|c| c.parse().ok())
}

/// Compares one input; true when the fast path answered.
fn agrees(code: Option<&str>, input: &str) -> bool {
    let region = region(code);
    let fast = e164(region, input);
    let slow = slow_e164(region, input);
    match (&fast, slow) {
        (Fast::Unsupported, _) => false,
        (Fast::Valid(a), Some(b)) if *a == b => true,
        (Fast::Invalid, None) => true,
        (fast, slow) => panic!("{input:?} in {code:?}: fast {fast:?}, phonenumber {slow:?}"),
    }
}

fn cases(default: usize) -> usize {
    std::env::var("PHONE_FAST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn digits(&mut self, n: usize, out: &mut String) {
        for _ in 0..n {
            out.push(char::from(b'0' + self.below(10) as u8));
        }
    }
}

/// National digits of some shape: NANP (any area and exchange code, so
/// invalid ones too), Indian mobiles, London, other lengths.
fn body(rng: &mut Rng) -> String {
    let mut d = String::new();
    match rng.below(8) {
        0..3 => rng.digits(10, &mut d),
        3 => {
            d.push_str(rng.pick(&[
                "415", "212", "416", "604", "787", "876", "800", "900", "555", "011", "211",
            ]));
            d.push_str(rng.pick(&["555", "011", "211", "958", "100", "200", "911", "234"]));
            rng.digits(4, &mut d);
        }
        4 => {
            d.push_str(rng.pick(&["98", "70", "60", "50", "11", "22", "80"]));
            rng.digits(8, &mut d);
        }
        5 => {
            d.push_str(rng.pick(&["20", "7", "1", "3", "0"]));
            let n = 7 + rng.below(4);
            rng.digits(n, &mut d);
        }
        _ => {
            let n = rng.below(19);
            rng.digits(n, &mut d);
        }
    }
    d
}

/// `digits` written the way people write numbers.
fn spell(rng: &mut Rng, digits: &str) -> String {
    let prefix = rng.pick(&[
        "", "", "", "+", "+1", "+1 ", "1", "1 ", "1-", "+91", "+91 ", "0", "00", "011", "011 ",
        "+44", "+44 (0)", "+0", "+ ", "(", "+61 ", "+49", "+7", "+52 1 ", "001 ", "8 ",
    ]);
    let mut out = prefix.to_owned();
    let n = digits.len();
    match rng.below(7) {
        0 => out.push_str(digits),
        1 if n >= 10 => {
            let (a, rest) = digits.split_at(3);
            let (b, c) = rest.split_at(3);
            out.push_str(&format!("({a}) {b}-{c}"));
        }
        2 if n >= 7 => {
            let (a, rest) = digits.split_at(3);
            let (b, c) = rest.split_at(3);
            out.push_str(&format!("{a}-{b}-{c}"));
        }
        3 if n >= 7 => {
            let (a, rest) = digits.split_at(3);
            let (b, c) = rest.split_at(3);
            out.push_str(&format!("{a}.{b}.{c}"));
        }
        _ => {
            // Random separators between random groups.
            for (i, ch) in digits.chars().enumerate() {
                if i > 0 && rng.below(4) == 0 {
                    out.push_str(rng.pick(&[" ", "-", ".", " - ", ") ", "(", ")"]));
                }
                out.push(ch);
            }
        }
    }
    if rng.below(10) == 0 {
        out.push_str(rng.pick(&[")", "-", ".", " ("]));
    }
    out.trim().to_owned()
}

#[test]
fn fast_path_agrees_with_phonenumber_on_generated_spellings() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let total = cases(8_000);
    let mut answered = 0;
    for _ in 0..total {
        let digits = body(&mut rng);
        let input = spell(&mut rng, &digits);
        let code = REGIONS[rng.below(REGIONS.len())];
        answered += usize::from(agrees(code, &input));
    }
    // Plain spellings are what the fast path is for.
    assert!(answered * 10 >= total * 9, "{answered} of {total} answered");
}

#[test]
fn fast_path_agrees_on_every_nanp_area_and_exchange_class() {
    // Every area code, with exchange codes of each class (N11, 0xx, 1xx, 555, ordinary).
    let exchanges = ["011", "111", "211", "555", "958", "234", "911", "100"];
    let stride = if cases(0) > 0 { 1 } else { 7 };
    for area in (0..1000).step_by(stride) {
        for exchange in exchanges {
            let digits = format!("{area:03}{exchange}0123");
            for (i, code) in [Some("US"), Some("CA"), None].into_iter().enumerate() {
                let spelled = [
                    format!("+1{digits}"),
                    format!("({}) {}-{}", &digits[..3], &digits[3..6], &digits[6..]),
                    format!("{}-{}-{}", &digits[..3], &digits[3..6], &digits[6..]),
                    format!("+1 {} {} {}", &digits[..3], &digits[3..6], &digits[6..]),
                    format!("1{digits}"),
                ];
                let input = &spelled[(area + i) % spelled.len()];
                assert!(agrees(code, input) || !input.starts_with('+'), "{input}");
            }
        }
    }
}

#[test]
fn known_answers() {
    let us = region(Some("US"));
    assert_eq!(
        e164(us, "(415) 555-0123"),
        Fast::Valid("+14155550123".to_owned())
    );
    // phonenumber strips a national prefix by the *default* region's rules,
    // even for a `+44` number: India's `0` goes, the US `1` does not.
    assert_eq!(e164(us, "+44 (0)20 7946 0958"), Fast::Invalid);
    assert_eq!(
        e164(region(Some("IN")), "+44 (0)20 7946 0958"),
        Fast::Valid("+442079460958".to_owned())
    );
    assert_eq!(e164(us, "+1 000 000 0000"), Fast::Invalid);
    assert_eq!(e164(us, "555-0123"), Fast::Invalid);
    assert_eq!(e164(us, "tel:+14155550123"), Fast::Unsupported);
    assert_eq!(e164(us, "415 555 0123 x12"), Fast::Unsupported);
    let india = region(Some("IN"));
    assert_eq!(
        e164(india, "098765 43210"),
        Fast::Valid("+919876543210".to_owned())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1_000) as u32))]

    #[test]
    fn fast_path_agrees_on_arbitrary_plain_text(
        input in prop_oneof![
            "\\+?[0-9 ().-]{0,20}",
            "\\+?[0-9]{1,3}[ -]?[0-9]{0,14}",
            "[0-9]{0,18}",
        ],
        code in prop::sample::select(REGIONS.to_vec()),
    ) {
        let input = input.trim();
        agrees(code, input);
    }
}

/// The fast path compiles patterns without Unicode classes when it can
/// (`compile`); that gives the same matches on its ASCII haystacks, and
/// answers nothing `phonenumber` could not, as long as every pattern also
/// builds the way `phonenumber` builds it (Unicode, whitespace ignored,
/// `regex`'s default size limits).
#[test]
fn every_metadata_pattern_builds_as_phonenumber_builds_it() {
    let table = &*super::TABLE;
    let mut checked = 0;
    for entry in table.by_code.iter().flatten() {
        let patterns = [Some(&entry.general.pattern)]
            .into_iter()
            .chain(entry.types.iter().map(|desc| Some(&desc.pattern)))
            .chain([
                entry.leading.as_ref(),
                entry.idd.as_ref(),
                entry.parsing.as_ref(),
            ])
            .flatten();
        for pattern in patterns {
            let built = regex::RegexBuilder::new(pattern.source)
                .ignore_whitespace(true)
                .build();
            assert!(built.is_ok(), "{}: {:?}", entry.id, pattern.source);
            checked += 1;
        }
    }
    assert!(checked > 1_000, "{checked} patterns");
}

/// The ASCII build and the Unicode build of a pattern agree on ASCII
/// digits, the only haystacks the fast path gives them.
#[test]
fn ascii_and_unicode_builds_agree_on_digits() {
    let table = &*super::TABLE;
    let mut rng = Rng(0x5851_f42d_4c95_7f2d);
    for entry in table.by_code.iter().flatten() {
        let sources = [Some(entry.general.pattern.source)]
            .into_iter()
            .chain(entry.types.iter().map(|desc| Some(desc.pattern.source)))
            .chain([
                entry.leading.as_ref().map(|p| p.source),
                entry.idd.as_ref().map(|p| p.source),
                entry.parsing.as_ref().map(|p| p.source),
            ])
            .flatten();
        for source in sources {
            let build = |unicode: bool| {
                regex::RegexBuilder::new(source)
                    .unicode(unicode)
                    .ignore_whitespace(true)
                    .build()
            };
            let (Ok(ascii), Ok(unicode)) = (build(false), build(true)) else {
                continue;
            };
            for _ in 0..20 {
                let mut digits = String::new();
                let len = 1 + rng.below(17);
                rng.digits(len, &mut digits);
                assert_eq!(
                    ascii.find(&digits).map(|m| m.range()),
                    unicode.find(&digits).map(|m| m.range()),
                    "{source:?} on {digits}"
                );
            }
        }
    }
}

#[test]
fn decimal_writes_every_code_as_display_does() {
    for code in (0..=1_000u16).chain([9_999, 10_000, 12_345, u16::MAX]) {
        assert_eq!(decimal(code).as_str(), code.to_string());
    }
}

#[test]
fn digits_keep_only_ascii_digits_and_trim_like_slicing() {
    let digits = Digits::of("+1 (415) 555-0123");
    assert_eq!(digits.as_str(), "14155550123");
    assert_eq!(digits.len(), 11);
    for n in 0..=12 {
        let mut trimmed = digits;
        trimmed.trim(n);
        assert_eq!(trimmed.as_str(), digits.as_str().get(n..).unwrap_or(""));
    }
    let many = "9".repeat(80);
    assert_eq!(Digits::of(&many).as_str(), &many[..64]);
    let mut set = digits;
    assert!(set.set("0044").is_ok());
    assert_eq!(set.as_str(), "0044");
    assert!(set.set("12a").is_err());
    assert!(set.set(&many).is_err());
}

/// The dense DFAs answer `is_match` exactly as the `Regex` of the same
/// pattern does, on every region's example numbers, their prefixes,
/// one-digit changes of them and random digits; and most anchored patterns
/// do get a DFA.
#[test]
fn dfas_agree_with_their_regexes() {
    let table = &*super::TABLE;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut with_dfa, mut without) = (0, 0);
    for entry in table.by_code.iter().flatten() {
        let d = entry.meta.descriptors();
        let examples: Vec<&str> = [
            Some(d.general()),
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ]
        .into_iter()
        .flatten()
        .filter_map(|desc| desc.example())
        .collect();
        let mut haystacks = vec![String::new()];
        for example in &examples {
            for end in 1..=example.len() {
                haystacks.push(example[..end].to_owned());
            }
            for at in 0..example.len() {
                let mut changed = example.as_bytes().to_vec();
                changed[at] = b'0' + ((changed[at] - b'0' + 1) % 10);
                haystacks.push(String::from_utf8(changed).unwrap());
            }
        }
        for _ in 0..30 {
            let mut digits = String::new();
            let len = 1 + rng.below(17);
            rng.digits(len, &mut digits);
            haystacks.push(digits);
        }
        let type_sources: Vec<&str> = entry.types.iter().map(|t| t.pattern.source).collect();
        let combined = super::compile(&type_sources, true);
        let patterns = [Some(&entry.general.pattern)]
            .into_iter()
            .chain(entry.types.iter().map(|desc| Some(&desc.pattern)))
            .chain([entry.leading.as_ref()])
            .flatten()
            .filter_map(|pattern| pattern.compiled().ok())
            .chain(combined.as_ref());
        for compiled in patterns {
            if compiled.dfa.is_none() {
                without += 1;
                continue;
            }
            with_dfa += 1;
            for haystack in &haystacks {
                assert_eq!(
                    compiled.is_match(haystack),
                    compiled.regex.is_match(haystack),
                    "{}: {:?} on {haystack:?}",
                    entry.id,
                    compiled.regex.as_str()
                );
            }
        }
    }
    assert!(
        with_dfa > 10 * without,
        "{with_dfa} with a DFA, {without} without"
    );
}

/// National numbers at the 56-bit limit of `NationalNumber`: all zeros,
/// 16 digits (always below 2^56) and 17 digits on both sides of it.
#[test]
fn fast_path_agrees_at_the_national_number_limits() {
    let nationals = [
        "00000000000000000",
        "0000000000000001",
        "9999999999999999",
        "72057594037927935",
        "72057594037927936",
        "99999999999999999",
        "07205759403792793",
    ];
    for national in nationals {
        for code in ["1", "44", "800", "979"] {
            agrees(None, &format!("+{code} {national}"));
            agrees(Some("US"), national);
            agrees(Some("GB"), &format!("0{national}"));
        }
    }
}
