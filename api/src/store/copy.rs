//! PostgreSQL bulk inserts with `COPY … FROM STDIN`, inside a transaction that
//! SeaORM queries use too.
//!
//! An import chunk writes thousands of leads and results. A multi-row `INSERT`
//! costs PostgreSQL about a quarter more than `COPY` of the same rows (the
//! statement's values are bound and evaluated one by one; `COPY` also batches
//! the heap inserts), but SeaORM's transactions do not expose their connection,
//! which `COPY`'s protocol needs. [`CopyTxn`] holds a raw sqlx transaction and
//! implements SeaORM's [`ConnectionTrait`] over it, so the rest of a chunk
//! (lease, duplicate lookups, `onDuplicate` updates, progress) runs in the same
//! transaction as its `COPY`s.

use std::{fmt::Write as _, sync::Arc};

use chrono::SecondsFormat;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityName, EntityTrait, ExecResult, IdenStatic, Iterable, QueryResult, RuntimeErr, Statement,
    Value,
    sea_query::Values,
    sqlx::{self, Executor, Postgres},
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

/// A PostgreSQL transaction that takes SeaORM statements and `COPY`.
/// Dropped without [`CopyTxn::commit`], it rolls back.
pub struct CopyTxn {
    tx: Mutex<sqlx::Transaction<'static, Postgres>>,
}

pub(super) fn exec_err(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

pub(super) fn query_err(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

fn query(stmt: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = stmt.values.clone().unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

impl CopyTxn {
    /// Begins a transaction on a connection of `db`'s pool; `None` unless `db`
    /// is PostgreSQL.
    pub async fn begin(db: &DatabaseConnection) -> Result<Option<Self>, DbErr> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(None);
        }
        let tx = db
            .get_postgres_connection_pool()
            .begin()
            .await
            .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?;
        Ok(Some(Self { tx: Mutex::new(tx) }))
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.tx.into_inner().commit().await.map_err(exec_err)
    }

    /// Inserts `models` with one `COPY` of the columns the first model has a
    /// value for (set or unchanged); every model must have the same ones.
    /// Returns the rows copied.
    ///
    /// The rows are sent in slices of about [`COPY_SLICE_BYTES`] as they are
    /// encoded, so PostgreSQL inserts the first rows while the server encodes
    /// the next ones (one core each) instead of waiting for the whole chunk.
    pub async fn copy_insert<A: ActiveModelTrait>(&self, models: &[A]) -> Result<u64, DbErr> {
        let Some(first) = models.first() else {
            return Ok(0);
        };
        let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter()
            .filter(|c| !matches!(first.get(*c), ActiveValue::NotSet))
            .collect();
        let names: Vec<String> = columns
            .iter()
            .map(|c| format!("\"{}\"", c.as_str()))
            .collect();
        let statement = format!(
            "COPY \"{}\" ({}) FROM STDIN",
            <A::Entity as Default>::default().table_name(),
            names.join(", ")
        );
        let mut tx = self.tx.lock().await;
        let mut copy = tx.copy_in_raw(&statement).await.map_err(exec_err)?;
        let mut data = String::with_capacity(COPY_SLICE_BYTES + COPY_SLICE_BYTES / 4);
        for (n, model) in models.iter().enumerate() {
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    data.push('\t');
                }
                let encoded = match model.get(*column).into_value() {
                    Some(value) => push_value(&mut data, &value),
                    None => Err(DbErr::Custom(format!(
                        "COPY into {statement}: a row does not set {}",
                        column.as_str()
                    ))),
                };
                if let Err(err) = encoded {
                    // The connection is left mid-copy otherwise; the
                    // transaction is rolled back either way.
                    let _ = copy.abort("a row could not be encoded").await;
                    return Err(err);
                }
            }
            data.push('\n');
            if data.len() >= COPY_SLICE_BYTES || n + 1 == models.len() {
                if let Err(err) = copy.send(data.as_bytes()).await {
                    let _ = copy.abort("sending the rows failed").await;
                    return Err(exec_err(err));
                }
                data.clear();
            }
        }
        copy.finish().await.map_err(exec_err)
    }
}

