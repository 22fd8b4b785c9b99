//! Keyset paging of `leads`: every ordering, both ways, with rows inserted and
//! deleted between pages; page sizes, cursors and `pageInfo`. Filters are in
//! `paging_filters`.

use std::{
    cmp::Ordering,
    collections::{BTreeMap, BTreeSet},
};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, spawn_app},
    lead_support::{assert_error, create_many, delete_lead},
};

/// Last names with many ties (ASCII, one spelling each: byte order = collation).
const NAMES: [&str; 6] = ["Adams", "Baker", "Clark", "Davis", "Evans", "Young"];
/// Scores with many ties.
const SCORES: [i64; 5] = [0, 10, 50, 90, 100];
const ROW_FIELDS: &str = "id lastName score createdAt updatedAt";
const PAGE: usize = 37;

/// A lead as the paging tests see it.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: String,
    /// The database id, the tie-breaker.
    num: i64,
    last_name: String,
    score: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn row(app: &TestApp, v: &Value) -> Row {
    let id = v["id"].as_str().expect("id").to_owned();
    let (_, num) = app.codec.decode(&id).expect("a valid id");
    let time = |k: &str| {
        v[k].as_str()
            .expect("time")
            .parse::<DateTime<Utc>>()
            .expect("RFC 3339")
    };
    Row {
        num,
        last_name: v["lastName"].as_str().expect("lastName").to_owned(),
        score: v["score"].as_i64().expect("score"),
        created_at: time("createdAt"),
        updated_at: time("updatedAt"),
        id,
    }
}

#[derive(Debug, Clone, Copy)]
enum Field {
    CreatedAt,
    UpdatedAt,
    Score,
    LastName,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Self::CreatedAt => "CREATED_AT",
            Self::UpdatedAt => "UPDATED_AT",
            Self::Score => "SCORE",
            Self::LastName => "LAST_NAME",
        }
    }

    /// The expected order of two rows (ascending), ties broken by id.
    fn cmp(self, a: &Row, b: &Row) -> Ordering {
        let by_field = match self {
            Self::CreatedAt => a.created_at.cmp(&b.created_at),
            Self::UpdatedAt => a.updated_at.cmp(&b.updated_at),
            Self::Score => a.score.cmp(&b.score),
            Self::LastName => a.last_name.cmp(&b.last_name),
        };
        by_field.then(a.num.cmp(&b.num))
    }
}

/// The leads a test created and has not deleted, by id.
#[derive(Default)]
struct Live {
    rows: BTreeMap<String, Row>,
    /// Every id ever created, deleted or not.
    created: BTreeSet<String>,
    counter: usize,
}

impl Live {
    /// Creates `n` leads with tied scores and last names.
    async fn create(&mut self, app: &TestApp, n: usize) -> Vec<Row> {
        let overs: Vec<Value> = (0..n)
            .map(|_| {
                self.counter += 1;
                let i = self.counter;
                json!({ "lastName": NAMES[(i * 7) % NAMES.len()], "score": SCORES[(i * 3) % SCORES.len()] })
            })
            .collect();
        let made: Vec<Row> = create_many(app, &app.acme.live, overs, ROW_FIELDS)
            .await
            .iter()
            .map(|v| row(app, v))
            .collect();
        for r in &made {
            self.created.insert(r.id.clone());
            self.rows.insert(r.id.clone(), r.clone());
        }
        made
    }

    async fn delete(&mut self, app: &TestApp, id: &str) {
        delete_lead(app, id).await;
        self.rows.remove(id);
    }

    fn sorted(&self, field: Field, asc: bool) -> Vec<Row> {
        let mut rows: Vec<Row> = self.rows.values().cloned().collect();
        rows.sort_by(|a, b| {
            if asc {
                field.cmp(a, b)
            } else {
                field.cmp(b, a)
            }
        });
        rows
    }
}

struct Page {
    rows: Vec<Row>,
    has_next: bool,
    has_previous: bool,
    start: Value,
    end: Value,
}

