//! Creating leads: every create is a batch (a single `createLead` is a batch of
//! one), so validation, in-batch dedupe, `onDuplicate` and scope checks are the
//! same for one lead and for five hundred.

use std::collections::HashMap;

use batch::{ChunkItem, CleanLead, RawLead};
use entity::{LeadSource, LeadStatus, lead};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseTransaction, NotSet,
    TransactionTrait,
};
use tracing::instrument;

use super::placement::{Placement, PlacementData};
use crate::{
    auth::Principal,
    clock,
    domain::{
        DomainError,
        audit::{self, Resource},
        webhooks::{self, EventType},
    },
    store,
};

/// What to do when a live lead with the same canonical email exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDuplicate {
    /// Fail the item with `duplicate`, carrying the existing lead's id.
    #[default]
    Error,
    /// Return the existing lead unchanged.
    Skip,
    /// Fill the existing lead's empty fields from the new data.
    Update,
}

/// One lead to create, as received.
#[derive(Debug, Clone)]
pub struct NewLead {
    pub raw: RawLead,
    pub source: LeadSource,
    pub market: Option<String>,
    pub team_id: Option<i64>,
    pub assigned_to_id: Option<i64>,
}

/// How an item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    Created,
    Updated,
    Skipped,
    Deleted,
}

/// The result of one item, at its index in the batch.
#[derive(Debug)]
pub struct ItemOutcome {
    pub index: usize,
    pub result: Result<(ItemStatus, lead::Model), DomainError>,
}

/// Creates a batch of leads in the caller's transaction. Item failures are
/// outcomes; only database failures make the whole call fail.
#[instrument(skip_all, fields(tenant.id = p.tenant_id, batch.items = items.len()))]
pub async fn create_leads(
    txn: &DatabaseTransaction,
    p: &Principal,
    items: Vec<NewLead>,
    on_duplicate: OnDuplicate,
) -> Result<Vec<ItemOutcome>, DomainError> {
    let places = PlacementData::load(
        txn,
        p,
        items.iter().filter_map(|i| i.team_id),
        items.iter().filter_map(|i| i.assigned_to_id),
    )
    .await?;
    let placements: Vec<Result<Placement, DomainError>> = items
        .iter()
        .map(|i| places.resolve(p, i.market.as_deref(), i.team_id, i.assigned_to_id))
        .collect();
    let regions: Vec<Option<&str>> = placements
        .iter()
        .map(|pl| pl.as_ref().ok().map(|pl| pl.market.as_str()))
        .collect();
    let chunk: Vec<ChunkItem<'_>> = items
        .iter()
        .zip(&regions)
        .map(|(i, region)| ChunkItem {
            raw: &i.raw,
            default_region: *region,
        })
        .collect();
    let cleaned = batch::process_chunk(&chunk);

    // Combine placement and field errors into one outcome per item.
    let mut ready: Vec<Result<(CleanLead, Placement), DomainError>> =
        Vec::with_capacity(items.len());
    for (placement, clean) in placements.into_iter().zip(cleaned) {
        ready.push(match (placement, clean) {
            (Ok(pl), Ok(c)) => Ok((c, pl)),
            (Err(DomainError::Validation(mut a)), Err(b)) => {
                a.extend(b);
                Err(DomainError::Validation(a))
            }
            (Err(e), _) => Err(e),
            (Ok(_), Err(fields)) => Err(DomainError::Validation(fields)),
        });
    }

    let keys: Vec<String> = ready
        .iter()
        .filter_map(|r| {
            r.as_ref()
                .ok()
                .map(|(c, _)| c.email.key.as_str().to_owned())
        })
        .collect();
    let mut existing: HashMap<String, lead::Model> = store::leads::live_by_email_keys(txn, p, keys)
        .await?
        .into_iter()
        .map(|m| (m.email_key.clone(), m))
        .collect();

    let mut outcomes = Vec::with_capacity(ready.len());
    for (index, (item, prepared)) in items.iter().zip(ready).enumerate() {
        let result = match prepared {
            Err(e) => Err(e),
            Ok((clean, placement)) => {
                let key = clean.email.key.as_str().to_owned();
                let outcome = match existing.get(&key) {
                    Some(found) => {
                        on_existing(txn, p, found, &clean, &placement, on_duplicate).await?
                    }
                    None => {
                        let kind = (item.source, LeadStatus::New);
                        insert(txn, p, kind, &clean, &placement, on_duplicate).await?
                    }
                };
                if let Ok((status, model)) = &outcome {
                    let action = match status {
                        ItemStatus::Created => Some(("lead.created", EventType::LeadCreated)),
                        ItemStatus::Updated => Some(("lead.updated", EventType::LeadUpdated)),
                        ItemStatus::Skipped | ItemStatus::Deleted => None,
                    };
                    if let Some((action, event)) = action {
                        audit::record(txn, p, action, Resource::Lead(model.id)).await?;
                        webhooks::emit_lead(txn, p, event, model).await?;
                    }
                    existing.insert(key, model.clone());
                }
                outcome
            }
        };
        outcomes.push(ItemOutcome { index, result });
    }
    Ok(outcomes)
}

