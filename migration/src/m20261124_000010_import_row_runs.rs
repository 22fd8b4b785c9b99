//! `import_row_runs`: the rows of an import that created a lead, stored as
//! runs instead of one result row each.
//!
//! Most rows of an import create a lead, and a chunk's new leads take
//! ascending ids in row order, so their results pack into runs: rows
//! `first_row..=last_row` created the leads `first_lead_id..` (one more per
//! row), or, in a dry run (`first_lead_id` null), would create them. Rows
//! with any other outcome (updated, skipped, failed, with their codes,
//! errors and cells) stay in `import_rows`, one row each; a row's result is
//! in exactly one of the two tables. A run costs one row and one foreign-key
//! check where a row each cost a million of both per million created leads.
//!
//! Jobs written before this table keep all their results in `import_rows`;
//! readers merge both tables, so they read the same.
//!
//! Index notes: the primary key `(job_id, first_row)` serves both reads of a
//! results page: the runs after a row (range scan forward) and the run
//! holding a row (the last run starting at or before it).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ImportRowRuns {
    Table,
    JobId,
    FirstRow,
    LastRow,
    FirstLeadId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ImportRowRuns::Table)
                    .col(big_integer(ImportRowRuns::JobId))
                    .col(big_integer(ImportRowRuns::FirstRow))
                    .col(big_integer(ImportRowRuns::LastRow))
                    .col(big_integer_null(ImportRowRuns::FirstLeadId))
                    .primary_key(
                        Index::create()
                            .col(ImportRowRuns::JobId)
                            .col(ImportRowRuns::FirstRow),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ImportRowRuns::Table, ImportRowRuns::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportRowRuns::Table).if_exists().take())
            .await
    }
}
