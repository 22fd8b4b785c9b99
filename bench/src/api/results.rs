//! Result rows, the targets of issue 5 and their verdicts, and the
//! markdown tables printed and written to the results file.
//!
//! Targets (ratios of requests per second on the same machine, database
//! and data, at each connection count measured):
//! - `first_page` at least 3× PostGraphile's;
//! - `deep_page` within 1.2× of our own `first_page` (first ÷ deep ≤ 1.2)
//!   and at least 20× PostGraphile's `deep_page`;
//! - `by_id` at least 2× PostGraphile's;
//! - `nested_page` within 1.5× of `first_page`;
//! - `filtered_count` no slower than PostGraphile's (≥ 1×), and
//!   `filtered` (no `totalCount`) at least 3× PostGraphile's
//!   `filtered_count`;
//! - p99 below 50 ms at 64 connections for every read probe.

use std::fmt::Write as _;

use serde::Serialize;

use super::driver::Outcome;

/// The `system` of our server's rows.
pub const LEADGRAPH: &str = "leadgraph";
/// The `system` of PostGraphile's rows.
pub const POSTGRAPHILE: &str = "postgraphile";
/// Connections at which every read's p99 must stay below [`P99_LIMIT_MS`].
pub const P99_CONNECTIONS: usize = 64;
pub const P99_LIMIT_MS: f64 = 50.0;

/// One probe at one connection count.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub db: String,
    pub system: String,
    pub probe: String,
    pub class: String,
    pub connections: usize,
    /// Successful requests in the measured window.
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The serving process's RSS right after the probe.
    pub server_rss_mib: Option<f64>,
    /// Cores the server kept busy (CPU seconds ÷ wall seconds, warm-up
    /// included).
    pub server_cores: Option<f64>,
    /// Cores the load generator (this process) kept busy.
    pub client_cores: Option<f64>,
    pub first_error: Option<String>,
}

impl Row {
    pub fn new(
        db: &str,
        system: &str,
        probe: &str,
        class: &str,
        connections: usize,
        outcome: &Outcome,
        server_rss_mib: Option<f64>,
    ) -> Self {
        Self {
            db: db.to_owned(),
            system: system.to_owned(),
            probe: probe.to_owned(),
            class: class.to_owned(),
            connections,
            requests: outcome.ok,
            errors: outcome.errors,
            seconds: outcome.seconds,
            rps: outcome.rps(),
            p50_ms: outcome.quantile_ms(0.50),
            p99_ms: outcome.quantile_ms(0.99),
            max_ms: outcome.max_ms(),
            server_rss_mib,
            server_cores: None,
            client_cores: None,
            first_error: outcome.first_error.clone(),
        }
    }
}

/// A target's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    Pass,
    Miss,
    /// Something it compares was not measured (PostGraphile not run, 64
    /// connections not measured, a probe skipped).
    NotMeasured,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Miss => "MISS",
            Verdict::NotMeasured => "n/a",
        }
    }
}

/// One target at one connection count.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub db: String,
    pub target: String,
    pub connections: usize,
    /// Our figure.
    pub ours: Option<f64>,
    /// What it is compared with (PostGraphile's req/s, our own req/s, or
    /// the p99 limit).
    pub reference: Option<f64>,
    /// The ratio (or the p99 in ms) the verdict rests on.
    pub factor: Option<f64>,
    pub need: String,
    pub verdict: Verdict,
}

/// How a target compares.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Our `ours` req/s ÷ PostGraphile's `theirs` req/s ≥ `at_least`.
    Faster {
        ours: &'static str,
        theirs: &'static str,
        at_least: f64,
    },
    /// Our `base` req/s ÷ our `probe` req/s ≤ `at_most` (the probe is at
    /// most that many times slower).
    Within {
        probe: &'static str,
        base: &'static str,
        at_most: f64,
    },
}

