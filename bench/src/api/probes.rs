//! Our probes: the GraphQL request bodies of each measured query and
//! mutation, the setup reads they need (a cursor 50,000 rows deep, a sample
//! of lead ids, `updatedAfter` points), and the checks of the seeded data
//! through the API.
//!
//! The list and by-id probes select [`LEAD_FIELDS`] (and, for lists,
//! `pageInfo { hasNextPage endCursor }`): the selection PostGraphile's
//! probes use, so both servers return the same data.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use rand::SeedableRng as _;
use rand::seq::SliceRandom as _;
use serde_json::{Value, json};

use super::driver::{Bodies, Check, Probe};
use super::seed::{MARKETS, Seeded};
use crate::postgraphile::{DEEP_ROWS, LEAD_FIELDS, PAGE_SIZE};
use crate::server::{Backend, Database, Server};

/// The filter of `filtered_count` / `filtered`: one status and one market,
/// so PostGraphile's equality `condition` expresses the same query.
pub const FILTER_STATUS: &str = "QUALIFIED";
pub const FILTER_MARKET: &str = "US";
/// Lead ids `by_id` cycles through.
pub const BY_ID_SAMPLE: usize = 10_000;
/// `updatedAfter` points `sync` cycles through.
pub const SYNC_POINTS: usize = 100;
/// Rows left after the latest `updatedAfter` point (at least).
pub const SYNC_TAIL: u64 = 1_000;
/// Page size of the setup walk to the deep cursor (the API's maximum).
const WALK_PAGE: usize = 200;

const ORDER_NEWEST: &str = "orderBy: {field: CREATED_AT, direction: DESC}";
const PAGE_INFO: &str = "pageInfo { hasNextPage endCursor }";

pub fn first_page_query() -> String {
    format!(
        "query FirstPage {{ leads(first: {PAGE_SIZE}, {ORDER_NEWEST}) {{ \
         nodes {{ {LEAD_FIELDS} }} {PAGE_INFO} }} }}"
    )
}

pub fn deep_page_query() -> String {
    format!(
        "query DeepPage($after: String!) {{ leads(first: {PAGE_SIZE}, after: $after, \
         {ORDER_NEWEST}) {{ nodes {{ {LEAD_FIELDS} }} {PAGE_INFO} }} }}"
    )
}

/// The status + market page, with `totalCount` when `count`.
pub fn filtered_query(count: bool) -> String {
    format!(
        "query {name}($status: [LeadStatus!], $market: [String!]) {{ leads(first: {PAGE_SIZE}, \
         {ORDER_NEWEST}, filter: {{status: $status, market: $market}}) {{ {total}\
         nodes {{ {LEAD_FIELDS} }} {PAGE_INFO} }} }}",
        name = if count { "FilteredCount" } else { "Filtered" },
        total = if count { "totalCount " } else { "" },
    )
}

pub fn by_id_query() -> String {
    format!("query ById($id: ID!) {{ lead(id: $id) {{ {LEAD_FIELDS} }} }}")
}

/// The first page with the three related objects of each lead.
pub fn nested_page_query() -> String {
    format!(
        "query NestedPage {{ leads(first: {PAGE_SIZE}, {ORDER_NEWEST}) {{ nodes {{ {LEAD_FIELDS} \
         assignedTo {{ id name }} createdBy {{ id name }} team {{ id name }} }} {PAGE_INFO} }} }}"
    )
}

/// Incremental sync: oldest change first after a point in time.
pub fn sync_query() -> String {
    format!(
        "query Sync($after: DateTime!) {{ leads(first: {PAGE_SIZE}, \
         orderBy: {{field: UPDATED_AT, direction: ASC}}, filter: {{updatedAfter: $after}}) {{ \
         nodes {{ {LEAD_FIELDS} }} {PAGE_INFO} }} }}"
    )
}

pub const CREATE_LEAD: &str = "mutation CreateLead($input: CreateLeadInput!) { \
     createLead(input: $input) { status lead { id } } }";
pub const CREATE_LEADS: &str = "mutation CreateLeads($inputs: [CreateLeadInput!]!) { \
     createLeads(inputs: $inputs) { created failed } }";
