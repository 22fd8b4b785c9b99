//! Opaque public ids: Sqids of `[node type, row id]` with a per-deployment alphabet.
//!
//! Ids are 16 characters for any realistic row id (17 past ~10^15). Decoding checks
//! that the id re-encodes to itself, so each row has exactly one valid spelling.

use std::{collections::HashSet, sync::Arc};

use aho_corasick::AhoCorasick;
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
    /// The same alphabet and length without a blocklist: its first try is the
    /// reference's first try.
    bare: Sqids,
    blocklist: Blocklist,
}

/// Sqids' blocklist test (`Sqids::is_blocked_id`) for ids longer than three
/// characters, in one pass: `Sqids` compares each of its ~560 words with
/// every id it makes, which cost more than the rest of a page of leads.
#[derive(Debug)]
struct Blocklist {
    /// Words without digits: blocked anywhere in the id.
    anywhere: AhoCorasick,
    /// Words with a digit: blocked at the start or the end; by length.
    ends: Vec<(usize, HashSet<String>)>,
}

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
        let mut ends: Vec<(usize, HashSet<String>)> = Vec::new();
        for word in with_digits {
            match ends.iter_mut().find(|(len, _)| *len == word.len()) {
                Some((_, words)) => {
                    words.insert(word);
                }
                None => ends.push((word.len(), HashSet::from([word]))),
            }
        }
        Ok(Self {
            anywhere: AhoCorasick::new(anywhere).context("building the id blocklist")?,
            ends,
        })
    }

    /// Whether `Sqids` would refuse `id` (more than three characters).
    fn blocks(&self, id: &str) -> bool {
        let id = id.to_ascii_lowercase();
        self.anywhere.is_match(&id)
            || self.ends.iter().any(|(len, words)| {
                id.get(..*len).is_some_and(|start| words.contains(start))
                    || id
                        .len()
                        .checked_sub(*len)
                        .and_then(|from| id.get(from..))
                        .is_some_and(|end| words.contains(end))
            })
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
                bare: builder().blocklist(HashSet::new()).build()?,
                blocklist: Blocklist::new(&chars)?,
            }),
        })
    }

    /// The public id of a row.
    pub fn encode(&self, ty: NodeType, id: i64) -> String {
        // Row ids are positive; a negative id (never produced by the database) maps
        // to 0, which no row has, rather than panicking.
        let id = u64::try_from(id).unwrap_or(0);
        let numbers = [ty as u64, id];
        let inner = &self.inner;
        match inner.bare.encode(&numbers) {
            // Sqids' own first try, unless its blocklist refuses it; then Sqids
            // itself finds the next spelling.
            Ok(first) if first.len() > 3 && !inner.blocklist.blocks(&first) => first,
            _ => inner.sqids.encode(&numbers).unwrap_or_default(),
        }
    }

    /// Decodes any public id into its type and row id.
    pub fn decode(&self, id: &str) -> Result<(NodeType, i64), MalformedId> {
        if id.len() < usize::from(MIN_LENGTH)
            || id.len() > 24
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
            let mut blocked = 0;
            let rows = (1..=30_000_u64)
                .chain((0..2_000).map(|i| i * 7_919_993 + (1 << 33)))
                .chain([u64::from(u32::MAX), 1 << 50, i64::MAX as u64]);
            for row in rows {
                for ty in [NodeType::Lead, NodeType::User, NodeType::DedupeRun] {
                    let numbers = [ty as u64, row];
                    let expected = reference.encode(&numbers).unwrap();
                    let first = codec.inner.bare.encode(&numbers).unwrap();
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
