//! PostGraphile 4.14, the reference server of the side-by-side read
//! benchmark (issue 5): one Node process serving the same PostgreSQL
//! database, and the GraphQL bodies of the read probes that mirror ours.
//!
//! The package lives in `bench/postgraphile/` (`package.json` pins
//! `postgraphile` 4.14.1, `package-lock.json` is committed); [`PostGraphile::start`]
//! runs `npm ci` there when `node_modules` is missing, then starts, from
//! that directory:
//!
//! ```text
//! NODE_ENV=production node node_modules/postgraphile/cli.js \
//!     --connection $DATABASE_URL --schema public \
//!     --host 127.0.0.1 --port $PORT \
//!     --max-pool-size 16 \
//!     --disable-query-log --disable-graphiql \
//!     --dynamic-json --no-setof-functions-contain-nulls --no-ignore-rbac \
//!     --extended-errors errcode
//! ```
//!
//! These are the flags of PostGraphile's "For Production" CLI recipe that
//! apply here (`--disable-query-log` above all: its query log costs
//! throughput), without plugins (no `pg-simplify-inflector`, so the fields
//! keep their default names: `allLeads`, `leadById`), subscriptions, query
//! batching, watch mode or `--cluster-workers`. `--max-pool-size 16` gives
//! it the pool size Leadgraph uses by default (PostGraphile's default is 10).
//!
//! # Probes
//!
//! Every list probe reads the same rows as Leadgraph's `leads` query does
//! for a live key: one tenant, environment `live`, not deleted, not merged.
//! PostGraphile has no tenancy of its own, so these are equality conditions
//! (`condition: {tenantId, environment: "live", deletedAt: null,
//! mergedIntoId: null}`; in v4 a `null` condition value compiles to
//! `IS NULL`, see `PgConnectionArgCondition.js` in `graphile-build-pg`).
//! Every probe selects [`LEAD_FIELDS`] and, for the lists, `pageInfo {
//! hasNextPage endCursor }`: the shape a client paging through leads asks
//! for, and the same selection Leadgraph's probes should use.
//!
//! - `first_page`: `allLeads(first: 50, orderBy: [CREATED_AT_DESC, ID_DESC],
//!   condition: …)`, the newest 50.
//! - `deep_page`: the same `after:` the cursor of the row [`DEEP_ROWS`] deep
//!   (read once by [`PostGraphile::probes`] with `offset: 49999, first: 1`).
//! - `filtered_count`: the first page with `status` and `market` equal to the
//!   given values, plus `totalCount`.
//! - `by_id`: `leadById(id: …)` (a primary-key lookup), cycling through the
//!   given ids. Leadgraph's `lead(id:)` also checks the tenant; PostGraphile
//!   has no tenant to check.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// The selection of every probe: the lead's scalar columns, named alike in
/// PostGraphile's schema and Leadgraph's.
pub const LEAD_FIELDS: &str =
    "id email firstName lastName company status market score createdAt updatedAt";

/// Rows per page in the list probes.
pub const PAGE_SIZE: usize = 50;

/// How deep `deep_page` starts: after the cursor of the row this deep
/// (1-based), newest first.
pub const DEEP_ROWS: usize = 50_000;

/// PostgreSQL pool size given to PostGraphile (Leadgraph's default).
pub const POOL_SIZE: u32 = 16;

/// How long PostGraphile may take to introspect the database and answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Lines of PostGraphile output kept for error messages.
const OUTPUT_LINES: usize = 60;

const FIRST_PAGE: &str = "query FirstPage($condition: LeadCondition!) { \
    allLeads(first: 50, orderBy: [CREATED_AT_DESC, ID_DESC], condition: $condition) { \
    nodes { id email firstName lastName company status market score createdAt updatedAt } \
    pageInfo { hasNextPage endCursor } } }";

