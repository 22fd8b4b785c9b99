//! `webhook_endpoints`: where a tenant's events are POSTed, per environment.

use sea_orm::entity::prelude::*;

use crate::Environment;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub environment: Environment,
    /// `https://…` (or `http://…`); checked against the private-address policy.
    pub url: String,
    pub description: Option<String>,
    /// Space-separated event types (`lead.created lead.deleted`); empty = all.
    #[sea_orm(column_type = "Text")]
    pub event_types: String,
    /// The signing secret, in clear: it is read back to sign every delivery (an
    /// HMAC needs the key itself, so unlike an API key it cannot be a hash).
    pub secret: String,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Soft delete: deliveries keep pointing at the row.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
