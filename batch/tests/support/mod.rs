//! Shared helpers for the CSV tests: run a file through the whole import
//! path (read, map, validate) and describe each row's outcome as one line.

#![allow(dead_code, clippy::unwrap_used)] // test helpers, outside #[test] fns

use std::io::{self, Cursor, Read};

use batch::csv::{CsvRecords, RowError};
use batch::{
    ChunkItem, CleanLead, FieldError, ImportOptions, MappedRow, RowFailure, process_chunk,
};

/// A reader that returns at most `step` bytes per `read`, to cross every
/// buffer boundary.
pub struct Trickle<'a> {
    pub bytes: &'a [u8],
    pub step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Every row of `bytes` (read in chunks of 3 through a 5-byte trickle),
/// mapped and validated with default region `US`, one line per row:
///
/// - `"<row>@<line> ok <email> | <first> | <last>[ key=value…]"`
/// - `"<row>@<line> invalid <field>:<code>, …"`
/// - `"<row>@<line> row_error <code>"`
///
/// The same file through `prepare_stream` (the pipelined path the server
/// runs) must give the same lines; this asserts it.
pub fn outcomes(bytes: &[u8], options: &ImportOptions) -> Vec<String> {
    let direct = outcomes_row_by_row(bytes, options);
    assert_eq!(
        outcomes_pipelined(bytes, options),
        direct,
        "prepare_stream disagrees with map_row + process_chunk"
    );
    direct
}

/// [`outcomes`] through `batch::prepare_stream` in chunks of 2.
pub fn outcomes_pipelined(bytes: &[u8], options: &ImportOptions) -> Vec<String> {
    let stream = batch::prepare_stream(
        Cursor::new(bytes.to_vec()),
        options.clone(),
        Some("US".into()),
        2,
    )
    .unwrap();
    let mut out = Vec::new();
    for chunk in stream {
        for row in chunk.unwrap() {
            let owned = |cell: Option<&str>| cell.map(str::to_owned);
            let extra = [
                ("status", owned(row.status())),
                ("source", owned(row.source())),
                ("market", owned(row.market())),
            ];
            let text = match row.outcome {
                Err(RowFailure::Row(e)) => format!("row_error {}", e.code),
                Err(RowFailure::Fields(errors)) => describe_parts(Err(errors), None),
                Ok(p) => describe_parts(Ok(p.lead), Some(extra)),
            };
            out.push(format!("{}@{} {text}", row.row_number, row.line));
        }
    }
    out
}

fn outcomes_row_by_row(bytes: &[u8], options: &ImportOptions) -> Vec<String> {
    let reader = Trickle { bytes, step: 5 };
    let mut records = CsvRecords::new(reader, options).unwrap();
    let mut out = Vec::new();
    loop {
        let chunk = records.next_chunk(3).unwrap();
        if chunk.is_empty() {
            return out;
        }
        let mapped: Vec<(u64, u64, Result<MappedRow, RowError>)> = chunk
            .into_iter()
            .map(|row| match row {
                Ok(row) => (
                    row.row_number,
                    row.line,
                    Ok(records.mapping().map_row(&row)),
                ),
                Err(e) => (e.row_number, e.line, Err(e)),
            })
            .collect();
        let items: Vec<ChunkItem<'_>> = mapped
            .iter()
            .filter_map(|(_, _, m)| m.as_ref().ok())
            .map(|m| ChunkItem {
                raw: &m.raw,
                default_region: Some("US"),
            })
            .collect();
        let mut results = process_chunk(&items).into_iter();
        for (row, line, m) in &mapped {
            let text = match m {
                Err(e) => format!("row_error {}", e.code),
                Ok(m) => describe(m, m.with_row_errors(results.next().unwrap())),
            };
            out.push(format!("{row}@{line} {text}"));
        }
    }
}

fn describe(m: &MappedRow, outcome: Result<CleanLead, Vec<FieldError>>) -> String {
    let extra = [
        ("status", m.status.clone()),
        ("source", m.source.clone()),
        ("market", m.market.clone()),
    ];
    describe_parts(outcome, Some(extra))
}

fn describe_parts(
    outcome: Result<CleanLead, Vec<FieldError>>,
    extra: Option<[(&str, Option<String>); 3]>,
) -> String {
    match outcome {
        Err(errors) => {
            let list: Vec<String> = errors
                .iter()
                .map(|e| format!("{}:{}", e.field, e.code))
                .collect();
            format!("invalid {}", list.join(", "))
        }
        Ok(lead) => {
            let mut s = format!(
                "ok {} | {} | {}",
                lead.email.display, lead.first_name, lead.last_name
            );
            let mut add = |k: &str, v: Option<String>| {
                if let Some(v) = v {
                    s.push_str(&format!(" {k}={v}"));
                }
            };
            add("phone", lead.phone.map(|p| p.into_string()));
            add("company", lead.company);
            add("title", lead.job_title);
            add(
                "score",
                (lead.score.value() != 0).then(|| lead.score.value().to_string()),
            );
            for (key, value) in extra.into_iter().flatten() {
                add(key, value);
            }
            add(
                "custom",
                (!lead.custom_fields.is_empty())
                    .then(|| serde_json::Value::Object(lead.custom_fields).to_string()),
            );
            s
        }
    }
}

/// Lines of `text` joined with `\r\n` or `\n`.
pub fn lines(text: &[&str], crlf: bool) -> Vec<u8> {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut out = text.join(eol);
    out.push_str(eol);
    out.into_bytes()
}
