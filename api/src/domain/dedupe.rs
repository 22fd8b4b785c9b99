//! Bulk dedupe runs (`startDedupe`, `dedupeRun`): a run is a job (`jobs`,
//! kind `dedupe`) that the job runner (`crate::jobs::dedupe`) carries out.
//!
//! Contract:
//! - A run acts with the scope of the key that started it (stored as a
//!   [`Snapshot`]): it scans and merges only live leads in that scope.
//! - Starting one needs `imports:run` plus `leads:read` (dry run) or
//!   `leads:write` (real run); it is audited as `dedupe.started`.
//! - A run is visible to keys of its tenant and environment that see at least
//!   its leads (`scope::jobs`, and [`Principal::covers`] its snapshot);
//!   to any other key it is `not_found`.
//! - Figures: `total_rows` = leads scanned (set once the clusters are stored),
//!   `processed_rows` = clusters processed (the resume point), `updated_count`
//!   = clusters merged, `skipped_count` = clusters skipped because a member
//!   changed, was deleted or left the scope since the scan, and `summary`
//!   ([`DedupeSummary`]).

use batch::dedupe::MatchReason;
use entity::{JobStatus, job};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use crate::{
    auth::{Principal, principal::Snapshot},
    domain::{
        DomainError,
        audit::{self, Resource},
    },
    store,
};

/// The options of a run, as stored in `jobs.params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DedupeParams {
    /// Find and report clusters only; merge nothing.
    pub dry_run: bool,
}

/// A run's figures, as stored in `jobs.summary`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DedupeSummary {
    pub leads_scanned: i64,
    /// Clusters found (of two or more leads).
    pub clusters: i64,
    /// Duplicates merged into their survivors so far.
    pub merged_leads: i64,
    /// Blocking keys shared by more than `batch::dedupe::MAX_BLOCK` leads,
    /// which linked nothing.
    pub skipped_blocks: i64,
}

impl DedupeSummary {
    pub fn to_json(self) -> String {
        serde_json::to_string(&self).unwrap_or_default()
    }
}

/// Queues a run for the caller and audits it; the caller commits.
#[instrument(skip_all, fields(tenant.id = p.tenant_id, dedupe.dry_run = dry_run))]
pub async fn start<C: ConnectionTrait>(
    txn: &C,
    p: &Principal,
    dry_run: bool,
) -> Result<job::Model, DomainError> {
    let params = serde_json::to_string(&DedupeParams { dry_run })
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("dedupe params: {e}")))?;
    let principal = serde_json::to_string(&p.snapshot())
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("dedupe principal: {e}")))?;
    let run = store::dedupe::insert_run(txn, p, params, principal).await?;
    audit::record(txn, p, "dedupe.started", Resource::DedupeRun(run.id)).await?;
    Ok(run)
}

/// One run the caller may see, or `not_found`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: i64,
) -> Result<job::Model, DomainError> {
    let run = store::dedupe::get_run(db, p, id).await?;
    let started_by = snapshot_of(&run)?;
    if !p.covers(&started_by, run.tenant_id, run.environment) {
        return Err(DomainError::NotFound);
    }
    Ok(run)
}

/// The scope a run acts with.
pub fn snapshot_of(run: &job::Model) -> Result<Snapshot, DomainError> {
    serde_json::from_str(&run.principal).map_err(|e| {
        DomainError::Internal(anyhow::anyhow!("dedupe run {}: principal: {e}", run.id))
    })
}

/// The stored options of a run.
pub fn params_of(run: &job::Model) -> Result<DedupeParams, DomainError> {
    serde_json::from_str(&run.params)
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("dedupe run {}: params: {e}", run.id)))
}

/// Whether a run is a dry run (an unreadable one counts as dry: it merges
/// nothing, the runner fails it).
pub fn is_dry_run(run: &job::Model) -> bool {
    params_of(run).map_or(true, |p| p.dry_run)
}

/// The stored figures of a run (zeros before the scan is stored).
pub fn summary_of(run: &job::Model) -> DedupeSummary {
    run.summary
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// Progress from 0.0 to 1.0: nothing until the clusters are stored, then the
/// share of clusters processed (a dry run is done once they are stored).
pub fn progress(run: &job::Model) -> f64 {
    if run.status == JobStatus::Completed {
        return 1.0;
    }
    if run.total_rows.is_none() {
        return 0.0;
    }
    let clusters = summary_of(run).clusters;
    if is_dry_run(run) || clusters == 0 {
        return 1.0;
    }
    (run.processed_rows as f64 / clusters as f64).clamp(0.0, 1.0)
}

/// A stored cluster, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCluster {
    pub id: i64,
    pub survivor_id: i64,
    /// Survivor first, then the others oldest first.
    pub member_ids: Vec<i64>,
    pub reasons: Vec<MatchReason>,
}

impl StoredCluster {
    pub fn parse(row: &entity::dedupe_cluster::Model) -> Self {
        let reasons: Vec<String> = serde_json::from_str(&row.reasons).unwrap_or_default();
        Self {
            id: row.id,
            survivor_id: row.survivor_id,
            member_ids: serde_json::from_str(&row.member_ids).unwrap_or_default(),
            reasons: reasons.iter().filter_map(|r| parse_reason(r)).collect(),
        }
    }

    /// Every member but the survivor, oldest first.
    pub fn duplicates(&self) -> impl Iterator<Item = i64> + '_ {
        let survivor = self.survivor_id;
        self.member_ids
            .iter()
            .copied()
            .filter(move |&id| id != survivor)
    }
}

/// The stored (and public) name of a reason.
pub fn reason_name(reason: MatchReason) -> &'static str {
    match reason {
        MatchReason::SameEmail => "SAME_EMAIL",
        MatchReason::SamePhone => "SAME_PHONE",
        MatchReason::SameNameAndCompany => "SAME_NAME_AND_COMPANY",
        MatchReason::SameNameAndEmailDomain => "SAME_NAME_AND_EMAIL_DOMAIN",
    }
}

/// The reason of a stored name.
pub fn parse_reason(name: &str) -> Option<MatchReason> {
    MatchReason::ALL
        .into_iter()
        .find(|&r| reason_name(r) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_match_batch_and_round_trip() {
        for reason in MatchReason::ALL {
            let serialized = serde_json::to_value(reason).unwrap();
            assert_eq!(serialized, reason_name(reason));
            assert_eq!(parse_reason(reason_name(reason)), Some(reason));
        }
        assert_eq!(parse_reason("SAME_SHOE_SIZE"), None);
    }

    #[test]
    fn stored_clusters_parse_with_the_survivor_first() {
        let row = entity::dedupe_cluster::Model {
            id: 3,
            job_id: 1,
            survivor_id: 7,
            member_ids: "[7,9,8]".into(),
            reasons: r#"["SAME_PHONE","SAME_NAME_AND_COMPANY"]"#.into(),
        };
        let c = StoredCluster::parse(&row);
        assert_eq!(c.member_ids, [7, 9, 8]);
        assert_eq!(c.duplicates().collect::<Vec<_>>(), [9, 8]);
        assert_eq!(
            c.reasons,
            [MatchReason::SamePhone, MatchReason::SameNameAndCompany]
        );
    }
}
