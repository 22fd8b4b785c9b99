//! What can go wrong while reading a CSV file.
//!
//! [`CsvError`] ends the stream (an empty file, an unusable header, a column
//! mapping that cannot apply, an I/O failure), except [`CsvError::Row`],
//! which the iterator yields for one row and then carries on. [`RowError`]
//! is that per-row problem: the row gets its own failed result and the
//! import goes on. Messages never echo cell values (no PII); header names,
//! which are not personal data, may appear.

use serde::Serialize;

use crate::record::mapping::MappingError;

/// Why a single row could not be read. The snake_case slug
/// ([`RowErrorCode::as_str`]) is part of the public API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowErrorCode {
    /// A cell is not valid UTF-8.
    InvalidEncoding,
    /// The row has non-blank cells beyond the last header column (usually
    /// an unquoted delimiter inside a value, which shifts the columns).
    TooManyFields,
    /// The row is larger than [`MAX_RECORD_BYTES`](super::MAX_RECORD_BYTES)
    /// or has more than [`MAX_FIELDS`](super::MAX_FIELDS) cells (often an
    /// unclosed quote that swallowed the rest of the file).
    RowTooLarge,
}

impl RowErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [RowErrorCode; 3] = [
        RowErrorCode::InvalidEncoding,
        RowErrorCode::TooManyFields,
        RowErrorCode::RowTooLarge,
    ];

    /// The stable snake_case slug, identical to the serde representation.
    pub fn as_str(&self) -> &'static str {
        match self {
            RowErrorCode::InvalidEncoding => "invalid_encoding",
            RowErrorCode::TooManyFields => "too_many_fields",
            RowErrorCode::RowTooLarge => "row_too_large",
        }
    }
}

impl std::fmt::Display for RowErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row that could not be read; the rows around it are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("row {row_number} (line {line}): {message} ({code})")]
pub struct RowError {
    /// 1-based data row (header excluded), as in [`SourceRow`](super::SourceRow).
    pub row_number: u64,
    /// 1-based physical line where the row starts.
    pub line: u64,
    /// Machine-readable reason.
    pub code: RowErrorCode,
    /// Short human message; never contains cell values.
    pub message: String,
}

/// A problem with the file as a whole, or (only [`CsvError::Row`]) with one
/// row when reading through the iterator.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// No header line: the file is empty or holds only blank lines.
    #[error("the file is empty: a header line is expected")]
    Empty,
    /// The header line is not valid UTF-8 (the file was probably saved in a
    /// legacy encoding such as Windows-1252).
    #[error("header column {column} is not valid UTF-8; save the file as UTF-8")]
    HeaderNotUtf8 {
        /// 1-based column.
        column: usize,
    },
    /// The header line exceeds the per-record limits.
    #[error(
        "the header line is larger than {} bytes or has more than {} columns",
        super::MAX_RECORD_BYTES,
        super::MAX_FIELDS
    )]
    HeaderTooLarge,
    /// The explicit column mapping does not fit the file.
    #[error("column mapping: {0}")]
    Mapping(#[from] MappingError),
    /// One row could not be read; the iterator goes on after it.
    #[error(transparent)]
    Row(#[from] RowError),
    /// Reading the input failed; nothing more can be read.
    #[error("reading the file failed: {0}")]
    Io(#[from] std::io::Error),
}

impl CsvError {
    /// True for every error except [`CsvError::Row`]: the stream has ended.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, CsvError::Row(_))
    }

    /// A stable snake_case slug for API responses.
    pub fn code(&self) -> &'static str {
        match self {
            CsvError::Empty => "empty_file",
            CsvError::HeaderNotUtf8 { .. } => "invalid_encoding",
            CsvError::HeaderTooLarge => "header_too_large",
            CsvError::Mapping(_) => "invalid_mapping",
            CsvError::Row(row) => row.code.as_str(),
            CsvError::Io(_) => "io_error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_codes_match_serde() {
        for code in RowErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()));
        }
    }

    #[test]
    fn row_error_serialises_in_camel_case() {
        let e = RowError {
            row_number: 3,
            line: 5,
            code: RowErrorCode::InvalidEncoding,
            message: "cell 2 is not valid UTF-8".to_owned(),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "rowNumber": 3, "line": 5, "code": "invalid_encoding",
                "message": "cell 2 is not valid UTF-8"
            })
        );
        assert!(!CsvError::Row(e).is_fatal());
        assert!(CsvError::Empty.is_fatal());
    }
}
