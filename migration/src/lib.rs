//! The `Migrator`: the same migrations run on SQLite and PostgreSQL.
//!
//! Tables are built with the portable schema builder; the few statements it cannot
//! express (partial unique indexes) are plain SQL that both databases accept.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_core;
mod m20261123_000002_audit;
mod m20261123_000003_webhooks;
mod m20261123_000004_idempotency;
mod m20261123_000005_jobs;
mod m20261123_000006_lead_filter_index;
mod m20261124_000007_live_lead_indexes;
mod m20261124_000008_job_ran_by;
mod m20261124_000009_job_files_lz4;
mod m20261124_000010_import_row_runs;

mod util;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_core::Migration),
            Box::new(m20261123_000002_audit::Migration),
            Box::new(m20261123_000003_webhooks::Migration),
            Box::new(m20261123_000004_idempotency::Migration),
            Box::new(m20261123_000005_jobs::Migration),
            Box::new(m20261123_000006_lead_filter_index::Migration),
            Box::new(m20261124_000007_live_lead_indexes::Migration),
            Box::new(m20261124_000008_job_ran_by::Migration),
            Box::new(m20261124_000009_job_files_lz4::Migration),
            Box::new(m20261124_000010_import_row_runs::Migration),
        ]
    }
}
