//! [`WriteTxn`]: a write transaction on the database's bulk path where it
//! has one (`COPY` on PostgreSQL, [`BulkTxn`] on SQLite), else a SeaORM one.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement,
};

use super::{begin_write, copy::CopyTxn, sqlite_bulk::BulkTxn};

/// A write transaction with the database's bulk path, where it has one.
pub enum WriteTxn {
    /// A SeaORM transaction (savepoints for nested work).
    Orm(DatabaseTransaction),
    /// PostgreSQL: `COPY` for bulk inserts ([`super::copy`]).
    Copy(CopyTxn),
    /// SQLite: `INSERT`s and `UPDATE`s without a statement journal, the
    /// caller checking the references in place of the foreign keys
    /// ([`super::sqlite_bulk`]).
    Bulk(BulkTxn),
}

impl WriteTxn {
    /// Begins a write transaction; `bulk` asks for the database's bulk path
    /// (`COPY`, or SQLite's [`BulkTxn`]).
    pub async fn begin(db: &DatabaseConnection, bulk: bool) -> Result<Self, DbErr> {
        if bulk && let Some(copy) = CopyTxn::begin(db).await? {
            return Ok(Self::Copy(copy));
        }
        Self::begin_sqlite_bulk(db, bulk).await
    }

    /// Begins [`WriteTxn::Bulk`] on SQLite if `bulk`, else [`WriteTxn::Orm`]
    /// (an immediate transaction on SQLite, see [`begin_write`]).
    pub async fn begin_sqlite_bulk(db: &DatabaseConnection, bulk: bool) -> Result<Self, DbErr> {
        if bulk && let Some(txn) = BulkTxn::begin(db).await? {
            return Ok(Self::Bulk(txn));
        }
        Ok(Self::Orm(begin_write(db).await?))
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        match self {
            Self::Orm(txn) => txn.commit().await,
            Self::Copy(txn) => txn.commit().await,
            Self::Bulk(txn) => txn.commit().await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Orm(txn) => txn.get_database_backend(),
            Self::Copy(txn) => txn.get_database_backend(),
            Self::Bulk(txn) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Orm(txn) => txn.execute_raw(stmt).await,
            Self::Copy(txn) => txn.execute_raw(stmt).await,
            Self::Bulk(txn) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Orm(txn) => txn.execute_unprepared(sql).await,
            Self::Copy(txn) => txn.execute_unprepared(sql).await,
            Self::Bulk(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Orm(txn) => txn.query_one_raw(stmt).await,
            Self::Copy(txn) => txn.query_one_raw(stmt).await,
            Self::Bulk(txn) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Orm(txn) => txn.query_all_raw(stmt).await,
            Self::Copy(txn) => txn.query_all_raw(stmt).await,
            Self::Bulk(txn) => txn.query_all_raw(stmt).await,
        }
    }
}
