//! API keys: shown once, never wider than their creator, revocable at once.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::{
    auth::{assert_unauthenticated, create_key_with_id, key_id},
    helpers::{Answer, TestApp, seed_tenant, spawn_app},
    scopes::assert_refused,
};

const CREATE: &str = "mutation($i: CreateApiKeyInput!) {
    createApiKey(input: $i) {
        fullKey
        apiKey { id name environment prefix operations markets teamIds expiresAt revokedAt lastUsedAt active }
    }
}";
const REVOKE: &str =
    "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt active } } }";
const VIEWER: &str = "{ viewer { apiKey { id } } }";

/// Calls `createApiKey` with `key`; `input` is merged over a name and `full`.
async fn create(app: &TestApp, key: &str, input: Value) -> Answer {
    let mut i = json!({ "name": "minted", "operations": ["full"] });
    crate::helpers::merge(&mut i, input);
    app.gql(key, CREATE, json!({ "i": i })).await
}

/// Asserts `key` may not mint a key with `input`, and that nothing was created.
async fn assert_escalation_refused(app: &TestApp, key: &str, input: Value) {
    let count = key_count(app).await;
    let answer = create(app, key, input.clone()).await;
    assert_refused(&answer, "forbidden", 403);
    assert_eq!(answer.body["data"], Value::Null, "{input}");
    assert_eq!(
        key_count(app).await,
        count,
        "no key may be created for {input}"
    );
}

async fn key_count(app: &TestApp) -> i64 {
    let answer = app
        .gql(&app.acme.live, "{ apiKeys { totalCount } }", json!({}))
        .await;
    answer
        .ok()
        .data("apiKeys.totalCount")
        .as_i64()
        .expect("totalCount")
}

fn timestamp(v: &Value) -> DateTime<Utc> {
    v.as_str().expect("a timestamp").parse().expect("RFC 3339")
}

#[tokio::test]
async fn create_api_key_returns_the_full_key_once_and_listings_never_show_it() {
    let app = spawn_app().await;
    let answer = create(
        &app,
        &app.acme.live,
        json!({ "operations": ["leads:read", "pii:read"] }),
    )
    .await;
    answer.ok();
    let full = answer
        .data("createApiKey.fullKey")
        .as_str()
        .expect("fullKey")
        .to_owned();
    let meta = answer.data("createApiKey.apiKey").clone();
    let prefix = meta["prefix"].as_str().expect("prefix");
    assert!(full.starts_with("lg_live_sk_"), "{full}");
    assert_eq!(prefix.len(), "lg_live_sk_".len() + 4);
    assert!(
        full.starts_with(prefix) && full.len() > prefix.len(),
        "{prefix} / {full}"
    );
    assert_eq!(meta["name"], "minted");
    assert_eq!(meta["environment"], "LIVE");
    assert_eq!(meta["operations"], json!(["leads:read", "pii:read"]));
    assert_eq!(meta["active"], true);
    assert_eq!(meta["revokedAt"], Value::Null);

    let secret = &full[prefix.len()..];
    let fields = "id name environment prefix operations markets teamIds owner { id } createdAt expiresAt revokedAt lastUsedAt active";
    let listed = app
        .gql(
            &app.acme.live,
            &format!("{{ apiKeys {{ nodes {{ {fields} }} }} }}"),
            json!({}),
        )
        .await;
    let text = listed.ok().body.to_string();
    assert!(text.contains(prefix), "the prefix is shown: {text}");
    assert!(
        !text.contains(&full) && !text.contains(secret),
        "the secret leaked: {text}"
    );
    let node = app
        .gql(
            &app.acme.live,
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on ApiKey {{ {fields} }} }} }}"),
            json!({ "id": meta["id"] }),
        )
        .await;
    assert_eq!(node.ok().data("node.prefix"), prefix);
    assert!(!node.body.to_string().contains(secret));
}

#[tokio::test]
async fn a_new_key_works_with_the_scope_it_was_given() {
    let app = spawn_app().await;
    let answer = create(
        &app,
        &app.acme.live,
        json!({ "operations": ["leads:read"] }),
    )
    .await;
    let full = answer
        .ok()
        .data("createApiKey.fullKey")
        .as_str()
        .expect("key")
        .to_owned();
    let viewer = app
        .gql(
            &full,
            "{ viewer { apiKey { id operations } environment } }",
            json!({}),
        )
        .await;
    assert_eq!(viewer.status, 200);
    assert_eq!(
        viewer.ok().data("viewer.apiKey.id"),
        answer.data("createApiKey.apiKey.id")
    );
    assert_eq!(
        viewer.data("viewer.apiKey.operations"),
        &json!(["leads:read"])
    );
    assert_eq!(viewer.data("viewer.environment"), "LIVE");
    app.gql(&full, "{ leads { totalCount } }", json!({}))
        .await
        .ok();
}

