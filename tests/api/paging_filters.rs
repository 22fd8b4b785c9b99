//! Every `LeadFilter` field, alone and combined, with `totalCount`; and the
//! incremental-sync pattern (`UPDATED_AT ASC` + `updatedAfter`).

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, spawn_app},
    lead_support::{assert_error, create_many, delete_lead, transition},
};

/// Ids of `leads(filter: $f)` in creation order, checking `totalCount` agrees.
async fn matching(app: &TestApp, filter: Value) -> Vec<String> {
    let answer = app
        .gql(
            &app.acme.live,
            "query($f: LeadFilter) { leads(first: 200, filter: $f, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount nodes { id } } }",
            json!({ "f": filter }),
        )
        .await;
    answer.ok();
    let ids: Vec<String> = answer
        .data("leads.nodes")
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        answer.data("leads.totalCount"),
        &json!(ids.len()),
        "totalCount of {filter}"
    );
    ids
}

struct Data {
    /// The seven leads, in creation order.
    l: Vec<Value>,
    team_us: String,
    team_in: String,
    user_a: String,
    user_b: String,
}

impl Data {
    fn ids(&self, which: &[usize]) -> Vec<String> {
        which
            .iter()
            .map(|i| self.l[*i - 1]["id"].as_str().expect("id").to_owned())
            .collect()
    }
    fn at(&self, i: usize, field: &str) -> Value {
        self.l[i - 1][field].clone()
    }
}

const FIELDS: &str = "id createdAt updatedAt";

async fn seed(app: &TestApp) -> Data {
    let key = &app.acme.live;
    let team_us = app.create_team(key, "Valley", "US").await;
    let team_in = app.create_team(key, "Pune", "IN").await;
    let user_a = app.create_user(key, "a@acme.example").await;
    let user_b = app.create_user(key, "b@acme.example").await;
    let overs = vec![
        json!({ "firstName": "Ada", "lastName": "Lovelace", "email": "ada@analytical.example", "company": "Analytical Engines", "market": "US", "source": "WEB", "score": 10 }),
        json!({ "firstName": "Grace", "lastName": "Hopper", "email": "grace@navy.example", "company": "US Navy", "market": "US", "source": "REFERRAL", "score": 50, "teamId": team_us, "assignedToId": user_a }),
        json!({ "firstName": "Alan", "lastName": "Turing", "email": "alan@bletchley.example", "company": "Bletchley Park", "market": "IN", "source": "API", "score": 90, "assignedToId": user_b }),
        json!({ "firstName": "Katherine", "lastName": "Johnson", "email": "kj@nasa.example", "company": "NASA", "market": "IN", "source": "IMPORT", "score": 100, "teamId": team_in }),
        json!({ "firstName": "Margaret", "lastName": "Hamilton", "email": "mh@mit.example", "market": "US", "source": "MANUAL", "score": 0 }),
        json!({ "firstName": "Johnny", "lastName": "Adams", "email": "jadams@gmail.com", "company": "Quincy", "market": "US", "score": 30 }),
        json!({ "firstName": "Percy", "lastName": "Sale", "email": "percy@deals.example", "company": "50%_Off Stores", "market": "US", "score": 70 }),
    ];
    // One request per lead, so creation times are strictly increasing.
    let mut l = Vec::new();
    for over in overs {
        l.extend(create_many(app, key, vec![over], FIELDS).await);
    }
    Data {
        l,
        team_us,
        team_in,
        user_a,
        user_b,
    }
}

