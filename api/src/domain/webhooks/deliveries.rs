//! Redelivery: sending an event to an endpoint again, on request.

use entity::{webhook_delivery, webhook_endpoint, webhook_event};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use tracing::instrument;

use super::outbox::pending;
use crate::{
    auth::Principal,
    clock,
    domain::{
        DomainError,
        audit::{self, Resource},
    },
    scope,
};

/// Queues a new delivery of the same event to the same endpoint, due now, with
/// its own attempts and retry window; the original keeps its history. The
/// endpoint must still exist and be enabled.
#[instrument(skip_all, fields(tenant.id = p.tenant_id, webhook_delivery.id = id))]
pub async fn redeliver(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
) -> Result<webhook_delivery::Model, DomainError> {
    let original = webhook_delivery::Entity::find_by_id(id)
        .filter(scope::webhook_deliveries(p))
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    let endpoint = webhook_endpoint::Entity::find_by_id(original.endpoint_id)
        .filter(scope::webhook_endpoints(p))
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    if endpoint.deleted_at.is_some() {
        return Err(DomainError::BadRequest(
            "the delivery's endpoint was deleted".into(),
        ));
    }
    if !endpoint.enabled {
        return Err(DomainError::BadRequest(
            "the delivery's endpoint is disabled; enable it first".into(),
        ));
    }
    let event = webhook_event::Entity::find_by_id(original.event_id)
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    let delivery = pending(endpoint.id, &event, clock::now())
        .insert(txn)
        .await?;
    audit::record(
        txn,
        p,
        "webhook_delivery.redelivered",
        Resource::WebhookDelivery(delivery.id),
    )
    .await?;
    Ok(delivery)
}
