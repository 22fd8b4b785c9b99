//! Webhook endpoints and redelivery (`webhooks:manage`).

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use crate::{
    auth::Op,
    domain::{
        DomainError,
        webhooks::{self, EndpointChanges, NewEndpoint, Settings, url_policy},
    },
    graphql::{
        context::{Ctx, in_transaction},
        errors::GqlResult,
        guards::ScopeGuard,
        types::webhook::{
            self as types, CreateWebhookEndpointInput, UpdateWebhookEndpointInput, WebhookDelivery,
            WebhookEndpoint,
        },
    },
    ids::NodeType,
};

#[derive(Default)]
pub struct WebhookMutation;

/// Result of `createWebhookEndpoint`: the endpoint and, this once, its secret.
#[derive(SimpleObject)]
pub struct CreateWebhookEndpointPayload {
    endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`): the HMAC key of `Leadgraph-Signature`.
    /// It is not shown again.
    secret: String,
}

/// Result of `updateWebhookEndpoint`.
#[derive(SimpleObject)]
pub struct WebhookEndpointPayload {
    endpoint: WebhookEndpoint,
}

/// Result of `deleteWebhookEndpoint`.
#[derive(SimpleObject)]
pub struct DeleteWebhookEndpointPayload {
    deleted_endpoint_id: ID,
}

/// Result of `redeliverWebhook`: the new delivery.
#[derive(SimpleObject)]
pub struct RedeliverWebhookPayload {
    delivery: WebhookDelivery,
}

fn settings<'a>(ctx: &Context<'a>) -> Result<&'a Settings> {
    ctx.data_opt::<Settings>()
        .ok_or_else(|| DomainError::Internal(anyhow::anyhow!("webhook settings missing")))
        .gql(ctx)
}

#[Object]
impl WebhookMutation {
    /// Registers a URL to receive this environment's events. Returns the signing
    /// secret once. Needs `webhooks:manage` and a key that sees the whole
    /// environment (all markets and teams, `pii:read`): the endpoint will.
    #[graphql(guard = "ScopeGuard(Op::WebhooksManage)")]
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> Result<CreateWebhookEndpointPayload> {
        let allow_private = settings(ctx)?.allow_private;
        // Resolving the host happens before the transaction opens.
        let url = url_policy::check_url(&input.url, allow_private)
            .await
            .gql(ctx)?;
        let new = NewEndpoint {
            url,
            description: input.description,
            event_types: input.event_types,
            enabled: input.enabled.unwrap_or(true),
        };
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let (endpoint, secret) =
            in_transaction(db, async |txn| webhooks::create_endpoint(txn, p, new).await)
                .await
                .gql(ctx)?;
        Ok(CreateWebhookEndpointPayload {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    /// Changes an endpoint's URL, description, event types or enabled flag.
    /// Needs `webhooks:manage`.
    #[graphql(guard = "ScopeGuard(Op::WebhooksManage)")]
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpointPayload> {
        let row = ctx.decode_id(NodeType::WebhookEndpoint, &id).gql(ctx)?;
        let url = match &input.url {
            Some(raw) => Some(
                url_policy::check_url(raw, settings(ctx)?.allow_private)
                    .await
                    .gql(ctx)?,
            ),
            None => None,
        };
        let changes = EndpointChanges {
            url,
            description: input.description,
            event_types: input.event_types,
            enabled: input.enabled,
        };
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let endpoint = in_transaction(db, async |txn| {
            webhooks::update_endpoint(txn, p, row, changes).await
        })
        .await
        .gql(ctx)?;
        Ok(WebhookEndpointPayload {
            endpoint: WebhookEndpoint(endpoint),
        })
    }

    /// Deletes an endpoint; its unfinished deliveries are given up. Needs
    /// `webhooks:manage`.
    #[graphql(guard = "ScopeGuard(Op::WebhooksManage)")]
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<DeleteWebhookEndpointPayload> {
        let row = ctx.decode_id(NodeType::WebhookEndpoint, &id).gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        in_transaction(db, async |txn| webhooks::delete_endpoint(txn, p, row).await)
            .await
            .gql(ctx)?;
        Ok(DeleteWebhookEndpointPayload {
            deleted_endpoint_id: id,
        })
    }

    /// Sends a delivery's event to its endpoint again, as a new delivery with its
    /// own attempts. Needs `webhooks:manage`.
    #[graphql(guard = "ScopeGuard(Op::WebhooksManage)")]
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> Result<RedeliverWebhookPayload> {
        let row = ctx
            .decode_id(NodeType::WebhookDelivery, &delivery_id)
            .gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let created = in_transaction(db, async |txn| webhooks::redeliver(txn, p, row).await)
            .await
            .gql(ctx)?;
        let delivery = types::load_delivery(ctx, created.id).await.gql(ctx)?;
        Ok(RedeliverWebhookPayload { delivery })
    }
}
