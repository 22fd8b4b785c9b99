//! The outbox: an event row plus one pending delivery per subscribed endpoint,
//! written through the caller's connection, i.e. inside the transaction of the
//! change that caused the event. The dispatcher only sees them once committed.
//!
//! An event no enabled endpoint subscribes to has nothing to deliver and is not
//! stored: a write then costs one indexed read of the environment's endpoints.

use entity::{
    Environment, WebhookDeliveryStatus, lead, webhook_delivery, webhook_endpoint, webhook_event,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, NotSet,
    QueryFilter,
};

use super::{EventData, EventType, subscribes};
use crate::{auth::Principal, clock, domain::DomainError};

/// Records `event` for a tenant and environment, with a delivery to each enabled
/// endpoint subscribed to it.
pub async fn emit<C: ConnectionTrait>(
    db: &C,
    tenant_id: i64,
    environment: Environment,
    event: EventType,
    data: &EventData,
) -> Result<(), DomainError> {
    let endpoints: Vec<i64> = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::TenantId.eq(tenant_id))
        .filter(webhook_endpoint::Column::Environment.eq(environment))
        .filter(webhook_endpoint::Column::DeletedAt.is_null())
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .all(db)
        .await?
        .into_iter()
        .filter(|e| subscribes(&e.event_types, event))
        .map(|e| e.id)
        .collect();
    if endpoints.is_empty() {
        return Ok(());
    }
    let now = clock::now();
    let payload = serde_json::to_string(data)
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("serialising an event: {e}")))?;
    let row = webhook_event::ActiveModel {
        id: NotSet,
        tenant_id: Set(tenant_id),
        environment: Set(environment),
        event_type: Set(event.as_str().to_owned()),
        payload: Set(payload),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    webhook_delivery::Entity::insert_many(endpoints.into_iter().map(|id| pending(id, &row, now)))
        .exec(db)
        .await?;
    Ok(())
}

/// A new delivery of `event` to `endpoint_id`, due now.
pub(super) fn pending(
    endpoint_id: i64,
    event: &webhook_event::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> webhook_delivery::ActiveModel {
    webhook_delivery::ActiveModel {
        id: NotSet,
        tenant_id: Set(event.tenant_id),
        environment: Set(event.environment),
        endpoint_id: Set(endpoint_id),
        event_id: Set(event.id),
        event_type: Set(event.event_type.clone()),
        status: Set(WebhookDeliveryStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        last_attempt_at: Set(None),
        response_status: Set(None),
        response_body_excerpt: Set(None),
        error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Records a lead event (`lead.created`, ...) carrying the lead as it is now.
pub async fn emit_lead<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    event: EventType,
    lead: &lead::Model,
) -> Result<(), DomainError> {
    emit(
        db,
        p.tenant_id,
        p.environment,
        event,
        &EventData::lead(lead),
    )
    .await
}

/// Records `lead.status_changed`, with the status the lead left.
pub async fn emit_status_changed<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    lead: &lead::Model,
    from: entity::LeadStatus,
) -> Result<(), DomainError> {
    let data = EventData {
        previous_status: Some(sea_orm::ActiveEnum::to_value(&from)),
        ..EventData::lead(lead)
    };
    emit(
        db,
        p.tenant_id,
        p.environment,
        EventType::LeadStatusChanged,
        &data,
    )
    .await
}

/// Records a job event (`import.completed`, `dedupe.completed`) whose `data`
/// is `payload`, a JSON object such as `{"dedupeRun": {"id": …, …}}` with
/// public ids (delivered as is). Anything but an object is refused.
pub async fn emit_job<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    event: EventType,
    payload: serde_json::Value,
) -> Result<(), DomainError> {
    let serde_json::Value::Object(fields) = payload else {
        return Err(DomainError::Internal(anyhow::anyhow!(
            "the payload of a {} event must be a JSON object",
            event.as_str()
        )));
    };
    let data = EventData {
        job: Some(fields),
        ..EventData::default()
    };
    emit(db, p.tenant_id, p.environment, event, &data).await
}
