//! Authentication: every kind of bad key answers HTTP 401 with a GraphQL-shaped
//! body; both credential headers work; `lastUsedAt` is kept; the unauthenticated
//! routes (GraphiQL, health) answer without a key.

use chrono::{TimeDelta, Utc};
use entity::api_key;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, spawn_app, spawn_app_with};

const VIEWER: &str = "{ viewer { apiKey { id } } }";

/// Asserts HTTP 401 with `data: null` and exactly one `unauthenticated` error
/// whose `extensions.status` is 401.
#[track_caller]
pub fn assert_unauthenticated(answer: &Answer) {
    assert_eq!(answer.status, 401, "{:#}", answer.body);
    assert!(
        answer.body.get("data").is_some_and(Value::is_null),
        "`data` must be present and null: {:#}",
        answer.body
    );
    assert_eq!(answer.code(), "unauthenticated");
    assert_eq!(
        answer.errors()[0]["extensions"]["status"],
        401,
        "{:#}",
        answer.body
    );
}

/// The id of the key `key` (through `viewer`).
pub async fn key_id(app: &TestApp, key: &str) -> String {
    let answer = app.gql(key, VIEWER, json!({})).await;
    answer.ok();
    answer
        .data("viewer.apiKey.id")
        .as_str()
        .expect("key id")
        .to_owned()
}

/// Creates a key with `input` and returns `(full key, key id)`.
pub async fn create_key_with_id(app: &TestApp, key: &str, input: Value) -> (String, String) {
    let full = app.create_key(key, input).await;
    let id = key_id(app, &full).await;
    (full, id)
}

/// The database id behind a public id.
pub fn row_id(app: &TestApp, id: &str) -> i64 {
    app.codec.decode(id).expect("a well-formed id").1
}

/// `key` with the character at `i` replaced by another alphanumeric one.
fn with_changed_char(key: &str, i: usize) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
    chars.into_iter().collect()
}

/// The `leadgraph_db_statements_total` counter from `/metrics`.
async fn db_statements(app: &TestApp) -> u64 {
    let text = app
        .get("/metrics")
        .await
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .find_map(|l| l.strip_prefix("leadgraph_db_statements_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no db statement counter in {text}"))
}

#[tokio::test]
async fn a_request_without_a_key_answers_401() {
    let app = spawn_app().await;
    let answer = app.gql_with(None, VIEWER, json!({})).await;
    assert_unauthenticated(&answer);
}

#[tokio::test]
async fn a_key_with_a_wrong_prefix_answers_401() {
    let app = spawn_app().await;
    let wrong = app.acme.live.replacen("lg_live_sk_", "lg_prod_sk_", 1);
    assert_ne!(wrong, app.acme.live);
    assert_unauthenticated(&app.gql(&wrong, VIEWER, json!({})).await);
    assert_unauthenticated(&app.gql("not-a-key", VIEWER, json!({})).await);
}

#[tokio::test]
async fn a_key_with_one_changed_character_fails_its_checksum_and_answers_401() {
    let app = spawn_app().await;
    app.gql(&app.acme.live, VIEWER, json!({})).await.ok();
    let tampered = with_changed_char(&app.acme.live, "lg_live_sk_".len() + 3);
    assert_ne!(tampered, app.acme.live);
    assert_unauthenticated(&app.gql(&tampered, VIEWER, json!({})).await);
}

#[tokio::test]
async fn a_malformed_key_is_refused_without_a_database_lookup_but_an_unknown_one_is_looked_up() {
    let app = spawn_app().await;
    let tampered = with_changed_char(&app.acme.live, "lg_live_sk_".len());
    let before = db_statements(&app).await;
    assert_unauthenticated(&app.gql(&tampered, VIEWER, json!({})).await);
    assert_eq!(
        db_statements(&app).await,
        before,
        "a malformed key must not reach the database"
    );

    let unknown = leadgraph::auth::ApiKeySecret::generate(entity::Environment::Live);
    assert_unauthenticated(&app.gql(unknown.expose(), VIEWER, json!({})).await);
    assert!(
        db_statements(&app).await > before,
        "a well-formed key is looked up"
    );
}

#[tokio::test]
async fn a_well_formed_but_unknown_key_answers_401() {
    let app = spawn_app().await;
    for env in [entity::Environment::Live, entity::Environment::Sandbox] {
        let unknown = leadgraph::auth::ApiKeySecret::generate(env);
        assert!(leadgraph::auth::ApiKeySecret::parse(unknown.expose()).is_ok());
        assert_unauthenticated(&app.gql(unknown.expose(), VIEWER, json!({})).await);
    }
}

#[tokio::test]
async fn a_revoked_key_answers_401() {
    let app = spawn_app().await;
    let (key, id) = create_key_with_id(&app, &app.acme.live, json!({})).await;
    app.gql(
        &app.acme.live,
        "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }",
        json!({ "id": id }),
    )
    .await
    .ok();
    assert_unauthenticated(&app.gql(&key, VIEWER, json!({})).await);
    app.gql(&app.acme.live, VIEWER, json!({})).await.ok();
}

