//! Lead lifecycle: duplicates and `onDuplicate`, deletion, updates and assignment.
//! Status transitions are in `leads_transitions`.

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, lead_input, spawn_app},
    lead_support::{
        LEAD_FIELDS, assert_error, assert_validation, create_raw, delete_lead, field_error,
        get_lead,
    },
};

async fn created(app: &TestApp, over: Value) -> Value {
    let answer = create_raw(app, lead_input(over), "ERROR").await;
    answer.ok();
    assert_eq!(answer.data("createLead.status"), &json!("CREATED"));
    answer.data("createLead.lead").clone()
}

async fn update(app: &TestApp, id: &str, input: Value) -> crate::helpers::Answer {
    let query = format!(
        "mutation($id: ID!, $i: UpdateLeadInput!) {{ updateLead(id: $id, input: $i) {{ lead {{ {LEAD_FIELDS} }} }} }}"
    );
    app.gql(&app.acme.live, &query, json!({ "id": id, "i": input }))
        .await
}

async fn assign(app: &TestApp, id: &str, user: Option<&str>) -> crate::helpers::Answer {
    app.gql(
        &app.acme.live,
        "mutation($id: ID!, $u: ID) { assignLead(id: $id, userId: $u) { lead { id assignedTo { id active } updatedAt } } }",
        json!({ "id": id, "u": user }),
    )
    .await
}

async fn live_ids(app: &TestApp) -> Vec<Value> {
    let answer = app
        .gql(
            &app.acme.live,
            "{ leads(first: 200) { nodes { id } } }",
            json!({}),
        )
        .await;
    answer.ok();
    answer
        .data("leads.nodes")
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].clone())
        .collect()
}

#[tokio::test]
async fn a_duplicate_email_fails_by_default_with_the_existing_lead_id() {
    let app = spawn_app().await;
    let first = created(
        &app,
        json!({ "email": "johndoe@gmail.com", "company": "Acme" }),
    )
    .await;
    for (spelling, policy) in [
        ("johndoe@gmail.com", None),
        ("John.Doe+promo@GoogleMail.com", None),
        (" JOHNDOE@GMAIL.COM ", Some("ERROR")),
    ] {
        let input = lead_input(json!({ "email": spelling, "company": "Other" }));
        let answer = match policy {
            Some(p) => create_raw(&app, input, p).await,
            None => {
                app.gql(
                    &app.acme.live,
                    "mutation($i: CreateLeadInput!) { createLead(input: $i) { status lead { id } } }",
                    json!({ "i": input }),
                )
                .await
            }
        };
        let err = assert_error(&answer, "duplicate", 409);
        assert_eq!(err["extensions"]["existingId"], first["id"], "{spelling}");
        assert_eq!(answer.body["data"], Value::Null);
    }
    assert_eq!(live_ids(&app).await, vec![first["id"].clone()]);
    let stored = get_lead(&app, first["id"].as_str().expect("id")).await;
    assert_eq!(
        stored.data("lead.company"),
        &json!("Acme"),
        "the existing lead is untouched"
    );
}

#[tokio::test]
async fn skip_returns_the_existing_lead_unchanged() {
    let app = spawn_app().await;
    let first = created(
        &app,
        json!({ "email": "ada@example.com", "firstName": "Ada", "phone": "(415) 555-0132" }),
    )
    .await;
    let answer = create_raw(
        &app,
        lead_input(json!({ "email": "ADA@example.com", "firstName": "Other", "company": "New Co", "score": 90 })),
        "SKIP",
    )
    .await;
    answer.ok();
    assert_eq!(answer.data("createLead.status"), &json!("SKIPPED"));
    assert_eq!(
        answer.data("createLead.lead"),
        &first,
        "the existing lead, as it was"
    );
    let stored = get_lead(&app, first["id"].as_str().expect("id")).await;
    assert_eq!(stored.data("lead"), &first);
    assert_eq!(live_ids(&app).await, vec![first["id"].clone()]);
}

