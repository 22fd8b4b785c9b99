//! Nested fields go through DataLoaders: a page costs a constant number of SQL
//! statements whatever its size (measured with the server's own statement counter
//! on `/metrics`).

use serde_json::json;

use crate::helpers::{TestApp, spawn_app_with};

async fn statements(app: &TestApp) -> u64 {
    let text = app
        .get("/metrics")
        .await
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .find_map(|l| l.strip_prefix("leadgraph_db_statements_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("leadgraph_db_statements_total in /metrics")
}

const NESTED_PAGE: &str = "query($n: Int!) { leads(first: $n) { nodes {
    id email firstName team { id name market } assignedTo { id name } createdBy { id name }
    mergedInto { id }
} } }";

/// Statements spent answering one nested page of `n` leads.
async fn cost_of_page(app: &TestApp, n: usize) -> u64 {
    let before = statements(app).await;
    let answer = app
        .gql(&app.acme.live, NESTED_PAGE, json!({ "n": n }))
        .await;
    answer.ok();
    assert_eq!(answer.data("leads.nodes").as_array().map(Vec::len), Some(n));
    statements(app).await - before
}

#[tokio::test]
async fn a_nested_page_costs_the_same_statements_whatever_its_size() {
    // Without the auth cache, authentication costs the same in every
    // measurement (a cached key would cost nothing until its TTL runs out).
    let app = spawn_app_with(|a| a.auth_cache_ttl_ms = 0).await;
    let key = app.acme.live.clone();
    let teams = [
        app.create_team(&key, "East", "US").await,
        app.create_team(&key, "West", "US").await,
        app.create_team(&key, "Mumbai", "IN").await,
    ];
    let users = [
        app.create_user(&key, "a@acme.example").await,
        app.create_user(&key, "b@acme.example").await,
        app.create_user(&key, "c@acme.example").await,
    ];
    for i in 0..60 {
        let team = &teams[i % 3];
        let market = if i % 3 == 2 { "IN" } else { "US" };
        app.create_lead(
            &key,
            json!({ "market": market, "teamId": team, "assignedToId": users[i % users.len()] }),
        )
        .await;
    }
    // Warm up: authentication writes `lastUsedAt` at most once a minute; make
    // sure that write is not inside a measurement.
    app.gql(&key, "{ viewer { environment } }", json!({}))
        .await
        .ok();

    let small = cost_of_page(&app, 5).await;
    let full = cost_of_page(&app, 50).await;
    let max = cost_of_page(&app, 60).await;
    assert_eq!(
        small, full,
        "5 leads cost {small} statements, 50 cost {full}"
    );
    assert_eq!(full, max);
    // Authentication (2), the page (1), users (1) and teams (1).
    assert!(full <= 6, "a nested page cost {full} statements");

    // Every shape of the selection gets the right objects: `nodes`, `edges`,
    // a fragment, and one lead by id (the DataLoader path).
    let owner = app
        .gql(&key, "{ viewer { user { id } } }", json!({}))
        .await
        .data("viewer.user.id")
        .clone();
    let shapes = [
        "{ leads(first: 60) { nodes { team { id } assignedTo { id } createdBy { id } } } }",
        "{ leads(first: 60) { edges { node { team { id } assignedTo { id } createdBy { id } } } } }",
        "{ leads(first: 60) { nodes { ...Rel } } } \
         fragment Rel on Lead { team { id } assignedTo { id } createdBy { id } }",
    ];
    for query in shapes {
        let answer = app.gql(&key, query, json!({})).await;
        answer.ok();
        let data = answer.data("leads");
        let nodes: Vec<serde_json::Value> = match data["nodes"].as_array() {
            Some(nodes) => nodes.clone(),
            None => data["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"].clone())
                .collect(),
        };
        assert_eq!(nodes.len(), 60, "{query}");
        // Newest first: lead i of the loop above is node 59 - i.
        for (n, node) in nodes.iter().enumerate() {
            let i = 59 - n;
            assert_eq!(node["team"]["id"], json!(teams[i % 3]), "{query} #{n}");
            assert_eq!(
                node["assignedTo"]["id"],
                json!(users[i % 3]),
                "{query} #{n}"
            );
            assert_eq!(node["createdBy"]["id"], owner, "{query} #{n}");
        }
    }
}

