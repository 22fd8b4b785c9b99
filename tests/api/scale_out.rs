//! Scale-out (issue 5): two server instances on one database and one Redis,
//! each with its own port, job runner and webhook dispatcher, and nothing in
//! front of them. Requests and jobs are spread over both; the test checks that
//! the rate-limit budget is one budget, that every import and dedupe job is
//! claimed once and runs to completion once, and that every webhook attempt is
//! sent once and logged once.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use entity::{
    Environment, JobKind, JobStatus, LeadSource, WebhookDeliveryStatus, job, lead,
    webhook_delivery, webhook_delivery_attempt, webhook_event,
};
use leadgraph::{
    config::ServeArgs, domain::webhooks::payload::event_public_id, startup::App,
    store::import_results,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{
    dedupe,
    helpers::{Answer, lead_input, seed_tenant_on_plan, spawn_app_with},
    webhooks::receiver::Receiver,
};

/// `lead.created` events from single creations, spread over both instances.
const LEADS: usize = 20;
/// CSV imports, started alternately on both instances.
const IMPORTS: usize = 6;
/// Rows per import (several chunks each: see `import_chunk_rows`).
const ROWS: usize = 400;
/// Requests the receiver refuses (500) before accepting: their deliveries are
/// retried, by either instance.
const REFUSED: usize = 3;
/// The free plan's bulk budget per period.
const FREE_BULK: u64 = 10;
/// How long the jobs, or the deliveries, may take.
const DEADLINE: Duration = Duration::from_secs(25);

const CREATE_LEAD: &str =
    "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id } } }";
const CREATE_LEADS: &str =
    "mutation($i: [CreateLeadInput!]!) { createLeads(inputs: $i) { created } }";
const CREATE_ENDPOINT: &str = "mutation($i: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(input: $i) { endpoint { id } } }";

/// `TEST_REDIS_URL`, or `None` after saying the test is skipped.
fn test_redis() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "TEST_REDIS_URL is not set: skipping the scale-out test (it needs a Redis \
                 for the shared rate-limit budget)"
            );
            None
        }
    }
}

/// The settings of both instances: one Redis and one key prefix (unique to
/// this run), runner and dispatcher on with short polls, fast webhook retries.
/// A ten-minute rate-limit period refills a free bulk point once a minute, so
/// the countdown below cannot be disturbed by a refill.
fn configure(args: &mut ServeArgs, redis_url: &str, prefix: &str) {
    args.redis_url = Some(redis_url.to_owned());
    args.redis_prefix = prefix.to_owned();
    args.rate_limit_period_secs = 600;
    args.jobs.runner = true;
    args.jobs.poll_ms = 20;
    args.jobs.import_chunk_rows = 100;
    args.webhooks.dispatcher = true;
    args.webhooks.allow_private = true;
    args.webhooks.poll_ms = 20;
    args.webhooks.backoff_base_ms = 50;
    args.webhooks.backoff_max_ms = 200;
}

/// POSTs a GraphQL request to one instance.
async fn post(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    query: &str,
    variables: Value,
) -> reqwest::Response {
    client
        .post(format!("{base}/graphql"))
        .header("x-api-key", key)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request")
}

async fn gql(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    query: &str,
    variables: Value,
) -> Answer {
    let resp = post(client, base, key, query, variables).await;
    let status = resp.status().as_u16();
    let body = resp.json().await.expect("JSON body");
    Answer { status, body }
}

async fn get_json(client: &reqwest::Client, base: &str, key: &str, path: &str) -> Value {
    let resp = client
        .get(format!("{base}{path}"))
        .header("x-api-key", key)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.expect("JSON body")
}

fn header(resp: &reqwest::Response, name: &str) -> u64 {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("missing numeric header {name}: {:?}", resp.headers()))
}

/// Import `n`'s file: `ROWS` valid rows with emails no other import uses.
fn csv(n: usize) -> String {
    let mut file = String::from("email,first name,last name\n");
    for i in 0..ROWS {
        file.push_str(&format!("scale{n}x{i}@example.com,Imp{n},Row{i}\n"));
    }
    file
}

