//! `import_rows`: the result of each row of an import that did not create a
//! lead; rows that did are stored as runs in `import_row_runs` (jobs imported
//! before that table have every row here).

use sea_orm::entity::prelude::*;

use crate::ImportRowStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_rows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: i64,
    /// 1-based data row of the file (the header is not a row).
    #[sea_orm(primary_key, auto_increment = false)]
    pub row_number: i64,
    pub status: ImportRowStatus,
    /// The lead created, updated or skipped (or the existing one a duplicate hit).
    pub lead_id: Option<i64>,
    /// Error code of a failed row (`validation_failed`, `duplicate`, ...).
    pub code: Option<String>,
    /// JSON array of `{field, code, message}` (failed rows).
    pub errors: Option<String>,
    /// JSON array of the row's cells as read (failed rows), for the re-import CSV.
    pub cells: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
