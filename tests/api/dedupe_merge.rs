//! A real dedupe run merges exactly as `mergeLeads` does. The same leads are
//! planted in both environments of one tenant (teams and users are the
//! tenant's, so their ids match); the live ones are merged by a real run, the
//! sandbox ones by `mergeLeads` calls, cluster by cluster in the run's order,
//! at most 100 duplicates per call, oldest first (what the runner once did
//! call by call). Both must end identical: every field of every lead,
//! `mergedInto`, the audit entries and the webhook events, in order.

use std::{collections::HashMap, fmt::Debug};

use entity::{Environment, audit_event, webhook_delivery, webhook_event};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::{
    dedupe::{create_leads, lead, ok, plant, start, wait_done},
    helpers::{TestApp, spawn_app_with},
    lead_support::LEAD_FIELDS,
};

/// Duplicates `mergeLeads` takes per call.
const MAX_MERGE: usize = 100;
/// Members of the large cluster: a survivor and 130 duplicates.
const CHAIN: usize = 131;

/// Tenant-wide ids the planted leads refer to.
struct Refs {
    us_team: String,
    in_team: String,
    gone: String,
    active: String,
}

/// Plants the shared set and the large cluster; returns every lead id in
/// planting order (the same order in both environments).
async fn plant_all(app: &TestApp, key: &str, refs: &Refs) -> Vec<String> {
    let p = plant(app, key).await;
    let mut ids: Vec<String> = [
        &p.phone[..],
        &p.name_company[..],
        &p.name_domain[..],
        &p.chain[..],
        &p.apart[..],
    ]
    .concat();
    // One cluster of 131 leads: a chain where each lead shares its phone with
    // one neighbour and its name and company with the other (every key is
    // shared by two leads only, far below the junk-key limit).
    let chain: Vec<Value> = (0..CHAIN)
        .map(|j| {
            let pair = j.div_ceil(2);
            let mut more = json!({
                "phone": format!("+1 212-736-{:04}", 3000 + j / 2),
                "company": format!("Bigco {pair}"),
            });
            let extra = match j {
                0 => json!({ "customFields": { "tier": "gold" } }),
                // The oldest donor: a team in another market, an assignee
                // deactivated before the merge. Neither may be taken.
                1 => json!({ "market": "IN", "teamId": refs.in_team, "assignedToId": refs.gone }),
                2 => json!({ "customFields": { "tier": "silver", "region": "east" } }),
                3 => json!({ "teamId": refs.us_team, "assignedToId": refs.active }),
                4..=44 => json!({ "customFields": { format!("k{j}"): j } }),
                // Only the second call of 100 fills a job title, and custom
                // fields until the survivor has the most it may hold.
                120 => json!({ "jobTitle": "CTO", "customFields": { "m120": "x" } }),
                101..=130 => json!({ "customFields": { format!("m{j}"): "x", "tier": "bronze" } }),
                _ => json!({}),
            };
            crate::helpers::merge(&mut more, extra);
            lead(
                "Chain",
                &format!("Member{pair}"),
                &format!("chain{j}@bigco.example"),
                more,
            )
        })
        .collect();
    ids.extend(ok(create_leads(app, key, json!(chain)).await));
    ids
}

/// Row id -> planting index, for one environment's ids.
fn index_of(app: &TestApp, ids: &[String]) -> HashMap<i64, usize> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| (app.codec.decode(id).unwrap().1, i))
        .collect()
}

/// Every planted lead as read back (all fields and `mergedInto`), with ids
/// replaced by planting indexes and the timestamps left out.
async fn leads_as_read(app: &TestApp, key: &str, ids: &[String]) -> Vec<Value> {
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let query =
        format!("query($id: ID!) {{ lead(id: $id) {{ {LEAD_FIELDS} mergedInto {{ id }} }} }}");
    let mut out = Vec::new();
    for id in ids {
        let answer = app.gql(key, &query, json!({ "id": id })).await;
        answer.ok();
        let mut lead = answer.data("lead").clone();
        let fields = lead.as_object_mut().unwrap();
        for field in ["id", "createdAt", "updatedAt"] {
            fields.remove(field);
        }
        if let Some(into) = fields["mergedInto"]["id"].as_str() {
            fields.insert("mergedInto".into(), json!(index[into]));
        }
        out.push(lead);
    }
    out
}

/// The environment's merge audit entries in order: (action, type, index).
async fn audit_entries(
    app: &TestApp,
    env: Environment,
    index: &HashMap<i64, usize>,
) -> Vec<(String, String, usize)> {
    audit_event::Entity::find()
        .filter(audit_event::Column::TenantId.eq(app.acme.tenant_id))
        .filter(audit_event::Column::Environment.eq(env))
        .filter(audit_event::Column::Action.is_in(["lead.updated", "lead.merged"]))
        .order_by_asc(audit_event::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.resource_type, index[&e.resource_id.unwrap()]))
        .collect()
}

/// The environment's stored events in order: (type, payload), with lead ids
/// replaced by planting indexes and the timestamps left out.
async fn events(
    app: &TestApp,
    env: Environment,
    index: &HashMap<i64, usize>,
) -> Vec<(String, Value)> {
    webhook_event::Entity::find()
        .filter(webhook_event::Column::TenantId.eq(app.acme.tenant_id))
        .filter(webhook_event::Column::Environment.eq(env))
        .order_by_asc(webhook_event::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let mut payload: Value = serde_json::from_str(&e.payload).unwrap();
            let lead = payload["lead"].as_object_mut().unwrap();
            for field in ["created_at", "updated_at"] {
                lead.remove(field);
            }
            for field in ["id", "merged_into_id"] {
                if let Some(row) = lead[field].as_i64() {
                    lead.insert(field.into(), json!(index[&row]));
                }
            }
            (e.event_type, payload)
        })
        .collect()
}

