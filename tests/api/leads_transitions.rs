//! Status transitions: the seven allowed moves are recorded in `history`; every
//! other pair is `invalid_transition` and changes nothing.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, spawn_app},
    lead_support::{assert_error, assert_validation, field_error, transition},
};

const STATUSES: [&str; 4] = ["NEW", "CONTACTED", "QUALIFIED", "UNQUALIFIED"];

const ALLOWED: [(&str, &str); 7] = [
    ("NEW", "CONTACTED"),
    ("NEW", "QUALIFIED"),
    ("NEW", "UNQUALIFIED"),
    ("CONTACTED", "QUALIFIED"),
    ("CONTACTED", "UNQUALIFIED"),
    ("QUALIFIED", "UNQUALIFIED"),
    ("UNQUALIFIED", "CONTACTED"),
];

/// Moves from NEW to `status` along allowed transitions.
fn path_to(status: &str) -> &'static [&'static str] {
    match status {
        "NEW" => &[],
        "CONTACTED" => &["CONTACTED"],
        "QUALIFIED" => &["QUALIFIED"],
        "UNQUALIFIED" => &["UNQUALIFIED"],
        other => panic!("unknown status {other}"),
    }
}

/// A new lead moved to `status`; returns its id.
async fn lead_in(app: &TestApp, status: &str) -> String {
    let id = app.create_lead(&app.acme.live, json!({})).await;
    for to in path_to(status) {
        transition(app, &id, to, None).await.ok();
    }
    id
}

async fn history(app: &TestApp, id: &str) -> (Value, Vec<Value>) {
    let answer = app
        .gql(
            &app.acme.live,
            "query($id: ID!) { lead(id: $id) { status history { totalCount nodes { id from to reason at actor { id } } } } }",
            json!({ "id": id }),
        )
        .await;
    answer.ok();
    (
        answer.data("lead.status").clone(),
        answer
            .data("lead.history.nodes")
            .as_array()
            .expect("nodes")
            .clone(),
    )
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().expect("timestamp").parse().expect("RFC 3339")
}

#[tokio::test]
async fn every_allowed_transition_succeeds_and_is_recorded_in_history() {
    let app = spawn_app().await;
    for (from, to) in ALLOWED {
        let id = lead_in(&app, from).await;
        let (_, before) = history(&app, &id).await;
        let answer = transition(&app, &id, to, Some("  called them  ")).await;
        answer.ok();
        assert_eq!(
            answer.data("transitionLead.lead.status"),
            &json!(to),
            "{from}->{to}"
        );
        let t = answer.data("transitionLead.transition").clone();
        assert_eq!((&t["from"], &t["to"]), (&json!(from), &json!(to)));
        assert_eq!(t["reason"], json!("called them"), "the reason is trimmed");
        assert_eq!(t["actor"], json!({ "id": app.acme.owner_id }));
        assert_eq!(
            t["at"],
            *answer.data("transitionLead.lead.updatedAt"),
            "at is when the lead changed"
        );

        let (status, after) = history(&app, &id).await;
        assert_eq!(status, json!(to));
        assert_eq!(after.len(), before.len() + 1, "{from}->{to}");
        assert_eq!(after[..before.len()], before[..]);
        assert_eq!(after.last(), Some(&t));
    }
}

