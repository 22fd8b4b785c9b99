//! `leadgraph-bench api`: GraphQL load against the release server on a
//! seeded database, optionally side by side with PostGraphile (issue 5).
//!
//! For each database: seed a fresh one ([`seed`]), start `leadgraph serve`
//! with [`seed::RUN_ENV`], check the data through the API and read what the
//! probes need ([`probes::prepare`]), then drive every read probe (with
//! `--postgraphile`, PostgreSQL only, each followed by PostGraphile's
//! version of it on the same database), then the write probes, each at
//! every connection count: a warm-up, then `--duration` seconds measured
//! ([`driver`]). The
//! load comes from this process (a tokio runtime of `--client-threads`
//! threads), the server is another process on loopback. Results are
//! printed and written to `--out` as markdown and JSON ([`results`]).

pub mod driver;
pub mod probes;
pub mod results;
pub mod seed;
pub mod soak;

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;
use serde_json::{Value, json};

use crate::postgraphile::{DEEP_ROWS, PAGE_SIZE, PostGraphile};
use crate::server::{Backend, Database, DbChoice, RssSampler, Server, process_cpu_seconds};
use driver::{Bodies, Check, Endpoint, Load, Probe};
use results::{LEADGRAPH, POSTGRAPHILE, Row, TargetCheck};

/// `leadgraph-bench api`: the GraphQL load benchmark.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Databases to run on.
    #[arg(long, value_enum, default_value_t = DbChoice::Both)]
    pub db: DbChoice,
    /// Leads to seed.
    #[arg(long, default_value_t = 1_000_000)]
    pub leads: u64,
    /// Seconds measured per probe and connection count.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Connection counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 16, 64])]
    pub connections: Vec<usize>,
    /// Also measure PostGraphile 4.14 on the same database (PostgreSQL
    /// only; needs Node.js and npm, and at least 50,050 leads).
    #[arg(long)]
    pub postgraphile: bool,
    /// Only these probes (comma-separated names); all when omitted.
    #[arg(long, value_delimiter = ',')]
    pub probes: Vec<String>,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Directory of the results files (markdown and JSON).
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
}

/// Facts about the machine and software, for the results file.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_mib: u64,
    pub kernel: String,
    pub postgres: Option<String>,
    pub sqlite_cli: Option<String>,
    pub node: Option<String>,
    pub git: Option<String>,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned());
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                let line = m.lines().find(|l| l.starts_with("MemTotal:"))?.to_owned();
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .map_or(0, |kib| kib / 1024);
        let pg_version = crate::server::psql_query("postgres", "SHOW server_version")
            .ok()
            .and_then(|r| r.first()?.first().cloned());
        let dirty = command_line("git", &["status", "--porcelain", "--untracked-files=no"])
            .map(|s| !s.is_empty());
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            memory_mib,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned()),
            postgres: pg_version,
            sqlite_cli: command_line("sqlite3", &["--version"])
                .and_then(|v| v.split_whitespace().next().map(str::to_owned)),
            node: command_line("node", &["--version"]),
            git: command_line("git", &["rev-parse", "--short", "HEAD"]).map(|h| {
                if dirty == Some(true) {
                    format!("{h} (with uncommitted changes)")
                } else {
                    h
                }
            }),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} cores ({}), {} MiB RAM, Linux {}; PostgreSQL {}, sqlite3 CLI {}, node {}; commit {}",
            self.cores,
            self.cpu,
            self.memory_mib,
            self.kernel,
            self.postgres.as_deref().unwrap_or("n/a"),
            self.sqlite_cli.as_deref().unwrap_or("n/a"),
            self.node.as_deref().unwrap_or("n/a"),
            self.git.as_deref().unwrap_or("n/a"),
        )
    }
}

/// A command's trimmed stdout, when it ran and succeeded.
fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The load generator's runtime.
pub fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .context("building the load generator's runtime")
}

