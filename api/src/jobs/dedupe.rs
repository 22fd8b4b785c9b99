//! The dedupe runner: carries out one claimed dedupe run, resumably.
//!
//! 1. **Scan** (once): the live leads in the run's scope are read in keyset
//!    pages with only the columns clustering needs, clustered by
//!    [`batch::dedupe::cluster_with_report`] on a blocking thread (rayon
//!    inside), and the clusters stored in order (survivor id) with the number
//!    of leads scanned, in one transaction. A crash before it commits leaves
//!    nothing behind; the next attempt scans again.
//! 2. **Merge** (real runs): the stored clusters are merged in order, many per
//!    transaction, each transaction committing `processed_rows` through
//!    [`Lease::hold`]; a resumed run continues after the last committed
//!    cluster, so nothing is merged twice. Each cluster is re-read and locked
//!    first: if a member was deleted, merged, left the scope or changed so the
//!    members no longer link, the cluster is skipped (counted, not merged).
//!    The merge itself is `mergeLeads`'s ([`merge_leads`]): survivor fill,
//!    `mergedInto`, audit entries and `lead.merged` webhooks.
//! 3. **Finish**: `completed`, and a `dedupe.completed` webhook.
//!
//! The server stopping is checked between transactions ([`JobError::Stopped`]).

use std::{collections::HashSet, time::Instant};

use anyhow::Context;
use batch::dedupe::{DedupeRecord, MatchReason, blocking_keys, cluster_with_report};
use entity::{JobStatus, job, lead};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde_json::{Map, Value, json};

use super::{JobContext, JobError, Lease};
use crate::{
    auth::Principal,
    domain::{
        DomainError,
        dedupe::{self as service, DedupeSummary, StoredCluster, reason_name},
        leads::{MAX_MERGE, merge_leads},
        webhooks::{self, EventType},
    },
    ids::NodeType,
    store::{
        self,
        dedupe::{NewCluster, RunCounts, ScanRow},
    },
};

/// Leads read per scan query.
const SCAN_PAGE: u64 = 10_000;
/// Most clusters merged in one transaction.
const CLUSTERS_PER_TXN: u64 = 200;
/// A transaction stops taking clusters once it merged this many leads.
const LEADS_PER_TXN: usize = 2_000;

/// What a run works with.
struct Run {
    id: i64,
    public_id: String,
    dry_run: bool,
    /// The starting key's scope.
    principal: Principal,
}

/// Runs one claimed dedupe job to its end (or to a stop).
pub async fn run(ctx: &JobContext, job: job::Model, lease: &Lease) -> Result<(), JobError> {
    let public_id = ctx.codec.encode(NodeType::DedupeRun, job.id);
    let setup = service::params_of(&job).and_then(|params| {
        let snapshot = service::snapshot_of(&job)?;
        Ok(Run {
            id: job.id,
            public_id: public_id.clone(),
            dry_run: params.dry_run,
            principal: Principal::from_snapshot(
                &snapshot,
                job.tenant_id,
                job.environment,
                format!("dedupe:{public_id}"),
            ),
        })
    });
    let run = match setup {
        Ok(run) => run,
        Err(err) => {
            tracing::error!(job.id = job.id, error = %err, "unreadable dedupe run; failing it");
            return fail(ctx, lease, "the run's stored options are unreadable").await;
        }
    };
    let mut counts = match job.total_rows {
        Some(scanned) => RunCounts {
            leads_scanned: Some(scanned),
            processed: job.processed_rows,
            merged: job.updated_count,
            skipped: job.skipped_count,
            summary: job.summary.clone().unwrap_or_default(),
        },
        None => scan(ctx, &run, lease).await?,
    };
    if !run.dry_run {
        merge_all(ctx, &run, lease, &mut counts).await?;
    }
    finish(ctx, &run, lease, &counts).await
}

/// Phase 1: reads, clusters and stores; returns the committed figures.
async fn scan(ctx: &JobContext, run: &Run, lease: &Lease) -> Result<RunCounts, JobError> {
    let started = Instant::now();
    let mut records: Vec<DedupeRecord> = Vec::new();
    let mut after = 0;
    let mut renewed = Instant::now();
    loop {
        if ctx.stopping() {
            return Err(JobError::Stopped);
        }
        let page = store::dedupe::scan_page(&ctx.db, &run.principal, after, SCAN_PAGE)
            .await
            .map_err(domain_err)?;
        let full = page.len() as u64 == SCAN_PAGE;
        if let Some(last) = page.last() {
            after = last.id;
        }
        records.extend(page.into_iter().map(record));
        if !full {
            break;
        }
        if renewed.elapsed() > lease.duration / 3 {
            lease.renew(&ctx.db).await?;
            renewed = Instant::now();
        }
    }
    let scanned = i64::try_from(records.len()).unwrap_or(i64::MAX);
    let (clusters, skipped_blocks) = tokio::task::spawn_blocking(move || clusters_of(records))
        .await
        .context("clustering the leads")?;
    if ctx.stopping() {
        return Err(JobError::Stopped);
    }
    let summary = DedupeSummary {
        leads_scanned: scanned,
        clusters: i64::try_from(clusters.len()).unwrap_or(i64::MAX),
        merged_leads: 0,
        skipped_blocks: i64::try_from(skipped_blocks).unwrap_or(i64::MAX),
    };
    let counts = RunCounts {
        leads_scanned: Some(scanned),
        summary: summary.to_json(),
        ..RunCounts::default()
    };
    let txn = store::begin_write(&ctx.db).await?;
    lease.hold(&txn, 0).await?;
    store::dedupe::insert_clusters(&txn, run.id, clusters)
        .await
        .map_err(domain_err)?;
    store::dedupe::save_counts(&txn, run.id, &counts)
        .await
        .map_err(domain_err)?;
    txn.commit().await?;
    tracing::info!(
        job.id = run.id,
        dedupe.leads = scanned,
        dedupe.clusters = summary.clusters,
        dedupe.skipped_blocks = summary.skipped_blocks,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "dedupe scan stored"
    );
    Ok(counts)
}

