//! Scope: operations, tenant, environment, market, team and the PII field guard.
//! Out-of-scope records are `not_found` (never `forbidden`); writes outside the
//! key's markets or teams are `forbidden`.

use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, lead_input, seed_tenant, spawn_app};

const LEAD: &str = "query($id: ID!) { lead(id: $id) { id } }";
const NODE: &str = "query($id: ID!) { node(id: $id) { id } }";
const LEADS: &str = "{ leads { totalCount nodes { id } } }";
const CREATE_LEAD: &str =
    "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id } } }";
const UPDATE_LEAD: &str = "mutation($id: ID!, $i: UpdateLeadInput!) { updateLead(id: $id, input: $i) { lead { id market } } }";

/// Asserts a GraphQL-level refusal: HTTP 200 and exactly one error with `code`
/// and `extensions.status == status`. Returns the error.
#[track_caller]
pub fn assert_refused(answer: &Answer, code: &str, status: u16) -> Value {
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert_eq!(answer.code(), code, "{:#}", answer.body);
    let error = answer.errors().remove(0);
    assert_eq!(error["extensions"]["status"], status, "{:#}", answer.body);
    error
}

/// Asserts `key` cannot see lead `id`: `lead(id)` and `node(id)` are `not_found`
/// and `leads` does not list it.
async fn assert_invisible(app: &TestApp, key: &str, id: &str) {
    for query in [LEAD, NODE] {
        let answer = app.gql(key, query, json!({ "id": id })).await;
        assert_refused(&answer, "not_found", 404);
        assert_eq!(
            answer.body["data"]
                .as_object()
                .and_then(|d| d.values().next()),
            Some(&Value::Null)
        );
    }
    assert!(
        !listed(app, key).await.1.contains(&id.to_owned()),
        "{id} must not be listed"
    );
}

/// `leads` as seen by `key`: `(totalCount, ids)`.
async fn listed(app: &TestApp, key: &str) -> (i64, Vec<String>) {
    let answer = app.gql(key, LEADS, json!({})).await;
    answer.ok();
    let ids = answer.data("leads.nodes").as_array().expect("nodes").iter();
    let ids = ids
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect();
    (
        answer
            .data("leads.totalCount")
            .as_i64()
            .expect("totalCount"),
        ids,
    )
}

async fn key_with_ops(app: &TestApp, ops: &[&str]) -> String {
    app.create_key(&app.acme.live, json!({ "operations": ops }))
        .await
}

#[tokio::test]
async fn a_leads_read_only_key_is_forbidden_to_create_leads() {
    let app = spawn_app().await;
    let key = key_with_ops(&app, &["leads:read"]).await;
    let answer = app
        .gql(&key, CREATE_LEAD, json!({ "i": lead_input(json!({})) }))
        .await;
    assert_refused(&answer, "forbidden", 403);
    assert_eq!(answer.body["data"], Value::Null);
    assert_eq!(listed(&app, &app.acme.live).await.0, 0);
}

#[tokio::test]
async fn a_key_without_leads_read_is_forbidden_to_read_leads() {
    let app = spawn_app().await;
    let id = app.create_lead(&app.acme.live, json!({})).await;
    let key = key_with_ops(&app, &["leads:write"]).await;
    assert_refused(&app.gql(&key, LEADS, json!({})).await, "forbidden", 403);
    assert_refused(
        &app.gql(&key, LEAD, json!({ "id": id })).await,
        "forbidden",
        403,
    );
    assert_refused(
        &app.gql(&key, NODE, json!({ "id": id })).await,
        "forbidden",
        403,
    );
}

#[tokio::test]
async fn a_key_without_keys_manage_is_forbidden_to_list_or_create_keys() {
    let app = spawn_app().await;
    let key = key_with_ops(&app, &["leads:read", "leads:write", "users:manage"]).await;
    assert_refused(
        &app.gql(&key, "{ apiKeys { nodes { id } } }", json!({}))
            .await,
        "forbidden",
        403,
    );
    let create = app
        .gql(
            &key,
            "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { fullKey } }",
            json!({ "i": { "name": "k", "operations": ["leads:read"] } }),
        )
        .await;
    assert_refused(&create, "forbidden", 403);
}

