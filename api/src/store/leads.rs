//! Lead queries: filters, orderings and their keyset pages.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use entity::{LeadSource, LeadStatus, lead};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    ExprTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Value,
    sea_query::{Expr, Func, IntoIden, PgFunc, Query, TableRef, ValueTuple},
};

use super::cursor::CursorValue;
use super::lead_row::LeadRow;
use super::page::Sort;
use crate::{auth::Principal, domain::DomainError, scope};

/// Lead filters (every field optional; all given fields must match).
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub status: Option<Vec<LeadStatus>>,
    pub source: Option<Vec<LeadSource>>,
    pub market: Option<Vec<String>>,
    pub team_id: Option<i64>,
    pub assigned_to_id: Option<i64>,
    pub unassigned: Option<bool>,
    pub score_min: Option<i32>,
    pub score_max: Option<i32>,
    /// Inclusive lower bound.
    pub created_after: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub created_before: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// A canonical email key.
    pub email_key: Option<String>,
    /// Case-insensitive prefix of first name, last name, full name, email or company.
    pub search: Option<String>,
    /// Whether `search` may match emails (the caller has `pii:read`); without it,
    /// a search cannot be used to probe which emails exist.
    pub search_email: bool,
}

/// The field a lead connection is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadOrderField {
    CreatedAt,
    UpdatedAt,
    Score,
    LastName,
}

/// A lead ordering; ties are broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadOrder {
    pub field: LeadOrderField,
    pub ascending: bool,
}

impl Default for LeadOrder {
    fn default() -> Self {
        Self {
            field: LeadOrderField::CreatedAt,
            ascending: false,
        }
    }
}

impl LeadOrder {
    /// The ordering, its rows decoded by position ([`LeadRow`]).
    pub fn sort(self) -> Sort<lead::Entity, LeadRow> {
        let (tag, column) = match (self.field, self.ascending) {
            (LeadOrderField::CreatedAt, true) => ("created_at:asc", lead::Column::CreatedAt),
            (LeadOrderField::CreatedAt, false) => ("created_at:desc", lead::Column::CreatedAt),
            (LeadOrderField::UpdatedAt, true) => ("updated_at:asc", lead::Column::UpdatedAt),
            (LeadOrderField::UpdatedAt, false) => ("updated_at:desc", lead::Column::UpdatedAt),
            (LeadOrderField::Score, true) => ("score:asc", lead::Column::Score),
            (LeadOrderField::Score, false) => ("score:desc", lead::Column::Score),
            (LeadOrderField::LastName, true) => ("last_name:asc", lead::Column::LastName),
            (LeadOrderField::LastName, false) => ("last_name:desc", lead::Column::LastName),
        };
        Sort {
            tag,
            column: Some(column),
            id: lead::Column::Id,
            ascending: self.ascending,
            rows: PhantomData,
        }
    }

    /// A row's value in this ordering (what its cursor holds).
    pub fn value_of(self, m: &lead::Model) -> CursorValue {
        match self.field {
            LeadOrderField::CreatedAt => CursorValue::Time(m.created_at),
            LeadOrderField::UpdatedAt => CursorValue::Time(m.updated_at),
            LeadOrderField::Score => CursorValue::Int(i64::from(m.score)),
            LeadOrderField::LastName => CursorValue::Text(m.last_name.clone()),
        }
    }
}

/// Live leads: not deleted and not merged into another lead.
fn live() -> Condition {
    Condition::all()
        .add(lead::Column::DeletedAt.is_null())
        .add(lead::Column::MergedIntoId.is_null())
}

