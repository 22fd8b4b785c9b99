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
/// with `synchronous=NORMAL`, not only the first one (a regression once).
#[tokio::test]
async fn every_pooled_sqlite_connection_is_configured() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    // Hold several connections at once, so they cannot all be the same one.
    let mut txns = Vec::new();
    for _ in 0..6 {
        txns.push(app.db.begin().await.expect("begin"));
    }
    for txn in &txns {
        let row = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA synchronous",
            ))
            .await
            .expect("pragma")
            .expect("row");
        let level: i32 = row.try_get_by_index(0).expect("value");
        assert_eq!(level, 1, "synchronous=NORMAL on every connection");
        let row = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA journal_mode",
            ))
            .await
            .expect("pragma")
            .expect("row");
        let mode: String = row.try_get_by_index(0).expect("value");
        assert_eq!(mode, "wal");
    }
}

/// Instances of one deployment may start at the same moment on a new
/// database: both migrate it (one waits for the other) and both serve.
#[tokio::test]
async fn instances_starting_together_on_a_new_database_both_come_up() {
    let (url, _dir) = crate::helpers::database_url().await;
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
