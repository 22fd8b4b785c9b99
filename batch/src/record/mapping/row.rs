//! Reading one CSV row through a [`Mapping`]: cells to [`RawLead`] fields,
//! full-name splitting, score parsing, custom fields.

use serde_json::{Map, Value};

use super::{Mapping, Target};
use crate::csv::{Cells, SourceRow};
use crate::outcome::{FieldCode, FieldError};
use crate::record::canonical::trim;
use crate::record::{CleanLead, LeadRef, RawLead, field};

impl Mapping {
    /// Reads one row into a [`RawLead`] plus the fields the pipeline sets
    /// outside it. Cells past the row's end read as blank.
    pub fn map_row(&self, row: &SourceRow) -> MappedRow {
        let mapped = self.map_cells(&row.raw);
        let owned = |cell: Option<&str>| cell.map(str::to_owned);
        let raw = RawLead {
            email: owned(mapped.email),
            first_name: owned(mapped.first_name),
            last_name: owned(mapped.last_name),
            phone: owned(mapped.phone),
            company: owned(mapped.company),
            job_title: owned(mapped.job_title),
            score: mapped.score,
            custom_fields: (!mapped.custom.is_empty()).then_some(Value::Object(mapped.custom)),
        };
        MappedRow {
            raw,
            status: owned(mapped.status),
            source: owned(mapped.source),
            market: owned(mapped.market),
            row_errors: mapped.row_errors,
        }
    }

    /// [`Mapping::map_row`] without copying the cells: the mapped fields
    /// borrow from `cells`; only custom fields are built (they are owned by
    /// the lead in the end anyway).
    pub(crate) fn map_cells<'a>(&self, cells: &'a Cells) -> MappedCells<'a> {
        let cell = |target: Target| {
            self.column_of(target)
                .and_then(|i| cells.get(i))
                .map(trim)
                .filter(|c| !c.is_empty())
        };
        let mut mapped = MappedCells {
            email: cell(Target::Email),
            first_name: cell(Target::FirstName),
            last_name: cell(Target::LastName),
            phone: cell(Target::Phone),
            company: cell(Target::Company),
            job_title: cell(Target::JobTitle),
            score: None,
            custom: Map::new(),
            status: cell(Target::Status),
            source: cell(Target::Source),
            market: cell(Target::Market),
            row_errors: Vec::new(),
        };
        if let Some(full) = cell(Target::FullName) {
            let (first, last) = split_full_name(full);
            if self.column_of(Target::FirstName).is_none() {
                mapped.first_name = first;
            }
            if self.column_of(Target::LastName).is_none() {
                mapped.last_name = last;
            }
        }
        if let Some(text) = cell(Target::Score) {
            match parse_score(text) {
                Some(score) => mapped.score = Some(score),
                None => mapped.row_errors.push(FieldError::new(
                    field::SCORE,
                    FieldCode::InvalidFormat,
                    "score must be a whole number",
                )),
            }
        }
        for (i, key) in &self.custom {
            if let Some(value) = cells.get(*i).map(trim).filter(|c| !c.is_empty()) {
                mapped
                    .custom
                    .insert(key.clone(), Value::String(value.to_owned()));
            }
        }
        mapped
    }
}

/// One row's cells read through a [`Mapping`], borrowed from the row
/// (see [`Mapping::map_cells`]); each text cell trimmed, blank as `None`.
#[derive(Debug, Clone, Default)]
pub(crate) struct MappedCells<'a> {
    pub email: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub company: Option<&'a str>,
    pub job_title: Option<&'a str>,
    pub score: Option<i64>,
    /// Non-blank unmapped cells as string values (empty: none).
    pub custom: Map<String, Value>,
    pub status: Option<&'a str>,
    pub source: Option<&'a str>,
    pub market: Option<&'a str>,
    pub row_errors: Vec<FieldError>,
}

impl<'a> MappedCells<'a> {
    /// The fields [`validate_fields`](crate::record::validate_fields) checks.
    pub fn lead(&self) -> LeadRef<'a> {
        LeadRef {
            email: self.email.unwrap_or_default(),
            first_name: self.first_name.unwrap_or_default(),
            last_name: self.last_name.unwrap_or_default(),
            phone: self.phone.unwrap_or_default(),
            company: self.company,
            job_title: self.job_title,
            score: self.score,
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
        merge_row_errors(&self.row_errors, outcome)
    }
}

/// Folds mapping problems into a validation outcome, in field order (see
/// [`MappedRow::with_row_errors`]).
pub(crate) fn merge_row_errors(
    row_errors: &[FieldError],
    outcome: Result<CleanLead, Vec<FieldError>>,
) -> Result<CleanLead, Vec<FieldError>> {
    if row_errors.is_empty() {
        return outcome;
    }
    let mut errors = outcome.err().unwrap_or_default();
    errors.extend(row_errors.iter().cloned());
    errors.sort_by_key(|e| field_rank(&e.field));
    Err(errors)
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
