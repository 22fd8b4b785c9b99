//! The `User` object: a person of the tenant.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::user;

use crate::{
    graphql::{context::Ctx, errors::GqlResult},
    ids::NodeType,
};

/// A person of the tenant (assignee, creator, key owner).
#[derive(Clone)]
pub struct User(pub user::Model);

#[Object]
impl User {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::User, self.0.id).gql(ctx)
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// `owner` or `member`.
    async fn role(&self) -> &str {
        &self.0.role
    }
    /// False once deactivated: the user can no longer act or be assigned leads.
    async fn active(&self) -> bool {
        self.0.deactivated_at.is_none()
    }
    async fn deactivated_at(&self) -> Option<DateTime<Utc>> {
        self.0.deactivated_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