/// Leads per `createLeads` request (the API's maximum).
pub const BATCH: usize = 500;

/// A GraphQL request body.
pub fn body(query: &str, variables: &Value) -> String {
    json!({ "query": query, "variables": variables }).to_string()
}

/// A `CreateLeadInput` unique for `(tag, seq)`, in one of the four markets
/// with a phone in that market's national format (the server canonicalises
/// it to E.164).
pub fn lead_input(tag: &str, seq: u64) -> Value {
    const FIRST: [&str; 8] = ["Mia", "Omar", "Zoe", "Ivan", "Lena", "Ravi", "Sara", "Tom"];
    const LAST: [&str; 8] = [
        "Fischer", "Khan", "Nguyen", "Silva", "Moreau", "Reddy", "Kowalski", "Okafor",
    ];
    let i = usize::try_from(seq % 1_000_000).unwrap_or(0);
    let market = MARKETS[i % MARKETS.len()];
    let (a, b) = (seq % 800 + 200, (seq / 800) % 10_000);
    let phone = match market {
        "US" => format!("(212) {a}-{b:04}"),
        "CA" => format!("(416) {a}-{b:04}"),
        "GB" => format!("020 7{:03} {b:04}", seq % 1000),
        _ => format!("98{:04} {b:04}", seq % 10_000),
    };
    json!({
        "email": format!("{tag}.{seq}@writes.bench.example"),
        "firstName": FIRST[i % FIRST.len()],
        "lastName": LAST[(i / FIRST.len()) % LAST.len()],
        "phone": phone,
        "company": "Bench Writes Ltd",
        "jobTitle": "Buyer",
        "source": "API",
        "score": seq % 101,
        "market": market,
        "customFields": { "campaign": "load-test", "seq": seq },
    })
}

/// What the probes need, read once after seeding.
#[derive(Debug, Clone)]
pub struct Setup {
    /// How deep `deep_page` starts (rows before it, newest first).
    pub deep_rows: usize,
    /// The cursor of the row `deep_rows` deep.
    pub deep_cursor: String,
    /// Row ids of the `by_id` sample (in probe order).
    pub lead_ids: Vec<i64>,
    /// Their public ids.
    pub public_ids: Vec<String>,
    /// `updatedAfter` points for `sync` (RFC 3339).
    pub sync_after: Vec<String>,
    /// `totalCount` of the status + market filter.
    pub filtered_total: i64,
}

/// The public id of a row (Sqids of `[node type, id]`, default alphabet,
/// minimum length 16: `api/src/ids.rs`); checked against ids the server
/// printed before use.
fn public_id(codec: &sqids::Sqids, node_type: u64, id: i64) -> anyhow::Result<String> {
    let id = u64::try_from(id).context("a negative row id")?;
    codec
        .encode(&[node_type, id])
        .context("encoding a public id")
}

const NODE_LEAD: u64 = 1;
const NODE_USER: u64 = 2;

