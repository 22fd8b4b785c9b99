//! Opaque ids: their shape, `node`/`nodes`, malformed ids, ids of another type or
//! tenant; and the depth and complexity limits.

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, seed_tenant, spawn_app},
    lead_support::{assert_error, transition},
};

/// One id of each node type, from the API itself.
struct Ids {
    lead: String,
    user: String,
    team: String,
    api_key: String,
    transition: String,
}

async fn one_of_each(app: &TestApp) -> Ids {
    let key = &app.acme.live;
    let lead = app.create_lead(key, json!({})).await;
    let user = app.create_user(key, "member@acme.example").await;
    let team = app.create_team(key, "Valley", "US").await;
    let answer = app
        .gql(
            key,
            "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } } }",
            json!({ "i": { "name": "reader", "operations": ["leads:read"] } }),
        )
        .await;
    answer.ok();
    let api_key = answer
        .data("createApiKey.apiKey.id")
        .as_str()
        .expect("id")
        .to_owned();
    let moved = transition(app, &lead, "CONTACTED", None).await;
    moved.ok();
    let transition = moved
        .data("transitionLead.transition.id")
        .as_str()
        .expect("id")
        .to_owned();
    Ids {
        lead,
        user,
        team,
        api_key,
        transition,
    }
}

async fn node(app: &TestApp, key: &str, id: &str) -> crate::helpers::Answer {
    app.gql(
        key,
        "query($id: ID!) { node(id: $id) { __typename id } }",
        json!({ "id": id }),
    )
    .await
}

/// Ids that are not ids: too short, not alphanumeric, or 16 alphanumeric
/// characters that decode to nothing.
fn malformed(app: &TestApp) -> Vec<String> {
    let mut bad = vec!["abc".to_owned(), "!!!!".to_owned(), String::new()];
    for candidate in ["0000000000000000", "AAAAAAAAAAAAAAAA", "abcdefghijklmnop"] {
        assert_eq!(candidate.len(), 16);
        assert!(
            app.codec.decode(candidate).is_err(),
            "{candidate} must not be a valid id"
        );
        bad.push(candidate.to_owned());
    }
    bad
}

#[tokio::test]
async fn ids_are_16_or_17_alphanumeric_characters_for_every_type() {
    let app = spawn_app().await;
    let ids = one_of_each(&app).await;
    let viewer = app
        .gql(
            &app.acme.live,
            "{ viewer { apiKey { id } user { id } } }",
            json!({}),
        )
        .await;
    viewer.ok();
    for id in [
        &ids.lead,
        &ids.user,
        &ids.team,
        &ids.api_key,
        &ids.transition,
        &app.acme.owner_id,
        viewer.data("viewer.apiKey.id").as_str().expect("id"),
    ] {
        assert!(
            (16..=17).contains(&id.len()),
            "{id} has {} characters",
            id.len()
        );
        assert!(
            id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{id} is alphanumeric"
        );
    }
    let all = [
        &ids.lead,
        &ids.user,
        &ids.team,
        &ids.api_key,
        &ids.transition,
    ];
    let distinct: std::collections::BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "ids of different types differ");
}

#[tokio::test]
async fn node_resolves_every_type_to_its_typename() {
    let app = spawn_app().await;
    let ids = one_of_each(&app).await;
    for (id, typename) in [
        (&ids.lead, "Lead"),
        (&ids.user, "User"),
        (&ids.team, "Team"),
        (&ids.api_key, "ApiKey"),
        (&ids.transition, "LeadTransition"),
        (&app.acme.owner_id, "User"),
    ] {
        let answer = node(&app, &app.acme.live, id).await;
        answer.ok();
        assert_eq!(
            answer.data("node"),
            &json!({ "__typename": typename, "id": id })
        );
    }
    let answer = app
        .gql(
            &app.acme.live,
            "query($id: ID!) { node(id: $id) { ... on LeadTransition { from to by: actor { id } } } }",
            json!({ "id": ids.transition }),
        )
        .await;
    answer.ok();
    assert_eq!(
        answer.data("node"),
        &json!({ "from": "NEW", "to": "CONTACTED", "by": { "id": app.acme.owner_id } })
    );
}

