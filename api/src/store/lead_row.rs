//! Decoding `leads` rows by position on PostgreSQL.
//!
//! SeaORM's derived decoder reads every column by name: a hashed lookup and a
//! type check, twice per column, and for each NULL column an error message
//! formatted only for `Option` to drop it. On a page of 50 leads that was a
//! fifth of the server's CPU (perf, `first_page` of the API bench).
//! [`LeadRow`] reads a whole-entity select of `leads` (SeaORM lists the columns
//! in declaration order) by position instead, after checking that the row's
//! column names are those, in that order. Anything else (SQLite rows, a
//! prefixed or partial select) goes to the derived decoder, so a query that
//! selects otherwise still decodes right, only slower.

use entity::lead;
use sea_orm::{
    ActiveEnum, DbErr, FromQueryResult, QueryResult,
    sqlx::{Column as _, Decode, Postgres, Row as _, Type, postgres::PgRow},
};

/// A `leads` row, decoded by position where the select allows it.
pub struct LeadRow(pub lead::Model);

impl From<LeadRow> for lead::Model {
    fn from(row: LeadRow) -> Self {
        row.0
    }
}

/// The columns of `lead::Entity::find()`, in its select order (a unit test
/// holds this to `lead::Column`); [`decode`] reads them at these positions.
const COLUMNS: [&str; 22] = [
    "id",
    "tenant_id",
    "environment",
    "email",
    "email_key",
    "first_name",
    "last_name",
    "phone",
    "company",
    "job_title",
    "source",
    "status",
    "score",
    "custom_fields",
    "market",
    "team_id",
    "assigned_to_id",
    "created_by_id",
    "merged_into_id",
    "deleted_at",
    "created_at",
    "updated_at",
];

impl FromQueryResult for LeadRow {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        if pre.is_empty()
            && let Some(row) = res.try_as_pg_row()
            && whole_entity(row)
        {
            return decode(row).map(Self);
        }
        lead::Model::from_query_result(res, pre).map(Self)
    }
}

/// Whether the row holds exactly [`COLUMNS`], in that order.
fn whole_entity(row: &PgRow) -> bool {
    let columns = row.columns();
    columns.len() == COLUMNS.len()
        && columns
            .iter()
            .zip(COLUMNS)
            .all(|(column, name)| column.name() == name)
}

/// Column `i`, type-checked as sqlx does.
fn get<'r, T: Decode<'r, Postgres> + Type<Postgres>>(row: &'r PgRow, i: usize) -> Result<T, DbErr> {
    row.try_get(i)
        .map_err(|e| DbErr::Type(format!("leads.{}: {e}", COLUMNS[i])))
}

/// A string-valued enum column.
fn enumerated<T: ActiveEnum<Value = String>>(row: &PgRow, i: usize) -> Result<T, DbErr> {
    T::try_from_value(&get::<String>(row, i)?)
}

fn decode(row: &PgRow) -> Result<lead::Model, DbErr> {
    Ok(lead::Model {
        id: get(row, 0)?,
        tenant_id: get(row, 1)?,
        environment: enumerated(row, 2)?,
        email: get(row, 3)?,
        email_key: get(row, 4)?,
        first_name: get(row, 5)?,
        last_name: get(row, 6)?,
        phone: get(row, 7)?,
        company: get(row, 8)?,
        job_title: get(row, 9)?,
        source: enumerated(row, 10)?,
        status: enumerated(row, 11)?,
        score: get(row, 12)?,
        custom_fields: get(row, 13)?,
        market: get(row, 14)?,
        team_id: get(row, 15)?,
        assigned_to_id: get(row, 16)?,
        created_by_id: get(row, 17)?,
        merged_into_id: get(row, 18)?,
        deleted_at: get(row, 19)?,
        created_at: get(row, 20)?,
        updated_at: get(row, 21)?,
    })
}

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic as _, Iterable as _};

    use super::*;

    #[test]
    fn columns_are_the_entity_select_order() {
        let entity: Vec<&str> = lead::Column::iter().map(|c| c.as_str()).collect();
        assert_eq!(entity, COLUMNS);
    }
}
