//! Opaque public ids: Sqids of `[node type, row id]` with a per-deployment alphabet.
//!
//! Ids are 16 characters for any realistic row id (17 past ~10^15). Decoding checks
//! that the id re-encodes to itself, so each row has exactly one valid spelling.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, StartKind};
use anyhow::Context;
use sqids::Sqids;

/// The type tag inside an id; `node(id:)` dispatches on it. Values are permanent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum NodeType {
    Lead = 1,
    User = 2,
    Team = 3,
    ApiKey = 4,
    Tenant = 5,
    LeadTransition = 6,
    AuditEvent = 7,
    WebhookEndpoint = 8,
    WebhookDelivery = 9,
    /// Not a node: the id of a webhook event (`Leadgraph-Event-Id`).
    WebhookEvent = 10,
    ImportJob = 11,
    DedupeRun = 12,
}

impl NodeType {
    fn from_tag(tag: u64) -> Option<Self> {
        Some(match tag {
            1 => Self::Lead,
            2 => Self::User,
            3 => Self::Team,
            4 => Self::ApiKey,
            5 => Self::Tenant,
            6 => Self::LeadTransition,
            7 => Self::AuditEvent,
            8 => Self::WebhookEndpoint,
            9 => Self::WebhookDelivery,
            10 => Self::WebhookEvent,
            11 => Self::ImportJob,
            12 => Self::DedupeRun,
            _ => return None,
        })
    }
}

/// Minimum id length (the contract says 16–17 characters).
pub const MIN_LENGTH: u8 = 16;

/// Encodes and decodes public ids. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct IdCodec {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The encoder with the default blocklist: the reference.
    sqids: Sqids,
    /// Sqids' first try, from alphabets derived once (see [`FirstTry`]).
    first_try: FirstTry,
    blocklist: Blocklist,
}

/// Sqids' first try at encoding `[tag, row]` (no blocklist), with the
/// alphabets it derives computed once instead of per id.
///
/// Sqids rotates the alphabet by an offset taken from the numbers, then
/// shuffles it after the first number and again for the padding. For two
/// numbers those alphabets depend on the offset alone, so there are only as
/// many of them as the alphabet has characters. `Sqids::encode` shuffles
/// twice per id, which was a tenth of the server's CPU time on a page of leads
/// with its nested users and teams. The test `ids_are_the_ones_sqids_makes`
/// checks every id against Sqids itself.
#[derive(Debug)]
struct FirstTry {
    alphabet: Vec<u8>,
    min_length: usize,
    /// Per offset: the prefix, then the alphabets of the first number, the
    /// second number and the padding.
    rotations: Vec<Rotation>,
}

#[derive(Debug)]
struct Rotation {
    prefix: u8,
    first: Vec<u8>,
    second: Vec<u8>,
    padding: Vec<u8>,
}

impl FirstTry {
    /// `None` when the alphabet is not ASCII (Sqids refuses those anyway).
    fn new(alphabet: &[char], min_length: u8) -> Option<Self> {
        let ascii: Vec<u8> = alphabet
            .iter()
            .map(|&c| u8::try_from(c).ok().filter(u8::is_ascii))
            .collect::<Option<_>>()?;
        // Sqids shuffles the alphabet it is given once, when it is built.
        let alphabet = shuffle(&ascii);
        let rotations = (0..alphabet.len())
            .map(|offset| {
                let mut rotated = alphabet.clone();
                rotated.rotate_left(offset);
                let prefix = rotated[0];
                rotated.reverse();
                let second = shuffle(&rotated);
                let padding = shuffle(&second);
                Rotation {
                    prefix,
                    first: rotated,
                    second,
                    padding,
                }
            })
            .collect();
        Some(Self {
            alphabet,
            min_length: usize::from(min_length),
            rotations,
        })
    }

    /// Sqids' try number `attempt` (0 first) for `[tag, row]`, before its
    /// blocklist judges it; `None` when the padding would take more than one
    /// shuffle (alphabets much shorter than the minimum length).
    fn encode(&self, tag: u64, row: u64, attempt: usize) -> Option<String> {
        let n = self.alphabet.len();
        let pick = |v: u64| usize::from(self.alphabet[(v % n as u64) as usize]);
        // Sqids: fold over the numbers from `numbers.len()`, adding each
        // number's alphabet character and its index; each further attempt
        // moves the offset by one.
        let offset = (pick(row) + 1 + pick(tag) + 2 + attempt) % n;
        let rotation = &self.rotations[offset];
        let mut id = String::with_capacity(self.min_length + 1);
        id.push(char::from(rotation.prefix));
        push_digits(&mut id, tag, &rotation.first[1..]);
        id.push(char::from(rotation.first[0]));
        push_digits(&mut id, row, &rotation.second[1..]);
        if id.len() < self.min_length {
            id.push(char::from(rotation.second[0]));
            let missing = self.min_length.saturating_sub(id.len());
            if missing > n {
                return None;
            }
            id.extend(rotation.padding[..missing].iter().map(|&b| char::from(b)));
        }
        Some(id)
    }
}

