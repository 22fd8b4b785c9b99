//! Keyset paging of `leads`: every ordering, both ways, with rows inserted and
//! deleted between pages. Page sizes, cursors and `pageInfo` are in
//! `paging_cursors`, filters in `paging_filters`.

use std::{
    cmp::Ordering,
    collections::{BTreeMap, BTreeSet},
};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, spawn_app},
    lead_support::{create_many, delete_lead},
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