/// Escapes `%`, `_` and `\` for a LIKE prefix pattern.
fn like_prefix(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 1);
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl LeadFilter {
    fn condition(&self) -> Condition {
        let mut c = Condition::all();
        if let Some(v) = &self.status {
            c = c.add(lead::Column::Status.is_in(v.iter().copied()));
        }
        if let Some(v) = &self.source {
            c = c.add(lead::Column::Source.is_in(v.iter().copied()));
        }
        if let Some(v) = &self.market {
            c = c.add(lead::Column::Market.is_in(v.iter().cloned()));
        }
        if let Some(v) = self.team_id {
            c = c.add(lead::Column::TeamId.eq(v));
        }
        if let Some(v) = self.assigned_to_id {
            c = c.add(lead::Column::AssignedToId.eq(v));
        }
        match self.unassigned {
            Some(true) => c = c.add(lead::Column::AssignedToId.is_null()),
            Some(false) => c = c.add(lead::Column::AssignedToId.is_not_null()),
            None => {}
        }
        if let Some(v) = self.score_min {
            c = c.add(lead::Column::Score.gte(v));
        }
        if let Some(v) = self.score_max {
            c = c.add(lead::Column::Score.lte(v));
        }
        if let Some(v) = self.created_after {
            c = c.add(lead::Column::CreatedAt.gte(v));
        }
        if let Some(v) = self.created_before {
            c = c.add(lead::Column::CreatedAt.lt(v));
        }
        if let Some(v) = self.updated_after {
            c = c.add(lead::Column::UpdatedAt.gte(v));
        }
        if let Some(v) = self.updated_before {
            c = c.add(lead::Column::UpdatedAt.lt(v));
        }
        if let Some(v) = &self.email_key {
            c = c.add(lead::Column::EmailKey.eq(v.as_str()));
        }
        if let Some(q) = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
        {
            let pattern = like_prefix(q);
            let lower = |e: Expr| Expr::expr(Func::lower(e));
            let col = |c: lead::Column| Expr::col((lead::Entity, c));
            let like =
                |e: Expr| e.like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'));
            // `||` is string concatenation on both SQLite and PostgreSQL.
            let full_name = Expr::cust(r#""leads"."first_name" || ' ' || "leads"."last_name""#);
            c = c.add(
                Condition::any()
                    .add(like(lower(col(lead::Column::FirstName))))
                    .add(like(lower(col(lead::Column::LastName))))
                    .add(like(lower(full_name)))
                    .add(like(lower(col(lead::Column::Company))))
                    .add(if self.search_email {
                        like(col(lead::Column::EmailKey))
                    } else {
                        Expr::val(false)
                    }),
            );
        }
        c
    }
}

/// Live leads in the caller's scope matching `filter`.
pub fn list(p: &Principal, filter: &LeadFilter) -> Select<lead::Entity> {
    lead::Entity::find()
        .filter(scope::leads(p))
        .filter(live())
        .filter(filter.condition())
}

/// One lead in scope by id (merged leads included, deleted ones not).
pub async fn get<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: i64,
) -> Result<lead::Model, DomainError> {
    lead::Entity::find_by_id(id)
        .filter(scope::leads(p))
        .filter(lead::Column::DeletedAt.is_null())
        .into_model::<LeadRow>()
        .one(db)
        .await?
        .map(|row| row.0)
        .ok_or(DomainError::NotFound)
}

/// A lead in scope that may be written: merged leads are read-only (write to
/// the survivor named by `mergedInto`), so they answer `bad_request`.
pub async fn get_writable<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: i64,
) -> Result<lead::Model, DomainError> {
    let found = get(db, p, id).await?;
    if found.merged_into_id.is_some() {
        return Err(DomainError::BadRequest(
            "this lead was merged into another lead and is read-only; write to the lead in `mergedInto`".into(),
        ));
    }
    Ok(found)
}

/// Live leads of the caller's tenant and environment (ignoring market/team scope)
/// with these canonical email keys: uniqueness spans the whole environment.
pub async fn live_by_email_keys<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    keys: Vec<String>,
) -> Result<Vec<lead::Model>, DomainError> {
    // The one scope of this lookup: the whole environment, live leads.
    let live_in_environment = || {
        lead::Entity::find()
            .filter(lead::Column::TenantId.eq(p.tenant_id))
            .filter(lead::Column::Environment.eq(p.environment))
            .filter(live())
    };
    if db.get_database_backend() == DbBackend::Postgres {
        // One statement whatever the number of keys: `= ANY($n)` binds them
        // as one array, and its plan (on the unique email index) is the same
        // for every chunk.
        let keys = Value::Array(
            sea_orm::sea_query::ArrayType::String,
            Some(Box::new(keys.into_iter().map(Value::from).collect())),
        );
        return Ok(live_in_environment()
            .filter(Expr::col(lead::Column::EmailKey).eq(PgFunc::any(Expr::val(keys))))
            .all(db)
            .await?);
    }
    let mut found = Vec::new();
    for batch in super::fixed_batches(&keys, LOOKUP_BATCH) {
        found.extend(
            live_in_environment()
                .filter(lead::Column::EmailKey.is_in(batch.iter().map(String::as_str)))
                .all(db)
                .await?,
        );
    }
    Ok(found)
}

/// Inserts `models` in multi-row statements of at most `batch` rows (see
/// [`super::fixed_batches`]) and returns each new row's `(id, email_key)`.
/// Only those two columns come back: decoding whole rows cost more than the
/// insert's own statement building.
pub async fn insert_returning_keys<C: ConnectionTrait>(
    db: &C,
    models: &[lead::ActiveModel],
    batch: usize,
) -> Result<Vec<(i64, String)>, DbErr> {
    let mut keys = Vec::with_capacity(models.len());
    for rows in super::fixed_batches(models, batch) {
        for row in db.query_all(&insert_keys_statement(rows.to_vec())).await? {
            keys.push((row.try_get("", "id")?, row.try_get("", "email_key")?));
        }
    }
    Ok(keys)
}