#[tokio::test]
async fn two_instances_share_budgets_run_jobs_once_and_deliver_webhooks_once() {
    let Some(redis_url) = test_redis() else {
        return;
    };
    let prefix = format!("lgtest:{}", uuid::Uuid::new_v4().simple());

    // Instance A (the harness's, with a fresh database) and instance B on the
    // same database, Redis and prefix, each on its own port.
    let mut app = spawn_app_with(|a| configure(a, &redis_url, &prefix)).await;
    let mut args = ServeArgs {
        bind: "127.0.0.1:0".into(),
        ..ServeArgs::default()
    };
    configure(&mut args, &redis_url, &prefix);
    let other = App::build(&app.database_url, &args)
        .await
        .expect("second instance");
    let other_base = format!("http://127.0.0.1:{}", other.port());
    let (stop_other, stopped) = tokio::sync::oneshot::channel::<()>();
    let other_task = tokio::spawn(other.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let bases = [app.base.clone(), other_base];
    let client = app.client.clone();
    let live = app.acme.live.clone();
    let sandbox = app.acme.sandbox.clone();
    let limited = seed_tenant_on_plan(&app.db, &app.codec, "limited", &["US"], "free").await;

    // One receiver behind an endpoint per environment, each subscribed to
    // every event type: every outbox event has exactly one delivery.
    let receiver = Receiver::start(REFUSED).await;
    for (i, key) in [&live, &sandbox].into_iter().enumerate() {
        gql(
            &client,
            &bases[i],
            key,
            CREATE_ENDPOINT,
            json!({ "i": { "url": receiver.url, "eventTypes": [] } }),
        )
        .await
        .ok();
    }

    // The dedupe set is planted in the sandbox, so that the imports (live)
    // running at the same time do not change what the run scans.
    let planted = dedupe::plant(&app, &sandbox).await;

    // Jobs: imports started alternately on both instances, a real dedupe run
    // started on B; both runners poll the one jobs table.
    let imports = (0..IMPORTS).map(|n| {
        let (client, base, key) = (&client, &bases[n % 2], &live);
        async move {
            let resp = client
                .post(format!(
                    "{base}/v1/imports?market=US&fileName=scale-{n}.csv"
                ))
                .header("x-api-key", key)
                .header("content-type", "text/csv")
                .body(csv(n))
                .send()
                .await
                .expect("request");
            assert_eq!(resp.status(), 202, "import {n}");
            let body: Value = resp.json().await.expect("JSON envelope");
            body["data"]["id"].as_str().expect("job id").to_owned()
        }
    });
    let import_ids = futures::future::join_all(imports).await;
    let started = gql(
        &client,
        &bases[1],
        &sandbox,
        "mutation { startDedupe(dryRun: false) { id dryRun } }",
        json!({}),
    )
    .await;
    started.ok();
    let run_id = started
        .data("startDedupe.id")
        .as_str()
        .expect("run id")
        .to_owned();

    // Requests while the jobs run: lead creations alternately on both.
    let creates = (0..LEADS).map(|i| {
        gql(
            &client,
            &bases[i % 2],
            &live,
            CREATE_LEAD,
            json!({ "i": lead_input(json!({})) }),
        )
    });
    for answer in futures::future::join_all(creates).await {
        answer.ok();
    }

    // One budget across both instances: a free key's ten bulk requests,
    // alternately on A and B, count down one `X-RateLimit-Remaining`...
    for i in 0..FREE_BULK {
        let resp = post(
            &client,
            &bases[(i % 2) as usize],
            &limited.live,
            CREATE_LEADS,
            json!({ "i": [lead_input(json!({}))] }),
        )
        .await;
        assert_eq!(resp.status(), 200, "bulk request {i}");
        assert_eq!(header(&resp, "x-ratelimit-limit"), FREE_BULK);
        assert_eq!(
            header(&resp, "x-ratelimit-remaining"),
            FREE_BULK - 1 - i,
            "bulk request {i} on instance {}",
            i % 2
        );
    }
    // ...and the eleventh is refused by either instance.
    for (instance, base) in bases.iter().enumerate() {
        let resp = post(
            &client,
            base,
            &limited.live,
            CREATE_LEADS,
            json!({ "i": [lead_input(json!({}))] }),
        )
        .await;
        assert_eq!(resp.status(), 429, "instance {instance}");
        assert_eq!(header(&resp, "x-ratelimit-remaining"), 0);
        assert!(header(&resp, "retry-after") >= 1);
        let body: Value = resp.json().await.expect("JSON body");
        assert_eq!(body["errors"][0]["extensions"]["code"], "rate_limited");
    }
    // The read budget is a different one.
    let read = post(
        &client,
        &bases[1],
        &limited.live,
        "{ viewer { environment } }",
        json!({}),
    )
    .await;
    assert_eq!(read.status(), 200);

    // Wait for every job to end, then read each through the instance it was
    // not started on.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let jobs = job::Entity::find().all(&app.db).await.expect("jobs");
        let open: Vec<(i64, JobStatus)> = jobs
            .iter()
            .filter(|j| !matches!(j.status, JobStatus::Completed | JobStatus::Failed))
            .map(|j| (j.id, j.status))
            .collect();
        if jobs.len() == IMPORTS + 1 && open.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jobs still open after {DEADLINE:?}: {open:?} of {}",
            jobs.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (n, id) in import_ids.iter().enumerate() {
        let body = get_json(
            &client,
            &bases[(n + 1) % 2],
            &live,
            &format!("/v1/imports/{id}"),
        )
        .await;
        let data = &body["data"];
        assert_eq!(
            (
                data["status"].as_str(),
                data["created"].as_u64(),
                data["failed"].as_u64(),
                data["processedRows"].as_u64(),
            ),
            (
                Some("COMPLETED"),
                Some(ROWS as u64),
                Some(0),
                Some(ROWS as u64)
            ),
            "import {n}: {data}"
        );
    }
    let run = dedupe::wait_done(&app, &sandbox, &run_id).await;
    assert_eq!(
        (
            &run["dryRun"],
            &run["leadsScanned"],
            &run["clusterCount"],
            &run["mergedClusterCount"],
            &run["skippedClusterCount"],
            &run["mergedLeadCount"],
        ),
        (
            &json!(false),
            &json!(planted.total),
            &json!(4),
            &json!(4),
            &json!(0),
            &json!(5)
        ),
        "{run:#}"
    );

    // Wait until every outbox event has its delivery and all succeeded.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let events = webhook_event::Entity::find()
            .count(&app.db)
            .await
            .expect("events");
        let deliveries = webhook_delivery::Entity::find()
            .all(&app.db)
            .await
            .expect("deliveries");
        let open = deliveries
            .iter()
            .filter(|d| d.status != WebhookDeliveryStatus::Succeeded)
            .count();
        if deliveries.len() as u64 == events && open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {DEADLINE:?}: {events} events, {} deliveries, {open} not succeeded",
            deliveries.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Stop both instances gracefully: each finishes its dispatcher round and
    // job in flight, so nothing can be sent or written after this point. A
    // comes back API-only (no runner, no dispatcher) for the checks below.
    let _ = stop_other.send(());
    other_task
        .await
        .expect("instance B task")
        .expect("instance B stopped cleanly");
    app.restart_with(|a| {
        a.jobs.runner = false;
        a.webhooks.dispatcher = false;
    })
    .await;
    let db = app.db.clone();

    // Jobs: each claimed once, completed, its lease released, the runner that
    // ran it recorded.
    let jobs = job::Entity::find()
        .order_by_asc(job::Column::Id)
        .all(&db)
        .await
        .expect("jobs");
    assert_eq!(jobs.len(), IMPORTS + 1);
    for j in &jobs {
        assert_eq!(
            (
                j.status,
                j.attempts,
                j.lease_owner.as_deref(),
                j.error.as_deref(),
                j.ran_by.is_some()
            ),
            (JobStatus::Completed, 1, None, None, true),
            "job {} ({:?})",
            j.id,
            j.kind
        );
    }
    let import_jobs: Vec<&job::Model> = jobs.iter().filter(|j| j.kind == JobKind::Import).collect();
    assert_eq!(import_jobs.len(), IMPORTS);
    for j in &import_jobs {
        let rows = import_results::count(&db, j.id, None).await.expect("count");
        assert_eq!(
            (
                j.total_rows,
                j.processed_rows,
                j.created_count,
                j.failed_count,
                rows
            ),
            (Some(ROWS as i64), ROWS as i64, ROWS as i64, 0, ROWS as u64),
            "import job {}",
            j.id
        );
    }
    assert_eq!(jobs.iter().filter(|j| j.kind == JobKind::Dedupe).count(), 1);

    // Leads: every created and imported one once; nothing from refused requests.
    let count = |tenant: i64, env: Environment, source: Option<LeadSource>| {
        let mut q = lead::Entity::find()
            .filter(lead::Column::TenantId.eq(tenant))
            .filter(lead::Column::Environment.eq(env));
        if let Some(source) = source {
            q = q.filter(lead::Column::Source.eq(source));
        }
        q.count(&db)
    };
    let acme = app.acme.tenant_id;
    assert_eq!(
        count(acme, Environment::Live, None).await.expect("count"),
        (LEADS + IMPORTS * ROWS) as u64
    );
    assert_eq!(
        count(acme, Environment::Live, Some(LeadSource::Import))
            .await
            .expect("count"),
        (IMPORTS * ROWS) as u64
    );
    assert_eq!(
        count(limited.tenant_id, Environment::Live, None)
            .await
            .expect("count"),
        FREE_BULK,
        "the refused bulk requests created nothing"
    );

    // Dedupe: each planted cluster merged into its oldest lead, once.
    for (members, _) in planted.clusters() {
        assert_eq!(merged_into(&app, &sandbox, &members[0]).await, Value::Null);
        for duplicate in &members[1..] {
            assert_eq!(
                merged_into(&app, &sandbox, duplicate).await,
                members[0].as_str()
            );
        }
    }
    for id in &planted.apart {
        assert_eq!(merged_into(&app, &sandbox, id).await, Value::Null, "{id}");
    }

    // Webhooks: one delivery per event; each delivery's attempts logged once
    // each (numbers 1..=n, only the last succeeded); the receiver got each
    // event exactly as many times as attempts were logged, and accepted it once.
    let events = webhook_event::Entity::find()
        .order_by_asc(webhook_event::Column::Id)
        .all(&db)
        .await
        .expect("events");
    let deliveries = webhook_delivery::Entity::find()
        .all(&db)
        .await
        .expect("deliveries");
    let attempts = webhook_delivery_attempt::Entity::find()
        .order_by_asc(webhook_delivery_attempt::Column::Id)
        .all(&db)
        .await
        .expect("attempts");
    let mut by_event: HashMap<i64, Vec<&webhook_delivery::Model>> = HashMap::new();
    for d in &deliveries {
        by_event.entry(d.event_id).or_default().push(d);
    }
    let mut numbers: HashMap<i64, Vec<(i32, bool)>> = HashMap::new();
    for a in &attempts {
        numbers
            .entry(a.delivery_id)
            .or_default()
            .push((a.number, a.succeeded));
    }
    let mut received: HashMap<String, Vec<String>> = HashMap::new();
    for r in receiver.received() {
        received
            .entry(r.event_id.clone())
            .or_default()
            .push(r.event_type);
    }
    let mut types: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut retries = 0;
    for event in &events {
        let public = event_public_id(&app.codec, event.id);
        let env = match event.environment {
            Environment::Live => "live",
            Environment::Sandbox => "sandbox",
        };
        *types.entry((event.event_type.clone(), env)).or_default() += 1;
        let ds = by_event
            .get(&event.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert_eq!(
            ds.len(),
            1,
            "event {public} ({}): deliveries",
            event.event_type
        );
        let d = ds[0];
        assert_eq!(d.status, WebhookDeliveryStatus::Succeeded, "{d:?}");
        let logged = numbers.get(&d.id).cloned().unwrap_or_default();
        let n = usize::try_from(d.attempts).expect("attempts");
        let expected: Vec<(i32, bool)> = (1..=d.attempts).map(|i| (i, i == d.attempts)).collect();
        assert_eq!(logged, expected, "attempt log of delivery {}", d.id);
        let got = received.remove(&public).unwrap_or_default();
        assert_eq!(
            got.len(),
            n,
            "event {public} ({}) was sent {} times for {n} logged attempts",
            event.event_type,
            got.len()
        );
        assert!(got.iter().all(|t| *t == event.event_type), "{got:?}");
        retries += n - 1;
    }
    assert!(
        received.is_empty(),
        "the receiver got events the outbox does not hold: {received:?}"
    );
    assert_eq!(
        retries, REFUSED,
        "each refused request, and nothing else, led to one more attempt"
    );
    assert_eq!(attempts.len(), events.len() + REFUSED);
    let t = |name: &str, env: &'static str| types.get(&(name.to_owned(), env)).copied();
    assert_eq!(t("lead.created", "live"), Some(LEADS), "{types:?}");
    assert_eq!(t("import.completed", "live"), Some(IMPORTS), "{types:?}");
    assert_eq!(
        t("lead.created", "sandbox"),
        Some(usize::try_from(planted.total).expect("total")),
        "{types:?}"
    );
    assert_eq!(t("lead.merged", "sandbox"), Some(5), "{types:?}");
    assert_eq!(t("dedupe.completed", "sandbox"), Some(1), "{types:?}");
}

/// `mergedInto.id` of a lead, read with `key`.
async fn merged_into(app: &crate::helpers::TestApp, key: &str, id: &str) -> Value {
    let answer = app
        .gql(
            key,
            "query($id: ID!) { lead(id: $id) { mergedInto { id } } }",
            json!({ "id": id }),
        )
        .await;
    answer.ok();
    answer.data("lead.mergedInto.id").clone()
}