/// Checks the seed through the API (count, every field of a page, nested
/// objects consistent with the rows) and reads what the probes need.
pub fn prepare(server: &Server, db: &Database, seeded: &Seeded) -> anyhow::Result<Setup> {
    let n = seeded.plan.leads;
    verify_api(server, n)?;

    let codec = sqids::Sqids::builder()
        .min_length(16)
        .build()
        .context("building the id codec")?;
    let owner = public_id(&codec, NODE_USER, seeded.owner_id)?;
    ensure!(
        owner == seeded.tenant.owner_id,
        "the bench's id encoding ({owner}) is not the server's ({}); \
         is LEADGRAPH_ID_ALPHABET set?",
        seeded.tenant.owner_id
    );

    // by_id: an even sample over the whole table, in a fixed random order.
    let t = seeded.tenant_id;
    let every = (n / BY_ID_SAMPLE as u64).max(1);
    let mut lead_ids: Vec<i64> = db
        .query(&format!(
            "SELECT id FROM leads WHERE tenant_id = {t} AND environment = 'live' \
             AND id % {every} = 0 ORDER BY id LIMIT {BY_ID_SAMPLE}"
        ))?
        .iter()
        .filter_map(|r| r.first()?.parse().ok())
        .collect();
    ensure!(!lead_ids.is_empty(), "no lead ids sampled");
    lead_ids.shuffle(&mut rand::rngs::StdRng::seed_from_u64(5));
    let public_ids = lead_ids
        .iter()
        .map(|id| public_id(&codec, NODE_LEAD, *id))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let probe = server.graphql(&by_id_query(), json!({ "id": public_ids[0] }))?;
    let email = db.query(&format!(
        "SELECT email FROM leads WHERE id = {}",
        lead_ids[0]
    ))?;
    ensure!(
        probe["lead"]["email"].as_str()
            == email.first().and_then(|r| r.first()).map(String::as_str),
        "lead {} answered {probe}, the row has {email:?}",
        public_ids[0]
    );

    // deep_page: walk to the cursor DEEP_ROWS deep (half the table when
    // it is smaller), newest first.
    let deep_rows = if n as usize >= DEEP_ROWS + PAGE_SIZE {
        DEEP_ROWS
    } else {
        ((n as usize / 2) / WALK_PAGE * WALK_PAGE).max(WALK_PAGE.min(n as usize))
    };
    let walk = format!(
        "query Walk($first: Int!, $after: String) {{ leads(first: $first, after: $after, \
         {ORDER_NEWEST}) {{ pageInfo {{ endCursor }} }} }}"
    );
    let mut cursor: Option<String> = None;
    let mut walked = 0;
    while walked < deep_rows {
        let first = WALK_PAGE.min(deep_rows - walked);
        let page = server.graphql(&walk, json!({ "first": first, "after": cursor }))?;
        cursor = Some(
            page["leads"]["pageInfo"]["endCursor"]
                .as_str()
                .with_context(|| format!("no endCursor after {walked} rows: {page}"))?
                .to_owned(),
        );
        walked += first;
    }
    let deep_cursor = cursor.context("no deep cursor")?;

    // sync: points spread over the updated_at order, each leaving at least
    // SYNC_TAIL rows after it.
    let span = n.saturating_sub(SYNC_TAIL).max(1);
    let step = (span / SYNC_POINTS as u64).max(1);
    let shown = match db.backend() {
        Backend::Postgres => {
            "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        }
        Backend::Sqlite => "updated_at",
    };
    let sync_after: Vec<String> = db
        .query(&format!(
            "SELECT {shown} FROM (SELECT updated_at, row_number() OVER (ORDER BY updated_at, id) \
             AS rn FROM leads WHERE tenant_id = {t} AND environment = 'live') s \
             WHERE rn % {step} = 0 AND rn <= {span} ORDER BY rn LIMIT {SYNC_POINTS}"
        ))?
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect();
    ensure!(!sync_after.is_empty(), "no updatedAfter points");

    let counted = server.graphql(
        &filtered_query(true),
        json!({ "status": [FILTER_STATUS], "market": [FILTER_MARKET] }),
    )?;
    let filtered_total = counted["leads"]["totalCount"]
        .as_i64()
        .with_context(|| format!("no totalCount: {counted}"))?;
    let expected = db.query_i64(&format!(
        "SELECT count(*) FROM leads WHERE tenant_id = {t} AND environment = 'live' \
         AND status = '{FILTER_STATUS}' AND market = '{FILTER_MARKET}'"
    ))?;
    ensure!(
        filtered_total == expected,
        "filtered totalCount {filtered_total}, SQL counts {expected}"
    );
    Ok(Setup {
        deep_rows,
        deep_cursor,
        lead_ids,
        public_ids,
        sync_after,
        filtered_total,
    })
}

/// `totalCount` is the seed size, and a page of 50 selecting every field
/// (nested objects and history included) answers without errors and
/// agrees with itself (team in the lead's market, one transition per lead
/// that left `NEW`).
fn verify_api(server: &Server, leads: u64) -> anyhow::Result<()> {
    let count = server.graphql("{ leads(first: 1) { totalCount } }", json!({}))?;
    ensure!(
        count["leads"]["totalCount"].as_u64() == Some(leads),
        "totalCount answered {count}, expected {leads}"
    );
    let page = server
        .graphql(
            "{ leads(first: 50) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor \
             endCursor } edges { cursor node { id email firstName lastName phone company jobTitle \
             source status score customFields market createdAt updatedAt \
             team { id name market createdAt } assignedTo { id email name role active } \
             createdBy { id name } mergedInto { id } \
             history(first: 5) { totalCount nodes { id from to reason at actor { id } } } } } } }",
            json!({}),
        )
        .context("reading a page with every field")?;
    let edges = page["leads"]["edges"]
        .as_array()
        .with_context(|| format!("no edges: {page}"))?;
    ensure!(
        edges.len() == 50.min(leads as usize),
        "{} edges",
        edges.len()
    );
    for edge in edges {
        let node = &edge["node"];
        if let Some(team) = node["team"].as_object() {
            ensure!(
                team.get("market") == node.get("market"),
                "team of another market: {node}"
            );
        }
        let moved = node["status"] != "NEW";
        ensure!(
            node["history"]["totalCount"] == json!(i32::from(moved)),
            "history does not match the status: {node}"
        );
        ensure!(
            node["createdBy"]["id"].is_string() && node["customFields"].is_object(),
            "createdBy or customFields missing: {node}"
        );
        let time = |field: &str| {
            node[field]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .with_context(|| format!("{field} is not RFC 3339: {node}"))
        };
        ensure!(
            time("createdAt")? <= time("updatedAt")?,
            "updated before created: {node}"
        );
    }
    Ok(())
}

/// The read probes, in run order.
pub fn read_probes(setup: &Setup) -> Vec<Probe> {
    let filter = json!({ "status": [FILTER_STATUS], "market": [FILTER_MARKET] });
    let read = |name: &str, bodies: Vec<String>| Probe {
        name: name.to_owned(),
        class: "read",
        bodies: Bodies::cycle(bodies),
        check: Check::NoErrors,
    };
    vec![
        read("first_page", vec![body(&first_page_query(), &json!({}))]),
        read(
            "deep_page",
            vec![body(
                &deep_page_query(),
                &json!({ "after": setup.deep_cursor }),
            )],
        ),
        read("filtered_count", vec![body(&filtered_query(true), &filter)]),
        read("filtered", vec![body(&filtered_query(false), &filter)]),
        read(
            "by_id",
            setup
                .public_ids
                .iter()
                .map(|id| body(&by_id_query(), &json!({ "id": id })))
                .collect(),
        ),
        read("nested_page", vec![body(&nested_page_query(), &json!({}))]),
        read(
            "sync",
            setup
                .sync_after
                .iter()
                .map(|t| body(&sync_query(), &json!({ "after": t })))
                .collect(),
        ),
    ]
}

/// The write probes: `createLead` and `createLeads` of [`BATCH`], with
/// emails unique for the process (`tag` and a counter).
pub fn write_probes(tag: &str) -> Vec<Probe> {
    let one = {
        let (tag, seq) = (format!("{tag}-one"), Arc::new(AtomicU64::new(0)));
        Arc::new(move || {
            let s = seq.fetch_add(1, Ordering::Relaxed);
            Bytes::from(body(CREATE_LEAD, &json!({ "input": lead_input(&tag, s) })))
        })
    };
    let many = {
        let (tag, seq) = (format!("{tag}-many"), Arc::new(AtomicU64::new(0)));
        Arc::new(move || {
            let first = seq.fetch_add(BATCH as u64, Ordering::Relaxed);
            let inputs: Vec<Value> = (first..first + BATCH as u64)
                .map(|s| lead_input(&tag, s))
                .collect();
            Bytes::from(body(CREATE_LEADS, &json!({ "inputs": inputs })))
        })
    };
    vec![
        Probe {
            name: "create_lead".to_owned(),
            class: "write",
            bodies: Bodies::Generated(one),
            check: Check::Equals("/data/createLead/status", json!("CREATED")),
        },
        Probe {
            name: format!("create_leads_{BATCH}"),
            class: "write",
            bodies: Bodies::Generated(many),
            check: Check::Equals("/data/createLeads/created", json!(BATCH)),
        },
    ]
}

/// Which request the `n`th of the soak's mix is: of every 20, one
/// `createLead`, the rest reads in about the proportions a dashboard and a
/// sync job would send.
pub fn mix_slot(n: u64) -> &'static str {
    match n % 20 {
        0 => "create_lead",
        1..=6 => "first_page",
        7..=10 | 19 => "by_id",
        11 | 12 => "filtered_count",
        13 => "filtered",
        14 | 15 => "nested_page",
        16 | 17 => "sync",
        _ => "deep_page",
    }
}