pub(crate) type Outcome = Result<(ItemStatus, lead::Model), DomainError>;

/// Applies `onDuplicate` to a lead that already holds the email.
pub(crate) async fn on_existing(
    txn: &impl ConnectionTrait,
    p: &Principal,
    found: &lead::Model,
    clean: &CleanLead,
    placement: &Placement,
    on_duplicate: OnDuplicate,
) -> Result<Outcome, DomainError> {
    if !p.allows_placement(&found.market, found.team_id) {
        // Unique per environment, but invisible to this key: say so, name nothing.
        return Ok(Err(DomainError::Duplicate { existing_id: None }));
    }
    Ok(match on_duplicate {
        OnDuplicate::Error => Err(DomainError::Duplicate {
            existing_id: Some(found.id),
        }),
        OnDuplicate::Skip => Ok((ItemStatus::Skipped, found.clone())),
        OnDuplicate::Update => Ok((
            ItemStatus::Updated,
            fill(txn, found, clean, placement).await?,
        )),
    })
}

/// Fills the existing lead's empty fields from `clean`; set fields are kept.
async fn fill(
    txn: &impl ConnectionTrait,
    found: &lead::Model,
    clean: &CleanLead,
    placement: &Placement,
) -> Result<lead::Model, DomainError> {
    let mut am: lead::ActiveModel = found.clone().into();
    let mut changed = false;
    if found.phone.is_none()
        && let Some(phone) = &clean.phone
    {
        am.phone = Set(Some(phone.as_str().to_owned()));
        changed = true;
    }
    if found.company.is_none() && clean.company.is_some() {
        am.company = Set(clean.company.clone());
        changed = true;
    }
    if found.job_title.is_none() && clean.job_title.is_some() {
        am.job_title = Set(clean.job_title.clone());
        changed = true;
    }
    if found.assigned_to_id.is_none() && placement.assigned_to_id.is_some() {
        am.assigned_to_id = Set(placement.assigned_to_id);
        changed = true;
    }
    if found.team_id.is_none() && placement.team_id.is_some() && placement.market == found.market {
        am.team_id = Set(placement.team_id);
        changed = true;
    }
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&found.custom_fields).unwrap_or_default();
    let before = fields.len();
    for (k, v) in &clean.custom_fields {
        if fields.len() >= batch::record::canonical::CUSTOM_FIELDS_MAX_KEYS {
            break;
        }
        fields.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if fields.len() != before {
        am.custom_fields = Set(serde_json::Value::Object(fields).to_string());
        changed = true;
    }
    if !changed {
        return Ok(found.clone());
    }
    am.updated_at = Set(clock::now());
    Ok(am.update(txn).await?)
}

