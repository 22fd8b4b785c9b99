//! Merging duplicates into a survivor the caller chose (`mergeLeads`).
//!
//! Contract:
//! - Every lead is live and in the caller's scope: an unknown, deleted or
//!   out-of-scope id is `not_found`; one already merged is `bad_request`, as are
//!   an empty or oversized list, repeated ids and the survivor among the
//!   duplicates.
//! - The survivor keeps every value it has; its empty fields are filled from the
//!   duplicates, oldest first, by the bulk dedupe's rules
//!   ([`batch::dedupe::fill_survivor`]). A duplicate's team is offered only when
//!   it is in the survivor's market, its assignee only while active.
//! - Each duplicate gets `mergedInto = survivor`: it leaves every list and frees
//!   its email, and stays readable by id.
//! - History is the audit log plus `mergedInto`: `lead.merged` per duplicate,
//!   `lead.updated` for the survivor when it was filled. Status history
//!   (`lead_transitions`) is for status changes only and is not written.
//! - Webhooks: `lead.updated` for a filled survivor, then `lead.merged` per
//!   duplicate (its `mergedIntoId` names the survivor).
//! - Everything is written in the caller's transaction; nothing commits here.

use std::collections::{BTreeSet, HashMap};

use batch::dedupe::{DedupeRecord, Fill, fill_survivor};
use entity::lead;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction};
use serde_json::{Map, Value};
use tracing::instrument;

use super::placement::PlacementData;
use crate::domain::audit::{self, Resource};
use crate::domain::webhooks::{self, EventType};
use crate::{auth::Principal, clock, domain::DomainError, store};

/// Most duplicates one `mergeLeads` call takes.
pub const MAX_MERGE: usize = 100;

/// Merges `duplicate_ids` into `survivor_id`; returns the survivor after the
/// fill and the merged duplicates (in the order given).
#[instrument(skip_all, fields(tenant.id = p.tenant_id, lead.id = survivor_id, merge.duplicates = duplicate_ids.len()))]
pub async fn merge_leads(
    txn: &DatabaseTransaction,
    p: &Principal,
    survivor_id: i64,
    duplicate_ids: Vec<i64>,
) -> Result<(lead::Model, Vec<lead::Model>), DomainError> {
    check_ids(survivor_id, &duplicate_ids)?;
    let mut ids = duplicate_ids.clone();
    ids.push(survivor_id);
    let mut found: HashMap<i64, lead::Model> = store::leads::get_many_for_update(txn, p, ids)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let survivor = found.remove(&survivor_id).ok_or(DomainError::NotFound)?;
    let duplicates = duplicate_ids
        .iter()
        .map(|id| found.remove(id).ok_or(DomainError::NotFound))
        .collect::<Result<Vec<_>, _>>()?;
    if survivor.merged_into_id.is_some() {
        return Err(DomainError::BadRequest(
            "the survivor was already merged into another lead".into(),
        ));
    }
    if let Some(i) = duplicates.iter().position(|d| d.merged_into_id.is_some()) {
        return Err(DomainError::BadRequest(format!(
            "duplicateIds[{i}] was already merged into another lead"
        )));
    }

    let fill = fill_from(txn, p, &survivor, &duplicates).await?;
    let now = clock::now();
    let survivor = if fill.is_empty() {
        survivor
    } else {
        let filled = apply(&survivor, fill, now).update(txn).await?;
        audit::record(txn, p, "lead.updated", Resource::Lead(filled.id)).await?;
        webhooks::emit_lead(txn, p, EventType::LeadUpdated, &filled).await?;
        filled
    };

    let mut merged = Vec::with_capacity(duplicates.len());
    for duplicate in duplicates {
        let mut am: lead::ActiveModel = duplicate.into();
        am.merged_into_id = Set(Some(survivor.id));
        am.updated_at = Set(now);
        let model = am.update(txn).await?;
        audit::record(txn, p, "lead.merged", Resource::Lead(model.id)).await?;
        webhooks::emit_lead(txn, p, EventType::LeadMerged, &model).await?;
        merged.push(model);
    }
    Ok((survivor, merged))
}

