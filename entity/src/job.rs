//! `jobs`: background work (imports, dedupe runs) any instance may claim.

use sea_orm::entity::prelude::*;

use crate::{Environment, JobKind, JobStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub environment: Environment,
    pub kind: JobKind,
    pub status: JobStatus,
    /// The key that started the job.
    pub api_key_id: i64,
    /// JSON snapshot of the starting caller's scope; the job runs with it.
    pub principal: String,
    /// JSON of the kind's options.
    pub params: String,
    pub file_name: Option<String>,
    pub file_bytes: i64,
    /// Data rows in the file (imports; known once the upload is in), or leads
    /// scanned (dedupe).
    pub total_rows: Option<i64>,
    /// Rows whose results are committed; a resumed job continues after them.
    pub processed_rows: i64,
    pub created_count: i64,
    pub updated_count: i64,
    pub skipped_count: i64,
    pub failed_count: i64,
    /// JSON of kind-specific figures.
    pub summary: Option<String>,
    pub error: Option<String>,
    /// How many times a runner claimed the job.
    pub attempts: i32,
    /// The runner holding the job (`<instance>/<claim nonce>`), while one does.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// The lease owner whose run completed or failed the job (kept when the
    /// lease is released; none when the job failed for running out of
    /// attempts).
    pub ran_by: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
