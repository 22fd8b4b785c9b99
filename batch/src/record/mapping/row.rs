//! Reading one CSV row through a [`Mapping`]: cells to [`RawLead`] fields,
//! full-name splitting, score parsing, custom fields.

use serde_json::{Map, Value};

use super::{Mapping, Target};
use crate::csv::SourceRow;
use crate::outcome::{FieldCode, FieldError};
use crate::record::{CleanLead, RawLead, field};

impl Mapping {
    /// Reads one row into a [`RawLead`] plus the fields the pipeline sets
    /// outside it. Cells past the row's end read as blank.
    pub fn map_row(&self, row: &SourceRow) -> MappedRow {
        let cell = |target: Target| {
            self.column_of(target)
                .and_then(|i| row.raw.get(i))
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
        };
        let owned = |target: Target| cell(target).map(str::to_owned);
        let mut raw = RawLead {
            email: owned(Target::Email),
            first_name: owned(Target::FirstName),
            last_name: owned(Target::LastName),
            phone: owned(Target::Phone),
            company: owned(Target::Company),
            job_title: owned(Target::JobTitle),
            score: None,
            custom_fields: None,
        };
        if let Some(full) = cell(Target::FullName) {
            let (first, last) = split_full_name(full);
            if self.column_of(Target::FirstName).is_none() {
                raw.first_name = first.map(str::to_owned);
            }
            if self.column_of(Target::LastName).is_none() {
                raw.last_name = last.map(str::to_owned);
            }
        }
        let mut row_errors = Vec::new();
        if let Some(text) = cell(Target::Score) {
            match parse_score(text) {
                Some(score) => raw.score = Some(score),
                None => row_errors.push(FieldError::new(
                    field::SCORE,
                    FieldCode::InvalidFormat,
                    "score must be a whole number",
                )),
            }
        }
        let custom: Map<String, Value> = self
            .custom
            .iter()
            .filter_map(|(i, key)| {
                let value = row
                    .raw
                    .get(*i)
                    .map(|c| c.trim())
                    .filter(|c| !c.is_empty())?;
                Some((key.clone(), Value::String(value.to_owned())))
            })
            .collect();
        raw.custom_fields = (!custom.is_empty()).then_some(Value::Object(custom));
        MappedRow {
            raw,
            status: owned(Target::Status),
            source: owned(Target::Source),
            market: owned(Target::Market),
            row_errors,
        }
    }
}

/// One row mapped to lead input.
#[derive(Debug, Clone, Default)]
pub struct MappedRow {
    /// The lead fields, for [`validate_new`](crate::record::validate_new) /
    /// [`process_chunk`](crate::record::process_chunk).
    pub raw: RawLead,
    /// The `status` cell, trimmed; `None` when blank or unmapped.
    pub status: Option<String>,
    /// The `source` cell, trimmed.
    pub source: Option<String>,
    /// The `market` cell, trimmed.
    pub market: Option<String>,
    /// Problems found while mapping (a non-numeric `score`); the row fails
    /// if any, whatever validation says.
    pub row_errors: Vec<FieldError>,
}

impl MappedRow {
    /// Folds [`MappedRow::row_errors`] into a validation outcome for this
    /// row, keeping the field order of [`validate_new`](crate::record::validate_new).
    pub fn with_row_errors(
        &self,
        outcome: Result<CleanLead, Vec<FieldError>>,
    ) -> Result<CleanLead, Vec<FieldError>> {
        if self.row_errors.is_empty() {
            return outcome;
        }
        let mut errors = outcome.err().unwrap_or_default();
        errors.extend(self.row_errors.iter().cloned());
        errors.sort_by_key(|e| field_rank(&e.field));
        Err(errors)
    }
}

/// Position of a field in the error order of `validate_new`.
fn field_rank(name: &str) -> usize {
    const ORDER: [&str; 8] = [
        field::EMAIL,
        field::FIRST_NAME,
        field::LAST_NAME,
        field::PHONE,
        field::COMPANY,
        field::JOB_TITLE,
        field::SCORE,
        field::CUSTOM_FIELDS,
    ];
    let base = name.split('.').next().unwrap_or(name);
    ORDER.iter().position(|f| *f == base).unwrap_or(ORDER.len())
}

/// `"Ada King Lovelace"` is (`Ada`, `King Lovelace`); `"Lovelace, Ada"`
/// (the "Last, First" export form) is (`Ada`, `Lovelace`).
fn split_full_name(full: &str) -> (Option<&str>, Option<&str>) {
    fn some(s: &str) -> Option<&str> {
        Some(s.trim()).filter(|s| !s.is_empty())
    }
    if let Some((last, first)) = full.split_once(',')
        && let (Some(first), Some(last)) = (some(first), some(last))
    {
        return (Some(first), Some(last));
    }
    match full.split_once(char::is_whitespace) {
        Some((first, rest)) => (some(first), some(rest)),
        None => (some(full), None),
    }
}

/// An integer, or a number with no fractional part (`85.0`, as spreadsheets
/// export); out-of-range values saturate and fail validation's range check.
fn parse_score(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().or_else(|| {
        let number = text.parse::<f64>().ok()?;
        // `as` saturates, and the range check of `score` then refuses it.
        (number.is_finite() && number.fract() == 0.0).then_some(number as i64)
    })
}