#[tokio::test]
async fn a_key_cannot_mint_a_key_with_operations_it_lacks() {
    let app = spawn_app().await;
    let key = app
        .create_key(
            &app.acme.live,
            json!({ "operations": ["leads:read", "keys:manage"] }),
        )
        .await;
    assert_escalation_refused(&app, &key, json!({ "operations": ["leads:write"] })).await;
    assert_escalation_refused(&app, &key, json!({ "operations": ["full"] })).await;
    assert_escalation_refused(
        &app,
        &key,
        json!({ "operations": ["leads:read", "pii:read"] }),
    )
    .await;
    let narrower = create(&app, &key, json!({ "operations": ["leads:read"] })).await;
    assert_eq!(
        narrower.ok().data("createApiKey.apiKey.operations"),
        &json!(["leads:read"])
    );
}

#[tokio::test]
async fn a_market_limited_key_cannot_mint_a_key_for_other_markets() {
    let app = spawn_app().await;
    let key = app
        .create_key(&app.acme.live, json!({ "markets": ["IN"] }))
        .await;
    assert_escalation_refused(&app, &key, json!({ "markets": ["US"] })).await;
    assert_escalation_refused(&app, &key, json!({ "markets": ["US", "IN"] })).await;
    let same = create(&app, &key, json!({ "markets": ["IN"] })).await;
    assert_eq!(
        same.ok().data("createApiKey.apiKey.markets"),
        &json!(["IN"])
    );
}

#[tokio::test]
async fn a_team_limited_key_cannot_mint_a_key_for_another_team_or_without_its_team_limit() {
    let app = spawn_app().await;
    let mine = app.create_team(&app.acme.live, "East", "US").await;
    let other = app.create_team(&app.acme.live, "West", "US").await;
    let key = app
        .create_key(&app.acme.live, json!({ "teamIds": [mine] }))
        .await;
    assert_escalation_refused(&app, &key, json!({ "teamIds": [other] })).await;
    assert_escalation_refused(&app, &key, json!({ "teamIds": [mine, other] })).await;
    // Omitting (or nulling) `teamIds` cannot drop the limit: it is inherited.
    for input in [json!({}), json!({ "teamIds": null })] {
        let inherited = create(&app, &key, input).await;
        assert_eq!(
            inherited.ok().data("createApiKey.apiKey.teamIds"),
            &json!([mine])
        );
    }
}

#[tokio::test]
async fn a_key_cannot_mint_a_key_that_outlives_it() {
    let app = spawn_app().await;
    let expires = Utc::now() + TimeDelta::days(1);
    let key = app
        .create_key(&app.acme.live, json!({ "expiresAt": expires.to_rfc3339() }))
        .await;
    let later = expires + TimeDelta::hours(1);
    assert_escalation_refused(&app, &key, json!({ "expiresAt": later.to_rfc3339() })).await;
    // Omitting (or nulling) `expiresAt` cannot make a key that never expires.
    for input in [json!({}), json!({ "expiresAt": null })] {
        let inherited = create(&app, &key, input).await;
        let got = timestamp(inherited.ok().data("createApiKey.apiKey.expiresAt"));
        assert!(
            (got - expires).abs() < TimeDelta::milliseconds(1),
            "{got} vs {expires}"
        );
    }
    let sooner = expires - TimeDelta::hours(1);
    let shorter = create(&app, &key, json!({ "expiresAt": sooner.to_rfc3339() })).await;
    let got = timestamp(shorter.ok().data("createApiKey.apiKey.expiresAt"));
    assert!(
        (got - sooner).abs() < TimeDelta::milliseconds(1),
        "{got} vs {sooner}"
    );
}

#[tokio::test]
async fn omitted_markets_and_teams_inherit_the_callers() {
    let app = spawn_app().await;
    let key = app
        .create_key(&app.acme.live, json!({ "markets": ["IN"] }))
        .await;
    let child = create(
        &app,
        &key,
        json!({ "operations": ["leads:read", "keys:manage"] }),
    )
    .await;
    assert_eq!(
        child.ok().data("createApiKey.apiKey.markets"),
        &json!(["IN"])
    );
    assert_eq!(child.data("createApiKey.apiKey.teamIds"), &Value::Null);
    let unlimited = create(&app, &app.acme.live, json!({})).await;
    assert_eq!(
        unlimited.ok().data("createApiKey.apiKey.markets"),
        &Value::Null
    );

    let us = app
        .create_lead(&app.acme.live, json!({ "market": "US" }))
        .await;
    let child_key = child.data("createApiKey.fullKey").as_str().expect("key");
    let seen = app
        .gql(
            child_key,
            "query($id: ID!) { lead(id: $id) { id } }",
            json!({ "id": us }),
        )
        .await;
    assert_refused(&seen, "not_found", 404);
}

