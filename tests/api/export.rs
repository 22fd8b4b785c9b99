//! `GET /v1/leads/export` and `leadgraph export`: complete, ordered, filtered,
//! scoped, PII-aware and streamed.

use std::collections::HashSet;

use futures::StreamExt;
use leadgraph::{
    cli::export as cli,
    config::{ExportArgs, ExportFormat},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, lead_input, spawn_app};

/// Creates `n` leads through `createLeads` (500 at a time), `make(i)` merged over
/// a valid default; returns their ids in creation order.
async fn create_many(
    app: &TestApp,
    key: &str,
    n: usize,
    make: impl Fn(usize) -> Value,
) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(500) {
        let inputs: Vec<Value> = chunk.iter().map(|&i| lead_input(make(i))).collect();
        let answer = app
            .gql(
                key,
                "mutation($i: [CreateLeadInput!]!) { createLeads(inputs: $i) {
                    failed results { lead { id } } } }",
                json!({ "i": inputs }),
            )
            .await;
        answer.ok();
        assert_eq!(answer.data("createLeads.failed"), 0, "{:#}", answer.body);
        for r in answer.data("createLeads.results").as_array().unwrap() {
            ids.push(r["lead"]["id"].as_str().unwrap().to_owned());
        }
    }
    ids
}

async fn export(app: &TestApp, key: &str, query: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .get(format!("{}/v1/leads/export", app.base))
        .header("x-api-key", key)
        .query(query)
        .send()
        .await
        .unwrap()
}

/// The export as JSON objects (asserting a 200 JSON Lines body).
async fn jsonl(app: &TestApp, key: &str, query: &[(&str, &str)]) -> Vec<Value> {
    let mut q = vec![("format", "jsonl")];
    q.extend_from_slice(query);
    let resp = export(app, key, &q).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let text = resp.text().await.unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The export as CSV: header and records (asserting a 200 CSV body).
async fn csv(app: &TestApp, key: &str, query: &[(&str, &str)]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut q = vec![("format", "csv")];
    q.extend_from_slice(query);
    let resp = export(app, key, &q).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"leads.csv\""
    );
    let body = resp.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_ref());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The `id`s of an export's JSON objects.
fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn csv_and_jsonl_exports_are_complete_in_order_and_without_duplicates() {
    let app = spawn_app().await;
    let key = &app.acme.live;
    let created = create_many(&app, key, 2_600, |i| {
        json!({ "firstName": format!("Lead{i}"), "customFields": { "n": i, "note": "a, \"quoted\"\nline" } })
    })
    .await;

    // Oldest first, ties by id: the creation order.
    let rows = jsonl(&app, key, &[]).await;
    assert_eq!(ids(&rows), created);
    assert_eq!(rows[7]["firstName"], "Lead7");
    assert_eq!(rows[7]["customFields"]["n"], 7);
    let unique: HashSet<String> = ids(&rows).into_iter().collect();
    assert_eq!(unique.len(), 2_600);

    let (header, records) = csv(&app, key, &[]).await;
    assert_eq!(
        header,
        [
            "id",
            "email",
            "firstName",
            "lastName",
            "phone",
            "company",
            "jobTitle",
            "source",
            "status",
            "score",
            "market",
            "teamId",
            "assignedToId",
            "createdById",
            "createdAt",
            "updatedAt",
            "customFields"
        ]
    );
    let csv_ids: Vec<String> = records.iter().map(|r| r[0].clone()).collect();
    assert_eq!(csv_ids, created);
    let custom: Value = serde_json::from_str(&records[3][16]).unwrap();
    assert_eq!(custom, json!({ "n": 3, "note": "a, \"quoted\"\nline" }));
    // The same values as GraphQL: status, source, market, creator, times.
    let r = &rows[0];
    assert_eq!(
        (r["status"].as_str(), r["source"].as_str()),
        (Some("NEW"), Some("API"))
    );
    assert_eq!(r["createdById"], app.acme.owner_id.as_str());
    let g = app
        .gql(
            key,
            "query($id: ID!) { lead(id: $id) { createdAt updatedAt } }",
            json!({ "id": created[0] }),
        )
        .await;
    assert_eq!(r["createdAt"], *g.ok().data("lead.createdAt"));
    assert_eq!(records[0][14], g.data("lead.createdAt").as_str().unwrap());

    // Newest first when asked.
    let desc = jsonl(&app, key, &[("direction", "desc")]).await;
    let mut reversed = created.clone();
    reversed.reverse();
    assert_eq!(ids(&desc), reversed);
}

