//! Uploaded import files are compressed with LZ4 on PostgreSQL.
//!
//! `job_files.data` holds an upload in 1 MiB pieces. PostgreSQL compresses
//! values that large before it stores them out of line, with `pglz` unless
//! told otherwise, and on this 2-core machine `pglz` was most of the time
//! `POST /v1/imports` took to store a file. Inserting 120 pieces of 1 MiB
//! of leads-like CSV in `psql` took 1.81 s with `pglz` (36 MB stored),
//! 0.44 s with LZ4 (45 MB) and 1.26 s uncompressed (125 MB); reading them
//! back took 124, 44 and 36 ms. The benchmark's million-row file (114 MiB)
//! uploaded in 1.85–2.18 s before and 0.75–0.83 s after.
//!
//! LZ4 needs PostgreSQL 14 or later built with it; `default_toast_compression`
//! lists the methods the server has, so the column is switched only when LZ4
//! is among them and stays on `pglz` otherwise. Pieces stored before keep
//! their compression (PostgreSQL reads both). SQLite does not compress: no
//! change there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Whether the PostgreSQL server can compress values with LZ4.
async fn has_lz4(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    let db = manager.get_connection();
    let found = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_settings \
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)",
        ))
        .await?;
    Ok(found.is_some())
}

async fn set_compression(manager: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres || !has_lz4(manager).await? {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "ALTER TABLE job_files ALTER COLUMN data SET COMPRESSION {method}"
        ))
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "lz4").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "pglz").await
    }
}
