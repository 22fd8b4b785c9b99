//! The import pipeline: CSV rows in, validated leads (or per-row failures)
//! out, chunk by chunk, in file order.
//!
//! [`prepare_chunk`] maps and validates one chunk on the rayon pool.
//! [`prepare_stream`] runs the whole path over a reader in three stages on
//! their own threads: parsing (`CsvRecords`), preparing (`prepare_chunk`,
//! on rayon) and the caller, who consumes [`PreparedChunks`]. Parsing hands
//! over pieces of at most 1024 rows (a few may wait; more, up to a fixed
//! cap, while the phone metadata loads at the start), preparing hands the
//! caller whole chunks (one may wait), so memory stays bounded by a handful
//! of chunks whatever the file size. This is the code the server's import
//! job runs (from a blocking thread) and the code `leadgraph-bench batch`
//! measures.
//!
//! Every row gets a [`PreparedRow`], in order: a lead ready to store, or why
//! the row failed. A fatal [`CsvError`] (unreadable header, a mapping that
//! does not apply, I/O) ends the stream.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rayon::prelude::*;

use crate::csv::{Cells, CsvError, CsvRecords, RowError, SourceRow};
use crate::outcome::FieldError;
use crate::record::canonical::{custom_fields_map, trim, warm_up_phone};
use crate::record::mapping::{ImportOptions, Mapping, Target, merge_row_errors};
use crate::record::{CleanLead, validate_fields};

/// A row that passed validation, with where to find the import-only
/// attributes the server checks itself (they are not lead fields `batch`
/// validates): read them through [`PreparedRow::market`],
/// [`PreparedRow::source`] and [`PreparedRow::status`].
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedLead {
    /// The validated, canonical lead.
    pub lead: CleanLead,
    /// The column of the `market` cell, when mapped and not blank: the
    /// attributes are read from the row's cells instead of being copied
    /// (two allocations a row saved).
    market: Option<usize>,
    /// The column of the `source` cell, likewise.
    source: Option<usize>,
    /// The column of the `status` cell, likewise.
    status: Option<usize>,
}

/// Why a row produced no lead.
#[derive(Debug, Clone, PartialEq)]
pub enum RowFailure {
    /// The row could not be read (bad UTF-8, too many cells, too large).
    Row(RowError),
    /// The row was read but its fields are invalid: every problem, in field
    /// order (mapping problems such as a non-numeric score included).
    Fields(Vec<FieldError>),
}

/// One data row's result.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRow {
    /// 1-based data row (header and blank rows not counted).
    pub row_number: u64,
    /// 1-based physical line where the row starts.
    pub line: u64,
    /// The row's cells as read (not trimmed), for a failed-rows report;
    /// empty for a [`RowFailure::Row`] row, whose cells were not kept.
    pub cells: Cells,
    /// The lead, or why there is none.
    pub outcome: Result<PreparedLead, RowFailure>,
}

impl PreparedRow {
    /// The `market` cell of a row that passed validation, trimmed; `None`
    /// when blank or unmapped, or when the row failed.
    pub fn market(&self) -> Option<&str> {
        self.attribute(|lead| lead.market)
    }

    /// The `source` cell of a row that passed validation, trimmed (as
    /// [`PreparedRow::market`]).
    pub fn source(&self) -> Option<&str> {
        self.attribute(|lead| lead.source)
    }

    /// The `status` cell of a row that passed validation, trimmed (as
    /// [`PreparedRow::market`]).
    pub fn status(&self) -> Option<&str> {
        self.attribute(|lead| lead.status)
    }

    /// The cell of the column `column` picks, trimmed.
    fn attribute(&self, column: impl FnOnce(&PreparedLead) -> Option<usize>) -> Option<&str> {
        let column = column(self.outcome.as_ref().ok()?)?;
        self.cells.get(column).map(trim)
    }
}

/// The phone region of a row: its market cell when that is two ASCII
/// letters (uppercased), else `default_market`.
fn row_region<'a>(
    market: Option<&str>,
    default_market: Option<&'a str>,
    buf: &'a mut [u8; 2],
) -> Option<&'a str> {
    match market.map(str::as_bytes) {
        Some(&[a, b]) if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            *buf = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
            std::str::from_utf8(buf).ok()
        }
        _ => default_market,
    }
}

