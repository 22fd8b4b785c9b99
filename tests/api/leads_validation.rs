//! createLead validation (every rule answers `validation_failed` with the field
//! and code) and canonicalisation (names, email key, E.164 phone).

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, lead_input, spawn_app},
    lead_support::{assert_error, assert_validation, create_raw, field_error},
};

/// Creates `lead_input(over)` and asserts it fails with exactly these field errors.
async fn refused(app: &TestApp, over: Value, fields: Value) {
    let answer = create_raw(app, lead_input(over), "ERROR").await;
    assert_validation(&answer, fields);
    assert_eq!(answer.body["data"], Value::Null, "{:#}", answer.body);
}

/// Creates `lead_input(over)`, asserting success; returns the lead.
async fn accepted(app: &TestApp, over: Value) -> Value {
    let answer = create_raw(app, lead_input(over), "ERROR").await;
    answer.ok();
    assert_eq!(answer.data("createLead.status"), &json!("CREATED"));
    answer.data("createLead.lead").clone()
}

async fn lead_count(app: &TestApp) -> u64 {
    let answer = app
        .gql(&app.acme.live, "{ leads { totalCount } }", json!({}))
        .await;
    answer.ok();
    answer.data("leads.totalCount").as_u64().expect("count")
}

#[tokio::test]
async fn a_blank_or_malformed_or_too_long_email_is_refused_with_its_field_code() {
    let app = spawn_app().await;
    refused(
        &app,
        json!({ "email": "" }),
        json!([field_error("email", "required", "email is required")]),
    )
    .await;
    refused(
        &app,
        json!({ "email": "  \t " }),
        json!([field_error("email", "required", "email is required")]),
    )
    .await;
    for bad in [
        "not-an-email",
        "ada@",
        "@example.com",
        "ada@localhost",
        "Ada <ada@example.com>",
    ] {
        refused(
            &app,
            json!({ "email": bad }),
            json!([field_error(
                "email",
                "invalid_format",
                "email is not a valid address"
            )]),
        )
        .await;
    }
    let domain = format!(
        "{}.{}.{}.com",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(60)
    );
    let at_limit = format!("{}@{domain}", "x".repeat(254 - 1 - domain.len()));
    assert_eq!(at_limit.len(), 254);
    refused(
        &app,
        json!({ "email": format!("x{at_limit}") }),
        json!([field_error(
            "email",
            "too_long",
            "email must be at most 254 characters"
        )]),
    )
    .await;
    assert_eq!(lead_count(&app).await, 0, "no refused lead was stored");
    let lead = accepted(&app, json!({ "email": at_limit })).await;
    assert_eq!(lead["email"], json!(at_limit));
}

#[tokio::test]
async fn an_omitted_email_is_a_bad_request_before_validation() {
    let app = spawn_app().await;
    let mut input = lead_input(json!({}));
    input.as_object_mut().expect("object").remove("email");
    let answer = create_raw(&app, input, "ERROR").await;
    assert_error(&answer, "bad_request", 400);
    assert_eq!(lead_count(&app).await, 0);
}

#[tokio::test]
async fn blank_names_and_names_over_100_characters_after_trimming_are_refused() {
    let app = spawn_app().await;
    for (field, blank) in [
        ("firstName", ""),
        ("lastName", "   "),
        ("firstName", "\n\t "),
    ] {
        refused(
            &app,
            json!({ field: blank }),
            json!([field_error(
                field,
                "required",
                &format!("{field} is required")
            )]),
        )
        .await;
    }
    for field in ["firstName", "lastName"] {
        refused(
            &app,
            json!({ field: "n".repeat(101) }),
            json!([field_error(
                field,
                "too_long",
                &format!("{field} must be at most 100 characters")
            )]),
        )
        .await;
        // 101 characters inside the padding: still too long after trimming.
        refused(
            &app,
            json!({ field: format!("   {}   ", "é".repeat(101)) }),
            json!([field_error(
                field,
                "too_long",
                &format!("{field} must be at most 100 characters")
            )]),
        )
        .await;
    }
    assert_eq!(lead_count(&app).await, 0);
}

