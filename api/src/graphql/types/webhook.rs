//! Webhook objects (`WebhookEndpoint`, `WebhookDelivery`, its attempts), their
//! inputs, and the loaders behind `webhookEndpoints`, `webhookDeliveries` and
//! `node(id:)`. The signing secret is never a field: it is shown once, by
//! `createWebhookEndpoint`.

use std::collections::HashMap;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use entity::{webhook_delivery, webhook_delivery_attempt, webhook_endpoint};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    domain::DomainError,
    graphql::{
        connection::{self, Conn, CountQuery},
        context::Ctx,
        errors::GqlResult,
    },
    ids::NodeType,
    scope,
    store::{PageArgs, page::Sort},
};

/// Where a delivery stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookDeliveryStatus {
    /// Not attempted yet.
    Pending,
    /// An attempt got a 2xx answer.
    Succeeded,
    /// The last attempt failed; another is scheduled at `nextAttemptAt`.
    Failed,
    /// Attempts failed for 24 hours, or the endpoint was disabled or deleted.
    GivenUp,
}

impl From<entity::WebhookDeliveryStatus> for WebhookDeliveryStatus {
    fn from(v: entity::WebhookDeliveryStatus) -> Self {
        use entity::WebhookDeliveryStatus as S;
        match v {
            S::Pending => Self::Pending,
            S::Succeeded => Self::Succeeded,
            S::Failed => Self::Failed,
            S::GivenUp => Self::GivenUp,
        }
    }
}

impl From<WebhookDeliveryStatus> for entity::WebhookDeliveryStatus {
    fn from(v: WebhookDeliveryStatus) -> Self {
        match v {
            WebhookDeliveryStatus::Pending => Self::Pending,
            WebhookDeliveryStatus::Succeeded => Self::Succeeded,
            WebhookDeliveryStatus::Failed => Self::Failed,
            WebhookDeliveryStatus::GivenUp => Self::GivenUp,
        }
    }
}

/// A URL that receives this environment's events, signed with its secret.
#[derive(Clone)]
pub struct WebhookEndpoint(pub webhook_endpoint::Model);

#[Object]
impl WebhookEndpoint {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::WebhookEndpoint, self.0.id).gql(ctx)
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The event types sent here (`lead.created`, ...); empty means every event.
    async fn event_types(&self) -> Vec<&str> {
        self.0.event_types.split_whitespace().collect()
    }
    /// A disabled endpoint receives nothing.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Set once deleted (deleted endpoints appear only through their deliveries).
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
}

/// One POST of a delivery.
#[derive(Clone)]
pub struct WebhookDeliveryAttempt(pub webhook_delivery_attempt::Model);

#[Object]
impl WebhookDeliveryAttempt {
    /// 1 for the delivery's first attempt.
    async fn number(&self) -> i32 {
        self.0.number
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    async fn duration_ms(&self) -> i64 {
        self.0.duration_ms
    }
    /// The receiver's HTTP status; null when no response came.
    async fn response_status(&self) -> Option<i32> {
        self.0.response_status
    }
    /// The first KiB of the response body.
    async fn response_body_excerpt(&self) -> Option<&str> {
        self.0.response_body_excerpt.as_deref()
    }
    /// Why no usable response came (timeout, connection refused, URL policy).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// A 2xx answer.
    async fn succeeded(&self) -> bool {
        self.0.succeeded
    }
}

/// One event sent to one endpoint, with every attempt.
#[derive(Clone)]
pub struct WebhookDelivery {
    pub model: webhook_delivery::Model,
    endpoint: Option<webhook_endpoint::Model>,
    attempts: Vec<webhook_delivery_attempt::Model>,
}

#[Object]
impl WebhookDelivery {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::WebhookDelivery, self.model.id)
            .gql(ctx)
    }
    async fn endpoint(&self) -> Option<WebhookEndpoint> {
        self.endpoint.clone().map(WebhookEndpoint)
    }
    /// The event's id, as sent in `Leadgraph-Event-Id` and the body's `id`.
    async fn event_id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::WebhookEvent, self.model.event_id)
            .gql(ctx)
    }
    /// `lead.created`, ...
    async fn event_type(&self) -> &str {
        &self.model.event_type
    }
    async fn status(&self) -> WebhookDeliveryStatus {
        self.model.status.into()
    }
    /// Attempts made so far.
    async fn attempt_count(&self) -> i32 {
        self.model.attempts
    }
    /// Every attempt, oldest first.
    async fn attempts(&self) -> Vec<WebhookDeliveryAttempt> {
        self.attempts
            .iter()
            .cloned()
            .map(WebhookDeliveryAttempt)
            .collect()
    }
    /// When the next attempt is due (null once succeeded or given up).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.model.next_attempt_at
    }
    async fn last_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.model.last_attempt_at
    }
    /// The last attempt's HTTP status.
    async fn response_status(&self) -> Option<i32> {
        self.model.response_status
    }
    /// The last attempt's error, or why the delivery was given up.
    async fn error(&self) -> Option<&str> {
        self.model.error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
}

/// A new webhook endpoint.
#[derive(InputObject, Debug, Clone)]
pub struct CreateWebhookEndpointInput {
    /// `https://…` (or `http://…`). Hosts resolving to loopback or private
    /// addresses are refused unless the server allows them.
    pub url: String,
    pub description: Option<String>,
    /// Event types to receive; omitted or empty means every event.
    pub event_types: Option<Vec<String>>,
    /// Defaults to true.
    pub enabled: Option<bool>,
}

/// Changes to an endpoint; omitted fields are unchanged.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateWebhookEndpointInput {
    pub url: Option<String>,
    /// An empty string clears it.
    pub description: Option<String>,
    /// An empty list means every event.
    pub event_types: Option<Vec<String>>,
    /// Disabling gives up the endpoint's unfinished deliveries.
    pub enabled: Option<bool>,
}

