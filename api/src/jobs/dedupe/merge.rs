//! Phase 2 of a real dedupe run: merge the stored clusters in order, many per
//! transaction, each committing the run's progress under its lease.
//!
//! A transaction's merges are set-based: its clusters' members are read and
//! locked in a few statements, every cluster is checked and worked out in
//! memory ([`plan_in_chunks`], `mergeLeads`'s rules), and all the merges are
//! written together ([`write_merges`]: a few multi-row statements for the
//! survivors, the duplicates, the audit entries and the webhook events).

use std::collections::{BTreeSet, HashMap, HashSet};

use batch::dedupe::{MatchReason, blocking_keys};
use chrono::{DateTime, Utc};
use entity::lead;
use sea_orm::{ConnectionTrait, DbBackend};

use super::{Run, domain_err, scan::record};
use crate::{
    auth::Principal,
    clock,
    domain::{
        dedupe::{DedupeSummary, StoredCluster},
        leads::{Merge, plan_in_chunks, write_merges},
    },
    jobs::{JobContext, JobError, Lease},
    store::{
        self, WriteTxn,
        dedupe::{RunCounts, ScanRow},
        sqlite_bulk::BulkTxn,
    },
};

/// Most clusters merged in one transaction.
const CLUSTERS_PER_TXN: u64 = 4_000;
/// A transaction stops taking clusters once it has this many leads. On
/// SQLite each commit checkpoints every page the transaction dirtied, so
/// larger transactions cost less per lead (real run over 960k leads, 208k
/// merged: about 93 s at 5,000, 66 s at 10,000, 56 s at 20,000), but they
/// hold the one write lock longer (about 1 s at 10,000, 1.8 s at 20,000)
/// while API writes wait for it (5 s busy timeout by default).
const LEADS_PER_TXN: usize = 10_000;
/// Ids per locking read (see [`store::fixed_batches`]).
const LOCK_CHUNK: usize = 1_000;

/// Phase 2: merges the stored clusters from `counts.processed` on.
///
/// Each transaction is worked in two steps: [`prepare`] reads and locks its
/// clusters' members and plans the merges; [`finish`] writes them, takes
/// the lease with the progress committed so far and commits the new
/// progress. On PostgreSQL the next transaction is prepared (on another
/// connection) while the previous one finishes, so reading and planning
/// (about two fifths of a transaction's time at a million leads) overlap
/// writing. Their leads are distinct (a lead is in one cluster), and the
/// writes happen in one `finish` at a time, in order: audit and event ids
/// follow the merges' order, and a transaction commits after the one before
/// it. SQLite has one writer, so there each transaction is prepared after
/// the previous one committed.
pub(super) async fn merge_all(
    ctx: &JobContext,
    run: &Run,
    lease: &Lease,
    counts: &mut RunCounts,
) -> Result<(), JobError> {
    let overlap = ctx.db.get_database_backend() == DbBackend::Postgres;
    let mut summary: DedupeSummary = serde_json::from_str(&counts.summary).unwrap_or_default();
    let mut waiting: Option<Prepared> = None;
    let mut after: Option<i64> = None;
    loop {
        if ctx.stopping() {
            if let Some(done) = waiting.take() {
                finish(run, lease, counts, &mut summary, done).await?;
            }
            return Err(JobError::Stopped);
        }
        // Where a run without a cluster id to continue after resumes.
        let skip = u64::try_from(counts.processed).unwrap_or(0);
        let next = if overlap {
            let previous = async {
                match waiting.take() {
                    Some(done) => finish(run, lease, counts, &mut summary, done).await,
                    None => Ok(()),
                }
            };
            // A failed previous transaction drops (rolls back) the next one.
            let (next, previous) = tokio::join!(prepare(ctx, run, after, skip), previous);
            previous?;
            next?
        } else {
            if let Some(done) = waiting.take() {
                finish(run, lease, counts, &mut summary, done).await?;
            }
            prepare(ctx, run, after, skip).await?
        };
        match next {
            Some(prepared) => {
                after = Some(prepared.last);
                waiting = Some(prepared);
            }
            None => return Ok(()),
        }
    }
}

/// One transaction's merges, planned from its locked leads, waiting for
/// [`finish`].
struct Prepared {
    /// On SQLite a [`BulkTxn`]: its `UPDATE`s and `INSERT`s need no
    /// statement journal, the references checked in [`finish`].
    txn: WriteTxn,
    merges: Vec<Merge>,
    /// Clusters taken (merged or skipped).
    processed: i64,
    /// Clusters merged.
    merged: i64,
    /// Duplicates merged.
    merged_leads: i64,
    /// The last cluster taken.
    last: i64,
}

