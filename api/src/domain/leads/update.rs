//! Updating, deleting and assigning a lead.

use batch::{FieldCode, LeadPatch};
use entity::lead;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    TransactionTrait,
};
use tracing::instrument;

use super::placement::PlacementData;
use crate::domain::audit::{self, Resource};
use crate::domain::webhooks::{self, EventType};
use crate::{auth::Principal, clock, domain::DomainError, store};

/// Changes to a lead. `None` leaves a field alone; for nullable fields
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct LeadChanges {
    pub patch: LeadPatch,
    pub source: Option<entity::LeadSource>,
    pub market: Option<String>,
    pub team_id: Option<Option<i64>>,
    pub assigned_to_id: Option<Option<i64>>,
}

/// Updates a lead in scope; moving it outside the caller's scope is `forbidden`.
#[instrument(skip_all, fields(tenant.id = p.tenant_id, lead.id = id))]
pub async fn update_lead(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
    changes: LeadChanges,
) -> Result<lead::Model, DomainError> {
    let found = store::leads::get_writable(txn, p, id).await?;
    let team_id = changes.team_id.unwrap_or(found.team_id);
    let assigned_to_id = changes.assigned_to_id.unwrap_or(found.assigned_to_id);
    let market = changes
        .market
        .clone()
        .unwrap_or_else(|| found.market.clone());
    let places = PlacementData::load(txn, p, team_id, assigned_to_id).await?;
    // An unchanged assignee who was deactivated since stays assigned.
    let check_assignee = changes
        .assigned_to_id
        .is_some()
        .then_some(assigned_to_id)
        .flatten();
    let placement = places.resolve(p, Some(&market), team_id, check_assignee)?;
    let clean = batch::validate_patch(&changes.patch, Some(&placement.market))
        .map_err(DomainError::Validation)?;

    let mut am: lead::ActiveModel = found.clone().into();
    if let Some(email) = &clean.email {
        if email.key.as_str() != found.email_key {
            let others =
                store::leads::live_by_email_keys(txn, p, vec![email.key.as_str().to_owned()])
                    .await?;
            if let Some(other) = others.iter().find(|o| o.id != found.id) {
                let visible = p.allows_placement(&other.market, other.team_id);
                return Err(DomainError::Duplicate {
                    existing_id: visible.then_some(other.id),
                });
            }
        }
        am.email = Set(email.display.clone());
        am.email_key = Set(email.key.as_str().to_owned());
    }
    if let Some(v) = &clean.first_name {
        am.first_name = Set(v.clone());
    }
    if let Some(v) = &clean.last_name {
        am.last_name = Set(v.clone());
    }
    if let Some(v) = &clean.phone {
        am.phone = Set(v.as_ref().map(|ph| ph.as_str().to_owned()));
    }
    if let Some(v) = &clean.company {
        am.company = Set(v.clone());
    }
    if let Some(v) = &clean.job_title {
        am.job_title = Set(v.clone());
    }
    if let Some(v) = clean.score {
        am.score = Set(i32::from(v.value()));
    }
    if let Some(v) = &clean.custom_fields {
        am.custom_fields = Set(serde_json::Value::Object(v.clone()).to_string());
    }
    if let Some(source) = changes.source {
        am.source = Set(source);
    }
    am.market = Set(placement.market);
    am.team_id = Set(placement.team_id);
    am.assigned_to_id = Set(assigned_to_id);
    am.updated_at = Set(clock::now());

    let savepoint = txn.begin().await?;
    match am.update(&savepoint).await {
        Ok(model) => {
            savepoint.commit().await?;
            audit::record(txn, p, "lead.updated", Resource::Lead(model.id)).await?;
            webhooks::emit_lead(txn, p, EventType::LeadUpdated, &model).await?;
            Ok(model)
        }
        Err(err) if DomainError::is_unique_violation(&err) => {
            savepoint.rollback().await?;
            Err(DomainError::Duplicate { existing_id: None })
        }
        Err(err) => Err(err.into()),
    }
}

/// Soft-deletes a lead (it leaves every list and frees its email).
#[instrument(skip_all, fields(tenant.id = p.tenant_id, lead.id = id))]
pub async fn delete_lead(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
) -> Result<lead::Model, DomainError> {
    let found = store::leads::get_writable(txn, p, id).await?;
    let now = clock::now();
    let mut am: lead::ActiveModel = found.into();
    am.deleted_at = Set(Some(now));
    am.updated_at = Set(now);
    let model = am.update(txn).await?;
    audit::record(txn, p, "lead.deleted", Resource::Lead(model.id)).await?;
    webhooks::emit_lead(txn, p, EventType::LeadDeleted, &model).await?;
    Ok(model)
}

/// Assigns a lead to an active user of the tenant, or unassigns it (`None`).
#[instrument(skip_all, fields(tenant.id = p.tenant_id, lead.id = id))]
pub async fn assign_lead(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
    user_id: Option<i64>,
) -> Result<lead::Model, DomainError> {
    let found = store::leads::get_writable(txn, p, id).await?;
    if let Some(user_id) = user_id {
        let active = entity::user::Entity::find_by_id(user_id)
            .filter(crate::scope::users(p))
            .filter(entity::user::Column::DeactivatedAt.is_null())
            .one(txn)
            .await?;
        if active.is_none() {
            return Err(DomainError::field(
                "userId",
                FieldCode::InvalidValue,
                "no active user with this id",
            ));
        }
    }
    let mut am: lead::ActiveModel = found.into();
    am.assigned_to_id = Set(user_id);
    am.updated_at = Set(clock::now());
    let model = am.update(txn).await?;
    audit::record(txn, p, "lead.assigned", Resource::Lead(model.id)).await?;
    webhooks::emit_lead(txn, p, EventType::LeadAssigned, &model).await?;
    Ok(model)
}
