//! [`CsvRecords`]: the streaming reader.
//!
//! We drive `csv-core` over our own buffer rather than use `csv::Reader`
//! because we need two things it does not give: the physical line where a
//! record starts even after skipped blank lines (we skip line breaks between
//! records ourselves, then hand `csv-core` the line number), and a bound on
//! one record's size (`csv::Reader` grows a record without limit, so an
//! unclosed quote would pull the rest of the file into memory). Records
//! without quotes skip `csv-core` (see `Records::unquoted_record`).

use std::io::{self, Read};

use csv_core::{ReadRecordResult, Reader as Parser, ReaderBuilder};

use super::{
    Cells, CsvError, MAX_FIELDS, MAX_RECORD_BYTES, RowError, RowErrorCode, SNIFF_BYTES, Sniffed,
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
        Self::with_fast_path(reader, options, true)
    }

    /// [`CsvRecords::new`], with or without [`Records::unquoted_record`].
    fn with_fast_path(reader: R, options: &ImportOptions, fast: bool) -> Result<Self, CsvError> {
        let mut input = Input::new(reader);
        input.fill_to(SNIFF_BYTES)?;
        let sniffed = sniff(input.buffered());
        if sniffed.has_bom {
            input.consume(UTF8_BOM.len());
        }
        let mut records = Records::new(input, sniffed.delimiter);
        records.fast = fast;
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
    /// The delimiter.
    delimiter: u8,
    /// Whether [`Records::unquoted_record`] may be used (the tests turn it
    /// off to compare it with `csv-core` alone).
    fast: bool,
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
            delimiter,
            fast: true,
        }
    }

    /// The fast path of [`Records::next_record`], at the start of a record:
    /// a record with no `"` whose line break is already buffered is split
    /// on the delimiter here, which is what `csv-core` would do with it (an
    /// unquoted cell runs to the next delimiter or line break, every other
    /// byte taken as it is), with a SIMD search for the line end and any
    /// `"` and a word-at-a-time one for the delimiters instead of
    /// `csv-core`'s state machine, which costs about 14 instructions a byte
    /// (a seventh of the import's work; this path, about two thirds of
    /// that). Like `csv-core` it consumes the record and the one `\r` or
    /// `\n` that ends it. The cells' length and count in `fields` and
    /// `ends`, or `None` (nothing consumed) for `csv-core` to read the
    /// record: a `"`, no line break buffered (the end of the input included,
    /// and any record longer than the 64 KiB buffer), or the record does not
    /// fit the buffers.
    fn unquoted_record(&mut self) -> Option<(usize, usize)> {
        let input = self.input.buffered();
        let len = memchr::memchr2(b'\n', b'\r', input)?;
        let record = input.get(..len)?;
        if memchr::memchr(b'"', record).is_some() {
            return None;
        }
        let (mut start, mut nout, mut nend) = (0, 0, 0);
        let mut cell_end = |end: usize| -> Option<()> {
            let cell = record.get(start..end)?;
            self.fields
                .get_mut(nout..nout + cell.len())?
                .copy_from_slice(cell);
            nout += cell.len();
            *self.ends.get_mut(nend)? = nout;
            nend += 1;
            start = end + 1;
            Some(())
        };
        for_each_byte(record, self.delimiter, &mut cell_end)?;
        cell_end(len)?;
        // `csv-core` stops at a full `fields` even when the record ends
        // there (then `next_record` grows it, or calls the row oversize).
        if nout == self.fields.len() {
            return None;
        }
        let newline = input.get(len) == Some(&b'\n');
        self.input.consume(len + 1);
        self.line += u64::from(newline);
        Some((nout, nend))
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
        if self.fast
            && let Some((nout, nend)) = self.unquoted_record()
        {
            return Ok(Some(Record {
                line,
                fields: &self.fields[..nout],
                ends: &self.ends[..nend],
                oversize: false,
            }));
        }
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

/// Calls `f` with the position of each `byte` in `haystack`, in order,
/// until it returns `None` (then so does this). Eight bytes at a time: a
/// record's cells are short, so a SIMD search per cell (`memchr_iter`) costs
/// more in setting up than it saves.
fn for_each_byte(haystack: &[u8], byte: u8, mut f: impl FnMut(usize) -> Option<()>) -> Option<()> {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let pattern = u64::from_le_bytes([byte; 8]);
    let mut words = haystack.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let x = <[u8; 8]>::try_from(word).map_or(u64::MAX, u64::from_le_bytes) ^ pattern;
        // Bit 7 of each byte of `x` that is zero (a `byte` of the word):
        // `(b & 0x7F) + 0x7F` sets bit 7 of every non-zero byte `b` of `x`
        // without carrying into the next, and so does `| b`.
        let mut found = !(((x & LOW7) + LOW7) | x | LOW7);
        while found != 0 {
            f(base + found.trailing_zeros() as usize / 8)?;
            found &= found - 1;
        }
        base += 8;
    }
    for (i, b) in words.remainder().iter().enumerate() {
        if *b == byte {
            f(base + i)?;
        }
    }
    Some(())
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
        // the first bad cell. The row's cells are one copy of the record's
        // buffer (see `Cells`), not one string per cell.
        if let Ok(text) = std::str::from_utf8(self.fields)
            && self.ends.iter().all(|end| text.is_char_boundary(*end))
        {
            return Ok(SourceRow {
                row_number,
                line: self.line,
                raw: Cells::from_parts(text.to_owned(), self.ends),
            });
        }
        let mut text = String::with_capacity(self.fields.len());
        for (i, cell) in self.cells().enumerate() {
            match std::str::from_utf8(cell) {
                Ok(cell) => text.push_str(cell),
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
            raw: Cells::from_parts(text, self.ends),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    /// A reader that returns at most `step` bytes per `read`.
    struct Chunked<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// Everything a reader tells about `bytes`: the header (or the error),
    /// then each row or row error with the bytes read after it.
    fn read_all(bytes: &[u8], step: usize, fast: bool) -> Vec<String> {
        let reader = Chunked { bytes, step };
        let mut records = match CsvRecords::with_fast_path(reader, &ImportOptions::default(), fast)
        {
            Ok(records) => records,
            Err(error) => return vec![format!("{error:?}")],
        };
        let mut out = vec![format!("{:?} {:?}", records.sniffed(), records.headers())];
        loop {
            let row = records.read_row();
            let done = !matches!(row, Ok(Some(_)));
            out.push(format!("{row:?} @{}", records.bytes_read()));
            if done {
                return out;
            }
        }
    }

    /// Bytes with many delimiters, quotes, line breaks, multi-byte and
    /// invalid UTF-8.
    fn soup() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            6 => Just(b'a'),
            2 => Just(b' '),
            4 => Just(b','),
            1 => Just(b';'),
            1 => Just(b'\t'),
            2 => Just(b'"'),
            2 => Just(b'\r'),
            3 => Just(b'\n'),
            1 => Just(0xC3),
            1 => Just(0xA9),
            1 => Just(0xFF),
        ];
        proptest::collection::vec(byte, 0..400)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn the_unquoted_fast_path_reads_as_csv_core_does(
            head in prop_oneof![
                Just(b"a,b,c\n".to_vec()),
                Just(b"a;b\r\n".to_vec()),
                Just(Vec::new()),
            ],
            body in soup(),
            step in prop_oneof![1usize..80, Just(usize::MAX)],
        ) {
            let mut bytes = head;
            bytes.extend(&body);
            prop_assert_eq!(read_all(&bytes, step, true), read_all(&bytes, step, false));
        }
    }

    proptest! {
        #[test]
        fn for_each_byte_finds_every_byte(
            haystack in proptest::collection::vec(
                prop_oneof![Just(b','), Just(0), Just(0x80), Just(0xAC), Just(0x2B), any::<u8>()],
                0..100,
            ),
            byte in prop_oneof![Just(b','), Just(b';'), Just(b'\t'), any::<u8>()],
        ) {
            let mut found = Vec::new();
            for_each_byte(&haystack, byte, |i| {
                found.push(i);
                Some(())
            });
            let expected: Vec<usize> =
                (0..haystack.len()).filter(|&i| haystack[i] == byte).collect();
            prop_assert_eq!(found, expected);
        }
    }

    #[test]
    fn the_fast_path_agrees_across_buffer_refills_and_large_rows() {
        // Rows of every size up to several buffers, some quoted, so that
        // records straddle the 64 KiB buffer and outgrow `fields`/`ends`.
        let mut text = String::from("email,name,notes\n");
        for i in 0..3000 {
            let notes = "n".repeat((i * 37) % 9000);
            match i % 11 {
                0 => text.push_str(&format!("u{i}@x.com,\"Q, {i}\",{notes}\r\n")),
                1 => text.push_str(&format!("u{i}@x.com,{}\n", ",".repeat(i % 200))),
                2 => text.push_str(&format!("u{i}@x.com,,\n\n\r\n")),
                _ => text.push_str(&format!("u{i}@x.com,N{i},{notes}\n")),
            }
        }
        text.push_str("last,row,no-newline");
        for step in [usize::MAX, 4096, 777] {
            let fast = read_all(text.as_bytes(), step, true);
            // The header, 3001 rows and the end.
            assert_eq!(fast.len(), 3003);
            assert_eq!(fast, read_all(text.as_bytes(), step, false), "step {step}");
        }
    }
}
