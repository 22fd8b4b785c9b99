//! Webhook endpoints: create (the secret is returned once), update, delete.
//!
//! An endpoint receives every event of its tenant and environment, whatever the
//! lead's market or team, with PII. So managing one needs, besides
//! `webhooks:manage` (checked by the API layer), a key that itself sees the whole
//! environment: all markets, all teams and `pii:read`. A narrower key would
//! otherwise read, through its endpoint, what its scope hides.

use std::collections::BTreeSet;

use batch::FieldCode;
use entity::{WebhookDeliveryStatus, webhook_delivery, webhook_endpoint};
use rand::{Rng, distr::Alphanumeric};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, NotSet,
    QueryFilter, sea_query::Expr,
};
use tracing::instrument;

use super::{EventType, url_policy::CheckedUrl};
use crate::{
    auth::{MarketScope, Op, Principal},
    clock,
    domain::{
        DomainError,
        audit::{self, Resource},
    },
    error::FieldError,
    scope,
};

/// Prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random base62 characters of a secret (~190 bits).
const SECRET_RANDOM_LEN: usize = 32;
/// Longest description.
const MAX_DESCRIPTION: usize = 500;

/// A new endpoint's fields. The URL was checked before the transaction began
/// (resolving a host must not hold a write lock).
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: CheckedUrl,
    pub description: Option<String>,
    /// Empty or `None`: every event.
    pub event_types: Option<Vec<String>>,
    pub enabled: bool,
}

/// Changes to an endpoint; `None` leaves a field alone. An empty description
/// clears it; an empty event type list subscribes to every event.
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    pub url: Option<CheckedUrl>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

fn require_whole_environment(p: &Principal) -> Result<(), DomainError> {
    if p.markets == MarketScope::All && p.teams.is_none() && p.can(Op::PiiRead) {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "webhook endpoints receive every lead of the environment: this needs a key \
             with all markets, all teams and `pii:read`"
                .into(),
        ))
    }
}

fn new_secret() -> String {
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(SECRET_RANDOM_LEN)
        .map(char::from)
        .collect();
    format!("{SECRET_PREFIX}{random}")
}

/// Storage form of an event filter; unknown types are field errors.
fn event_types(list: &[String], errors: &mut Vec<FieldError>) -> String {
    let mut known = BTreeSet::new();
    for name in list {
        match EventType::parse(name.trim()) {
            Some(t) => {
                known.insert(t.as_str());
            }
            None => errors.push(FieldError::new(
                "eventTypes",
                FieldCode::InvalidValue,
                format!("unknown event type `{name}`"),
            )),
        }
    }
    known.into_iter().collect::<Vec<_>>().join(" ")
}

fn description(raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let d = raw.trim();
    if d.chars().count() > MAX_DESCRIPTION {
        errors.push(FieldError::new(
            "description",
            FieldCode::TooLong,
            "at most 500 characters",
        ));
    }
    (!d.is_empty()).then(|| d.to_owned())
}

/// Creates an endpoint; returns it with its signing secret (shown this once).
#[instrument(skip_all, fields(tenant.id = p.tenant_id))]
pub async fn create_endpoint(
    txn: &DatabaseTransaction,
    p: &Principal,
    input: NewEndpoint,
) -> Result<(webhook_endpoint::Model, String), DomainError> {
    require_whole_environment(p)?;
    let mut errors = Vec::new();
    let event_types = event_types(
        input.event_types.as_deref().unwrap_or_default(),
        &mut errors,
    );
    let description = input
        .description
        .as_deref()
        .and_then(|d| description(d, &mut errors));
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    let secret = new_secret();
    let now = clock::now();
    let model = webhook_endpoint::ActiveModel {
        id: NotSet,
        tenant_id: Set(p.tenant_id),
        environment: Set(p.environment),
        url: Set(input.url.as_str().to_owned()),
        description: Set(description),
        event_types: Set(event_types),
        secret: Set(secret.clone()),
        enabled: Set(input.enabled),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(txn)
    .await?;
    audit::record(
        txn,
        p,
        "webhook_endpoint.created",
        Resource::WebhookEndpoint(model.id),
    )
    .await?;
    Ok((model, secret))
}

/// A live (not deleted) endpoint of the caller's tenant and environment.
async fn live(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
) -> Result<webhook_endpoint::Model, DomainError> {
    webhook_endpoint::Entity::find_by_id(id)
        .filter(scope::webhook_endpoints(p))
        .filter(webhook_endpoint::Column::DeletedAt.is_null())
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound)
}

/// Gives up the endpoint's unfinished deliveries (it was disabled or deleted).
async fn give_up_pending(
    txn: &DatabaseTransaction,
    endpoint_id: i64,
    why: &str,
) -> Result<(), DomainError> {
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(sea_orm::ActiveEnum::to_value(
                &WebhookDeliveryStatus::GivenUp,
            )),
        )
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(webhook_delivery::Column::Error, Expr::value(why))
        .col_expr(
            webhook_delivery::Column::UpdatedAt,
            Expr::value(clock::now()),
        )
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .filter(webhook_delivery::Column::Status.is_in([
            WebhookDeliveryStatus::Pending,
            WebhookDeliveryStatus::Failed,
        ]))
        .exec(txn)
        .await?;
    Ok(())
}

/// Updates an endpoint. Disabling it gives up its unfinished deliveries: a
/// disabled endpoint receives nothing, and events meanwhile are not queued for it
/// (`redeliverWebhook` can send one again once it is enabled).
#[instrument(skip_all, fields(tenant.id = p.tenant_id, webhook_endpoint.id = id))]
pub async fn update_endpoint(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
    changes: EndpointChanges,
) -> Result<webhook_endpoint::Model, DomainError> {
    require_whole_environment(p)?;
    let found = live(txn, p, id).await?;
    let mut errors = Vec::new();
    let mut am: webhook_endpoint::ActiveModel = found.clone().into();
    if let Some(url) = &changes.url {
        am.url = Set(url.as_str().to_owned());
    }
    if let Some(d) = &changes.description {
        am.description = Set(description(d, &mut errors));
    }
    if let Some(list) = &changes.event_types {
        am.event_types = Set(event_types(list, &mut errors));
    }
    if let Some(enabled) = changes.enabled {
        am.enabled = Set(enabled);
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    am.updated_at = Set(clock::now());
    let model = am.update(txn).await?;
    if found.enabled && !model.enabled {
        give_up_pending(txn, model.id, "the endpoint was disabled").await?;
    }
    audit::record(
        txn,
        p,
        "webhook_endpoint.updated",
        Resource::WebhookEndpoint(model.id),
    )
    .await?;
    Ok(model)
}

/// Soft-deletes an endpoint and gives up its unfinished deliveries. Its
/// deliveries stay listed in `webhookDeliveries`.
#[instrument(skip_all, fields(tenant.id = p.tenant_id, webhook_endpoint.id = id))]
pub async fn delete_endpoint(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
) -> Result<webhook_endpoint::Model, DomainError> {
    require_whole_environment(p)?;
    let found = live(txn, p, id).await?;
    let now = clock::now();
    let mut am: webhook_endpoint::ActiveModel = found.into();
    am.deleted_at = Set(Some(now));
    am.enabled = Set(false);
    am.updated_at = Set(now);
    let model = am.update(txn).await?;
    give_up_pending(txn, model.id, "the endpoint was deleted").await?;
    audit::record(
        txn,
        p,
        "webhook_endpoint.deleted",
        Resource::WebhookEndpoint(model.id),
    )
    .await?;
    Ok(model)
}