/// What one database's run produced.
#[derive(Debug, Clone, Serialize)]
pub struct DbRun {
    pub db: String,
    pub seed: Value,
    pub setup: Value,
    pub rows: Vec<Row>,
    pub targets: Vec<TargetCheck>,
    pub server: Value,
    pub notes: Vec<String>,
}

/// Runs `leadgraph-bench api`.
pub fn run(args: &ApiArgs) -> anyhow::Result<()> {
    let machine = Machine::read();
    let started = chrono::Utc::now();
    let stamp = started.format("%Y%m%d-%H%M%S").to_string();
    let rt = runtime(args.client_threads)?;
    let work = tempfile::Builder::new()
        .prefix("leadgraph-bench-api")
        .tempdir()
        .context("creating a temporary directory")?;
    eprintln!("machine: {}", machine.describe());
    let mut runs = Vec::new();
    for backend in args.db.backends() {
        let dir = work.path().join(backend.name());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let run = run_db(args, backend, &rt, &dir, &stamp)
            .with_context(|| format!("{} load benchmark", backend.name()))?;
        print!("{}", render_db(&run));
        runs.push(run);
        write_results(args, &machine, &started, &stamp, &runs)?;
    }
    let errors: u64 = runs.iter().flat_map(|r| &r.rows).map(|r| r.errors).sum();
    if errors > 0 {
        bail!("{errors} requests failed (see the errors column and the messages above)");
    }
    Ok(())
}

/// `postgres` or `sqlite`, for file names.
pub fn db_tag(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    }
}

