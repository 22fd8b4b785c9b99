//! Teams: each in one market of the tenant.

use batch::FieldCode;
use entity::{market, team};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, NotSet,
    QueryFilter,
};
use tracing::instrument;

use crate::domain::audit::{self, Resource};
use crate::{auth::Principal, clock, domain::DomainError};

/// Creates a team in a market of the caller's scope. Team-scoped keys cannot
/// create teams (the new team would be outside their scope).
#[instrument(skip_all, fields(tenant.id = p.tenant_id))]
pub async fn create_team(
    txn: &DatabaseTransaction,
    p: &Principal,
    name: &str,
    market_code: &str,
) -> Result<team::Model, DomainError> {
    let name = batch::name("name", name).map_err(|e| DomainError::Validation(vec![e]))?;
    let code = market_code.trim().to_ascii_uppercase();
    let known = market::Entity::find()
        .filter(market::Column::TenantId.eq(p.tenant_id))
        .filter(market::Column::Code.eq(code.as_str()))
        .one(txn)
        .await?;
    if known.is_none() {
        return Err(DomainError::field(
            "market",
            FieldCode::InvalidValue,
            "not a market of this tenant",
        ));
    }
    if !p.markets.allows(&code) || p.teams.is_some() {
        return Err(DomainError::Forbidden(
            "the market is outside this key's scope".into(),
        ));
    }
    let taken = team::Entity::find()
        .filter(team::Column::TenantId.eq(p.tenant_id))
        .filter(team::Column::Name.eq(name.as_str()))
        .one(txn)
        .await?;
    if taken.is_some() {
        return Err(DomainError::field(
            "name",
            FieldCode::InvalidValue,
            "a team with this name exists",
        ));
    }
    let team = team::ActiveModel {
        id: NotSet,
        tenant_id: Set(p.tenant_id),
        market: Set(code),
        name: Set(name),
        created_at: Set(clock::now()),
    }
    .insert(txn)
    .await?;
    audit::record(txn, p, "team.created", Resource::Team(team.id)).await?;
    Ok(team)
}
