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
//!
//! Bulk dedupe runs merge through the same rules, many clusters per
//! transaction: [`plan_in_chunks`] works a cluster's merge out in memory from
//! rows the runner has locked, as successive `mergeLeads` calls would, and
//! [`write_merges`] writes any number of worked-out merges with a few
//! multi-row statements. `mergeLeads` itself is [`plan`] plus the same write.

use std::collections::{BTreeSet, HashMap, HashSet};

use batch::dedupe::{DedupeRecord, Fill, fill_survivor};
use chrono::{DateTime, Utc};
use entity::lead;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde_json::{Map, Value};
use tracing::instrument;

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
    let assignees = duplicates.iter().filter_map(|d| d.assigned_to_id);
    let active = store::users::active_ids(txn, p.tenant_id, assignees).await?;
    let merge = plan(survivor, duplicates, &active, clock::now())?;
    write_merges(txn, p, std::slice::from_ref(&merge)).await?;
    Ok((merge.survivor, merge.merged))
}

/// A merge worked out in memory, not yet written.
#[derive(Debug, Clone)]
pub struct Merge {
    /// The survivor as it ends up.
    pub survivor: lead::Model,
    /// Whether the survivor took any value (it is then written).
    pub filled: bool,
    /// The duplicates with `mergedInto` set, in the order merged.
    pub merged: Vec<lead::Model>,
    /// The survivor as each fill left it (for its `lead.updated`).
    fills: Vec<lead::Model>,
    /// The audit entries and webhook events, in order.
    changes: Vec<Change>,
}

/// One entry of a merge's history.
#[derive(Debug, Clone)]
enum Change {
    /// `fills[i]`, the survivor as a fill left it: `lead.updated`.
    Filled(usize),
    /// `merged[i]` was merged: `lead.merged`.
    Merged(usize),
}

impl Merge {
    fn new(survivor: lead::Model) -> Self {
        Self {
            survivor,
            filled: false,
            merged: Vec::new(),
            fills: Vec::new(),
            changes: Vec::new(),
        }
    }

    /// The history as `(audit action, event, lead)`, in order.
    fn history(&self) -> impl Iterator<Item = (&'static str, EventType, &lead::Model)> {
        self.changes.iter().filter_map(|c| match c {
            Change::Filled(i) => self
                .fills
                .get(*i)
                .map(|m| ("lead.updated", EventType::LeadUpdated, m)),
            Change::Merged(i) => self
                .merged
                .get(*i)
                .map(|m| ("lead.merged", EventType::LeadMerged, m)),
        })
    }

    /// Merges `duplicates` into the survivor as it stands, as one
    /// `mergeLeads` call of them (their ids already checked): refuses an
    /// already merged lead, fills the survivor (a `lead.updated` when it took
    /// anything), then merges each duplicate (`lead.merged`).
    fn take(
        &mut self,
        duplicates: Vec<lead::Model>,
        active: &BTreeSet<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if self.survivor.merged_into_id.is_some() {
            return Err(DomainError::BadRequest(
                "the survivor was already merged into another lead".into(),
            ));
        }
        let done: HashSet<i64> = self.merged.iter().map(|m| m.id).collect();
        if let Some(i) = duplicates
            .iter()
            .position(|d| d.merged_into_id.is_some() || done.contains(&d.id))
        {
            return Err(DomainError::BadRequest(format!(
                "duplicateIds[{i}] was already merged into another lead"
            )));
        }
        let fill = fill_from(&self.survivor, &duplicates, active);
        if !fill.is_empty() {
            self.survivor = apply(&self.survivor, fill, now);
            self.filled = true;
            self.changes.push(Change::Filled(self.fills.len()));
            self.fills.push(self.survivor.clone());
        }
        for mut duplicate in duplicates {
            duplicate.merged_into_id = Some(self.survivor.id);
            duplicate.updated_at = now;
            self.changes.push(Change::Merged(self.merged.len()));
            self.merged.push(duplicate);
        }
        Ok(())
    }
}

/// Works out one `mergeLeads` call: `duplicates` (in the order given) into
/// `survivor`, both as read under lock, with `active` holding (at least)
/// the duplicates' assignees that are active users.
pub fn plan(
    survivor: lead::Model,
    duplicates: Vec<lead::Model>,
    active: &BTreeSet<i64>,
    now: DateTime<Utc>,
) -> Result<Merge, DomainError> {
    let ids: Vec<i64> = duplicates.iter().map(|d| d.id).collect();
    check_ids(survivor.id, &ids)?;
    let mut merge = Merge::new(survivor);
    merge.take(duplicates, active, now)?;
    Ok(merge)
}

/// Works out a bulk dedupe cluster: `duplicates` (oldest first) merged into
/// `survivor` by successive `mergeLeads` calls of at most [`MAX_MERGE`]
/// each, in order, each later call seeing the survivor as the earlier ones
/// filled it. Refused as a whole (nothing to write) when any call would be.
pub fn plan_in_chunks(
    survivor: lead::Model,
    mut duplicates: Vec<lead::Model>,
    active: &BTreeSet<i64>,
    now: DateTime<Utc>,
) -> Result<Merge, DomainError> {
    let mut merge = Merge::new(survivor);
    while !duplicates.is_empty() {
        let rest = duplicates.split_off(duplicates.len().min(MAX_MERGE));
        let ids: Vec<i64> = duplicates.iter().map(|d| d.id).collect();
        check_ids(merge.survivor.id, &ids)?;
        merge.take(std::mem::replace(&mut duplicates, rest), active, now)?;
    }
    Ok(merge)
}

