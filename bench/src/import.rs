//! `leadgraph-bench import`: the whole import through the server, against
//! the databases' own bulk loaders.
//!
//! For each database it starts the release server (`leadgraph serve`, found
//! next to this binary) on a fresh database, reads the full-scope live key
//! the first start prints, uploads the CSV to `POST /v1/imports` (streamed,
//! `text/csv`) and polls `GET /v1/imports/{id}` every 200 ms until the job is
//! `COMPLETED` or `FAILED`. The wall time runs from the start of the upload
//! to the poll that sees the job done; the server's RSS is sampled from
//! `/proc/<pid>/status` every 100 ms (and `VmHWM` read at the end).
//!
//! The baselines load the rows the server creates (the valid rows of market
//! US or blank with a first-seen email key, as [`batch::prepare_stream`]
//! sees them; their cells as uploaded) into `leads_copy` with a unique index
//! on `lower(email)` created before the load: `psql \copy` on PostgreSQL
//! (same server, same database), `sqlite3 .import` on SQLite (a file next
//! to the server's).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use batch::ImportOptions;
use serde_json::Value;

use crate::generator::{GenConfig, write_leads};
use crate::report::append_result;

/// PostgreSQL of the benchmarks (trust auth).
const PG_HOST: &str = "127.0.0.1";
const PG_PORT: u16 = 5432;
const PG_USER: &str = "postgres";

/// Which databases to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DbChoice {
    Sqlite,
    Postgres,
    Both,
}