async fn page(app: &TestApp, field: Field, asc: bool, args: Value) -> Page {
    let answer = app
        .gql(
            &app.acme.live,
            &format!(
                "query($first: Int, $after: String, $last: Int, $before: String, $o: LeadOrder) {{
                    leads(first: $first, after: $after, last: $last, before: $before, orderBy: $o) {{
                        edges {{ cursor node {{ {ROW_FIELDS} }} }}
                        pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
                    }} }}"
            ),
            {
                let mut vars = args;
                vars["o"] = json!({ "field": field.name(), "direction": if asc { "ASC" } else { "DESC" } });
                vars
            },
        )
        .await;
    answer.ok();
    let edges = answer
        .data("leads.edges")
        .as_array()
        .expect("edges")
        .clone();
    let info = answer.data("leads.pageInfo").clone();
    let cursors: Vec<String> = edges
        .iter()
        .map(|e| e["cursor"].as_str().expect("cursor").to_owned())
        .collect();
    assert_eq!(
        info["startCursor"],
        cursors.first().map_or(Value::Null, |c| json!(c))
    );
    assert_eq!(
        info["endCursor"],
        cursors.last().map_or(Value::Null, |c| json!(c))
    );
    Page {
        rows: edges.iter().map(|e| row(app, &e["node"])).collect(),
        has_next: info["hasNextPage"].as_bool().expect("bool"),
        has_previous: info["hasPreviousPage"].as_bool().expect("bool"),
        start: info["startCursor"].clone(),
        end: info["endCursor"].clone(),
    }
}

/// Between two pages: two new leads, one deleted lead not yet seen (the next one
/// due) and one already seen (the cursor's own row).
async fn churn(
    app: &TestApp,
    live: &mut Live,
    expected: &[Row],
    seen: &[Row],
    cursor_row: &Row,
    deleted: &mut BTreeSet<String>,
) {
    live.create(app, 2).await;
    let seen_ids: BTreeSet<&str> = seen.iter().map(|r| r.id.as_str()).collect();
    if let Some(next) = expected
        .iter()
        .find(|r| !seen_ids.contains(r.id.as_str()) && !deleted.contains(&r.id))
    {
        deleted.insert(next.id.clone());
        live.delete(app, &next.id).await;
    }
    if !deleted.contains(&cursor_row.id) {
        deleted.insert(cursor_row.id.clone());
        live.delete(app, &cursor_row.id).await;
    }
}

/// Checks a full pass: strictly in order, no duplicates, nothing that existed
/// throughout is missing, nothing unknown appears.
fn check_pass(
    label: &str,
    field: Field,
    asc: bool,
    expected: &[Row],
    created_since: &BTreeSet<String>,
    deleted: &BTreeSet<String>,
    got: &[Row],
) {
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "{label}: duplicates");
    for pair in got.windows(2) {
        let ord = field.cmp(&pair[0], &pair[1]);
        assert_eq!(
            ord,
            if asc {
                Ordering::Less
            } else {
                Ordering::Greater
            },
            "{label}: out of order {pair:#?}"
        );
    }
    let known: BTreeSet<&str> = expected.iter().map(|r| r.id.as_str()).collect();
    for r in got {
        assert!(
            known.contains(r.id.as_str()) || created_since.contains(&r.id),
            "{label}: unknown row {r:?}"
        );
    }
    let throughout: Vec<&str> = expected
        .iter()
        .filter(|r| !deleted.contains(&r.id))
        .map(|r| r.id.as_str())
        .collect();
    let got_throughout: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| known.contains(id) && !deleted.contains(*id))
        .collect();
    assert_eq!(
        got_throughout, throughout,
        "{label}: the rows that existed throughout, in order"
    );
    assert!(throughout.len() >= 200, "{label}: a long enough walk");
}

/// Pages forward to the end, churning between pages.
async fn forward(app: &TestApp, live: &mut Live, field: Field, asc: bool) {
    let label = format!(
        "{} {} forward",
        field.name(),
        if asc { "ASC" } else { "DESC" }
    );
    let expected = live.sorted(field, asc);
    let before_ids: BTreeSet<String> = live.created.clone();
    let mut deleted = BTreeSet::new();
    let mut got: Vec<Row> = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let p = page(app, field, asc, json!({ "first": PAGE, "after": after })).await;
        pages += 1;
        assert!(p.rows.len() <= PAGE);
        assert_eq!(
            p.has_previous,
            pages > 1,
            "{label}: hasPreviousPage on page {pages}"
        );
        got.extend(p.rows.iter().cloned());
        if !p.has_next {
            assert!(!p.rows.is_empty() || pages == 1);
            break;
        }
        assert_eq!(p.rows.len(), PAGE, "{label}: a full page when more follow");
        let cursor_row = p.rows.last().expect("rows").clone();
        churn(app, live, &expected, &got, &cursor_row, &mut deleted).await;
        after = p.end;
        assert!(pages < 40, "{label}: runaway paging");
    }
    let created_since: BTreeSet<String> = live.created.difference(&before_ids).cloned().collect();
    check_pass(
        &label,
        field,
        asc,
        &expected,
        &created_since,
        &deleted,
        &got,
    );
}

