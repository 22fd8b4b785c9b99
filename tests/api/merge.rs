//! `mergeLeads`: the fill, what happens to the duplicates, refusals (nothing
//! changes then), scope, the audit log and the `lead.merged` webhook.

use leadgraph::config::ServeArgs;
use serde_json::{Value, json};

use crate::{
    helpers::{Answer, TestApp, seed_tenant, spawn_app, spawn_app_with},
    lead_support::{assert_error, delete_lead, get_lead},
    webhooks::receiver::Receiver,
};

const MERGE: &str = "mutation($s: ID!, $d: [ID!]!) { mergeLeads(survivorId: $s, duplicateIds: $d) {
    survivor { id phone company jobTitle customFields team { id } assignedTo { id } mergedInto { id } }
    merged { id email mergedInto { id } } } }";

async fn merge(app: &TestApp, key: &str, survivor: &str, duplicates: &[&str]) -> Answer {
    app.gql(key, MERGE, json!({ "s": survivor, "d": duplicates }))
        .await
}

async fn total_leads(app: &TestApp, key: &str) -> i64 {
    let answer = app.gql(key, "{ leads { totalCount } }", json!({})).await;
    answer.ok();
    answer.data("leads.totalCount").as_i64().unwrap()
}

/// The lead's `mergedInto.id`, or `None`.
async fn merged_into(app: &TestApp, id: &str) -> Option<String> {
    let answer = app
        .gql(
            &app.acme.live,
            "query($id: ID!) { lead(id: $id) { id mergedInto { id } } }",
            json!({ "id": id }),
        )
        .await;
    answer.ok();
    assert_eq!(answer.data("lead.id"), id);
    answer
        .data("lead.mergedInto.id")
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn merging_fills_the_survivors_empty_fields_and_keeps_its_set_ones() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let survivor = app
        .create_lead(
            &key,
            json!({ "company": "Acme", "customFields": { "tier": "gold" } }),
        )
        .await;
    // Donors are taken oldest first: `older` wins where both have a value.
    let older = app
        .create_lead(
            &key,
            json!({ "phone": "+14155550199", "customFields": { "region": "east", "size": 10 } }),
        )
        .await;
    let newer = app
        .create_lead(
            &key,
            json!({ "email": "newer@example.com", "phone": "+14155550100", "company": "Other",
                    "jobTitle": "CTO", "customFields": { "tier": "silver", "region": "west" } }),
        )
        .await;
    assert_eq!(total_leads(&app, &key).await, 3);

    let answer = merge(&app, &key, &survivor, &[&newer, &older]).await;
    answer.ok();
    let s = answer.data("mergeLeads.survivor");
    assert_eq!(s["id"], survivor.as_str());
    assert_eq!(s["phone"], "+14155550199");
    assert_eq!(s["company"], "Acme");
    assert_eq!(s["jobTitle"], "CTO");
    assert_eq!(
        s["customFields"],
        json!({ "tier": "gold", "region": "east", "size": 10 })
    );
    assert_eq!(s["mergedInto"], Value::Null);
    let merged = answer.data("mergeLeads.merged").as_array().unwrap();
    let ids: Vec<&str> = merged.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [newer.as_str(), older.as_str()]);
    for m in merged {
        assert_eq!(m["mergedInto"]["id"], survivor.as_str());
    }

    // The duplicates leave the lists but stay readable by id; the survivor is kept.
    assert_eq!(total_leads(&app, &key).await, 1);
    assert_eq!(merged_into(&app, &newer).await.as_deref(), Some(&*survivor));
    assert_eq!(merged_into(&app, &older).await.as_deref(), Some(&*survivor));
    let read = get_lead(&app, &survivor).await;
    assert_eq!(read.ok().data("lead.phone"), "+14155550199");

    // The duplicate's email is free again; the survivor keeps its own.
    let reused = app
        .create_lead(&key, json!({ "email": "newer@example.com" }))
        .await;
    assert_ne!(reused, newer);
    assert_eq!(total_leads(&app, &key).await, 2);
}