impl DbChoice {
    fn backends(self) -> Vec<Backend> {
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

/// `leadgraph-bench import`: time a server import against the bulk loaders.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// CSV file to import; generated into a temporary file when omitted.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Rows to generate when no file is given.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Seed for the generated file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Databases to measure.
    #[arg(long, value_enum, default_value_t = DbChoice::Both)]
    pub db: DbChoice,
    /// Append the result table to this file too.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `mapping` of the import. The default keeps the generator's `Lead
    /// Source` (values such as `Trade Show` that the lead `source` field does
    /// not accept) in `customFields`; pass `""` to map it to `source`.
    #[arg(long, default_value = DEFAULT_MAPPING)]
    pub mapping: String,
}

/// The import's default `mapping` (see [`ImportArgs::mapping`]).
pub const DEFAULT_MAPPING: &str = "Lead Source=customFields.leadSource";

/// Runs `leadgraph-bench import`.
pub fn run(args: &ImportArgs) -> anyhow::Result<()> {
    let work = tempfile::Builder::new()
        .prefix("leadgraph-bench-import")
        .tempdir()
        .context("creating a temporary directory")?;
    let csv = input_file(args.file.as_deref(), args.rows, args.seed, work.path())?;
    let baseline_csv = work.path().join("baseline.csv");
    let baseline_rows = write_baseline_csv(&csv, &baseline_csv)?;
    eprintln!("baseline file: {baseline_rows} rows (valid, first-seen email key)");

    let mut results = Vec::new();
    for backend in args.db.backends() {
        let dir = work.path().join(backend.name());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let result = measure_backend(
            backend,
            &csv,
            &args.mapping,
            &baseline_csv,
            baseline_rows,
            &dir,
        )
        .with_context(|| format!("{} import", backend.name()))?;
        results.push(result);
    }

    let report = render(&csv, &results);
    print!("{report}");
    if let Some(out) = &args.out {
        append_result(out, report.trim_end())?;
    }
    Ok(())
}

/// The CSV to import: `file`, or a generated one in `dir`.
pub fn input_file(
    file: Option<&Path>,
    rows: u64,
    seed: u64,
    dir: &Path,
) -> anyhow::Result<PathBuf> {
    if let Some(file) = file {
        return Ok(file.to_owned());
    }
    let path = dir.join("bench.csv");
    let out = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let started = Instant::now();
    let summary = write_leads(
        out,
        &GenConfig {
            seed,
            ..GenConfig::new(rows)
        },
    )
    .context("generating leads")?;
    eprintln!(
        "generated {} rows ({:.1} MiB) in {:.1} s",
        summary.rows,
        summary.bytes as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

/// Writes the rows an import of `csv` into an empty database creates (valid,
/// market US or blank, first-seen canonical email) to `out` with their cells
/// as uploaded; returns how many.
fn write_baseline_csv(csv: &Path, out: &Path) -> anyhow::Result<u64> {
    let input = File::open(csv).with_context(|| format!("opening {}", csv.display()))?;
    let stream = batch::prepare_stream(input, ImportOptions::default(), Some("US".into()), 5_000)
        .context("reading the CSV header")?;
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = BufWriter::with_capacity(256 * 1024, file);
    w.write_all(
        b"email,first_name,last_name,phone,company,job_title,score,market,source,industry\n",
    )?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut rows = 0;
    let mut line = String::with_capacity(512);
    for chunk in stream {
        for row in chunk.context("reading the CSV")? {
            let Ok(prepared) = row.outcome else { continue };
            // The bench tenant has the generator's markets (blank cells are US).
            if prepared.market.as_deref().is_some_and(|m| {
                !["US", "CA", "GB", "IN"]
                    .iter()
                    .any(|k| m.eq_ignore_ascii_case(k))
            }) {
                continue;
            }
            if !seen.insert(prepared.lead.email.key.as_str().to_owned()) {
                continue;
            }
            line.clear();
            for (i, cell) in row.cells.iter().take(10).enumerate() {
                if i > 0 {
                    line.push(',');
                }
                push_csv_cell(&mut line, cell);
            }
            for _ in row.cells.len()..10 {
                line.push(',');
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
            rows += 1;
        }
    }
    w.flush()?;
    Ok(rows)
}

fn push_csv_cell(line: &mut String, cell: &str) {
    if cell.contains([',', '"', '\r', '\n']) {
        line.push('"');
        line.push_str(&cell.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(cell);
    }
}

/// What one database measured.
#[derive(Debug, Clone)]
pub struct BackendResult {
    pub backend: Backend,
    pub import: ImportOutcome,
    pub baseline_rows: u64,
    pub baseline_secs: Option<f64>,
    pub baseline_error: Option<String>,
}

fn measure_backend(
    backend: Backend,
    csv: &Path,
    mapping: &str,
    baseline_csv: &Path,
    baseline_rows: u64,
    dir: &Path,
) -> anyhow::Result<BackendResult> {
    let db = Database::create(backend, dir)?;
    let server = Server::start(&db, dir)?;
    eprintln!(
        "{}: server pid {} on {}; importing {}",
        backend.name(),
        server.pid,
        server.base,
        csv.display()
    );
    let import = server.import(csv, mapping)?;
    eprintln!(
        "{}: {} in {:.2} s ({} created, {} failed)",
        backend.name(),
        import.status,
        import.seconds,
        import.created,
        import.failed
    );
    drop(server);

    let baseline = match backend {
        Backend::Postgres => pg_copy_baseline(&db, baseline_csv),
        Backend::Sqlite => sqlite_import_baseline(&dir.join("baseline.db"), baseline_csv),
    };
    let (baseline_secs, baseline_error) = match baseline {
        Ok(secs) => {
            eprintln!("{}: baseline {secs:.2} s", backend.name());
            (Some(secs), None)
        }
        Err(err) => {
            eprintln!("{}: baseline failed: {err:#}", backend.name());
            (None, Some(format!("{err:#}")))
        }
    };
    Ok(BackendResult {
        backend,
        import,
        baseline_rows,
        baseline_secs,
        baseline_error,
    })
}

const BASELINE_COLUMNS: &str =
    "email, first_name, last_name, phone, company, job_title, score, market, source, industry";

/// `psql \copy` of the baseline file into `leads_copy`; returns seconds.
fn pg_copy_baseline(db: &Database, file: &Path) -> anyhow::Result<f64> {
    let Database::Postgres { name } = db else {
        bail!("not a PostgreSQL database")
    };
    psql(
        name,
        "DROP TABLE IF EXISTS leads_copy; \
             CREATE TABLE leads_copy(id bigserial primary key, email text, first_name text, \
             last_name text, phone text, company text, job_title text, score int, market text, \
             source text, industry text); \
             CREATE UNIQUE INDEX ON leads_copy(lower(email)); CHECKPOINT;",
    )?;
    let copy = format!(
        "\\copy leads_copy({BASELINE_COLUMNS}) FROM '{}' WITH (FORMAT csv, HEADER true)",
        file.display()
    );
    let started = Instant::now();
    psql(name, &copy)?;
    Ok(started.elapsed().as_secs_f64())
}

/// `sqlite3 .import` of the baseline file into `leads_copy` (its rowid is
/// the integer primary key, as `.import` fills the columns left to right);
/// returns seconds.
fn sqlite_import_baseline(db: &Path, file: &Path) -> anyhow::Result<f64> {
    let _ = std::fs::remove_file(db);
    sqlite3(
        db,
        "CREATE TABLE leads_copy(email TEXT, first_name TEXT, last_name TEXT, phone TEXT, \
             company TEXT, job_title TEXT, score INT, market TEXT, source TEXT, industry TEXT);\n\
             CREATE UNIQUE INDEX leads_copy_email ON leads_copy(lower(email));\n",
    )?;
    let started = Instant::now();
    sqlite3(
        db,
        &format!(
            ".bail on\n.mode csv\n.import --skip 1 '{}' leads_copy\n",
            file.display()
        ),
    )?;
    Ok(started.elapsed().as_secs_f64())
}

fn sqlite3(db: &Path, script: &str) -> anyhow::Result<()> {
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
    Ok(())
}

/// Runs one psql command (`-c`) in `database`.
pub fn psql(database: &str, command: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args(["-h", PG_HOST, "-p", &PG_PORT.to_string(), "-U", PG_USER])
        .args([
            "-d",
            database,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            command,
        ])
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
        match backend {
            Backend::Sqlite => {
                let path = dir.join("bench.db");
                let _ = std::fs::remove_file(&path);
                Ok(Database::Sqlite { path })
            }
            Backend::Postgres => {
                let name = format!("lg_bench_{}", std::process::id());
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

    /// The server's `DATABASE_URL`.
    pub fn url(&self) -> String {
        match self {
            Database::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
            Database::Postgres { name } => {
                format!("postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}")
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

/// The release server as a child process; killed on drop.
pub struct Server {
    child: Child,
    /// The child's pid.
    pub pid: u32,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The full-scope live key printed at the first start.
    pub key: String,
    client: reqwest::blocking::Client,
    log: PathBuf,
}

impl Server {
    /// Starts `leadgraph serve` on `db` (logs to `dir/server.log`), reads the
    /// live key from its stdout and waits for `GET /healthz`.
    pub fn start(db: &Database, dir: &Path) -> anyhow::Result<Self> {
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
        // A tenant with every market the generator writes (the bootstrap
        // tenant has only US); its live key drives the benchmark.
        let created = Command::new(&bin)
            .args([
                "tenant",
                "create",
                "--name",
                "bench",
                "--markets",
                "US,CA,GB,IN",
                "--json",
            ])
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
        let bench_key = tenant["keys"]["live"]
            .as_str()
            .context("tenant create printed no live key")?
            .to_owned();
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = dir.join("server.log");
        let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new(&bin)
            .arg("serve")
            .env("DATABASE_URL", db.url())
            .env("LEADGRAPH_BIND", format!("127.0.0.1:{port}"))
            .env("LEADGRAPH_IMPORT_MAX_ROWS", "100000000")
            .env("LEADGRAPH_IMPORT_MAX_BYTES", (64u64 << 30).to_string())
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
            key: String::new(),
            client,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        server.key = bench_key;
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

    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the server exited ({status}){}", self.log_tail());
        }
        Ok(())
    }

    /// The last lines of the server log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("\n--- {} (tail) ---\n{tail}", self.log.display())
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
        loop {
            let response = self
                .client
                .post(format!("{}/graphql", self.base))
                .header("X-API-Key", &self.key)
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

    /// Uploads `csv` to `POST /v1/imports` and polls until the job is done.
    pub fn import(&self, csv: &Path, mapping: &str) -> anyhow::Result<ImportOutcome> {
        let file = File::open(csv).with_context(|| format!("opening {}", csv.display()))?;
        let bytes = file.metadata()?.len();
        let sampler = RssSampler::start(self.pid);
        let started = Instant::now();
        let response = self
            .client
            .post(format!("{}/v1/imports", self.base))
            .query(&[("market", "US"), ("fileName", "bench.csv")])
            .query(&if mapping.is_empty() {
                vec![]
            } else {
                vec![("mapping", mapping)]
            })
            .header("X-API-Key", &self.key)
            .header("Content-Type", "text/csv")
            .body(reqwest::blocking::Body::sized(file, bytes))
            .send()
            .context("POST /v1/imports")?;
        let status = response.status();
        let body = response.text()?;
        if status.as_u16() != 202 {
            bail!(
                "POST /v1/imports answered {status}: {body}{}",
                self.log_tail()
            );
        }
        let upload_secs = started.elapsed().as_secs_f64();
        let value: Value = serde_json::from_str(&body).context("POST /v1/imports body")?;
        let id = value["data"]["id"]
            .as_str()
            .with_context(|| format!("no data.id in {body}"))?
            .to_owned();
        let mut last_report = Instant::now();
        let job = loop {
            std::thread::sleep(Duration::from_millis(200));
            let job = self.get_json(&format!("/v1/imports/{id}"))?["data"].take();
            if let Some("COMPLETED" | "FAILED") = job["status"].as_str() {
                break job;
            }
            if last_report.elapsed() > Duration::from_secs(10) {
                eprintln!(
                    "  {:.0} s: {} {} / {} rows",
                    started.elapsed().as_secs_f64(),
                    job["status"].as_str().unwrap_or("?"),
                    job["processedRows"],
                    job["totalRows"]
                );
                last_report = Instant::now();
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        let peak_sampled_kib = sampler.stop();
        let count = |k: &str| job[k].as_i64().unwrap_or(0);
        Ok(ImportOutcome {
            status: job["status"].as_str().unwrap_or("?").to_owned(),
            error: job["error"].as_str().map(str::to_owned),
            bytes,
            seconds,
            upload_secs,
            rows: count("processedRows"),
            created: count("created"),
            updated: count("updated"),
            skipped: count("skipped"),
            failed: count("failed"),
            peak_rss_sampled_mib: peak_sampled_kib as f64 / 1024.0,
            vm_hwm_mib: proc_status_kib(self.pid, "VmHWM:").map(|k| k as f64 / 1024.0),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn retry_after(response: &reqwest::blocking::Response) -> Duration {
    let secs = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_secs(secs.clamp(1, 60))
}

/// One import job's result.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub status: String,
    pub error: Option<String>,
    pub bytes: u64,
    /// Upload start to the poll that saw the job done.
    pub seconds: f64,
    /// Upload start to the 202.
    pub upload_secs: f64,
    pub rows: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
    pub peak_rss_sampled_mib: f64,
    pub vm_hwm_mib: Option<f64>,
}

impl ImportOutcome {
    /// The larger of the sampled peak and `VmHWM`.
    pub fn peak_rss_mib(&self) -> f64 {
        self.vm_hwm_mib
            .unwrap_or(0.0)
            .max(self.peak_rss_sampled_mib)
    }
}

/// A field (in KiB) of `/proc/<pid>/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
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

fn render(csv: &Path, results: &[BackendResult]) -> String {
    let mut s = String::new();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let _ = writeln!(s, "import benchmark: {} ({} cores)", csv.display(), cores);
    let _ = writeln!(
        s,
        "{:<10} | {:>15} | {:>8} | {:>26} | {:>10} | {:>16} | {:>13} | {:>18}",
        "database",
        "server import s",
        "rows/s",
        "baseline",
        "baseline s",
        "ratio srv/base",
        "target",
        "peak RSS MB (<300)"
    );
    for r in results {
        let i = &r.import;
        let rows_per_s = i.rows as f64 / i.seconds.max(1e-9);
        let (baseline_name, limit) = match r.backend {
            Backend::Postgres => ("psql \\copy", 1.5),
            Backend::Sqlite => ("sqlite3 .import", 1.0),
        };
        let (base, ratio) = match r.baseline_secs {
            Some(b) => {
                let ratio = i.seconds / b;
                let verdict = if i.status == "COMPLETED" && ratio <= limit {
                    "ok"
                } else {
                    "MISS"
                };
                (format!("{b:.2}"), format!("{ratio:.2}x {verdict}"))
            }
            None => ("n/a".to_owned(), "n/a".to_owned()),
        };
        let rss = i.peak_rss_mib();
        let _ = writeln!(
            s,
            "{:<10} | {:>15.2} | {:>8.0} | {:>26} | {:>10} | {:>16} | {:>13} | {:>18}",
            r.backend.name(),
            i.seconds,
            rows_per_s,
            format!("{baseline_name} ({} rows)", r.baseline_rows),
            base,
            ratio,
            format!("<= {limit:.1}x"),
            format!("{rss:.1} {}", if rss < 300.0 { "ok" } else { "MISS" }),
        );
    }
    for r in results {
        let i = &r.import;
        let _ = writeln!(
            s,
            "  {}: job {}{}; {} rows ({:.1} MiB) processed: {} created, {} updated, {} skipped, {} failed; upload (to 202) {:.2} s; server RSS sampled peak {:.1} MiB, VmHWM {}",
            r.backend.name(),
            i.status,
            i.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default(),
            i.rows,
            i.bytes as f64 / (1024.0 * 1024.0),
            i.created,
            i.updated,
            i.skipped,
            i.failed,
            i.upload_secs,
            i.peak_rss_sampled_mib,
            i.vm_hwm_mib
                .map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1} MiB")),
        );
        if let Some(err) = &r.baseline_error {
            let _ = writeln!(s, "  {}: baseline failed: {err}", r.backend.name());
        }
        if i.created != r.baseline_rows as i64 {
            let _ = writeln!(
                s,
                "  {}: note: the server created {} rows, the baseline loaded {}",
                r.backend.name(),
                i.created,
                r.baseline_rows
            );
        }
    }
    s
}
