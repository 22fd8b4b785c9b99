//! The `ApiKey` object (never the secret: it is shown once, at creation).

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::api_key;

use super::{User, enums::Environment, lead::load_err};
use crate::{
    auth::{MarketScope, Op, Principal},
    graphql::{context::Ctx, errors::GqlResult},
    ids::NodeType,
};

/// An API key's metadata and scope.
#[derive(Clone)]
pub struct ApiKey(pub api_key::Model);

#[Object]
impl ApiKey {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::ApiKey, self.0.id).gql(ctx)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn environment(&self) -> Environment {
        self.0.environment.into()
    }
    /// The key's first characters (`lg_live_sk_AbCd`), to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.display_prefix
    }
    /// Operation scopes, expanded (`full` lists every operation).
    async fn operations(&self) -> Vec<&'static str> {
        crate::domain::keys::KeyScope::of(&self.0)
            .ops
            .ops()
            .map(Op::as_str)
            .collect()
    }
    /// Market codes the key may touch; null means every market.
    async fn markets(&self) -> Option<Vec<String>> {
        match MarketScope::from_storage(self.0.markets.as_deref()) {
            MarketScope::All => None,
            MarketScope::Only(set) => Some(set.into_iter().collect()),
        }
    }
    /// Teams the key is limited to; null means every team of its markets.
    async fn team_ids(&self, ctx: &Context<'_>) -> Result<Option<Vec<ID>>> {
        let Some(teams) = Principal::teams_from_storage(self.0.team_ids.as_deref()) else {
            return Ok(None);
        };
        teams
            .into_iter()
            .map(|t| ctx.encode_id(NodeType::Team, t).gql(ctx))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let loaders = ctx.loaders().gql(ctx)?;
        Ok(loaders
            .users
            .load_one(self.0.owner_user_id)
            .await
            .map_err(load_err)
            .gql(ctx)?
            .map(User))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    /// Last authenticated use (kept to the minute).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    /// Neither revoked nor expired.
    async fn active(&self) -> bool {
        self.0.revoked_at.is_none() && self.0.expires_at.is_none_or(|t| t > Utc::now())
    }
}
