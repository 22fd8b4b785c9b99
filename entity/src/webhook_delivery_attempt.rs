//! `webhook_delivery_attempts`: every POST made for a delivery, as it ended.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub delivery_id: i64,
    /// 1 for the first attempt of the delivery.
    pub number: i32,
    pub started_at: DateTimeUtc,
    pub duration_ms: i64,
    pub response_status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub response_body_excerpt: Option<String>,
    /// Why it failed without a response (timeout, refused, policy), if it did.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub succeeded: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
