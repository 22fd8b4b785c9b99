//! Bulk dedupe (`startDedupe`, `dedupeRun`): a planted set of near-duplicates
//! that exact email matching cannot find (a phone written differently, a name
//! and company spelled differently, a name at one corporate domain, a chain
//! of two reasons) beside look-alikes that must stay apart; dry and real runs,
//! scope, refusals, progress and the `dedupe.completed` webhook.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, spawn_app, spawn_app_with},
    webhooks::receiver::Receiver,
};

/// How long a run may take before a test fails.
const DEADLINE: Duration = Duration::from_secs(30);

const RUN_FIELDS: &str = "id status dryRun leadsScanned clusterCount mergedClusterCount
    skippedClusterCount mergedLeadCount skippedBlockCount progress error createdAt startedAt
    finishedAt";

const CLUSTERS: &str = "clusters(first: 50) { totalCount
    nodes { survivor { id } members { id } reasons merged } }";

/// The planted leads' ids.
pub(crate) struct Planted {
    /// Grace Hopper, and "G. Hopper" with the same phone written differently.
    pub(crate) phone: [String; 2],
    /// Ada Lovelace at "Acme Inc." and at "ACME, inc", different emails.
    pub(crate) name_company: [String; 2],
    /// Alan Turing twice at one corporate domain.
    pub(crate) name_domain: [String; 2],
    /// Linus Torvalds: first~second by phone, second~third by name + domain.
    pub(crate) chain: [String; 3],
    /// Look-alikes that must not merge.
    pub(crate) apart: Vec<String>,
    /// Every lead created.
    pub(crate) total: i64,
}

/// Runs `createLeads` and returns each result's lead id (or `None` with the
/// error code when it failed).
pub(crate) async fn create_leads(
    app: &TestApp,
    key: &str,
    inputs: Value,
) -> Vec<Result<String, String>> {
    let answer = app
        .gql(
            key,
            "mutation($i: [CreateLeadInput!]!) { createLeads(inputs: $i) {
                results { status lead { id } errors { code } } } }",
            json!({ "i": inputs }),
        )
        .await;
    answer.ok();
    answer
        .data("createLeads.results")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| match r["lead"]["id"].as_str() {
            Some(id) => Ok(id.to_owned()),
            None => Err(r["errors"][0]["code"].as_str().unwrap_or("?").to_owned()),
        })
        .collect()
}

pub(crate) fn ok(results: Vec<Result<String, String>>) -> Vec<String> {
    results.into_iter().map(|r| r.expect("created")).collect()
}

pub(crate) fn lead(first: &str, last: &str, email: &str, more: Value) -> Value {
    let mut input = json!({ "firstName": first, "lastName": last, "email": email, "market": "US" });
    crate::helpers::merge(&mut input, more);
    input
}

/// Plants the set: the originals first, the duplicates in a later request
/// (so the originals are the oldest, hence the survivors).
pub(crate) async fn plant(app: &TestApp, key: &str) -> Planted {
    let originals = ok(create_leads(
        app,
        key,
        json!([
            lead(
                "Grace",
                "Hopper",
                "grace.hopper@example.com",
                json!({ "phone": "+1 415-555-2671" })
            ),
            lead(
                "Ada",
                "Lovelace",
                "ada@lovelace.example",
                json!({ "company": "Acme Inc." })
            ),
            lead("Alan", "Turing", "alan@bletchley.example", json!({})),
            lead(
                "Linus",
                "Torvalds",
                "linus@kernel.example",
                json!({ "phone": "+1 503-555-0187" })
            ),
            // Namesakes at other companies, on free mail: not one person.
            lead(
                "John",
                "Smith",
                "john.smith@gmail.com",
                json!({ "company": "Globex" })
            ),
            // Colleagues: same company and domain, other names.
            lead(
                "Alice",
                "Jones",
                "alice@acme-corp.example",
                json!({ "company": "Acme Inc." })
            ),
            // Katherine Johnson, whose gmail spelling variant follows.
            lead(
                "Katherine",
                "Johnson",
                "katherine.johnson@gmail.com",
                json!({})
            ),
        ]),
    )
    .await);
    let later = create_leads(
        app,
        key,
        json!([
            lead(
                "G.",
                "Hopper",
                "ghopper@yahoo.com",
                json!({ "phone": "(415) 555 2671", "jobTitle": "Rear Admiral" })
            ),
            lead(
                "ADA",
                "lovelace",
                "ada.lovelace@gmail.com",
                json!({ "company": "ACME, inc", "phone": "+14155550142" })
            ),
            lead(
                "alan",
                "TURING",
                "a.m.turing@bletchley.example",
                json!({ "jobTitle": "Cryptanalyst" })
            ),
            lead(
                "Linus",
                "Torvalds",
                "lbt@osdl.example",
                json!({ "phone": "(503) 555-0187" })
            ),
            lead("Linus", "Torvalds", "torvalds@osdl.example", json!({})),
            lead(
                "John",
                "Smith",
                "jsmith@yahoo.com",
                json!({ "company": "Initech" })
            ),
            lead("John", "Smith", "johnsmith1980@gmail.com", json!({})),
            lead(
                "Bob",
                "Brown",
                "bob@acme-corp.example",
                json!({ "company": "ACME, inc" })
            ),
            // Same canonical email as Katherine: refused at write, never a second lead.
            lead(
                "Katherine",
                "Johnson",
                "KatherineJohnson+nasa@googlemail.com",
                json!({})
            ),
        ]),
    )
    .await;
    assert_eq!(
        later[8],
        Err("duplicate".to_owned()),
        "a gmail spelling variant is a duplicate at write time"
    );
    let later: Vec<String> = later.into_iter().take(8).map(|r| r.unwrap()).collect();
    let o = |i: usize| originals[i].clone();
    let l = |i: usize| later[i].clone();
    Planted {
        phone: [o(0), l(0)],
        name_company: [o(1), l(1)],
        name_domain: [o(2), l(2)],
        chain: [o(3), l(3), l(4)],
        apart: vec![o(4), o(5), o(6), l(5), l(6), l(7)],
        total: 15,
    }
}

