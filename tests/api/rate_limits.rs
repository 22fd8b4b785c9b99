//! Rate limits and quotas, seen from outside: headers on every authenticated
//! response, 429 with `Retry-After` and recovery, a shared Redis budget across
//! instances, and the monthly quota.

use std::time::{Duration, Instant};

use leadgraph::{config::ServeArgs, ids::IdCodec, startup::App};
use serde_json::{Value, json};

use crate::helpers::{
    TestDatabase, lead_input, seed_tenant_on_plan, spawn_app, spawn_app_with, test_database,
};

const HEADERS: [&str; 5] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-api-usage-current",
    "x-api-usage-limit",
];

/// A server (or several on one database) with custom rate-limit settings and a
/// tenant on `plan`.
struct Cluster {
    bases: Vec<String>,
    tenant_id: i64,
    live: String,
    sandbox: String,
    client: reqwest::Client,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Last: dropped (with the PostgreSQL database) after the instances stop.
    _db: TestDatabase,
}

async fn cluster(instances: usize, plan: &str, args: ServeArgs) -> Cluster {
    let test_db = test_database().await;
    let url = test_db.url.clone();
    let mut bases = Vec::new();
    let mut stops = Vec::new();
    let mut db = None;
    for _ in 0..instances {
        let app = App::build(&url, &args).await.expect("build app");
        bases.push(format!("http://127.0.0.1:{}", app.port()));
        db.get_or_insert_with(|| app.db().clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        stops.push(stop);
    }
    let db = db.expect("db");
    let seed = seed_tenant_on_plan(
        &db,
        &IdCodec::new(None).expect("codec"),
        "limited",
        &["US"],
        plan,
    )
    .await;
    Cluster {
        bases,
        tenant_id: seed.tenant_id,
        live: seed.live,
        sandbox: seed.sandbox,
        client: reqwest::Client::new(),
        _stops: stops,
        _db: test_db,
    }
}

impl Cluster {
    async fn post(
        &self,
        instance: usize,
        key: &str,
        query: &str,
        variables: Value,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}/graphql", self.bases[instance]))
            .header("x-api-key", key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request")
    }

    /// One bulk request (a batch of one lead).
    async fn bulk(&self, instance: usize, key: &str) -> reqwest::Response {
        let q = "mutation($i: [CreateLeadInput!]!) { createLeads(inputs: $i) { created } }";
        self.post(instance, key, q, json!({ "i": [lead_input(json!({}))] }))
            .await
    }
}

fn header(resp: &reqwest::Response, name: &str) -> u64 {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("missing numeric header {name}: {:?}", resp.headers()))
}

fn args(period_secs: u64) -> ServeArgs {
    ServeArgs {
        bind: "127.0.0.1:0".into(),
        rate_limit_period_secs: period_secs,
        ..ServeArgs::default()
    }
}

#[tokio::test]
async fn every_authenticated_response_kind_carries_the_five_headers() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let query = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("x-api-key", &key)
        .json(&json!({ "query": "{ viewer { environment } }" }))
        .send()
        .await
        .unwrap();
    let refused = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("x-api-key", &key)
        .json(&json!({ "query": "{ lead(id: \"garbage\") { id } }" }))
        .send()
        .await
        .unwrap();
    let v1 = app
        .client
        .post(format!("{}/v1/leads/batch", app.base))
        .header("x-api-key", &key)
        .json(&json!({ "leads": [lead_input(json!({}))] }))
        .send()
        .await
        .unwrap();
    let v1_bad = app
        .client
        .post(format!("{}/v1/leads/batch", app.base))
        .header("x-api-key", &key)
        .json(&json!({ "nope": 1 }))
        .send()
        .await
        .unwrap();
    for (what, resp) in [
        ("query", &query),
        ("error", &refused),
        ("v1 207", &v1),
        ("v1 400", &v1_bad),
    ] {
        for name in HEADERS {
            assert!(
                resp.headers().contains_key(name),
                "{what} lacks {name}: {:?}",
                resp.headers()
            );
        }
    }
    // Enterprise plan: 25 × 600 read points per minute.
    assert_eq!(header(&query, "x-ratelimit-limit"), 15_000);
    let body: Value = query.json().await.unwrap();
    assert_eq!(body["extensions"]["cost"]["class"], "read");
    assert_eq!(body["extensions"]["cost"]["requested"], 1);
}