const RULES: [(&str, Rule); 7] = [
    (
        "first_page ≥ 3× PostGraphile",
        Rule::Faster {
            ours: "first_page",
            theirs: "first_page",
            at_least: 3.0,
        },
    ),
    (
        "deep_page within 1.2× of our first_page",
        Rule::Within {
            probe: "deep_page",
            base: "first_page",
            at_most: 1.2,
        },
    ),
    (
        "deep_page ≥ 20× PostGraphile",
        Rule::Faster {
            ours: "deep_page",
            theirs: "deep_page",
            at_least: 20.0,
        },
    ),
    (
        "by_id ≥ 2× PostGraphile",
        Rule::Faster {
            ours: "by_id",
            theirs: "by_id",
            at_least: 2.0,
        },
    ),
    (
        "nested_page within 1.5× of first_page",
        Rule::Within {
            probe: "nested_page",
            base: "first_page",
            at_most: 1.5,
        },
    ),
    (
        "filtered_count ≥ 1× PostGraphile (totalCount both)",
        Rule::Faster {
            ours: "filtered_count",
            theirs: "filtered_count",
            at_least: 1.0,
        },
    ),
    (
        "filtered (no totalCount) ≥ 3× PostGraphile's filtered_count",
        Rule::Faster {
            ours: "filtered",
            theirs: "filtered_count",
            at_least: 3.0,
        },
    ),
];

fn find<'a>(rows: &'a [Row], system: &str, probe: &str, connections: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.system == system && r.probe == probe && r.connections == connections)
}

/// The verdict of every target at every connection count of our rows
/// (rows of one database).
pub fn evaluate(rows: &[Row]) -> Vec<TargetCheck> {
    let db = rows.first().map(|r| r.db.clone()).unwrap_or_default();
    let mut levels: Vec<usize> = rows
        .iter()
        .filter(|r| r.system == LEADGRAPH)
        .map(|r| r.connections)
        .collect();
    levels.sort_unstable();
    levels.dedup();
    let mut checks = Vec::new();
    for (label, rule) in RULES {
        for &c in &levels {
            let check = match rule {
                Rule::Faster {
                    ours,
                    theirs,
                    at_least,
                } => {
                    let a = find(rows, LEADGRAPH, ours, c).map(|r| r.rps);
                    let b = find(rows, POSTGRAPHILE, theirs, c).map(|r| r.rps);
                    let factor = a.zip(b).map(|(a, b)| a / b.max(1e-9));
                    TargetCheck {
                        db: db.clone(),
                        target: label.to_owned(),
                        connections: c,
                        ours: a,
                        reference: b,
                        factor,
                        need: format!("≥ {at_least}×"),
                        verdict: verdict(factor, |f| f >= at_least),
                    }
                }
                Rule::Within {
                    probe,
                    base,
                    at_most,
                } => {
                    let a = find(rows, LEADGRAPH, probe, c).map(|r| r.rps);
                    let b = find(rows, LEADGRAPH, base, c).map(|r| r.rps);
                    let factor = a.zip(b).map(|(a, b)| b / a.max(1e-9));
                    TargetCheck {
                        db: db.clone(),
                        target: label.to_owned(),
                        connections: c,
                        ours: a,
                        reference: b,
                        factor,
                        need: format!("≤ {at_most}× slower"),
                        verdict: verdict(factor, |f| f <= at_most),
                    }
                }
            };
            checks.push(check);
        }
    }
    let reads: Vec<&Row> = rows
        .iter()
        .filter(|r| r.system == LEADGRAPH && r.class == "read")
        .collect();
    let mut read_names: Vec<&str> = Vec::new();
    for r in &reads {
        if !read_names.contains(&r.probe.as_str()) {
            read_names.push(&r.probe);
        }
    }
    for name in read_names {
        let row = reads
            .iter()
            .find(|r| r.probe == name && r.connections == P99_CONNECTIONS);
        let p99 = row.map(|r| r.p99_ms);
        checks.push(TargetCheck {
            db: db.clone(),
            target: format!("{name} p99 < {P99_LIMIT_MS} ms at {P99_CONNECTIONS} connections"),
            connections: P99_CONNECTIONS,
            ours: p99,
            reference: Some(P99_LIMIT_MS),
            factor: p99,
            need: format!("< {P99_LIMIT_MS} ms"),
            verdict: verdict(p99, |ms| ms < P99_LIMIT_MS),
        });
    }
    checks
}

