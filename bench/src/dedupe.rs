//! `leadgraph-bench dedupe`: a bulk dedupe run over the imported leads.
//!
//! Starts the release server on a fresh database (as `import` does),
//! imports the CSV through `POST /v1/imports` (timed too, for context), then
//! starts a dedupe dry run with the GraphQL `startDedupe(dryRun: true)` and
//! polls `dedupeRun(id)` every 200 ms until it is `COMPLETED` or `FAILED`.
//! With `--real` a real run (`dryRun: false`) follows. Prints the time, the
//! leads scanned, the clusters and the server's peak RSS of each run.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::import::{DEFAULT_MAPPING, input_file};
use crate::report::append_result;
use crate::server::{Backend, Database, RssSampler, Server, proc_status_kib};

/// Target wall time of a dedupe run over 1,000,000 leads.
const TARGET_SECS: f64 = 20.0;

/// `leadgraph-bench dedupe`: time a bulk dedupe run.
#[derive(Debug, clap::Args)]
pub struct DedupeArgs {
    /// CSV file to import first; generated into a temporary file when omitted.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Rows to generate when no file is given.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Seed for the generated file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Database to run on.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub db: Backend,
    /// Also run a real dedupe (`dryRun: false`) after the dry run.
    #[arg(long)]
    pub real: bool,
    /// Append the results to this file too.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Copy the server's log here when done.
    #[arg(long)]
    pub server_log: Option<PathBuf>,
    /// Keep the PostgreSQL database when done (for profiling; drop it by hand).
    #[arg(long)]
    pub keep_db: bool,
    /// `mapping` of the import (see `leadgraph-bench import --help`).
    #[arg(long, default_value = DEFAULT_MAPPING)]
    pub mapping: String,
}

const START: &str = "mutation($dryRun: Boolean!) { startDedupe(dryRun: $dryRun) { id } }";
const POLL: &str = "query($id: ID!) { dedupeRun(id: $id) { status clusterCount leadsScanned \
                    mergedClusterCount mergedLeadCount skippedBlockCount error } }";

/// Runs `leadgraph-bench dedupe`.
pub fn run(args: &DedupeArgs) -> anyhow::Result<()> {
    let work = tempfile::Builder::new()
        .prefix("leadgraph-bench-dedupe")
        .tempdir()
        .context("creating a temporary directory")?;
    let csv = input_file(args.file.as_deref(), args.rows, args.seed, work.path())?;
    let db = Database::create(args.db, work.path())?;
    let server = Server::start(&db, work.path())?;
    eprintln!(
        "{}: server pid {} on {}; importing {}",
        args.db.name(),
        server.pid,
        server.base,
        csv.display()
    );
    let import = server.import(&csv, &args.mapping)?;
    if import.status != "COMPLETED" {
        bail!(
            "the import ended {} ({}){}",
            import.status,
            import.error.unwrap_or_default(),
            server.log_tail()
        );
    }
    let mut report = String::new();
    let _ = writeln!(
        report,
        "dedupe benchmark on {} ({} cores): import of {} rows took {:.2} s ({} created, {} failed)",
        args.db.name(),
        std::thread::available_parallelism().map_or(1, usize::from),
        import.rows,
        import.seconds,
        import.created,
        import.failed
    );
    let mut runs = vec![true];
    if args.real {
        runs.push(false);
    }
    for dry_run in runs {
        let line = match dedupe_run(&server, dry_run) {
            Ok(line) => line,
            Err(err) => format!(
                "dedupe ({}): could not run: {err:#}",
                if dry_run { "dry run" } else { "real run" }
            ),
        };
        eprintln!("{line}");
        let _ = writeln!(report, "{line}");
    }
    print!("{report}");
    if let Some(out) = &args.out {
        append_result(out, report.trim_end())?;
    }
    if let Some(to) = &args.server_log {
        std::fs::copy(&server.log, to)
            .with_context(|| format!("copying the server log to {}", to.display()))?;
    }
    drop(server);
    if args.keep_db {
        eprintln!("kept the database: {}", db.url());
        std::mem::forget(db);
    } else {
        drop(db);
    }
    Ok(())
}

/// One dedupe run, started and polled; its result line.
fn dedupe_run(server: &Server, dry_run: bool) -> anyhow::Result<String> {
    let sampler = RssSampler::start(server.pid);
    let started = Instant::now();
    let data = server.graphql(START, json!({ "dryRun": dry_run }))?;
    let id = data["startDedupe"]["id"]
        .as_str()
        .with_context(|| format!("no startDedupe.id in {data}"))?
        .to_owned();
    let mut last_report = Instant::now();
    let run: Value = loop {
        std::thread::sleep(Duration::from_millis(200));
        let mut data = server.graphql(POLL, json!({ "id": id }))?;
        let run = data["dedupeRun"].take();
        match run["status"].as_str() {
            Some("COMPLETED" | "FAILED") => break run,
            None => bail!("dedupeRun({id}) is null"),
            _ => {}
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {:.0} s: {} (scanned {})",
                started.elapsed().as_secs_f64(),
                run["status"].as_str().unwrap_or("?"),
                run["leadsScanned"]
            );
            last_report = Instant::now();
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let peak_kib = sampler.stop();
    let hwm = proc_status_kib(server.pid, "VmHWM:").unwrap_or(0);
    let scanned = run["leadsScanned"].as_i64().unwrap_or(0);
    let status = run["status"].as_str().unwrap_or("?");
    // The target is for 1,000,000 leads; smaller runs are only indicative.
    let verdict = if status != "COMPLETED" {
        "MISS (not completed)"
    } else if scanned < 1_000_000 {
        if seconds <= TARGET_SECS {
            "n/a (< 1,000,000 leads)"
        } else {
            "MISS"
        }
    } else if seconds <= TARGET_SECS {
        "ok"
    } else {
        "MISS"
    };
    Ok(format!(
        "dedupe ({}): {status}{} in {seconds:.2} s; {scanned} leads scanned ({:.0} leads/s), {} clusters, {} skipped blocks, {} merged clusters, {} merged leads; server RSS peak {:.1} MiB (VmHWM since start {:.1} MiB); target < {TARGET_SECS:.0} s for 1,000,000 leads: {verdict}",
        if dry_run { "dry run" } else { "real run" },
        run["error"]
            .as_str()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default(),
        scanned as f64 / seconds.max(1e-9),
        run["clusterCount"],
        run["skippedBlockCount"],
        run["mergedClusterCount"],
        run["mergedLeadCount"],
        peak_kib as f64 / 1024.0,
        hwm as f64 / 1024.0,
    ))
}