#[tokio::test]
async fn team_and_assignee_are_filled_only_from_the_survivors_market_and_active_users() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let us_team = app.create_team(&key, "US Sales", "US").await;
    let in_team = app.create_team(&key, "IN Sales", "IN").await;
    let gone = app.create_user(&key, "gone@acme.example").await;
    let active = app.create_user(&key, "active@acme.example").await;

    let survivor = app.create_lead(&key, json!({})).await;
    // The oldest donor's team is in another market and its assignee leaves.
    let india = app
        .create_lead(
            &key,
            json!({ "market": "IN", "teamId": in_team, "assignedToId": gone }),
        )
        .await;
    let us = app
        .create_lead(&key, json!({ "teamId": us_team, "assignedToId": active }))
        .await;
    app.gql(
        &key,
        "mutation($id: ID!) { deactivateUser(id: $id) { user { active } } }",
        json!({ "id": gone }),
    )
    .await
    .ok();

    let answer = merge(&app, &key, &survivor, &[&india, &us]).await;
    answer.ok();
    let s = answer.data("mergeLeads.survivor");
    assert_eq!(s["team"]["id"], us_team.as_str());
    assert_eq!(s["assignedTo"]["id"], active.as_str());
}

#[tokio::test]
async fn bad_id_lists_and_already_merged_or_deleted_leads_are_refused() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let survivor = app.create_lead(&key, json!({})).await;
    let dup = app.create_lead(&key, json!({})).await;
    let other = app
        .create_lead(&key, json!({ "phone": "+14155550100" }))
        .await;

    for duplicates in [
        vec![],
        vec![survivor.as_str()],
        vec![&dup, &survivor],
        vec![&dup, &dup],
    ] {
        let answer = merge(&app, &key, &survivor, &duplicates).await;
        assert_error(&answer, "bad_request", 400);
    }
    let too_many: Vec<String> = (0..101).map(|_| dup.clone()).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert_error(
        &merge(&app, &key, &survivor, &too_many).await,
        "bad_request",
        400,
    );

    merge(&app, &key, &survivor, &[&dup]).await.ok();
    // A merged lead can be neither merged again nor be a survivor.
    let again = assert_error(
        &merge(&app, &key, &other, &[&dup]).await,
        "bad_request",
        400,
    );
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .contains("already merged"),
        "{again}"
    );
    assert_error(
        &merge(&app, &key, &dup, &[&other]).await,
        "bad_request",
        400,
    );

    delete_lead(&app, &other).await;
    assert_error(
        &merge(&app, &key, &survivor, &[&other]).await,
        "not_found",
        404,
    );
    let missing = app.codec.encode(leadgraph::ids::NodeType::Lead, 999_999);
    assert_error(
        &merge(&app, &key, &survivor, &[&missing]).await,
        "not_found",
        404,
    );
}

#[tokio::test]
async fn a_lead_outside_the_callers_scope_is_not_found_and_nothing_changes() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let survivor = app.create_lead(&key, json!({})).await;
    let us_dup = app
        .create_lead(&key, json!({ "phone": "+14155550100" }))
        .await;
    let india = app.create_lead(&key, json!({ "market": "IN" })).await;
    let globex = seed_tenant(&app.db, &app.codec, "globex", &["US"]).await;
    let foreign = app.create_lead(&globex.live, json!({})).await;
    let us_only = app.create_key(&key, json!({ "markets": ["US"] })).await;

    let answer = merge(&app, &us_only, &survivor, &[&us_dup, &india]).await;
    assert_error(&answer, "not_found", 404);
    let answer = merge(&app, &key, &survivor, &[&us_dup, &foreign]).await;
    assert_error(&answer, "not_found", 404);
    let answer = merge(&app, &key, &foreign, &[&us_dup]).await;
    assert_error(&answer, "not_found", 404);

    // Nothing was written: no fill, no `mergedInto`, every lead still listed.
    let read = get_lead(&app, &survivor).await;
    assert_eq!(read.ok().data("lead.phone"), &Value::Null);
    assert_eq!(merged_into(&app, &us_dup).await, None);
    assert_eq!(merged_into(&app, &india).await, None);
    assert_eq!(total_leads(&app, &key).await, 3);
    assert_eq!(total_leads(&app, &globex.live).await, 1);
}

