//! What the server benchmarks share: a fresh database (SQLite file or
//! PostgreSQL database), the release server as a child process, the `psql`
//! and `sqlite3` command-line tools, and the server's RSS.
//!
//! The server is `target/release/leadgraph`, found next to this binary; a
//! tenant is created with `leadgraph tenant create --json` before `serve`
//! starts, and its live key drives the benchmark.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

/// PostgreSQL of the benchmarks (trust auth).
pub const PG_HOST: &str = "127.0.0.1";
pub const PG_PORT: u16 = 5432;
pub const PG_USER: &str = "postgres";

/// Field separator of [`psql_query`] and [`sqlite3_query`] output (ASCII
/// unit separator: never inside the values the benchmarks read).
const SEP: char = '\u{1f}';

/// Which databases to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DbChoice {
    Sqlite,
    Postgres,
    Both,
}

impl DbChoice {
    pub fn backends(self) -> Vec<Backend> {
        match self {
            DbChoice::Sqlite => vec![Backend::Sqlite],
            DbChoice::Postgres => vec![Backend::Postgres],
            DbChoice::Both => vec![Backend::Sqlite, Backend::Postgres],
        }
    }
}

/// One database the server can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// psql on the benchmark server's `database`, without `~/.psqlrc`,
/// stopping at the first error.
fn psql_command(database: &str) -> Command {
    let mut command = Command::new("psql");
    command
        .args(["-h", PG_HOST, "-p", &PG_PORT.to_string(), "-U", PG_USER])
        .args(["-d", database, "-X", "-v", "ON_ERROR_STOP=1"]);
    command
}