/// SQLite: [`insert_returning_keys`] in a [`super::sqlite_bulk::BulkTxn`]
/// (`INSERT OR FAIL`, no statement journal). Each statement is built while
/// the one before runs on SQLite's thread, and the models move into them
/// instead of being cloned (building them used to wait for SQLite, and SQLite
/// for it).
pub async fn insert_returning_keys_bulk(
    txn: &super::sqlite_bulk::BulkTxn,
    models: Vec<lead::ActiveModel>,
    batch: usize,
) -> Result<Vec<(i64, String)>, DbErr> {
    let mut keys = Vec::with_capacity(models.len());
    let sizes: Vec<usize> = super::fixed_batches(&models, batch)
        .map(<[_]>::len)
        .collect();
    let mut sizes = sizes.into_iter();
    let mut models = models.into_iter();
    let mut build = move || {
        let n = sizes.next()?;
        let insert = insert_keys_statement(models.by_ref().take(n));
        Some(DbBackend::Sqlite.build(&insert))
    };
    let mut next = build();
    while let Some(stmt) = next.take() {
        // Polled in order: the statement goes to SQLite's thread, then the
        // next one is built.
        let (rows, following) = futures::join!(txn.query_all_raw(stmt), async { build() });
        next = following;
        for row in rows? {
            keys.push((row.try_get("", "id")?, row.try_get("", "email_key")?));
        }
    }
    Ok(keys)
}

fn insert_keys_statement(
    rows: impl IntoIterator<Item = lead::ActiveModel>,
) -> sea_orm::sea_query::InsertStatement {
    let mut insert = lead::Entity::insert_many(rows).into_query();
    insert.returning(Query::returning().columns([lead::Column::Id, lead::Column::EmailKey]));
    insert
}

/// PostgreSQL: inserts `models` with one `COPY` and returns each new row's
/// `(id, email_key)`, in order. The ids are drawn from the table's identity
/// sequence first ([`draw_ids`]); `COPY` cannot return them.
pub async fn copy_returning_keys(
    txn: &super::copy::CopyTxn,
    models: Vec<lead::ActiveModel>,
) -> Result<Vec<(i64, String)>, DbErr> {
    let ids = draw_ids(txn, models.len()).await?;
    copy_with_ids(txn, models, ids).await
}

/// PostgreSQL: draws `n` ids from the identity sequence of `leads`, in
/// ascending order (so they follow rows' order as a multi-row `INSERT`'s
/// would). Sequences are not transactional: drawn ids are never handed out
/// again, whether or not they are used.
pub async fn draw_ids<C: ConnectionTrait>(db: &C, n: usize) -> Result<Vec<i64>, DbErr> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let count = i64::try_from(n).unwrap_or(i64::MAX);
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT nextval(pg_get_serial_sequence('leads', 'id')) AS id \
             FROM generate_series(1, $1)",
            [count.into()],
        ))
        .await?;
    let mut ids = rows
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// PostgreSQL: inserts `models` with one `COPY`, giving them `ids` in order
/// (one each, from [`draw_ids`]), and returns each row's `(id, email_key)`.
pub async fn copy_with_ids(
    txn: &super::copy::CopyTxn,
    mut models: Vec<lead::ActiveModel>,
    ids: Vec<i64>,
) -> Result<Vec<(i64, String)>, DbErr> {
    if ids.len() != models.len() {
        return Err(DbErr::Custom(format!(
            "{} ids for {} leads",
            ids.len(),
            models.len()
        )));
    }
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::with_capacity(models.len());
    for (model, &id) in models.iter_mut().zip(&ids) {
        model.id = sea_orm::ActiveValue::Set(id);
        let key = match &model.email_key {
            sea_orm::ActiveValue::Set(key) | sea_orm::ActiveValue::Unchanged(key) => key.clone(),
            sea_orm::ActiveValue::NotSet => {
                return Err(DbErr::Custom(
                    "COPY into leads: a lead without an email key".into(),
                ));
            }
        };
        keys.push((id, key));
    }
    txn.copy_insert(&models).await?;
    Ok(keys)
}

/// Refreshes the planner's statistics of `leads` (PostgreSQL `ANALYZE`; SQLite
/// plans without them, so nothing runs there).
pub async fn analyze(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE leads").await?;
    }
    Ok(())
}

/// Keys per duplicate lookup statement on SQLite (see [`super::fixed_batches`]);
/// PostgreSQL takes them all in one array.
const LOOKUP_BATCH: usize = 500;

