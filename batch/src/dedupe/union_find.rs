//! Disjoint sets over `0..n` with path halving and union by rank.
//!
//! Written here rather than taken from a crate: it is 30 lines, and the
//! candidates either pull in a graph library for one type (`petgraph`) or
//! are barely maintained (`partitions`, `union-find`).

pub(super) struct DisjointSet {
    parent: Vec<usize>,
    rank: Vec<u8>,
}

impl DisjointSet {
    /// `n` singleton sets.
    pub(super) fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
            rank: vec![0; n],
        }
    }

    /// Number of elements.
    pub(super) fn len(&self) -> usize {
        self.parent.len()
    }

    /// The representative of `x`'s set; halves the path on the way up.
    pub(super) fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            let grandparent = self.parent[self.parent[x]];
            self.parent[x] = grandparent;
            x = grandparent;
        }
        x
    }

    /// Merges the sets of `a` and `b`.
    pub(super) fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        let (low, high) = if self.rank[a] < self.rank[b] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[low] = high;
        if self.rank[low] == self.rank[high] {
            self.rank[high] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_are_transitive_and_separate_sets_stay_apart() {
        let mut sets = DisjointSet::new(6);
        sets.union(0, 1);
        sets.union(2, 1);
        sets.union(4, 5);
        assert_eq!(sets.find(0), sets.find(2));
        assert_eq!(sets.find(4), sets.find(5));
        assert_ne!(sets.find(0), sets.find(4));
        assert_eq!(sets.find(3), 3);
    }

    #[test]
    fn a_long_chain_ends_in_one_set() {
        let n = 100_000;
        let mut sets = DisjointSet::new(n);
        for i in 1..n {
            sets.union(i - 1, i);
        }
        let root = sets.find(0);
        assert!((0..n).all(|i| sets.find(i) == root));
    }
}