#[tokio::test]
async fn list_filters_status_source_and_market_match_any_listed_value() {
    let app = spawn_app().await;
    let d = seed(&app).await;
    transition(&app, &d.ids(&[2])[0], "CONTACTED", None)
        .await
        .ok();
    transition(&app, &d.ids(&[3])[0], "QUALIFIED", None)
        .await
        .ok();
    assert_eq!(
        matching(&app, json!({})).await,
        d.ids(&[1, 2, 3, 4, 5, 6, 7])
    );
    assert_eq!(
        matching(&app, json!({ "status": ["NEW"] })).await,
        d.ids(&[1, 4, 5, 6, 7])
    );
    assert_eq!(
        matching(&app, json!({ "status": ["CONTACTED", "QUALIFIED"] })).await,
        d.ids(&[2, 3])
    );
    assert_eq!(
        matching(&app, json!({ "status": ["UNQUALIFIED"] })).await,
        d.ids(&[])
    );
    assert_eq!(
        matching(&app, json!({ "source": ["WEB", "IMPORT"] })).await,
        d.ids(&[1, 4])
    );
    assert_eq!(
        matching(&app, json!({ "source": ["API"] })).await,
        d.ids(&[3, 6, 7]),
        "API is the default source"
    );
    assert_eq!(
        matching(&app, json!({ "market": ["IN"] })).await,
        d.ids(&[3, 4])
    );
    assert_eq!(
        matching(&app, json!({ "market": [" us "] })).await,
        d.ids(&[1, 2, 5, 6, 7]),
        "market codes are normalised"
    );
    assert_eq!(
        matching(&app, json!({ "market": ["US", "IN"] })).await,
        d.ids(&[1, 2, 3, 4, 5, 6, 7])
    );
    assert_eq!(
        matching(&app, json!({ "market": ["GB"] })).await,
        d.ids(&[])
    );
    assert_eq!(
        matching(&app, json!({ "market": ["IN"], "status": ["QUALIFIED"] })).await,
        d.ids(&[3])
    );
    assert_eq!(
        matching(&app, json!({ "status": [], "market": ["US"] })).await,
        d.ids(&[]),
        "an empty list matches nothing"
    );
}