fn run_db(
    args: &ApiArgs,
    backend: Backend,
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    stamp: &str,
) -> anyhow::Result<DbRun> {
    let name = backend.name();
    let db = Database::create_named(backend, dir, "lg_bench_api")?;
    eprintln!("{name}: seeding {} leads", args.leads);
    let seeded = seed::seed(&db, dir, args.leads)?;
    let mut server = Server::spawn(
        &db,
        &seeded.tenant.live_key,
        &dir.join("server.log"),
        &seed::RUN_ENV,
    )?;
    let rss_started = server.rss_mib();
    let setup = probes::prepare(&server, &db, &seeded)?;
    eprintln!(
        "{name}: seeded in {:.0} s (SQL {:.0} s, {:.0} MiB); server pid {} on {}",
        seeded.total_secs,
        seeded.insert_secs,
        seeded.db_bytes as f64 / 1048576.0,
        server.pid,
        server.base
    );
    let endpoint = Endpoint::new(
        &format!("{}/graphql", server.base),
        &[("X-API-Key", &server.key)],
    )?;
    let wanted = |name: &str| args.probes.is_empty() || args.probes.iter().any(|p| p == name);
    let mut notes = Vec::new();
    let mut rows = Vec::new();
    let sampler = RssSampler::start(server.pid);

    let reads: Vec<Probe> = probes::read_probes(&setup)
        .into_iter()
        .filter(|p| wanted(&p.name))
        .collect();
    // PostGraphile (idle while ours runs, and the other way round); each
    // of its probes runs right after ours at the same connection count, so
    // both see the same background load on a shared machine.
    let reference = if args.postgraphile {
        match Reference::start(backend, &db, &seeded, &setup, &server) {
            Ok(r) => Some(r),
            Err(err) => {
                eprintln!("{name}: PostGraphile not measured: {err:#}");
                notes.push(format!("PostGraphile not measured: {err:#}"));
                None
            }
        }
    } else {
        None
    };
    // One of our probes at one connection count; the server must survive it.
    let mut measure_ours = |probe: &Probe, c: usize| -> anyhow::Result<Row> {
        let row = measure(
            rt,
            &endpoint,
            probe,
            c,
            args,
            name,
            LEADGRAPH,
            Some(server.pid),
        )?;
        if row.errors > 0 {
            eprintln!("{}", server.log_tail());
        }
        server.check_alive()?;
        Ok(row)
    };
    for probe in &reads {
        for &c in &args.connections {
            rows.push(measure_ours(probe, c)?);
            if let Some(r) = &reference
                && let Some(theirs) = r.probes.iter().find(|t| t.name == probe.name)
            {
                rows.push(measure(
                    rt,
                    &r.endpoint,
                    theirs,
                    c,
                    args,
                    name,
                    POSTGRAPHILE,
                    Some(r.server.pid()),
                )?);
            }
        }
    }
    drop(reference);

    let tag = format!("w{}", std::process::id());
    let writes: Vec<Probe> = probes::write_probes(&tag)
        .into_iter()
        .filter(|p| wanted(&p.name))
        .collect();
    for probe in &writes {
        for &c in &args.connections {
            rows.push(measure_ours(probe, c)?);
        }
    }
    let peak_kib = sampler.stop();
    let rss_end = server.rss_mib();
    let hwm = crate::server::proc_status_kib(server.pid, "VmHWM:").map(|k| k as f64 / 1024.0);
    server.stop()?;
    // The server's log (warnings and errors) next to the results.
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let log = args
        .out
        .join(format!("api-{stamp}-{}-server.log", db_tag(backend)));
    std::fs::copy(dir.join("server.log"), &log)
        .with_context(|| format!("copying the server log to {}", log.display()))?;
    if setup.deep_rows < DEEP_ROWS {
        notes.push(format!(
            "deep_page starts {} rows deep (the seed has fewer than {} leads)",
            setup.deep_rows,
            DEEP_ROWS + PAGE_SIZE
        ));
    }
    let targets = results::evaluate(&rows);
    Ok(DbRun {
        db: name.to_owned(),
        seed: json!({
            "leads": seeded.plan.leads,
            "users": seeded.plan.creators.len(),
            "teams": seeded.plan.teams.len() * 2,
            "markets": seed::MARKETS,
            "transitions": seeded.transitions,
            "sql_seconds": seeded.insert_secs,
            "total_seconds": seeded.total_secs,
            "database_mib": seeded.db_bytes as f64 / 1048576.0,
        }),
        setup: json!({
            "deep_rows": setup.deep_rows,
            "by_id_sample": setup.lead_ids.len(),
            "sync_points": setup.sync_after.len(),
            "filter": { "status": probes::FILTER_STATUS, "market": probes::FILTER_MARKET },
            "filtered_total": setup.filtered_total,
            "connections": args.connections,
            "warmup_seconds": args.warmup,
            "duration_seconds": args.duration,
            "client_threads": args.client_threads,
        }),
        rows,
        targets,
        server: json!({
            "env": seed::RUN_ENV.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "rss_started_mib": rss_started,
            "rss_end_mib": rss_end,
            "rss_peak_sampled_mib": peak_kib as f64 / 1024.0,
            "vm_hwm_mib": hwm,
        }),
        notes,
    })
}

/// Runs one probe at one connection count and makes its row; prints a
/// progress line (and the first error, if any).
#[allow(clippy::too_many_arguments)]
fn measure(
    rt: &tokio::runtime::Runtime,
    endpoint: &Endpoint,
    probe: &Probe,
    connections: usize,
    args: &ApiArgs,
    db: &str,
    system: &str,
    pid: Option<u32>,
) -> anyhow::Result<Row> {
    let load = Load {
        connections,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration),
    };
    let started = Instant::now();
    let client_cpu = crate::report::cpu_seconds();
    let server_cpu = pid.and_then(process_cpu_seconds);
    let outcome = rt.block_on(driver::run(endpoint, probe, load))?;
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    let cores =
        |before: Option<f64>, after: Option<f64>| before.zip(after).map(|(b, a)| (a - b) / wall);
    let rss = pid.and_then(|p| crate::server::proc_status_kib(p, "VmRSS:"));
    let mut row = Row::new(
        db,
        system,
        &probe.name,
        probe.class,
        connections,
        &outcome,
        rss.map(|k| k as f64 / 1024.0),
    );
    row.server_cores = cores(server_cpu, pid.and_then(process_cpu_seconds));
    row.client_cores = cores(client_cpu, crate::report::cpu_seconds());
    eprintln!(
        "{db} {system} {:<16} {:>3} conn: {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  \
         errors {}  cores: server {:.2} client {:.2}",
        row.probe,
        connections,
        row.rps,
        row.p50_ms,
        row.p99_ms,
        row.errors,
        row.server_cores.unwrap_or(0.0),
        row.client_cores.unwrap_or(0.0),
    );
    if let Some(err) = &outcome.first_error {
        eprintln!("  {} stopped at its first error: {err}", row.probe);
    }
    Ok(row)
}

