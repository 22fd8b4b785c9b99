//! SQLite bulk writes without a statement journal.
//!
//! Inside a transaction, SQLite gives a statement that writes several rows and
//! may abort part-way a *statement journal*: before the statement first
//! changes a page that existed when it began, it copies the page to a
//! temporary file, so that an abort can undo the statement alone. A multi-row
//! `INSERT` into `leads` changes pages all over its indexes (the email and
//! last-name indexes are in random order), so each 100-row statement
//! journalled hundreds of pages: `strace` of a million-row import showed
//! 108 MiB written to the statement journal in 5 s against 12 MiB to the WAL
//! and the database.
//!
//! A statement needs the journal when it may abort (`sqlite3MayAbort`, decided
//! when it is compiled): a constraint with the default `ABORT` resolution, or
//! an immediate foreign key. So a [`BulkTxn`]
//! - turns foreign-key enforcement off on its connection for the transaction
//!   (`PRAGMA foreign_keys` only takes effect outside a transaction), and
//! - runs every `INSERT` and `UPDATE` as `INSERT OR FAIL` and `UPDATE OR
//!   FAIL` ([`or_fail`]), which stop at a violated constraint without undoing
//!   the statement's earlier rows: the caller rolls the whole transaction back
//!   instead.
//!
//! With enforcement off, the caller checks the rows its statements reference
//! ([`BulkTxn::check_references`]). The transaction begins `IMMEDIATE`, holding
//! SQLite's one write lock from the start, so nothing can delete them before
//! the commit, and the check is as strong as the foreign keys.
//!
//! The connection goes back to the pool only with enforcement on again:
//! [`BulkTxn::commit`] turns it back on after the commit, and a transaction
//! dropped before that (an error, a rollback) closes its connection, which
//! rolls it back.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
    sea_query::Values,
    sqlx::{self, Executor, Sqlite, pool::PoolConnection},
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

use super::copy::{exec_err, query_err};

/// An SQLite write transaction whose multi-row statements need no statement
/// journal (see the module documentation).
pub struct BulkTxn {
    conn: Mutex<PoolConnection<Sqlite>>,
    /// Committed and enforcing foreign keys again: the connection may go back
    /// to the pool.
    clean: bool,
}

fn query(stmt: &Statement) -> sqlx::query::Query<'_, Sqlite, SqlxValues> {
    let values = stmt.values.clone().unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

impl BulkTxn {
    /// Begins an immediate transaction (the write lock taken at once) with
    /// foreign keys unenforced; `None` unless `db` is SQLite.
    pub async fn begin(db: &DatabaseConnection) -> Result<Option<Self>, DbErr> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return Ok(None);
        }
        let conn = db
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?;
        let txn = Self {
            conn: Mutex::new(conn),
            clean: false,
        };
        txn.execute_unprepared("PRAGMA foreign_keys = OFF").await?;
        txn.execute_unprepared("BEGIN IMMEDIATE").await?;
        Ok(Some(txn))
    }

    /// Commits, then enforces foreign keys on the connection again.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        self.execute_unprepared("COMMIT").await?;
        self.execute_unprepared("PRAGMA foreign_keys = ON").await?;
        self.clean = true;
        Ok(())
    }

    /// Checks that every id of each `(table, ids)` of `references` is the
    /// `id` of a row of `table`, in this transaction: the check that stands in
    /// for the foreign keys of the rows it writes. Fails with the first table
    /// that misses some. Table names come from the code, never from input.
    pub async fn check_references(&self, references: Vec<(&str, Vec<i64>)>) -> Result<(), DbErr> {
        for (table, mut ids) in references {
            ids.sort_unstable();
            ids.dedup();
            let missing = self.missing_references(table, &ids).await?;
            if missing > 0 {
                return Err(DbErr::Custom(format!(
                    "{missing} of the {table} referenced by the rows written no longer exist"
                )));
            }
        }
        Ok(())
    }

    /// How many of `ids` are not the `id` of a row of `table`, counted in
    /// this transaction: the check that stands in for the foreign keys of the
    /// rows it writes. `table` is a name from the code, never from input.
    pub async fn missing_references(&self, table: &str, ids: &[i64]) -> Result<usize, DbErr> {
        let mut missing = 0;
        for batch in super::fixed_batches(ids, 500) {
            let marks = vec!["?"; batch.len()].join(", ");
            let stmt = Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("SELECT count(*) AS n FROM \"{table}\" WHERE id IN ({marks})"),
                batch.iter().map(|&id| id.into()),
            );
            let found: i64 = match self.query_one_raw(stmt).await? {
                Some(row) => row.try_get("", "n")?,
                None => 0,
            };
            missing += batch
                .len()
                .saturating_sub(usize::try_from(found).unwrap_or(0));
        }
        Ok(missing)
    }
}

/// `stmt` with `OR FAIL` after its verb if it is an `INSERT INTO` or an
/// `UPDATE`; any other statement as it is.
pub fn or_fail(stmt: Statement) -> Statement {
    let sql = if let Some(rest) = stmt.sql.strip_prefix("INSERT INTO ") {
        format!("INSERT OR FAIL INTO {rest}")
    } else if let Some(rest) = stmt.sql.strip_prefix("UPDATE ") {
        format!("UPDATE OR FAIL {rest}")
    } else {
        return stmt;
    };
    Statement { sql, ..stmt }
}

