//! Shared helpers for the lead, paging and id tests: error assertions, many leads
//! in few requests, transitions.

use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, lead_input};

/// Every lead field a test may compare (the key has `pii:read`).
pub const LEAD_FIELDS: &str = "id email firstName lastName phone company jobTitle source status \
     score customFields market team { id } assignedTo { id } createdBy { id } createdAt updatedAt";

/// Asserts the answer holds exactly one error with this code and status; returns it.
#[track_caller]
pub fn assert_error(answer: &Answer, code: &str, status: u16) -> Value {
    let errors = answer.errors();
    assert_eq!(
        errors.len(),
        1,
        "expected exactly one error: {:#}",
        answer.body
    );
    let err = errors[0].clone();
    assert_eq!(err["extensions"]["code"], json!(code), "{:#}", answer.body);
    assert_eq!(
        err["extensions"]["status"],
        json!(status),
        "{:#}",
        answer.body
    );
    if code != "validation_failed" {
        assert_eq!(
            err["extensions"]["fields"],
            Value::Null,
            "{:#}",
            answer.body
        );
    }
    err
}

/// Asserts a `validation_failed` (422) error whose `extensions.fields` is exactly
/// `fields` (a JSON list of `{field, code, message}`).
#[track_caller]
pub fn assert_validation(answer: &Answer, fields: Value) {
    let err = assert_error(answer, "validation_failed", 422);
    assert_eq!(err["extensions"]["fields"], fields, "{:#}", answer.body);
}

/// One `{field, code, message}` entry of `extensions.fields`.
pub fn field_error(field: &str, code: &str, message: &str) -> Value {
    json!({ "field": field, "code": code, "message": message })
}

/// Runs `createLead(input: $i, onDuplicate: $d)` with `input` as given (no defaults).
pub async fn create_raw(app: &TestApp, input: Value, on_duplicate: &str) -> Answer {
    let query = format!(
        "mutation($i: CreateLeadInput!, $d: OnDuplicate!) {{ createLead(input: $i, onDuplicate: $d) {{ status lead {{ {LEAD_FIELDS} }} }} }}"
    );
    app.gql(
        &app.acme.live,
        &query,
        json!({ "i": input, "d": on_duplicate }),
    )
    .await
}

/// Creates leads (each `over` merged into a valid default) in requests of up to
/// 50 aliased `createLead` mutations; returns the created leads with `fields`.
pub async fn create_many(app: &TestApp, key: &str, overs: Vec<Value>, fields: &str) -> Vec<Value> {
    let mut out = Vec::with_capacity(overs.len());
    for chunk in overs.chunks(50) {
        let params: Vec<String> = (0..chunk.len())
            .map(|i| format!("$i{i}: CreateLeadInput!"))
            .collect();
        let calls: Vec<String> = (0..chunk.len())
            .map(|i| format!("l{i}: createLead(input: $i{i}) {{ lead {{ {fields} }} }}"))
            .collect();
        let query = format!("mutation({}) {{ {} }}", params.join(", "), calls.join(" "));
        let vars: serde_json::Map<String, Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, over)| (format!("i{i}"), lead_input(over.clone())))
            .collect();
        let answer = app.gql(key, &query, Value::Object(vars)).await;
        answer.ok();
        for i in 0..chunk.len() {
            out.push(answer.data(&format!("l{i}.lead")).clone());
        }
    }
    out
}

/// Runs `transitionLead` and returns the answer.
pub async fn transition(app: &TestApp, id: &str, to: &str, reason: Option<&str>) -> Answer {
    app.gql(
        &app.acme.live,
        "mutation($id: ID!, $to: LeadStatus!, $r: String) { transitionLead(id: $id, to: $to, reason: $r) {
            lead { id status updatedAt }
            transition { id from to reason at actor { id } }
        } }",
        json!({ "id": id, "to": to, "r": reason }),
    )
    .await
}

/// Reads one lead by id.
pub async fn get_lead(app: &TestApp, id: &str) -> Answer {
    let query = format!("query($id: ID!) {{ lead(id: $id) {{ {LEAD_FIELDS} }} }}");
    app.gql(&app.acme.live, &query, json!({ "id": id })).await
}

/// Deletes a lead, asserting success.
pub async fn delete_lead(app: &TestApp, id: &str) {
    let answer = app
        .gql(
            &app.acme.live,
            "mutation($id: ID!) { deleteLead(id: $id) { deletedLeadId } }",
            json!({ "id": id }),
        )
        .await;
    answer.ok();
    assert_eq!(answer.data("deleteLead.deletedLeadId"), &json!(id));
}
