//! Background jobs (CSV imports and bulk dedupe runs), the uploaded files of
//! imports, per-row import results and dedupe clusters.
//!
//! A job is a row any instance may run: runners claim it with `FOR UPDATE SKIP
//! LOCKED` (SQLite: its single writer) and hold a lease (`lease_owner`,
//! `lease_expires_at`) that every committed chunk renews. A runner whose lease
//! was taken over finds its conditional progress update matching no row and
//! rolls its chunk back, so no chunk is committed twice.
//!
//! Index notes:
//! - `jobs (status, lease_expires_at)`: the runners' poll, "queued, or running
//!   with an expired lease", is one range scan.
//! - `jobs (tenant_id, environment, kind, id)`: `importJobs` pages by id inside
//!   one tenant, environment and kind.
//! - `job_files (job_id, seq)` (primary key): the runner streams an upload's
//!   pieces in order.
//! - `import_rows (job_id, row_number)` (primary key): results page by row; the
//!   `status` filter scans one job's rows.
//! - `dedupe_clusters (job_id, id)`: a run's clusters in order.

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    TenantId,
    Environment,
    Kind,
    Status,
    ApiKeyId,
    Principal,
    Params,
    FileName,
    FileBytes,
    TotalRows,
    ProcessedRows,
    CreatedCount,
    UpdatedCount,
    SkippedCount,
    FailedCount,
    Summary,
    Error,
    Attempts,
    LeaseOwner,
    LeaseExpiresAt,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum JobFiles {
    Table,
    JobId,
    Seq,
    Data,
}

#[derive(DeriveIden)]
enum ImportRows {
    Table,
    JobId,
    RowNumber,
    Status,
    LeadId,
    Code,
    Errors,
    Cells,
}

#[derive(DeriveIden)]
enum DedupeClusters {
    Table,
    Id,
    JobId,
    SurvivorId,
    MemberIds,
    Reasons,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(big_pk_auto(Jobs::Id))
                    .col(big_integer(Jobs::TenantId))
                    .col(string_len(Jobs::Environment, 16))
                    .col(string_len(Jobs::Kind, 16))
                    .col(string_len(Jobs::Status, 16))
                    .col(big_integer(Jobs::ApiKeyId))
                    // JSON snapshot of the starting key's scope: the job runs with it.
                    .col(text(Jobs::Principal))
                    // JSON of the kind's options (onDuplicate, mapping, dryRun...).
                    .col(text(Jobs::Params))
                    .col(string_len_null(Jobs::FileName, 255))
                    .col(big_integer(Jobs::FileBytes))
                    .col(big_integer_null(Jobs::TotalRows))
                    .col(big_integer(Jobs::ProcessedRows))
                    .col(big_integer(Jobs::CreatedCount))
                    .col(big_integer(Jobs::UpdatedCount))
                    .col(big_integer(Jobs::SkippedCount))
                    .col(big_integer(Jobs::FailedCount))
                    // JSON of kind-specific figures (dedupe: scanned, clusters...).
                    .col(text_null(Jobs::Summary))
                    .col(text_null(Jobs::Error))
                    .col(integer(Jobs::Attempts))
                    .col(string_len_null(Jobs::LeaseOwner, 128))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseExpiresAt))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::StartedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .foreign_key(&mut fk(
                        (Jobs::Table, Jobs::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_jobs_due",
                Jobs::Table,
                &["status", "lease_expires_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_jobs_scope_kind_id",
                Jobs::Table,
                &["tenant_id", "environment", "kind", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JobFiles::Table)
                    .col(big_integer(JobFiles::JobId))
                    .col(integer(JobFiles::Seq))
                    .col(blob(JobFiles::Data))
                    .primary_key(Index::create().col(JobFiles::JobId).col(JobFiles::Seq))
                    .foreign_key(
                        ForeignKey::create()
                            .from(JobFiles::Table, JobFiles::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ImportRows::Table)
                    .col(big_integer(ImportRows::JobId))
                    .col(big_integer(ImportRows::RowNumber))
                    .col(string_len(ImportRows::Status, 16))
                    .col(big_integer_null(ImportRows::LeadId))
                    .col(string_len_null(ImportRows::Code, 32))
                    // JSON array of `{field, code, message}`; failed rows only.
                    .col(text_null(ImportRows::Errors))
                    // JSON array of the row's cells as read; failed rows only.
                    .col(text_null(ImportRows::Cells))
                    .primary_key(
                        Index::create()
                            .col(ImportRows::JobId)
                            .col(ImportRows::RowNumber),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ImportRows::Table, ImportRows::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DedupeClusters::Table)
                    .col(big_pk_auto(DedupeClusters::Id))
                    .col(big_integer(DedupeClusters::JobId))
                    .col(big_integer(DedupeClusters::SurvivorId))
                    // JSON array of lead ids, survivor first.
                    .col(text(DedupeClusters::MemberIds))
                    // JSON array of reasons (`SAME_EMAIL`, ...).
                    .col(text(DedupeClusters::Reasons))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DedupeClusters::Table, DedupeClusters::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_dedupe_clusters_job_id",
                DedupeClusters::Table,
                &["job_id", "id"],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DedupeClusters::Table.into_iden(),
            ImportRows::Table.into_iden(),
            JobFiles::Table.into_iden(),
            Jobs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