#[tokio::test]
async fn names_of_100_characters_are_accepted_and_names_are_stored_trimmed_and_collapsed() {
    let app = spawn_app().await;
    let hundred = "é".repeat(100);
    let lead = accepted(
        &app,
        json!({ "firstName": format!("  {hundred}  "), "lastName": hundred }),
    )
    .await;
    assert_eq!(lead["firstName"], json!(hundred));
    assert_eq!(lead["lastName"], json!(hundred));

    // 50 + 2 spaces + 49 characters collapse to exactly 100.
    let padded = format!(" {}  \t {} ", "a".repeat(50), "b".repeat(49));
    let lead = accepted(&app, json!({ "firstName": padded })).await;
    assert_eq!(
        lead["firstName"],
        json!(format!("{} {}", "a".repeat(50), "b".repeat(49)))
    );

    let lead = accepted(
        &app,
        json!({ "firstName": "  Mary \t Ann\n Lee ", "lastName": " van   der\tBerg ", "company": "  Acme \n Inc  " }),
    )
    .await;
    assert_eq!(lead["firstName"], json!("Mary Ann Lee"));
    assert_eq!(lead["lastName"], json!("van der Berg"));
    assert_eq!(lead["company"], json!("Acme Inc"));
    let stored = crate::lead_support::get_lead(&app, lead["id"].as_str().expect("id")).await;
    stored.ok();
    assert_eq!(stored.data("lead.firstName"), &json!("Mary Ann Lee"));
    assert_eq!(stored.data("lead.lastName"), &json!("van der Berg"));
}

#[tokio::test]
async fn a_score_outside_0_to_100_is_out_of_range_and_the_bounds_are_accepted() {
    let app = spawn_app().await;
    for score in [-1, 101, 1000, i32::MIN, i32::MAX] {
        refused(
            &app,
            json!({ "score": score }),
            json!([field_error(
                "score",
                "out_of_range",
                "score must be between 0 and 100"
            )]),
        )
        .await;
    }
    assert_eq!(lead_count(&app).await, 0);
    assert_eq!(
        accepted(&app, json!({ "score": 0 })).await["score"],
        json!(0)
    );
    assert_eq!(
        accepted(&app, json!({ "score": 100 })).await["score"],
        json!(100)
    );
    assert_eq!(
        accepted(&app, json!({})).await["score"],
        json!(0),
        "score defaults to 0"
    );
}

#[tokio::test]
async fn an_unparseable_phone_is_invalid_format() {
    let app = spawn_app().await;
    for phone in [
        "not a phone",
        "123",
        "+1 000 000 0000",
        "555-0123",
        "+999 1234 5678",
    ] {
        refused(
            &app,
            json!({ "phone": phone }),
            json!([field_error(
                "phone",
                "invalid_format",
                "phone is not a valid phone number"
            )]),
        )
        .await;
    }
    refused(
        &app,
        json!({ "phone": "1".repeat(65) }),
        json!([field_error(
            "phone",
            "too_long",
            "phone must be at most 64 characters"
        )]),
    )
    .await;
    assert_eq!(lead_count(&app).await, 0);
}