/// Sqids' alphabet shuffle.
fn shuffle(alphabet: &[u8]) -> Vec<u8> {
    let mut chars = alphabet.to_vec();
    let len = chars.len();
    for i in 0..len.saturating_sub(1) {
        let j = len - 1 - i;
        let r = (i * j + usize::from(chars[i]) + usize::from(chars[j])) % len;
        chars.swap(i, r);
    }
    chars
}

/// Sqids' `to_id`: `num` in base `alphabet.len()`, most significant digit first.
fn push_digits(id: &mut String, mut num: u64, alphabet: &[u8]) {
    let base = alphabet.len() as u64;
    let mut digits = [0_u8; 64];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = alphabet[(num % base) as usize];
        num /= base;
        if num == 0 {
            break;
        }
    }
    id.extend(digits[start..].iter().map(|&b| char::from(b)));
}

/// Sqids' blocklist test (`Sqids::is_blocked_id`) for ids longer than three
/// characters, in one pass: `Sqids` compares each of its ~560 words with
/// every id it makes, which cost more than the rest of a page of leads.
/// The word sets are ASCII-case-insensitive DFAs, so the id is neither
/// lowercased nor hashed (ids are ASCII: the alphabet is checked in `new`).
#[derive(Debug)]
struct Blocklist {
    /// Words without digits: blocked anywhere in the id.
    anywhere: AhoCorasick,
    /// Words with a digit: blocked at the start of the id (anchored search).
    starts: AhoCorasick,
    /// The same words reversed: blocked at the end (anchored search over the
    /// id reversed). Two anchored searches stop after a few bytes, where one
    /// overlapping search over the whole id for matches touching either end
    /// was 2% of a page of leads with nested users and teams (perf).
    ends: AhoCorasick,
}

/// Ids are at most this long (checked by `decode`; `encode` makes 16 or 17).
const MAX_ID_LEN: usize = 24;

impl Blocklist {
    /// The words `Sqids` keeps for `alphabet`: lowercased, 3+ characters, all
    /// in the lowercased alphabet. Three-letter words only ever block ids of
    /// three characters or fewer, which `blocks` does not judge.
    fn new(alphabet: &[char]) -> anyhow::Result<Self> {
        let lower: Vec<char> = alphabet.iter().map(char::to_ascii_lowercase).collect();
        let words: Vec<String> = sqids::default_blocklist()
            .into_iter()
            .map(|w| w.to_lowercase())
            .filter(|w| w.len() > 3 && w.chars().all(|c| lower.contains(&c)))
            .collect();
        let (with_digits, anywhere): (Vec<String>, Vec<String>) = words
            .into_iter()
            .partition(|w| w.chars().any(|c| c.is_ascii_digit()));
        let reversed: Vec<String> = with_digits
            .iter()
            .map(|w| w.chars().rev().collect())
            .collect();
        let dfa = |words: Vec<String>, start: StartKind| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(Some(AhoCorasickKind::DFA))
                .start_kind(start)
                .build(words)
                .context("building the id blocklist")
        };
        Ok(Self {
            anywhere: dfa(anywhere, StartKind::Unanchored)?,
            starts: dfa(with_digits, StartKind::Anchored)?,
            ends: dfa(reversed, StartKind::Anchored)?,
        })
    }

    /// Whether `Sqids` would refuse `id` (more than three characters).
    fn blocks(&self, id: &str) -> bool {
        if self.anywhere.is_match(id)
            || self.starts.is_match(Input::new(id).anchored(Anchored::Yes))
        {
            return true;
        }
        let mut buf = [0_u8; MAX_ID_LEN];
        let longer: Vec<u8>;
        let rev: &[u8] = match buf.get_mut(..id.len()) {
            Some(rev) => {
                for (to, from) in rev.iter_mut().zip(id.bytes().rev()) {
                    *to = from;
                }
                rev
            }
            None => {
                longer = id.bytes().rev().collect();
                &longer
            }
        };
        self.ends.is_match(Input::new(rev).anchored(Anchored::Yes))
    }
}

/// Why an id could not be decoded: always reported as `bad_request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed id")]
pub struct MalformedId;

impl IdCodec {
    /// Builds a codec from an alphabet (unique characters; `None` = Sqids default).
    pub fn new(alphabet: Option<&str>) -> anyhow::Result<Self> {
        let chars: Vec<char> = alphabet.map_or_else(
            || sqids::DEFAULT_ALPHABET.chars().collect(),
            |a| a.chars().collect(),
        );
        let builder = || {
            Sqids::builder()
                .min_length(MIN_LENGTH)
                .alphabet(chars.clone())
        };
        Ok(Self {
            inner: Arc::new(Inner {
                sqids: builder().build()?,
                first_try: FirstTry::new(&chars, MIN_LENGTH)
                    .context("the id alphabet must be ASCII")?,
                blocklist: Blocklist::new(&chars)?,
            }),
        })
    }

