//! `audit_events`: who did what to which record, through which key.

use sea_orm::entity::prelude::*;

use crate::Environment;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub environment: Environment,
    /// `lead.created`, `api_key.revoked`, ...
    pub action: String,
    /// `lead`, `user`, `team`, `api_key`.
    pub resource_type: String,
    pub resource_id: Option<i64>,
    pub api_key_id: Option<i64>,
    pub key_owner_user_id: Option<i64>,
    /// The owner, or the `X-On-Behalf-Of` user.
    pub acting_user_id: Option<i64>,
    pub request_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