/// Maps and validates one row (see [`prepare_chunk`]).
fn prepare_row(
    mapping: &Mapping,
    row: Result<SourceRow, RowError>,
    default_market: Option<&str>,
) -> PreparedRow {
    let row = match row {
        Ok(row) => row,
        Err(error) => {
            return PreparedRow {
                row_number: error.row_number,
                line: error.line,
                cells: Cells::default(),
                outcome: Err(RowFailure::Row(error)),
            };
        }
    };
    // `map_row` + `validate_new` + `with_row_errors`, without copying the
    // cells into a `RawLead` first.
    let mut mapped = mapping.map_cells(&row.raw);
    let mut buf = [0; 2];
    let region = row_region(mapped.market, default_market, &mut buf);
    let custom = custom_fields_map(std::mem::take(&mut mapped.custom));
    let outcome = merge_row_errors(
        &mapped.row_errors,
        validate_fields(&mapped.lead(), custom, region),
    );
    // A mapped attribute's column, when its cell is not blank.
    let column = |target: Target, cell: Option<&str>| cell.and(mapping.column_of(target));
    let outcome = match outcome {
        Ok(lead) => Ok(PreparedLead {
            lead,
            market: column(Target::Market, mapped.market),
            source: column(Target::Source, mapped.source),
            status: column(Target::Status, mapped.status),
        }),
        Err(errors) => Err(RowFailure::Fields(errors)),
    };
    PreparedRow {
        row_number: row.row_number,
        line: row.line,
        cells: row.raw,
        outcome,
    }
}

/// Maps (`Mapping::map_row`) and validates (`validate_new`) a chunk on the
/// rayon pool, order kept: result `i` belongs to `rows[i]`.
///
/// The phone region of a row is its market cell (trimmed, uppercased) when
/// that is two letters, else `default_market`. The result is exactly what
/// `map_row` + `validate_new` + `MappedRow::with_row_errors` give row by row.
pub fn prepare_chunk(
    mapping: &Mapping,
    rows: Vec<Result<SourceRow, RowError>>,
    default_market: Option<&str>,
) -> Vec<PreparedRow> {
    rows.into_par_iter()
        .with_min_len(64)
        .map(|row| prepare_row(mapping, row, default_market))
        .collect()
}

type Chunk<T> = Result<Vec<T>, CsvError>;

/// Rows the parsing stage hands over at a time: a caller's chunk is parsed
/// and prepared in pieces of this size, so a piece is still in the cache
/// when it is prepared, and preparing starts before a whole chunk is read.
const PIECE_ROWS: usize = 1024;

/// Pieces that may wait between parsing and preparing.
const HANDOFF_PIECES: usize = 4;

/// Input bytes the parsing stage may read ahead (besides
/// [`HANDOFF_PIECES`]) while the preparing stage loads the phone metadata:
/// that load takes one core ~0.1 s, in which parsing would otherwise stop
/// after a few pieces and leave the other core idle. Counted in input bytes
/// so that wide rows do not multiply the memory: parsed rows take about
/// four times their input, so ~32 MB, once, at the start (~70,000 rows of
/// 120 bytes; parsing them takes about half as long as the load, and more
/// measured no faster).
const WARM_UP_BYTES: u64 = 8 * 1024 * 1024;

/// Prepared chunks that may wait for the caller (besides the one the
/// preparing stage is filling).
const HANDOFF_CHUNKS: usize = 1;

/// The prepared chunks of a CSV stream, in file order (see [`prepare_stream`]).
///
/// Each item is one non-empty chunk, or a fatal [`CsvError`] after which the
/// iterator ends. Dropping it early stops the worker threads at their next
/// hand-over.
pub struct PreparedChunks {
    headers: Vec<String>,
    mapping: Mapping,
    bytes_read: Arc<AtomicU64>,
    chunks: Option<Receiver<Chunk<PreparedRow>>>,
    workers: Vec<JoinHandle<()>>,
}

