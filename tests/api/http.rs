//! HTTP plumbing: request ids, health, metrics.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_a_given_one() {
    let app = spawn_app().await;
    let generated = app.get("/healthz").await;
    let id = generated
        .headers()
        .get("x-request-id")
        .expect("x-request-id")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!id.is_empty());

    let echoed = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("x-request-id", "req-123")
        .json(&json!({ "query": "{ viewer { environment } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "req-123");
    let body: serde_json::Value = echoed.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "req-123");
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.gql(&app.acme.live, "{ viewer { environment } }", json!({}))
        .await
        .ok();
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("leadgraph_http_requests_total{route=\"/graphql\",status=\"200\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let app = spawn_app().await;
    assert_eq!(app.get("/nope").await.status(), 404);
}

/// SQLite pragmas are per connection: every pooled connection must run in WAL
/// with `synchronous=NORMAL` and the larger WAL checkpoint size, not only the
/// first one (a regression once).
#[tokio::test]
async fn every_pooled_sqlite_connection_is_configured() {
    use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait};
    /// A pragma's value on `txn`'s connection, as text (numbers too).
    async fn pragma(txn: &DatabaseTransaction, name: &str) -> String {
        let row = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                format!("PRAGMA {name}"),
            ))
            .await
            .expect("pragma")
            .expect("row");
        row.try_get_by_index::<String>(0)
            .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
            .expect("value")
    }
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    // Hold several connections at once, so they cannot all be the same one.
    let mut txns = Vec::new();
    for _ in 0..6 {
        txns.push(app.db.begin().await.expect("begin"));
    }
    let checkpoint = leadgraph::startup::SQLITE_WAL_AUTOCHECKPOINT_PAGES.to_string();
    for txn in &txns {
        assert_eq!(
            (
                pragma(txn, "synchronous").await,
                pragma(txn, "journal_mode").await,
                pragma(txn, "wal_autocheckpoint").await,
            ),
            ("1".to_owned(), "wal".to_owned(), checkpoint.clone()),
            "synchronous=NORMAL, WAL and its checkpoint size on every connection"
        );
    }
}

/// Instances of one deployment may start at the same moment on a new
/// database: both migrate it (one waits for the other) and both serve.
#[tokio::test]
async fn instances_starting_together_on_a_new_database_both_come_up() {
    let test_db = crate::helpers::test_database().await;
    let url = test_db.url.clone();
    let args = leadgraph::config::ServeArgs {
        bind: "127.0.0.1:0".into(),
        ..leadgraph::config::ServeArgs::default()
    };
    let (a, b, c) = tokio::join!(
        leadgraph::startup::App::build(&url, &args),
        leadgraph::startup::App::build(&url, &args),
        leadgraph::startup::App::build(&url, &args),
    );
    let apps: Vec<_> = [a, b, c]
        .into_iter()
        .enumerate()
        .map(|(n, app)| app.unwrap_or_else(|e| panic!("instance {n}: {e:#}")))
        .collect();
    // Each bootstraps as `leadgraph serve` does: one creates the tenant.
    let (x, y, z) = tokio::join!(
        apps[0].bootstrap(),
        apps[1].bootstrap(),
        apps[2].bootstrap()
    );
    let created = [x.unwrap(), y.unwrap(), z.unwrap()];
    assert_eq!(created.iter().filter(|c| c.is_some()).count(), 1);
    for (n, app) in apps.into_iter().enumerate() {
        let base = format!("http://127.0.0.1:{}", app.port());
        let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let resp = reqwest::get(format!("{base}/readyz")).await.unwrap();
        assert_eq!(resp.status(), 200, "instance {n}");
    }
}

/// One answer of the overload burst.
#[derive(Debug, PartialEq, Eq)]
enum Burst {
    Created,
    /// `unavailable`, with the answer's HTTP status.
    Unavailable(u16),
}

const BUSY: &str = "the server is busy; retry in a moment (request id ";