/// Leads in scope by id (merged ones included, deleted ones not), locked for
/// update in id order on PostgreSQL, so a service can check their state and
/// write them without a concurrent writer slipping in between (SQLite's
/// `IMMEDIATE` write transaction already serialises writers).
pub async fn get_many_for_update<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    ids: Vec<i64>,
) -> Result<Vec<lead::Model>, DomainError> {
    Ok(lead::Entity::find()
        .filter(lead::Column::Id.is_in(ids))
        .filter(in_scope_by_key(p))
        .filter(lead::Column::DeletedAt.is_null())
        .order_by_asc(lead::Column::Id)
        .lock_exclusive()
        .all(db)
        .await?)
}

/// The caller's scope as a check on rows found by primary key. SQLite
/// (without statistics) expects `tenant_id = ? AND environment = ?` to match
/// about ten rows, so with the scope as plain terms and more than three ids
/// it reads the tenant's whole `(tenant_id, environment, …)` index instead
/// of looking the ids up (170 ms per 1,000 ids at a million leads, against
/// 7 ms). Inside a `CASE` no index can serve the scope: it is checked on the
/// rows the ids find. PostgreSQL plans the ids on the primary key either way.
fn in_scope_by_key(p: &Principal) -> Expr {
    let in_scope: Expr = Expr::case(scope::leads(p), 1).finally(0).into();
    in_scope.eq(1)
}

/// Survivors per multi-row `UPDATE` of [`update_filled`] (8 values each).
const FILLED_BATCH: usize = 250;
/// Duplicates per multi-row `UPDATE` of [`update_merged`] (3 values each).
const MERGED_BATCH: usize = 500;

/// Writes the fields a merge fills (phone, company, job title, team,
/// assignee, custom fields) and `updated_at` of each survivor as given, in
/// multi-row statements. The caller holds the rows' locks
/// ([`get_many_for_update`]) and computed the values from them.
pub async fn update_filled<C: ConnectionTrait>(
    db: &C,
    survivors: &[&lead::Model],
) -> Result<(), DbErr> {
    use lead::Column as L;
    let rows: Vec<Vec<Value>> = by_id(survivors)
        .into_iter()
        .map(|m| {
            vec![
                m.id.into(),
                m.phone.clone().into(),
                m.company.clone().into(),
                m.job_title.clone().into(),
                m.team_id.into(),
                m.assigned_to_id.into(),
                m.custom_fields.clone().into(),
                m.updated_at.into(),
            ]
        })
        .collect();
    let columns = [
        L::Phone,
        L::Company,
        L::JobTitle,
        L::TeamId,
        L::AssignedToId,
        L::CustomFields,
        L::UpdatedAt,
    ];
    update_from_values(db, &columns, &rows, FILLED_BATCH).await
}

/// Writes `merged_into_id` and `updated_at` of each merged duplicate as
/// given, in multi-row statements (the caller holds the rows' locks).
pub async fn update_merged<C: ConnectionTrait>(
    db: &C,
    duplicates: &[&lead::Model],
) -> Result<(), DbErr> {
    let rows: Vec<Vec<Value>> = by_id(duplicates)
        .into_iter()
        .map(|m| vec![m.id.into(), m.merged_into_id.into(), m.updated_at.into()])
        .collect();
    let columns = [lead::Column::MergedIntoId, lead::Column::UpdatedAt];
    update_from_values(db, &columns, &rows, MERGED_BATCH).await
}

/// `leads` in id order: rows are then written in B-tree order (fewer pages
/// read and dirtied per statement than in random order).
fn by_id<'a>(leads: &[&'a lead::Model]) -> Vec<&'a lead::Model> {
    let mut sorted = leads.to_vec();
    sorted.sort_unstable_by_key(|m| m.id);
    sorted
}

/// `UPDATE leads SET c1 = v.column2, … FROM (VALUES (id, …), …) AS v WHERE
/// leads.id = v.column1`: each row is a lead id followed by one value per
/// column, written in statements of [`super::fixed_batches`] of at most
/// `batch` rows. `columnN` is the name both SQLite and PostgreSQL give the
/// columns of a `VALUES` list.
async fn update_from_values<C: ConnectionTrait>(
    db: &C,
    columns: &[lead::Column],
    rows: &[Vec<Value>],
    batch: usize,
) -> Result<(), DbErr> {
    const V: &str = "v";
    for chunk in super::fixed_batches(rows, batch) {
        let values = chunk.iter().cloned().map(ValueTuple::Many).collect();
        let mut update = Query::update();
        update
            .table(lead::Entity)
            .values(
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (*c, Expr::col((V, format!("column{}", i + 2))))),
            )
            .from(TableRef::ValuesList(values, V.into_iden()))
            .and_where(Expr::col((lead::Entity, lead::Column::Id)).equals((V, "column1")));
        db.execute(&update).await?;
    }
    Ok(())
}
