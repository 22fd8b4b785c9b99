//! The dedupe runner: carries out one claimed dedupe run, resumably.
//!
//! 1. **Scan** (`scan`, once): the live leads in the run's scope are read
//!    in keyset pages with only the columns clustering needs, clustered by
//!    [`batch::dedupe::cluster_with_report`] on a blocking thread (rayon
//!    inside), and the clusters stored in order (survivor id) with the number
//!    of leads scanned, in one transaction. A crash before it commits leaves
//!    nothing behind; the next attempt scans again.
//! 2. **Merge** (`merge`, real runs): the stored clusters are merged in
//!    order, many per transaction, each transaction committing
//!    `processed_rows` through [`Lease::hold`]; a resumed run continues after
//!    the last committed cluster, so nothing is merged twice. A transaction's
//!    clusters are re-read and locked first: if a member was deleted, merged,
//!    left the scope or changed so the members no longer link, the cluster is
//!    skipped (counted, not merged). The merges follow `mergeLeads`'s rules
//!    ([`plan_in_chunks`](crate::domain::leads::plan_in_chunks): survivor
//!    fill, `mergedInto`, audit entries, `lead.updated` and `lead.merged`
//!    webhooks, as calls of at most `MAX_MERGE` duplicates would), worked
//!    out in memory and written per transaction in multi-row statements.
//! 3. **Finish**: `completed`, and a `dedupe.completed` webhook.
//!
//! The server stopping is checked between transactions ([`JobError::Stopped`]).

mod merge;
mod scan;

use entity::{JobStatus, job};
use serde_json::json;

use super::{JobContext, JobError, Lease};
use crate::{
    auth::Principal,
    domain::{
        DomainError,
        dedupe::{self as service, DedupeSummary},
        webhooks::{self, EventType},
    },
    ids::NodeType,
    store::{self, dedupe::RunCounts},
};

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
        None => scan::scan(ctx, &run, lease).await?,
    };
    if !run.dry_run {
        merge::merge_all(ctx, &run, lease, &mut counts).await?;
    }
    finish(ctx, &run, lease, &counts).await
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