const DEEP_PAGE: &str = "query DeepPage($condition: LeadCondition!, $after: Cursor!) { \
    allLeads(first: 50, after: $after, orderBy: [CREATED_AT_DESC, ID_DESC], condition: $condition) { \
    nodes { id email firstName lastName company status market score createdAt updatedAt } \
    pageInfo { hasNextPage endCursor } } }";

const FILTERED_COUNT: &str = "query FilteredCount($condition: LeadCondition!) { \
    allLeads(first: 50, orderBy: [CREATED_AT_DESC, ID_DESC], condition: $condition) { \
    totalCount \
    nodes { id email firstName lastName company status market score createdAt updatedAt } \
    pageInfo { hasNextPage endCursor } } }";

const BY_ID: &str = "query ById($id: BigInt!) { leadById(id: $id) { \
    id email firstName lastName company status market score createdAt updatedAt } }";

/// The cursor of the row `offset + 1` deep (read once, not a probe).
const CURSOR_AT: &str = "query CursorAt($condition: LeadCondition!, $offset: Int!) { \
    allLeads(first: 1, offset: $offset, orderBy: [CREATED_AT_DESC, ID_DESC], condition: $condition) { \
    edges { cursor } } }";

/// One read probe: request bodies (`{"query":…,"variables":…}`) to send in
/// turn, cycling.
#[derive(Debug, Clone)]
pub struct Probe {
    /// `first_page`, `deep_page`, `filtered_count` or `by_id`.
    pub name: &'static str,
    /// JSON request bodies.
    pub bodies: Vec<String>,
}

/// A running PostGraphile server; dropping it kills the process (and waits
/// for it).
pub struct PostGraphile {
    child: Child,
    pid: u32,
    url: String,
    client: reqwest::blocking::Client,
    output: Arc<Mutex<VecDeque<String>>>,
}