#[tokio::test]
async fn a_key_without_users_manage_is_forbidden_to_create_users_or_teams() {
    let app = spawn_app().await;
    let key = key_with_ops(&app, &["leads:read", "leads:write", "keys:manage"]).await;
    let user = app
        .gql(
            &key,
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            json!({ "i": { "email": "new@acme.example", "name": "New" } }),
        )
        .await;
    assert_refused(&user, "forbidden", 403);
    let team = app
        .gql(
            &key,
            "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }",
            json!({ "i": { "name": "Sales", "market": "US" } }),
        )
        .await;
    assert_refused(&team, "forbidden", 403);
    let users = app
        .gql(&app.acme.live, "{ users { totalCount } }", json!({}))
        .await;
    assert_eq!(users.ok().data("users.totalCount"), &json!(1));
}

#[tokio::test]
async fn another_tenants_lead_is_not_found_and_not_listed() {
    let app = spawn_app().await;
    let globex = seed_tenant(&app.db, &app.codec, "globex", &["US", "IN"]).await;
    let acme_lead = app.create_lead(&app.acme.live, json!({})).await;
    let globex_lead = app.create_lead(&globex.live, json!({})).await;
    assert_invisible(&app, &globex.live, &acme_lead).await;
    assert_eq!(listed(&app, &globex.live).await, (1, vec![globex_lead]));
    assert_eq!(listed(&app, &app.acme.live).await, (1, vec![acme_lead]));
}

