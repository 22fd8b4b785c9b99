//! `dedupe_clusters`: the clusters a dedupe run found (and, unless a dry run,
//! merged).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dedupe_clusters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub job_id: i64,
    pub survivor_id: i64,
    /// JSON array of lead ids, survivor first.
    pub member_ids: String,
    /// JSON array of reasons (`SAME_EMAIL`, `SAME_PHONE`, ...).
    pub reasons: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
