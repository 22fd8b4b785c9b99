//! Helpers every benchmark shares: peak memory and the results file.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// The process's peak resident set size in bytes (`VmHWM` in
/// `/proc/self/status`); `None` where that file does not exist.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time (user + system) the process has used so far, in seconds, from
/// `/proc/self/stat` (USER_HZ is 100 on Linux); `None` elsewhere. With the
/// wall time it shows how many cores were busy, and on a shared machine it
/// is the steadier figure.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Peak RSS in MiB, or `"n/a"`.
pub fn peak_rss_text() -> String {
    peak_rss_bytes().map_or_else(
        || "n/a".to_owned(),
        |b| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    )
}

/// Appends `line` (plus a newline) to the results file at `path`.
pub fn append_result(path: &Path, line: &str) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening results file {}", path.display()))?;
    writeln!(file, "{line}").with_context(|| format!("writing {}", path.display()))
}

/// Rows per second, guarding against a zero duration.
pub fn per_second(rows: u64, seconds: f64) -> f64 {
    rows as f64 / seconds.max(1e-9)
}