/// A page after a cursor costs what the first page costs unless the selection
/// reads the flag that needs a second query (`hasPreviousPage` reading
/// forward, `hasNextPage` reading backward); when it does, the flag is right.
#[tokio::test]
async fn the_flag_beyond_the_cursor_is_queried_only_when_selected() {
    // Nothing in the background runs statements during the measurements.
    let app = spawn_app_with(|a| {
        a.auth_cache_ttl_ms = 0;
        a.jobs.runner = false;
        a.webhooks.dispatcher = false;
    })
    .await;
    let key = app.acme.live.clone();
    for _ in 0..6 {
        app.create_lead(&key, json!({})).await;
    }
    app.gql(&key, "{ viewer { environment } }", json!({}))
        .await
        .ok();
    let first = app
        .gql(
            &key,
            "{ leads(first: 2) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    first.ok();
    let cursor = first.data("leads.pageInfo.endCursor").clone();
    let start = app
        .gql(
            &key,
            "{ leads(last: 2) { pageInfo { startCursor } } }",
            json!({}),
        )
        .await;
    start.ok();
    let before = start.data("leads.pageInfo.startCursor").clone();

    let cost = async |query: &str, vars: serde_json::Value, flag: &str| {
        let at = statements(&app).await;
        let answer = app.gql(&key, query, vars).await;
        answer.ok();
        (statements(&app).await - at, answer.data(flag).clone())
    };
    let (plain, _) = cost(
        "query($c: String) { leads(first: 2, after: $c) { nodes { id } pageInfo { hasNextPage } } }",
        json!({ "c": cursor }),
        "leads.pageInfo.hasNextPage",
    )
    .await;
    let (asked, previous) = cost(
        "query($c: String) { leads(first: 2, after: $c) { nodes { id } pageInfo { hasPreviousPage } } }",
        json!({ "c": cursor }),
        "leads.pageInfo.hasPreviousPage",
    )
    .await;
    assert_eq!(asked, plain + 1, "hasPreviousPage costs one probe");
    assert_eq!(previous, json!(true));

    let (plain_back, _) = cost(
        "query($c: String) { leads(last: 2, before: $c) { nodes { id } pageInfo { hasPreviousPage } } }",
        json!({ "c": before }),
        "leads.pageInfo.hasPreviousPage",
    )
    .await;
    let (asked_back, next) = cost(
        "query($c: String) { leads(last: 2, before: $c) { nodes { id } pageInfo { hasNextPage } } }",
        json!({ "c": before }),
        "leads.pageInfo.hasNextPage",
    )
    .await;
    assert_eq!(asked_back, plain_back + 1, "hasNextPage costs one probe");
    assert_eq!(next, json!(true));
}

/// `lead(id:)` resolves its related objects together, as the generic path
/// does: one statement for its team and one for both of its users (assignee
/// and creator), not one per field in turn.
#[tokio::test]
async fn one_lead_loads_its_team_and_both_users_in_one_statement_each() {
    let app = spawn_app_with(|a| a.auth_cache_ttl_ms = 0).await;
    let key = app.acme.live.clone();
    let team = app.create_team(&key, "East", "US").await;
    let user = app.create_user(&key, "rep@acme.example").await;
    let id = app
        .create_lead(&key, json!({ "teamId": team, "assignedToId": user }))
        .await;
    app.gql(&key, "{ viewer { environment } }", json!({}))
        .await
        .ok();
    let cost = |query: &'static str| {
        let (app, id) = (&app, &id);
        async move {
            let before = statements(app).await;
            let answer = app.gql(&app.acme.live, query, json!({ "id": id })).await;
            answer.ok();
            (statements(app).await - before, answer)
        }
    };
    let (plain, _) = cost("query($id: ID!) { lead(id: $id) { id } }").await;
    let (nested, answer) = cost(
        "query($id: ID!) { lead(id: $id) { id team { name } assignedTo { email } createdBy { role } } }",
    )
    .await;
    assert_eq!(answer.data("lead.team.name"), "East");
    assert_eq!(answer.data("lead.assignedTo.email"), "rep@acme.example");
    assert_eq!(answer.data("lead.createdBy.role"), "owner");
    assert_eq!(nested, plain + 2, "plain {plain}, nested {nested}");
}
