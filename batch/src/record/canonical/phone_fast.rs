//! The fast path of [`phone`](super::phone): the same answer as
//! `phonenumber::parse` + `is_valid` + E.164 formatting, for plain input.
//!
//! Why: `phonenumber` looks each metadata pattern up in one global,
//! mutex-guarded LRU cache of 100 compiled regexes, keyed by the pattern
//! text. Validating one NANP number touches the patterns of all 25 `+1`
//! regions, so patterns are evicted and recompiled all the time: ~17 µs a
//! number, and the rayon threads queue on the mutex.
//!
//! This module mirrors `phonenumber` 0.3.10's algorithm step by step
//! (`parser/mod.rs`, `parser/helper.rs`, `parser/rfc3966.rs`,
//! `validator.rs`), quirks included, over the same metadata, with the same
//! patterns compiled once by the same `regex` crate and the same options
//! (the "does it match at the start" questions of validation go to a dense
//! DFA of the same pattern, built with `regex-automata`, `regex`'s engine).
//! It only takes *plain* input: ASCII digits, space, `-`, `.`, `(`, `)` and
//! at most one `+`, first. Anything else (letters, extensions, `tel:` URIs,
//! Unicode digits or punctuation) is [`Fast::Unsupported`] and goes to
//! `phonenumber` itself, as does any case the mirror does not model. The
//! tests compare both on many generated numbers and spellings.

use std::sync::{LazyLock, OnceLock};

use arrayvec::ArrayString;
use phonenumber::country;
use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};
use regex_automata::dfa::{Automaton as _, StartKind, dense};
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

/// The fast path's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fast {
    /// A valid number, in E.164.
    Valid(String),
    /// `phonenumber` would refuse it (parse error or not valid).
    Invalid,
    /// Not plain input, or a case the mirror leaves to `phonenumber`.
    Unsupported,
}

/// Longest national significant number `phonenumber` keeps.
const MAX_NSN: usize = 17;
/// `phonenumber::consts::MIN_LENGTH_FOR_NSN`.
const MIN_NSN: usize = 2;

/// Loads the metadata table (and with it `phonenumber`'s database, ~50 ms
/// of one core, once per process) ahead of the first number.
pub(crate) fn warm_up() {
    LazyLock::force(&TABLE);
}

/// Parses `input` (already trimmed) in `region` like `phonenumber` would.
pub(super) fn e164(region: Option<country::Id>, input: &str) -> Fast {
    match parse(region, input) {
        Ok(number) => number,
        Err(Step::Invalid) => Fast::Invalid,
        Err(Step::Unsupported) => Fast::Unsupported,
    }
}

/// Why parsing stopped early.
enum Step {
    Invalid,
    Unsupported,
}

use Step::{Invalid, Unsupported};

/// Where the country code came from (`country::Source`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Plus,
    Idd,
    Default,
}

/// Digits of a number, on the stack. An `ArrayString`, so reading them as
/// text (several times per number) is free rather than a UTF-8 check.
#[derive(Clone, Copy)]
struct Digits {
    text: ArrayString<64>,
}

impl Digits {
    fn of(text: &str) -> Self {
        let mut digits = ArrayString::new();
        for b in text.bytes().filter(u8::is_ascii_digit) {
            // Input is at most 64 bytes (checked by the caller).
            let _ = digits.try_push(char::from(b));
        }
        Self { text: digits }
    }

    fn as_str(&self) -> &str {
        &self.text
    }

    fn len(&self) -> usize {
        self.text.len()
    }

    /// Drops the first `n` digits.
    fn trim(&mut self, n: usize) {
        let mut rest = ArrayString::new();
        // Always fits: it is no longer than `self`.
        let _ = rest.try_push_str(self.text.get(n..).unwrap_or_default());
        self.text = rest;
    }

    fn set(&mut self, text: &str) -> Result<(), Step> {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Unsupported);
        }
        self.text = ArrayString::from(text).map_err(|_| Unsupported)?;
        Ok(())
    }
}

