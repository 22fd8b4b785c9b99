//! `import_row_runs`: rows of an import that created consecutive leads, one
//! row per run (the other rows' results are in `import_rows`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_row_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: i64,
    /// The run's first data row (1-based, as `import_rows.row_number`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub first_row: i64,
    /// The run's last data row (inclusive).
    pub last_row: i64,
    /// The lead `first_row` created; row `first_row + k` created lead
    /// `first_lead_id + k`. Null in dry runs (no lead was created).
    pub first_lead_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
