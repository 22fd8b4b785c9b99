//! `api_keys`: credentials. Only the SHA-256 of a key is stored.

use sea_orm::entity::prelude::*;

use crate::Environment;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub environment: Environment,
    pub owner_user_id: i64,
    pub name: String,
    /// Lower-case hex SHA-256 of the full key.
    #[sea_orm(unique)]
    pub key_hash: String,
    /// The first characters of the key, safe to show (`lg_live_sk_AbCd`).
    pub display_prefix: String,
    /// Space-separated operation scopes (`leads:read pii:read`, or `full`).
    pub operations: String,
    /// Space-separated market codes; `None` means every market.
    pub markets: Option<String>,
    /// Space-separated team ids; `None` means every team of the allowed markets.
    pub team_ids: Option<String>,
    pub created_by_key_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