/// Opens the next transaction: takes the clusters after `after` (or, at
/// the start, after the first `skip`) up to [`LEADS_PER_TXN`] leads, reads
/// and locks their members and plans each cluster. `None` when no cluster
/// is left.
async fn prepare(
    ctx: &JobContext,
    run: &Run,
    after: Option<i64>,
    skip: u64,
) -> Result<Option<Prepared>, JobError> {
    let rows = store::dedupe::clusters_from(&ctx.db, run.id, after, skip, CLUSTERS_PER_TXN)
        .await
        .map_err(domain_err)?;
    // As many clusters as fit, at least one.
    let mut batch: Vec<StoredCluster> = Vec::new();
    let mut leads = 0;
    let mut last = None;
    for row in &rows {
        if leads >= LEADS_PER_TXN {
            break;
        }
        let cluster = StoredCluster::parse(row);
        leads += cluster.member_ids.len();
        batch.push(cluster);
        last = Some(row.id);
    }
    let Some(last) = last else {
        return Ok(None);
    };
    let txn = WriteTxn::begin_sqlite_bulk(&ctx.db, true).await?;
    // Every member of the batch, read again and locked in one go.
    let ids = batch.iter().flat_map(|c| c.member_ids.iter().copied());
    let mut current = lock_leads(&txn, &run.principal, ids.collect()).await?;
    let assignees = current.values().filter_map(|m| m.assigned_to_id);
    let active = store::users::active_ids(&txn, run.principal.tenant_id, assignees).await?;
    let now = clock::now();
    let mut merges = Vec::new();
    for cluster in &batch {
        if let Some(merge) = plan_cluster(&mut current, cluster, &active, now) {
            merges.push(merge);
        }
    }
    let merged_leads = merges.iter().map(|m| m.merged.len()).sum::<usize>();
    Ok(Some(Prepared {
        txn,
        processed: i64::try_from(batch.len()).unwrap_or(i64::MAX),
        merged: i64::try_from(merges.len()).unwrap_or(i64::MAX),
        merged_leads: i64::try_from(merged_leads).unwrap_or(i64::MAX),
        merges,
        last,
    }))
}

/// Completes a prepared transaction: writes its merges, takes the lease
/// with the progress committed so far and commits the new progress.
async fn finish(
    run: &Run,
    lease: &Lease,
    counts: &mut RunCounts,
    summary: &mut DedupeSummary,
    prepared: Prepared,
) -> Result<(), JobError> {
    let Prepared { txn, merges, .. } = &prepared;
    if let WriteTxn::Bulk(bulk) = txn {
        check_references(bulk, &run.principal, merges).await?;
    }
    write_merges(txn, &run.principal, merges)
        .await
        .map_err(domain_err)?;
    lease.hold(txn, counts.processed).await?;
    let mut next = counts.clone();
    let mut next_summary = *summary;
    next.processed += prepared.processed;
    next.merged += prepared.merged;
    next.skipped += prepared.processed - prepared.merged;
    next_summary.merged_leads += prepared.merged_leads;
    next.summary = next_summary.to_json();
    store::dedupe::save_counts(txn, run.id, &next)
        .await
        .map_err(domain_err)?;
    prepared.txn.commit().await?;
    *counts = next;
    *summary = next_summary;
    Ok(())
}

/// What a [`BulkTxn`]'s merges reference, checked in place of the foreign
/// keys it leaves unenforced: the tenant (webhook events), the survivors
/// (the duplicates' `merged_into_id`; locked in this transaction) and the
/// teams and assignees the survivors end up with (taken from stored leads).
async fn check_references(bulk: &BulkTxn, p: &Principal, merges: &[Merge]) -> Result<(), JobError> {
    let survivors = merges.iter().map(|m| &m.survivor);
    bulk.check_references(vec![
        ("tenants", vec![p.tenant_id]),
        ("leads", survivors.clone().map(|s| s.id).collect()),
        (
            "teams",
            survivors.clone().filter_map(|s| s.team_id).collect(),
        ),
        (
            "users",
            survivors.filter_map(|s| s.assigned_to_id).collect(),
        ),
    ])
    .await
    .map_err(|e| anyhow::anyhow!("dedupe run: {e}").into())
}

/// The live leads in scope among `ids`, locked for update (PostgreSQL), by id.
async fn lock_leads(
    txn: &impl ConnectionTrait,
    p: &Principal,
    mut ids: Vec<i64>,
) -> Result<HashMap<i64, lead::Model>, JobError> {
    // In id order: each read walks the table forward.
    ids.sort_unstable();
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in store::fixed_batches(&ids, LOCK_CHUNK) {
        let rows = store::leads::get_many_for_update(txn, p, chunk.to_vec())
            .await
            .map_err(domain_err)?;
        found.extend(rows.into_iter().map(|r| (r.id, r)));
    }
    Ok(found)
}

