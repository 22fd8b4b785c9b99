//! The `LeadTransition` object: one recorded status change.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::lead_transition;

use super::{User, enums::LeadStatus, lead::load_err};
use crate::{
    graphql::{context::Ctx, errors::GqlResult},
    ids::NodeType,
};

/// A status change of a lead.
#[derive(Clone)]
pub struct LeadTransition(pub lead_transition::Model);

#[Object]
impl LeadTransition {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::LeadTransition, self.0.id).gql(ctx)
    }
    async fn from(&self) -> LeadStatus {
        self.0.from_status.into()
    }
    async fn to(&self) -> LeadStatus {
        self.0.to_status.into()
    }
    /// Who made the change (the key's owner or the `X-On-Behalf-Of` user).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.0.actor_user_id else {
            return Ok(None);
        };
        let loaders = ctx.loaders().gql(ctx)?;
        Ok(loaders
            .users
            .load_one(id)
            .await
            .map_err(load_err)
            .gql(ctx)?
            .map(User))
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// When the change happened.
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