#[tokio::test]
async fn the_rate_limit_query_reports_class_cost_and_budget() {
    let app = spawn_app().await;
    let answer = app
        .gql(
            &app.acme.live,
            "{ leads(first: 200) { nodes { id team { id } } } rateLimit { class plan cost limit remaining resetAt usageCurrent usageLimit } }",
            json!({}),
        )
        .await;
    answer.ok();
    let rl = answer.data("rateLimit");
    assert_eq!(rl["class"], "read");
    assert_eq!(rl["plan"], "enterprise");
    // 200 leads + 200 teams + the rateLimit object = 401 nodes = 5 points.
    assert_eq!(rl["cost"], 5);
    assert_eq!(rl["limit"], 15_000);
    assert_eq!(rl["remaining"], 15_000 - 5);
    assert_eq!(rl["usageLimit"], 50_000_000);
    assert!(rl["usageCurrent"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn the_rate_limit_scale_multiplies_every_budget() {
    let app = spawn_app_with(|a| a.rate_limit_scale = 3).await;
    let answer = app
        .gql(
            &app.acme.live,
            "{ rateLimit { plan cost limit remaining usageLimit } }",
            json!({}),
        )
        .await;
    let rl = answer.ok().data("rateLimit");
    assert_eq!(rl["plan"], "enterprise");
    assert_eq!(rl["limit"], 3 * 15_000);
    assert_eq!(rl["usageLimit"], 3 * 50_000_000_u64);
    assert_eq!(
        rl["remaining"].as_u64().unwrap(),
        3 * 15_000 - rl["cost"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn a_free_plan_key_reaches_429_with_retry_after_and_recovers() {
    // Free plan: 10 bulk requests per period. A 20 s period refills one point
    // every 2 s: ample time for the burst of 11, and a short wait to recover.
    let c = cluster(1, "free", args(20)).await;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..11 {
        let resp = c.bulk(0, &c.live).await;
        statuses.push(resp.status().as_u16());
        last = Some(resp);
    }
    assert_eq!(&statuses[..10], &[200; 10]);
    assert_eq!(statuses[10], 429);
    let refused = last.unwrap();
    assert!(header(&refused, "retry-after") >= 1);
    assert_eq!(header(&refused, "x-ratelimit-remaining"), 0);
    assert_eq!(header(&refused, "x-ratelimit-limit"), 10);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "rate_limited");
    assert_eq!(body["errors"][0]["extensions"]["status"], 429);
    // Reads have their own budget.
    let read = c
        .post(0, &c.live, "{ viewer { environment } }", json!({}))
        .await;
    assert_eq!(read.status(), 200);
    // Recovers once the bucket refills (poll with a deadline, no fixed sleep).
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let resp = c.bulk(0, &c.live).await;
        if resp.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still limited after 8 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `TEST_REDIS_URL`, when set: the Redis tests need one (CI sets it). Without it
/// they say so and return, so the suite runs on a machine with no Redis.
fn test_redis() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("TEST_REDIS_URL is not set: skipping a Redis-backed rate-limit test");
            None
        }
    }
}

fn redis_args(url: &str, period_secs: u64) -> (ServeArgs, String) {
    let prefix = format!("lgtest:{}", uuid::Uuid::new_v4().simple());
    let args = ServeArgs {
        redis_url: Some(url.to_owned()),
        redis_prefix: prefix.clone(),
        ..args(period_secs)
    };
    (args, prefix)
}

#[tokio::test]
async fn two_instances_on_one_redis_share_one_budget() {
    let Some(url) = test_redis() else { return };
    let (args, _) = redis_args(&url, 60);
    let c = cluster(2, "free", args).await;
    // Ten bulk requests spread over both instances spend the one shared budget...
    for i in 0..10 {
        let resp = c.bulk(i % 2, &c.live).await;
        assert_eq!(resp.status(), 200, "request {i}");
        assert_eq!(header(&resp, "x-ratelimit-remaining"), 9 - i as u64);
    }
    // ...so the eleventh is refused by either of them.
    for instance in 0..2 {
        let resp = c.bulk(instance, &c.live).await;
        assert_eq!(resp.status(), 429, "instance {instance}");
        assert!(header(&resp, "retry-after") >= 1);
    }
}

#[tokio::test]
async fn the_monthly_quota_counts_live_requests_only_and_runs_out() {
    let Some(url) = test_redis() else { return };
    let (args, prefix) = redis_args(&url, 60);
    let c = cluster(1, "free", args).await;
    let first = c
        .post(0, &c.live, "{ viewer { environment } }", json!({}))
        .await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-api-usage-current"), 1);
    assert_eq!(header(&first, "x-api-usage-limit"), 10_000);
    let sandbox = c
        .post(0, &c.sandbox, "{ viewer { environment } }", json!({}))
        .await;
    assert_eq!(sandbox.status(), 200);
    assert_eq!(
        header(&sandbox, "x-api-usage-current"),
        1,
        "sandbox requests do not count"
    );

    // Bring the month's counter to one below the quota, as 9,998 more live
    // requests would have.
    let now = chrono::Utc::now();
    let key = format!("{prefix}:usage:{}:{}", c.tenant_id, now.format("%Y-%m"));
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(9_999)
        .query_async(&mut conn)
        .await
        .unwrap();

    let last = c
        .post(0, &c.live, "{ viewer { environment } }", json!({}))
        .await;
    assert_eq!(last.status(), 200);
    assert_eq!(header(&last, "x-api-usage-current"), 10_000);
    let over = c
        .post(0, &c.live, "{ viewer { environment } }", json!({}))
        .await;
    assert_eq!(over.status(), 429);
    assert!(header(&over, "retry-after") >= 1);
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "quota_exceeded");
    // Sandbox keys keep working.
    let sandbox = c
        .post(0, &c.sandbox, "{ viewer { environment } }", json!({}))
        .await;
    assert_eq!(sandbox.status(), 200);
}
