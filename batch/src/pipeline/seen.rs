//! [`SeenKeys`]: the email keys an import has seen so far.

use std::collections::HashSet;

/// The canonical email keys seen so far in one file, for the in-file
/// duplicate check (the first row with a key wins).
///
/// A `HashSet` of owned keys, hashed with `foldhash` (seeded per process)
/// rather than SipHash: an import inserts one key per valid row, from one
/// thread, so hashing and the rehashes as the set grows are on the critical
/// path. Keys are kept whole, so the answer is exact.
#[derive(Debug, Clone, Default)]
pub struct SeenKeys {
    keys: HashSet<Box<str>, foldhash::fast::RandomState>,
}

impl SeenKeys {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set with room for `capacity` keys before it grows.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            keys: HashSet::with_capacity_and_hasher(capacity, Default::default()),
        }
    }

    /// Records `key`; `true` when it was not seen before.
    pub fn insert(&mut self, key: &str) -> bool {
        // One hash per key; a duplicate (rare) costs a copy that is dropped.
        self.keys.insert(Box::from(key))
    }

    /// Whether `key` was seen.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// How many distinct keys were seen.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// No key seen yet.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
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
        assert!(seen.contains("ada@example.co"));
        assert!(!seen.contains("bob@example.com"));
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn agrees_with_a_std_hash_set_over_many_keys() {
        let mut seen = SeenKeys::new();
        let mut reference = std::collections::HashSet::new();
        for i in 0..50_000u64 {
            let key = format!("p{}@x{}.com", i.wrapping_mul(2_654_435_761) % 20_011, i % 7);
            assert_eq!(seen.insert(&key), reference.insert(key.clone()), "{key}");
        }
        assert_eq!(seen.len(), reference.len());
    }
}