/// Refuses an empty or oversized list, repeated ids and the survivor among
/// the duplicates.
fn check_ids(survivor_id: i64, duplicate_ids: &[i64]) -> Result<(), DomainError> {
    let bad = |msg: String| Err(DomainError::BadRequest(msg));
    match duplicate_ids.len() {
        0 => return bad("name at least one duplicate to merge".into()),
        n if n > MAX_MERGE => {
            return bad(format!(
                "at most {MAX_MERGE} duplicates can be merged at once, got {n}"
            ));
        }
        _ => {}
    }
    if duplicate_ids.contains(&survivor_id) {
        return bad("the survivor cannot also be one of the duplicates".into());
    }
    let distinct: BTreeSet<i64> = duplicate_ids.iter().copied().collect();
    if distinct.len() != duplicate_ids.len() {
        return bad("duplicateIds repeats an id".into());
    }
    Ok(())
}

/// What the survivor takes from the duplicates. `fill_survivor` knows nothing
/// of markets or deactivated users, so a donor's team in another market and a
/// deactivated assignee are hidden from it: the next donor's value is used.
async fn fill_from(
    txn: &DatabaseTransaction,
    p: &Principal,
    survivor: &lead::Model,
    duplicates: &[lead::Model],
) -> Result<Fill, DomainError> {
    let assignees = duplicates.iter().filter_map(|d| d.assigned_to_id);
    let active = PlacementData::load(txn, p, [], assignees)
        .await?
        .active_users;
    let donors: Vec<DedupeRecord> = duplicates
        .iter()
        .map(|d| DedupeRecord {
            team_id: d.team_id.filter(|_| d.market == survivor.market),
            assigned_to_id: d.assigned_to_id.filter(|u| active.contains(u)),
            ..record(d)
        })
        .collect();
    let donors: Vec<&DedupeRecord> = donors.iter().collect();
    Ok(fill_survivor(&record(survivor), &donors))
}

/// A lead as the dedupe rules see it.
fn record(m: &lead::Model) -> DedupeRecord {
    DedupeRecord {
        id: m.id,
        created_at_micros: m.created_at.timestamp_micros(),
        email_key: m.email_key.clone(),
        phone: m.phone.clone(),
        first_name: m.first_name.clone(),
        last_name: m.last_name.clone(),
        company: m.company.clone(),
        job_title: m.job_title.clone(),
        custom_fields: custom_fields(m),
        team_id: m.team_id,
        assigned_to_id: m.assigned_to_id,
    }
}

fn custom_fields(m: &lead::Model) -> Map<String, Value> {
    serde_json::from_str(&m.custom_fields).unwrap_or_default()
}

/// The survivor with `fill` written into its empty fields.
fn apply(
    survivor: &lead::Model,
    fill: Fill,
    now: chrono::DateTime<chrono::Utc>,
) -> lead::ActiveModel {
    let mut am: lead::ActiveModel = survivor.clone().into();
    if let Some(v) = fill.phone {
        am.phone = Set(Some(v));
    }
    if let Some(v) = fill.company {
        am.company = Set(Some(v));
    }
    if let Some(v) = fill.job_title {
        am.job_title = Set(Some(v));
    }
    if let Some(v) = fill.team_id {
        am.team_id = Set(Some(v));
    }
    if let Some(v) = fill.assigned_to_id {
        am.assigned_to_id = Set(Some(v));
    }
    if !fill.custom_fields.is_empty() {
        let mut fields = custom_fields(survivor);
        fields.extend(fill.custom_fields);
        am.custom_fields = Set(Value::Object(fields).to_string());
    }
    am.updated_at = Set(now);
    am
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_anything_is_read() {
        let code = |r: Result<(), DomainError>| r.err().map(|e| e.code().slug());
        assert_eq!(code(check_ids(1, &[2, 3])), None);
        assert_eq!(code(check_ids(1, &[])), Some("bad_request"));
        assert_eq!(code(check_ids(1, &[2, 1])), Some("bad_request"));
        assert_eq!(code(check_ids(1, &[2, 2])), Some("bad_request"));
        let many: Vec<i64> = (2..=(MAX_MERGE as i64 + 1)).collect();
        assert_eq!(code(check_ids(1, &many)), None);
        let too_many: Vec<i64> = (2..=(MAX_MERGE as i64 + 2)).collect();
        assert_eq!(code(check_ids(1, &too_many)), Some("bad_request"));
    }
}
