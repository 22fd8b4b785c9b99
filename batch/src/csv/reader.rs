//! [`CsvRecords`]: the streaming reader.
//!
//! We drive `csv-core` over our own buffer rather than use `csv::Reader`
//! because we need two things it does not give: the physical line where a
//! record starts even after skipped blank lines (we skip line breaks between
//! records ourselves, then hand `csv-core` the line number), and a bound on
//! one record's size (`csv::Reader` grows a record without limit, so an
//! unclosed quote would pull the rest of the file into memory).

use std::io::{self, Read};

use csv_core::{ReadRecordResult, Reader as Parser, ReaderBuilder};

use super::{
    CsvError, MAX_FIELDS, MAX_RECORD_BYTES, RowError, RowErrorCode, SNIFF_BYTES, Sniffed,
    SourceRow, UTF8_BOM, sniff,
};
use crate::record::mapping::{ImportOptions, Mapping};

/// Size of the read buffer.
const BUF_BYTES: usize = 64 * 1024;

/// A streaming, row-by-row CSV reader with the header already mapped.
///
/// Iterating yields `Ok(SourceRow)` per data row, `Err(CsvError::Row(_))`
/// for a row that could not be read (iteration goes on), and at most one
/// fatal error (iteration then ends). [`CsvRecords::next_chunk`] gives the
/// same rows in batches, with per-row and fatal errors kept apart.
pub struct CsvRecords<R> {
    records: Records<R>,
    sniffed: Sniffed,
    headers: Vec<String>,
    mapping: Mapping,
    row_number: u64,
    done: bool,
}

impl<R: Read> CsvRecords<R> {
    /// Sniffs the format, skips the BOM, reads the header (the first
    /// non-blank record) and builds the column mapping.
    ///
    /// Errors: [`CsvError::Empty`] when there is no header line,
    /// [`CsvError::HeaderNotUtf8`], [`CsvError::HeaderTooLarge`],
    /// [`CsvError::Mapping`] and [`CsvError::Io`].
    pub fn new(reader: R, options: &ImportOptions) -> Result<Self, CsvError> {
        let mut input = Input::new(reader);
        input.fill_to(SNIFF_BYTES)?;
        let sniffed = sniff(input.buffered());
        if sniffed.has_bom {
            input.consume(UTF8_BOM.len());
        }
        let mut records = Records::new(input, sniffed.delimiter);
        let headers = read_header(&mut records)?;
        let mapping = Mapping::new(&headers, options)?;
        Ok(Self {
            records,
            sniffed,
            headers,
            mapping,
            row_number: 0,
            done: false,
        })
    }

    /// The header cells as read.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// How the header's columns map to lead fields.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The detected BOM and delimiter.
    pub fn sniffed(&self) -> Sniffed {
        self.sniffed
    }

    /// Bytes of input consumed so far (BOM included), for progress reports.
    pub fn bytes_read(&self) -> u64 {
        self.records.input.consumed
    }

    /// Reads the next data row: `Ok(None)` at the end of the input,
    /// `Ok(Some(Err(_)))` for a row that could not be read (the next call
    /// goes on with the row after it), `Err(_)` when reading failed.
    pub fn read_row(&mut self) -> Result<Option<Result<SourceRow, RowError>>, CsvError> {
        if self.done {
            return Ok(None);
        }
        let header_len = self.headers.len();
        loop {
            let record = match self.records.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => {
                    self.done = true;
                    return Ok(None);
                }
                Err(error) => {
                    self.done = true;
                    return Err(error.into());
                }
            };
            if record.is_blank() {
                continue;
            }
            self.row_number += 1;
            return Ok(Some(record.into_row(self.row_number, header_len)));
        }
    }

    /// Reads up to `max` rows (at least one); an empty vector means the
    /// input is exhausted. Per-row problems are `Err` items; a failure to
    /// read the input is the outer `Err` (rows already read in this call
    /// are then dropped: the import cannot go on anyway).
    pub fn next_chunk(&mut self, max: usize) -> Result<Vec<Result<SourceRow, RowError>>, CsvError> {
        let max = max.max(1);
        let mut chunk = Vec::with_capacity(max.min(16 * 1024));
        while chunk.len() < max {
            match self.read_row()? {
                Some(row) => chunk.push(row),
                None => break,
            }
        }
        Ok(chunk)
    }
}

