//! Claiming jobs and holding them: any number of instances poll one `jobs`
//! table; each job is run by one of them at a time.
//!
//! A claim picks the oldest job that is `queued`, or `running` with a lease that
//! ran out (its runner died), with `FOR UPDATE SKIP LOCKED` on PostgreSQL (on
//! SQLite the `IMMEDIATE` write transaction makes claimers take turns), and
//! writes the claimer's lease. Every piece of work a runner commits goes through
//! [`Lease::hold`] in the same transaction: a conditional update that renews the
//! lease only while this runner still owns it and the job's progress is what
//! it last saw. If another runner took the job over, the update matches no row
//! and the runner rolls its work back and stops, so no piece of a job is ever
//! committed twice.

use std::time::Duration;

use chrono::TimeDelta;
use entity::{JobKind, JobStatus, job};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};

use crate::{clock, store};

/// A job that was tried this many times and still did not finish fails for good
/// (a file that crashes the runner must not crash every instance in turn).
pub const MAX_ATTEMPTS: i32 = 5;

/// A runner's hold on one job.
#[derive(Debug, Clone)]
pub struct Lease {
    pub job_id: i64,
    /// Who holds it: instance id plus a per-claim nonce.
    pub owner: String,
    pub duration: Duration,
}

/// Why a runner must stop working on a job.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("the job was taken over by another runner")]
    Lost,
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn until(now: chrono::DateTime<chrono::Utc>, d: Duration) -> chrono::DateTime<chrono::Utc> {
    now + TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// A fresh lease owner name for `instance`.
pub fn owner_name(instance: &str) -> String {
    format!("{instance}/{}", uuid::Uuid::new_v4().simple())
}

/// Claims the oldest due job of `kinds`, if any.
pub async fn claim_next(
    db: &DatabaseConnection,
    kinds: &[JobKind],
    instance: &str,
    duration: Duration,
) -> Result<Option<(job::Model, Lease)>, DbErr> {
    let due = |now| {
        job::Entity::find()
            .filter(job::Column::Kind.is_in(kinds.iter().copied()))
            .filter(
                job::Column::Status
                    .eq(JobStatus::Queued)
                    .or(job::Column::Status
                        .eq(JobStatus::Running)
                        .and(job::Column::LeaseExpiresAt.lt(now))),
            )
    };
    // A plain read first: an idle poll takes no write lock (SQLite has one).
    if due(clock::now()).one(db).await?.is_none() {
        return Ok(None);
    }
    let txn = store::begin_write(db).await?;
    let now = clock::now();
    let Some(found) = due(now)
        .order_by_asc(job::Column::Id)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(&txn)
        .await?
    else {
        txn.commit().await?;
        return Ok(None);
    };
    if found.attempts >= MAX_ATTEMPTS {
        // Tried enough: fail it for good instead of claiming it again.
        job::Entity::update_many()
            .col_expr(
                job::Column::Status,
                Expr::value(JobStatus::Failed.to_value()),
            )
            .col_expr(
                job::Column::Error,
                Expr::value(format!(
                    "the job stopped unexpectedly {MAX_ATTEMPTS} times; giving up"
                )),
            )
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(job::Column::FinishedAt, Expr::value(now))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.eq(found.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        tracing::error!(
            job.id = found.id,
            "job failed after {MAX_ATTEMPTS} attempts"
        );
        return Ok(None);
    }
    let lease = Lease {
        job_id: found.id,
        owner: owner_name(instance),
        duration,
    };
    job::Entity::update_many()
        .col_expr(
            job::Column::Status,
            Expr::value(JobStatus::Running.to_value()),
        )
        .col_expr(job::Column::LeaseOwner, Expr::value(lease.owner.clone()))
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(until(now, duration)),
        )
        .col_expr(
            job::Column::Attempts,
            Expr::col(job::Column::Attempts).add(1),
        )
        .col_expr(
            job::Column::StartedAt,
            Expr::value(found.started_at.unwrap_or(now)),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(found.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let claimed = job::Entity::find_by_id(found.id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("job {}", found.id)))?;
    Ok(Some((claimed, lease)))
}

impl Lease {
    /// Renews the lease inside `txn`, only while this runner owns the job and
    /// its committed progress is `processed_rows`. Call it first in every
    /// transaction that commits a piece of the job (it also locks the job row).
    pub async fn hold(
        &self,
        txn: &impl ConnectionTrait,
        processed_rows: i64,
    ) -> Result<(), LeaseError> {
        let now = clock::now();
        let updated = job::Entity::update_many()
            .col_expr(
                job::Column::LeaseExpiresAt,
                Expr::value(until(now, self.duration)),
            )
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.eq(self.job_id))
            .filter(job::Column::LeaseOwner.eq(self.owner.as_str()))
            .filter(job::Column::Status.eq(JobStatus::Running))
            .filter(job::Column::ProcessedRows.eq(processed_rows))
            .exec(txn)
            .await?;
        if updated.rows_affected == 1 {
            Ok(())
        } else {
            Err(LeaseError::Lost)
        }
    }

    /// Renews the lease on its own (long steps that commit nothing).
    pub async fn renew(&self, db: &DatabaseConnection) -> Result<(), LeaseError> {
        let job = job::Entity::find_by_id(self.job_id)
            .one(db)
            .await?
            .ok_or(LeaseError::Lost)?;
        let txn = store::begin_write(db).await?;
        self.hold(&txn, job.processed_rows).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Gives the job up without finishing it (graceful shutdown): another
    /// runner may claim it at once and resume from its committed progress.
    pub async fn release(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        job::Entity::update_many()
            .col_expr(job::Column::LeaseExpiresAt, Expr::value(clock::now()))
            .filter(job::Column::Id.eq(self.job_id))
            .filter(job::Column::LeaseOwner.eq(self.owner.as_str()))
            .exec(db)
            .await?;
        Ok(())
    }

    /// Ends the job (`completed` or `failed`) inside `txn`, releasing the lease
    /// and recording this owner as the job's `ran_by`.
    pub async fn finish(
        &self,
        txn: &impl ConnectionTrait,
        status: JobStatus,
        error: Option<String>,
    ) -> Result<(), LeaseError> {
        let now = clock::now();
        let updated = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(status.to_value()))
            .col_expr(job::Column::Error, Expr::value(error))
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(job::Column::RanBy, Expr::value(self.owner.clone()))
            .col_expr(
                job::Column::LeaseExpiresAt,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .col_expr(job::Column::FinishedAt, Expr::value(now))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.eq(self.job_id))
            .filter(job::Column::LeaseOwner.eq(self.owner.as_str()))
            .exec(txn)
            .await?;
        if updated.rows_affected == 1 {
            Ok(())
        } else {
            Err(LeaseError::Lost)
        }
    }
}
