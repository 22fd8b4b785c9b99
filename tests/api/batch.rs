//! Batch writes: GraphQL `createLeads`/`updateLeads`/`deleteLeads` and the `/v1`
//! 207 routes. One bad item never fails the others.

use serde_json::{Value, json};

use crate::helpers::{TestApp, lead_input, spawn_app};

async fn v1(
    app: &TestApp,
    method: reqwest::Method,
    key: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = app
        .client
        .request(method, format!("{}/v1/leads/batch", app.base))
        .json(&body);
    if let Some(key) = key {
        req = req.header("x-api-key", key);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn create_leads_reports_each_item_and_counts() {
    let app = spawn_app().await;
    let existing = app
        .create_lead(&app.acme.live, json!({ "email": "taken@example.com" }))
        .await;
    let inputs = json!([
        lead_input(json!({ "email": "one@example.com" })),
        lead_input(json!({ "email": "not-an-email", "firstName": "" })),
        lead_input(json!({ "email": "ONE@example.com" })),
        lead_input(json!({ "email": "taken@example.com" })),
        lead_input(json!({ "email": "two@example.com", "market": "IN" })),
    ]);
    let answer = app
        .gql(
            &app.acme.live,
            "mutation($i: [CreateLeadInput!]!) { createLeads(inputs: $i) {
                created updated skipped failed
                results { index status existingId lead { id email } errors { field code message } } } }",
            json!({ "i": inputs }),
        )
        .await;
    answer.ok();
    let r = answer.data("createLeads");
    assert_eq!(
        (r["created"].as_i64(), r["failed"].as_i64()),
        (Some(2), Some(3))
    );
    let results = r["results"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["CREATED", "FAILED", "FAILED", "FAILED", "CREATED"]
    );
    let codes: Vec<&str> = results[1]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["invalid_format", "required"]);
    // In-batch duplicate of item 0, and a duplicate of the stored lead.
    assert_eq!(results[2]["errors"][0]["code"], "duplicate");
    assert_eq!(results[2]["existingId"], results[0]["lead"]["id"]);
    assert_eq!(results[3]["existingId"], existing.as_str());
    assert_eq!(
        results
            .iter()
            .map(|x| x["index"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
}

#[tokio::test]
async fn update_and_delete_leads_keep_going_past_bad_items() {
    let app = spawn_app().await;
    let a = app.create_lead(&app.acme.live, json!({})).await;
    let b = app.create_lead(&app.acme.live, json!({})).await;
    let answer = app
        .gql(
            &app.acme.live,
            "mutation($i: [UpdateLeadsItem!]!) { updateLeads(inputs: $i) {
                updated failed results { status lead { score } errors { field code } } } }",
            json!({ "i": [
                { "id": a, "input": { "score": 70 } },
                { "id": b, "input": { "score": 170 } },
                { "id": "garbage", "input": { "score": 1 } },
            ] }),
        )
        .await;
    answer.ok();
    assert_eq!(answer.data("updateLeads.updated"), 1);
    assert_eq!(answer.data("updateLeads.results.0.lead.score"), 70);
    assert_eq!(
        answer.data("updateLeads.results.1.errors.0.code"),
        "out_of_range"
    );
    assert_eq!(
        answer.data("updateLeads.results.2.errors.0.code"),
        "bad_request"
    );

    let answer = app
        .gql(
            &app.acme.live,
            "mutation($ids: [ID!]!) { deleteLeads(ids: $ids) { deleted failed results { status errors { code } } } }",
            json!({ "ids": [a, a] }),
        )
        .await;
    answer.ok();
    assert_eq!(answer.data("deleteLeads.deleted"), 1);
    assert_eq!(
        answer.data("deleteLeads.results.1.errors.0.code"),
        "not_found"
    );
}

