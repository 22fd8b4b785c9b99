//! `Idempotency-Key`: replay, reuse with another body, concurrent repeats, per-key
//! scoping, queries left alone, and expiry after 24 hours.

use chrono::{TimeDelta, Utc};
use entity::idempotency_key;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::helpers::{TestApp, lead_input, spawn_app};

const CREATE: &str =
    "mutation($i: CreateLeadInput!) { createLead(input: $i) { status lead { id email } } }";

/// An answer with the raw body, to compare replays byte for byte.
#[derive(Debug)]
struct Raw {
    status: u16,
    replayed: Option<String>,
    content_type: Option<String>,
    text: String,
    /// `X-RateLimit-Remaining`: every authenticated answer carries the headers.
    rate_remaining: Option<String>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap()
    }

    /// The error code in either shape (GraphQL `extensions.code` or envelope).
    fn code(&self) -> String {
        let body = self.json();
        let code = body["errors"][0]["extensions"]["code"]
            .as_str()
            .or_else(|| body["errors"][0]["code"].as_str());
        code.unwrap_or("<none>").to_owned()
    }
}

async fn send(req: reqwest::RequestBuilder) -> Raw {
    let resp = req.send().await.unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (replayed, content_type) = (header("idempotent-replayed"), header("content-type"));
    let rate_remaining = header("x-ratelimit-remaining");
    Raw {
        status: resp.status().as_u16(),
        replayed,
        content_type,
        rate_remaining,
        text: resp.text().await.unwrap(),
    }
}

/// POSTs a serialized GraphQL body with `X-API-Key` and an `Idempotency-Key`.
async fn gql(app: &TestApp, key: &str, idem: &str, body: &str) -> Raw {
    let req = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("x-api-key", key)
        .header("idempotency-key", idem)
        .header("content-type", "application/json")
        .body(body.to_owned());
    send(req).await
}

fn create_body(input: Value) -> String {
    json!({ "query": CREATE, "variables": { "i": input } }).to_string()
}

async fn lead_count(app: &TestApp, email: &str) -> i64 {
    let answer = app
        .gql(
            &app.acme.live,
            "query($e: String!) { leads(filter: {email: $e}) { totalCount } }",
            json!({ "e": email }),
        )
        .await;
    answer.ok().data("leads.totalCount").as_i64().unwrap()
}