/// Writes worked-out merges (of distinct leads, locked by the caller): the
/// filled survivors, the merged duplicates, then every merge's audit
/// entries and webhook events in order, each kind in multi-row statements.
pub async fn write_merges(
    txn: &impl ConnectionTrait,
    p: &Principal,
    merges: &[Merge],
) -> Result<(), DomainError> {
    let filled: Vec<&lead::Model> = merges
        .iter()
        .filter(|m| m.filled)
        .map(|m| &m.survivor)
        .collect();
    store::leads::update_filled(txn, &filled).await?;
    let merged: Vec<&lead::Model> = merges.iter().flat_map(|m| &m.merged).collect();
    store::leads::update_merged(txn, &merged).await?;
    let history: Vec<_> = merges.iter().flat_map(Merge::history).collect();
    let entries: Vec<(&str, Resource)> = history
        .iter()
        .map(|&(action, _, m)| (action, Resource::Lead(m.id)))
        .collect();
    audit::record_many(txn, p, &entries).await?;
    let events: Vec<(EventType, &lead::Model)> =
        history.iter().map(|&(_, event, m)| (event, m)).collect();
    webhooks::emit_leads(txn, p, &events).await?;
    Ok(())
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
fn fill_from(survivor: &lead::Model, duplicates: &[lead::Model], active: &BTreeSet<i64>) -> Fill {
    let donors: Vec<DedupeRecord> = duplicates
        .iter()
        .map(|d| DedupeRecord {
            team_id: d.team_id.filter(|_| d.market == survivor.market),
            assigned_to_id: d.assigned_to_id.filter(|u| active.contains(u)),
            ..record(d)
        })
        .collect();
    let donors: Vec<&DedupeRecord> = donors.iter().collect();
    fill_survivor(&record(survivor), &donors)
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

/// The survivor with `fill` written into its empty fields, updated `now`
/// (the row a write of it stores and reads back).
fn apply(survivor: &lead::Model, fill: Fill, now: DateTime<Utc>) -> lead::Model {
    let mut filled = survivor.clone();
    if let Some(v) = fill.phone {
        filled.phone = Some(v);
    }
    if let Some(v) = fill.company {
        filled.company = Some(v);
    }
    if let Some(v) = fill.job_title {
        filled.job_title = Some(v);
    }
    if let Some(v) = fill.team_id {
        filled.team_id = Some(v);
    }
    if let Some(v) = fill.assigned_to_id {
        filled.assigned_to_id = Some(v);
    }
    if !fill.custom_fields.is_empty() {
        let mut fields = custom_fields(survivor);
        fields.extend(fill.custom_fields);
        filled.custom_fields = Value::Object(fields).to_string();
    }
    filled.updated_at = now;
    filled
}

/// A live lead of tenant 1 with only its required fields, for unit tests.
#[cfg(test)]
pub(crate) fn test_lead(id: i64) -> lead::Model {
    let now = clock::now();
    lead::Model {
        id,
        tenant_id: 1,
        environment: entity::Environment::Live,
        email: format!("l{id}@example.com"),
        email_key: format!("l{id}@example.com"),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        phone: None,
        company: None,
        job_title: None,
        source: entity::LeadSource::Api,
        status: entity::LeadStatus::New,
        score: 0,
        custom_fields: "{}".into(),
        market: "US".into(),
        team_id: None,
        assigned_to_id: None,
        created_by_id: None,
        merged_into_id: None,
        deleted_at: None,
        created_at: now,
        updated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(id: i64) -> lead::Model {
        test_lead(id)
    }

    fn history(m: &Merge) -> Vec<(&'static str, i64)> {
        m.history().map(|(action, _, l)| (action, l.id)).collect()
    }

    #[test]
    fn a_cluster_is_planned_as_successive_merge_leads_calls() {
        let now = clock::now();
        let active = BTreeSet::new();
        let survivor = lead(1);
        let mut duplicates: Vec<lead::Model> = (2..=151).map(lead).collect();
        duplicates[0].company = Some("Acme".into());
        duplicates[120].job_title = Some("CTO".into());

        let merge = plan_in_chunks(survivor.clone(), duplicates.clone(), &active, now).unwrap();
        let first = plan(survivor, duplicates[..MAX_MERGE].to_vec(), &active, now).unwrap();
        let second = plan(
            first.survivor.clone(),
            duplicates[MAX_MERGE..].to_vec(),
            &active,
            now,
        )
        .unwrap();
        assert_eq!(merge.survivor, second.survivor);
        assert_eq!(merge.survivor.company.as_deref(), Some("Acme"));
        assert_eq!(merge.survivor.job_title.as_deref(), Some("CTO"));
        assert!(merge.filled);
        assert_eq!(
            history(&merge),
            [history(&first), history(&second)].concat()
        );
        assert_eq!(history(&merge)[MAX_MERGE + 1], ("lead.updated", 1));
        assert_eq!(merge.merged.len(), 150);
        assert!(merge.merged.iter().all(|m| m.merged_into_id == Some(1)));

        // Any refused call refuses the whole cluster.
        let mut merged = duplicates.clone();
        merged[130].merged_into_id = Some(99);
        assert!(plan_in_chunks(lead(1), merged, &active, now).is_err());
        let mut repeated = duplicates;
        repeated[120] = repeated[3].clone();
        assert!(plan_in_chunks(lead(1), repeated, &active, now).is_err());
    }

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