#[tokio::test]
async fn more_than_500_items_is_bad_request() {
    let app = spawn_app().await;
    let inputs: Vec<Value> = (0..501).map(|_| lead_input(json!({}))).collect();
    let answer = app
        .gql(
            &app.acme.live,
            "mutation($i: [CreateLeadInput!]!) { createLeads(inputs: $i) { created } }",
            json!({ "i": inputs }),
        )
        .await;
    assert_eq!(answer.code(), "bad_request");
    let (status, body) = v1(
        &app,
        reqwest::Method::POST,
        Some(&app.acme.live),
        json!({ "leads": inputs }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"][0]["code"], "bad_request");
}

#[tokio::test]
async fn v1_batch_create_answers_207_with_a_result_per_record() {
    let app = spawn_app().await;
    let existing = app
        .create_lead(&app.acme.live, json!({ "email": "taken@example.com" }))
        .await;
    let (status, body) = v1(
        &app,
        reqwest::Method::POST,
        Some(&app.acme.live),
        json!({ "leads": [
            { "email": "a@example.com", "firstName": "A", "lastName": "B", "market": "US", "phone": "(415) 555-0132" },
            { "email": "taken@example.com", "firstName": "A", "lastName": "B", "market": "US" },
            { "email": "b@example.com", "firstName": "A", "lastName": "B", "score": "high" },
            "not an object",
        ] }),
    )
    .await;
    assert_eq!(status, 207, "{body:#}");
    assert_eq!(body["success"], true);
    assert_eq!(body["status"], 207);
    assert!(
        body["meta"]["requestId"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(body["meta"]["timestamp"].is_string() && body["meta"]["version"].is_string());
    let results = body["data"]["results"].as_array().unwrap();
    let statuses: Vec<i64> = results
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 409, 422, 400]);
    assert_eq!(results[0]["code"], "created");
    assert_eq!(results[1]["code"], "duplicate");
    assert_eq!(results[1]["id"], existing.as_str());
    assert_eq!(results[2]["errors"][0]["field"], "score");
    assert_eq!(body["data"]["created"], 1);
    assert_eq!(body["data"]["failed"], 3);

    // SKIP turns the duplicate into a 200 carrying the existing id.
    let (_, body) = v1(
        &app,
        reqwest::Method::POST,
        Some(&app.acme.live),
        json!({ "onDuplicate": "SKIP", "leads": [{ "email": "TAKEN@example.com", "firstName": "A", "lastName": "B", "market": "US" }] }),
    )
    .await;
    assert_eq!(body["data"]["results"][0]["status"], 200);
    assert_eq!(body["data"]["results"][0]["code"], "skipped");
    assert_eq!(body["data"]["results"][0]["id"], existing.as_str());
}

#[tokio::test]
async fn v1_batch_update_and_delete() {
    let app = spawn_app().await;
    let a = app.create_lead(&app.acme.live, json!({})).await;
    let (status, body) = v1(
        &app,
        reqwest::Method::PATCH,
        Some(&app.acme.live),
        json!({ "leads": [{ "id": a, "company": "Initech", "phone": null }, { "id": a, "firstName": null }, { "company": "x" }] }),
    )
    .await;
    assert_eq!(status, 207, "{body:#}");
    let statuses: Vec<i64> = body["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 422, 422]);
    let lead = app
        .gql(
            &app.acme.live,
            "query($id: ID!) { lead(id: $id) { company } }",
            json!({ "id": a }),
        )
        .await;
    assert_eq!(lead.ok().data("lead.company"), "Initech");

    let (status, body) = v1(
        &app,
        reqwest::Method::DELETE,
        Some(&app.acme.live),
        json!({ "ids": [a, "nope", a] }),
    )
    .await;
    assert_eq!(status, 207);
    let statuses: Vec<i64> = body["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 400, 404]);
}

#[tokio::test]
async fn v1_batch_needs_a_key_and_leads_write() {
    let app = spawn_app().await;
    let (status, body) = v1(&app, reqwest::Method::POST, None, json!({ "leads": [] })).await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["code"], "unauthenticated");
    let reader = app
        .create_key(&app.acme.live, json!({ "operations": ["leads:read"] }))
        .await;
    let (status, body) = v1(
        &app,
        reqwest::Method::POST,
        Some(&reader),
        json!({ "leads": [lead_input(json!({}))] }),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["errors"][0]["code"], "forbidden");
    let (status, _) = v1(
        &app,
        reqwest::Method::POST,
        Some(&app.acme.live),
        json!({ "nope": 1 }),
    )
    .await;
    assert_eq!(status, 400);
}