/// A scanned lead as the clustering sees it (no fill fields: the merge reads
/// the full rows again).
fn record(row: ScanRow) -> DedupeRecord {
    DedupeRecord {
        id: row.id,
        created_at_micros: row.created_at.timestamp_micros(),
        email_key: row.email_key,
        phone: row.phone,
        first_name: row.first_name,
        last_name: row.last_name,
        company: row.company,
        job_title: None,
        custom_fields: Map::new(),
        team_id: None,
        assigned_to_id: None,
    }
}

/// Clusters `records` (sorted by id, as scanned) and returns the rows to store
/// (members: survivor first, then oldest first) and the number of skipped
/// blocks. CPU-bound: runs on a blocking thread.
fn clusters_of(records: Vec<DedupeRecord>) -> (Vec<NewCluster>, usize) {
    let report = cluster_with_report(&records);
    let age = |id: i64| {
        records
            .binary_search_by_key(&id, |r| r.id)
            .ok()
            .and_then(|i| records.get(i))
            .map_or((i64::MAX, id), |r| (r.created_at_micros, id))
    };
    let clusters = report
        .clusters
        .into_iter()
        .map(|c| {
            let mut others: Vec<i64> = c
                .member_ids
                .iter()
                .copied()
                .filter(|&id| id != c.survivor_id)
                .collect();
            others.sort_by_key(|&id| age(id));
            let members: Vec<i64> = std::iter::once(c.survivor_id).chain(others).collect();
            let reasons: Vec<&str> = c.reasons.iter().map(|&r| reason_name(r)).collect();
            NewCluster {
                survivor_id: c.survivor_id,
                member_ids: Value::from(members).to_string(),
                reasons: Value::from(reasons).to_string(),
            }
        })
        .collect();
    (clusters, report.skipped_blocks.len())
}

/// Phase 2: merges the stored clusters from `counts.processed` on.
async fn merge_all(
    ctx: &JobContext,
    run: &Run,
    lease: &Lease,
    counts: &mut RunCounts,
) -> Result<(), JobError> {
    let mut summary: DedupeSummary = serde_json::from_str(&counts.summary).unwrap_or_default();
    let mut after: Option<i64> = None;
    loop {
        if ctx.stopping() {
            return Err(JobError::Stopped);
        }
        let skip = u64::try_from(counts.processed).unwrap_or(0);
        let rows = store::dedupe::clusters_from(&ctx.db, run.id, after, skip, CLUSTERS_PER_TXN)
            .await
            .map_err(domain_err)?;
        if rows.is_empty() {
            return Ok(());
        }
        let txn = store::begin_write(&ctx.db).await?;
        lease.hold(&txn, counts.processed).await?;
        let mut next = counts.clone();
        let mut next_summary = summary;
        let mut leads = 0;
        let mut last = None;
        for row in &rows {
            if leads >= LEADS_PER_TXN {
                break;
            }
            let cluster = StoredCluster::parse(row);
            leads += cluster.member_ids.len();
            match merge_cluster(&txn, &run.principal, &cluster).await {
                Ok(Some(merged)) => {
                    next.merged += 1;
                    next_summary.merged_leads += i64::try_from(merged).unwrap_or(0);
                }
                Ok(None) => next.skipped += 1,
                Err(err) => return Err(domain_err(err)),
            }
            next.processed += 1;
            last = Some(row.id);
        }
        next.summary = next_summary.to_json();
        store::dedupe::save_counts(&txn, run.id, &next)
            .await
            .map_err(domain_err)?;
        txn.commit().await?;
        *counts = next;
        summary = next_summary;
        after = last;
    }
}