#[tokio::test]
async fn update_fills_the_empty_fields_of_the_existing_lead_and_keeps_the_set_ones() {
    let app = spawn_app().await;
    let first = created(
        &app,
        json!({ "email": "grace@example.com", "firstName": "Grace", "phone": "(415) 555-0132", "customFields": { "plan": "pro" } }),
    )
    .await;
    assert_eq!(first["company"], Value::Null);
    let answer = create_raw(
        &app,
        lead_input(json!({
            "email": "Grace@Example.com",
            "firstName": "Other",
            "company": "Navy",
            "jobTitle": "Admiral",
            "phone": "(415) 555-0199",
            "customFields": { "plan": "free", "seats": 3 },
        })),
        "UPDATE",
    )
    .await;
    answer.ok();
    assert_eq!(answer.data("createLead.status"), &json!("UPDATED"));
    let lead = answer.data("createLead.lead").clone();
    assert_eq!(lead["id"], first["id"]);
    assert_eq!(lead["company"], json!("Navy"), "was null, now filled");
    assert_eq!(lead["jobTitle"], json!("Admiral"), "was null, now filled");
    assert_eq!(lead["phone"], json!("+14155550132"), "a set field is kept");
    assert_eq!(lead["firstName"], json!("Grace"), "a set field is kept");
    assert_eq!(
        lead["email"],
        json!("grace@example.com"),
        "a set field is kept"
    );
    assert_eq!(
        lead["customFields"],
        json!({ "plan": "pro", "seats": 3 }),
        "only missing keys are added"
    );
    let stored = get_lead(&app, first["id"].as_str().expect("id")).await;
    assert_eq!(stored.data("lead"), &lead);
    assert_eq!(live_ids(&app).await, vec![first["id"].clone()]);
}

#[tokio::test]
async fn a_duplicate_input_that_is_invalid_is_refused_whatever_the_policy() {
    let app = spawn_app().await;
    created(&app, json!({ "email": "x@example.com" })).await;
    for policy in ["ERROR", "SKIP", "UPDATE"] {
        let answer = create_raw(
            &app,
            lead_input(json!({ "email": "x@example.com", "score": 101 })),
            policy,
        )
        .await;
        assert_validation(
            &answer,
            json!([field_error(
                "score",
                "out_of_range",
                "score must be between 0 and 100"
            )]),
        );
    }
}

#[tokio::test]
async fn a_deleted_lead_frees_its_email() {
    let app = spawn_app().await;
    let first = created(&app, json!({ "email": "free@example.com" })).await;
    let id = first["id"].as_str().expect("id");
    delete_lead(&app, id).await;
    let second = created(&app, json!({ "email": "Free@example.com" })).await;
    assert_ne!(second["id"], first["id"]);
    assert_eq!(live_ids(&app).await, vec![second["id"].clone()]);
    // And the new one is a duplicate target as usual.
    let answer = create_raw(
        &app,
        lead_input(json!({ "email": "free@example.com" })),
        "ERROR",
    )
    .await;
    let err = assert_error(&answer, "duplicate", 409);
    assert_eq!(err["extensions"]["existingId"], second["id"]);
}

#[tokio::test]
async fn a_deleted_lead_is_not_found_and_leaves_every_list() {
    let app = spawn_app().await;
    let keep = created(&app, json!({})).await;
    let gone = created(&app, json!({})).await;
    let id = gone["id"].as_str().expect("id");
    delete_lead(&app, id).await;
    assert_error(&get_lead(&app, id).await, "not_found", 404);
    assert_eq!(live_ids(&app).await, vec![keep["id"].clone()]);
    let count = app
        .gql(&app.acme.live, "{ leads { totalCount } }", json!({}))
        .await;
    assert_eq!(count.data("leads.totalCount"), &json!(1));
    let again = app
        .gql(
            &app.acme.live,
            "mutation($id: ID!) { deleteLead(id: $id) { deletedLeadId } }",
            json!({ "id": id }),
        )
        .await;
    assert_error(&again, "not_found", 404);
    assert_error(
        &update(&app, id, json!({ "company": "X" })).await,
        "not_found",
        404,
    );
    assert_error(
        &crate::lead_support::transition(&app, id, "CONTACTED", None).await,
        "not_found",
        404,
    );
    assert_error(&assign(&app, id, None).await, "not_found", 404);
}