/// Private targets allowed (the receiver is on 127.0.0.1) and fast retries.
fn fast(args: &mut ServeArgs) {
    args.webhooks.allow_private = true;
    args.webhooks.backoff_base_ms = 50;
    args.webhooks.backoff_max_ms = 400;
    args.webhooks.poll_ms = 20;
}

#[tokio::test]
async fn a_merge_is_audited_and_delivered_as_lead_merged() {
    let app = spawn_app_with(fast).await;
    let key = app.acme.live.clone();
    let receiver = Receiver::start(0).await;
    app.gql(
        &key,
        "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
        json!({ "i": { "url": receiver.url, "eventTypes": ["lead.merged"] } }),
    )
    .await
    .ok();
    let survivor = app.create_lead(&key, json!({})).await;
    let dup = app.create_lead(&key, json!({ "company": "Acme" })).await;

    merge(&app, &key, &survivor, &[&dup]).await.ok();

    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "only lead.merged is subscribed");
    assert_eq!(got[0].event_type, "lead.merged");
    let body = got[0].json();
    assert_eq!(body["type"], "lead.merged");
    assert_eq!(body["data"]["lead"]["id"], dup.as_str());
    assert_eq!(body["data"]["lead"]["mergedIntoId"], survivor.as_str());

    let events = "query($f: AuditEventFilter) { auditEvents(first: 50, filter: $f) {
        totalCount nodes { action resourceType resourceId } } }";
    let merged = app
        .gql(&key, events, json!({ "f": { "action": ["lead.merged"] } }))
        .await;
    merged.ok();
    assert_eq!(merged.data("auditEvents.totalCount"), 1);
    assert_eq!(merged.data("auditEvents.nodes.0.resourceId"), dup.as_str());
    assert_eq!(merged.data("auditEvents.nodes.0.resourceType"), "lead");
    let filled = app
        .gql(
            &key,
            events,
            json!({ "f": { "action": ["lead.updated"], "resourceId": survivor } }),
        )
        .await;
    assert_eq!(filled.ok().data("auditEvents.totalCount"), 1);

    // Status history is for status changes only: a merge adds nothing to it.
    let history = app
        .gql(
            &key,
            "query($id: ID!) { lead(id: $id) { history { totalCount } } }",
            json!({ "id": survivor }),
        )
        .await;
    assert_eq!(history.ok().data("lead.history.totalCount"), 0);
}

#[tokio::test]
async fn a_merged_lead_is_read_only() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let survivor = app.create_lead(&key, json!({})).await;
    let duplicate = app.create_lead(&key, json!({})).await;
    merge(&app, &key, &survivor, &[duplicate.as_str()])
        .await
        .ok();
    let writes = [
        "mutation($id: ID!) { updateLead(id: $id, input: {company: \"X\"}) { lead { id } } }",
        "mutation($id: ID!) { transitionLead(id: $id, to: CONTACTED) { lead { id } } }",
        "mutation($id: ID!) { assignLead(id: $id, userId: null) { lead { id } } }",
        "mutation($id: ID!) { deleteLead(id: $id) { deletedLeadId } }",
    ];
    for write in writes {
        let answer = app.gql(&key, write, json!({ "id": duplicate })).await;
        assert_eq!(answer.code(), "bad_request", "{write}: {:#}", answer.body);
    }
    // Still readable, still pointing at the survivor.
    assert_eq!(
        merged_into(&app, &duplicate).await.as_deref(),
        Some(survivor.as_str())
    );
}