/// Runs one psql command (`-c`) in `database`.
pub fn psql(database: &str, command: &str) -> anyhow::Result<()> {
    let out = psql_command(database)
        .args(["-q", "-c", command])
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!(
            "psql -c {command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs an SQL script (any size, several statements) with psql in
/// `database`, fed on stdin, stopping at the first error.
pub fn psql_script(database: &str, script: &str) -> anyhow::Result<()> {
    let mut child = psql_command(database)
        .args(["-q", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running psql")?;
    child
        .stdin
        .take()
        .context("psql stdin")?
        .write_all(script.as_bytes())
        .context("writing the script to psql")?;
    let out = child.wait_with_output().context("waiting for psql")?;
    if !out.status.success() {
        bail!(
            "psql failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs one query with psql in `database`; its rows, fields split.
pub fn psql_query(database: &str, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let out = psql_command(database)
        .args(["-A", "-t"])
        .arg(format!("--field-separator={SEP}"))
        .args(["-c", sql])
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!(
            "psql -c {sql:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(split_rows(&String::from_utf8_lossy(&out.stdout)))
}

/// Runs a script with the `sqlite3` shell on `db`; any output on stderr is
/// an error.
pub fn sqlite3(db: &Path, script: &str) -> anyhow::Result<()> {
    sqlite3_output(db, script).map(drop)
}

/// Runs one query with the `sqlite3` shell on `db`; its rows, fields split.
pub fn sqlite3_query(db: &Path, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let script = format!(".bail on\n.headers off\n.mode list\n.separator \"\\037\"\n{sql};\n");
    Ok(split_rows(&sqlite3_output(db, &script)?))
}

fn sqlite3_output(db: &Path, script: &str) -> anyhow::Result<String> {
    let mut child = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running sqlite3")?;
    child
        .stdin
        .take()
        .context("sqlite3 stdin")?
        .write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !stderr.trim().is_empty() {
        bail!("sqlite3 failed ({}): {}", out.status, stderr.trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn split_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(SEP).map(str::to_owned).collect())
        .collect()
}

/// A fresh database for one server; a PostgreSQL one is dropped on drop.
#[derive(Debug)]
pub enum Database {
    Sqlite { path: PathBuf },
    Postgres { name: String },
}

impl Database {
    /// A fresh SQLite file in `dir`, or a fresh PostgreSQL database
    /// `lg_bench_<pid>`.
    pub fn create(backend: Backend, dir: &Path) -> anyhow::Result<Self> {
        Self::create_named(backend, dir, "lg_bench")
    }

    /// Like [`Database::create`]; the PostgreSQL database is
    /// `<prefix>_<pid>` (dropped first if it exists).
    pub fn create_named(backend: Backend, dir: &Path, prefix: &str) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => {
                let path = dir.join("bench.db");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Ok(Database::Sqlite { path })
            }
            Backend::Postgres => {
                let name = format!("{prefix}_{}", std::process::id());
                psql(
                    "postgres",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                )?;
                psql("postgres", &format!("CREATE DATABASE {name}"))?;
                Ok(Database::Postgres { name })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite { .. } => Backend::Sqlite,
            Database::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The server's `DATABASE_URL` (and PostGraphile's).
    ///
    /// PostgreSQL over loopback without TLS (`sslmode=disable`) for both
    /// servers: PostGraphile's driver does not use TLS unless told to, while
    /// ours (sqlx) takes it whenever the server offers it (`prefer`), and
    /// Debian's PostgreSQL does. Production picks its `sslmode` in
    /// `DATABASE_URL`.
    pub fn url(&self) -> String {
        match self {
            Database::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
            Database::Postgres { name } => {
                format!("postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}?sslmode=disable")
            }
        }
    }

    /// Runs one query (`psql` or `sqlite3`); its rows, fields split.
    pub fn query(&self, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
        match self {
            Database::Sqlite { path } => sqlite3_query(path, sql),
            Database::Postgres { name } => psql_query(name, sql),
        }
    }

    /// Runs a query expected to answer one integer.
    pub fn query_i64(&self, sql: &str) -> anyhow::Result<i64> {
        let rows = self.query(sql)?;
        let cell = rows
            .first()
            .and_then(|r| r.first())
            .with_context(|| format!("{sql:?} answered no row"))?;
        cell.trim()
            .parse()
            .with_context(|| format!("{sql:?} answered {cell:?}, not an integer"))
    }

    /// Runs a script (`psql -f -` or `sqlite3`).
    pub fn script(&self, sql: &str) -> anyhow::Result<()> {
        match self {
            Database::Sqlite { path } => sqlite3(path, &format!(".bail on\n{sql}\n")),
            Database::Postgres { name } => psql_script(name, sql),
        }
    }

    /// The database's size on disk in bytes (PostgreSQL's
    /// `pg_database_size`, or the SQLite file with its WAL).
    pub fn size_bytes(&self) -> anyhow::Result<u64> {
        match self {
            Database::Sqlite { path } => Ok(["", "-wal"]
                .iter()
                .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
                .map(|m| m.len())
                .sum()),
            Database::Postgres { name } => {
                let size = self.query_i64(&format!("SELECT pg_database_size('{name}')"))?;
                Ok(u64::try_from(size).unwrap_or(0))
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { name } = self
            && let Err(err) = psql(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
        {
            eprintln!("warning: could not drop database {name}: {err:#}");
        }
    }
}

/// `target/release/leadgraph`: the server binary next to this one.
pub fn leadgraph_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let bin = exe
        .parent()
        .context("the directory of this binary")?
        .join("leadgraph");
    if !bin.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p leadgraph`",
            bin.display()
        );
    }
    Ok(bin)
}

/// What `leadgraph tenant create --json` printed.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The tenant's public id.
    pub id: String,
    /// The owner user's public id.
    pub owner_id: String,
    /// Full-scope key of the live environment.
    pub live_key: String,
    /// Full-scope key of the sandbox environment.
    pub sandbox_key: String,
}

/// Runs `leadgraph tenant create --name bench --markets US,CA,GB,IN --json`
/// (plus `--plan` when given) on `db`; migrates it first if needed.
pub fn create_tenant(db: &Database, plan: Option<&str>) -> anyhow::Result<Tenant> {
    let bin = leadgraph_bin()?;
    let mut command = Command::new(&bin);
    // A tenant with every market the generator writes (the bootstrap
    // tenant has only US); its live key drives the benchmark.
    command.args([
        "tenant",
        "create",
        "--name",
        "bench",
        "--markets",
        "US,CA,GB,IN",
        "--json",
    ]);
    if let Some(plan) = plan {
        command.args(["--plan", plan]);
    }
    let created = command
        .env("DATABASE_URL", db.url())
        .output()
        .with_context(|| format!("running {} tenant create", bin.display()))?;
    if !created.status.success() {
        bail!(
            "tenant create failed: {}",
            String::from_utf8_lossy(&created.stderr)
        );
    }
    let tenant: Value =
        serde_json::from_slice(&created.stdout).context("reading tenant create's JSON")?;
    let text = |v: &Value, what: &str| -> anyhow::Result<String> {
        v.as_str()
            .map(str::to_owned)
            .with_context(|| format!("tenant create printed no {what}: {tenant}"))
    };
    Ok(Tenant {
        id: text(&tenant["tenant"]["id"], "tenant id")?,
        owner_id: text(&tenant["owner"]["id"], "owner id")?,
        live_key: text(&tenant["keys"]["live"], "live key")?,
        sandbox_key: text(&tenant["keys"]["sandbox"], "sandbox key")?,
    })
}

/// The release server as a child process; killed on drop.
pub struct Server {
    pub(crate) child: Child,
    /// The child's pid.
    pub pid: u32,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The full-scope live key of the bench tenant.
    pub key: String,
    pub(crate) client: reqwest::blocking::Client,
    pub(crate) log: PathBuf,
}

impl Server {
    /// Creates the bench tenant, starts `leadgraph serve` on `db` (logs to
    /// `dir/server.log`, import limits raised) and waits for `GET /healthz`.
    pub fn start(db: &Database, dir: &Path) -> anyhow::Result<Self> {
        let tenant = create_tenant(db, None)?;
        Self::spawn(
            db,
            &tenant.live_key,
            &dir.join("server.log"),
            &[
                ("LEADGRAPH_IMPORT_MAX_ROWS", "100000000"),
                ("LEADGRAPH_IMPORT_MAX_BYTES", &(64u64 << 30).to_string()),
            ],
        )
    }

    /// Starts `leadgraph serve` on `db` on a free loopback port with the
    /// extra environment `env`, stderr to `log`, and waits for `GET
    /// /healthz`; `key` is the key [`Server::graphql`] sends.
    pub fn spawn(
        db: &Database,
        key: &str,
        log: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let bin = leadgraph_bin()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = Command::new(&bin);
        command
            .arg("serve")
            .env("DATABASE_URL", db.url())
            .env("LEADGRAPH_BIND", format!("127.0.0.1:{port}"));
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().context("server stdout")?;
        // Drains stdout so the server never blocks on it.
        std::thread::spawn(move || for _ in BufReader::new(stdout).lines() {});
        let client = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .context("building the HTTP client")?;
        let mut server = Server {
            child,
            pid,
            base: format!("http://127.0.0.1:{port}"),
            key: key.to_owned(),
            client,
            log: log.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let ok = server
                .client
                .get(format!("{}/healthz", server.base))
                .timeout(Duration::from_secs(2))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            server.check_alive()?;
            if Instant::now() > deadline {
                bail!(
                    "GET /healthz did not answer 200 within 120 s{}",
                    server.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    pub(crate) fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the server exited ({status}){}", self.log_tail());
        }
        Ok(())
    }

    /// Stops the server with SIGTERM (a graceful shutdown: SQLite
    /// checkpoints its WAL) and waits up to 30 s, then kills it.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("warning: the server did not stop within 30 s of SIGTERM; killing it");
        Ok(())
    }

    /// The last lines of the server log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("\n--- {} (tail) ---\n{tail}", self.log.display())
    }

    /// The server's current resident set size in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        proc_status_kib(self.pid, "VmRSS:").map(|k| k as f64 / 1024.0)
    }

    /// A GET with the key, retrying on 429; the parsed JSON body.
    pub fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        loop {
            let response = self
                .client
                .get(format!("{}{path}", self.base))
                .header("X-API-Key", &self.key)
                .send()
                .with_context(|| format!("GET {path}"))?;
            if response.status().as_u16() == 429 {
                std::thread::sleep(retry_after(&response));
                continue;
            }
            let status = response.status();
            let body = response.text()?;
            if !status.is_success() {
                bail!("GET {path}: {status}: {body}");
            }
            return serde_json::from_str(&body).with_context(|| format!("GET {path}: {body}"));
        }
    }

    /// A GraphQL request; the `data` object (errors are an error).
    pub fn graphql(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        self.graphql_with_key(&self.key, query, variables)
    }

    /// [`Server::graphql`] with another key.
    pub fn graphql_with_key(
        &self,
        key: &str,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Value> {
        loop {
            let response = self
                .client
                .post(format!("{}/graphql", self.base))
                .header("X-API-Key", key)
                .json(&serde_json::json!({ "query": query, "variables": variables }))
                .send()
                .context("POST /graphql")?;
            if response.status().as_u16() == 429 {
                std::thread::sleep(retry_after(&response));
                continue;
            }
            let status = response.status();
            let body = response.text()?;
            let value: Value = serde_json::from_str(&body)
                .with_context(|| format!("POST /graphql: {status}: {body}"))?;
            if let Some(errors) = value.get("errors").filter(|e| !e.is_null()) {
                bail!("POST /graphql: {status}: {errors}");
            }
            return Ok(value["data"].clone());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn retry_after(response: &reqwest::blocking::Response) -> Duration {
    let secs = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_secs(secs.clamp(1, 60))
}

/// A field (in KiB) of `/proc/<pid>/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) process `pid` has used, in seconds, from
/// `/proc/<pid>/stat` (USER_HZ 100).
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Samples a process's `VmRSS` every 100 ms and keeps the peak.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: std::thread::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let handle = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kib) = proc_status_kib(pid, "VmRSS:") {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Self { stop, peak, handle }
    }

    /// Stops sampling; the peak in KiB.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
        self.peak.load(Ordering::Relaxed)
    }
}
