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
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, NotSet,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, sea_query::Query,
};

use super::{EventData, EventType, subscribes};
use crate::{auth::Principal, clock, domain::DomainError, store};

/// Records `event` for a tenant and environment, with a delivery to each enabled
/// endpoint subscribed to it.
pub async fn emit<C: ConnectionTrait>(
    db: &C,
    tenant_id: i64,
    environment: Environment,
    event: EventType,
    data: &EventData,
) -> Result<(), DomainError> {
    let endpoints: Vec<i64> = endpoints(db, tenant_id, environment)
        .await?
        .into_iter()
        .filter(|(_, types)| subscribes(types, event))
        .map(|(id, _)| id)
        .collect();
    if endpoints.is_empty() {
        return Ok(());
    }
    let now = clock::now();
    let row = webhook_event::ActiveModel {
        id: NotSet,
        tenant_id: Set(tenant_id),
        environment: Set(environment),
        event_type: Set(event.as_str().to_owned()),
        payload: Set(serialize(data)?),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    webhook_delivery::Entity::insert_many(endpoints.into_iter().map(|id| pending(id, &row, now)))
        .exec(db)
        .await?;
    Ok(())
}

/// The enabled endpoints of a tenant and environment, as `(id, event
/// types)` in id order.
async fn endpoints<C: ConnectionTrait>(
    db: &C,
    tenant_id: i64,
    environment: Environment,
) -> Result<Vec<(i64, String)>, DbErr> {
    webhook_endpoint::Entity::find()
        .select_only()
        .columns([
            webhook_endpoint::Column::Id,
            webhook_endpoint::Column::EventTypes,
        ])
        .filter(webhook_endpoint::Column::TenantId.eq(tenant_id))
        .filter(webhook_endpoint::Column::Environment.eq(environment))
        .filter(webhook_endpoint::Column::DeletedAt.is_null())
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .order_by_asc(webhook_endpoint::Column::Id)
        .into_tuple()
        .all(db)
        .await
}

/// An event's stored payload.
fn serialize(data: &EventData) -> Result<String, DomainError> {
    serde_json::to_string(data)
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("serialising an event: {e}")))
}

/// A new delivery of `event` to `endpoint_id`, due now.
pub(super) fn pending(
    endpoint_id: i64,
    event: &webhook_event::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> webhook_delivery::ActiveModel {
    delivery(
        endpoint_id,
        (event.tenant_id, event.environment),
        (event.id, event.event_type.clone()),
        now,
    )
}

/// A new delivery to `endpoint_id` of the event `(id, type)` of a tenant
/// and environment, due now.
pub(crate) fn delivery(
    endpoint_id: i64,
    (tenant_id, environment): (i64, Environment),
    (event_id, event_type): (i64, String),
    now: chrono::DateTime<chrono::Utc>,
) -> webhook_delivery::ActiveModel {
    webhook_delivery::ActiveModel {
        id: NotSet,
        tenant_id: Set(tenant_id),
        environment: Set(environment),
        endpoint_id: Set(endpoint_id),
        event_id: Set(event_id),
        event_type: Set(event_type),
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

/// Events per multi-row `INSERT` of [`emit_leads`] (5 values each).
const EVENT_BATCH: usize = 250;
/// Deliveries per multi-row `INSERT` of [`emit_leads`] (14 values each).
const DELIVERY_BATCH: usize = 250;

/// Records lead events in order (their ids follow it), as [`emit_lead`]
/// would one by one: the same rows and payloads, with one read of the
/// endpoints and multi-row statements. Nothing is serialised when no
/// endpoint subscribes.
pub async fn emit_leads<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    events: &[(EventType, &lead::Model)],
) -> Result<(), DomainError> {
    let endpoints = endpoints(db, p.tenant_id, p.environment).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let subscribed = |event: EventType| endpoints.iter().any(|(_, t)| subscribes(t, event));
    let now = clock::now();
    let rows = events
        .iter()
        .filter(|(event, _)| subscribed(*event))
        .map(|&(event, lead)| {
            Ok(webhook_event::ActiveModel {
                id: NotSet,
                tenant_id: Set(p.tenant_id),
                environment: Set(p.environment),
                event_type: Set(event.as_str().to_owned()),
                payload: Set(serialize(&EventData::lead(lead))?),
                created_at: Set(now),
            })
        })
        .collect::<Result<Vec<_>, DomainError>>()?;
    let owner = (p.tenant_id, p.environment);
    for batch in store::fixed_batches(&rows, EVENT_BATCH) {
        let mut insert = webhook_event::Entity::insert_many(batch.to_vec()).into_query();
        insert.returning(
            Query::returning()
                .columns([webhook_event::Column::Id, webhook_event::Column::EventType]),
        );
        let mut stored: Vec<(i64, String)> = Vec::with_capacity(batch.len());
        for row in db.query_all(&insert).await? {
            stored.push((row.try_get("", "id")?, row.try_get("", "event_type")?));
        }
        // `RETURNING` order is unspecified; the ids follow the rows' order.
        stored.sort_unstable_by_key(|(id, _)| *id);
        let mut deliveries = Vec::new();
        for (event_id, event_type) in stored {
            let Some(event) = EventType::parse(&event_type) else {
                continue;
            };
            for (endpoint, types) in &endpoints {
                if subscribes(types, event) {
                    deliveries.push(delivery(
                        *endpoint,
                        owner,
                        (event_id, event_type.clone()),
                        now,
                    ));
                }
            }
        }
        for batch in store::fixed_batches(&deliveries, DELIVERY_BATCH) {
            webhook_delivery::Entity::insert_many(batch.to_vec())
                .exec_without_returning(db)
                .await?;
        }
    }
    Ok(())
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