/// Merges one cluster inside a savepoint of `txn`. `Ok(None)`: skipped (its
/// members no longer form this cluster, or the merge refused them), nothing
/// written; `Ok(Some(n))`: `n` duplicates merged. Database errors abort.
async fn merge_cluster(
    txn: &DatabaseTransaction,
    p: &Principal,
    cluster: &StoredCluster,
) -> Result<Option<usize>, DomainError> {
    let savepoint = txn.begin().await?;
    let merged = match try_merge(&savepoint, p, cluster).await {
        Ok(merged) => merged,
        Err(err @ (DomainError::Db(_) | DomainError::Internal(_))) => return Err(err),
        Err(err) => {
            tracing::debug!(dedupe.cluster = cluster.id, error = %err, "cluster skipped");
            None
        }
    };
    match merged {
        Some(_) => savepoint.commit().await?,
        None => savepoint.rollback().await?,
    }
    Ok(merged)
}

async fn try_merge(
    txn: &DatabaseTransaction,
    p: &Principal,
    cluster: &StoredCluster,
) -> Result<Option<usize>, DomainError> {
    let rows = store::leads::get_many_for_update(txn, p, cluster.member_ids.clone()).await?;
    if !still_one_cluster(&rows, cluster) {
        return Ok(None);
    }
    let duplicates: Vec<i64> = cluster.duplicates().collect();
    // Oldest duplicates first, so the fill prefers them as one merge would.
    for chunk in duplicates.chunks(MAX_MERGE) {
        merge_leads(txn, p, cluster.survivor_id, chunk.to_vec()).await?;
    }
    Ok(Some(duplicates.len()))
}

/// Whether the current rows still make `cluster`: every member is there
/// (live, in scope) and unmerged, and they still link into one group by the
/// blocking keys. The survivor (oldest) cannot change: creation times do not.
fn still_one_cluster(rows: &[lead::Model], cluster: &StoredCluster) -> bool {
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

/// Phase 3: completes the run and emits `dedupe.completed`.
async fn finish(
    ctx: &JobContext,
    run: &Run,
    lease: &Lease,
    counts: &RunCounts,
) -> Result<(), JobError> {
    let summary: DedupeSummary = serde_json::from_str(&counts.summary).unwrap_or_default();
    let payload = json!({
        "dedupeRun": {
            "id": run.public_id,
            "status": "COMPLETED",
            "dryRun": run.dry_run,
            "leadsScanned": counts.leads_scanned,
            "clusterCount": summary.clusters,
            "mergedClusterCount": counts.merged,
            "skippedClusterCount": counts.skipped,
            "mergedLeadCount": summary.merged_leads,
        }
    });
    let txn = store::begin_write(&ctx.db).await?;
    lease.hold(&txn, counts.processed).await?;
    lease.finish(&txn, JobStatus::Completed, None).await?;
    webhooks::emit_job(&txn, &run.principal, EventType::DedupeCompleted, payload)
        .await
        .map_err(domain_err)?;
    txn.commit().await?;
    tracing::info!(
        job.id = run.id,
        dedupe.merged_clusters = counts.merged,
        dedupe.skipped_clusters = counts.skipped,
        "dedupe run completed"
    );
    Ok(())
}

/// Fails a run for good (it cannot be carried out).
async fn fail(ctx: &JobContext, lease: &Lease, error: &str) -> Result<(), JobError> {
    let txn = store::begin_write(&ctx.db).await?;
    lease
        .finish(&txn, JobStatus::Failed, Some(error.to_owned()))
        .await?;
    txn.commit().await?;
    Ok(())
}

fn domain_err(err: DomainError) -> JobError {
    match err {
        DomainError::Db(e) => JobError::from(e),
        other => JobError::Internal(anyhow::anyhow!("{other}")),
    }
}

#[cfg(test)]
mod tests {
    use entity::{Environment, LeadSource, LeadStatus};

    use super::*;

    fn lead(id: i64, phone: Option<&str>, last_name: &str) -> lead::Model {
        let now = crate::clock::now();
        lead::Model {
            id,
            tenant_id: 1,
            environment: Environment::Live,
            email: format!("l{id}@example.com"),
            email_key: format!("l{id}@example.com"),
            first_name: "Ada".into(),
            last_name: last_name.into(),
            phone: phone.map(str::to_owned),
            company: None,
            job_title: None,
            source: LeadSource::Api,
            status: LeadStatus::New,
            score: 0,
            custom_fields: "{}".into(),
            market: "US".into(),
            team_id: None,
            assigned_to_id: None,
            created_by_id: None,
            merged_into_id: None,
            deleted_at: None,
            created_at: now,
            updated_at: now,
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
        assert!(still_one_cluster(
            &[a.clone(), b.clone()],
            &cluster(&[1, 2])
        ));
        // A chain through a third member still links.
        let mut c_linked = c.clone();
        c_linked.phone = phone.map(str::to_owned);
        assert!(still_one_cluster(
            &[a.clone(), b.clone(), c_linked],
            &cluster(&[1, 2, 3])
        ));
        // The phone changed since the scan: the members no longer link.
        assert!(!still_one_cluster(&[a.clone(), c], &cluster(&[1, 3])));
        // A member is gone (deleted, out of scope) or already merged.
        assert!(!still_one_cluster(
            std::slice::from_ref(&a),
            &cluster(&[1, 2])
        ));
        let mut merged = b;
        merged.merged_into_id = Some(9);
        assert!(!still_one_cluster(&[a, merged], &cluster(&[1, 2])));
    }
}