#[tokio::test]
async fn another_tenants_lead_cannot_be_updated_deleted_or_transitioned() {
    let app = spawn_app().await;
    let globex = seed_tenant(&app.db, &app.codec, "globex", &["US"]).await;
    let id = app
        .create_lead(&app.acme.live, json!({ "firstName": "Grace" }))
        .await;
    let update = app
        .gql(
            &globex.live,
            UPDATE_LEAD,
            json!({ "id": id, "i": { "firstName": "Mallory" } }),
        )
        .await;
    assert_refused(&update, "not_found", 404);
    let delete = app
        .gql(
            &globex.live,
            "mutation($id: ID!) { deleteLead(id: $id) { deletedLeadId } }",
            json!({ "id": id }),
        )
        .await;
    assert_refused(&delete, "not_found", 404);
    let transition = app
        .gql(
            &globex.live,
            "mutation($id: ID!) { transitionLead(id: $id, to: CONTACTED) { lead { status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_refused(&transition, "not_found", 404);

    let lead = app
        .gql(
            &app.acme.live,
            "query($id: ID!) { lead(id: $id) { firstName status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        lead.ok().data("lead"),
        &json!({ "firstName": "Grace", "status": "NEW" })
    );
}

#[tokio::test]
async fn a_sandbox_key_does_not_see_live_leads_and_the_same_email_lives_in_both() {
    let app = spawn_app().await;
    let email = "same@example.com";
    let live = app
        .create_lead(&app.acme.live, json!({ "email": email }))
        .await;
    assert_invisible(&app, &app.acme.sandbox, &live).await;
    assert_eq!(listed(&app, &app.acme.sandbox).await, (0, vec![]));

    let sandbox = app
        .create_lead(&app.acme.sandbox, json!({ "email": email }))
        .await;
    assert_ne!(sandbox, live);
    assert_eq!(
        listed(&app, &app.acme.sandbox).await,
        (1, vec![sandbox.clone()])
    );
    assert_eq!(listed(&app, &app.acme.live).await, (1, vec![live.clone()]));
    assert_invisible(&app, &app.acme.live, &sandbox).await;
}

#[tokio::test]
async fn a_key_limited_to_one_market_does_not_see_other_markets() {
    let app = spawn_app().await;
    let us = app
        .create_lead(&app.acme.live, json!({ "market": "US" }))
        .await;
    let india = app
        .create_lead(&app.acme.live, json!({ "market": "IN" }))
        .await;
    let key = app
        .create_key(&app.acme.live, json!({ "markets": ["IN"] }))
        .await;
    assert_invisible(&app, &key, &us).await;
    assert_eq!(listed(&app, &key).await, (1, vec![india]));
    let filtered = app
        .gql(
            &key,
            r#"{ leads(filter: { market: ["US"] }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(filtered.ok().data("leads.totalCount"), &json!(0));
    assert_eq!(listed(&app, &app.acme.live).await.0, 2);
}

#[tokio::test]
async fn a_key_limited_to_one_market_cannot_write_into_another() {
    let app = spawn_app().await;
    let key = app
        .create_key(&app.acme.live, json!({ "markets": ["IN"] }))
        .await;
    let create = app
        .gql(
            &key,
            CREATE_LEAD,
            json!({ "i": lead_input(json!({ "market": "US" })) }),
        )
        .await;
    assert_refused(&create, "forbidden", 403);
    assert_eq!(create.body["data"], Value::Null);

    let own = app.create_lead(&key, json!({ "market": "IN" })).await;
    let moved = app
        .gql(
            &key,
            UPDATE_LEAD,
            json!({ "id": own, "i": { "market": "US" } }),
        )
        .await;
    assert_refused(&moved, "forbidden", 403);
    let lead = app
        .gql(
            &app.acme.live,
            "query($id: ID!) { lead(id: $id) { market } }",
            json!({ "id": own }),
        )
        .await;
    assert_eq!(lead.ok().data("lead.market"), "IN");
    assert_eq!(listed(&app, &app.acme.live).await, (1, vec![own]));
}

#[tokio::test]
async fn a_team_limited_key_sees_only_its_teams_leads() {
    let app = spawn_app().await;
    let mine = app.create_team(&app.acme.live, "East", "US").await;
    let other = app.create_team(&app.acme.live, "West", "US").await;
    let in_mine = app
        .create_lead(&app.acme.live, json!({ "teamId": mine }))
        .await;
    let in_other = app
        .create_lead(&app.acme.live, json!({ "teamId": other }))
        .await;
    let no_team = app.create_lead(&app.acme.live, json!({})).await;
    let key = app
        .create_key(&app.acme.live, json!({ "teamIds": [mine] }))
        .await;
    assert_eq!(listed(&app, &key).await, (1, vec![in_mine]));
    assert_invisible(&app, &key, &in_other).await;
    assert_invisible(&app, &key, &no_team).await;
    assert_eq!(listed(&app, &app.acme.live).await.0, 3);
}

#[tokio::test]
async fn a_team_limited_key_cannot_create_leads_in_another_team() {
    let app = spawn_app().await;
    let mine = app.create_team(&app.acme.live, "East", "US").await;
    let other = app.create_team(&app.acme.live, "West", "US").await;
    let key = app
        .create_key(&app.acme.live, json!({ "teamIds": [mine] }))
        .await;
    let create = app
        .gql(
            &key,
            CREATE_LEAD,
            json!({ "i": lead_input(json!({ "teamId": other })) }),
        )
        .await;
    assert_refused(&create, "forbidden", 403);
    let own = app.create_lead(&key, json!({ "teamId": mine })).await;
    let moved = app
        .gql(
            &key,
            UPDATE_LEAD,
            json!({ "id": own, "i": { "teamId": other } }),
        )
        .await;
    assert_refused(&moved, "forbidden", 403);
    assert_eq!(listed(&app, &app.acme.live).await, (1, vec![own]));
}

const PII: &str = "query($id: ID!) { lead(id: $id) { id firstName email phone customFields } }";

async fn pii_lead(app: &TestApp) -> String {
    let input = json!({ "email": "pii@example.com", "phone": "(415) 555-0123", "customFields": { "tier": "gold" } });
    app.create_lead(&app.acme.live, input).await
}

#[tokio::test]
async fn pii_fields_are_null_with_forbidden_errors_without_pii_read() {
    let app = spawn_app().await;
    let id = pii_lead(&app).await;
    let key = key_with_ops(&app, &["leads:read"]).await;
    let answer = app.gql(&key, PII, json!({ "id": id })).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.data("lead"),
        &json!({ "id": id, "firstName": "Ada", "email": null, "phone": null, "customFields": null })
    );
    let errors = answer.errors();
    assert_eq!(errors.len(), 3, "{:#}", answer.body);
    let mut paths: Vec<Value> = errors.iter().map(|e| e["path"].clone()).collect();
    paths.sort_by_key(|p| p.to_string());
    assert_eq!(
        paths,
        vec![
            json!(["lead", "customFields"]),
            json!(["lead", "email"]),
            json!(["lead", "phone"])
        ]
    );
    for e in &errors {
        assert_eq!(e["extensions"]["code"], "forbidden", "{e:#}");
        assert_eq!(e["extensions"]["status"], 403, "{e:#}");
    }

    let list = app
        .gql(&key, "{ leads { nodes { firstName email } } }", json!({}))
        .await;
    assert_eq!(
        list.data("leads.nodes"),
        &json!([{ "firstName": "Ada", "email": null }])
    );
    assert_eq!(list.codes(), vec!["forbidden"]);
    assert_eq!(
        list.errors()[0]["path"],
        json!(["leads", "nodes", 0, "email"])
    );

    // Through a fragment and an alias, and with every selected field failing
    // (the object stays an object; the failed fields are null).
    let query = "query($id: ID!) { l: lead(id: $id) { ...Contact } } \
                 fragment Contact on Lead { mail: email ... on Lead { phone } }";
    let answer = app.gql(&key, query, json!({ "id": id })).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.data("l"), &json!({ "mail": null, "phone": null }));
    assert_eq!(answer.codes(), vec!["forbidden", "forbidden"]);
}