/// Asserts both lists are equal, naming the first difference.
#[track_caller]
fn assert_same<T: PartialEq + Debug>(what: &str, live: &[T], sandbox: &[T]) {
    let first = (0..live.len().max(sandbox.len())).find(|&i| live.get(i) != sandbox.get(i));
    if let Some(i) = first {
        panic!(
            "{what} differ first at {i} (of {} live, {} sandbox):\nlive: {:#?}\nsandbox: {:#?}",
            live.len(),
            sandbox.len(),
            live.get(i),
            sandbox.get(i)
        );
    }
}

async fn deliveries(app: &TestApp, env: Environment) -> u64 {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::TenantId.eq(app.acme.tenant_id))
        .filter(webhook_delivery::Column::Environment.eq(env))
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_real_run_merges_exactly_as_merge_leads_calls_would() {
    // Events are stored for an endpoint but never sent.
    let app = spawn_app_with(|args| {
        args.webhooks.allow_private = true;
        args.webhooks.dispatcher = false;
    })
    .await;
    let (live, sandbox) = (app.acme.live.clone(), app.acme.sandbox.clone());
    let refs = Refs {
        us_team: app.create_team(&live, "US Sales", "US").await,
        in_team: app.create_team(&live, "IN Sales", "IN").await,
        gone: app.create_user(&live, "gone@acme.example").await,
        active: app.create_user(&live, "active@acme.example").await,
    };
    for key in [&live, &sandbox] {
        app.gql(
            key,
            "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
            json!({ "i": { "url": "http://127.0.0.1:9/hook",
                           "eventTypes": ["lead.updated", "lead.merged"] } }),
        )
        .await
        .ok();
    }
    let live_ids = plant_all(&app, &live, &refs).await;
    let sandbox_ids = plant_all(&app, &sandbox, &refs).await;
    app.gql(
        &live,
        "mutation($id: ID!) { deactivateUser(id: $id) { user { active } } }",
        json!({ "id": refs.gone }),
    )
    .await
    .ok();

    // Live: a real run.
    let run_id = start(&app, &live, false).await;
    let run = wait_done(&app, &live, &run_id).await;
    assert_eq!(run["clusterCount"], 5, "{run:#}");
    assert_eq!(run["mergedClusterCount"], 5);
    assert_eq!(run["skippedClusterCount"], 0);
    assert_eq!(run["mergedLeadCount"], 5 + CHAIN as i64 - 1);

    // Sandbox: `mergeLeads` per cluster of the run, in its order.
    let live_index: HashMap<&str, usize> = live_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    for cluster in run["clusters"]["nodes"].as_array().unwrap() {
        let members: Vec<&str> = cluster["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| sandbox_ids[live_index[m["id"].as_str().unwrap()]].as_str())
            .collect();
        for chunk in members[1..].chunks(MAX_MERGE) {
            app.gql(
                &sandbox,
                "mutation($s: ID!, $d: [ID!]!) { mergeLeads(survivorId: $s, duplicateIds: $d) { survivor { id } } }",
                json!({ "s": members[0], "d": chunk }),
            )
            .await
            .ok();
        }
    }

    // Every lead, every field.
    let live_leads = leads_as_read(&app, &live, &live_ids).await;
    let sandbox_leads = leads_as_read(&app, &sandbox, &sandbox_ids).await;
    assert_same("leads", &live_leads, &sandbox_leads);
    // The large cluster exercised what it was planted for.
    let big = live_ids.len() - CHAIN;
    let survivor = &live_leads[big];
    assert_eq!(survivor["team"]["id"], refs.us_team.as_str());
    assert_eq!(survivor["assignedTo"]["id"], refs.active.as_str());
    assert_eq!(survivor["jobTitle"], "CTO");
    assert_eq!(survivor["customFields"]["tier"], "gold");
    assert_eq!(survivor["customFields"].as_object().unwrap().len(), 50);
    assert!(
        live_leads[big + 1..]
            .iter()
            .all(|l| l["mergedInto"] == json!(big))
    );

    // The same audit entries and events, in the same order.
    let live_rows = index_of(&app, &live_ids);
    let sandbox_rows = index_of(&app, &sandbox_ids);
    let audit = audit_entries(&app, Environment::Live, &live_rows).await;
    let sandbox_audit = audit_entries(&app, Environment::Sandbox, &sandbox_rows).await;
    assert_same("audit entries", &audit, &sandbox_audit);
    let live_events = events(&app, Environment::Live, &live_rows).await;
    let sandbox_events = events(&app, Environment::Sandbox, &sandbox_rows).await;
    assert_same("events", &live_events, &sandbox_events);
    // One `lead.updated` per filling call, then a `lead.merged` per duplicate.
    let merged = 5 + CHAIN - 1;
    let filled = live_events
        .iter()
        .filter(|(t, _)| t == "lead.updated")
        .count();
    assert_eq!(live_events.len(), merged + filled, "{live_events:#?}");
    let big_updates: Vec<usize> = live_events
        .iter()
        .enumerate()
        .filter(|(_, (t, e))| t == "lead.updated" && e["lead"]["id"] == json!(big))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(big_updates.len(), 2, "one per call that filled something");
    assert_eq!(big_updates[1] - big_updates[0], MAX_MERGE + 1);
    assert_eq!(audit.len(), live_events.len());
    for env in [Environment::Live, Environment::Sandbox] {
        assert_eq!(deliveries(&app, env).await, live_events.len() as u64);
    }
}
