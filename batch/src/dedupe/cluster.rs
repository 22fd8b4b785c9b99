//! Clustering: union-find over records that share a blocking key.
//!
//! Keys are computed on the rayon pool; each reason's keys are then grouped
//! in its own hash map (the four maps are built in parallel), remembering
//! the first record with each key and linking every later one to it. Links
//! inside a block of more than [`MAX_BLOCK`] records are dropped before any
//! union, so a junk value cannot chain thousands of leads together.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use rayon::prelude::*;
use serde::Serialize;

use super::blocking::RecordKeys;
use super::survivor::age;
use super::union_find::DisjointSet;
use super::{DedupeRecord, MAX_BLOCK, MatchReason};

/// Records that are one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// The oldest member (ties: lowest id); the others merge into it.
    pub survivor_id: i64,
    /// Every member id, survivor included, ascending.
    pub member_ids: Vec<i64>,
    /// Every reason that linked two members, sorted and deduplicated.
    pub reasons: Vec<MatchReason>,
}

/// The result of [`cluster_with_report`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterReport {
    /// Clusters of two or more records, sorted by survivor id.
    pub clusters: Vec<Cluster>,
    /// Blocking keys shared by more than [`MAX_BLOCK`] records, which linked
    /// nothing: (reason, key, number of records), sorted by reason then key.
    /// The key is personal data (a phone, a name): do not log it.
    pub skipped_blocks: Vec<(MatchReason, String, usize)>,
}

/// Clusters records by shared blocking keys; see [`cluster_with_report`].
pub fn cluster(records: &[DedupeRecord]) -> Vec<Cluster> {
    cluster_with_report(records).clusters
}

/// Clusters records by union-find over shared
/// [`blocking_keys`](super::blocking_keys). Only clusters of two or more
/// records are returned, sorted by survivor id; keys shared by more than
/// [`MAX_BLOCK`] records are skipped and reported. CPU-bound on the rayon
/// pool: call it off the async runtime. 1,000,000 records take 0.9–1.8 s
/// on two cores (`examples/dedupe_throughput.rs`).
pub fn cluster_with_report(records: &[DedupeRecord]) -> ClusterReport {
    let keys: Vec<RecordKeys<'_>> = records.par_iter().map(RecordKeys::of).collect();
    let groupings: Vec<Grouping<'_>> = MatchReason::ALL
        .par_iter()
        .map(|&reason| Grouping::build(reason, &keys))
        .collect();

    let mut sets = DisjointSet::new(records.len());
    for grouping in &groupings {
        for &(block, index) in &grouping.links {
            if let Some(block) = grouping.blocks.get(block).filter(|b| b.size <= MAX_BLOCK) {
                sets.union(block.first, index);
            }
        }
    }

    let components = Components::new(&mut sets);
    let mut masks = vec![0_u8; components.members.len()];
    let mut skipped_blocks = Vec::new();
    for grouping in &groupings {
        for block in &grouping.blocks {
            if block.size > MAX_BLOCK {
                skipped_blocks.push((grouping.reason, block.key.to_owned(), block.size));
            } else if block.size >= 2
                && let Some(mask) = components.slot(block.first).and_then(|s| masks.get_mut(s))
            {
                *mask |= grouping.reason.bit();
            }
        }
    }
    skipped_blocks.sort_unstable();

    let mut clusters: Vec<Cluster> = components
        .members
        .into_par_iter()
        .zip(masks)
        .filter_map(|(members, mask)| to_cluster(records, &members, mask))
        .collect();
    clusters.sort_unstable_by_key(|c| c.survivor_id);
    ClusterReport {
        clusters,
        skipped_blocks,
    }
}

/// Records sharing one key of one reason.
struct Block<'k> {
    key: &'k str,
    /// Index of the first record with this key.
    first: usize,
    /// Number of records with this key.
    size: usize,
}

/// All blocks of one reason, and (block, record) for every record after a
/// block's first.
struct Grouping<'k> {
    reason: MatchReason,
    blocks: Vec<Block<'k>>,
    links: Vec<(usize, usize)>,
}

impl<'k> Grouping<'k> {
    fn build(reason: MatchReason, keys: &'k [RecordKeys<'_>]) -> Self {
        let count = keys.iter().filter(|k| k.get(reason).is_some()).count();
        let mut by_key: HashMap<&str, usize> = HashMap::with_capacity(count);
        let mut blocks: Vec<Block<'k>> = Vec::with_capacity(count);
        let mut links = Vec::new();
        let own = keys
            .iter()
            .enumerate()
            .filter_map(|(index, keys)| Some((index, keys.get(reason)?)));
        for (index, key) in own {
            match by_key.entry(key) {
                Entry::Occupied(entry) => {
                    let block = *entry.get();
                    if let Some(b) = blocks.get_mut(block) {
                        b.size += 1;
                    }
                    links.push((block, index));
                }
                Entry::Vacant(entry) => {
                    entry.insert(blocks.len());
                    blocks.push(Block {
                        key,
                        first: index,
                        size: 1,
                    });
                }
            }
        }
        Self {
            reason,
            blocks,
            links,
        }
    }
}

/// Connected components of two or more records, members in index order.
struct Components {
    /// Component slot of each record (`None` for singletons).
    slot_of: Vec<Option<usize>>,
    members: Vec<Vec<usize>>,
}

impl Components {
    fn new(sets: &mut DisjointSet) -> Self {
        let n = sets.len();
        let roots: Vec<usize> = (0..n).map(|i| sets.find(i)).collect();
        let mut sizes = vec![0_u32; n];
        for &root in &roots {
            sizes[root] += 1;
        }
        let mut slot_of_root = vec![None; n];
        let mut members: Vec<Vec<usize>> = Vec::new();
        for (index, &root) in roots.iter().enumerate() {
            if sizes[root] < 2 {
                continue;
            }
            let slot = *slot_of_root[root].get_or_insert_with(|| {
                members.push(Vec::with_capacity(2));
                members.len() - 1
            });
            members[slot].push(index);
        }
        let slot_of = roots.iter().map(|&root| slot_of_root[root]).collect();
        Self { slot_of, members }
    }

    fn slot(&self, index: usize) -> Option<usize> {
        self.slot_of.get(index).copied().flatten()
    }
}

fn to_cluster(records: &[DedupeRecord], members: &[usize], mask: u8) -> Option<Cluster> {
    let survivor = members
        .iter()
        .filter_map(|&i| records.get(i))
        .min_by_key(|r| age(r))?;
    let mut member_ids: Vec<i64> = members
        .iter()
        .filter_map(|&i| records.get(i).map(|r| r.id))
        .collect();
    member_ids.sort_unstable();
    let reasons = MatchReason::ALL
        .into_iter()
        .filter(|reason| mask & reason.bit() != 0)
        .collect();
    Some(Cluster {
        survivor_id: survivor.id,
        member_ids,
        reasons,
    })
}
