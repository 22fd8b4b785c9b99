//! `viewer`: the calling key, its tenant and the acting user.

use async_graphql::{Context, ID, Object, Result};
use entity::{api_key, market, tenant, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{ApiKey, User, enums::Environment};
use crate::{
    domain::DomainError,
    graphql::{context::Ctx, errors::GqlResult},
    ids::NodeType,
};

/// The caller.
pub struct Viewer;

/// The tenant of the caller.
pub struct Tenant(tenant::Model);

#[Object]
impl Tenant {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::Tenant, self.0.id).gql(ctx)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// free, starter, pro, team or enterprise.
    async fn plan(&self) -> &str {
        &self.0.plan
    }
    /// The tenant's market codes.
    async fn markets(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let db = ctx.db().gql(ctx)?;
        let rows = market::Entity::find()
            .filter(market::Column::TenantId.eq(self.0.id))
            .order_by_asc(market::Column::Code)
            .all(db)
            .await
            .map_err(DomainError::from)
            .gql(ctx)?;
        Ok(rows.into_iter().map(|m| m.code).collect())
    }
}

#[Object]
impl Viewer {
    /// The key making this request.
    async fn api_key(&self, ctx: &Context<'_>) -> Result<ApiKey> {
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        api_key::Entity::find_by_id(p.key_id)
            .one(db)
            .await
            .map_err(DomainError::from)
            .and_then(|k| k.ok_or(DomainError::NotFound))
            .gql(ctx)
            .map(ApiKey)
    }
    /// The user this request acts for.
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        user::Entity::find_by_id(p.acting_user_id)
            .one(db)
            .await
            .map_err(DomainError::from)
            .and_then(|u| u.ok_or(DomainError::NotFound))
            .gql(ctx)
            .map(User)
    }
    async fn tenant(&self, ctx: &Context<'_>) -> Result<Tenant> {
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        tenant::Entity::find_by_id(p.tenant_id)
            .one(db)
            .await
            .map_err(DomainError::from)
            .and_then(|t| t.ok_or(DomainError::NotFound))
            .gql(ctx)
            .map(Tenant)
    }
    async fn environment(&self, ctx: &Context<'_>) -> Result<Environment> {
        Ok(ctx.principal().gql(ctx)?.environment.into())
    }
}