impl Planted {
    /// The expected clusters: (members, survivor first; reasons), by survivor.
    pub(crate) fn clusters(&self) -> Vec<(Vec<String>, Vec<&'static str>)> {
        vec![
            (self.phone.to_vec(), vec!["SAME_PHONE"]),
            (self.name_company.to_vec(), vec!["SAME_NAME_AND_COMPANY"]),
            (
                self.name_domain.to_vec(),
                vec!["SAME_NAME_AND_EMAIL_DOMAIN"],
            ),
            (
                self.chain.to_vec(),
                vec!["SAME_PHONE", "SAME_NAME_AND_EMAIL_DOMAIN"],
            ),
        ]
    }
}

/// Starts a run; returns its id.
pub(crate) async fn start(app: &TestApp, key: &str, dry_run: bool) -> String {
    let answer = app
        .gql(
            key,
            &format!("mutation($d: Boolean!) {{ startDedupe(dryRun: $d) {{ {RUN_FIELDS} }} }}"),
            json!({ "d": dry_run }),
        )
        .await;
    answer.ok();
    let run = answer.data("startDedupe");
    assert!(
        ["QUEUED", "RUNNING", "COMPLETED"].contains(&run["status"].as_str().unwrap()),
        "{run:#}"
    );
    assert_eq!(run["dryRun"], dry_run);
    run["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn get_run(app: &TestApp, key: &str, id: &str) -> crate::helpers::Answer {
    app.gql(
        key,
        &format!("query($id: ID!) {{ dedupeRun(id: $id) {{ {RUN_FIELDS} {CLUSTERS} }} }}"),
        json!({ "id": id }),
    )
    .await
}

/// Polls the run until it is COMPLETED (failing on FAILED or the deadline);
/// checks that progress stays within 0..1 and never goes back.
pub(crate) async fn wait_done(app: &TestApp, key: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut last_progress = 0.0;
    loop {
        let answer = get_run(app, key, id).await;
        answer.ok();
        let run = answer.data("dedupeRun").clone();
        let progress = run["progress"].as_f64().unwrap();
        assert!(
            (0.0..=1.0).contains(&progress) && progress >= last_progress,
            "progress {progress} after {last_progress}: {run:#}"
        );
        last_progress = progress;
        match run["status"].as_str().unwrap() {
            "COMPLETED" => {
                assert_eq!(progress, 1.0, "{run:#}");
                return run;
            }
            "FAILED" => panic!("the run failed: {run:#}"),
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run did not complete in {DEADLINE:?}: {run:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A run's clusters as (member ids, reasons), in order.
fn clusters_of(run: &Value) -> Vec<(Vec<String>, Vec<String>)> {
    run["clusters"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let ids = |v: &Value| -> Vec<String> {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["id"].as_str().unwrap().to_owned())
                    .collect()
            };
            let members = ids(&c["members"]);
            assert_eq!(c["survivor"]["id"], members[0].as_str(), "survivor first");
            let reasons = c["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            (members, reasons)
        })
        .collect()
}

fn expected(planted: &Planted) -> Vec<(Vec<String>, Vec<String>)> {
    planted
        .clusters()
        .into_iter()
        .map(|(m, r)| (m, r.into_iter().map(str::to_owned).collect()))
        .collect()
}

pub(crate) async fn merged_into(app: &TestApp, id: &str) -> Value {
    let answer = app
        .gql(
            &app.acme.live,
            "query($id: ID!) { lead(id: $id) { mergedInto { id } } }",
            json!({ "id": id }),
        )
        .await;
    answer.ok();
    answer.data("lead.mergedInto.id").clone()
}

async fn total_leads(app: &TestApp, key: &str) -> i64 {
    let answer = app.gql(key, "{ leads { totalCount } }", json!({})).await;
    answer.ok();
    answer.data("leads.totalCount").as_i64().unwrap()
}

#[tokio::test]
async fn a_dry_run_lists_the_planted_near_duplicates_with_reasons_and_merges_nothing() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let planted = plant(&app, &key).await;

    let id = start(&app, &key, true).await;
    let run = wait_done(&app, &key, &id).await;
    assert_eq!(run["dryRun"], true);
    assert_eq!(run["leadsScanned"], planted.total);
    assert_eq!(run["clusterCount"], 4);
    assert_eq!(run["clusters"]["totalCount"], 4);
    assert_eq!(
        (
            &run["mergedClusterCount"],
            &run["skippedClusterCount"],
            &run["mergedLeadCount"],
            &run["skippedBlockCount"],
        ),
        (&json!(0), &json!(0), &json!(0), &json!(0))
    );
    assert!(run["startedAt"].is_string() && run["finishedAt"].is_string());
    assert_eq!(run["error"], Value::Null);
    assert_eq!(clusters_of(&run), expected(&planted));
    for cluster in run["clusters"]["nodes"].as_array().unwrap() {
        assert_eq!(cluster["merged"], false);
    }

    // Nothing merged: every lead is still listed, none has `mergedInto`.
    assert_eq!(total_leads(&app, &key).await, planted.total);
    assert_eq!(merged_into(&app, &planted.phone[1]).await, Value::Null);

    // The run is a node too.
    let node = app
        .gql(
            &key,
            "query($id: ID!) { node(id: $id) { id ... on DedupeRun { status clusterCount } } }",
            json!({ "id": id }),
        )
        .await;
    node.ok();
    assert_eq!(node.data("node.id"), id.as_str());
    assert_eq!(node.data("node.clusterCount"), 4);
}

#[tokio::test]
async fn a_real_run_merges_each_cluster_into_its_oldest_lead_and_nothing_else() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let planted = plant(&app, &key).await;

    let id = start(&app, &key, false).await;
    let run = wait_done(&app, &key, &id).await;
    assert_eq!(run["dryRun"], false);
    assert_eq!(run["leadsScanned"], planted.total);
    assert_eq!(run["clusterCount"], 4);
    assert_eq!(run["mergedClusterCount"], 4);
    assert_eq!(run["skippedClusterCount"], 0);
    assert_eq!(run["mergedLeadCount"], 5);
    assert_eq!(clusters_of(&run), expected(&planted));
    for cluster in run["clusters"]["nodes"].as_array().unwrap() {
        assert_eq!(cluster["merged"], true, "{cluster:#}");
    }

    // Every duplicate points at its survivor, the oldest member.
    for (members, _) in planted.clusters() {
        assert_eq!(merged_into(&app, &members[0]).await, Value::Null);
        for duplicate in &members[1..] {
            assert_eq!(merged_into(&app, duplicate).await, members[0].as_str());
        }
    }
    // The look-alikes are untouched.
    for id in &planted.apart {
        assert_eq!(merged_into(&app, id).await, Value::Null, "{id}");
    }
    assert_eq!(total_leads(&app, &key).await, planted.total - 5);

    // Survivors keep their values and take the empty ones from the others.
    let read = |id: &str| {
        let id = id.to_owned();
        let app = &app;
        async move {
            let answer = app
                .gql(
                    &app.acme.live,
                    "query($id: ID!) { lead(id: $id) { email phone company jobTitle } }",
                    json!({ "id": id }),
                )
                .await;
            answer.ok();
            answer.data("lead").clone()
        }
    };
    let grace = read(&planted.phone[0]).await;
    assert_eq!(grace["email"], "grace.hopper@example.com");
    assert_eq!(grace["jobTitle"], "Rear Admiral");
    let ada = read(&planted.name_company[0]).await;
    assert_eq!(ada["company"], "Acme Inc.");
    assert_eq!(ada["phone"], "+14155550142");
    let alan = read(&planted.name_domain[0]).await;
    assert_eq!(alan["jobTitle"], "Cryptanalyst");

    // The merges are in the audit log, attributed to the starting key.
    let audit = app
        .gql(
            &key,
            "{ auditEvents(first: 50, filter: { action: [\"lead.merged\", \"dedupe.started\"] }) {
                nodes { action resourceType resourceId } } }",
            json!({}),
        )
        .await;
    audit.ok();
    let events = audit.data("auditEvents.nodes").as_array().unwrap().clone();
    let merged = events
        .iter()
        .filter(|e| e["action"] == "lead.merged")
        .count();
    assert_eq!(merged, 5);
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "dedupe.started" && e["resourceId"] == id.as_str()),
        "{events:#?}"
    );

    // A second run finds nothing left to merge.
    let again = start(&app, &key, true).await;
    let again = wait_done(&app, &key, &again).await;
    assert_eq!(again["leadsScanned"], planted.total - 5);
    assert_eq!(again["clusterCount"], 0);
    assert_eq!(again["clusters"]["nodes"], json!([]));
}

