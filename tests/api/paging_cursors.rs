//! `leads` page sizes, cursors and `pageInfo` at the edges.

use serde_json::{Value, json};

use crate::{
    helpers::{Answer, TestApp, spawn_app},
    lead_support::{assert_error, create_many},
};

async fn leads_page(app: &TestApp, args: &str) -> Answer {
    app.gql(
        &app.acme.live,
        &format!("{{ leads{args} {{ totalCount nodes {{ id }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"),
        json!({}),
    )
    .await
}

fn node_count(answer: &Answer) -> usize {
    answer.ok();
    answer.data("leads.nodes").as_array().expect("nodes").len()
}

#[tokio::test]
async fn a_page_holds_50_leads_by_default_and_200_at_most() {
    let app = spawn_app().await;
    create_many(&app, &app.acme.live, vec![json!({}); 205], "id").await;
    let default = leads_page(&app, "").await;
    assert_eq!(node_count(&default), 50);
    assert_eq!(default.data("leads.totalCount"), &json!(205));
    assert_eq!(default.data("leads.pageInfo.hasNextPage"), &json!(true));
    let max = leads_page(&app, "(first: 200)").await;
    assert_eq!(node_count(&max), 200);
    assert_eq!(max.data("leads.pageInfo.hasNextPage"), &json!(true));
    let last = leads_page(&app, "(last: 200)").await;
    assert_eq!(node_count(&last), 200);
    assert_eq!(last.data("leads.pageInfo.hasPreviousPage"), &json!(true));
    // `before` alone reads the default page size backward.
    let end = max
        .data("leads.pageInfo.endCursor")
        .as_str()
        .expect("cursor")
        .to_owned();
    let before = leads_page(&app, &format!("(before: \"{end}\")")).await;
    assert_eq!(node_count(&before), 50);
    assert_eq!(
        before.data("leads.nodes"),
        &json!(max.data("leads.nodes").as_array().expect("nodes")[149..199])
    );
    let zero = leads_page(&app, "(first: 0)").await;
    assert_eq!(node_count(&zero), 0);
    assert_eq!(zero.data("leads.pageInfo.startCursor"), &Value::Null);
    assert_eq!(zero.data("leads.pageInfo.endCursor"), &Value::Null);
}

#[tokio::test]
async fn page_sizes_over_200_or_negative_are_bad_requests() {
    let app = spawn_app().await;
    app.create_lead(&app.acme.live, json!({})).await;
    for args in [
        "(first: 201)",
        "(last: 201)",
        "(first: -1)",
        "(last: -5)",
        "(first: 10000)",
        "(first: 1, last: 1)",
    ] {
        assert_error(&leads_page(&app, args).await, "bad_request", 400);
    }
}

#[tokio::test]
async fn garbage_and_foreign_cursors_are_bad_requests() {
    let app = spawn_app().await;
    let made = create_many(
        &app,
        &app.acme.live,
        vec![
            json!({ "score": 5 }),
            json!({ "score": 1 }),
            json!({ "score": 9 }),
        ],
        "id",
    )
    .await;
    let score_page = leads_page(&app, "(first: 1, orderBy: {field: SCORE, direction: ASC})").await;
    score_page.ok();
    let score_cursor = score_page
        .data("leads.pageInfo.endCursor")
        .as_str()
        .expect("cursor")
        .to_owned();
    // The same cursor is fine with its own ordering.
    assert_eq!(node_count(&leads_page(&app, &format!("(first: 5, after: \"{score_cursor}\", orderBy: {{field: SCORE, direction: ASC}})")).await), 2);
    let default_page = leads_page(&app, "(first: 1)").await;
    let default_cursor = default_page
        .data("leads.pageInfo.endCursor")
        .as_str()
        .expect("cursor")
        .to_owned();
    let history_cursor = {
        let id = made[0]["id"].as_str().expect("id").to_owned();
        crate::lead_support::transition(&app, &id, "CONTACTED", None)
            .await
            .ok();
        let answer = app
            .gql(
                &app.acme.live,
                "query($id: ID!) { lead(id: $id) { history { pageInfo { endCursor } } } }",
                json!({ "id": id }),
            )
            .await;
        answer
            .data("lead.history.pageInfo.endCursor")
            .as_str()
            .expect("cursor")
            .to_owned()
    };
    for args in [
        "(after: \"garbage\")".to_owned(),
        "(before: \"!!!\")".to_owned(),
        "(after: \"\")".to_owned(),
        "(first: 5, after: \"bm90IGpzb24\")".to_owned(),
        format!(
            "(first: 5, after: \"{score_cursor}\", orderBy: {{field: LAST_NAME, direction: ASC}})"
        ),
        format!(
            "(first: 5, after: \"{score_cursor}\", orderBy: {{field: SCORE, direction: DESC}})"
        ),
        format!("(first: 5, after: \"{score_cursor}\")"),
        format!(
            "(last: 5, before: \"{default_cursor}\", orderBy: {{field: UPDATED_AT, direction: DESC}})"
        ),
        format!("(first: 5, after: \"{history_cursor}\")"),
        format!("(first: 5, after: \"{default_cursor}\", before: \"{default_cursor}\")"),
    ] {
        assert_error(&leads_page(&app, &args).await, "bad_request", 400);
    }
}

