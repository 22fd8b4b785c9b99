//! `webhook_events`: the outbox. One row per event that some endpoint subscribes
//! to, written in the transaction of the change that caused it.

use sea_orm::entity::prelude::*;

use crate::Environment;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub environment: Environment,
    /// `lead.created`, `lead.status_changed`, ...
    pub event_type: String,
    /// The event's data as JSON, with row ids (public ids are rendered at
    /// delivery, where the deployment's id codec is known).
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