#[tokio::test]
async fn a_market_limited_key_dedupes_its_market_only_and_sees_only_its_runs() {
    let app = spawn_app().await;
    let full = app.acme.live.clone();
    let planted = plant(&app, &full).await;
    let india = ok(create_leads(
        &app,
        &full,
        json!([
            lead(
                "Ravi",
                "Kumar",
                "ravi@example.in",
                json!({ "market": "IN", "phone": "+91 98765 43210" })
            ),
            lead(
                "R.",
                "Kumar",
                "rk@example.org",
                json!({ "market": "IN", "phone": "098765 43210" })
            ),
            lead(
                "Priya",
                "Shah",
                "priya@example.in",
                json!({ "market": "IN" })
            ),
        ]),
    )
    .await);
    let in_key = app
        .create_key(
            &full,
            json!({ "operations": ["imports:run", "leads:read", "leads:write"], "markets": ["IN"] }),
        )
        .await;

    let id = start(&app, &in_key, false).await;
    let run = wait_done(&app, &in_key, &id).await;
    assert_eq!(run["leadsScanned"], 3);
    assert_eq!(run["clusterCount"], 1);
    assert_eq!(
        clusters_of(&run),
        vec![(
            vec![india[0].clone(), india[1].clone()],
            vec!["SAME_PHONE".to_owned()]
        )]
    );
    assert_eq!(merged_into(&app, &india[1]).await, india[0].as_str());
    // The US near-duplicates were out of scope: untouched.
    assert_eq!(merged_into(&app, &planted.phone[1]).await, Value::Null);
    assert_eq!(total_leads(&app, &full).await, planted.total + 3 - 1);

    // A run of the full key is invisible to the IN key, by id and as a node.
    let full_run = start(&app, &full, true).await;
    let hidden = get_run(&app, &in_key, &full_run).await;
    assert_eq!(hidden.code(), "not_found");
    assert_eq!(hidden.data("dedupeRun"), &Value::Null);
    let node = app
        .gql(
            &in_key,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": full_run }),
        )
        .await;
    assert_eq!(node.code(), "not_found");
    // The full key sees both.
    let done = wait_done(&app, &full, &full_run).await;
    assert_eq!(done["clusterCount"], 4);
    get_run(&app, &full, &id).await.ok();
    // Another tenant's key sees neither.
    let other = crate::helpers::seed_tenant(&app.db, &app.codec, "globex", &["US"]).await;
    assert_eq!(get_run(&app, &other.live, &id).await.code(), "not_found");
}