#[tokio::test]
async fn custom_fields_over_the_limits_are_refused_per_key() {
    let app = spawn_app().await;
    let keys = |n: usize| -> Value {
        Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect())
    };
    refused(
        &app,
        json!({ "customFields": keys(51) }),
        json!([field_error(
            "customFields",
            "too_many_keys",
            "customFields may have at most 50 keys"
        )]),
    )
    .await;
    let long_key = "k".repeat(65);
    refused(
        &app,
        json!({ "customFields": { long_key.clone(): 1 } }),
        json!([field_error(
            &format!("customFields.{long_key}"),
            "too_long",
            "customFields keys must be at most 64 characters"
        )]),
    )
    .await;
    refused(
        &app,
        json!({ "customFields": { "note": "x".repeat(1025) } }),
        json!([field_error(
            "customFields.note",
            "too_long",
            "customFields values must be at most 1024 bytes"
        )]),
    )
    .await;
    // 513 two-byte characters: 1026 bytes, counted as bytes.
    refused(
        &app,
        json!({ "customFields": { "note": "é".repeat(513) } }),
        json!([field_error(
            "customFields.note",
            "too_long",
            "customFields values must be at most 1024 bytes"
        )]),
    )
    .await;
    let not_scalar = "customFields values must be a string, number, boolean or null";
    refused(
        &app,
        json!({ "customFields": { "obj": { "a": 1 } } }),
        json!([field_error("customFields.obj", "not_scalar", not_scalar)]),
    )
    .await;
    refused(
        &app,
        json!({ "customFields": { "list": [1, 2] } }),
        json!([field_error("customFields.list", "not_scalar", not_scalar)]),
    )
    .await;
    for not_object in [json!("text"), json!([1]), json!(3)] {
        refused(
            &app,
            json!({ "customFields": not_object }),
            json!([field_error(
                "customFields",
                "invalid_value",
                "customFields must be a JSON object"
            )]),
        )
        .await;
    }
    assert_eq!(lead_count(&app).await, 0);
}

#[tokio::test]
async fn custom_fields_at_the_limits_are_accepted_and_kept_as_given() {
    let app = spawn_app().await;
    let fifty: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!(i))).collect();
    let lead = accepted(&app, json!({ "customFields": fifty })).await;
    assert_eq!(lead["customFields"], Value::Object(fifty));

    let key64 = "é".repeat(64);
    let fields = json!({ key64: "x".repeat(1024), "plan": "pro", "seats": 12, "ratio": 0.5, "trial": false, "ref": null });
    let lead = accepted(&app, json!({ "customFields": fields })).await;
    assert_eq!(lead["customFields"], fields);
    let none = accepted(&app, json!({})).await;
    assert_eq!(none["customFields"], json!({}));
}

#[tokio::test]
async fn an_unknown_source_value_is_a_bad_request() {
    let app = spawn_app().await;
    for source in ["TWITTER", "web", ""] {
        let answer = create_raw(&app, lead_input(json!({ "source": source })), "ERROR").await;
        assert_error(&answer, "bad_request", 400);
    }
    // Inline in the document rather than a variable: also a bad request.
    let answer = app
        .gql(
            &app.acme.live,
            r#"mutation { createLead(input: {email: "a@example.com", firstName: "A", lastName: "B", source: TWITTER}) { lead { id } } }"#,
            json!({}),
        )
        .await;
    assert_error(&answer, "bad_request", 400);
    assert_eq!(lead_count(&app).await, 0);
    for source in ["WEB", "REFERRAL", "API", "IMPORT", "MANUAL"] {
        assert_eq!(
            accepted(&app, json!({ "source": source })).await["source"],
            json!(source)
        );
    }
    assert_eq!(
        accepted(&app, json!({})).await["source"],
        json!("API"),
        "source defaults to API"
    );
}

#[tokio::test]
async fn every_problem_of_a_lead_is_reported_at_once_in_field_order() {
    let app = spawn_app().await;
    let answer = create_raw(
        &app,
        json!({
            "email": "nope",
            "firstName": " ",
            "lastName": "l".repeat(101),
            "phone": "12",
            "company": "c".repeat(201),
            "jobTitle": "j".repeat(201),
            "score": 101,
            "customFields": { "a": [1], "b": { "c": 1 } },
            "market": "US",
        }),
        "ERROR",
    )
    .await;
    let not_scalar = "customFields values must be a string, number, boolean or null";
    assert_validation(
        &answer,
        json!([
            field_error("email", "invalid_format", "email is not a valid address"),
            field_error("firstName", "required", "firstName is required"),
            field_error(
                "lastName",
                "too_long",
                "lastName must be at most 100 characters"
            ),
            field_error(
                "phone",
                "invalid_format",
                "phone is not a valid phone number"
            ),
            field_error(
                "company",
                "too_long",
                "company must be at most 200 characters"
            ),
            field_error(
                "jobTitle",
                "too_long",
                "jobTitle must be at most 200 characters"
            ),
            field_error("score", "out_of_range", "score must be between 0 and 100"),
            field_error("customFields.a", "not_scalar", not_scalar),
            field_error("customFields.b", "not_scalar", not_scalar),
        ]),
    );
    assert_eq!(lead_count(&app).await, 0);
}