#[tokio::test]
async fn an_unknown_operation_scope_fails_validation_on_operations() {
    let app = spawn_app().await;
    let count = key_count(&app).await;
    let answer = create(
        &app,
        &app.acme.live,
        json!({ "operations": ["leads:read", "root"] }),
    )
    .await;
    let error = assert_refused(&answer, "validation_failed", 422);
    assert_eq!(
        error["extensions"]["fields"][0]["field"], "operations",
        "{error:#}"
    );
    assert_eq!(
        error["extensions"]["fields"][0]["code"], "invalid_value",
        "{error:#}"
    );
    assert_eq!(key_count(&app).await, count);
}

#[tokio::test]
async fn a_revoked_key_answers_401_at_once() {
    let app = spawn_app().await;
    let (key, id) = create_key_with_id(&app, &app.acme.live, json!({})).await;
    let revoked = app.gql(&app.acme.live, REVOKE, json!({ "id": id })).await;
    revoked.ok();
    assert_eq!(revoked.data("revokeApiKey.apiKey.id"), &json!(id));
    assert_eq!(revoked.data("revokeApiKey.apiKey.active"), false);
    assert!(revoked.data("revokeApiKey.apiKey.revokedAt").is_string());
    assert_unauthenticated(&app.gql(&key, VIEWER, json!({})).await);
    let listed = app
        .gql(
            &app.acme.live,
            "{ apiKeys { nodes { id active } } }",
            json!({}),
        )
        .await;
    let nodes = listed
        .ok()
        .data("apiKeys.nodes")
        .as_array()
        .expect("nodes")
        .clone();
    assert!(
        nodes.contains(&json!({ "id": id, "active": false })),
        "{nodes:?}"
    );
}

#[tokio::test]
async fn a_narrower_key_cannot_revoke_a_wider_one() {
    let app = spawn_app().await;
    let narrow = app
        .create_key(
            &app.acme.live,
            json!({ "operations": ["leads:read", "keys:manage"] }),
        )
        .await;
    let wide = key_id(&app, &app.acme.live).await;
    let answer = app.gql(&narrow, REVOKE, json!({ "id": wide })).await;
    assert_refused(&answer, "forbidden", 403);
    app.gql(&app.acme.live, VIEWER, json!({})).await.ok();

    let (narrower, narrower_id) =
        create_key_with_id(&app, &narrow, json!({ "operations": ["leads:read"] })).await;
    app.gql(&narrow, REVOKE, json!({ "id": narrower_id }))
        .await
        .ok();
    assert_unauthenticated(&app.gql(&narrower, VIEWER, json!({})).await);
}

#[tokio::test]
async fn a_key_of_another_tenant_cannot_be_revoked_or_read() {
    let app = spawn_app().await;
    let globex = seed_tenant(&app.db, &app.codec, "globex", &["US"]).await;
    let acme_key = key_id(&app, &app.acme.live).await;
    let answer = app
        .gql(&globex.live, REVOKE, json!({ "id": acme_key }))
        .await;
    assert_refused(&answer, "not_found", 404);
    let node = app
        .gql(
            &globex.live,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": acme_key }),
        )
        .await;
    assert_refused(&node, "not_found", 404);
    app.gql(&app.acme.live, VIEWER, json!({})).await.ok();
}

#[tokio::test]
async fn node_of_an_api_key_needs_keys_manage() {
    let app = spawn_app().await;
    let id = key_id(&app, &app.acme.live).await;
    let query = "query($id: ID!) { node(id: $id) { id ... on ApiKey { name } } }";
    let reader = app
        .create_key(&app.acme.live, json!({ "operations": ["leads:read"] }))
        .await;
    let refused = app.gql(&reader, query, json!({ "id": id })).await;
    assert_refused(&refused, "forbidden", 403);
    assert_eq!(refused.data("node"), &Value::Null);

    let manager = app
        .create_key(&app.acme.live, json!({ "operations": ["keys:manage"] }))
        .await;
    let found = app.gql(&manager, query, json!({ "id": id })).await;
    assert_eq!(found.ok().data("node.id"), &json!(id));
    assert!(found.data("node.name").is_string());
}