/// A GraphQL `createLeads` answer under overload: all 500 created, or
/// `unavailable` (503 in `extensions`; HTTP 200, or 503 with `Retry-After` when
/// refused before execution), never `internal`.
fn graphql_burst_answer(status: u16, retry_after: Option<&str>, body: &serde_json::Value) -> Burst {
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    if errors.is_empty() {
        assert_eq!(status, 200, "{body:#}");
        assert_eq!(body["data"]["createLeads"]["created"], 500, "{body:#}");
        return Burst::Created;
    }
    for e in &errors {
        assert_eq!(e["extensions"]["code"], "unavailable", "{body:#}");
        assert_eq!(e["extensions"]["status"], 503, "{body:#}");
        let message = e["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(BUSY), "{message}");
        assert!(e["extensions"]["requestId"].is_string(), "{body:#}");
    }
    match status {
        200 => {}
        503 => assert_eq!(retry_after, Some("1"), "{body:#}"),
        other => panic!("HTTP {other}: {body:#}"),
    }
    Burst::Unavailable(status)
}

/// A `/v1/leads/batch` answer under overload: all 500 created, or 503
/// `unavailable` with `Retry-After`, never `internal`.
fn v1_burst_answer(status: u16, retry_after: Option<&str>, body: &serde_json::Value) -> Burst {
    if status == 503 {
        assert_eq!(body["success"], false, "{body:#}");
        assert_eq!(body["status"], 503, "{body:#}");
        assert_eq!(body["errors"][0]["code"], "unavailable", "{body:#}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(BUSY), "{message}");
        assert_eq!(retry_after, Some("1"), "{body:#}");
        return Burst::Unavailable(status);
    }
    assert!(status == 200 || status == 207, "HTTP {status}: {body:#}");
    assert_eq!(body["data"]["created"], 500, "{body:#}");
    Burst::Created
}

/// On SQLite every write takes the database's one write lock. A write that
/// waits past the busy timeout is overload, like a pool timeout: it answers
/// `unavailable` (503, `Retry-After`), never `internal` ("database is locked"
/// reached clients as `internal` under 16 concurrent `createLeads` of 500).
/// PostgreSQL has no such lock; the test is SQLite's.
#[tokio::test]
async fn sqlite_writes_that_wait_too_long_for_the_write_lock_answer_unavailable() {
    let app = crate::helpers::spawn_app_with(|a| {
        a.db_busy_timeout_ms = 200;
        a.auth_cache_ttl_ms = 600_000;
        a.jobs.runner = false;
        a.webhooks.dispatcher = false;
    })
    .await;
    if !app.database_url.starts_with("sqlite:") {
        return;
    }
    app.gql(&app.acme.live, "{ viewer { environment } }", json!({}))
        .await
        .ok();

    // Another writer holds the write lock (`BEGIN IMMEDIATE`).
    let held = leadgraph::store::begin_write(&app.db)
        .await
        .expect("take the write lock");
    let locked = overload_burst(&app, "locked", 5).await;
    held.rollback().await.expect("release the write lock");
    assert_eq!(locked.len(), 10);
    for (surface, n, answer) in &locked {
        assert!(
            matches!(answer, Burst::Unavailable(_)),
            "{surface} #{n} while the write lock is held: {answer:?}"
        );
    }

    // The lock is free again: both surfaces write (one at a time: with a
    // 200 ms busy timeout, concurrent batches of 500 may queue past it).
    writes_on_both_surfaces(&app, "locked-v1-0").await;
}

/// One GraphQL `createLeads` and one `POST /v1/leads/batch` (with
/// `idempotency_key`) of 500 new leads, one after the other; both create all.
async fn writes_on_both_surfaces(app: &crate::helpers::TestApp, idempotency_key: &str) {
    let leads: Vec<_> = (0..500)
        .map(|_| crate::helpers::lead_input(json!({})))
        .collect();
    let answer = app
        .gql(&app.acme.live, CREATE_LEADS, json!({ "i": leads }))
        .await;
    answer.ok();
    assert_eq!(answer.data("createLeads.created"), 500);
    let leads: Vec<_> = (0..500)
        .map(|_| crate::helpers::lead_input(json!({})))
        .collect();
    let resp = app
        .client
        .post(format!("{}/v1/leads/batch", app.base))
        .header("x-api-key", &app.acme.live)
        .header("idempotency-key", idempotency_key)
        .json(&json!({ "leads": leads }))
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.expect("JSON body");
    assert_eq!(v1_burst_answer(status, None, &body), Burst::Created);
}

/// Fires `each` GraphQL `createLeads` and `each` `POST /v1/leads/batch` of 500
/// new leads at once and checks every answer; returns them as
/// `(surface, request number, answer)`. Even requests carry an
/// `Idempotency-Key`; every fifth uses the sandbox key (not in the auth cache).
async fn overload_burst(
    app: &crate::helpers::TestApp,
    wave: &str,
    each: usize,
) -> Vec<(&'static str, usize, Burst)> {
    let mut requests = Vec::new();
    for n in 0..each {
        for surface in ["graphql", "v1"] {
            let leads: Vec<_> = (0..500)
                .map(|_| crate::helpers::lead_input(json!({})))
                .collect();
            let key = if n % 5 == 4 {
                &app.acme.sandbox
            } else {
                &app.acme.live
            };
            let mut req = match surface {
                "graphql" => app
                    .client
                    .post(format!("{}/graphql", app.base))
                    .json(&json!({ "query": CREATE_LEADS, "variables": { "i": leads } })),
                _ => app
                    .client
                    .post(format!("{}/v1/leads/batch", app.base))
                    .json(&json!({ "leads": leads })),
            }
            .header("x-api-key", key);
            if n % 2 == 0 {
                req = req.header("idempotency-key", format!("{wave}-{surface}-{n}"));
            }
            requests.push(tokio::spawn(async move {
                let resp = req.send().await.expect("request");
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body: serde_json::Value = resp.json().await.expect("JSON body");
                (surface, n, status, retry_after, body)
            }));
        }
    }
    let mut answers = Vec::new();
    for request in requests {
        let (surface, n, status, retry_after, body) = request.await.expect("request task");
        assert!(
            !body.to_string().contains("\"internal\""),
            "{surface} #{n}: overload answered as internal: {body:#}"
        );
        let answer = match surface {
            "graphql" => graphql_burst_answer(status, retry_after.as_deref(), &body),
            _ => v1_burst_answer(status, retry_after.as_deref(), &body),
        };
        answers.push((surface, n, answer));
    }
    answers
}

const CREATE_LEADS: &str =
    "mutation($i: [CreateLeadInput!]!) { createLeads(inputs: $i) { created failed } }";

/// Overload is not a server bug. With one pooled connection and a 100 ms
/// acquire timeout, requests that wait too long for it answer `unavailable`
/// (503; `Retry-After` on HTTP 503s), never `internal`.
///
/// The first wave runs while the test holds the one connection, so each of its
/// requests must time out, whatever the machine's speed: at authentication
/// (sandbox key), at the idempotency claim, or in the handler's transaction
/// (GraphQL: HTTP 200 with the code in `extensions`). The second wave competes
/// for the connection on its own: each request succeeds or is `unavailable`.
/// Afterwards the server serves normally.
#[tokio::test]
async fn requests_that_wait_too_long_for_a_connection_answer_unavailable_not_internal() {
    use sea_orm::TransactionTrait;

    let app = crate::helpers::spawn_app_with(|a| {
        a.db_max_connections = 1;
        a.db_acquire_timeout_ms = 100;
        a.auth_cache_ttl_ms = 600_000;
        // Nothing in the background competes for the connection.
        a.jobs.runner = false;
        a.webhooks.dispatcher = false;
    })
    .await;
    // The live key is verified once and cached: its requests get past
    // authentication without the database.
    app.gql(&app.acme.live, "{ viewer { environment } }", json!({}))
        .await
        .ok();

    let held = app
        .db
        .begin()
        .await
        .expect("hold the only pooled connection");
    let first = overload_burst(&app, "first", 10).await;
    held.rollback().await.expect("release the connection");
    assert_eq!(first.len(), 20);
    for (surface, n, answer) in &first {
        let expected = match (*surface, n % 2, n % 5) {
            // Refused by the resolver: an error in a GraphQL response.
            ("graphql", 1, 0..=3) => 200,
            _ => 503,
        };
        assert_eq!(
            *answer,
            Burst::Unavailable(expected),
            "{surface} #{n} while the connection is held"
        );
    }

    let second = overload_burst(&app, "second", 10).await;
    assert_eq!(second.len(), 20);

    // The pool is free again: both surfaces serve.
    writes_on_both_surfaces(&app, "after-the-burst").await;
}