impl PreparedChunks {
    /// The header cells as read (for a failed-rows CSV).
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// How the header's columns map to lead fields.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Bytes of input parsed so far (BOM included), for progress reports;
    /// runs ahead of the chunks yielded by a few chunks at most (by up to
    /// 8 MiB of input more just after the start).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Ends the stream; a worker that panicked becomes an error item.
    fn finish(&mut self) -> Option<Chunk<PreparedRow>> {
        self.chunks = None;
        // `fold`, not `any`: every worker must be joined, not just up to the
        // first that panicked.
        #[allow(clippy::unnecessary_fold)]
        let panicked = self
            .workers
            .drain(..)
            .fold(false, |panicked, worker| worker.join().is_err() || panicked);
        panicked.then(|| {
            Err(CsvError::Io(std::io::Error::other(
                "an import worker thread panicked",
            )))
        })
    }
}

impl Iterator for PreparedChunks {
    type Item = Result<Vec<PreparedRow>, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        let received = self.chunks.as_ref()?.recv();
        match received {
            Ok(Ok(chunk)) => Some(Ok(chunk)),
            Ok(Err(error)) => {
                // Fatal: the workers stop after sending it.
                let _ = self.finish();
                Some(Err(error))
            }
            Err(_) => self.finish(),
        }
    }
}

impl std::fmt::Debug for PreparedChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedChunks")
            .field("headers", &self.headers)
            .field("bytes_read", &self.bytes_read())
            .finish_non_exhaustive()
    }
}

/// Streams `reader` as CSV in chunks of `chunk_rows` rows, parsing on one
/// thread and mapping + validating ([`prepare_chunk`]) on another (which
/// uses the rayon pool), so parsing overlaps validation and both overlap
/// the caller's work on the previous chunk. Chunks come out in file order.
///
/// The header is read and mapped before this returns, so a bad header or
/// mapping is the `Err` here ([`CsvError::Empty`], [`CsvError::Mapping`],
/// …). Later, a failure to read the input is an `Err` item that ends the
/// iterator. Per-row problems are [`RowFailure`]s, never errors.
pub fn prepare_stream<R: Read + Send + 'static>(
    reader: R,
    options: ImportOptions,
    default_market: Option<String>,
    chunk_rows: usize,
) -> Result<PreparedChunks, CsvError> {
    let records = CsvRecords::new(reader, &options)?;
    let headers = records.headers().to_vec();
    let mapping = records.mapping().clone();
    let bytes_read = Arc::new(AtomicU64::new(records.bytes_read()));

    // Bounded channels: a stage runs only a little ahead of the next, so
    // memory stays bounded, while a stage that is briefly slower (or
    // descheduled) does not stall the others at once.
    let (raw_tx, raw_rx) = sync_channel(HANDOFF_PIECES);
    let (out_tx, out_rx) = sync_channel(HANDOFF_CHUNKS);
    let progress = Arc::clone(&bytes_read);
    let warming = Arc::new(AtomicBool::new(true));
    let parse_warming = Arc::clone(&warming);
    let parser = std::thread::Builder::new()
        .name("csv-parse".to_owned())
        .spawn(move || {
            let mut handoff = Handoff {
                tx: raw_tx,
                backlog: VecDeque::new(),
                backlog_bytes: 0,
                warming: parse_warming,
            };
            parse_stage(records, chunk_rows, &progress, &mut handoff);
        })
        .map_err(CsvError::Io)?;
    let stage_mapping = mapping.clone();
    let preparer = std::thread::Builder::new()
        .name("csv-prepare".to_owned())
        .spawn(move || {
            prepare_stage(
                &stage_mapping,
                default_market.as_deref(),
                chunk_rows,
                &warming,
                &raw_rx,
                &out_tx,
            );
        })
        .map_err(CsvError::Io)?;
    Ok(PreparedChunks {
        headers,
        mapping,
        bytes_read,
        chunks: Some(out_rx),
        workers: vec![parser, preparer],
    })
}

/// The parsing stage's end of the hand-over to the preparing stage.
struct Handoff {
    tx: SyncSender<Chunk<Result<SourceRow, RowError>>>,
    /// Pieces read ahead while the preparing stage warms up, oldest first,
    /// with the input bytes each was read from.
    backlog: VecDeque<(Chunk<Result<SourceRow, RowError>>, u64)>,
    /// Input bytes of the pieces in `backlog`.
    backlog_bytes: u64,
    /// The preparing stage is still loading the phone metadata.
    warming: Arc<AtomicBool>,
}

