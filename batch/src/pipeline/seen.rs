//! [`SeenKeys`]: the email keys an import has seen so far.

use std::collections::HashSet;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// The canonical email keys seen so far in one file, for the in-file
/// duplicate check (the first row with a key wins).
///
/// An import inserts one key per valid row, from one thread, so this is on
/// the critical path, and with a million rows its memory is most of the
/// import's: every page of it is touched fresh. So each key is copied once
/// into one growing buffer (its length, then its bytes) and the table holds
/// only the key's 4-byte offset there, hashed with `foldhash` (seeded per
/// process) — about half the memory of a `HashSet<Box<str>>` (16-byte
/// slots plus one allocation per key) and no allocation per key. Keys are
/// compared whole, so the answer is exact. A key that does not fit (past
/// 4 GiB of keys, or longer than 64 KiB) is kept in a plain set instead.
#[derive(Clone, Default)]
pub struct SeenKeys {
    /// Offsets into `arena` of the keys, by the hash of their bytes.
    table: HashTable<u32>,
    /// Every key of `table` once: a little-endian `u16` length, then the bytes.
    arena: Vec<u8>,
    hasher: RandomState,
    /// Keys that do not fit `arena`'s offsets or length prefix.
    spill: HashSet<Box<str>, RandomState>,
}

/// Bytes reserved in the key buffer per key of `with_capacity` (the length
/// prefix plus a typical address).
const BYTES_PER_KEY: usize = 32;

impl SeenKeys {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set with room for `capacity` keys before its table grows
    /// (and for typical keys of that many rows in its buffer).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            table: HashTable::with_capacity(capacity),
            arena: Vec::with_capacity(capacity.saturating_mul(BYTES_PER_KEY)),
            ..Self::default()
        }
    }

    /// Records `key`; `true` when it was not seen before.
    pub fn insert(&mut self, key: &str) -> bool {
        let Self {
            table,
            arena,
            hasher,
            spill,
        } = self;
        let bytes = key.as_bytes();
        let hash = hasher.hash_one(bytes);
        let entry = table.entry(
            hash,
            |&at| key_at(arena, at) == bytes,
            |&at| hasher.hash_one(key_at(arena, at)),
        );
        let Entry::Vacant(slot) = entry else {
            return false;
        };
        let (Ok(at), Ok(len)) = (u32::try_from(arena.len()), u16::try_from(bytes.len())) else {
            // Not in `table`, so it may only be in `spill`.
            return spill.insert(Box::from(key));
        };
        arena.extend_from_slice(&len.to_le_bytes());
        arena.extend_from_slice(bytes);
        slot.insert(at);
        true
    }

    /// Whether `key` was seen.
    pub fn contains(&self, key: &str) -> bool {
        let bytes = key.as_bytes();
        self.table
            .find(self.hasher.hash_one(bytes), |&at| {
                key_at(&self.arena, at) == bytes
            })
            .is_some()
            || self.spill.contains(key)
    }

    /// How many distinct keys were seen.
    pub fn len(&self) -> usize {
        self.table.len() + self.spill.len()
    }

    /// No key seen yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for SeenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeenKeys")
            .field("len", &self.len())
            .field("key_bytes", &self.arena.len())
            .finish_non_exhaustive()
    }
}

/// The bytes of the key stored at `at` in `arena`.
fn key_at(arena: &[u8], at: u32) -> &[u8] {
    let at = at as usize;
    let len = match arena.get(at..at + 2) {
        Some(&[lo, hi]) => usize::from(u16::from_le_bytes([lo, hi])),
        _ => 0,
    };
    arena.get(at + 2..at + 2 + len).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_insert_wins_and_keys_are_exact() {
        let mut seen = SeenKeys::with_capacity(2);
        assert!(seen.is_empty());
        assert!(seen.insert("ada@example.com"));
        assert!(!seen.insert("ada@example.com"));
        assert!(seen.insert("Ada@example.com"));
        assert!(seen.insert("ada@example.co"));
        assert!(seen.insert(""));
        assert!(!seen.insert(""));
        assert!(seen.contains("ada@example.co"));
        assert!(seen.contains(""));
        assert!(!seen.contains("bob@example.com"));
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn agrees_with_a_std_hash_set_over_many_keys() {
        // Grows from empty: the table rehashes from the buffer many times.
        let mut seen = SeenKeys::new();
        let mut reference = std::collections::HashSet::new();
        for i in 0..50_000u64 {
            let key = format!("p{}@x{}.com", i.wrapping_mul(2_654_435_761) % 20_011, i % 7);
            assert_eq!(seen.insert(&key), reference.insert(key.clone()), "{key}");
        }
        assert_eq!(seen.len(), reference.len());
        for i in 0..1_000u64 {
            let key = format!("p{i}@x{}.com", i % 9);
            assert_eq!(seen.contains(&key), reference.contains(&key), "{key}");
        }
    }

    #[test]
    fn keys_too_long_for_the_buffer_are_still_exact() {
        let long = "a".repeat(70_000);
        let longer = "a".repeat(70_001);
        let mut seen = SeenKeys::new();
        assert!(seen.insert(&long));
        assert!(seen.insert(&longer));
        assert!(!seen.insert(&long));
        assert!(seen.insert("a"));
        assert!(seen.contains(&longer));
        assert!(!seen.contains(&"a".repeat(69_999)));
        assert_eq!(seen.len(), 3);
    }
}