/// The new lead of `clean` as `p` creates it (id from the database).
pub(crate) fn new_model(
    p: &Principal,
    source: LeadSource,
    status: LeadStatus,
    clean: &CleanLead,
    placement: &Placement,
) -> lead::ActiveModel {
    let now = clock::now();
    lead::ActiveModel {
        id: NotSet,
        tenant_id: Set(p.tenant_id),
        environment: Set(p.environment),
        email: Set(clean.email.display.clone()),
        email_key: Set(clean.email.key.as_str().to_owned()),
        first_name: Set(clean.first_name.clone()),
        last_name: Set(clean.last_name.clone()),
        phone: Set(clean.phone.as_ref().map(|ph| ph.as_str().to_owned())),
        company: Set(clean.company.clone()),
        job_title: Set(clean.job_title.clone()),
        source: Set(source),
        status: Set(status),
        score: Set(i32::from(clean.score.value())),
        custom_fields: Set(serde_json::Value::Object(clean.custom_fields.clone()).to_string()),
        market: Set(placement.market.clone()),
        team_id: Set(placement.team_id),
        assigned_to_id: Set(placement.assigned_to_id),
        created_by_id: Set(Some(p.acting_user_id)),
        merged_into_id: Set(None),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Inserts a new lead inside a savepoint; a unique-index race (another request
/// inserted the same email meanwhile) falls back to `onDuplicate`.
pub(crate) async fn insert(
    txn: &DatabaseTransaction,
    p: &Principal,
    (source, status): (LeadSource, LeadStatus),
    clean: &CleanLead,
    placement: &Placement,
    on_duplicate: OnDuplicate,
) -> Result<Outcome, DomainError> {
    let am = new_model(p, source, status, clean, placement);
    let savepoint = txn.begin().await?;
    match am.insert(&savepoint).await {
        Ok(model) => {
            savepoint.commit().await?;
            Ok(Ok((ItemStatus::Created, model)))
        }
        Err(err) if DomainError::is_unique_violation(&err) => {
            savepoint.rollback().await?;
            let key = clean.email.key.as_str().to_owned();
            let winner = store::leads::live_by_email_keys(txn, p, vec![key]).await?;
            match winner.first() {
                Some(found) => on_existing(txn, p, found, clean, placement, on_duplicate).await,
                None => Ok(Err(DomainError::Duplicate { existing_id: None })),
            }
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use entity::Environment;
    use sea_orm::EntityTrait;

    use super::*;
    use crate::auth::{OpSet, principal::Snapshot};

    /// A lead inserted on its own keeps the status it is given. The import's
    /// row-by-row path (a chunk that lost a unique-index race) goes through
    /// here, and this insert used to store every lead as `NEW`, whatever the
    /// row's `status` cell said (the bulk path kept it).
    #[tokio::test]
    async fn a_lead_inserted_on_its_own_keeps_its_source_and_status() {
        let (_dir, db, created) = crate::test_support::acme_db().await;
        let key_id = entity::api_key::Entity::find()
            .one(&db)
            .await
            .expect("query")
            .expect("the tenant's key")
            .id;
        let snapshot = Snapshot {
            key_id,
            owner_user_id: created.owner.id,
            acting_user_id: created.owner.id,
            ops: OpSet::full().to_storage(),
            markets: None,
            teams: None,
            plan: "enterprise".into(),
        };
        let p = Principal::from_snapshot(
            &snapshot,
            created.tenant.id,
            Environment::Live,
            "test".into(),
        );
        let raw = RawLead {
            email: Some("q@example.com".into()),
            first_name: Some("Q".into()),
            last_name: Some("One".into()),
            ..RawLead::default()
        };
        let clean = batch::validate_new(&raw, Some("US")).expect("valid");
        let placement = Placement {
            market: "US".into(),
            team_id: None,
            assigned_to_id: None,
        };
        let txn = store::begin_write(&db).await.expect("begin");
        let kind = (LeadSource::Import, LeadStatus::Qualified);
        let (status, model) = insert(&txn, &p, kind, &clean, &placement, OnDuplicate::Error)
            .await
            .expect("insert")
            .expect("created");
        txn.commit().await.expect("commit");
        assert_eq!(status, ItemStatus::Created);
        let stored = lead::Entity::find_by_id(model.id)
            .one(&db)
            .await
            .expect("query")
            .expect("the lead");
        assert_eq!(
            (stored.source, stored.status),
            (LeadSource::Import, LeadStatus::Qualified)
        );
    }
}