#[tokio::test]
async fn each_filter_narrows_the_export() {
    let app = spawn_app().await;
    let key = &app.acme.live;
    let a = app
        .create_lead(key, json!({ "email": "zelda@example.com", "firstName": "Zelda", "score": 10, "source": "WEB" }))
        .await;
    let b = app
        .create_lead(
            key,
            json!({ "market": "IN", "score": 50, "company": "Initech" }),
        )
        .await;
    let c = app.create_lead(key, json!({ "score": 90 })).await;
    let t = app
        .gql(
            key,
            "mutation($id: ID!) { transitionLead(id: $id, to: CONTACTED) { lead { updatedAt } } }",
            json!({ "id": c }),
        )
        .await;
    let last_write: chrono::DateTime<chrono::Utc> = t
        .ok()
        .data("transitionLead.lead.updatedAt")
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let since = (last_write + chrono::Duration::microseconds(1)).to_rfc3339();
    app.gql(
        key,
        "mutation($id: ID!) { updateLead(id: $id, input: {company: \"Later\"}) { lead { id } } }",
        json!({ "id": a }),
    )
    .await
    .ok();

    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a String>);
    let cases: Vec<Case> = vec![
        (vec![], vec![&a, &b, &c]),
        (vec![("status", "CONTACTED")], vec![&c]),
        (vec![("status", "NEW,QUALIFIED")], vec![&a, &b]),
        (vec![("source", "web")], vec![&a]),
        (vec![("market", "in")], vec![&b]),
        (vec![("scoreMin", "50")], vec![&b, &c]),
        (vec![("scoreMax", "50")], vec![&a, &b]),
        (vec![("scoreMin", "20"), ("scoreMax", "60")], vec![&b]),
        (vec![("updatedAfter", since.as_str())], vec![&a]),
        (vec![("updatedBefore", since.as_str())], vec![&b, &c]),
        (vec![("search", "zel")], vec![&a]),
        (vec![("search", "initech")], vec![&b]),
        (vec![("email", "ZELDA@example.com")], vec![&a]),
        (vec![("unassigned", "true")], vec![&a, &b, &c]),
        (vec![("unassigned", "false")], vec![]),
        (
            vec![("orderBy", "score"), ("direction", "desc")],
            vec![&c, &b, &a],
        ),
    ];
    for (query, expected) in cases {
        let got = ids(&jsonl(&app, key, &query).await);
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        if query.iter().any(|(k, _)| *k == "orderBy") {
            assert_eq!(got, expected, "{query:?}");
        } else {
            assert_eq!(sorted(got), sorted(expected), "{query:?}");
        }
    }
}

#[tokio::test]
async fn a_market_scoped_key_exports_only_its_market() {
    let app = spawn_app().await;
    let us = app
        .create_lead(&app.acme.live, json!({ "market": "US" }))
        .await;
    let india = app
        .create_lead(&app.acme.live, json!({ "market": "IN" }))
        .await;
    let scoped = app
        .create_key(&app.acme.live, json!({ "markets": ["IN"] }))
        .await;
    assert_eq!(ids(&jsonl(&app, &scoped, &[]).await), vec![india.clone()]);
    // Asking for the other market does not widen the scope.
    assert!(jsonl(&app, &scoped, &[("market", "US")]).await.is_empty());
    let (_, records) = csv(&app, &app.acme.live, &[]).await;
    assert_eq!(records.len(), 2);
    assert_eq!(
        sorted(ids(&jsonl(&app, &app.acme.live, &[]).await)),
        sorted(vec![us, india])
    );
}