#[tokio::test]
async fn an_expired_key_answers_401() {
    // The key row is edited behind the server's back, which a cached key would
    // only show after the auth cache's TTL: no cache here (see auth_cache.rs).
    let app = spawn_app_with(|a| a.auth_cache_ttl_ms = 0).await;
    let (key, id) = create_key_with_id(&app, &app.acme.live, json!({})).await;
    let past = Utc::now() - TimeDelta::minutes(1);
    let updated = api_key::Entity::update_many()
        .col_expr(api_key::Column::ExpiresAt, Expr::value(Some(past)))
        .filter(api_key::Column::Id.eq(row_id(&app, &id)))
        .filter(api_key::Column::TenantId.eq(app.acme.tenant_id))
        .exec(&app.db)
        .await
        .expect("expire the key");
    assert_eq!(updated.rows_affected, 1);
    assert_unauthenticated(&app.gql(&key, VIEWER, json!({})).await);
    app.gql(&app.acme.live, VIEWER, json!({})).await.ok();
}

#[tokio::test]
async fn a_key_whose_owner_was_deactivated_answers_401() {
    // The key row is edited behind the server's back, which a cached key would
    // only show after the auth cache's TTL: no cache here (see auth_cache.rs).
    let app = spawn_app_with(|a| a.auth_cache_ttl_ms = 0).await;
    let user = app.create_user(&app.acme.live, "leaver@acme.example").await;
    let user_row = row_id(&app, &user);
    let (key, id) = create_key_with_id(&app, &app.acme.live, json!({})).await;
    let owner_query = "{ viewer { apiKey { owner { id } } } }";
    let owner = app.gql(&key, owner_query, json!({})).await;
    assert_eq!(
        owner.ok().data("viewer.apiKey.owner.id"),
        &json!(app.acme.owner_id)
    );
    // Keys are owned by the acting user (no way to mint one for another user
    // through the API yet); hand this one to the new user.
    api_key::Entity::update_many()
        .col_expr(api_key::Column::OwnerUserId, Expr::value(user_row))
        .filter(api_key::Column::Id.eq(row_id(&app, &id)))
        .exec(&app.db)
        .await
        .expect("reassign the key");
    let owner = app
        .gql(&key, "{ viewer { apiKey { owner { id } } } }", json!({}))
        .await;
    assert_eq!(owner.ok().data("viewer.apiKey.owner.id"), &json!(user));

    app.gql(
        &app.acme.live,
        "mutation($id: ID!) { deactivateUser(id: $id) { user { active } } }",
        json!({ "id": user }),
    )
    .await
    .ok();
    assert_unauthenticated(&app.gql(&key, VIEWER, json!({})).await);
    app.gql(&app.acme.live, VIEWER, json!({})).await.ok();
}

#[tokio::test]
async fn an_authorization_bearer_header_works_like_x_api_key() {
    let app = spawn_app().await;
    let via_header = key_id(&app, &app.acme.live).await;
    let bearer = app
        .gql_with(
            Some(("authorization", format!("Bearer {}", app.acme.live))),
            VIEWER,
            json!({}),
        )
        .await;
    assert_eq!(bearer.status, 200);
    assert_eq!(bearer.ok().data("viewer.apiKey.id"), &json!(via_header));

    let unknown = leadgraph::auth::ApiKeySecret::generate(entity::Environment::Live);
    let bad_bearer = app
        .gql_with(
            Some(("authorization", format!("Bearer {}", unknown.expose()))),
            VIEWER,
            json!({}),
        )
        .await;
    assert_unauthenticated(&bad_bearer);
    let other_scheme = app
        .gql_with(
            Some(("authorization", format!("Basic {}", app.acme.live))),
            VIEWER,
            json!({}),
        )
        .await;
    assert_unauthenticated(&other_scheme);
}

#[tokio::test]
async fn last_used_at_is_set_once_a_key_is_used() {
    let app = spawn_app().await;
    let created = app
        .gql(
            &app.acme.live,
            "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { fullKey apiKey { id lastUsedAt } } }",
            json!({ "i": { "name": "fresh", "operations": ["leads:read"] } }),
        )
        .await;
    created.ok();
    assert_eq!(created.data("createApiKey.apiKey.lastUsedAt"), &Value::Null);
    let id = created.data("createApiKey.apiKey.id").clone();
    let key = created
        .data("createApiKey.fullKey")
        .as_str()
        .expect("key")
        .to_owned();

    let before = Utc::now() - TimeDelta::seconds(1);
    app.gql(&key, "{ leads { totalCount } }", json!({}))
        .await
        .ok();
    let after = Utc::now() + TimeDelta::seconds(1);

    let listed = app
        .gql(
            &app.acme.live,
            "{ apiKeys { nodes { id lastUsedAt } } }",
            json!({}),
        )
        .await;
    let nodes = listed
        .ok()
        .data("apiKeys.nodes")
        .as_array()
        .expect("nodes")
        .clone();
    let node = nodes
        .iter()
        .find(|n| n["id"] == id)
        .expect("the new key is listed");
    let used: chrono::DateTime<Utc> = node["lastUsedAt"]
        .as_str()
        .expect("lastUsedAt is set")
        .parse()
        .expect("a timestamp");
    assert!(
        before <= used && used <= after,
        "lastUsedAt {used} not within [{before}, {after}]"
    );
}

#[tokio::test]
async fn get_graphql_serves_graphiql_without_a_key() {
    let app = spawn_app().await;
    let resp = app.get("/graphql").await;
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"]
        .to_str()
        .expect("content type")
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = resp.text().await.expect("body");
    assert!(html.to_lowercase().contains("graphiql"), "{html}");
    assert!(
        html.contains("/graphql"),
        "GraphiQL points at the endpoint: {html}"
    );
}

#[tokio::test]
async fn health_and_readiness_answer_200_without_a_key() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}