fn verdict(value: Option<f64>, pass: impl Fn(f64) -> bool) -> Verdict {
    match value {
        None => Verdict::NotMeasured,
        Some(v) if pass(v) => Verdict::Pass,
        Some(_) => Verdict::Miss,
    }
}

/// A markdown table with columns padded to their widest cell; `right`
/// marks the right-aligned (numeric) columns.
pub fn markdown(header: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from("|");
        for (i, cell) in cells.iter().enumerate() {
            let pad = width[i].saturating_sub(cell.chars().count());
            if right.get(i).copied().unwrap_or(false) {
                let _ = write!(s, " {}{cell} |", " ".repeat(pad));
            } else {
                let _ = write!(s, " {cell}{} |", " ".repeat(pad));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    out.push_str(&line(
        (0..cols)
            .map(|i| {
                let dashes = "-".repeat(width[i].max(3));
                if right.get(i).copied().unwrap_or(false) {
                    format!("{}:", &dashes[1..])
                } else {
                    dashes
                }
            })
            .collect(),
    ));
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// The results table: one line per probe, system and connection count.
pub fn results_table(rows: &[Row]) -> String {
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.probe.clone(),
                r.system.clone(),
                r.connections.to_string(),
                format!("{:.0}", r.rps),
                format!("{:.2}", r.p50_ms),
                format!("{:.2}", r.p99_ms),
                format!("{:.1}", r.max_ms),
                r.errors.to_string(),
                r.server_rss_mib
                    .map_or_else(|| "n/a".to_owned(), |m| format!("{m:.0}")),
                r.server_cores
                    .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}")),
                r.client_cores
                    .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}")),
            ]
        })
        .collect();
    markdown(
        &[
            "probe",
            "server",
            "connections",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "errors",
            "server RSS MiB",
            "server cores",
            "client cores",
        ],
        &[
            false, false, true, true, true, true, true, true, true, true, true,
        ],
        &body,
    )
}