#[tokio::test]
async fn nodes_answers_in_order_with_null_for_ids_of_another_tenant() {
    let app = spawn_app().await;
    let ids = one_of_each(&app).await;
    let globex = seed_tenant(&app.db, &app.codec, "globex", &["US"]).await;
    let foreign_lead = app.create_lead(&globex.live, json!({})).await;
    let foreign_team = app.create_team(&globex.live, "Springfield", "US").await;
    let order = [
        &ids.team,
        &foreign_lead,
        &ids.lead,
        &globex.owner_id,
        &ids.user,
        &foreign_team,
        &ids.lead,
    ];
    let answer = app
        .gql(
            &app.acme.live,
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": order }),
        )
        .await;
    answer.ok();
    assert_eq!(
        answer.data("nodes"),
        &json!([
            { "__typename": "Team", "id": ids.team },
            null,
            { "__typename": "Lead", "id": ids.lead },
            null,
            { "__typename": "User", "id": ids.user },
            null,
            { "__typename": "Lead", "id": ids.lead },
        ])
    );
    // The other tenant sees its own and not ours.
    let theirs = app
        .gql(
            &globex.live,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [foreign_lead, ids.lead] }),
        )
        .await;
    theirs.ok();
    assert_eq!(theirs.data("nodes"), &json!([{ "id": foreign_lead }, null]));

    let empty = app
        .gql(&app.acme.live, "{ nodes(ids: []) { id } }", json!({}))
        .await;
    assert_eq!(empty.ok().data("nodes"), &json!([]));
    let too_many: Vec<&String> = std::iter::repeat_n(&ids.lead, 101).collect();
    let answer = app
        .gql(
            &app.acme.live,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": too_many }),
        )
        .await;
    assert_error(&answer, "bad_request", 400);
}

#[tokio::test]
async fn a_malformed_id_is_a_bad_request_for_node_nodes_lead_and_update_lead() {
    let app = spawn_app().await;
    let lead = app.create_lead(&app.acme.live, json!({})).await;
    let key = &app.acme.live;
    for bad in malformed(&app) {
        assert_error(&node(&app, key, &bad).await, "bad_request", 400);
        let answer = app
            .gql(
                key,
                "query($id: ID!) { lead(id: $id) { id } }",
                json!({ "id": bad }),
            )
            .await;
        assert_error(&answer, "bad_request", 400);
        let answer = app
            .gql(key, "mutation($id: ID!) { updateLead(id: $id, input: {company: \"X\"}) { lead { id } } }", json!({ "id": bad }))
            .await;
        assert_error(&answer, "bad_request", 400);
        let answer = app
            .gql(
                key,
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": [lead, bad] }),
            )
            .await;
        assert_error(&answer, "bad_request", 400);
        for mutation in [
            "mutation($id: ID!) { deleteLead(id: $id) { deletedLeadId } }",
            "mutation($id: ID!) { transitionLead(id: $id, to: CONTACTED) { lead { id } } }",
            "mutation($id: ID!) { assignLead(id: $id, userId: null) { lead { id } } }",
        ] {
            assert_error(
                &app.gql(key, mutation, json!({ "id": bad })).await,
                "bad_request",
                400,
            );
        }
    }
    let still = app
        .gql(
            key,
            "query($id: ID!) { lead(id: $id) { status company } }",
            json!({ "id": lead }),
        )
        .await;
    assert_eq!(
        still.ok().data("lead"),
        &json!({ "status": "NEW", "company": null })
    );
}

#[tokio::test]
async fn a_well_formed_id_of_another_type_is_not_found_as_a_lead() {
    let app = spawn_app().await;
    let ids = one_of_each(&app).await;
    let key = &app.acme.live;
    for other in [&ids.user, &ids.team, &ids.api_key, &ids.transition] {
        let answer = app
            .gql(
                key,
                "query($id: ID!) { lead(id: $id) { id } }",
                json!({ "id": other }),
            )
            .await;
        assert_error(&answer, "not_found", 404);
        assert_eq!(answer.data("lead"), &Value::Null);
        let answer = app
            .gql(key, "mutation($id: ID!) { updateLead(id: $id, input: {company: \"X\"}) { lead { id } } }", json!({ "id": other }))
            .await;
        assert_error(&answer, "not_found", 404);
    }
    let answer = app
        .gql(
            key,
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": ids.lead }),
        )
        .await;
    assert_error(&answer, "not_found", 404);
}

#[tokio::test]
async fn a_well_formed_id_of_another_tenant_is_not_found() {
    let app = spawn_app().await;
    let globex = seed_tenant(&app.db, &app.codec, "globex", &["US"]).await;
    let foreign_lead = app.create_lead(&globex.live, json!({})).await;
    let foreign_team = app.create_team(&globex.live, "Springfield", "US").await;
    let moved = transition(
        &app,
        &app.create_lead(&app.acme.live, json!({})).await,
        "CONTACTED",
        None,
    )
    .await;
    moved.ok();
    let key = &app.acme.live;
    for id in [&foreign_lead, &foreign_team, &globex.owner_id] {
        let answer = node(&app, key, id).await;
        assert_error(&answer, "not_found", 404);
        assert_eq!(answer.data("node"), &Value::Null);
    }
    let answer = app
        .gql(
            key,
            "query($id: ID!) { lead(id: $id) { id } }",
            json!({ "id": foreign_lead }),
        )
        .await;
    assert_error(&answer, "not_found", 404);
    for mutation in [
        "mutation($id: ID!) { updateLead(id: $id, input: {company: \"X\"}) { lead { id } } }",
        "mutation($id: ID!) { deleteLead(id: $id) { deletedLeadId } }",
        "mutation($id: ID!) { transitionLead(id: $id, to: CONTACTED) { lead { id } } }",
        "mutation($id: ID!) { assignLead(id: $id, userId: null) { lead { id } } }",
    ] {
        assert_error(
            &app.gql(key, mutation, json!({ "id": foreign_lead })).await,
            "not_found",
            404,
        );
    }
    // Our transition is not theirs either.
    let ours = moved
        .data("transitionLead.transition.id")
        .as_str()
        .expect("id");
    assert_error(&node(&app, &globex.live, ours).await, "not_found", 404);
    // Nothing happened to their lead.
    let theirs = app
        .gql(
            &globex.live,
            "query($id: ID!) { lead(id: $id) { status company } }",
            json!({ "id": foreign_lead }),
        )
        .await;
    assert_eq!(
        theirs.ok().data("lead"),
        &json!({ "status": "NEW", "company": null })
    );
}