impl<R: Read> Iterator for CsvRecords<R> {
    type Item = Result<SourceRow, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.read_row() {
            Ok(Some(row)) => Some(row.map_err(CsvError::Row)),
            Ok(None) => None,
            Err(error) => Some(Err(error)),
        }
    }
}

impl<R> std::fmt::Debug for CsvRecords<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvRecords")
            .field("sniffed", &self.sniffed)
            .field("headers", &self.headers)
            .field("row_number", &self.row_number)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// The first non-blank record, as UTF-8 strings.
fn read_header<R: Read>(records: &mut Records<R>) -> Result<Vec<String>, CsvError> {
    loop {
        let record = records.next_record()?.ok_or(CsvError::Empty)?;
        if record.oversize {
            return Err(CsvError::HeaderTooLarge);
        }
        if record.is_blank() {
            continue;
        }
        return record
            .cells()
            .enumerate()
            .map(|(i, cell)| {
                std::str::from_utf8(cell)
                    .map(str::to_owned)
                    .map_err(|_| CsvError::HeaderNotUtf8 { column: i + 1 })
            })
            .collect();
    }
}

/// The byte source with its buffer.
struct Input<R> {
    reader: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
    consumed: u64,
}

impl<R: Read> Input<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buf: vec![0; BUF_BYTES].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            consumed: 0,
        }
    }

    /// Reads until `want` bytes are buffered or the input ends (for sniffing:
    /// one `read` may return only a few bytes).
    fn fill_to(&mut self, want: usize) -> io::Result<()> {
        while self.len < want.min(self.buf.len()) && !self.eof {
            self.read_more()?;
        }
        Ok(())
    }

    /// One successful `read` into the free end of the buffer (retrying
    /// `Interrupted`); sets `eof` when it returns 0.
    fn read_more(&mut self) -> io::Result<()> {
        loop {
            match self.reader.read(&mut self.buf[self.len..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            return Ok(());
        }
    }

    /// The buffered, unconsumed bytes.
    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.len]
    }

    /// The unconsumed bytes, refilling when none are left; empty only at
    /// the end of the input.
    fn available(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.len && !self.eof {
            self.pos = 0;
            self.len = 0;
            self.read_more()?;
        }
        Ok(self.buffered())
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.consumed += n as u64;
    }
}

/// Records as byte cells, with exact start lines and bounded size.
struct Records<R> {
    input: Input<R>,
    parser: Parser,
    fields: Vec<u8>,
    ends: Vec<usize>,
    /// The physical line of the next unconsumed byte (1-based).
    line: u64,
}

/// One parsed record, borrowed from the reader's buffers.
struct Record<'a> {
    line: u64,
    fields: &'a [u8],
    ends: &'a [usize],
    /// Over a size limit: `fields` and `ends` are not meaningful.
    oversize: bool,
}

impl<R: Read> Records<R> {
    fn new(input: Input<R>, delimiter: u8) -> Self {
        Self {
            input,
            parser: ReaderBuilder::new().delimiter(delimiter).build(),
            fields: vec![0; 4 * 1024],
            ends: vec![0; 64],
            line: 1,
        }
    }