#[tokio::test]
async fn a_key_without_pii_read_gets_no_pii_columns() {
    let app = spawn_app().await;
    app.create_lead(
        &app.acme.live,
        json!({ "email": "zzprobe@example.com", "phone": "+14155550100", "customFields": { "k": "v" } }),
    )
    .await;
    let reader = app
        .create_key(&app.acme.live, json!({ "operations": ["leads:read"] }))
        .await;

    let (header, records) = csv(&app, &reader, &[]).await;
    for column in ["email", "phone", "customFields"] {
        assert!(!header.iter().any(|h| h == column), "{header:?}");
    }
    assert_eq!(header.len(), 14);
    assert_eq!(records[0].len(), 14);
    let rows = jsonl(&app, &reader, &[]).await;
    let obj = rows[0].as_object().unwrap();
    for key in ["email", "phone", "customFields"] {
        assert!(!obj.contains_key(key), "{obj:?}");
    }
    assert_eq!(rows[0]["firstName"], "Ada");

    // With pii:read the values are there.
    let full = jsonl(&app, &app.acme.live, &[]).await;
    assert_eq!(full[0]["email"], "zzprobe@example.com");
    assert_eq!(full[0]["phone"], "+14155550100");
    assert_eq!(full[0]["customFields"], json!({ "k": "v" }));

    // Filtering by email is refused; search does not look at emails.
    let resp = export(&app, &reader, &[("email", "zzprobe@example.com")]).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "forbidden");
    assert!(body["message"].as_str().unwrap().contains("pii:read"));
    assert!(
        jsonl(&app, &reader, &[("search", "zzprobe")])
            .await
            .is_empty()
    );
    assert_eq!(
        jsonl(&app, &app.acme.live, &[("search", "zzprobe")])
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_key_without_leads_read_is_forbidden() {
    let app = spawn_app().await;
    let writer = app
        .create_key(&app.acme.live, json!({ "operations": ["leads:write"] }))
        .await;
    let resp = export(&app, &writer, &[]).await;
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().contains_key("x-ratelimit-remaining"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"][0]["code"], "forbidden");
    assert!(body["message"].as_str().unwrap().contains("leads:read"));

    let anonymous = app
        .client
        .get(format!("{}/v1/leads/export", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn bad_parameters_are_bad_requests_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, needle) in [
        (vec![("format", "xml")], "format"),
        (vec![("status", "OPEN")], "OPEN"),
        (vec![("scoreMin", "high")], "scoreMin"),
        (vec![("updatedAfter", "yesterday")], "updatedAfter"),
        (vec![("teamId", "not-an-id")], "teamId"),
        (vec![("orderBy", "email")], "orderBy"),
        (vec![("direction", "up")], "direction"),
        (vec![("limit", "10")], "limit"),
        (vec![("search", "a"), ("search", "b")], "search"),
    ] {
        let resp = export(&app, &app.acme.live, &query).await;
        assert_eq!(resp.status(), 400, "{query:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "bad_request");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(needle), "{query:?}: {message}");
    }
}

#[tokio::test]
async fn the_export_carries_rate_limit_headers() {
    let app = spawn_app().await;
    let resp = export(&app, &app.acme.live, &[]).await;
    assert_eq!(resp.status(), 200);
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-api-usage-current",
        "x-api-usage-limit",
    ] {
        assert!(resp.headers().contains_key(name), "{name} missing");
    }
    assert_eq!(resp.headers()["cache-control"], "no-store");
    // An empty CSV export is its header.
    assert_eq!(
        resp.text().await.unwrap().lines().count(),
        1,
        "header row only"
    );
}

fn cli_args(app: &TestApp, key: &str) -> ExportArgs {
    ExportArgs {
        api_url: format!("{}/", app.base),
        api_key: key.to_owned(),
        format: ExportFormat::Jsonl,
        status: vec![],
        source: vec![],
        market: vec![],
        team_id: None,
        assigned_to_id: None,
        unassigned: None,
        score_min: None,
        score_max: None,
        created_after: None,
        created_before: None,
        updated_after: None,
        updated_before: None,
        email: None,
        search: None,
        order_by: None,
        direction: None,
    }
}

#[tokio::test]
async fn the_cli_streams_the_filtered_export_and_fails_on_refusal() {
    let app = spawn_app().await;
    let key = &app.acme.live;
    create_many(
        &app,
        key,
        30,
        |i| json!({ "score": i, "market": if i % 2 == 0 { "US" } else { "IN" } }),
    )
    .await;
    let mut args = cli_args(&app, key);
    args.market = vec!["US".into()];
    args.score_min = Some(10);
    let mut out = Vec::new();
    let written = cli::export(&app.client, &args, &mut out).await.unwrap();
    assert_eq!(written, out.len() as u64);
    let expected = jsonl(&app, key, &[("market", "US"), ("scoreMin", "10")]).await;
    let got: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), 10);
    assert_eq!(got, expected);

    args.format = ExportFormat::Csv;
    let mut out = Vec::new();
    cli::export(&app.client, &args, &mut out).await.unwrap();
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 11);

    // A refusal is an error carrying the envelope's message.
    let writer = app
        .create_key(key, json!({ "operations": ["leads:write"] }))
        .await;
    let mut out = Vec::new();
    let err = cli::export(&app.client, &cli_args(&app, &writer), &mut out)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("403") && err.contains("leads:read"), "{err}");
    assert!(out.is_empty());
}

#[tokio::test]
async fn a_large_export_arrives_in_many_chunks() {
    let app = spawn_app().await;
    let key = &app.acme.live;
    let n = 20_000;
    create_many(&app, key, n, |_| json!({})).await;
    let resp = export(&app, key, &[("format", "jsonl")]).await;
    assert_eq!(resp.status(), 200);
    // Streamed: chunked, no length known up front.
    assert!(resp.content_length().is_none());
    let mut chunks = 0;
    let mut lines = 0;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        chunks += 1;
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    assert_eq!(lines, n);
    assert!(chunks >= 10, "only {chunks} chunks");
}

/// The truncation contract the README promises, at the transport level: a body
/// stream that fails after its first chunk (as the export's does on a database
/// error mid-way) aborts the response, and the client sees an error rather than
/// a clean end.
#[tokio::test]
async fn a_failing_body_stream_reaches_the_client_as_an_error() {
    use axum::{Router, body::Body, routing::get};
    let (fail, failed) = tokio::sync::oneshot::channel::<()>();
    let failed = std::sync::Arc::new(tokio::sync::Mutex::new(Some(failed)));
    let router = Router::new().route(
        "/",
        get(move || async move {
            let failed = failed.lock().await.take().unwrap();
            let first = futures::stream::once(async { Ok::<_, std::io::Error>("id\r\n1\r\n") });
            let then = futures::stream::once(async move {
                let _ = failed.await;
                Err(std::io::Error::other("database gone"))
            });
            Body::from_stream(first.chain(then))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let resp = reqwest::get(format!("http://{addr}/")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    assert_eq!(&body.next().await.unwrap().unwrap()[..], b"id\r\n1\r\n");
    fail.send(()).unwrap();
    let mut errors = 0;
    while let Some(chunk) = body.next().await {
        errors += usize::from(chunk.is_err());
    }
    assert_eq!(errors, 1, "a cut-off body must not look complete");
}