#[tokio::test]
async fn a_sandbox_key_does_not_see_live_ids() {
    let app = spawn_app().await;
    let lead = app.create_lead(&app.acme.live, json!({})).await;
    assert_error(
        &node(&app, &app.acme.sandbox, &lead).await,
        "not_found",
        404,
    );
    let own = app.create_lead(&app.acme.sandbox, json!({})).await;
    assert_eq!(
        node(&app, &app.acme.sandbox, &own)
            .await
            .ok()
            .data("node.__typename"),
        &json!("Lead")
    );
}

/// `lead(id:) { mergedInto { mergedInto { ... { id } } } }` with `levels` mergedInto.
fn merged_chain(levels: usize) -> String {
    format!(
        "query($id: ID!) {{ lead(id: $id) {{ {} id {} }} }}",
        "mergedInto { ".repeat(levels),
        "} ".repeat(levels)
    )
}

#[tokio::test]
async fn a_query_nested_too_deep_is_too_complex() {
    let app = spawn_app().await;
    let lead = app.create_lead(&app.acme.live, json!({})).await;
    let ok = app
        .gql(&app.acme.live, &merged_chain(5), json!({ "id": lead }))
        .await;
    assert_eq!(ok.ok().data("lead.mergedInto"), &Value::Null);
    for query in [
        merged_chain(13),
        merged_chain(40),
        merged_chain(100),
        format!(
            "query($id: ID!) {{ lead(id: $id) {{ {} history {{ edges {{ node {{ actor {{ id }} }} }} }} {} }} }}",
            "mergedInto { ".repeat(10),
            "} ".repeat(10)
        ),
    ] {
        let answer = app.gql(&app.acme.live, &query, json!({ "id": lead })).await;
        assert_error(&answer, "query_too_complex", 400);
        assert_eq!(answer.body["data"], Value::Null, "nothing executed");
    }
}

#[tokio::test]
async fn a_query_that_may_return_too_many_nodes_is_too_complex() {
    let app = spawn_app().await;
    app.create_lead(&app.acme.live, json!({})).await;
    let ok = app
        .gql(&app.acme.live, "{ leads(first: 200) { nodes { id firstName lastName score history(first: 5) { nodes { to } } } } }", json!({}))
        .await;
    assert_eq!(
        ok.ok().data("leads.nodes").as_array().map(Vec::len),
        Some(1)
    );
    for query in [
        "{ leads(first: 200) { nodes { history(first: 200) { nodes { actor { name } } } } } }",
        "{ leads { nodes { history(first: 100) { nodes { id from to reason at } } } } }",
        "{ a: leads(first: 200) { nodes { id firstName lastName email phone company jobTitle score market createdAt updatedAt status source } } b: leads(first: 200) { nodes { id firstName lastName email phone company jobTitle score market createdAt updatedAt status source } } c: leads(first: 200) { nodes { id firstName lastName email phone company jobTitle score market createdAt updatedAt status source } } d: leads(first: 200) { nodes { id firstName lastName email phone company jobTitle score market createdAt updatedAt status source } } }",
    ] {
        let answer = app.gql(&app.acme.live, query, json!({})).await;
        assert_error(&answer, "query_too_complex", 400);
        assert_eq!(answer.body["data"], Value::Null, "nothing executed");
    }
}

/// Fragments spreading the next one twice, 30 levels deep: a small document
/// that selects 2^30 fields once expanded. It is answered (not expanded
/// field by field by the rate-limit cost or the validation).
#[tokio::test]
async fn fragments_that_fan_out_exponentially_are_too_complex() {
    let app = spawn_app().await;
    let mut query = String::from("{ viewer { ...F0 } }");
    for i in 0..30 {
        query.push_str(&format!(
            " fragment F{i} on Viewer {{ ...F{n} ...F{n} }}",
            n = i + 1
        ));
    }
    query.push_str(" fragment F30 on Viewer { environment }");
    let answer = app.gql(&app.acme.live, &query, json!({})).await;
    assert_error(&answer, "query_too_complex", 400);
    assert_eq!(answer.body["data"], Value::Null, "nothing executed");
}
