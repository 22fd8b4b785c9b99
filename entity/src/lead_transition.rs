//! `lead_transitions`: the status history of a lead.

use sea_orm::entity::prelude::*;

use crate::{Environment, LeadStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lead_transitions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub environment: Environment,
    pub lead_id: i64,
    pub from_status: LeadStatus,
    pub to_status: LeadStatus,
    /// The acting user (the key's owner, or the `X-On-Behalf-Of` user).
    pub actor_user_id: Option<i64>,
    pub api_key_id: Option<i64>,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