#[tokio::test]
async fn pii_fields_are_present_with_pii_read() {
    let app = spawn_app().await;
    let id = pii_lead(&app).await;
    let key = key_with_ops(&app, &["leads:read", "pii:read"]).await;
    let answer = app.gql(&key, PII, json!({ "id": id })).await;
    answer.ok();
    assert_eq!(
        answer.data("lead"),
        &json!({
            "id": id,
            "firstName": "Ada",
            "email": "pii@example.com",
            "phone": "+14155550123",
            "customFields": { "tier": "gold" },
        })
    );
}

#[tokio::test]
async fn email_filter_and_search_do_not_reveal_emails_without_pii_read() {
    let app = spawn_app().await;
    app.create_lead(
        &app.acme.live,
        json!({ "email": "secret.person@example.com", "firstName": "Zed" }),
    )
    .await;
    let reader = key_with_ops(&app, &["leads:read"]).await;
    let by_email = app
        .gql(
            &reader,
            "{ leads(filter: {email: \"secret.person@example.com\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(by_email.code(), "forbidden");
    let count = |a: &Answer| a.data("leads.totalCount").as_i64();
    let search = |q: &str| format!("{{ leads(filter: {{search: \"{q}\"}}) {{ totalCount }} }}");
    let by_prefix = app.gql(&reader, &search("secret.per"), json!({})).await;
    assert_eq!(
        count(by_prefix.ok()),
        Some(0),
        "search must not match emails without pii:read"
    );
    let by_name = app.gql(&reader, &search("zed"), json!({})).await;
    assert_eq!(count(by_name.ok()), Some(1));
    // With pii:read both work.
    let full = &app.acme.live;
    let by_prefix = app.gql(full, &search("secret.per"), json!({})).await;
    assert_eq!(count(by_prefix.ok()), Some(1));
    let by_email = app
        .gql(
            full,
            "{ leads(filter: {email: \"SECRET.person@example.com\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(count(by_email.ok()), Some(1));
}