impl PostGraphile {
    /// Installs `bench/postgraphile` (`npm ci`) if its `node_modules` is
    /// missing, starts PostGraphile 4.14 on `database_url` (schema `public`)
    /// listening on `127.0.0.1:port` and waits until it answers a GraphQL
    /// query (at most 60 s; the error includes its output).
    pub fn start(database_url: &str, port: u16) -> anyhow::Result<Self> {
        let dir = package_dir();
        let cli = dir.join("node_modules/postgraphile/cli.js");
        if !cli.exists() {
            npm_ci(&dir)?;
            if !cli.exists() {
                bail!(
                    "`npm ci` in {} installed no {}",
                    dir.display(),
                    cli.display()
                );
            }
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            bail!("127.0.0.1:{port} is already in use; PostGraphile could not listen there");
        }
        let mut child = Command::new("node")
            .arg(&cli)
            .arg("--connection")
            .arg(database_url)
            .args(["--schema", "public", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg("--max-pool-size")
            .arg(POOL_SIZE.to_string())
            .args([
                "--disable-query-log",
                "--disable-graphiql",
                "--dynamic-json",
                "--no-setof-functions-contain-nulls",
                "--no-ignore-rbac",
                "--extended-errors",
                "errcode",
            ])
            .current_dir(&dir)
            .env("NODE_ENV", "production")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting PostGraphile with `node` (is Node.js installed?)")?;
        let output = Arc::new(Mutex::new(VecDeque::new()));
        // Drain both pipes so PostGraphile never blocks on them; keep the
        // last lines for error messages.
        if let Some(stdout) = child.stdout.take() {
            drain(stdout, "stdout", Arc::clone(&output));
        }
        if let Some(stderr) = child.stderr.take() {
            drain(stderr, "stderr", Arc::clone(&output));
        }
        let pid = child.id();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        let mut server = PostGraphile {
            child,
            pid,
            url: format!("http://127.0.0.1:{port}/graphql"),
            client,
            output,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// The GraphQL endpoint, `http://127.0.0.1:PORT/graphql`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The Node process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The read probes (see the module docs): `first_page`, `deep_page`,
    /// `filtered_count` and `by_id`, over tenant `tenant_id`'s live leads.
    /// Reads the `deep_page` cursor from the server, so it fails when the
    /// tenant has fewer than [`DEEP_ROWS`] live leads.
    pub fn probes(
        &self,
        tenant_id: i64,
        status: &str,
        market: &str,
        lead_ids: &[i64],
    ) -> anyhow::Result<Vec<Probe>> {
        if lead_ids.is_empty() {
            bail!("by_id needs at least one lead id");
        }
        let live = live_condition(tenant_id);
        let mut filtered = live.clone();
        filtered["status"] = json!(status);
        filtered["market"] = json!(market);

        let answer = self.query(&body(
            CURSOR_AT,
            &json!({ "condition": live, "offset": DEEP_ROWS - 1 }),
        ))?;
        let after = answer["data"]["allLeads"]["edges"][0]["cursor"]
            .as_str()
            .with_context(|| {
                format!(
                    "tenant {tenant_id} has fewer than {DEEP_ROWS} live leads: no cursor \
                     {DEEP_ROWS} rows deep ({answer})"
                )
            })?
            .to_owned();

        Ok(vec![
            Probe {
                name: "first_page",
                bodies: vec![body(FIRST_PAGE, &json!({ "condition": live }))],
            },
            Probe {
                name: "deep_page",
                bodies: vec![body(
                    DEEP_PAGE,
                    &json!({ "condition": live, "after": after }),
                )],
            },
            Probe {
                name: "filtered_count",
                bodies: vec![body(FILTERED_COUNT, &json!({ "condition": filtered }))],
            },
            Probe {
                name: "by_id",
                bodies: lead_ids
                    .iter()
                    // `BigInt` is a string in PostGraphile's JSON.
                    .map(|id| body(BY_ID, &json!({ "id": id.to_string() })))
                    .collect(),
            },
        ])
    }

    /// Posts one GraphQL body and returns the answer; fails on an HTTP error
    /// status or a non-empty `errors`.
    pub fn query(&self, body: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .with_context(|| format!("POST {}", self.url))?;
        let status = response.status();
        let text = response
            .text()
            .with_context(|| format!("reading the answer of POST {}", self.url))?;
        if !status.is_success() {
            bail!("POST {} answered {status}: {text}", self.url);
        }
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("POST {} answered no JSON: {text}", self.url))?;
        if value
            .get("errors")
            .is_some_and(|e| !e.as_array().is_some_and(Vec::is_empty))
        {
            bail!("PostGraphile answered errors: {}", value["errors"]);
        }
        Ok(value)
    }

    /// Polls `{ __typename }` until PostGraphile answers it.
    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let probe = body("{ __typename }", &json!({}));
        loop {
            let ready = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .body(probe.clone())
                .timeout(Duration::from_secs(2))
                .send()
                .ok()
                .filter(|r| r.status().is_success())
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["data"]["__typename"] == "Query");
            if ready {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "PostGraphile exited ({status}) before answering on {}{}",
                    self.url,
                    self.output_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "PostGraphile did not answer `{{ __typename }}` on {} within {} s{}",
                    self.url,
                    START_TIMEOUT.as_secs(),
                    self.output_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines PostGraphile printed, for error messages.
    pub fn output_tail(&self) -> String {
        // Let the drain threads catch up with a process that just exited.
        std::thread::sleep(Duration::from_millis(50));
        let lines = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        let tail: Vec<&str> = lines.iter().map(String::as_str).collect();
        format!(
            "\n--- PostGraphile output (last {} lines) ---\n{}",
            tail.len(),
            tail.join("\n")
        )
    }
}

impl Drop for PostGraphile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bench/postgraphile`, next to this package's manifest.
fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("postgraphile")
}

/// `npm ci` in `dir` (the versions of `package-lock.json`).
fn npm_ci(dir: &Path) -> anyhow::Result<()> {
    eprintln!("installing PostGraphile: npm ci in {}", dir.display());
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("running `npm ci` (is npm installed?)")?;
    if !out.status.success() {
        bail!(
            "`npm ci` in {} failed ({}):\n{}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Reads `pipe` line by line on a thread, keeping the last lines.
fn drain(pipe: impl Read + Send + 'static, tag: &'static str, out: Arc<Mutex<VecDeque<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let mut lines = out.lock().unwrap_or_else(PoisonError::into_inner);
            if lines.len() == OUTPUT_LINES {
                lines.pop_front();
            }
            lines.push_back(format!("[{tag}] {line}"));
        }
    });
}

/// A tenant's live leads, as PostGraphile `condition` (`null` = `IS NULL`).
fn live_condition(tenant_id: i64) -> Value {
    json!({
        // `BigInt` is a string in PostGraphile's JSON.
        "tenantId": tenant_id.to_string(),
        "environment": "live",
        "deletedAt": null,
        "mergedIntoId": null,
    })
}

/// A GraphQL request body.
fn body(query: &str, variables: &Value) -> String {
    json!({ "query": query, "variables": variables }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_probe_selects_the_lead_fields() {
        for query in [FIRST_PAGE, DEEP_PAGE, FILTERED_COUNT, BY_ID] {
            assert!(query.contains(LEAD_FIELDS), "{query}");
        }
        for query in [FIRST_PAGE, DEEP_PAGE, FILTERED_COUNT, CURSOR_AT] {
            assert!(
                query.contains("orderBy: [CREATED_AT_DESC, ID_DESC], condition: $condition"),
                "{query}"
            );
        }
        assert!(FIRST_PAGE.contains(&format!("first: {PAGE_SIZE},")));
    }

    #[test]
    fn live_condition_is_null_for_deleted_and_merged() {
        let c = live_condition(7);
        assert_eq!(c["tenantId"], "7");
        assert_eq!(c["environment"], "live");
        assert!(c["deletedAt"].is_null() && c.get("deletedAt").is_some());
        assert!(c["mergedIntoId"].is_null() && c.get("mergedIntoId").is_some());
    }

    /// A database PostGraphile cannot use: `start` fails fast (no retry) and
    /// the error carries PostGraphile's own message.
    #[test]
    #[ignore = "needs Node.js (and npm for the first install)"]
    fn start_reports_postgraphiles_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let started = Instant::now();
        let Err(err) = PostGraphile::start("postgres://postgres@127.0.0.1:1/lg_no_such_db", port)
        else {
            panic!("PostGraphile started on a database that does not exist");
        };
        let err = format!("{err:#}");
        eprintln!("{err}");
        assert!(err.contains("PostGraphile exited"), "{err}");
        assert!(err.contains("[stderr]"), "{err}");
        assert!(started.elapsed() < START_TIMEOUT);
    }

    /// Runs `sql` with `psql` and returns its rows, fields split on `|`.
    fn psql(url: &str, sql: &str) -> Vec<Vec<String>> {
        let out = Command::new("psql")
            .args([url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('|').map(str::to_owned).collect())
            .collect()
    }

    /// The `id`s of a list answer, as numbers.
    fn ids(answer: &Value) -> Vec<i64> {
        answer["data"]["allLeads"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["id"].as_str().expect("id").parse().expect("numeric id"))
            .collect()
    }

    /// Starts PostGraphile on `LEADGRAPH_BENCH_PG_URL` (a migrated database
    /// whose largest tenant has more than 50,050 live leads), fetches each
    /// probe's first body and checks its rows against the equivalent SQL.
    ///
    /// `LEADGRAPH_BENCH_PG_URL=postgres://… cargo test -p leadgraph-bench
    /// --lib postgraphile -- --ignored --nocapture`
    #[test]
    #[ignore = "needs PostgreSQL with leads, psql and Node.js; set LEADGRAPH_BENCH_PG_URL"]
    fn probes_match_sql() {
        let Ok(url) = std::env::var("LEADGRAPH_BENCH_PG_URL") else {
            eprintln!("skipped: LEADGRAPH_BENCH_PG_URL is not set");
            return;
        };
        const LIVE: &str = "environment = 'live' AND deleted_at IS NULL AND merged_into_id IS NULL";
        let tenant = psql(
            &url,
            &format!(
                "SELECT tenant_id FROM leads WHERE {LIVE} \
                 GROUP BY tenant_id ORDER BY count(*) DESC LIMIT 1"
            ),
        )[0][0]
            .parse::<i64>()
            .expect("tenant id");
        let scope = format!("tenant_id = {tenant} AND {LIVE}");
        let pair = &psql(
            &url,
            &format!(
                "SELECT status, market FROM leads WHERE {scope} \
                 GROUP BY status, market ORDER BY count(*) DESC LIMIT 1"
            ),
        )[0];
        let (status, market) = (pair[0].as_str(), pair[1].as_str());
        let lead_ids: Vec<i64> = psql(
            &url,
            &format!("SELECT id FROM leads WHERE {scope} ORDER BY id LIMIT 5"),
        )
        .iter()
        .map(|r| r[0].parse().expect("id"))
        .collect();
        let sql_ids = |sql: String| -> Vec<i64> {
            psql(&url, &sql)
                .iter()
                .map(|r| r[0].parse().expect("id"))
                .collect()
        };
        let order = "ORDER BY created_at DESC, id DESC";

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = PostGraphile::start(&url, port).expect("starting PostGraphile");
        eprintln!("PostGraphile pid {} on {}", server.pid(), server.url());
        let probes = server
            .probes(tenant, status, market, &lead_ids)
            .expect("probes");
        let names: Vec<&str> = probes.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            ["first_page", "deep_page", "filtered_count", "by_id"]
        );

        for probe in &probes {
            let answer = server.query(&probe.bodies[0]).expect(probe.name);
            let expected = match probe.name {
                "first_page" => sql_ids(format!(
                    "SELECT id FROM leads WHERE {scope} {order} LIMIT 50"
                )),
                "deep_page" => sql_ids(format!(
                    "SELECT id FROM leads WHERE {scope} {order} OFFSET {DEEP_ROWS} LIMIT 50"
                )),
                "filtered_count" => {
                    let filter = format!("{scope} AND status = '{status}' AND market = '{market}'");
                    let count: u64 =
                        psql(&url, &format!("SELECT count(*) FROM leads WHERE {filter}"))[0][0]
                            .parse()
                            .expect("count");
                    assert_eq!(
                        answer["data"]["allLeads"]["totalCount"].as_u64(),
                        Some(count),
                        "totalCount"
                    );
                    eprintln!(
                        "filtered_count: totalCount {count} (status {status}, market {market})"
                    );
                    sql_ids(format!(
                        "SELECT id FROM leads WHERE {filter} {order} LIMIT 50"
                    ))
                }
                "by_id" => {
                    let lead = &answer["data"]["leadById"];
                    assert_eq!(lead["id"], lead_ids[0].to_string());
                    for field in LEAD_FIELDS.split(' ') {
                        assert!(lead.get(field).is_some(), "by_id lacks {field}: {lead}");
                    }
                    assert_eq!(probe.bodies.len(), lead_ids.len());
                    continue;
                }
                other => panic!("unexpected probe {other}"),
            };
            let got = ids(&answer);
            assert_eq!(got.len(), PAGE_SIZE, "{}: {answer}", probe.name);
            assert_eq!(
                got, expected,
                "{}: PostGraphile's rows differ from SQL's",
                probe.name
            );
            let node = &answer["data"]["allLeads"]["nodes"][0];
            for field in LEAD_FIELDS.split(' ') {
                assert!(
                    node.get(field).is_some(),
                    "{} lacks {field}: {node}",
                    probe.name
                );
            }
            assert_eq!(answer["data"]["allLeads"]["pageInfo"]["hasNextPage"], true);
            eprintln!("{}: 50 rows, first id {}, same as SQL", probe.name, got[0]);
        }
    }
}