impl Handoff {
    /// Passes `piece` (read from `bytes` of input) on after any backlog, in
    /// order. Blocks while the channel is full, except during the warm-up,
    /// when pieces of up to [`WARM_UP_BYTES`] wait in the backlog instead.
    /// `false` when the receiver is gone.
    fn send(&mut self, piece: Chunk<Result<SourceRow, RowError>>, bytes: u64) -> bool {
        self.backlog.push_back((piece, bytes));
        self.backlog_bytes += bytes;
        self.flush(false)
    }

    /// Sends the backlog, blocking until all of it is taken when `all` (or
    /// when the warm-up is over or the backlog is full). `false` when the
    /// receiver is gone.
    fn flush(&mut self, all: bool) -> bool {
        while let Some((piece, bytes)) = self.backlog.pop_front() {
            match self.tx.try_send(piece) {
                Ok(()) => self.backlog_bytes -= bytes,
                Err(TrySendError::Full(piece)) => {
                    let wait = all
                        || self.backlog_bytes > WARM_UP_BYTES
                        || !self.warming.load(Ordering::Acquire);
                    if !wait {
                        self.backlog.push_front((piece, bytes));
                        return true;
                    }
                    self.backlog_bytes -= bytes;
                    if self.tx.send(piece).is_err() {
                        return false;
                    }
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        true
    }
}

/// Reads the input in pieces of at most [`PIECE_ROWS`] rows that tile the
/// caller's chunks (a chunk of `chunk_rows` is read as several pieces, the
/// last one cut to fit), until the input ends, a fatal error (sent on), or
/// the receiver is gone.
fn parse_stage<R: Read>(
    mut records: CsvRecords<R>,
    chunk_rows: usize,
    progress: &AtomicU64,
    handoff: &mut Handoff,
) {
    let chunk_rows = chunk_rows.max(1);
    let mut left = chunk_rows;
    loop {
        let start = records.bytes_read();
        let piece = records.next_chunk(left.min(PIECE_ROWS));
        progress.store(records.bytes_read(), Ordering::Relaxed);
        match piece {
            Ok(rows) if rows.is_empty() => break,
            Ok(rows) => {
                left -= rows.len();
                if left == 0 {
                    left = chunk_rows;
                }
                if !handoff.send(Ok(rows), records.bytes_read() - start) {
                    return;
                }
            }
            Err(error) => {
                handoff.send(Err(error), 0);
                break;
            }
        }
    }
    handoff.flush(true);
}

/// Prepares each piece as it arrives and passes the rows on in chunks of
/// `chunk_rows` (the last one shorter), or the fatal error. Rows of a chunk
/// that a fatal error cuts short are dropped, as `CsvRecords::next_chunk`
/// drops them.
fn prepare_stage(
    mapping: &Mapping,
    default_market: Option<&str>,
    chunk_rows: usize,
    warming: &AtomicBool,
    rx: &Receiver<Chunk<Result<SourceRow, RowError>>>,
    tx: &SyncSender<Chunk<PreparedRow>>,
) {
    // The phone metadata loads once per process; loading it here overlaps
    // it with parsing the first rows (the parsing stage reads further ahead
    // until `warming` clears) instead of stalling the rayon pool.
    if mapping.column_of(Target::Phone).is_some() {
        warm_up_phone();
    }
    warming.store(false, Ordering::Release);
    let chunk_rows = chunk_rows.max(1);
    let mut chunk = Vec::new();
    for piece in rx {
        let rows = match piece {
            Ok(rows) => rows,
            Err(error) => {
                let _ = tx.send(Err(error));
                return;
            }
        };
        if chunk.capacity() == 0 {
            // Room for the whole chunk (within reason: `chunk_rows` is the
            // caller's, as in `CsvRecords::next_chunk`).
            chunk.reserve_exact(chunk_rows.min(16 * 1024));
        }
        // Prepared rows are written straight into the chunk, in order.
        chunk.par_extend(
            rows.into_par_iter()
                .with_min_len(64)
                .map(|row| prepare_row(mapping, row, default_market)),
        );
        if chunk.len() >= chunk_rows && tx.send(Ok(std::mem::take(&mut chunk))).is_err() {
            return;
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(Ok(chunk));
    }
}

mod seen;

pub use seen::SeenKeys;

#[cfg(test)]
mod tests;