fn parse(region: Option<country::Id>, input: &str) -> Result<Fast, Step> {
    let bytes = input.as_bytes();
    if bytes.is_empty()
        || bytes.len() > 64
        || !bytes.iter().enumerate().all(|(i, b)| {
            b.is_ascii_digit()
                || matches!(b, b' ' | b'-' | b'.' | b'(' | b')')
                || (*b == b'+' && i == 0)
        })
    {
        return Err(Unsupported);
    }
    let table = &*TABLE;
    let region_meta = match region {
        Some(id) => Some(table.by_id(id).ok_or(Unsupported)?),
        None => None,
    };

    // `alt((rfc3966::phone_number, natural::phone_number))`.
    let (national_text, rfc_prefix) = split_number(input).ok_or(Invalid)?;
    if !is_viable(national_text) {
        return Err(Invalid);
    }

    // `helper::country_code` → `international_prefix`.
    let mut national = Digits::of(national_text);
    let mut source;
    let mut prefix: Option<u16> = None;
    let idd = match region_meta.and_then(|entry| entry.idd.as_ref()) {
        Some(pattern) => Some(pattern.ready()?),
        None => None,
    };
    if let Some(text) = rfc_prefix {
        source = Source::Plus;
        // A prefix longer than u16 fails `parse()?` in `country_code`.
        let code: u16 = text.parse().map_err(|_| Invalid)?;
        prefix = Some(code);
    } else {
        let plus = national_text.starts_with('+');
        source = if plus { Source::Plus } else { Source::Default };
        let idd_end = match idd {
            Some(pattern) => pattern.find_at_start(national.as_str())?,
            None => None,
        };
        if let Some(end) = idd_end
            && !national.as_str()[end..].starts_with('0')
        {
            if source != Source::Plus {
                source = Source::Idd;
            }
            national.trim(end);
        }
    }

    match source {
        Source::Plus | Source::Idd => {
            if national.len() <= MIN_NSN {
                return Err(Invalid);
            }
            match prefix {
                Some(code) => {
                    if table.by_code(code).is_none() {
                        return Err(Invalid);
                    }
                }
                None => {
                    if national.as_str().starts_with('0') {
                        return Err(Invalid);
                    }
                    let mut found = None;
                    for len in 1..=3 {
                        let code: u16 =
                            national.as_str()[..len].parse().map_err(|_| Unsupported)?;
                        if table.by_code(code).is_some() {
                            found = Some((len, code));
                            break;
                        }
                    }
                    let (len, code) = found.ok_or(Invalid)?;
                    national.trim(len);
                    prefix = Some(code);
                }
            }
        }
        Source::Default => {
            let entry = region_meta.ok_or(Invalid)?;
            let code = entry.meta.country_code();
            let code_text = decimal(code);
            let code_text = code_text.as_str();
            if national.as_str().starts_with(code_text)
                && (!entry.general.is_match(national.as_str())?
                    || !entry.length(national.len()).is_possible())
            {
                national.trim(code_text.len());
            }
            prefix = Some(code);
        }
    }
    let code = prefix.ok_or(Unsupported)?;

    // `parser::parse`: the metadata that classifies the national prefix.
    let meta = match region_meta {
        Some(entry) => Some(entry),
        None => {
            let without_zeros = national.as_str().trim_start_matches('0');
            source_for(table, code, without_zeros)?
        }
    };
    if let Some(entry) = meta {
        let mut potential = national;
        strip_national_prefix(entry, &mut potential)?;
        if let Some(np) = entry.meta.national_prefix()
            && potential.as_str().starts_with(np)
        {
            potential.trim(np.len());
        }
        if entry.length(potential.len()) != Length::TooShort {
            national = potential;
        }
    }
    if national.len() < MIN_NSN || national.len() > MAX_NSN {
        return Err(Invalid);
    }
    // `NationalNumber::from_str`: leading zeros kept apart, the rest must
    // parse and fit in 56 bits.
    let text = national.as_str();
    let rest = text.trim_start_matches('0');
    if rest.is_empty() {
        return Err(Invalid);
    }
    // `rest` is at most 17 ASCII digits; 16 are always below 2^56, so only
    // 17 can fail (the parse itself cannot).
    if rest.len() > 16 {
        let value: u64 = rest.parse().map_err(|_| Invalid)?;
        if value >= 1 << 56 {
            return Err(Invalid);
        }
    }

    // `validator::is_valid_with`.
    let valid = source_for_validity(table, code, text)?.unwrap_or_default();
    if !valid {
        return Ok(Fast::Invalid);
    }
    let code_text = decimal(code);
    let code_text = code_text.as_str();
    let mut e164 = String::with_capacity(1 + code_text.len() + text.len());
    e164.push('+');
    e164.push_str(code_text);
    e164.push_str(text);
    Ok(Fast::Valid(e164))
}