#[tokio::test]
async fn starting_needs_imports_run_and_the_lead_scope_of_the_run() {
    let app = spawn_app().await;
    let full = app.acme.live.clone();
    let start_query = "mutation($d: Boolean!) { startDedupe(dryRun: $d) { id status } }";
    let key = |ops: Value| app.create_key(&full, json!({ "operations": ops }));

    let no_imports = key(json!(["leads:read", "leads:write"])).await;
    for dry_run in [true, false] {
        let answer = app
            .gql(&no_imports, start_query, json!({ "d": dry_run }))
            .await;
        assert_eq!(answer.code(), "forbidden");
        assert_eq!(answer.errors()[0]["extensions"]["status"], 403);
    }

    let read_only = key(json!(["imports:run", "leads:read"])).await;
    let refused = app
        .gql(&read_only, start_query, json!({ "d": false }))
        .await;
    assert_eq!(refused.code(), "forbidden");
    // The default is a dry run.
    let dry = app
        .gql(
            &read_only,
            "mutation { startDedupe { id dryRun } }",
            json!({}),
        )
        .await;
    dry.ok();
    assert_eq!(dry.data("startDedupe.dryRun"), true);
    let id = dry.data("startDedupe.id").as_str().unwrap().to_owned();
    wait_done(&app, &read_only, &id).await;

    // Reading a run needs `imports:run` too; a malformed id is `bad_request`.
    let answer = get_run(&app, &no_imports, &id).await;
    assert_eq!(answer.code(), "forbidden");
    let answer = get_run(&app, &full, "not-an-id").await;
    assert_eq!(answer.code(), "bad_request");
    // A lead id is no run id.
    let lead = app.create_lead(&full, json!({})).await;
    assert_eq!(get_run(&app, &full, &lead).await.code(), "not_found");
}

