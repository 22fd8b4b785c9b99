//! Phase 1 of a dedupe run: read the leads in scope, cluster them off the
//! async runtime, store the clusters and the figures in one transaction.

use std::{
    collections::{HashMap, HashSet},
    time::Instant,
};

use anyhow::Context;
use batch::dedupe::{DedupeRecord, cluster_with_report};
use serde_json::{Map, Value};

use super::{Run, domain_err};
use crate::{
    domain::dedupe::{DedupeSummary, reason_name},
    jobs::{JobContext, JobError, Lease},
    store::{
        self,
        dedupe::{NewCluster, RunCounts, ScanRow},
    },
};

/// Leads read per scan query.
const SCAN_PAGE: u64 = 10_000;

/// Phase 1: reads, clusters and stores; returns the committed figures.
pub(super) async fn scan(
    ctx: &JobContext,
    run: &Run,
    lease: &Lease,
) -> Result<RunCounts, JobError> {
    let started = Instant::now();
    let records = load(ctx, run, lease).await?;
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

/// Reads every live lead in the run's scope as a [`DedupeRecord`], page by
/// page (oldest first).
async fn load(ctx: &JobContext, run: &Run, lease: &Lease) -> Result<Vec<DedupeRecord>, JobError> {
    // Sized up front: growing a million records would touch twice the memory
    // (and first-touched memory is a good part of the scan's cost).
    let expected = store::dedupe::count_live(&ctx.db, &run.principal)
        .await
        .map_err(domain_err)?;
    let mut records: Vec<DedupeRecord> =
        Vec::with_capacity(usize::try_from(expected).unwrap_or(0).saturating_add(1024));
    let mut after = None;
    let mut renewed = Instant::now();
    loop {
        if ctx.stopping() {
            return Err(JobError::Stopped);
        }
        let page = store::dedupe::scan_page(&ctx.db, &run.principal, after, SCAN_PAGE)
            .await
            .map_err(domain_err)?;
        let more = page.len() as u64 == SCAN_PAGE;
        if let Some(last) = page.last() {
            after = Some((last.created_at, last.id));
        }
        records.extend(page.into_iter().map(record));
        if !more {
            return Ok(records);
        }
        if renewed.elapsed() > lease.duration / 3 {
            lease.renew(&ctx.db).await?;
            renewed = Instant::now();
        }
    }
}

/// A scanned lead as the clustering sees it (no fill fields: the merge reads
/// the full rows again).
pub(super) fn record(row: ScanRow) -> DedupeRecord {
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

/// Clusters the scanned `records` and returns the rows to store (members:
/// survivor first, then oldest first) and the number of skipped blocks.
/// CPU-bound: runs on a blocking thread.
fn clusters_of(records: Vec<DedupeRecord>) -> (Vec<NewCluster>, usize) {
    let report = cluster_with_report(&records);
    // Creation times of the clustered leads only (a few percent of them).
    let clustered: HashSet<i64> = report
        .clusters
        .iter()
        .flat_map(|c| c.member_ids.iter().copied())
        .collect();
    let created: HashMap<i64, i64> = records
        .iter()
        .filter(|r| clustered.contains(&r.id))
        .map(|r| (r.id, r.created_at_micros))
        .collect();
    drop(records);
    let age = |id: i64| (created.get(&id).copied().unwrap_or(i64::MAX), id);
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
