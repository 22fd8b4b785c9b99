//! `leadgraph-bench soak`: is the server's memory flat under a long mixed
//! load?
//!
//! Seeds a fresh database as `api` does, starts the release server, then
//! drives the mixed probe ([`probes::mixed_probe`]: 19 reads of the `api`
//! probes to 1 `createLead`) at `--connections` for `--minutes`, in
//! one-minute rounds (each prints its req/s, p99 and RSS). A thread samples
//! the server's RSS every second. The verdict compares the RSS at the end
//! with the RSS after the warm-up (`--warmup-secs`, 60 by default): PASS
//! when it is within 10%.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;
use serde_json::json;

use super::driver::{Endpoint, Load};
use super::results::markdown;
use super::{Machine, probes, runtime, seed};
use crate::server::{Backend, Database, Server, proc_status_kib};

/// Largest end/warm-up RSS drift that passes.
pub const MAX_DRIFT: f64 = 0.10;

/// `leadgraph-bench soak`: server memory under a long mixed load.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Database to run on.
    #[arg(long, value_enum, default_value_t = Backend::Postgres)]
    pub db: Backend,
    /// Length of the soak in minutes (the warm-up included).
    #[arg(long, default_value_t = 10)]
    pub minutes: u64,
    /// Leads to seed.
    #[arg(long, default_value_t = 100_000)]
    pub leads: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Seconds after which the reference RSS is read.
    #[arg(long, default_value_t = 60)]
    pub warmup_secs: u64,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Directory of the results files (markdown and JSON).
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
}

/// One one-minute round.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub minute: u64,
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rss_mib: Option<f64>,
}

/// The memory verdict of a soak.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Drift {
    pub warm_mib: f64,
    pub end_mib: f64,
    /// end ÷ warm-up.
    pub ratio: f64,
    pub pass: bool,
}

/// Compares the RSS at the end of `series` (seconds, MiB) with the first
/// sample at or after `warmup_secs`.
pub fn drift(series: &[(f64, f64)], warmup_secs: f64) -> Option<Drift> {
    let warm = series.iter().find(|(t, _)| *t >= warmup_secs)?.1;
    let end = series.last()?.1;
    let ratio = end / warm.max(1e-9);
    Some(Drift {
        warm_mib: warm,
        end_mib: end,
        ratio,
        pass: (ratio - 1.0).abs() <= MAX_DRIFT,
    })
}