#[tokio::test]
async fn progress_is_reported_while_polling_and_counters_match_the_clusters() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    // 60 pairs, each sharing a phone written two ways.
    let originals: Vec<Value> = (0..60)
        .map(|i| {
            lead(
                "Pat",
                &format!("Original{i}"),
                &format!("pat{i}@one.example"),
                json!({ "phone": format!("+1 212-736-{:04}", 1000 + i) }),
            )
        })
        .collect();
    let copies: Vec<Value> = (0..60)
        .map(|i| {
            lead(
                "Sam",
                &format!("Copy{i}"),
                &format!("sam{i}@two.example"),
                json!({ "phone": format!("(212) 736 {:04}", 1000 + i) }),
            )
        })
        .collect();
    ok(create_leads(&app, &key, json!(originals)).await);
    ok(create_leads(&app, &key, json!(copies)).await);

    let id = start(&app, &key, false).await;
    let run = wait_done(&app, &key, &id).await;
    assert_eq!(run["leadsScanned"], 120);
    assert_eq!(run["clusterCount"], 60);
    assert_eq!(run["mergedClusterCount"], 60);
    assert_eq!(run["mergedLeadCount"], 60);
    assert_eq!(run["clusters"]["totalCount"], 60);
    assert_eq!(total_leads(&app, &key).await, 60);

    // Pages of clusters follow the Relay rules.
    let page = app
        .gql(
            &key,
            "query($id: ID!, $after: String) { dedupeRun(id: $id) {
                clusters(first: 25, after: $after) { pageInfo { hasNextPage endCursor } nodes { survivor { id } } } } }",
            json!({ "id": id }),
        )
        .await;
    page.ok();
    assert_eq!(
        page.data("dedupeRun.clusters.nodes")
            .as_array()
            .unwrap()
            .len(),
        25
    );
    assert_eq!(page.data("dedupeRun.clusters.pageInfo.hasNextPage"), true);
    let too_many = app
        .gql(
            &key,
            "query($id: ID!) { dedupeRun(id: $id) { clusters(first: 500) { totalCount } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(too_many.code(), "bad_request");
}

#[tokio::test]
async fn a_finished_run_is_delivered_as_dedupe_completed() {
    let app = spawn_app_with(|args| {
        args.webhooks.allow_private = true;
        args.webhooks.poll_ms = 20;
    })
    .await;
    let key = app.acme.live.clone();
    let receiver = Receiver::start(0).await;
    app.gql(
        &key,
        "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
        json!({ "i": { "url": receiver.url, "eventTypes": ["dedupe.completed"] } }),
    )
    .await
    .ok();
    let planted = plant(&app, &key).await;

    let id = start(&app, &key, false).await;
    wait_done(&app, &key, &id).await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "only dedupe.completed is subscribed");
    assert_eq!(got[0].event_type, "dedupe.completed");
    let body = got[0].json();
    assert_eq!(body["type"], "dedupe.completed");
    assert_eq!(
        body["data"]["dedupeRun"],
        json!({
            "id": id,
            "status": "COMPLETED",
            "dryRun": false,
            "leadsScanned": planted.total,
            "clusterCount": 4,
            "mergedClusterCount": 4,
            "skippedClusterCount": 0,
            "mergedLeadCount": 5,
        })
    );
}