/// The targets table.
pub fn targets_table(checks: &[TargetCheck]) -> String {
    let number = |v: Option<f64>, unit: &str| {
        v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}{unit}"))
    };
    let body: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            let p99 = c.need.ends_with("ms");
            vec![
                c.target.clone(),
                c.connections.to_string(),
                number(c.ours, if p99 { " ms" } else { "" }),
                number(c.reference, if p99 { " ms" } else { "" }),
                if p99 {
                    number(c.factor, " ms")
                } else {
                    c.factor
                        .map_or_else(|| "n/a".to_owned(), |f| format!("{f:.2}×"))
                },
                c.need.clone(),
                c.verdict.text().to_owned(),
            ]
        })
        .collect();
    markdown(
        &[
            "target",
            "connections",
            "ours",
            "compared with",
            "factor",
            "need",
            "verdict",
        ],
        &[false, true, true, true, true, false, false],
        &body,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn row(system: &str, probe: &str, class: &str, c: usize, rps: f64, p99: f64) -> Row {
        Row {
            db: "PostgreSQL".into(),
            system: system.into(),
            probe: probe.into(),
            class: class.into(),
            connections: c,
            requests: (rps * 10.0) as u64,
            errors: 0,
            seconds: 10.0,
            rps,
            p50_ms: p99 / 2.0,
            p99_ms: p99,
            max_ms: p99 * 2.0,
            server_rss_mib: Some(50.0),
            server_cores: Some(1.5),
            client_cores: Some(0.5),
            first_error: None,
        }
    }

    fn get<'a>(checks: &'a [TargetCheck], prefix: &str, c: usize) -> &'a TargetCheck {
        checks
            .iter()
            .find(|t| t.target.starts_with(prefix) && t.connections == c)
            .unwrap()
    }

    #[test]
    fn ratios_against_postgraphile_pass_and_miss() {
        let rows = vec![
            row(LEADGRAPH, "first_page", "read", 16, 3000.0, 10.0),
            row(POSTGRAPHILE, "first_page", "read", 16, 1000.0, 30.0),
            row(LEADGRAPH, "by_id", "read", 16, 3000.0, 5.0),
            row(POSTGRAPHILE, "by_id", "read", 16, 2000.0, 9.0),
            row(LEADGRAPH, "filtered", "read", 16, 900.0, 9.0),
            row(LEADGRAPH, "filtered_count", "read", 16, 300.0, 9.0),
            row(POSTGRAPHILE, "filtered_count", "read", 16, 300.0, 9.0),
        ];
        let checks = evaluate(&rows);
        let first = get(&checks, "first_page ≥ 3×", 16);
        assert_eq!(first.verdict, Verdict::Pass);
        assert_eq!(first.factor, Some(3.0));
        let by_id = get(&checks, "by_id ≥ 2×", 16);
        assert_eq!(by_id.verdict, Verdict::Miss);
        assert_eq!(by_id.factor, Some(1.5));
        // Equal is "no slower".
        assert_eq!(
            get(&checks, "filtered_count ≥ 1×", 16).verdict,
            Verdict::Pass
        );
        // Ours without totalCount vs theirs with it.
        let filtered = get(&checks, "filtered (no totalCount)", 16);
        assert_eq!(filtered.factor, Some(3.0));
        assert_eq!(filtered.verdict, Verdict::Pass);
        // Not measured: no PostGraphile deep_page, no nested_page at all.
        assert_eq!(
            get(&checks, "deep_page ≥ 20×", 16).verdict,
            Verdict::NotMeasured
        );
        assert_eq!(
            get(&checks, "nested_page within", 16).verdict,
            Verdict::NotMeasured
        );
    }

    #[test]
    fn within_rules_compare_with_our_own_first_page() {
        let rows = vec![
            row(LEADGRAPH, "first_page", "read", 1, 1200.0, 1.0),
            row(LEADGRAPH, "deep_page", "read", 1, 1000.0, 1.2),
            row(LEADGRAPH, "nested_page", "read", 1, 700.0, 2.0),
        ];
        let checks = evaluate(&rows);
        let deep = get(&checks, "deep_page within", 1);
        assert!((deep.factor.unwrap() - 1.2).abs() < 1e-9);
        assert_eq!(deep.verdict, Verdict::Pass);
        let nested = get(&checks, "nested_page within", 1);
        assert!((nested.factor.unwrap() - 1200.0 / 700.0).abs() < 1e-9);
        assert_eq!(nested.verdict, Verdict::Miss);
    }

    #[test]
    fn p99_is_judged_at_64_connections_for_reads_only() {
        let rows = vec![
            row(LEADGRAPH, "first_page", "read", 16, 3000.0, 80.0),
            row(LEADGRAPH, "first_page", "read", 64, 3000.0, 49.0),
            row(LEADGRAPH, "by_id", "read", 64, 3000.0, 51.0),
            row(LEADGRAPH, "sync", "read", 16, 3000.0, 1.0),
            row(LEADGRAPH, "create_lead", "write", 64, 300.0, 500.0),
            row(POSTGRAPHILE, "deep_page", "read", 64, 10.0, 900.0),
        ];
        let checks = evaluate(&rows);
        let p99: Vec<&TargetCheck> = checks.iter().filter(|c| c.need.ends_with("ms")).collect();
        assert_eq!(p99.len(), 3, "{p99:?}");
        assert_eq!(p99[0].verdict, Verdict::Pass);
        assert_eq!(p99[1].verdict, Verdict::Miss);
        assert_eq!(p99[2].verdict, Verdict::NotMeasured);
        assert!(p99[2].target.starts_with("sync"));
    }

    #[test]
    fn tables_are_aligned_markdown() {
        let rows = vec![row(LEADGRAPH, "first_page", "read", 16, 3000.0, 10.0)];
        let table = results_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("| probe      | server    | connections | req/s |"));
        assert!(lines[1].starts_with("| ---------- | --------- | ----------: |"));
        assert!(lines[2].contains("| first_page | leadgraph |          16 |  3000 |"));
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{table}");
        let targets = targets_table(&evaluate(&rows));
        assert!(targets.contains("| first_page ≥ 3× PostGraphile"));
        assert!(targets.contains("| n/a"));
    }
}
