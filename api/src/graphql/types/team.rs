//! The `Team` object.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::team;

use crate::{
    graphql::{context::Ctx, errors::GqlResult},
    ids::NodeType,
};

/// A team working one market.
#[derive(Clone)]
pub struct Team(pub team::Model);

#[Object]
impl Team {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::Team, self.0.id).gql(ctx)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The market code the team works.
    async fn market(&self) -> &str {
        &self.0.market
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