#[tokio::test]
async fn update_lead_changes_the_given_fields_and_leaves_the_others() {
    let app = spawn_app().await;
    let lead = created(
        &app,
        json!({ "firstName": "Ada", "lastName": "Lovelace", "company": "Analytical", "jobTitle": "Countess", "score": 10, "phone": "(415) 555-0132", "customFields": { "a": 1 } }),
    )
    .await;
    let id = lead["id"].as_str().expect("id");
    let answer = update(
        &app,
        id,
        json!({ "firstName": "  Augusta   Ada ", "score": 55, "company": "Babbage & Co", "source": "REFERRAL", "customFields": { "b": "two" }, "email": "augusta@example.com" }),
    )
    .await;
    answer.ok();
    let updated = answer.data("updateLead.lead").clone();
    assert_eq!(updated["firstName"], json!("Augusta Ada"));
    assert_eq!(updated["score"], json!(55));
    assert_eq!(updated["company"], json!("Babbage & Co"));
    assert_eq!(updated["source"], json!("REFERRAL"));
    assert_eq!(updated["email"], json!("augusta@example.com"));
    assert_eq!(
        updated["customFields"],
        json!({ "b": "two" }),
        "customFields is replaced whole"
    );
    assert_eq!(updated["lastName"], json!("Lovelace"));
    assert_eq!(updated["jobTitle"], json!("Countess"));
    assert_eq!(updated["phone"], json!("+14155550132"));
    assert_eq!(updated["status"], json!("NEW"));
    assert_eq!(updated["createdAt"], lead["createdAt"]);
    assert!(
        updated["updatedAt"]
            .as_str()
            .expect("t")
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("time")
            > lead["updatedAt"]
                .as_str()
                .expect("t")
                .parse::<chrono::DateTime<chrono::Utc>>()
                .expect("time"),
        "updatedAt moves forward"
    );
    let stored = get_lead(&app, id).await;
    assert_eq!(stored.data("lead"), &updated);
}

#[tokio::test]
async fn null_clears_a_nullable_field_and_is_refused_on_a_required_one() {
    let app = spawn_app().await;
    let lead = created(&app, json!({ "phone": "(415) 555-0132", "company": "Acme", "jobTitle": "CTO", "customFields": { "a": 1 } })).await;
    let id = lead["id"].as_str().expect("id");
    let answer = update(
        &app,
        id,
        json!({ "phone": null, "company": null, "jobTitle": "  ", "customFields": null }),
    )
    .await;
    answer.ok();
    let updated = answer.data("updateLead.lead");
    assert_eq!(updated["phone"], Value::Null);
    assert_eq!(updated["company"], Value::Null);
    assert_eq!(updated["jobTitle"], Value::Null, "blank clears too");
    assert_eq!(updated["customFields"], json!({}));

    for field in ["firstName", "lastName", "email", "score"] {
        let answer = update(&app, id, json!({ field: null })).await;
        assert_validation(
            &answer,
            json!([field_error(
                field,
                "required",
                &format!("{field} cannot be null")
            )]),
        );
    }
    let answer = update(
        &app,
        id,
        json!({ "firstName": " ", "score": 101, "phone": "nope" }),
    )
    .await;
    assert_validation(
        &answer,
        json!([
            field_error("firstName", "required", "firstName is required"),
            field_error(
                "phone",
                "invalid_format",
                "phone is not a valid phone number"
            ),
            field_error("score", "out_of_range", "score must be between 0 and 100"),
        ]),
    );
    let stored = get_lead(&app, id).await;
    assert_eq!(
        stored.data("lead.firstName"),
        &lead["firstName"],
        "a refused update changes nothing"
    );
    assert_eq!(stored.data("lead.score"), &lead["score"]);
}

#[tokio::test]
async fn update_lead_canonicalises_the_phone_in_the_lead_market() {
    let app = spawn_app().await;
    let lead = created(&app, json!({ "market": "IN" })).await;
    let id = lead["id"].as_str().expect("id");
    let answer = update(&app, id, json!({ "phone": "098765 43210" })).await;
    answer.ok();
    assert_eq!(
        answer.data("updateLead.lead.phone"),
        &json!("+919876543210")
    );
    let answer = update(
        &app,
        id,
        json!({ "market": "US", "phone": "(415) 555-0132" }),
    )
    .await;
    answer.ok();
    assert_eq!(answer.data("updateLead.lead.market"), &json!("US"));
    assert_eq!(answer.data("updateLead.lead.phone"), &json!("+14155550132"));
}

