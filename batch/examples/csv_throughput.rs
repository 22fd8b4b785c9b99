//! Import-path throughput: N generated CSV rows (in memory) streamed through
//! `CsvRecords` in chunks of 10,000, each chunk mapped (`map_row`),
//! validated and canonicalised (`process_chunk`, rayon), given its dedupe
//! keys (canonical email, E.164 phone, name key) and deduplicated within the
//! file by canonical email. Reading runs on its own thread, one chunk ahead
//! of the rest (as an import job would stream its upload). Prints rows/s
//! end to end and the busy time of each stage.
//!
//! ```text
//! cargo run -p batch --release --example csv_throughput -- [rows] [--no-phone]
//! ```
//!
//! `--no-phone` leaves the phone column blank, to show what phone parsing
//! costs. Rows: 1% invalid emails, 2% other spellings of an earlier Gmail
//! address (in-file duplicates), a quarter with a quoted cell.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::error::Error;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use batch::csv::{CsvRecords, RowError, SourceRow};
use batch::{ChunkItem, ImportOptions, MappedRow, Mapping, process_chunk};
use rayon::prelude::*;

const CHUNK: usize = 10_000;

type Chunk = Vec<Result<SourceRow, RowError>>;

#[derive(Default)]
struct Stats {
    /// Busy time: read + parse, map, validate + keys, in-file dedupe.
    stages: [Duration; 4],
    new: u64,
    duplicates: u64,
    invalid: u64,
    row_errors: u64,
    /// Canonical email key to the first row that had it.
    seen: HashMap<String, u64>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: u64 = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200_000);
    let with_phone = !args.iter().any(|a| a == "--no-phone");

    let csv = generate(rows, with_phone);
    println!(
        "{rows} rows, {:.1} MiB, phone column {}, {} rayon threads",
        csv.len() as f64 / (1024.0 * 1024.0),
        if with_phone { "filled" } else { "blank" },
        rayon::current_num_threads()
    );

    let start = Instant::now();
    let mut records = CsvRecords::new(csv.as_slice(), &ImportOptions::default())?;
    let mapping = records.mapping().clone();
    let mut stats = Stats::default();
    let (tx, rx) = sync_channel::<Chunk>(1);
    let parse = std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut busy = Duration::ZERO;
            loop {
                let t = Instant::now();
                let chunk = records.next_chunk(CHUNK)?;
                busy += t.elapsed();
                if chunk.is_empty() || tx.send(chunk).is_err() {
                    return Ok::<_, batch::csv::CsvError>(busy);
                }
            }
        });
        for chunk in rx {
            process(&mapping, &chunk, &mut stats);
        }
        reader.join()
    });
    stats.stages[0] = parse.map_err(|_| "reader thread panicked")??;
    let total = start.elapsed();

    let per_sec = |d: Duration| rows as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "end to end {:.3} s: {:.0} rows/s ({} new, {} in-file duplicates, {} invalid, {} row errors)",
        total.as_secs_f64(),
        per_sec(total),
        stats.new,
        stats.duplicates,
        stats.invalid,
        stats.row_errors
    );
    let names = [
        "read + parse (CsvRecords, own thread)",
        "map_row (rayon)",
        "validate + canonicalise + keys (rayon)",
        "in-file dedupe (1 thread)",
    ];
    for (name, d) in names.iter().zip(stats.stages) {
        println!(
            "  {name:<40} {:>7.3} s busy  {:>10.0} rows/s",
            d.as_secs_f64(),
            per_sec(d)
        );
    }
    Ok(())
}

/// Maps, validates, keys and deduplicates one chunk.
fn process(mapping: &Mapping, chunk: &Chunk, stats: &mut Stats) {
    let t = Instant::now();
    // `map` (not `filter_map`) keeps the length known, so rayon writes
    // straight into one allocation instead of growing vectors.
    let mapped: Vec<Option<MappedRow>> = chunk
        .par_iter()
        .map(|row| row.as_ref().ok().map(|row| mapping.map_row(row)))
        .collect();
    stats.stages[1] += t.elapsed();

    let t = Instant::now();
    let rows: Vec<(u64, &MappedRow)> = chunk
        .iter()
        .zip(&mapped)
        .filter_map(|(row, m)| Some((row.as_ref().ok()?.row_number, m.as_ref()?)))
        .collect();
    stats.row_errors += (chunk.len() - rows.len()) as u64;
    let items: Vec<ChunkItem<'_>> = rows
        .iter()
        .map(|(_, m)| ChunkItem {
            raw: &m.raw,
            default_region: Some("US"),
        })
        .collect();
    let keyed: Vec<Option<(String, Option<String>, String)>> = process_chunk(&items)
        .into_par_iter()
        .zip(rows.par_iter())
        .map(|(outcome, (_, m))| {
            let lead = m.with_row_errors(outcome).ok()?;
            let name_key = lead.name_key();
            Some((
                lead.email.key.into_string(),
                lead.phone.map(|p| p.into_string()),
                name_key,
            ))
        })
        .collect();
    stats.stages[2] += t.elapsed();

    let t = Instant::now();
    for (key, (row_number, _)) in keyed.into_iter().zip(&rows) {
        match key {
            None => stats.invalid += 1,
            Some((email_key, _phone, _name)) => match stats.seen.entry(email_key) {
                Entry::Occupied(_) => stats.duplicates += 1,
                Entry::Vacant(slot) => {
                    slot.insert(*row_number);
                    stats.new += 1;
                }
            },
        }
    }
    stats.stages[3] += t.elapsed();
}

const FIRST: [&str; 8] = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
];
const LAST: [&str; 8] = [
    "Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen",
];
const TITLES: [&str; 4] = ["CTO", "Head of Data", "Engineer", "VP Sales, EMEA"];

/// A deterministic CSV of `rows` data rows.
fn generate(rows: u64, with_phone: bool) -> Vec<u8> {
    let mut out = String::with_capacity(rows as usize * 130);
    out.push_str("Email,First Name,Last Name,Phone,Company,Job Title,Lead Score,Notes\r\n");
    for i in 1..=rows {
        let (first, last) = (FIRST[(i % 8) as usize], LAST[(i / 8 % 8) as usize]);
        let email = match i % 100 {
            0 => format!("broken-{i}-at-example.com"),
            50 => format!("user{i}@gmail.com"),
            // Other spellings of row 50's mailbox: in-file duplicates.
            51 => format!("user.{}+crm@gmail.com", i - 1),
            52 => format!("USER{}@googlemail.com", i - 2),
            _ => format!(
                "{}.{}{i}@example{}.com",
                first.to_lowercase(),
                last.to_lowercase(),
                i % 50
            ),
        };
        let phone = if with_phone {
            format!("(415) 555-{:04}", i % 10_000)
        } else {
            String::new()
        };
        let title = TITLES[(i % 4) as usize];
        let title = if title.contains(',') {
            format!("\"{title}\"")
        } else {
            title.to_owned()
        };
        out.push_str(&format!(
            "{email},{first},{last},{phone},Company {} Inc,{title},{},imported batch {}\r\n",
            i % 997,
            i % 101,
            i / 1000
        ));
    }
    out.into_bytes()
}