/// Works out the merge of a cluster from the batch's locked rows: `None`
/// (skipped) when its members no longer make one cluster or `mergeLeads`
/// would refuse them. A merged cluster's rows in `current` are replaced by
/// their merged state, as the next cluster would read them.
fn plan_cluster(
    current: &mut HashMap<i64, lead::Model>,
    cluster: &StoredCluster,
    active: &BTreeSet<i64>,
    now: DateTime<Utc>,
) -> Option<Merge> {
    let rows: Vec<&lead::Model> = cluster
        .member_ids
        .iter()
        .filter_map(|id| current.get(id))
        .collect();
    if !still_one_cluster(&rows, cluster) {
        return None;
    }
    let survivor = current.get(&cluster.survivor_id).cloned();
    let duplicates: Option<Vec<lead::Model>> = cluster
        .duplicates()
        .map(|id| current.get(&id).cloned())
        .collect();
    let (Some(survivor), Some(duplicates)) = (survivor, duplicates) else {
        tracing::debug!(
            dedupe.cluster = cluster.id,
            "cluster skipped: a member is gone"
        );
        return None;
    };
    match plan_in_chunks(survivor, duplicates, active, now) {
        Ok(merge) => {
            for m in merge.merged.iter().chain([&merge.survivor]) {
                current.insert(m.id, m.clone());
            }
            Some(merge)
        }
        Err(err) => {
            tracing::debug!(dedupe.cluster = cluster.id, error = %err, "cluster skipped");
            None
        }
    }
}

/// Whether the current rows still make `cluster`: every member is there
/// (live, in scope) and unmerged, and they still link into one group by the
/// blocking keys. The survivor (oldest) cannot change: creation times do not.
fn still_one_cluster(rows: &[&lead::Model], cluster: &StoredCluster) -> bool {
    if rows.len() != cluster.member_ids.len()
        || rows.iter().any(|r| r.merged_into_id.is_some())
        || cluster.member_ids.len() < 2
    {
        return false;
    }
    let keys: Vec<HashSet<(MatchReason, String)>> = rows
        .iter()
        .map(|r| {
            let scanned = record(ScanRow {
                id: r.id,
                created_at: r.created_at,
                email_key: r.email_key.clone(),
                phone: r.phone.clone(),
                first_name: r.first_name.clone(),
                last_name: r.last_name.clone(),
                company: r.company.clone(),
            });
            blocking_keys(&scanned).into_iter().collect()
        })
        .collect();
    // Reachability from the first member over shared keys (clusters are small).
    let mut reached = vec![false; keys.len()];
    let mut stack = vec![0];
    reached[0] = true;
    while let Some(i) = stack.pop() {
        for j in 0..keys.len() {
            if !reached[j] && !keys[i].is_disjoint(&keys[j]) {
                reached[j] = true;
                stack.push(j);
            }
        }
    }
    reached.into_iter().all(|r| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(id: i64, phone: Option<&str>, last_name: &str) -> lead::Model {
        lead::Model {
            phone: phone.map(str::to_owned),
            last_name: last_name.into(),
            ..crate::domain::leads::test_lead(id)
        }
    }

    fn cluster(members: &[i64]) -> StoredCluster {
        StoredCluster {
            id: 1,
            survivor_id: members[0],
            member_ids: members.to_vec(),
            reasons: vec![MatchReason::SamePhone],
        }
    }

    #[test]
    fn a_cluster_is_merged_only_while_its_members_still_link() {
        let phone = Some("+14155552671");
        let (a, b, c) = (lead(1, phone, "A"), lead(2, phone, "B"), lead(3, None, "C"));
        assert!(still_one_cluster(&[&a, &b], &cluster(&[1, 2])));
        // A chain through a third member still links.
        let mut c_linked = c.clone();
        c_linked.phone = phone.map(str::to_owned);
        assert!(still_one_cluster(
            &[&a, &b, &c_linked],
            &cluster(&[1, 2, 3])
        ));
        // The phone changed since the scan: the members no longer link.
        assert!(!still_one_cluster(&[&a, &c], &cluster(&[1, 3])));
        // A member is gone (deleted, out of scope) or already merged.
        assert!(!still_one_cluster(&[&a], &cluster(&[1, 2])));
        let mut merged = b;
        merged.merged_into_id = Some(9);
        assert!(!still_one_cluster(&[&a, &merged], &cluster(&[1, 2])));
    }
}