#[tokio::test]
async fn a_tampered_cursor_with_a_value_of_the_wrong_kind_is_a_bad_request() {
    let app = spawn_app().await;
    create_many(&app, &app.acme.live, vec![json!({}); 3], "id").await;
    let encode = |doc: Value| base64_url(doc.to_string().as_bytes());
    for (order, cursor) in [
        (
            "{field: SCORE, direction: ASC}",
            encode(json!({ "o": "score:asc", "v": { "s": "text" }, "i": 1 })),
        ),
        (
            "{field: SCORE, direction: ASC}",
            encode(json!({ "o": "score:asc", "v": { "t": "2020-01-01T00:00:00Z" }, "i": 1 })),
        ),
        (
            "{field: CREATED_AT, direction: DESC}",
            encode(json!({ "o": "created_at:desc", "v": { "n": 5 }, "i": 1 })),
        ),
        (
            "{field: LAST_NAME, direction: ASC}",
            encode(json!({ "o": "last_name:asc", "v": { "n": 5 }, "i": 1 })),
        ),
        (
            "{field: LAST_NAME, direction: ASC}",
            encode(json!({ "o": "last_name:asc", "i": 1 })),
        ),
    ] {
        let answer = leads_page(
            &app,
            &format!("(first: 5, after: \"{cursor}\", orderBy: {order})"),
        )
        .await;
        assert_error(&answer, "bad_request", 400);
    }
}

#[tokio::test]
async fn page_info_is_right_at_both_ends_and_in_the_middle() {
    let app = spawn_app().await;
    let made = create_many(&app, &app.acme.live, vec![json!({}); 10], "id").await;
    let all = leads_page(&app, "(first: 10)").await;
    all.ok();
    let ids: Vec<Value> = all.data("leads.nodes").as_array().expect("nodes").clone();
    assert_eq!(ids.len(), 10);
    assert_eq!(
        all.data("leads.pageInfo.hasNextPage"),
        &json!(false),
        "exactly one full page"
    );
    assert_eq!(all.data("leads.pageInfo.hasPreviousPage"), &json!(false));

    let first = leads_page(&app, "(first: 4)").await;
    assert_eq!(first.data("leads.nodes"), &json!(ids[0..4]));
    assert_eq!(first.data("leads.pageInfo.hasNextPage"), &json!(true));
    assert_eq!(first.data("leads.pageInfo.hasPreviousPage"), &json!(false));
    let end = first
        .data("leads.pageInfo.endCursor")
        .as_str()
        .expect("cursor")
        .to_owned();

    let middle = leads_page(&app, &format!("(first: 4, after: \"{end}\")")).await;
    assert_eq!(middle.data("leads.nodes"), &json!(ids[4..8]));
    assert_eq!(middle.data("leads.pageInfo.hasNextPage"), &json!(true));
    assert_eq!(middle.data("leads.pageInfo.hasPreviousPage"), &json!(true));
    let end = middle
        .data("leads.pageInfo.endCursor")
        .as_str()
        .expect("cursor")
        .to_owned();

    let tail = leads_page(&app, &format!("(first: 4, after: \"{end}\")")).await;
    assert_eq!(tail.data("leads.nodes"), &json!(ids[8..10]));
    assert_eq!(tail.data("leads.pageInfo.hasNextPage"), &json!(false));
    assert_eq!(tail.data("leads.pageInfo.hasPreviousPage"), &json!(true));
    let end = tail
        .data("leads.pageInfo.endCursor")
        .as_str()
        .expect("cursor")
        .to_owned();

    let beyond = leads_page(&app, &format!("(first: 4, after: \"{end}\")")).await;
    assert_eq!(node_count(&beyond), 0);
    assert_eq!(beyond.data("leads.pageInfo.hasNextPage"), &json!(false));
    assert_eq!(beyond.data("leads.pageInfo.hasPreviousPage"), &json!(true));
    assert_eq!(beyond.data("leads.pageInfo.startCursor"), &Value::Null);

    let last = leads_page(&app, "(last: 4)").await;
    assert_eq!(last.data("leads.nodes"), &json!(ids[6..10]));
    assert_eq!(last.data("leads.pageInfo.hasPreviousPage"), &json!(true));
    assert_eq!(last.data("leads.pageInfo.hasNextPage"), &json!(false));
    let start = last
        .data("leads.pageInfo.startCursor")
        .as_str()
        .expect("cursor")
        .to_owned();
    let back = leads_page(&app, &format!("(last: 6, before: \"{start}\")")).await;
    assert_eq!(back.data("leads.nodes"), &json!(ids[0..6]));
    assert_eq!(back.data("leads.pageInfo.hasPreviousPage"), &json!(false));
    assert_eq!(back.data("leads.pageInfo.hasNextPage"), &json!(true));

    // Default ordering is CREATED_AT DESC: newest first (created one after another).
    let expected: Vec<Value> = made.iter().rev().cloned().collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn an_empty_connection_has_no_cursors_and_no_pages() {
    let app = spawn_app().await;
    for args in ["", "(first: 5)", "(last: 5)"] {
        let answer = leads_page(&app, args).await;
        answer.ok();
        assert_eq!(
            answer.data("leads"),
            &json!({ "totalCount": 0, "nodes": [], "pageInfo": { "hasNextPage": false, "hasPreviousPage": false, "startCursor": null, "endCursor": null } })
        );
    }
}

/// URL-safe base64 without padding (the cursor encoding), for forged cursors.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}