/// `code` in decimal.
fn decimal(code: u16) -> ArrayString<5> {
    // Digits from the last, by constant divisions (multiplications).
    let mut digits = [0; 5];
    let mut n = code;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut text = ArrayString::new();
    for &digit in &digits[at..] {
        // A `u16` has at most 5 digits: always fits.
        let _ = text.try_push(char::from(digit));
    }
    text
}

/// The top-level parser choice: RFC 3966 first, then natural text. Returns
/// the national part (still with punctuation) and the `+` prefix that the
/// RFC 3966 form splits off, or `None` when neither parser accepts.
fn split_number(input: &str) -> Option<(&str, Option<&str>)> {
    let separator = |c: char| matches!(c, '-' | '.' | '(' | ')');
    if !input.contains(' ') {
        match input.strip_prefix('+') {
            // `+` digits up to the first separator, then digits and
            // separators to the end: RFC 3966 with a prefix.
            Some(rest) => {
                if let Some(at) = rest.find(separator)
                    && at > 0
                {
                    return Some((&rest[at..], Some(&rest[..at])));
                }
            }
            // Digits and separators only: RFC 3966 without a prefix.
            None => return Some((input, None)),
        }
    }
    // `natural::phone_number` → `extract`: from the first `+` or digit, with
    // trailing non-digits dropped (plain input has no extension).
    let start = input.find(|c: char| c == '+' || c.is_ascii_digit())?;
    let text = input[start..].trim_end_matches(|c: char| !c.is_ascii_digit());
    (!text.is_empty()).then_some((text, None))
}

/// `validator::is_viable` on plain text: two digits alone, or at least
/// three digits after any leading `+`.
fn is_viable(text: &str) -> bool {
    if text.len() < MIN_NSN {
        return false;
    }
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    (digits == 2 && text.len() == 2) || digits >= 3
}

/// `helper::national_number`: strips the national prefix (and carrier code)
/// with `national_prefix_for_parsing` and its transform rule.
fn strip_national_prefix(entry: &Entry, number: &mut Digits) -> Result<(), Step> {
    let Some(parsing) = &entry.parsing else {
        if let Some(np) = entry.meta.national_prefix()
            && number.as_str().starts_with(np)
        {
            number.trim(np.len());
        }
        return Ok(());
    };
    if entry.meta.national_prefix_transform_rule().is_none() {
        // No transform: a prefix matched at the start is simply dropped.
        if let Some(end) = parsing.find_at_start(number.as_str())? {
            number.trim(end);
        }
        return Ok(());
    }
    let parsing = parsing.get()?;
    let text = number.as_str();
    let Some(found) = parsing.find(text) else {
        return Ok(());
    };
    if found.start() != 0 {
        return Ok(());
    }
    let end = found.end();
    let captures = parsing.captures(text).ok_or(Unsupported)?;
    let last = captures.get(captures.len() - 1);
    match entry.meta.national_prefix_transform_rule() {
        Some(transform) if last.is_some() => {
            let viable = entry.general.is_match(text)?;
            let transformed = parsing.replace(text, transform).into_owned();
            if viable && !entry.general.is_match(&transformed)? {
                return Ok(());
            }
            // `phonenumber` unwraps group 1 here (a panic: not modelled).
            if captures.get(1).is_none() {
                return Err(Unsupported);
            }
            number.set(&transformed)
        }
        // With no transform, `phonenumber` compares the general pattern on
        // the same text twice, so the prefix is always stripped.
        _ => {
            number.trim(end);
            Ok(())
        }
    }
}