    /// The next record, or `None` at the end of the input.
    fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        // Skip the line breaks before the record ourselves (csv-core would
        // skip them too, but then we could not tell where the record starts).
        loop {
            let input = self.input.available()?;
            if input.is_empty() {
                return Ok(None);
            }
            let skip = input
                .iter()
                .position(|b| !matches!(b, b'\r' | b'\n'))
                .unwrap_or(input.len());
            let found = skip < input.len();
            self.line += input[..skip].iter().filter(|b| **b == b'\n').count() as u64;
            self.input.consume(skip);
            if found {
                break;
            }
        }
        let line = self.line;
        self.parser.set_line(line);
        let (mut nout, mut nend, mut oversize) = (0, 0, false);
        loop {
            let input = self.input.available()?;
            let (result, nin, out, end) =
                self.parser
                    .read_record(input, &mut self.fields[nout..], &mut self.ends[nend..]);
            self.input.consume(nin);
            nout += out;
            nend += end;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull if self.fields.len() < MAX_RECORD_BYTES => {
                    let len = (self.fields.len() * 2).min(MAX_RECORD_BYTES);
                    self.fields.resize(len, 0);
                }
                ReadRecordResult::OutputFull => {
                    // Keep parsing to the record's end, discarding its bytes.
                    oversize = true;
                    nout = 0;
                }
                ReadRecordResult::OutputEndsFull if self.ends.len() < MAX_FIELDS => {
                    let len = (self.ends.len() * 2).min(MAX_FIELDS);
                    self.ends.resize(len, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    oversize = true;
                    nend = 0;
                }
                ReadRecordResult::Record => {
                    self.line = self.parser.line();
                    return Ok(Some(Record {
                        line,
                        fields: &self.fields[..nout],
                        ends: &self.ends[..nend],
                        oversize,
                    }));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }
}

impl Record<'_> {
    /// The cells' bytes, in order.
    fn cells(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let cell = self.fields.get(start..end).unwrap_or_default();
            start = end;
            cell
        })
    }

    /// Every cell empty or ASCII whitespace (a blank line, `,,,`).
    fn is_blank(&self) -> bool {
        !self.oversize && self.fields.iter().all(u8::is_ascii_whitespace)
    }

    /// Checks the record and turns it into an owned row.
    fn into_row(self, row_number: u64, header_len: usize) -> Result<SourceRow, RowError> {
        let error = |code, message: String| RowError {
            row_number,
            line: self.line,
            code,
            message,
        };
        if self.oversize {
            return Err(error(
                RowErrorCode::RowTooLarge,
                format!(
                    "row is larger than {MAX_RECORD_BYTES} bytes or has more than {MAX_FIELDS} cells"
                ),
            ));
        }
        let extra = self
            .cells()
            .skip(header_len)
            .any(|cell| !cell.iter().all(u8::is_ascii_whitespace));
        if extra {
            return Err(error(
                RowErrorCode::TooManyFields,
                format!(
                    "row has {} cells but the header has {header_len}; quote values that contain the delimiter",
                    self.ends.len()
                ),
            ));
        }
        // One UTF-8 check for the whole record when every cell boundary is
        // a character boundary (the usual case); per cell otherwise, to name
        // the first bad cell.
        if let Ok(text) = std::str::from_utf8(self.fields)
            && self.ends.iter().all(|end| text.is_char_boundary(*end))
        {
            let mut start = 0;
            let raw = self
                .ends
                .iter()
                .map(|&end| {
                    let cell = text.get(start..end).unwrap_or_default().to_owned();
                    start = end;
                    cell
                })
                .collect();
            return Ok(SourceRow {
                row_number,
                line: self.line,
                raw,
            });
        }
        let mut raw = Vec::with_capacity(self.ends.len());
        for (i, cell) in self.cells().enumerate() {
            match std::str::from_utf8(cell) {
                Ok(text) => raw.push(text.to_owned()),
                Err(_) => {
                    return Err(error(
                        RowErrorCode::InvalidEncoding,
                        format!("cell {} is not valid UTF-8", i + 1),
                    ));
                }
            }
        }
        Ok(SourceRow {
            row_number,
            line: self.line,
            raw,
        })
    }
}