#[tokio::test]
async fn placement_errors_are_reported_together_with_field_errors() {
    let app = spawn_app().await;
    let answer = create_raw(
        &app,
        lead_input(json!({ "market": "ZZ", "score": -1 })),
        "ERROR",
    )
    .await;
    assert_validation(
        &answer,
        json!([
            field_error("market", "invalid_value", "not a market of this tenant"),
            field_error("score", "out_of_range", "score must be between 0 and 100"),
        ]),
    );
}

#[tokio::test]
async fn the_email_is_stored_as_given_and_the_email_filter_matches_its_canonical_key() {
    let app = spawn_app().await;
    let lead = accepted(&app, json!({ "email": "  johndoe@gmail.com  " })).await;
    assert_eq!(
        lead["email"],
        json!("johndoe@gmail.com"),
        "trimmed, otherwise as given"
    );
    let cased = accepted(&app, json!({ "email": " Ada.Lovelace+CRM@Example.COM" })).await;
    assert_eq!(cased["email"], json!("Ada.Lovelace+CRM@Example.COM"));
    accepted(&app, json!({ "email": "john.doe@example.com" })).await;

    let find = |email: &'static str| {
        let app = &app;
        async move {
            let answer = app
                .gql(
                    &app.acme.live,
                    "query($e: String!) { leads(filter: {email: $e}) { totalCount nodes { id email } } }",
                    json!({ "e": email }),
                )
                .await;
            answer.ok();
            answer
                .data("leads.nodes")
                .as_array()
                .expect("nodes")
                .iter()
                .map(|n| n["id"].clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        find("John.Doe+promo@GoogleMail.com").await,
        vec![lead["id"].clone()]
    );
    assert_eq!(find("JOHNDOE@gmail.com").await, vec![lead["id"].clone()]);
    assert_eq!(
        find(" j.o.h.n.doe+x@gmail.com ").await,
        vec![lead["id"].clone()]
    );
    assert_eq!(
        find("ada.lovelace+crm@example.com").await,
        vec![cased["id"].clone()]
    );
    // Dots and tags only fold for Gmail.
    assert_eq!(find("ada.lovelace@example.com").await, Vec::<Value>::new());
    assert_eq!(
        find("adalovelace+crm@example.com").await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn phones_are_stored_in_e164_using_the_market_as_default_region() {
    let app = spawn_app().await;
    let us = accepted(&app, json!({ "phone": "(415) 555-0132", "market": "US" })).await;
    assert_eq!(us["phone"], json!("+14155550132"));
    let india = accepted(&app, json!({ "phone": "098765 43210", "market": "IN" })).await;
    assert_eq!(india["phone"], json!("+919876543210"));
    assert_eq!(india["market"], json!("IN"));
    let dashed = accepted(&app, json!({ "phone": "98765-43210", "market": "IN" })).await;
    assert_eq!(dashed["phone"], json!("+919876543210"));
    let international =
        accepted(&app, json!({ "phone": "+44 20 7946 0958", "market": "IN" })).await;
    assert_eq!(international["phone"], json!("+442079460958"));
    let none = accepted(&app, json!({ "phone": "   " })).await;
    assert_eq!(none["phone"], Value::Null, "a blank phone is no phone");
    // An Indian national number is not a valid US number.
    refused(
        &app,
        json!({ "phone": "098765 43210", "market": "US" }),
        json!([field_error(
            "phone",
            "invalid_format",
            "phone is not a valid phone number"
        )]),
    )
    .await;
}