    /// The public id of a row.
    pub fn encode(&self, ty: NodeType, id: i64) -> String {
        // Row ids are positive; a negative id (never produced by the database) maps
        // to 0, which no row has, rather than panicking.
        let id = u64::try_from(id).unwrap_or(0);
        let inner = &self.inner;
        // Sqids' attempts in its order: the first its blocklist lets through.
        for attempt in 0..inner.first_try.alphabet.len() {
            match inner.first_try.encode(ty as u64, id, attempt) {
                Some(spelling) if spelling.len() > 3 => {
                    if !inner.blocklist.blocks(&spelling) {
                        return spelling;
                    }
                }
                // Ids this short or alphabets this small: Sqids itself.
                _ => break,
            }
        }
        inner.sqids.encode(&[ty as u64, id]).unwrap_or_default()
    }

    /// Decodes any public id into its type and row id.
    pub fn decode(&self, id: &str) -> Result<(NodeType, i64), MalformedId> {
        if id.len() < usize::from(MIN_LENGTH)
            || id.len() > MAX_ID_LEN
            || !id.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(MalformedId);
        }
        let numbers = self.inner.sqids.decode(id);
        let [tag, row] = numbers[..] else {
            return Err(MalformedId);
        };
        let ty = NodeType::from_tag(tag).ok_or(MalformedId)?;
        let row = i64::try_from(row).map_err(|_| MalformedId)?;
        if row == 0 || self.encode(ty, row) != id {
            return Err(MalformedId);
        }
        Ok((ty, row))
    }

    /// Decodes an id that must be of type `ty`. A well-formed id of another type is
    /// `Ok(None)`: it names no such row (`not_found`), it is not malformed.
    pub fn decode_as(&self, ty: NodeType, id: &str) -> Result<Option<i64>, MalformedId> {
        let (actual, row) = self.decode(id)?;
        Ok((actual == ty).then_some(row))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// The fast path gives Sqids' own ids, blocked first tries included.
    #[test]
    fn ids_are_the_ones_sqids_makes() {
        let alphabets = [
            None,
            Some("k3G7QAe51FCsPW92uEOyq4Bg6Sp8YzVTmnU0liwDdHXLajZrfxNhobJIRcMvKt"),
        ];
        for alphabet in alphabets {
            let codec = IdCodec::new(alphabet).unwrap();
            let reference = &codec.inner.sqids;
            // Sqids without a blocklist: its first try.
            let bare = Sqids::builder()
                .min_length(MIN_LENGTH)
                .alphabet(alphabet.map_or_else(
                    || sqids::DEFAULT_ALPHABET.chars().collect(),
                    |a| a.chars().collect(),
                ))
                .blocklist(HashSet::new())
                .build()
                .unwrap();
            let mut blocked = 0;
            let rows = (1..=30_000_u64)
                .chain((0..2_000).map(|i| i * 7_919_993 + (1 << 33)))
                .chain([u64::from(u32::MAX), 1 << 50, i64::MAX as u64]);
            for row in rows {
                for ty in [NodeType::Lead, NodeType::User, NodeType::DedupeRun] {
                    let numbers = [ty as u64, row];
                    let expected = reference.encode(&numbers).unwrap();
                    let first = codec.inner.first_try.encode(numbers[0], row, 0).unwrap();
                    assert_eq!(first, bare.encode(&numbers).unwrap(), "{numbers:?}");
                    if first != expected {
                        blocked += 1;
                        assert!(codec.inner.blocklist.blocks(&first), "{first}");
                    }
                    assert_eq!(
                        codec.encode(ty, i64::try_from(row).unwrap()),
                        expected,
                        "{numbers:?}"
                    );
                }
            }
            // The sweep reaches ids that the blocklist refuses.
            assert!(blocked > 0, "no blocked first try in the sweep");
        }
    }

    #[test]
    fn ids_round_trip_and_have_16_or_17_characters() {
        let codec = IdCodec::new(None).unwrap();
        for row in [1_i64, 2, 99, 123_456, 9_999_999_999, 1 << 50] {
            let id = codec.encode(NodeType::Lead, row);
            assert!((16..=17).contains(&id.len()), "{id} has {} chars", id.len());
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
            assert_eq!(codec.decode(&id), Ok((NodeType::Lead, row)));
        }
    }

    #[test]
    fn type_is_part_of_the_id() {
        let codec = IdCodec::new(None).unwrap();
        let user = codec.encode(NodeType::User, 7);
        assert_ne!(user, codec.encode(NodeType::Lead, 7));
        assert_eq!(codec.decode_as(NodeType::Lead, &user), Ok(None));
        assert_eq!(codec.decode_as(NodeType::User, &user), Ok(Some(7)));
    }

    #[test]
    fn garbage_is_malformed() {
        let codec = IdCodec::new(None).unwrap();
        for bad in [
            "",
            "abc",
            "not-an-id-at-all!!",
            "0000000000000000",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(codec.decode(bad), Err(MalformedId), "{bad}");
        }
    }

    #[test]
    fn another_alphabet_gives_other_ids() {
        let a = IdCodec::new(None).unwrap();
        let b = IdCodec::new(Some(
            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ))
        .unwrap();
        assert_ne!(a.encode(NodeType::Lead, 1), b.encode(NodeType::Lead, 1));
    }
}