/// The soak's mixed load (see [`mix_slot`]) as one probe.
pub fn mixed_probe(setup: &Setup, tag: &str) -> Probe {
    let reads: Vec<(String, Arc<[Bytes]>)> = read_probes(setup)
        .into_iter()
        .filter_map(|p| match p.bodies {
            Bodies::Cycle(list) => Some((p.name, list)),
            Bodies::Generated(_) => None,
        })
        .collect();
    let tag = tag.to_owned();
    let seq = Arc::new(AtomicU64::new(0));
    let make = move || {
        let n = seq.fetch_add(1, Ordering::Relaxed);
        let slot = mix_slot(n);
        if slot == "create_lead" {
            return Bytes::from(body(CREATE_LEAD, &json!({ "input": lead_input(&tag, n) })));
        }
        match reads.iter().find(|(name, _)| name == slot) {
            Some((_, list)) if !list.is_empty() => {
                list[usize::try_from(n / 20).unwrap_or(0) % list.len()].clone()
            }
            _ => Bytes::from(body(&first_page_query(), &json!({}))),
        }
    };
    Probe {
        name: "mixed".to_owned(),
        class: "mixed",
        bodies: Bodies::Generated(Arc::new(make)),
        check: Check::NoErrors,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn list_probes_select_postgraphiles_fields_and_page_info() {
        for q in [
            first_page_query(),
            deep_page_query(),
            filtered_query(true),
            filtered_query(false),
            nested_page_query(),
            sync_query(),
        ] {
            assert!(q.contains(&format!("nodes {{ {LEAD_FIELDS}")), "{q}");
            assert!(q.contains("pageInfo { hasNextPage endCursor }"), "{q}");
            assert!(q.contains("leads(first: 50,"), "{q}");
        }
        assert!(by_id_query().contains(LEAD_FIELDS));
        assert!(filtered_query(true).contains("totalCount"));
        assert!(!filtered_query(false).contains("totalCount"));
        assert!(
            nested_page_query()
                .contains("assignedTo { id name } createdBy { id name } team { id name }")
        );
        assert!(sync_query().contains("{field: UPDATED_AT, direction: ASC}"));
    }

    #[test]
    fn write_inputs_are_unique_and_valid_for_the_server() {
        let a = lead_input("t", 1);
        let b = lead_input("t", 2);
        assert_ne!(a["email"], b["email"]);
        for seq in 0..400 {
            let input = lead_input("t", seq);
            let market = input["market"].as_str().unwrap();
            let phone = input["phone"].as_str().unwrap();
            let e164 = batch::phone(phone, Some(market)).unwrap();
            assert!(e164.is_some(), "{phone} ({market})");
            batch::email(input["email"].as_str().unwrap()).unwrap();
        }
    }

    #[test]
    fn the_mix_is_one_write_in_twenty() {
        let writes = (0..2000).filter(|n| mix_slot(*n) == "create_lead").count();
        assert_eq!(writes, 100);
        let deep = (0..20).filter(|n| mix_slot(*n) == "deep_page").count();
        assert_eq!(deep, 1);
    }

    #[test]
    fn generated_writes_never_repeat_an_email() {
        let probes = write_probes("x");
        let Bodies::Generated(make) = &probes[0].bodies else {
            panic!("createLead bodies are generated")
        };
        let (a, b) = (make(), make());
        assert_ne!(a, b);
        let v: Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(
            v["variables"]["input"]["email"],
            "x-one.0@writes.bench.example"
        );
        let Bodies::Generated(make) = &probes[1].bodies else {
            panic!("createLeads bodies are generated")
        };
        let v: Value = serde_json::from_slice(&make()).unwrap();
        assert_eq!(v["variables"]["inputs"].as_array().unwrap().len(), BATCH);
    }
}