#[tokio::test]
async fn changing_the_email_to_another_live_lead_email_is_a_duplicate() {
    let app = spawn_app().await;
    let a = created(&app, json!({ "email": "janedoe@gmail.com" })).await;
    let b = created(&app, json!({ "email": "other@example.com" })).await;
    let answer = update(
        &app,
        b["id"].as_str().expect("id"),
        json!({ "email": "Jane.Doe+x@gmail.com" }),
    )
    .await;
    let err = assert_error(&answer, "duplicate", 409);
    assert_eq!(err["extensions"]["existingId"], a["id"]);
    // Re-spelling one's own email is no duplicate.
    let answer = update(
        &app,
        a["id"].as_str().expect("id"),
        json!({ "email": "Jane.Doe@gmail.com" }),
    )
    .await;
    answer.ok();
    assert_eq!(
        answer.data("updateLead.lead.email"),
        &json!("Jane.Doe@gmail.com")
    );
}

#[tokio::test]
async fn assign_lead_assigns_to_an_active_user_and_null_unassigns() {
    let app = spawn_app().await;
    let user = app.create_user(&app.acme.live, "sales@acme.example").await;
    let lead = created(&app, json!({})).await;
    let id = lead["id"].as_str().expect("id");
    assert_eq!(lead["assignedTo"], Value::Null);

    let answer = assign(&app, id, Some(&user)).await;
    answer.ok();
    assert_eq!(
        answer.data("assignLead.lead.assignedTo"),
        &json!({ "id": user, "active": true })
    );
    assert_eq!(
        get_lead(&app, id).await.data("lead.assignedTo.id"),
        &json!(user)
    );

    let answer = assign(&app, id, None).await;
    answer.ok();
    assert_eq!(answer.data("assignLead.lead.assignedTo"), &Value::Null);
    assert_eq!(
        get_lead(&app, id).await.data("lead.assignedTo"),
        &Value::Null
    );
}

#[tokio::test]
async fn assigning_to_a_deactivated_or_unknown_user_is_a_validation_failure() {
    let app = spawn_app().await;
    let user = app.create_user(&app.acme.live, "leaver@acme.example").await;
    let lead = created(&app, json!({})).await;
    let id = lead["id"].as_str().expect("id");
    let answer = app
        .gql(
            &app.acme.live,
            "mutation($id: ID!) { deactivateUser(id: $id) { user { active } } }",
            json!({ "id": user }),
        )
        .await;
    answer.ok();
    assert_eq!(answer.data("deactivateUser.user.active"), &json!(false));

    let expected = json!([field_error(
        "userId",
        "invalid_value",
        "no active user with this id"
    )]);
    assert_validation(&assign(&app, id, Some(&user)).await, expected.clone());
    // A well-formed id of another type names no user either.
    assert_validation(&assign(&app, id, Some(id)).await, expected);
    assert_error(&assign(&app, id, Some("abc")).await, "bad_request", 400);
    assert_eq!(
        get_lead(&app, id).await.data("lead.assignedTo"),
        &Value::Null
    );

    // Creating a lead assigned to them is refused the same way.
    let answer = create_raw(&app, lead_input(json!({ "assignedToId": user })), "ERROR").await;
    assert_validation(
        &answer,
        json!([field_error(
            "assignedToId",
            "invalid_value",
            "no active user with this id"
        )]),
    );
}

#[tokio::test]
async fn a_lead_can_be_created_with_a_team_and_an_assignee() {
    let app = spawn_app().await;
    let team = app.create_team(&app.acme.live, "Bangalore", "IN").await;
    let user = app.create_user(&app.acme.live, "rep@acme.example").await;
    let lead = created(
        &app,
        json!({ "market": null, "teamId": team, "assignedToId": user }),
    )
    .await;
    assert_eq!(
        lead["market"],
        json!("IN"),
        "the team's market when none is given"
    );
    assert_eq!(lead["team"], json!({ "id": team }));
    assert_eq!(lead["assignedTo"], json!({ "id": user }));
    assert_eq!(lead["createdBy"], json!({ "id": app.acme.owner_id }));
    assert_eq!(lead["status"], json!("NEW"));

    let answer = create_raw(
        &app,
        lead_input(json!({ "market": "US", "teamId": team })),
        "ERROR",
    )
    .await;
    assert_validation(
        &answer,
        json!([field_error(
            "teamId",
            "invalid_value",
            "the team belongs to another market"
        )]),
    );
}
