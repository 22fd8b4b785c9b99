//! `X-On-Behalf-Of` impersonation and the audit log (`auditEvents`).

use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, lead_input, seed_tenant, spawn_app};

async fn as_user(app: &TestApp, key: &str, user: &str, query: &str, variables: Value) -> Answer {
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("x-api-key", key)
        .header("x-on-behalf-of", user)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    Answer {
        status: resp.status().as_u16(),
        body: resp.json().await.unwrap(),
    }
}

const CREATE: &str =
    "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id createdBy { id } } } }";

const EVENTS: &str = "query($f: AuditEventFilter) { auditEvents(first: 100, filter: $f) {
    totalCount nodes { action resourceType resourceId apiKeyId requestId actor { id } keyOwner { id } } } }";

#[tokio::test]
async fn on_behalf_of_attributes_the_write_to_that_user_and_the_audit_log_keeps_both() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let member = app.create_user(&key, "member@acme.example").await;
    let answer = as_user(
        &app,
        &key,
        &member,
        CREATE,
        json!({ "i": lead_input(json!({})) }),
    )
    .await;
    answer.ok();
    assert_eq!(answer.data("createLead.lead.createdBy.id"), member.as_str());
    let lead = answer
        .data("createLead.lead.id")
        .as_str()
        .unwrap()
        .to_owned();

    let events = app
        .gql(
            &key,
            EVENTS,
            json!({ "f": { "action": ["lead.created"], "resourceId": lead } }),
        )
        .await;
    events.ok();
    assert_eq!(events.data("auditEvents.totalCount"), 1);
    let event = events.data("auditEvents.nodes.0");
    assert_eq!(event["actor"]["id"], member.as_str());
    assert_eq!(event["keyOwner"]["id"], app.acme.owner_id.as_str());
    assert_eq!(event["resourceType"], "lead");
    assert!(event["requestId"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(event["apiKeyId"].as_str().is_some());

    // Filtering by actor finds it too; the owner acted on nothing yet but the user.
    let by_actor = app
        .gql(&key, EVENTS, json!({ "f": { "actorId": member } }))
        .await;
    assert_eq!(by_actor.ok().data("auditEvents.totalCount"), 1);
}

#[tokio::test]
async fn on_behalf_of_refuses_other_tenants_deactivated_users_and_garbage() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let other = seed_tenant(&app.db, &app.codec, "globex", &["US"]).await;
    let gone = app.create_user(&key, "gone@acme.example").await;
    app.gql(
        &key,
        "mutation($id: ID!) { deactivateUser(id: $id) { user { active } } }",
        json!({ "id": gone }),
    )
    .await
    .ok();
    for user in [other.owner_id.as_str(), gone.as_str(), "garbage", ""] {
        let answer = as_user(&app, &key, user, "{ viewer { environment } }", json!({})).await;
        assert_eq!(answer.status, 403, "{user}: {:#}", answer.body);
        assert_eq!(answer.code(), "forbidden");
        assert_eq!(answer.errors()[0]["extensions"]["status"], 403);
    }
}

#[tokio::test]
async fn every_write_kind_leaves_an_audit_entry() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let lead = app.create_lead(&key, json!({})).await;
    let user = app.create_user(&key, "u@acme.example").await;
    let team = app.create_team(&key, "Sales", "US").await;
    let mutations = [
        (
            "mutation($id: ID!) { updateLead(id: $id, input: {company: \"X\"}) { lead { id } } }",
            json!({ "id": lead }),
        ),
        (
            "mutation($id: ID!) { transitionLead(id: $id, to: CONTACTED) { lead { id } } }",
            json!({ "id": lead }),
        ),
        (
            "mutation($id: ID!, $u: ID) { assignLead(id: $id, userId: $u) { lead { id } } }",
            json!({ "id": lead, "u": user }),
        ),
        (
            "mutation($id: ID!) { deleteLead(id: $id) { deletedLeadId } }",
            json!({ "id": lead }),
        ),
        (
            "mutation($id: ID!) { deactivateUser(id: $id) { user { id } } }",
            json!({ "id": user }),
        ),
    ];
    for (query, vars) in mutations {
        app.gql(&key, query, vars).await.ok();
    }
    let minted = app
        .gql(&key, "mutation { createApiKey(input: {name: \"k\", operations: [\"leads:read\"]}) { apiKey { id } } }", json!({}))
        .await;
    let minted_id = minted.ok().data("createApiKey.apiKey.id").clone();
    app.gql(
        &key,
        "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }",
        json!({ "id": minted_id }),
    )
    .await
    .ok();
    app.gql(
        &key,
        "mutation($i: [CreateLeadInput!]!) { createLeads(inputs: $i) { created } }",
        json!({ "i": [lead_input(json!({})), lead_input(json!({}))] }),
    )
    .await
    .ok();

    let events = app.gql(&key, EVENTS, json!({})).await;
    events.ok();
    let mut actions: Vec<String> = events
        .data("auditEvents.nodes")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "api_key.created",
            "api_key.revoked",
            "lead.assigned",
            "lead.created",
            "lead.created",
            "lead.created",
            "lead.deleted",
            "lead.status_changed",
            "lead.updated",
            "team.created",
            "user.created",
            "user.deactivated",
        ]
    );
    let team_events = app
        .gql(&key, EVENTS, json!({ "f": { "resourceId": team } }))
        .await;
    assert_eq!(
        team_events.ok().data("auditEvents.nodes.0.action"),
        "team.created"
    );
}

#[tokio::test]
async fn a_failed_write_leaves_no_entry_and_reading_needs_audit_read() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    app.create_lead(&key, json!({ "email": "dup@example.com" }))
        .await;
    let dup = app
        .gql(
            &key,
            CREATE,
            json!({ "i": lead_input(json!({ "email": "dup@example.com" })) }),
        )
        .await;
    assert_eq!(dup.code(), "duplicate");
    let invalid = app
        .gql(
            &key,
            CREATE,
            json!({ "i": lead_input(json!({ "email": "nope" })) }),
        )
        .await;
    assert_eq!(invalid.code(), "validation_failed");
    let events = app.gql(&key, EVENTS, json!({})).await;
    assert_eq!(events.ok().data("auditEvents.totalCount"), 1);

    let reader = app
        .create_key(&key, json!({ "operations": ["leads:read"] }))
        .await;
    let refused = app.gql(&reader, EVENTS, json!({})).await;
    assert_eq!(refused.code(), "forbidden");
    // Another environment's log is separate.
    let sandbox = app.gql(&app.acme.sandbox, EVENTS, json!({})).await;
    assert_eq!(sandbox.ok().data("auditEvents.totalCount"), 0);
}
