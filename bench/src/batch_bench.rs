//! `leadgraph-bench batch`: the batch-only import path on a CSV file.
//!
//! Runs exactly what the server's import job runs before it touches the
//! database — [`batch::prepare_stream`]: parse on one thread, map +
//! validate + canonicalise on the rayon pool — then the in-file dedupe on
//! the canonical email key ([`batch::SeenKeys`], a set of owned keys as the
//! job keeps them, sized from the file up front). Prints rows, seconds,
//! rows/s, valid / invalid / in-file duplicate
//! counts and the peak RSS of the process. Without a file it first writes
//! one with [`crate::generator`] to a temporary file (not timed).

use std::fs::File;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use batch::{ImportOptions, RowFailure, SeenKeys};

use crate::generator::{GenConfig, write_leads};
use crate::report::{append_result, cpu_seconds, peak_rss_text, per_second};

/// `leadgraph-bench batch`: measure the batch-only import path.
#[derive(Debug, clap::Args)]
pub struct BatchArgs {
    /// CSV file to read; generated into a temporary file when omitted.
    pub file: Option<PathBuf>,
    /// Rows per chunk handed to the validation stage.
    #[arg(long, default_value_t = 5_000)]
    pub chunk: usize,
    /// Rows to generate when no file is given.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Seed for the generated file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Phone region for rows whose market cell is blank.
    #[arg(long, default_value = "US")]
    pub default_market: String,
    /// Append the result line to this file too.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Counts from one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Data rows seen.
    pub rows: u64,
    /// Rows that validated and were not in-file duplicates.
    pub new: u64,
    /// Valid rows whose email key an earlier row of the file already had.
    pub duplicates: u64,
    /// Rows that failed validation.
    pub invalid: u64,
    /// Rows that could not be read.
    pub row_errors: u64,
}

/// Runs `leadgraph-bench batch`.
pub fn run(args: &BatchArgs) -> anyhow::Result<()> {
    // Keeps the generated file alive until the end of the run.
    let mut _temp = None;
    let path = match &args.file {
        Some(path) => path.clone(),
        None => {
            let mut temp = tempfile::NamedTempFile::new().context("creating a temporary file")?;
            let config = GenConfig {
                seed: args.seed,
                ..GenConfig::new(args.rows)
            };
            let started = Instant::now();
            write_leads(temp.as_file_mut(), &config).context("generating leads")?;
            eprintln!(
                "generated {} rows in {:.1} s",
                args.rows,
                started.elapsed().as_secs_f64()
            );
            let path = temp.path().to_owned();
            _temp = Some(temp);
            path
        }
    };
    let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);

    let cpu_before = cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    let counts = measure(file, args)?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().unwrap_or(0.0) - cpu_before;

    let line = format!(
        "batch: {} rows ({:.1} MiB) in {seconds:.3} s = {:.0} rows/s; {} new, {} in-file duplicates, {} invalid, {} row errors; peak RSS {}; CPU {cpu:.2} s ({:.0} rows per CPU-second, {:.2} cores busy); chunk {}, {} cores",
        counts.rows,
        bytes as f64 / (1024.0 * 1024.0),
        per_second(counts.rows, seconds),
        counts.new,
        counts.duplicates,
        counts.invalid,
        counts.row_errors,
        peak_rss_text(),
        per_second(counts.rows, cpu),
        cpu / seconds.max(1e-9),
        args.chunk,
        cores(),
    );
    println!("{line}");
    if let Some(out) = &args.out {
        append_result(out, &line)?;
    }
    Ok(())
}

/// Streams the file through `prepare_stream` and dedupes by email key.
pub fn measure(file: File, args: &BatchArgs) -> anyhow::Result<BatchCounts> {
    // Room for every key up front (rows are ~120 bytes; most keys are
    // distinct), so the set does not rehash its keys while the clock runs;
    // capped, so a huge file does not reserve gigabytes at once.
    let bytes = file.metadata().map_or(0, |m| m.len());
    let capacity = usize::try_from(bytes / 100).map_or(1 << 24, |n| n.min(1 << 24));
    let mut seen = SeenKeys::with_capacity(capacity);
    let stream = batch::prepare_stream(
        file,
        ImportOptions::default(),
        Some(args.default_market.clone()),
        args.chunk,
    )
    .context("reading the CSV header")?;
    let mut counts = BatchCounts::default();
    for chunk in stream {
        // By reference: moving each row out of the chunk copies it.
        for row in &chunk.context("reading the CSV")? {
            counts.rows += 1;
            match &row.outcome {
                Ok(prepared) => {
                    if seen.insert(prepared.lead.email.key.as_str()) {
                        counts.new += 1;
                    } else {
                        counts.duplicates += 1;
                    }
                }
                Err(RowFailure::Fields(_)) => counts.invalid += 1,
                Err(RowFailure::Row(_)) => counts.row_errors += 1,
            }
        }
    }
    Ok(counts)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
