//! `leads`: the product's core record.

use sea_orm::entity::prelude::*;

use crate::{Environment, LeadSource, LeadStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leads")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub environment: Environment,
    /// As given, trimmed.
    pub email: String,
    /// Canonical dedupe key (lower-cased; gmail dots and `+tag` removed).
    pub email_key: String,
    pub first_name: String,
    pub last_name: String,
    /// E.164.
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub source: LeadSource,
    pub status: LeadStatus,
    pub score: i32,
    /// JSON object of scalar values, serialised.
    #[sea_orm(column_type = "Text")]
    pub custom_fields: String,
    pub market: String,
    pub team_id: Option<i64>,
    pub assigned_to_id: Option<i64>,
    pub created_by_id: Option<i64>,
    pub merged_into_id: Option<i64>,
    pub deleted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
