//! Query builders: the only module that builds SQL. Every function takes the
//! caller's scope (from `crate::scope`) or a tenant id.

pub mod cursor;
pub mod dedupe;
pub mod idempotency;
pub mod leads;
pub mod loaders;
pub mod page;

pub use page::{PageArgs, PageRequest, PageResult};

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// Begins a write transaction. On SQLite it starts `IMMEDIATE`, taking the write
/// lock up front: concurrent writers then queue on the busy timeout instead of
/// failing when a read snapshot cannot be upgraded. PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