/// About how many bytes of rows [`CopyTxn::copy_insert`] sends at a time.
const COPY_SLICE_BYTES: usize = 64 * 1024;

/// Writes `value` as a field of `COPY`'s text format: `\N` for NULL,
/// backslash escapes for backslash, tab, newline and carriage return.
fn push_value(out: &mut String, value: &Value) -> Result<(), DbErr> {
    const NULL: &str = "\\N";
    match value {
        Value::Bool(v) => match v {
            Some(b) => out.push(if *b { 't' } else { 'f' }),
            None => out.push_str(NULL),
        },
        Value::SmallInt(v) => push_display(out, v.as_ref()),
        Value::Int(v) => push_display(out, v.as_ref()),
        Value::BigInt(v) => push_display(out, v.as_ref()),
        Value::String(v) => match v {
            Some(s) => push_text(out, s),
            None => out.push_str(NULL),
        },
        Value::ChronoDateTimeUtc(v) => match v {
            // Microseconds, truncated, as the driver binds them.
            Some(t) => out.push_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true)),
            None => out.push_str(NULL),
        },
        other => {
            return Err(DbErr::Custom(format!(
                "COPY: no text form for the value {other:?}"
            )));
        }
    }
    Ok(())
}

fn push_display<T: std::fmt::Display>(out: &mut String, v: Option<&T>) {
    match v {
        // Writing to a String cannot fail.
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("\\N"),
    }
}

fn push_text(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(at) = rest.find(['\\', '\t', '\n', '\r']) {
        out.push_str(&rest[..at]);
        let escaped = match rest.as_bytes()[at] {
            b'\\' => "\\\\",
            b'\t' => "\\t",
            b'\n' => "\\n",
            _ => "\\r",
        };
        out.push_str(escaped);
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

#[async_trait::async_trait]
impl ConnectionTrait for CopyTxn {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut tx = self.tx.lock().await;
        query(&stmt)
            .execute(&mut **tx)
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut tx = self.tx.lock().await;
        (&mut **tx)
            .execute(sqlx::AssertSqlSafe(sql.to_owned()))
            .await
            .map(Into::into)
            .map_err(exec_err)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut tx = self.tx.lock().await;
        query(&stmt)
            .fetch_optional(&mut **tx)
            .await
            .map(|row| row.map(Into::into))
            .map_err(query_err)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut tx = self.tx.lock().await;
        query(&stmt)
            .fetch_all(&mut **tx)
            .await
            .map(|rows| rows.into_iter().map(Into::into).collect())
            .map_err(query_err)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn field(value: Value) -> String {
        let mut out = String::new();
        push_value(&mut out, &value).unwrap();
        out
    }

    #[test]
    fn text_fields_escape_what_copy_reads_as_syntax() {
        assert_eq!(
            field(Value::String(Some("a\\b\tc\nd\re \\N ü".into()))),
            "a\\\\b\\tc\\nd\\re \\\\N ü"
        );
        assert_eq!(field(Value::String(Some(String::new()))), "");
        assert_eq!(field(Value::String(None)), "\\N");
    }

    #[test]
    fn numbers_times_and_nulls_take_their_text_forms() {
        assert_eq!(field(Value::BigInt(Some(-42))), "-42");
        assert_eq!(field(Value::Int(None)), "\\N");
        assert_eq!(field(Value::Bool(Some(true))), "t");
        let t = Utc
            .with_ymd_and_hms(2026, 11, 24, 9, 30, 5)
            .unwrap()
            .checked_add_signed(chrono::Duration::nanoseconds(123_456_789))
            .unwrap();
        assert_eq!(
            field(Value::ChronoDateTimeUtc(Some(t))),
            "2026-11-24T09:30:05.123456Z"
        );
        assert_eq!(field(Value::ChronoDateTimeUtc(None)), "\\N");
    }

    #[test]
    fn values_without_a_text_form_are_refused() {
        let mut out = String::new();
        assert!(push_value(&mut out, &Value::Double(Some(1.5))).is_err());
    }
}