async fn stored_keys(app: &TestApp) -> u64 {
    idempotency_key::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn a_repeated_create_lead_replays_the_first_answer_and_creates_one_lead() {
    let app = spawn_app().await;
    let body = create_body(lead_input(json!({ "email": "once@example.com" })));
    let key = new_key();
    let first = gql(&app, &app.acme.live, &key, &body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json()["data"]["createLead"]["status"], "CREATED");
    assert_eq!(first.replayed, None);

    let second = gql(&app, &app.acme.live, &key, &body).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.replayed.as_deref(), Some("true"));
    assert_eq!(second.text, first.text);
    assert_eq!(second.content_type, first.content_type);
    // The replay never reached the handler, yet carries the rate-limit headers and
    // spent nothing (the budget can only have refilled since the first answer).
    let remaining = |r: &Raw| {
        r.rate_remaining
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
    };
    assert!(remaining(&first).is_some());
    assert!(remaining(&second) >= remaining(&first));
    assert_eq!(lead_count(&app, "once@example.com").await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_idempotency_key_reused() {
    let app = spawn_app().await;
    let key = new_key();
    let first = create_body(lead_input(json!({ "email": "first@example.com" })));
    assert_eq!(gql(&app, &app.acme.live, &key, &first).await.status, 200);

    let other = create_body(lead_input(json!({ "email": "second@example.com" })));
    let reused = gql(&app, &app.acme.live, &key, &other).await;
    assert_eq!(reused.status, 422, "{}", reused.text);
    assert_eq!(reused.code(), "idempotency_key_reused");
    assert!(
        reused.rate_remaining.is_some(),
        "refusals carry the rate-limit headers too"
    );
    let body = reused.json();
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["errors"][0]["extensions"]["status"], 422);
    assert_eq!(lead_count(&app, "second@example.com").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_identical_creates_with_one_key_make_exactly_one_lead() {
    let app = spawn_app().await;
    let body = create_body(lead_input(json!({ "email": "herd@example.com" })));
    let key = new_key();
    let attempts = (0..16).map(|_| gql(&app, &app.acme.live, &key, &body));
    let answers = futures::future::join_all(attempts).await;

    let originals: Vec<&Raw> = answers
        .iter()
        .filter(|a| a.status == 200 && a.replayed.is_none())
        .collect();
    assert_eq!(originals.len(), 1, "{answers:#?}");
    let success = originals[0];
    assert_eq!(success.json()["data"]["createLead"]["status"], "CREATED");
    for a in &answers {
        let is_replay = a.replayed.as_deref() == Some("true") && a.text == success.text;
        let in_progress = a.status == 409 && a.code() == "idempotency_in_progress";
        assert!(
            std::ptr::eq(a, success) || is_replay || in_progress,
            "unexpected answer: {a:#?}"
        );
    }
    assert_eq!(lead_count(&app, "herd@example.com").await, 1);
    // Once the first has finished, every repeat is a replay.
    let after = gql(&app, &app.acme.live, &key, &body).await;
    assert_eq!(after.replayed.as_deref(), Some("true"));
    assert_eq!(after.text, success.text);
}

#[tokio::test]
async fn a_repeated_v1_batch_replays_the_same_207() {
    let app = spawn_app().await;
    let body = json!({ "leads": [
        lead_input(json!({ "email": "batch-a@example.com" })),
        lead_input(json!({ "email": "not-an-email" })),
    ] })
    .to_string();
    let key = new_key();
    let post = || {
        app.client
            .post(format!("{}/v1/leads/batch", app.base))
            .header("x-api-key", &app.acme.live)
            .header("idempotency-key", &key)
            .header("content-type", "application/json")
            .body(body.clone())
    };
    let first = send(post()).await;
    assert_eq!(first.status, 207, "{}", first.text);
    assert_eq!(first.replayed, None);
    let second = send(post()).await;
    assert_eq!(second.status, 207);
    assert_eq!(second.replayed.as_deref(), Some("true"));
    assert_eq!(second.text, first.text);
    assert_eq!(second.content_type.as_deref(), Some("application/json"));
    assert_eq!(lead_count(&app, "batch-a@example.com").await, 1);

    // Another body under the same key: the envelope with `idempotency_key_reused`.
    let reused = send(
        app.client
            .post(format!("{}/v1/leads/batch", app.base))
            .header("x-api-key", &app.acme.live)
            .header("idempotency-key", &key)
            .json(&json!({ "leads": [lead_input(json!({}))] })),
    )
    .await;
    assert_eq!(reused.status, 422, "{}", reused.text);
    assert_eq!(reused.code(), "idempotency_key_reused");
    assert_eq!(reused.json()["success"], false);
}

#[tokio::test]
async fn idempotency_keys_belong_to_one_api_key() {
    let app = spawn_app().await;
    let other_key = app.create_key(&app.acme.live, json!({})).await;
    let body = create_body(lead_input(json!({ "email": "mine@example.com" })));
    let key = new_key();
    let first = gql(&app, &app.acme.live, &key, &body).await;
    assert_eq!(first.json()["data"]["createLead"]["status"], "CREATED");

    // The other API key runs the request itself: the lead exists, so `duplicate`.
    let other = gql(&app, &other_key, &key, &body).await;
    assert_eq!(other.replayed, None);
    assert_eq!(other.code(), "duplicate", "{}", other.text);
    assert_eq!(lead_count(&app, "mine@example.com").await, 1);
}

#[tokio::test]
async fn a_query_ignores_the_header_and_is_not_stored() {
    let app = spawn_app().await;
    let key = new_key();
    let query = |q: &str| json!({ "query": q }).to_string();
    let first = gql(
        &app,
        &app.acme.live,
        &key,
        &query("{ leads { totalCount } }"),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = gql(
        &app,
        &app.acme.live,
        &key,
        &query("{ viewer { environment } }"),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.replayed, None);
    // A document with a mutation and a query, running the query.
    let mixed = json!({
        "query": "query Q { viewer { environment } } mutation M { deleteLead(id: \"x\") { deletedLeadId } }",
        "operationName": "Q",
    })
    .to_string();
    let third = gql(&app, &app.acme.live, &key, &mixed).await;
    assert_eq!(third.status, 200, "{}", third.text);
    assert_eq!(stored_keys(&app).await, 0);
}

#[tokio::test]
async fn a_key_older_than_24_hours_runs_anew() {
    let app = spawn_app().await;
    let body = create_body(lead_input(json!({ "email": "old@example.com" })));
    let key = new_key();
    assert_eq!(gql(&app, &app.acme.live, &key, &body).await.status, 200);
    let past = Utc::now() - TimeDelta::hours(25);
    let updated = idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::CreatedAt, Expr::value(past))
        .filter(idempotency_key::Column::IdempotencyKey.eq(&key))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected, 1);

    // Run again (no replay): the lead exists now, so this time it is a duplicate.
    let again = gql(&app, &app.acme.live, &key, &body).await;
    assert_eq!(again.replayed, None);
    assert_eq!(again.code(), "duplicate", "{}", again.text);
    // And that answer is what the key replays from now on.
    let replay = gql(&app, &app.acme.live, &key, &body).await;
    assert_eq!(replay.replayed.as_deref(), Some("true"));
    assert_eq!(replay.text, again.text);
    assert_eq!(stored_keys(&app).await, 1);
}

#[tokio::test]
async fn an_unfinished_claim_is_in_progress_until_abandoned() {
    let app = spawn_app().await;
    let body = create_body(lead_input(json!({ "email": "stuck@example.com" })));
    let key = new_key();
    assert_eq!(gql(&app, &app.acme.live, &key, &body).await.status, 200);
    // Make the row look like a request still running.
    let unfinish = |created_at: chrono::DateTime<Utc>| {
        idempotency_key::Entity::update_many()
            .col_expr(
                idempotency_key::Column::ResponseStatus,
                Expr::value(Option::<i32>::None),
            )
            .col_expr(idempotency_key::Column::CreatedAt, Expr::value(created_at))
            .filter(idempotency_key::Column::IdempotencyKey.eq(&key))
            .exec(&app.db)
    };
    unfinish(Utc::now()).await.unwrap();
    let busy = gql(&app, &app.acme.live, &key, &body).await;
    assert_eq!(busy.status, 409, "{}", busy.text);
    assert_eq!(busy.code(), "idempotency_in_progress");
    assert_eq!(busy.json()["errors"][0]["extensions"]["status"], 409);

    // A claim unfinished for longer than any request lasts was abandoned.
    unfinish(Utc::now() - TimeDelta::minutes(11)).await.unwrap();
    let again = gql(&app, &app.acme.live, &key, &body).await;
    assert_eq!(again.replayed, None);
    assert_eq!(again.code(), "duplicate", "{}", again.text);
}

#[tokio::test]
async fn an_empty_or_overlong_key_is_bad_request() {
    let app = spawn_app().await;
    let body = create_body(lead_input(json!({})));
    for key in [String::new(), "k".repeat(256)] {
        let answer = gql(&app, &app.acme.live, &key, &body).await;
        assert_eq!(answer.status, 400, "{}", answer.text);
        assert_eq!(answer.code(), "bad_request");
    }
    let longest = gql(&app, &app.acme.live, &"k".repeat(255), &body).await;
    assert_eq!(longest.status, 200, "{}", longest.text);
    assert_eq!(stored_keys(&app).await, 1);
}

#[tokio::test]
async fn a_refused_credential_answers_401_and_claims_nothing() {
    let app = spawn_app().await;
    let body = create_body(lead_input(json!({})));
    let answer = gql(&app, "lg_live_sk_nope", &new_key(), &body).await;
    assert_eq!(answer.status, 401, "{}", answer.text);
    assert_eq!(answer.code(), "unauthenticated");
    assert_eq!(stored_keys(&app).await, 0);
}
