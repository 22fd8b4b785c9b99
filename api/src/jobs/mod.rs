//! Background jobs run by the server process: claimed from the database so that
//! any number of instances can run them and none runs the same work twice at once.
//!
//! - [`webhooks`]: the webhook dispatcher.
//! - [`JobRunner`]: imports and dedupe runs, rows of the `jobs` table claimed
//!   through [`lease`], one job at a time per instance.

pub mod dedupe;
pub mod imports;
pub mod lease;
pub mod webhooks;

use std::{sync::Arc, time::Duration};

use entity::{JobKind, job};
use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, watch};

pub use lease::{Lease, LeaseError};

use crate::{domain::imports::ImportLimits, ids::IdCodec};

/// Wakes the local runner when a request queues a job (other instances find it
/// on their next poll).
#[derive(Clone, Default)]
pub struct JobSignal(Arc<Notify>);

impl JobSignal {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// What request handlers need to start jobs: the local runner's wake-up, the
/// import limits and this instance's name (for leases a request holds itself).
#[derive(Clone)]
pub struct Jobs {
    pub signal: JobSignal,
    pub limits: ImportLimits,
    pub instance: String,
}

/// How a job run ended short of finishing it.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Another runner owns the job now; this one stops quietly.
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// The server is shutting down; the job resumes elsewhere or after restart.
    #[error("the server is stopping")]
    Stopped,
    /// Something unexpected; the job is retried (at most `MAX_ATTEMPTS` times).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for JobError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Lease(LeaseError::Db(err))
    }
}

/// What a job run needs besides the job.
#[derive(Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    pub codec: IdCodec,
    pub limits: ImportLimits,
    /// Turns true when the server stops; runners check it between chunks.
    pub stop: watch::Receiver<bool>,
}

impl JobContext {
    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }
}

/// Runner settings.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// This instance's name in leases.
    pub instance: String,
    /// Sleep between polls when idle.
    pub poll_interval: Duration,
    /// How long a claim holds without being renewed.
    pub lease: Duration,
}

/// Claims and runs import and dedupe jobs until told to stop.
pub struct JobRunner {
    pub db: DatabaseConnection,
    pub codec: IdCodec,
    pub limits: ImportLimits,
    pub settings: RunnerSettings,
    pub signal: JobSignal,
}

impl JobRunner {
    /// Polls and runs jobs until `stop` turns true. A job in progress stops at
    /// its next chunk boundary and gives its lease up.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(instance = %self.settings.instance, "job runner started");
        let ctx = JobContext {
            db: self.db.clone(),
            codec: self.codec.clone(),
            limits: self.limits.clone(),
            stop: stop.clone(),
        };
        loop {
            if *stop.borrow() {
                return;
            }
            let claimed = lease::claim_next(
                &self.db,
                &[JobKind::Import, JobKind::Dedupe],
                &self.settings.instance,
                self.settings.lease,
            )
            .await;
            match claimed {
                Ok(Some((job, lease))) => {
                    self.run_one(&ctx, job, &lease).await;
                    continue;
                }
                Ok(None) => {}
                Err(err) => tracing::error!(error = %err, "claiming a job failed"),
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = self.signal.0.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    async fn run_one(&self, ctx: &JobContext, job: job::Model, lease: &Lease) {
        let (id, kind) = (job.id, job.kind);
        tracing::info!(
            job.id = id,
            job.kind = ?kind,
            attempt = job.attempts,
            owner = %lease.owner,
            "job claimed"
        );
        let result = match kind {
            JobKind::Import => imports::run(ctx, job, lease).await,
            JobKind::Dedupe => dedupe::run(ctx, job, lease).await,
        };
        match result {
            Ok(()) => tracing::info!(job.id = id, "job finished"),
            Err(JobError::Lease(LeaseError::Lost)) => {
                tracing::warn!(job.id = id, "job taken over by another runner; stopped");
            }
            Err(JobError::Stopped) => {
                tracing::info!(job.id = id, "job paused for shutdown; it resumes later");
                if let Err(err) = lease.release(&self.db).await {
                    tracing::warn!(job.id = id, error = %err, "releasing the job failed");
                }
            }
            Err(err) => {
                tracing::error!(job.id = id, error = %err, "job run failed; it is retried");
                if let Err(err) = lease.release(&self.db).await {
                    tracing::warn!(job.id = id, error = %err, "releasing the job failed");
                }
            }
        }
    }
}
