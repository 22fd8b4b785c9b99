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
//! Two baselines follow each import, both timed with the databases' own bulk
//! loaders:
//! - **Same table** (the target's): the rows the server created, exported
//!   from `leads` once the server has stopped, are loaded back into the same
//!   `leads` table, emptied, with all its indexes, constraints and foreign
//!   keys: `psql \copy leads FROM` on PostgreSQL (CSV: unquoted empty cells
//!   are NULL, so the rows round-trip exactly); on SQLite `sqlite3 .import`
//!   into a temporary table of the same columns, then one `INSERT INTO leads
//!   SELECT` turning the empty cells of nullable columns back into NULL
//!   (`.import` has no NULL: loaded as `''`, every row would miss the partial
//!   indexes on `deleted_at IS NULL`; through a view with an `INSTEAD OF`
//!   trigger it was 2.6× slower than this), with the server's 8 MiB page
//!   cache.
//! - **Simple table** (the "for scale" figure): the valid rows of
//!   market US or blank with a first-seen email key, as
//!   [`batch::prepare_stream`] sees them, their cells as uploaded, into
//!   `leads_copy` with a primary key and a unique index on `lower(email)`.
//!   Shown for context; it has none of the read API's indexes.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use batch::ImportOptions;
use serde_json::Value;

use crate::generator::{GenConfig, write_leads};
use crate::report::append_result;
use crate::server::{
    Backend, Database, DbChoice, RssSampler, Server, proc_status_kib, psql, sqlite3, sqlite3_query,
};

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
            let Ok(prepared) = &row.outcome else { continue };
            // The bench tenant has the generator's markets (blank cells are US).
            if row.market().is_some_and(|m| {
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
    /// The target's baseline: the same rows into the same table.
    pub same_table: Baseline,
    /// The "for scale" baseline: a primary key and a unique email.
    pub simple_table: Baseline,
}

/// One bulk-loader run.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub rows: u64,
    pub secs: Option<f64>,
    pub error: Option<String>,
}

impl Baseline {
    fn from(rows: u64, what: &str, result: anyhow::Result<f64>) -> Self {
        match result {
            Ok(secs) => {
                eprintln!("{what}: {rows} rows in {secs:.2} s");
                Self {
                    rows,
                    secs: Some(secs),
                    error: None,
                }
            }
            Err(err) => {
                eprintln!("{what}: failed: {err:#}");
                Self {
                    rows,
                    secs: None,
                    error: Some(format!("{err:#}")),
                }
            }
        }
    }
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

    let simple = match &db {
        Database::Postgres { name } => pg_copy_baseline(name, baseline_csv),
        Database::Sqlite { .. } => sqlite_import_baseline(&dir.join("baseline.db"), baseline_csv),
    };
    let simple_table = Baseline::from(
        baseline_rows,
        &format!("{}: simple-table baseline", backend.name()),
        simple,
    );
    let rows_file = dir.join("leads_rows.csv");
    let exported = u64::try_from(import.created).unwrap_or(0);
    let same = match &db {
        Database::Postgres { name } => pg_same_table_baseline(name, &rows_file),
        Database::Sqlite { path } => sqlite_same_table_baseline(path, &rows_file),
    };
    let same_table = Baseline::from(
        exported,
        &format!("{}: same-table baseline", backend.name()),
        same,
    );
    let _ = std::fs::remove_file(&rows_file);
    Ok(BackendResult {
        backend,
        import,
        same_table,
        simple_table,
    })
}

const BASELINE_COLUMNS: &str =
    "email, first_name, last_name, phone, company, job_title, score, market, source, industry";

