//! The `AuditEvent` object and its filter.

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use entity::audit_event;
use sea_orm::{ColumnTrait, Condition};

use super::{User, lead::load_err};
use crate::{
    domain::{DomainError, audit::Resource},
    graphql::{context::Ctx, errors::GqlResult},
    ids::NodeType,
};

/// Who did what to which record, through which key.
#[derive(Clone)]
pub struct AuditEvent(pub audit_event::Model);

async fn user(ctx: &Context<'_>, id: Option<i64>) -> Result<Option<User>> {
    let Some(id) = id else { return Ok(None) };
    let loaders = ctx.loaders().gql(ctx)?;
    Ok(loaders
        .users
        .load_one(id)
        .await
        .map_err(load_err)
        .gql(ctx)?
        .map(User))
}

#[Object]
impl AuditEvent {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::AuditEvent, self.0.id).gql(ctx)
    }
    /// `lead.created`, `lead.updated`, `lead.deleted`, `lead.status_changed`,
    /// `lead.assigned`, `user.created`, `user.deactivated`, `team.created`,
    /// `api_key.created`, `api_key.revoked`, `webhook_endpoint.created`,
    /// `webhook_endpoint.updated`, `webhook_endpoint.deleted`,
    /// `webhook_delivery.redelivered`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// `lead`, `user`, `team`, `api_key`, `webhook_endpoint` or
    /// `webhook_delivery`.
    async fn resource_type(&self) -> &str {
        &self.0.resource_type
    }
    /// The public id of the record acted on.
    async fn resource_id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        let (Some(ty), Some(id)) = (
            Resource::node_type(&self.0.resource_type),
            self.0.resource_id,
        ) else {
            return Ok(None);
        };
        ctx.encode_id(ty, id).gql(ctx).map(Some)
    }
    /// The key used.
    async fn api_key_id(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        self.0
            .api_key_id
            .map(|id| ctx.encode_id(NodeType::ApiKey, id))
            .transpose()
            .gql(ctx)
    }
    /// The key's owner.
    async fn key_owner(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.key_owner_user_id).await
    }
    /// The user the request acted for (the owner, or `X-On-Behalf-Of`).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.acting_user_id).await
    }
    async fn request_id(&self) -> &str {
        &self.0.request_id
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Filters for `auditEvents`; every given field must match.
#[derive(InputObject, Debug, Clone, Default)]
pub struct AuditEventFilter {
    /// Any of these actions.
    pub action: Option<Vec<String>>,
    /// The acting user.
    pub actor_id: Option<ID>,
    /// The record acted on (any type).
    pub resource_id: Option<ID>,
    pub resource_type: Option<String>,
    /// Inclusive.
    pub after: Option<DateTime<Utc>>,
    /// Exclusive.
    pub before: Option<DateTime<Utc>>,
}

impl AuditEventFilter {
    pub fn condition(&self, ctx: &Context<'_>) -> Result<Condition, DomainError> {
        let mut c = Condition::all();
        if let Some(actions) = &self.action {
            c = c.add(audit_event::Column::Action.is_in(actions.iter().cloned()));
        }
        if let Some(actor) = &self.actor_id {
            let id = match ctx.decode_id(NodeType::User, actor) {
                Err(DomainError::NotFound) => 0,
                other => other?,
            };
            c = c.add(audit_event::Column::ActingUserId.eq(id));
        }
        if let Some(resource) = &self.resource_id {
            let (ty, id) = ctx.codec()?.decode(resource).map_err(|_| {
                DomainError::BadRequest(format!("`{}` is not a valid id", resource.as_str()))
            })?;
            let name = match ty {
                NodeType::Lead => "lead",
                NodeType::User => "user",
                NodeType::Team => "team",
                NodeType::ApiKey => "api_key",
                NodeType::WebhookEndpoint => "webhook_endpoint",
                NodeType::WebhookDelivery => "webhook_delivery",
                _ => "",
            };
            c = c
                .add(audit_event::Column::ResourceType.eq(name))
                .add(audit_event::Column::ResourceId.eq(id));
        }
        if let Some(t) = &self.resource_type {
            c = c.add(audit_event::Column::ResourceType.eq(t.as_str()));
        }
        if let Some(t) = self.after {
            c = c.add(audit_event::Column::CreatedAt.gte(t));
        }
        if let Some(t) = self.before {
            c = c.add(audit_event::Column::CreatedAt.lt(t));
        }
        Ok(c)
    }
}