#[tokio::test]
async fn team_assignee_and_unassigned_filters_match_exactly() {
    let app = spawn_app().await;
    let d = seed(&app).await;
    assert_eq!(
        matching(&app, json!({ "teamId": d.team_us })).await,
        d.ids(&[2])
    );
    assert_eq!(
        matching(&app, json!({ "teamId": d.team_in })).await,
        d.ids(&[4])
    );
    assert_eq!(
        matching(&app, json!({ "assignedToId": d.user_a })).await,
        d.ids(&[2])
    );
    assert_eq!(
        matching(&app, json!({ "assignedToId": d.user_b })).await,
        d.ids(&[3])
    );
    assert_eq!(
        matching(&app, json!({ "assignedToId": app.acme.owner_id })).await,
        d.ids(&[])
    );
    assert_eq!(
        matching(&app, json!({ "unassigned": true })).await,
        d.ids(&[1, 4, 5, 6, 7])
    );
    assert_eq!(
        matching(&app, json!({ "unassigned": false })).await,
        d.ids(&[2, 3])
    );
    assert_eq!(
        matching(&app, json!({ "unassigned": false, "market": ["IN"] })).await,
        d.ids(&[3])
    );
    // A well-formed id of another type names no team or user.
    assert_eq!(
        matching(&app, json!({ "teamId": d.user_a })).await,
        d.ids(&[])
    );
    assert_eq!(
        matching(&app, json!({ "assignedToId": d.team_us })).await,
        d.ids(&[])
    );
    let answer = app
        .gql(
            &app.acme.live,
            "{ leads(filter: {teamId: \"abc\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_error(&answer, "bad_request", 400);
}

#[tokio::test]
async fn score_bounds_are_inclusive() {
    let app = spawn_app().await;
    let d = seed(&app).await;
    assert_eq!(
        matching(&app, json!({ "scoreMin": 50 })).await,
        d.ids(&[2, 3, 4, 7])
    );
    assert_eq!(
        matching(&app, json!({ "scoreMax": 10 })).await,
        d.ids(&[1, 5])
    );
    assert_eq!(
        matching(&app, json!({ "scoreMin": 10, "scoreMax": 50 })).await,
        d.ids(&[1, 2, 6])
    );
    assert_eq!(
        matching(&app, json!({ "scoreMin": 100 })).await,
        d.ids(&[4])
    );
    assert_eq!(
        matching(&app, json!({ "scoreMin": 60, "scoreMax": 40 })).await,
        d.ids(&[])
    );
}

#[tokio::test]
async fn created_and_updated_bounds_are_inclusive_after_and_exclusive_before() {
    let app = spawn_app().await;
    let d = seed(&app).await;
    assert_eq!(
        matching(&app, json!({ "createdAfter": d.at(3, "createdAt") })).await,
        d.ids(&[3, 4, 5, 6, 7])
    );
    assert_eq!(
        matching(&app, json!({ "createdBefore": d.at(3, "createdAt") })).await,
        d.ids(&[1, 2])
    );
    assert_eq!(
        matching(
            &app,
            json!({ "createdAfter": d.at(2, "createdAt"), "createdBefore": d.at(5, "createdAt") })
        )
        .await,
        d.ids(&[2, 3, 4])
    );
    assert_eq!(
        matching(&app, json!({ "createdAfter": "2999-01-01T00:00:00Z" })).await,
        d.ids(&[])
    );
    assert_eq!(
        matching(
            &app,
            json!({ "createdBefore": "2000-01-01T00:00:00+02:00" })
        )
        .await,
        d.ids(&[])
    );

    let moved = transition(&app, &d.ids(&[2])[0], "CONTACTED", None).await;
    moved.ok();
    let t2 = moved.data("transitionLead.lead.updatedAt").clone();
    transition(&app, &d.ids(&[3])[0], "CONTACTED", None)
        .await
        .ok();
    let changed = app
        .gql(
            &app.acme.live,
            "mutation($id: ID!) { updateLead(id: $id, input: {company: \"Difference Engines\"}) { lead { updatedAt } } }",
            json!({ "id": d.ids(&[1])[0] }),
        )
        .await;
    changed.ok();
    let t1 = changed.data("updateLead.lead.updatedAt").clone();
    assert_eq!(
        matching(&app, json!({ "updatedAfter": t1 })).await,
        d.ids(&[1])
    );
    assert_eq!(
        matching(&app, json!({ "updatedAfter": t2 })).await,
        d.ids(&[1, 2, 3])
    );
    assert_eq!(
        matching(&app, json!({ "updatedBefore": t2 })).await,
        d.ids(&[4, 5, 6, 7])
    );
    assert_eq!(
        matching(&app, json!({ "updatedAfter": t2, "updatedBefore": t1 })).await,
        d.ids(&[2, 3])
    );
    let bad = app
        .gql(
            &app.acme.live,
            "{ leads(filter: {updatedAfter: \"yesterday\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_error(&bad, "bad_request", 400);
}

#[tokio::test]
async fn the_email_filter_matches_the_canonical_key_only() {
    let app = spawn_app().await;
    let d = seed(&app).await;
    assert_eq!(
        matching(&app, json!({ "email": "ADA@Analytical.example" })).await,
        d.ids(&[1])
    );
    assert_eq!(
        matching(&app, json!({ "email": "J.Adams+news@googlemail.com" })).await,
        d.ids(&[6])
    );
    assert_eq!(
        matching(&app, json!({ "email": "ada" })).await,
        d.ids(&[]),
        "not a prefix match"
    );
    assert_eq!(
        matching(&app, json!({ "email": "not an email" })).await,
        d.ids(&[])
    );
}

#[tokio::test]
async fn search_is_a_case_insensitive_prefix_of_names_email_or_company() {
    let app = spawn_app().await;
    let d = seed(&app).await;
    let search = |q: &'static str| matching(&app, json!({ "search": q }));
    assert_eq!(
        search("ada").await,
        d.ids(&[1, 6]),
        "first name Ada, email ada@, last name Adams"
    );
    assert_eq!(search("LOVE").await, d.ids(&[1]), "last name");
    assert_eq!(search("grace h").await, d.ids(&[2]), "full name");
    assert_eq!(search("Katherine Johnson").await, d.ids(&[4]), "full name");
    assert_eq!(search("alan@bletch").await, d.ids(&[3]), "email");
    assert_eq!(search("jadams@").await, d.ids(&[6]), "email");
    assert_eq!(search("us nav").await, d.ids(&[2]), "company");
    assert_eq!(search("nasa").await, d.ids(&[4]), "company");
    assert_eq!(search("  hamil  ").await, d.ids(&[5]), "trimmed");
    assert_eq!(
        search("ovelace").await,
        d.ids(&[]),
        "a prefix, not a substring"
    );
    assert_eq!(
        search("analytical.example").await,
        d.ids(&[]),
        "the domain is not a prefix"
    );
    assert_eq!(
        search("").await,
        d.ids(&[1, 2, 3, 4, 5, 6, 7]),
        "blank searches nothing"
    );
    // LIKE wildcards are literal.
    assert_eq!(search("50%_").await, d.ids(&[7]));
    assert_eq!(search("%").await, d.ids(&[]));
    assert_eq!(search("a_a").await, d.ids(&[]));
    assert_eq!(search("gr_ce").await, d.ids(&[]));
    assert_eq!(
        matching(&app, json!({ "search": "a", "market": ["IN"] })).await,
        d.ids(&[3])
    );
}

#[tokio::test]
async fn updated_at_ascending_with_updated_after_returns_what_changed_since_a_sync() {
    let app = spawn_app().await;
    let key = &app.acme.live;
    let sync = |after: Value, first: u32, cursor: Value| {
        let app = &app;
        async move {
            let answer = app
                .gql(
                    &app.acme.live,
                    "query($f: LeadFilter, $n: Int, $c: String) { leads(first: $n, after: $c, filter: $f, orderBy: {field: UPDATED_AT, direction: ASC}) {
                        nodes { id updatedAt } pageInfo { hasNextPage endCursor } } }",
                    json!({ "f": { "updatedAfter": after }, "n": first, "c": cursor }),
                )
                .await;
            answer.ok();
            answer
        }
    };
    let ids = |answer: &crate::helpers::Answer| -> Vec<String> {
        answer
            .data("leads.nodes")
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let mut made = Vec::new();
    for _ in 0..3 {
        made.extend(create_many(&app, key, vec![json!({})], FIELDS).await);
    }
    let ids_made: Vec<String> = made
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect();
    let id = |i: usize| ids_made[i].clone();
    let first = sync(json!("2000-01-01T00:00:00Z"), 50, Value::Null).await;
    assert_eq!(ids(&first), vec![id(0), id(1), id(2)]);
    let watermark = first.data("leads.nodes.2.updatedAt").clone();

    let answer = app
        .gql(
            key,
            "mutation($id: ID!) { updateLead(id: $id, input: {score: 42}) { lead { id } } }",
            json!({ "id": id(0) }),
        )
        .await;
    answer.ok();
    // The fourth lead, created only now.
    let created = app
        .gql(
            key,
            "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id } } }",
            json!({ "i": crate::helpers::lead_input(json!({})) }),
        )
        .await;
    created.ok();
    let id3 = created
        .data("createLead.lead.id")
        .as_str()
        .expect("id")
        .to_owned();
    delete_lead(&app, &id(1)).await;

    // Inclusive: the row at the watermark comes again, then what changed, in order.
    let since = sync(watermark.clone(), 50, Value::Null).await;
    assert_eq!(ids(&since), vec![id(2), id(0), id3.clone()]);
    // The same, two at a time.
    let page1 = sync(watermark.clone(), 2, Value::Null).await;
    assert_eq!(ids(&page1), vec![id(2), id(0)]);
    assert_eq!(page1.data("leads.pageInfo.hasNextPage"), &json!(true));
    let page2 = sync(watermark, 2, page1.data("leads.pageInfo.endCursor").clone()).await;
    assert_eq!(ids(&page2), vec![id3.clone()]);
    assert_eq!(page2.data("leads.pageInfo.hasNextPage"), &json!(false));

    let next_watermark = since.data("leads.nodes.2.updatedAt").clone();
    assert_eq!(
        ids(&sync(next_watermark, 50, Value::Null).await),
        vec![id3.clone()]
    );
}