#[tokio::test]
async fn history_lists_every_transition_oldest_first_with_from_to_actor_reason_and_at() {
    let app = spawn_app().await;
    let id = app.create_lead(&app.acme.live, json!({})).await;
    let (status, empty) = history(&app, &id).await;
    assert_eq!((status, empty), (json!("NEW"), vec![]));
    let steps = [
        ("CONTACTED", Some("first call")),
        ("QUALIFIED", None),
        ("UNQUALIFIED", Some("budget cut")),
        ("CONTACTED", Some("   ")),
        ("UNQUALIFIED", Some("no answer")),
    ];
    let mut expected = Vec::new();
    let mut from = "NEW";
    for (to, reason) in steps {
        let answer = transition(&app, &id, to, reason).await;
        answer.ok();
        expected.push(answer.data("transitionLead.transition").clone());
        let t = expected.last().expect("pushed");
        assert_eq!((&t["from"], &t["to"]), (&json!(from), &json!(to)));
        from = to;
    }
    let (status, recorded) = history(&app, &id).await;
    assert_eq!(status, json!("UNQUALIFIED"));
    assert_eq!(recorded, expected);
    let reasons: Vec<&Value> = recorded.iter().map(|t| &t["reason"]).collect();
    assert_eq!(
        reasons,
        [
            &json!("first call"),
            &Value::Null,
            &json!("budget cut"),
            &Value::Null,
            &json!("no answer")
        ]
    );
    for t in &recorded {
        assert_eq!(t["actor"], json!({ "id": app.acme.owner_id }));
    }
    for pair in recorded.windows(2) {
        assert!(
            time(&pair[0]["at"]) <= time(&pair[1]["at"]),
            "oldest first: {pair:?}"
        );
    }

    // History pages like any connection.
    let answer = app
        .gql(
            &app.acme.live,
            "query($id: ID!) { lead(id: $id) { history(first: 2) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } } }",
            json!({ "id": id }),
        )
        .await;
    answer.ok();
    assert_eq!(answer.data("lead.history.totalCount"), &json!(5));
    assert_eq!(
        answer.data("lead.history.nodes"),
        &json!([{ "id": expected[0]["id"] }, { "id": expected[1]["id"] }])
    );
    assert_eq!(
        answer.data("lead.history.pageInfo.hasNextPage"),
        &json!(true)
    );
    let after = answer.data("lead.history.pageInfo.endCursor").clone();
    let answer = app
        .gql(
            &app.acme.live,
            "query($id: ID!, $a: String) { lead(id: $id) { history(first: 10, after: $a) { nodes { id } pageInfo { hasNextPage } } } }",
            json!({ "id": id, "a": after }),
        )
        .await;
    answer.ok();
    let rest: Vec<Value> = expected[2..]
        .iter()
        .map(|t| json!({ "id": t["id"] }))
        .collect();
    assert_eq!(answer.data("lead.history.nodes"), &json!(rest));
    assert_eq!(
        answer.data("lead.history.pageInfo.hasNextPage"),
        &json!(false)
    );
}

#[tokio::test]
async fn every_other_transition_is_refused_and_leaves_the_status_unchanged() {
    let app = spawn_app().await;
    let mut refused = 0;
    for from in STATUSES {
        for to in STATUSES {
            if ALLOWED.contains(&(from, to)) {
                continue;
            }
            refused += 1;
            let id = lead_in(&app, from).await;
            let (_, before) = history(&app, &id).await;
            let answer = transition(&app, &id, to, Some("try")).await;
            assert_error(&answer, "invalid_transition", 422);
            assert_eq!(answer.body["data"], Value::Null, "{from}->{to}");
            let (status, after) = history(&app, &id).await;
            assert_eq!(status, json!(from), "{from}->{to} left the status alone");
            assert_eq!(after, before, "{from}->{to} recorded nothing");
        }
    }
    assert_eq!(refused, 9, "16 pairs, 7 allowed");
}

#[tokio::test]
async fn a_transition_reason_over_1000_characters_is_refused() {
    let app = spawn_app().await;
    let id = lead_in(&app, "NEW").await;
    let answer = transition(&app, &id, "CONTACTED", Some(&"r".repeat(1001))).await;
    assert_validation(
        &answer,
        json!([field_error("reason", "too_long", "at most 1000 characters")]),
    );
    let (status, recorded) = history(&app, &id).await;
    assert_eq!((status, recorded.len()), (json!("NEW"), 0));
    let answer = transition(&app, &id, "CONTACTED", Some(&"r".repeat(1000))).await;
    answer.ok();
}

#[tokio::test]
async fn an_unknown_status_is_a_bad_request() {
    let app = spawn_app().await;
    let id = lead_in(&app, "NEW").await;
    assert_error(
        &transition(&app, &id, "WON", None).await,
        "bad_request",
        400,
    );
    assert_error(
        &transition(&app, &id, "contacted", None).await,
        "bad_request",
        400,
    );
    assert_eq!(history(&app, &id).await.0, json!("NEW"));
}

#[tokio::test]
async fn the_actor_of_a_transition_is_the_on_behalf_of_user_when_given() {
    let app = spawn_app().await;
    let user = app.create_user(&app.acme.live, "rep@acme.example").await;
    let id = lead_in(&app, "NEW").await;
    let body: Value = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("x-api-key", &app.acme.live)
        .header("x-on-behalf-of", &user)
        .json(&json!({
            "query": "mutation($id: ID!) { transitionLead(id: $id, to: CONTACTED, reason: \"met\") { transition { actor { id } } } }",
            "variables": { "id": id },
        }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["errors"], Value::Null, "{body:#}");
    assert_eq!(
        body["data"]["transitionLead"]["transition"]["actor"],
        json!({ "id": user })
    );
    transition(&app, &id, "QUALIFIED", None).await.ok();
    let (_, recorded) = history(&app, &id).await;
    let actors: Vec<&Value> = recorded.iter().map(|t| &t["actor"]["id"]).collect();
    assert_eq!(actors, [&json!(user), &json!(app.acme.owner_id)]);
}