/// `validator::source_for` as `parser::parse` uses it: the metadata for a
/// country code and national number, if any.
fn source_for(table: &Table, code: u16, national: &str) -> Result<Option<&'static Entry>, Step> {
    let Some(entries) = table.by_code(code) else {
        return Ok(None);
    };
    if let [only] = entries {
        return Ok(single_region(only));
    }
    for entry in entries {
        if entry.chosen_for(national)?.is_some() {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// `validator::is_valid_with`: `Some(valid)`, `None` when no metadata fits.
fn source_for_validity(table: &Table, code: u16, national: &str) -> Result<Option<bool>, Step> {
    let Some(entries) = table.by_code(code) else {
        return Ok(None);
    };
    if let [only] = entries {
        return match single_region(only) {
            Some(entry) => Ok(Some(entry.has_type(national)?)),
            None => Ok(None),
        };
    }
    for entry in entries {
        if let Some(valid) = entry.chosen_for(national)? {
            // Chosen by type: valid. Chosen by leading digits: check the type.
            return Ok(Some(valid || entry.has_type(national)?));
        }
    }
    Ok(None)
}

/// A code's only region: `001` (non-geographic) is looked up by code, any
/// other id must parse as a `country::Id`.
fn single_region(entry: &'static Entry) -> Option<&'static Entry> {
    if entry.id == "001" || entry.id_parses {
        Some(entry)
    } else {
        None
    }
}

/// `number_type` result without the variety: which possible-length rule applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Length {
    Possible,
    PossibleLocalOnly,
    TooShort,
    Other,
}

impl Length {
    fn is_possible(self) -> bool {
        matches!(self, Length::Possible | Length::PossibleLocalOnly)
    }
}

/// A metadata pattern, compiled on first use with the options `phonenumber`
/// uses (`regex_cache` defaults plus `ignore_whitespace`).
struct Pattern {
    source: &'static str,
    /// Compiled as `^(?:…)`: for "a match starts at 0" tests.
    anchored: bool,
    /// The pattern is a plain run of ASCII digits (such as the `011` and
    /// `00` dialling prefixes): it matches exactly that text.
    literal: bool,
    regex: OnceLock<Option<Compiled>>,
}

impl Pattern {
    fn new(source: &'static str, anchored: bool) -> Self {
        Self {
            source,
            anchored,
            literal: !source.is_empty() && source.bytes().all(|b| b.is_ascii_digit()),
            regex: OnceLock::new(),
        }
    }

    /// `self`, once it is known to compile (a literal always does).
    fn ready(&self) -> Result<&Self, Step> {
        if !self.literal {
            self.get()?;
        }
        Ok(self)
    }

    /// The end of the leftmost-first match in `text` when that match starts
    /// at 0 (`find(text)` filtered on `start() == 0`). A literal is compared
    /// as text: its leftmost match starts at 0 exactly when `text` starts
    /// with it, and then ends after it.
    fn find_at_start(&self, text: &str) -> Result<Option<usize>, Step> {
        if self.literal {
            return Ok(text.starts_with(self.source).then_some(self.source.len()));
        }
        Ok(self
            .get()?
            .find(text)
            .filter(|m| m.start() == 0)
            .map(|m| m.end()))
    }

    fn get(&self) -> Result<&Regex, Step> {
        Ok(&self.compiled()?.regex)
    }

    /// `get()?.is_match(text)`, answered by the DFA when there is one.
    fn is_match(&self, text: &str) -> Result<bool, Step> {
        Ok(self.compiled()?.is_match(text))
    }

    fn compiled(&self) -> Result<&Compiled, Step> {
        self.regex
            .get_or_init(|| compile(&[self.source], self.anchored))
            .as_ref()
            .ok_or(Unsupported)
    }
}

/// A compiled pattern: the `Regex`, and for a pattern anchored at the start
/// the same pattern as a dense DFA, built ahead (within size limits), for
/// `is_match`. Validating a number asks two or three such questions of
/// short digit strings; the `Regex` spends most of its time per search on
/// its set-up (a lazy DFA's cache from a pool), the dense DFA only walks
/// the digits. Both implement the same regex semantics from the same
/// pattern text and syntax options; the tests compare them on the metadata.
struct Compiled {
    regex: Regex,
    dfa: Option<dense::DFA<Vec<u32>>>,
}

impl Compiled {
    fn is_match(&self, text: &str) -> bool {
        if let Some(dfa) = &self.dfa {
            // The DFA is built for anchored searches only, as the pattern
            // (`^(?:…)`) is; it has no quit bytes, so it cannot fail, but
            // the `Regex` answers if it ever does.
            let input = Input::new(text).anchored(Anchored::Yes).earliest(true);
            if let Ok(found) = dfa.try_search_fwd(&input) {
                return found.is_some();
            }
        }
        self.regex.is_match(text)
    }
}

/// Largest dense DFA built for a pattern; a larger one is left to the
/// `Regex`. The patterns the fast path uses build to a few KB to ~100 KB.
const DFA_BYTES_MAX: usize = 1 << 20;

/// The dense DFA of `source` (which starts with `^`) with the syntax the
/// `Regex` was built with, or `None` past the size limit.
fn build_dfa(source: &str, unicode: bool) -> Option<dense::DFA<Vec<u32>>> {
    dense::Builder::new()
        .configure(
            dense::Config::new()
                .start_kind(StartKind::Anchored)
                .dfa_size_limit(Some(DFA_BYTES_MAX))
                .determinize_size_limit(Some(DFA_BYTES_MAX)),
        )
        .syntax(
            syntax::Config::new()
                .unicode(unicode)
                .ignore_whitespace(true),
        )
        .build(source)
        .ok()
}

/// Compiles `alternatives` as one pattern, optionally anchored at the start
/// (and then as a DFA too).
fn compile(alternatives: &[&str], anchored: bool) -> Option<Compiled> {
    let source = match (alternatives, anchored) {
        ([only], false) => (*only).to_owned(),
        // Line breaks end any `#` comment (whitespace mode) inside a pattern.
        _ => {
            let joined: Vec<String> = alternatives
                .iter()
                .map(|p| format!("(?:\n{p}\n)"))
                .collect();
            format!("^(?:{})", joined.join("|"))
        }
    };
    // Every haystack here is ASCII (digits, or a transform rule applied to
    // digits), and on ASCII text a pattern matches exactly the same with
    // Unicode classes (`\d`: any decimal digit) as without (`\d`: `[0-9]`);
    // the ASCII build is far smaller and quicker to compile. A pattern that
    // builds only with Unicode (one that could match invalid UTF-8 without
    // it) keeps Unicode. The tests check that every metadata pattern also
    // builds as `phonenumber` builds it, so no ASCII build answers where
    // `phonenumber` would fail.
    let build = |unicode: bool| {
        RegexBuilder::new(&source)
            .unicode(unicode)
            .ignore_whitespace(true)
            .size_limit(10 * (1 << 20))
            .dfa_size_limit(2 * (1 << 20))
            .build()
            .ok()
            .map(|regex| (regex, unicode))
    };
    let (regex, unicode) = build(false).or_else(|| build(true))?;
    let dfa = if anchored {
        build_dfa(&source, unicode)
    } else {
        None
    };
    Some(Compiled { regex, dfa })
}

/// A descriptor: its national number pattern and possible lengths.
struct Desc {
    pattern: Pattern,
    lengths: &'static [u16],
}

impl Desc {
    fn new(desc: &'static Descriptor) -> Self {
        Self {
            pattern: Pattern::new(desc.national_number().as_str(), true),
            lengths: desc.possible_length(),
        }
    }

    fn has_length(&self, len: usize) -> bool {
        let len = u16::try_from(len).unwrap_or(u16::MAX);
        self.lengths.is_empty() || self.lengths.contains(&len)
    }

    /// `Descriptor::is_match`: a possible length, and a match starting at 0
    /// (`find(..).start() == 0` is the same as an anchored match existing).
    fn is_match(&self, value: &str) -> Result<bool, Step> {
        Ok(self.has_length(value.len()) && self.pattern.is_match(value)?)
    }
}

/// One metadata entry (a region, or a non-geographic `001` code) with its
/// patterns, each compiled on first use.
struct Entry {
    meta: &'static Metadata,
    id: &'static str,
    /// `id.parse::<country::Id>()` succeeds (`phonenumber` unwraps it).
    id_parses: bool,
    general: Desc,
    local_lengths: &'static [u16],
    /// The descriptors `number_type` tries after the general one (premium
    /// rate, toll free, shared cost, VoIP, personal, pager, UAN, voicemail,
    /// fixed line, mobile): any match makes the type known.
    types: Vec<Desc>,
    /// Per national number length, the `types` possible at that length as
    /// one anchored alternation (`None`: none are).
    any_type: [OnceLock<Option<Compiled>>; MAX_NSN + 1],
    leading: Option<Pattern>,
    idd: Option<Pattern>,
    parsing: Option<Pattern>,
}

impl Entry {
    fn new(meta: &'static Metadata, id: &'static str) -> Self {
        let d = meta.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ]
        .into_iter()
        .flatten()
        .map(Desc::new)
        .collect();
        Self {
            meta,
            id,
            id_parses: id.parse::<country::Id>().is_ok(),
            general: Desc::new(d.general()),
            local_lengths: d.general().possible_local_length(),
            types,
            any_type: std::array::from_fn(|_| OnceLock::new()),
            leading: meta
                .leading_digits()
                .map(|r| Pattern::new(r.as_str(), true)),
            idd: meta
                .international_prefix()
                .map(|r| Pattern::new(r.as_str(), false)),
            parsing: meta
                .national_prefix_for_parsing()
                .map(|r| Pattern::new(r.as_str(), false)),
        }
    }

    /// `number_type(..) != Unknown`.
    fn has_type(&self, national: &str) -> Result<bool, Step> {
        if !self.general.is_match(national)? {
            return Ok(false);
        }
        let len = national.len();
        let Some(slot) = self.any_type.get(len) else {
            for desc in &self.types {
                if desc.is_match(national)? {
                    return Ok(true);
                }
            }
            return Ok(false);
        };
        let combined = slot.get_or_init(|| {
            let mut sources: Vec<&str> = Vec::new();
            for desc in self.types.iter().filter(|d| d.has_length(len)) {
                if !sources.contains(&desc.pattern.source) {
                    sources.push(desc.pattern.source);
                }
            }
            if sources.is_empty() {
                // Matches nothing: no type has this length.
                let regex = RegexBuilder::new(r"[^\s\S]").build().ok()?;
                return Some(Compiled { regex, dfa: None });
            }
            compile(&sources, true)
        });
        Ok(combined.as_ref().ok_or(Unsupported)?.is_match(national))
    }

    /// `validator::length` for `Type::Unknown` (the general descriptor).
    fn length(&self, len: usize) -> Length {
        let possible = self.general.lengths;
        let len = u16::try_from(len).unwrap_or(u16::MAX);
        let (Some(&min), Some(&max)) = (possible.first(), possible.last()) else {
            return Length::Other;
        };
        if self.local_lengths.contains(&len) {
            Length::PossibleLocalOnly
        } else if len == min {
            Length::Possible
        } else if len < min {
            Length::TooShort
        } else if len > max || !possible.contains(&len) {
            Length::Other
        } else {
            Length::Possible
        }
    }

    /// One step of `source_for`'s loop over a shared code's regions:
    /// `Some(true)` chosen because the number has a type here,
    /// `Some(false)` chosen by leading digits, `None` not chosen.
    fn chosen_for(&self, national: &str) -> Result<Option<bool>, Step> {
        if !self.id_parses {
            // `phonenumber` unwraps this parse: not modelled.
            return Err(Unsupported);
        }
        Ok(match &self.leading {
            Some(leading) => leading.is_match(national)?.then_some(false),
            None => self.has_type(national)?.then_some(true),
        })
    }
}

/// Every metadata entry, by region id and by country code (in
/// `phonenumber`'s order: the main country first).
struct Table {
    /// By two-letter region id (`AA` = 0 … `ZZ` = 675).
    by_id: Vec<Option<&'static Entry>>,
    /// By country code (0..=999).
    by_code: Vec<Vec<&'static Entry>>,
}

/// Index of a two-letter uppercase region id.
fn id_index(id: &str) -> Option<usize> {
    match id.as_bytes() {
        &[a @ b'A'..=b'Z', b @ b'A'..=b'Z'] => {
            Some(usize::from(a - b'A') * 26 + usize::from(b - b'A'))
        }
        _ => None,
    }
}

impl Table {
    fn by_id(&self, id: country::Id) -> Option<&'static Entry> {
        self.by_id.get(id_index(id.as_ref())?).copied().flatten()
    }

    fn by_code(&self, code: u16) -> Option<&[&'static Entry]> {
        self.by_code
            .get(usize::from(code))
            .map(Vec::as_slice)
            .filter(|entries| !entries.is_empty())
    }
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let db = &*DATABASE;
    let mut by_id = vec![None; 26 * 26];
    let mut by_code = Vec::with_capacity(1000);
    for code in 0..=999u16 {
        let (Some(metas), Some(ids)) = (db.by_code(&code), db.region(&code)) else {
            by_code.push(Vec::new());
            continue;
        };
        let entries: Vec<&'static Entry> = metas
            .into_iter()
            .zip(ids)
            .map(|(meta, id)| &*Box::leak(Box::new(Entry::new(meta, id))))
            .collect();
        for entry in &entries {
            // `by_id` is what `phonenumber` finds for the id (for `001`,
            // shared by several codes, only one of them).
            if let Some(slot) = id_index(entry.id).and_then(|i| by_id.get_mut(i))
                && db
                    .by_id(entry.id)
                    .is_some_and(|m| std::ptr::eq(m, entry.meta))
            {
                *slot = Some(*entry);
            }
        }
        by_code.push(entries);
    }
    Table { by_id, by_code }
});

#[cfg(test)]
mod tests;