impl Drop for BulkTxn {
    fn drop(&mut self) {
        if !self.clean {
            // Possibly mid-transaction and without foreign keys: closing the
            // connection rolls back, and no request ever gets it.
            self.conn.get_mut().close_on_drop();
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for BulkTxn {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let stmt = or_fail(stmt);
        let mut conn = self.conn.lock().await;
        query(&stmt)
            .execute(&mut **conn)
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        (&mut **conn)
            .execute(sqlx::AssertSqlSafe(sql.to_owned()))
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let stmt = or_fail(stmt);
        let mut conn = self.conn.lock().await;
        query(&stmt)
            .fetch_optional(&mut **conn)
            .await
            .map(|row| row.map(Into::into))
            .map_err(query_err)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let stmt = or_fail(stmt);
        let mut conn = self.conn.lock().await;
        query(&stmt)
            .fetch_all(&mut **conn)
            .await
            .map(|rows| rows.into_iter().map(Into::into).collect())
            .map_err(query_err)
    }
}

#[cfg(test)]
mod tests {
    use entity::team;
    use sea_orm::{
        EntityTrait, PaginatorTrait,
        sea_query::{InsertStatement, Query},
    };

    use super::*;
    use crate::domain::DomainError;

    /// A migrated SQLite file behind a pool of one connection, so that every
    /// statement after a transaction runs on the connection it used (or on
    /// a new one, if it was closed).
    async fn one_connection_db() -> (tempfile::TempDir, DatabaseConnection, i64) {
        let (dir, db, created) = crate::test_support::acme_db().await;
        drop(db);
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        let db = crate::startup::connect_with(&url, 1)
            .await
            .expect("connect");
        (dir, db, created.tenant.id)
    }

    async fn foreign_keys(db: &DatabaseConnection) -> i64 {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA foreign_keys",
            ))
            .await
            .expect("pragma")
            .expect("a row");
        row.try_get_by_index(0).expect("value")
    }

    fn team_insert(tenant_id: i64, name: &str) -> InsertStatement {
        Query::insert()
            .into_table(team::Entity)
            .columns([
                team::Column::TenantId,
                team::Column::Market,
                team::Column::Name,
                team::Column::CreatedAt,
            ])
            .values_panic([
                tenant_id.into(),
                "US".into(),
                name.into(),
                "2026-11-25T00:00:00Z".into(),
            ])
            .to_owned()
    }

    #[tokio::test]
    async fn a_committed_transaction_gives_its_connection_back_enforcing_foreign_keys() {
        let (_dir, db, tenant) = one_connection_db().await;
        assert_eq!(foreign_keys(&db).await, 1);
        let txn = BulkTxn::begin(&db).await.expect("begin").expect("SQLite");
        // Unenforced inside: a team of a tenant that does not exist goes in,
        // and the reference check is what finds it.
        txn.execute(&team_insert(tenant + 1000, "nowhere"))
            .await
            .expect("insert");
        txn.execute(&team_insert(tenant, "sales"))
            .await
            .expect("insert");
        assert_eq!(
            txn.missing_references("tenants", &[tenant, tenant + 1000, tenant + 2000])
                .await
                .expect("check"),
            2
        );
        txn.commit().await.expect("commit");
        assert_eq!(
            foreign_keys(&db).await,
            1,
            "enforced again on the same connection"
        );
        assert_eq!(team::Entity::find().count(&db).await.expect("count"), 2);
        // And enforced for everyone else.
        let err = db
            .execute(&team_insert(tenant + 1000, "elsewhere"))
            .await
            .expect_err("a dangling tenant");
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    }

    #[tokio::test]
    async fn a_transaction_dropped_before_its_commit_rolls_back_and_never_lends_its_connection() {
        let (_dir, db, tenant) = one_connection_db().await;
        let txn = BulkTxn::begin(&db).await.expect("begin").expect("SQLite");
        txn.execute(&team_insert(tenant, "sales"))
            .await
            .expect("insert");
        drop(txn);
        // The pool's only connection was closed: a new one, enforcing.
        assert_eq!(foreign_keys(&db).await, 1);
        assert_eq!(team::Entity::find().count(&db).await.expect("count"), 0);
    }

    #[tokio::test]
    async fn a_violated_unique_index_fails_the_statement_as_a_unique_violation() {
        let (_dir, db, tenant) = one_connection_db().await;
        let txn = BulkTxn::begin(&db).await.expect("begin").expect("SQLite");
        txn.execute(&team_insert(tenant, "sales"))
            .await
            .expect("insert");
        let mut two = team_insert(tenant, "support");
        two.values_panic([
            tenant.into(),
            "US".into(),
            "sales".into(),
            "2026-11-25T00:00:00Z".into(),
        ]);
        let err = txn.execute(&two).await.expect_err("a repeated name");
        assert!(DomainError::is_unique_violation(&err), "{err}");
        drop(txn);
        assert_eq!(team::Entity::find().count(&db).await.expect("count"), 0);
    }

    #[test]
    fn inserts_and_updates_fail_instead_of_aborting_and_the_rest_run_as_written() {
        let sql = |stmt: &str| or_fail(Statement::from_string(DbBackend::Sqlite, stmt)).sql;
        let insert = DbBackend::Sqlite.build(&team_insert(1, "x")).sql;
        assert!(
            sql(&insert).starts_with("INSERT OR FAIL INTO \"teams\""),
            "{insert}"
        );
        assert_eq!(
            sql("UPDATE \"leads\" SET \"score\" = 1"),
            "UPDATE OR FAIL \"leads\" SET \"score\" = 1"
        );
        for as_written in [
            "SELECT 1",
            "DELETE FROM \"teams\"",
            "REPLACE INTO \"teams\" (\"name\") VALUES ('x')",
            "PRAGMA foreign_keys = ON",
        ] {
            assert_eq!(sql(as_written), as_written);
        }
    }
}