/// `psql \copy` of the baseline file into `leads_copy`; returns seconds.
fn pg_copy_baseline(name: &str, file: &Path) -> anyhow::Result<f64> {
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

/// The rows in `leads` are exported to `file`, the table emptied (with what
/// references it) and the rows loaded back with `psql \copy`; returns the
/// seconds of the load.
fn pg_same_table_baseline(name: &str, file: &Path) -> anyhow::Result<f64> {
    psql(
        name,
        &format!(
            "\\copy (SELECT * FROM leads ORDER BY id) TO '{}' WITH (FORMAT csv)",
            file.display()
        ),
    )?;
    psql(name, "TRUNCATE leads CASCADE")?;
    psql(name, "CHECKPOINT")?;
    let started = Instant::now();
    psql(
        name,
        &format!("\\copy leads FROM '{}' WITH (FORMAT csv)", file.display()),
    )?;
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

/// The rows in `leads` are exported to `file`, the table emptied and the
/// rows loaded back with `sqlite3`: `.import` into a temporary table of the
/// same columns, then one `INSERT INTO leads SELECT` that turns the empty
/// cells of nullable columns back into NULL (`.import` has no NULL). With the
/// server's page cache size (`cache_size`, 8 MiB). Returns the seconds of
/// the load (both steps).
fn sqlite_same_table_baseline(db: &Path, file: &Path) -> anyhow::Result<f64> {
    let columns = sqlite3_query(
        db,
        "SELECT name, \"notnull\" FROM pragma_table_info('leads')",
    )?;
    if columns.is_empty() {
        bail!("no leads table in {}", db.display());
    }
    let values: Vec<String> = columns
        .iter()
        .filter_map(|c| match (c.first(), c.get(1).map(String::as_str)) {
            (Some(name), Some("0")) => Some(format!("NULLIF(\"{name}\", '')")),
            (Some(name), _) => Some(format!("\"{name}\"")),
            (None, _) => None,
        })
        .collect();
    sqlite3(
        db,
        &format!(
            ".bail on\n.headers off\n.mode csv\n.output '{}'\nSELECT * FROM leads ORDER BY id;\n.output stdout\n\
             PRAGMA foreign_keys = OFF;\n\
             DELETE FROM leads;\n\
             VACUUM;\n",
            file.display(),
        ),
    )?;
    let started = Instant::now();
    sqlite3(
        db,
        &format!(
            ".bail on\nPRAGMA cache_size = -8192;\n\
             CREATE TEMP TABLE leads_load AS SELECT * FROM leads WHERE 0;\n\
             .mode csv\n.import '{}' leads_load\n\
             INSERT INTO leads SELECT {} FROM leads_load;\n",
            file.display(),
            values.join(", ")
        ),
    )?;
    Ok(started.elapsed().as_secs_f64())
}

impl Server {
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

fn render(csv: &Path, results: &[BackendResult]) -> String {
    let mut s = String::new();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let _ = writeln!(s, "import benchmark: {} ({} cores)", csv.display(), cores);
    let _ = writeln!(
        s,
        "{:<10} | {:>15} | {:>8} | {:>40} | {:>10} | {:>16} | {:>13} | {:>18}",
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
        let (loader, limit) = match r.backend {
            Backend::Postgres => ("psql \\copy", 1.5),
            Backend::Sqlite => ("sqlite3 .import", 1.0),
        };
        let rss = i.peak_rss_mib();
        let rows = [
            (
                &r.same_table,
                format!("{loader}, same table ({} rows)", r.same_table.rows),
                Some(limit),
            ),
            (
                &r.simple_table,
                format!("{loader}, simple table ({} rows)", r.simple_table.rows),
                None,
            ),
        ];
        for (n, (baseline, name, limit)) in rows.into_iter().enumerate() {
            let (base, ratio) = match baseline.secs {
                Some(b) => {
                    let ratio = i.seconds / b;
                    let verdict = match limit {
                        Some(limit) if i.status == "COMPLETED" && ratio <= limit => " ok",
                        Some(_) => " MISS",
                        None => "",
                    };
                    (format!("{b:.2}"), format!("{ratio:.2}x{verdict}"))
                }
                None => ("n/a".to_owned(), "n/a".to_owned()),
            };
            let target = limit.map_or_else(|| "(context)".to_owned(), |l| format!("<= {l:.1}x"));
            if n == 0 {
                let _ = writeln!(
                    s,
                    "{:<10} | {:>15.2} | {:>8.0} | {:>40} | {:>10} | {:>16} | {:>13} | {:>18}",
                    r.backend.name(),
                    i.seconds,
                    rows_per_s,
                    name,
                    base,
                    ratio,
                    target,
                    format!("{rss:.1} {}", if rss < 300.0 { "ok" } else { "MISS" }),
                );
            } else {
                let _ = writeln!(
                    s,
                    "{:<10} | {:>15} | {:>8} | {:>40} | {:>10} | {:>16} | {:>13} | {:>18}",
                    "", "", "", name, base, ratio, target, "",
                );
            }
        }
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
        for (what, b) in [
            ("same-table", &r.same_table),
            ("simple-table", &r.simple_table),
        ] {
            if let Some(err) = &b.error {
                let _ = writeln!(s, "  {}: {what} baseline failed: {err}", r.backend.name());
            }
        }
        if i.created != r.simple_table.rows as i64 {
            let _ = writeln!(
                s,
                "  {}: note: the server created {} rows, the simple-table baseline loaded {}",
                r.backend.name(),
                i.created,
                r.simple_table.rows
            );
        }
    }
    let _ = writeln!(
        s,
        "  same table: the rows the server created, loaded back into its emptied `leads` (every index, constraint and foreign key); simple table: a primary key and a unique email index only"
    );
    s
}
