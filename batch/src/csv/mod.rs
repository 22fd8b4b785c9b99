//! Streaming CSV input for imports.
//!
//! [`CsvRecords`] reads any [`std::io::Read`] in constant memory: it reads
//! [`SNIFF_BYTES`] ahead to [`sniff`] the BOM and delimiter (`,` `;` tab),
//! then parses record by record with `csv-core` (RFC 4180 quoting, doubled
//! quotes, quoted line breaks; CRLF or LF line ends). It maps the header
//! with [`Mapping`](crate::record::mapping::Mapping) once, up front.
//!
//! Row numbering: `row_number` counts data rows from 1 (the header is not a
//! row); `line` is the physical line where the row starts, so a row with a
//! quoted line break takes several lines. Blank lines and rows whose cells
//! are all blank (`,,,`) are skipped and get no row number. A row is never
//! fatal: bad UTF-8, non-blank cells past the last header column, or a row
//! over [`MAX_RECORD_BYTES`] / [`MAX_FIELDS`] become a [`RowError`] for that
//! row only. Short rows are fine: missing cells read as blank.

mod cells;
mod error;
mod reader;
mod sniff;

pub use cells::{Cells, CellsIter, StringCells};
pub use error::{CsvError, RowError, RowErrorCode};
pub use reader::CsvRecords;
pub use sniff::{SNIFF_BYTES, SNIFF_LINES, Sniffed, UTF8_BOM, sniff};

/// Largest row, in bytes of cell content; a larger one is a
/// [`RowErrorCode::RowTooLarge`] and is skipped without being kept in memory.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Most cells in one row (also the most header columns).
pub const MAX_FIELDS: usize = 10_000;

/// One data row as read, before mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    /// 1-based data row; the header is not counted, nor are blank rows.
    pub row_number: u64,
    /// 1-based physical line where the row starts.
    pub line: u64,
    /// The cells as read (unquoted, not trimmed); may be shorter or longer
    /// than the header.
    pub raw: Cells,
}