/// Pages backward from the end to the start, churning between pages.
async fn backward(app: &TestApp, live: &mut Live, field: Field, asc: bool) {
    let label = format!(
        "{} {} backward",
        field.name(),
        if asc { "ASC" } else { "DESC" }
    );
    let expected = live.sorted(field, asc);
    let before_ids: BTreeSet<String> = live.created.clone();
    let mut deleted = BTreeSet::new();
    let mut pages_back: Vec<Vec<Row>> = Vec::new();
    let mut seen: Vec<Row> = Vec::new();
    let mut before = Value::Null;
    loop {
        let p = page(app, field, asc, json!({ "last": PAGE, "before": before })).await;
        assert!(p.rows.len() <= PAGE);
        assert_eq!(
            p.has_next,
            !pages_back.is_empty(),
            "{label}: hasNextPage on page {}",
            pages_back.len() + 1
        );
        seen.extend(p.rows.iter().cloned());
        let has_previous = p.has_previous;
        let start = p.start.clone();
        let cursor_row = p.rows.first().cloned();
        pages_back.push(p.rows);
        if !has_previous {
            break;
        }
        assert_eq!(
            pages_back.last().map(Vec::len),
            Some(PAGE),
            "{label}: a full page when more precede"
        );
        // Churn from the far end: "next due" is the row just before the cursor.
        let reversed: Vec<Row> = expected.iter().rev().cloned().collect();
        churn(
            app,
            live,
            &reversed,
            &seen,
            &cursor_row.expect("rows"),
            &mut deleted,
        )
        .await;
        before = start;
        assert!(pages_back.len() < 40, "{label}: runaway paging");
    }
    let got: Vec<Row> = pages_back.into_iter().rev().flatten().collect();
    let created_since: BTreeSet<String> = live.created.difference(&before_ids).cloned().collect();
    check_pass(
        &label,
        field,
        asc,
        &expected,
        &created_since,
        &deleted,
        &got,
    );
}

/// 260 leads (with a few updated so UPDATED_AT differs from CREATED_AT), then
/// ASC and DESC, each forward and backward.
async fn walk_every_way(field: Field) {
    let app = spawn_app().await;
    let mut live = Live::default();
    let made = live.create(&app, 260).await;
    for r in made.iter().step_by(9) {
        let answer = app
            .gql(
                &app.acme.live,
                &format!("mutation($id: ID!) {{ updateLead(id: $id, input: {{jobTitle: \"Buyer\"}}) {{ lead {{ {ROW_FIELDS} }} }} }}"),
                json!({ "id": r.id }),
            )
            .await;
        answer.ok();
        let updated = row(&app, answer.data("updateLead.lead"));
        live.rows.insert(updated.id.clone(), updated);
    }
    for asc in [true, false] {
        forward(&app, &mut live, field, asc).await;
        backward(&app, &mut live, field, asc).await;
    }
}

#[tokio::test]
async fn paging_by_created_at_both_ways_neither_repeats_nor_skips_while_rows_change() {
    walk_every_way(Field::CreatedAt).await;
}

#[tokio::test]
async fn paging_by_updated_at_both_ways_neither_repeats_nor_skips_while_rows_change() {
    walk_every_way(Field::UpdatedAt).await;
}

#[tokio::test]
async fn paging_by_score_both_ways_neither_repeats_nor_skips_while_rows_change() {
    walk_every_way(Field::Score).await;
}

#[tokio::test]
async fn paging_by_last_name_both_ways_neither_repeats_nor_skips_while_rows_change() {
    walk_every_way(Field::LastName).await;
}

async fn leads_page(app: &TestApp, args: &str) -> crate::helpers::Answer {
    app.gql(
        &app.acme.live,
        &format!("{{ leads{args} {{ totalCount nodes {{ id }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"),
        json!({}),
    )
    .await
}

fn node_count(answer: &crate::helpers::Answer) -> usize {
    answer.ok();
    answer.data("leads.nodes").as_array().expect("nodes").len()
}

#[tokio::test]
async fn a_page_holds_50_leads_by_default_and_200_at_most() {
    let app = spawn_app().await;
    let mut live = Live::default();
    live.create(&app, 205).await;
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
    let mut live = Live::default();
    live.create(&app, 3).await;
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
        let id = live.rows.keys().next().expect("a lead").clone();
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
    let mut live = Live::default();
    live.create(&app, 3).await;
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
    let mut live = Live::default();
    live.create(&app, 10).await;
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

    // Default ordering is CREATED_AT DESC: newest first.
    let newest = live.sorted(Field::CreatedAt, false);
    let expected: Vec<Value> = newest.iter().map(|r| json!({ "id": r.id })).collect();
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
