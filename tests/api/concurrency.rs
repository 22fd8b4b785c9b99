//! Concurrent writers: uniqueness holds and nobody sees an internal error.

use serde_json::json;

use crate::helpers::{lead_input, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_creates_of_one_email_make_exactly_one_lead() {
    let app = spawn_app().await;
    let query = "mutation($i: CreateLeadInput!) { createLead(input: $i) { status lead { id } } }";
    let attempts = (0..16).map(|i| {
        let input =
            lead_input(json!({ "email": "race@example.com", "firstName": format!("Racer{i}") }));
        app.gql(&app.acme.live, query, json!({ "i": input }))
    });
    let answers = futures::future::join_all(attempts).await;
    let created: Vec<_> = answers.iter().filter(|a| a.errors().is_empty()).collect();
    assert_eq!(
        created.len(),
        1,
        "{:#?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    let winner = created[0].data("createLead.lead.id").clone();
    for a in answers.iter().filter(|a| !a.errors().is_empty()) {
        assert_eq!(a.code(), "duplicate", "{:#}", a.body);
        assert_eq!(a.errors()[0]["extensions"]["existingId"], winner);
    }
    let count = app
        .gql(
            &app.acme.live,
            "{ leads(filter: {email: \"race@example.com\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(count.ok().data("leads.totalCount"), 1);
}