/// Filters for `webhookDeliveries`; every given field must match.
#[derive(InputObject, Debug, Clone, Default)]
pub struct WebhookDeliveryFilter {
    pub endpoint_id: Option<ID>,
    /// Any of these statuses.
    pub status: Option<Vec<WebhookDeliveryStatus>>,
    /// Any of these event types.
    pub event_type: Option<Vec<String>>,
}

impl WebhookDeliveryFilter {
    fn condition(&self, ctx: &Context<'_>) -> Result<Condition, DomainError> {
        let mut c = Condition::all();
        if let Some(id) = &self.endpoint_id {
            let row = match ctx.decode_id(NodeType::WebhookEndpoint, id) {
                Err(DomainError::NotFound) => 0,
                other => other?,
            };
            c = c.add(webhook_delivery::Column::EndpointId.eq(row));
        }
        if let Some(statuses) = &self.status {
            c = c.add(
                webhook_delivery::Column::Status.is_in(
                    statuses
                        .iter()
                        .map(|s| entity::WebhookDeliveryStatus::from(*s)),
                ),
            );
        }
        if let Some(types) = &self.event_type {
            c = c.add(webhook_delivery::Column::EventType.is_in(types.iter().cloned()));
        }
        Ok(c)
    }
}

/// Loads the endpoints and attempts of a page of deliveries (two queries).
async fn assemble<C: ConnectionTrait>(
    db: &C,
    models: &[webhook_delivery::Model],
) -> Result<
    (
        HashMap<i64, webhook_endpoint::Model>,
        HashMap<i64, Vec<webhook_delivery_attempt::Model>>,
    ),
    DomainError,
> {
    if models.is_empty() {
        return Ok(Default::default());
    }
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(models.iter().map(|m| m.endpoint_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let mut attempts: HashMap<i64, Vec<webhook_delivery_attempt::Model>> = HashMap::new();
    for a in webhook_delivery_attempt::Entity::find()
        .filter(webhook_delivery_attempt::Column::DeliveryId.is_in(models.iter().map(|m| m.id)))
        .order_by_asc(webhook_delivery_attempt::Column::Id)
        .all(db)
        .await?
    {
        attempts.entry(a.delivery_id).or_default().push(a);
    }
    Ok((endpoints, attempts))
}

fn delivery(
    m: webhook_delivery::Model,
    endpoints: &HashMap<i64, webhook_endpoint::Model>,
    attempts: &HashMap<i64, Vec<webhook_delivery_attempt::Model>>,
) -> WebhookDelivery {
    WebhookDelivery {
        endpoint: endpoints.get(&m.endpoint_id).cloned(),
        attempts: attempts.get(&m.id).cloned().unwrap_or_default(),
        model: m,
    }
}

/// One endpoint (deleted ones included: deliveries point at them).
pub async fn load_endpoint(ctx: &Context<'_>, id: i64) -> Result<WebhookEndpoint, DomainError> {
    let (p, db) = (ctx.principal()?, ctx.db()?);
    webhook_endpoint::Entity::find_by_id(id)
        .filter(scope::webhook_endpoints(p))
        .one(db)
        .await?
        .map(WebhookEndpoint)
        .ok_or(DomainError::NotFound)
}

/// One delivery with its endpoint and attempts.
pub async fn load_delivery(ctx: &Context<'_>, id: i64) -> Result<WebhookDelivery, DomainError> {
    let (p, db) = (ctx.principal()?, ctx.db()?);
    let m = webhook_delivery::Entity::find_by_id(id)
        .filter(scope::webhook_deliveries(p))
        .one(db)
        .await?
        .ok_or(DomainError::NotFound)?;
    let (endpoints, attempts) = assemble(db, std::slice::from_ref(&m)).await?;
    Ok(delivery(m, &endpoints, &attempts))
}

/// `webhookEndpoints`: live endpoints, oldest first.
pub async fn list_endpoints(ctx: &Context<'_>, args: PageArgs) -> Result<Conn<WebhookEndpoint>> {
    let p = ctx.principal().gql(ctx)?;
    let select = webhook_endpoint::Entity::find()
        .filter(scope::webhook_endpoints(p))
        .filter(webhook_endpoint::Column::DeletedAt.is_null());
    let sort = Sort::by_id(webhook_endpoint::Column::Id, true);
    let id = connection::id_key(|m: &webhook_endpoint::Model| m.id);
    connection::paged(
        ctx,
        args,
        &sort,
        select,
        id,
        WebhookEndpoint,
        CountQuery::WebhookEndpoints,
    )
    .await
}

/// `webhookDeliveries`: newest first.
pub async fn list_deliveries(
    ctx: &Context<'_>,
    args: PageArgs,
    filter: Option<WebhookDeliveryFilter>,
) -> Result<Conn<WebhookDelivery>> {
    let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
    let sort = Sort::by_id(webhook_delivery::Column::Id, false);
    let req = args.resolve(sort.tag).gql(ctx)?;
    let condition = filter.unwrap_or_default().condition(ctx).gql(ctx)?;
    let select = webhook_delivery::Entity::find()
        .filter(scope::webhook_deliveries(p))
        .filter(condition);
    let other_side = connection::reads_other_side(ctx, &req);
    let page = sort
        .page(db, select.clone(), &req, other_side)
        .await
        .gql(ctx)?;
    let (endpoints, attempts) = assemble(db, &page.items).await.gql(ctx)?;
    Ok(connection::build(
        page,
        &sort,
        connection::id_key(|m: &webhook_delivery::Model| m.id),
        |m| delivery(m, &endpoints, &attempts),
        CountQuery::WebhookDeliveries(select),
    ))
}