/// PostGraphile on the same database with its read probes, checked to
/// answer the same leads as ours; killed on drop.
struct Reference {
    server: PostGraphile,
    endpoint: Endpoint,
    probes: Vec<Probe>,
}

impl Reference {
    fn start(
        backend: Backend,
        db: &Database,
        seeded: &seed::Seeded,
        setup: &probes::Setup,
        ours: &Server,
    ) -> anyhow::Result<Self> {
        if backend != Backend::Postgres {
            bail!("PostGraphile runs on PostgreSQL only");
        }
        if setup.deep_rows < DEEP_ROWS {
            bail!(
                "its deep_page needs at least {} leads",
                DEEP_ROWS + PAGE_SIZE
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        eprintln!("PostgreSQL: starting PostGraphile on port {port}");
        let server = PostGraphile::start(&db.url(), port)?;
        let theirs = server.probes(
            seeded.tenant_id,
            probes::FILTER_STATUS,
            probes::FILTER_MARKET,
            &setup.lead_ids,
        )?;
        cross_check(ours, &server, setup, &theirs)?;
        let endpoint = Endpoint::new(server.url(), &[])?;
        let probes = theirs
            .into_iter()
            .map(|p| Probe {
                name: p.name.to_owned(),
                class: "read",
                bodies: Bodies::cycle(p.bodies),
                check: Check::NoErrors,
            })
            .collect();
        Ok(Self {
            server,
            endpoint,
            probes,
        })
    }
}

/// The emails of the first list (or single lead) in a GraphQL answer.
fn emails(answer: &Value) -> Vec<String> {
    let data = &answer["data"];
    let Some(field) = data.as_object().and_then(|o| o.values().next()) else {
        return Vec::new();
    };
    match field["nodes"].as_array() {
        Some(nodes) => nodes
            .iter()
            .filter_map(|n| n["email"].as_str().map(str::to_owned))
            .collect(),
        None => field["email"]
            .as_str()
            .map(str::to_owned)
            .into_iter()
            .collect(),
    }
}

/// Both servers answer each compared probe's first body with the same
/// leads (and the same `totalCount`).
fn cross_check(
    server: &Server,
    pg: &PostGraphile,
    setup: &probes::Setup,
    theirs: &[crate::postgraphile::Probe],
) -> anyhow::Result<()> {
    let ours = probes::read_probes(setup);
    for p in theirs {
        let Some(Bodies::Cycle(list)) = ours.iter().find(|o| o.name == p.name).map(|o| &o.bodies)
        else {
            continue;
        };
        let (Some(our_body), Some(their_body)) = (list.first(), p.bodies.first()) else {
            continue;
        };
        let request: Value = serde_json::from_slice(our_body)?;
        let our_data = server.graphql(
            request["query"].as_str().unwrap_or_default(),
            request["variables"].clone(),
        )?;
        let our_answer = json!({ "data": our_data });
        let their_answer = pg.query(their_body)?;
        let (a, b) = (emails(&our_answer), emails(&their_answer));
        if a.is_empty() || a != b {
            bail!(
                "{}: Leadgraph and PostGraphile answer different leads ({} vs {} rows; first {:?} vs {:?})",
                p.name,
                a.len(),
                b.len(),
                a.first(),
                b.first()
            );
        }
        let (ta, tb) = (
            our_answer["data"]["leads"]["totalCount"].as_i64(),
            their_answer["data"]["allLeads"]["totalCount"].as_i64(),
        );
        if ta != tb {
            bail!("{}: totalCount {ta:?} vs {tb:?}", p.name);
        }
    }
    Ok(())
}

/// One database's section of the report.
pub fn render_db(run: &DbRun) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n### {}\n", run.db);
    let _ = writeln!(
        s,
        "Seed: {} leads, {} users, {} teams, markets US/CA/GB/IN, {} status transitions; \
         SQL {:.0} s, whole seed {:.0} s, database {:.0} MiB.  ",
        run.seed["leads"],
        run.seed["users"],
        run.seed["teams"],
        run.seed["transitions"],
        run.seed["sql_seconds"].as_f64().unwrap_or(0.0),
        run.seed["total_seconds"].as_f64().unwrap_or(0.0),
        run.seed["database_mib"].as_f64().unwrap_or(0.0),
    );
    let _ = writeln!(
        s,
        "Probes: deep_page {} rows deep, by_id over {} ids, sync over {} points, \
         filter status {} + market {} ({} leads).  ",
        run.setup["deep_rows"],
        run.setup["by_id_sample"],
        run.setup["sync_points"],
        probes::FILTER_STATUS,
        probes::FILTER_MARKET,
        run.setup["filtered_total"],
    );
    let _ = writeln!(
        s,
        "Server: RSS {:.0} MiB at start, {:.0} MiB at the end, sampled peak {:.0} MiB.\n",
        run.server["rss_started_mib"].as_f64().unwrap_or(0.0),
        run.server["rss_end_mib"].as_f64().unwrap_or(0.0),
        run.server["rss_peak_sampled_mib"].as_f64().unwrap_or(0.0),
    );
    s.push_str(&results::results_table(&run.rows));
    s.push('\n');
    s.push_str(&results::targets_table(&run.targets));
    for note in &run.notes {
        let _ = writeln!(s, "\nNote: {note}");
    }
    for row in run.rows.iter().filter(|r| r.errors > 0) {
        let _ = writeln!(
            s,
            "\n{} {} at {} connections: {} errors; first: {}",
            row.system,
            row.probe,
            row.connections,
            row.errors,
            row.first_error.as_deref().unwrap_or("?")
        );
    }
    s
}

/// Writes `api-<stamp>.md` and `api-<stamp>.json` in `--out` (again after
/// each database, so a failure later keeps what was measured).
fn write_results(
    args: &ApiArgs,
    machine: &Machine,
    started: &chrono::DateTime<chrono::Utc>,
    stamp: &str,
    runs: &[DbRun],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut md = format!(
        "# leadgraph-bench api, {}\n\n{}  \n{} leads; connections {:?}; {} s warm-up + {} s \
         measured per probe and connection count; load generator: {} runtime thread(s) in \
         a separate process on loopback.\n",
        started.format("%Y-%m-%d %H:%M UTC"),
        machine.describe(),
        args.leads,
        args.connections,
        args.warmup,
        args.duration,
        args.client_threads,
    );
    md.push_str(
        "\n\"server cores\" is the CPU the serving process used (Leadgraph's or \
         PostGraphile's; PostgreSQL's own processes are not counted) over the probe's \
         warm-up and window; \"client cores\" is the load generator's.\n",
    );
    for run in runs {
        md.push_str(&render_db(run));
    }
    let md_path = args.out.join(format!("api-{stamp}.md"));
    std::fs::write(&md_path, md).with_context(|| format!("writing {}", md_path.display()))?;
    let json_path = args.out.join(format!("api-{stamp}.json"));
    let doc = json!({
        "benchmark": "api",
        "started": started.to_rfc3339(),
        "machine": machine,
        "args": {
            "leads": args.leads,
            "duration_seconds": args.duration,
            "warmup_seconds": args.warmup,
            "connections": args.connections,
            "postgraphile": args.postgraphile,
            "client_threads": args.client_threads,
        },
        "runs": runs,
    });
    std::fs::write(&json_path, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    eprintln!(
        "results written to {} and {}",
        md_path.display(),
        json_path.display()
    );
    Ok(())
}