/// Runs `leadgraph-bench soak`.
pub fn run(args: &SoakArgs) -> anyhow::Result<()> {
    if args.warmup_secs >= args.minutes * 60 {
        bail!(
            "the warm-up ({} s) must be shorter than the soak ({} min)",
            args.warmup_secs,
            args.minutes
        );
    }
    let machine = Machine::read();
    let started = chrono::Utc::now();
    let rt = runtime(args.client_threads)?;
    let work = tempfile::Builder::new()
        .prefix("leadgraph-bench-soak")
        .tempdir()
        .context("creating a temporary directory")?;
    let name = args.db.name();
    let db = Database::create_named(args.db, work.path(), "lg_bench_soak")?;
    eprintln!("{name}: seeding {} leads", args.leads);
    let seeded = seed::seed(&db, work.path(), args.leads)?;
    let mut server = Server::spawn(
        &db,
        &seeded.tenant.live_key,
        &work.path().join("server.log"),
        &seed::RUN_ENV,
    )?;
    let setup = probes::prepare(&server, &db, &seeded)?;
    let probe = probes::mixed_probe(&setup, &format!("soak{}", std::process::id()));
    let endpoint = Endpoint::new(
        &format!("{}/graphql", server.base),
        &[("X-API-Key", &server.key)],
    )?;

    // RSS every second, from the start of the load.
    let series: Arc<Mutex<Vec<(f64, f64)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let begin = Instant::now();
    let sampler = {
        let (series, stop, pid) = (series.clone(), stop.clone(), server.pid);
        std::thread::spawn(move || {
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = proc_status_kib(pid, "VmRSS:") {
                    series
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((begin.elapsed().as_secs_f64(), kib as f64 / 1024.0));
                }
                next += Duration::from_secs(1);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    };
    eprintln!(
        "{name}: soak of {} min at {} connections, server pid {}",
        args.minutes, args.connections, server.pid
    );
    let mut rounds = Vec::new();
    let mut first_error = None;
    for minute in 1..=args.minutes {
        let load = Load {
            connections: args.connections,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(60),
        };
        let outcome = rt.block_on(super::driver::run(&endpoint, &probe, load))?;
        let round = Round {
            minute,
            requests: outcome.ok,
            errors: outcome.errors,
            rps: outcome.rps(),
            p50_ms: outcome.quantile_ms(0.5),
            p99_ms: outcome.quantile_ms(0.99),
            rss_mib: server.rss_mib(),
        };
        eprintln!(
            "  minute {minute:>3}: {:>7.0} req/s  p50 {:>6.2} ms  p99 {:>7.2} ms  errors {}  RSS {:.1} MiB",
            round.rps,
            round.p50_ms,
            round.p99_ms,
            round.errors,
            round.rss_mib.unwrap_or(0.0)
        );
        rounds.push(round);
        server.check_alive()?;
        if let Some(err) = outcome.first_error {
            eprintln!("  stopped at the first error: {err}");
            first_error = Some(err);
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let series = series
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let hwm = proc_status_kib(server.pid, "VmHWM:").map(|k| k as f64 / 1024.0);
    server.stop()?;

    let verdict = drift(&series, args.warmup_secs as f64);
    let mut md = format!(
        "# leadgraph-bench soak, {}\n\n{}  \n{name}, {} leads seeded; mixed load (19 reads : \
         1 createLead) at {} connections for {} min; RSS sampled every second.\n\n",
        started.format("%Y-%m-%d %H:%M UTC"),
        machine.describe(),
        args.leads,
        args.connections,
        args.minutes,
    );
    let body: Vec<Vec<String>> = rounds
        .iter()
        .map(|r| {
            vec![
                r.minute.to_string(),
                format!("{:.0}", r.rps),
                format!("{:.2}", r.p50_ms),
                format!("{:.2}", r.p99_ms),
                r.errors.to_string(),
                r.rss_mib
                    .map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1}")),
            ]
        })
        .collect();
    md.push_str(&markdown(
        &["minute", "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB"],
        &[true, true, true, true, true, true],
        &body,
    ));
    let verdict_line = match &verdict {
        Some(d) => format!(
            "\nRSS after the {} s warm-up {:.1} MiB, at the end {:.1} MiB: ratio {:.3} \
             (within ±{:.0}%: {}); VmHWM {}.\n",
            args.warmup_secs,
            d.warm_mib,
            d.end_mib,
            d.ratio,
            MAX_DRIFT * 100.0,
            if d.pass { "PASS" } else { "MISS" },
            hwm.map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1} MiB")),
        ),
        None => "\nNot enough RSS samples for a verdict.\n".to_owned(),
    };
    md.push_str(&verdict_line);
    if let Some(err) = &first_error {
        md.push_str(&format!("\nStopped at the first error: {err}\n"));
    }
    print!("{md}");

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let stamp = started.format("%Y%m%d-%H%M%S");
    let db_tag = super::db_tag(args.db);
    let log = args.out.join(format!("soak-{db_tag}-{stamp}-server.log"));
    std::fs::copy(work.path().join("server.log"), &log)
        .with_context(|| format!("copying the server log to {}", log.display()))?;
    let md_path = args.out.join(format!("soak-{db_tag}-{stamp}.md"));
    let json_path = args.out.join(format!("soak-{db_tag}-{stamp}.json"));
    std::fs::write(&md_path, &md).with_context(|| format!("writing {}", md_path.display()))?;
    let doc = json!({
        "benchmark": "soak",
        "started": started.to_rfc3339(),
        "machine": machine,
        "db": name,
        "leads": args.leads,
        "connections": args.connections,
        "minutes": args.minutes,
        "warmup_seconds": args.warmup_secs,
        "rounds": rounds,
        "verdict": verdict,
        "vm_hwm_mib": hwm,
        "first_error": first_error,
        "rss_series": series.iter().map(|(t, m)| json!([ (t * 10.0).round() / 10.0, (m * 10.0).round() / 10.0 ])).collect::<Vec<_>>(),
    });
    std::fs::write(&json_path, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    eprintln!(
        "results written to {} and {}",
        md_path.display(),
        json_path.display()
    );
    drop(db);
    if first_error.is_some() {
        bail!("the soak stopped at an error");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn drift_compares_the_end_with_the_first_sample_after_warm_up() {
        let series: Vec<(f64, f64)> = (0..600)
            .map(|t| {
                (
                    t as f64,
                    if t < 30 {
                        20.0
                    } else {
                        50.0 + t as f64 / 200.0
                    },
                )
            })
            .collect();
        let d = drift(&series, 60.0).unwrap();
        assert_eq!(d.warm_mib, 50.3);
        assert!((d.end_mib - 52.995).abs() < 1e-9);
        assert!(d.pass, "{d:?}");
        let growing: Vec<(f64, f64)> = (0..600)
            .map(|t| (t as f64, 50.0 + t as f64 / 10.0))
            .collect();
        let d = drift(&growing, 60.0).unwrap();
        assert!(!d.pass && d.ratio > 1.1, "{d:?}");
        let shrinking = [(0.0, 80.0), (60.0, 80.0), (120.0, 60.0)];
        assert!(!drift(&shrinking, 60.0).unwrap().pass);
        assert!(drift(&[(0.0, 1.0)], 60.0).is_none());
    }
}
