//! Times `cluster_with_report` on 1,000,000 synthetic leads, 5% of them
//! near-duplicates (same phone, same name + company spelled differently,
//! same name at a corporate domain, same canonical email), plus a few
//! hundred leads sharing a junk phone that the giant-block guard must skip.
//!
//! ```text
//! cargo run -p batch --release --example dedupe_throughput [records]
//! ```

use std::time::Instant;

use batch::dedupe::{DedupeRecord, cluster_with_report};
use serde_json::Map;

const DUPLICATE_PERCENT: u64 = 5;
const JUNK_PHONE_LEADS: usize = 600;

/// SplitMix64: a fixed, seeded generator, so every run times the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const SYLLABLES: [&str; 16] = [
    "an", "bel", "cor", "dan", "el", "fa", "gio", "har", "is", "jo", "ka", "lin", "mar", "no",
    "per", "ru",
];

/// A pronounceable word from `n`: 16^3 = 4096 distinct values.
fn word(n: u64) -> String {
    let mut out = String::new();
    for shift in [0, 4, 8] {
        out.push_str(SYLLABLES[((n >> shift) & 15) as usize]);
    }
    let mut chars = out.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn lead(id: i64, created: i64) -> DedupeRecord {
    DedupeRecord {
        id,
        created_at_micros: created,
        email_key: String::new(),
        phone: None,
        first_name: String::new(),
        last_name: String::new(),
        company: None,
        job_title: None,
        custom_fields: Map::new(),
        team_id: None,
        assigned_to_id: None,
    }
}

/// A distinct person: email and phone unique by construction; first name
/// from 300, last name from 4096, company from 100,000.
fn person(rng: &mut Rng, id: i64) -> DedupeRecord {
    let mut r = lead(id, rng.below(1 << 40) as i64);
    r.first_name = word(rng.below(300));
    r.last_name = word(rng.below(4096));
    let company = rng.below(100_000);
    if rng.below(100) < 80 {
        r.company = Some(format!("{} {company} Inc.", word(company)));
    }
    let local = format!("{}.{}.{id}", r.first_name, r.last_name).to_lowercase();
    r.email_key = if rng.below(100) < 55 {
        format!("{local}@{}{company}.com", word(company).to_lowercase())
    } else {
        format!("{}@gmail.com", local.replace('.', ""))
    };
    if rng.below(100) < 65 {
        r.phone = Some(format!("+1{}", 2_000_000_000 + id));
    }
    r
}

/// A near-duplicate of `base` that exact email matching cannot find.
fn near_duplicate(rng: &mut Rng, base: &DedupeRecord, id: i64) -> DedupeRecord {
    let mut r = lead(id, base.created_at_micros + 1 + rng.below(1 << 30) as i64);
    r.first_name = base.first_name.to_uppercase();
    r.last_name = base.last_name.clone();
    r.email_key = format!("other.{id}@yahoo.com");
    match (rng.below(4), &base.phone, &base.company) {
        (0, Some(phone), _) => r.phone = Some(phone.clone()),
        (1, _, Some(company)) => {
            r.company = Some(company.to_uppercase().replace(" INC.", ", inc"));
        }
        (2, _, _) if !base.email_key.ends_with("@gmail.com") => {
            let domain = base.email_key.rsplit_once('@').map_or("", |(_, d)| d);
            r.email_key = format!("x{id}@{domain}");
        }
        _ => r.email_key = base.email_key.clone(),
    }
    r
}

fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let started = Instant::now();
    let mut rng = Rng(0x5EED_1EAD);
    let mut records: Vec<DedupeRecord> = Vec::with_capacity(total);
    for i in 0..total {
        let id = i as i64 + 1;
        let record = if i > 0 && rng.below(100) < DUPLICATE_PERCENT {
            let base = rng.below(i as u64) as usize;
            near_duplicate(&mut rng, &records[base], id)
        } else {
            person(&mut rng, id)
        };
        records.push(record);
    }
    for _ in 0..JUNK_PHONE_LEADS.min(total) {
        let at = rng.below(total as u64) as usize;
        records[at].phone = Some("+10000000000".into());
    }
    println!(
        "generated {} records in {:.2} s on {} rayon threads",
        records.len(),
        started.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );

    let started = Instant::now();
    let report = cluster_with_report(&records);
    let seconds = started.elapsed().as_secs_f64();

    let members: usize = report.clusters.iter().map(|c| c.member_ids.len()).sum();
    let largest = report.clusters.iter().map(|c| c.member_ids.len()).max();
    println!("cluster_with_report: {seconds:.3} s");
    println!(
        "clusters: {} ({members} records, largest {})",
        report.clusters.len(),
        largest.unwrap_or(0)
    );
    for (reason, _key, size) in &report.skipped_blocks {
        // The key is personal data; print only its reason and size.
        println!("skipped block: {reason:?} shared by {size} records");
    }
}
