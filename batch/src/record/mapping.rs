//! Column mapping: which CSV column feeds which lead field.
//!
//! Headers are compared case-, space- and punctuation-insensitively
//! ([`normalize_header`]: `E-mail`, `Email Address`, `email_address` and
//! `EMAIL` all match the synonyms of `email`). The rules, in order:
//!
//! 1. Explicit entries (`"Contact E-Mail=email,Cell=phone"`, see
//!    [`parse_mapping`]) win. The header must exist (an exact match first,
//!    then a normalized one) and the target must be a field name, `fullName`,
//!    `customFields.<key>` or `ignore`; each target may be used once.
//! 2. Synonyms map the remaining columns; the **first** column for a field
//!    wins, so a duplicate header (or a second synonym, e.g. `Email` then
//!    `Work Email`) is treated as unmapped: with [`Unmapped::Custom`] its
//!    values are kept in `customFields`, under a key made unique with a
//!    `_2`, `_3`… suffix.
//! 3. A full-name column (`name`, `full name`, `contact name`) fills
//!    `firstName` and/or `lastName` only when that field has no column of its
//!    own; when both do, it counts as unmapped.
//! 4. Every other column goes to `customFields` under [`custom_key`] of its
//!    header ([`Unmapped::Custom`], the default) or is dropped
//!    ([`Unmapped::Ignore`]).
//!
//! [`Mapping::map_row`] reads one row: blank cells are absent, text is
//! trimmed, `score` is parsed from text, custom values stay strings (no type
//! guessing, so `00123` keeps its zeros). Validation is left to
//! [`validate_new`](super::validate_new).

mod row;
mod target;

use std::collections::HashSet;

use super::canonical::CUSTOM_KEY_MAX_CHARS;
use target::{column_name, parse_column, target_names, truncate_key};

pub use row::MappedRow;
pub(crate) use row::merge_row_errors;
pub use target::{Column, Target, custom_key, normalize_header};

/// What to do with columns no rule maps (`unmapped=custom|ignore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unmapped {
    /// Keep them in `customFields` (default).
    #[default]
    Custom,
    /// Drop them.
    Ignore,
}

impl std::str::FromStr for Unmapped {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "custom" => Ok(Unmapped::Custom),
            "ignore" => Ok(Unmapped::Ignore),
            _ => Err("unmapped must be `custom` or `ignore`".to_owned()),
        }
    }
}

/// Import settings that shape the mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Columns without a field.
    pub unmapped: Unmapped,
    /// `(header, target)` pairs that override synonyms (see [`parse_mapping`]).
    pub explicit: Vec<(String, String)>,
}

/// Why an explicit mapping cannot apply to a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The target is not a field name, `fullName`, `customFields.<key>` or `ignore`.
    #[error(
        "unknown target `{target}` for column `{header}`; expected one of {}",
        target_names()
    )]
    UnknownTarget {
        /// The header as given.
        header: String,
        /// The target as given.
        target: String,
    },
    /// No (not yet mapped) column has this header.
    #[error("the file has no column `{header}`")]
    UnknownHeader {
        /// The header as given.
        header: String,
    },
    /// Two explicit entries name the same target.
    #[error("`{target}` is mapped from more than one column")]
    DuplicateTarget {
        /// The target's canonical name.
        target: String,
    },
}

/// Parses `"Contact E-Mail=email,Cell=phone"` into `(header, target)` pairs.
/// Entries are separated by `,` (so a header cannot contain one), header and
/// target by the last `=`; both are trimmed; empty entries are skipped.
/// Targets are checked here too, so a typo fails before any upload.
pub fn parse_mapping(spec: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((header, target)) = entry.rsplit_once('=') else {
            return Err(format!(
                "mapping entry `{entry}` must look like `Header=field`"
            ));
        };
        let (header, target) = (header.trim(), target.trim());
        if header.is_empty() || target.is_empty() {
            return Err(format!(
                "mapping entry `{entry}` must look like `Header=field`"
            ));
        }
        parse_column(header, target).map_err(|e| e.to_string())?;
        pairs.push((header.to_owned(), target.to_owned()));
    }
    Ok(pairs)
}

/// A header row mapped to lead fields; see the module docs for the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    columns: Vec<Column>,
    /// Column index per [`Target`], by `Target as usize`.
    index: [Option<usize>; Target::ALL.len()],
    custom: Vec<(usize, String)>,
}

impl Mapping {
    /// Maps `headers` with `options`; fails only on explicit entries.
    pub fn new(headers: &[String], options: &ImportOptions) -> Result<Self, MappingError> {
        let norms: Vec<String> = headers.iter().map(|h| normalize_header(h)).collect();
        let mut columns: Vec<Option<Column>> = vec![None; headers.len()];
        let mut taken: HashSet<Target> = HashSet::new();
        let mut keys: HashSet<String> = HashSet::new();

        for (header, target) in &options.explicit {
            let column = parse_column(header, target)?;
            let wanted = normalize_header(header);
            let free = |i: &usize| columns[*i].is_none();
            let at = (0..headers.len())
                .filter(free)
                .find(|&i| headers[i].trim() == header.trim())
                .or_else(|| {
                    (0..headers.len())
                        .filter(free)
                        .find(|&i| norms[i] == wanted)
                })
                .ok_or_else(|| MappingError::UnknownHeader {
                    header: header.clone(),
                })?;
            let fresh = match &column {
                Column::Field(t) => taken.insert(*t),
                Column::Custom(key) => keys.insert(key.clone()),
                Column::Ignore => true,
            };
            if !fresh {
                return Err(MappingError::DuplicateTarget {
                    target: column_name(&column),
                });
            }
            columns[at] = Some(column);
        }

        for (slot, norm) in columns.iter_mut().zip(&norms) {
            if slot.is_none()
                && let Some(t) = Target::from_synonym(norm)
                && taken.insert(t)
            {
                *slot = Some(Column::Field(t));
            }
        }

        if taken.contains(&Target::FirstName) && taken.contains(&Target::LastName) {
            for slot in &mut columns {
                if *slot == Some(Column::Field(Target::FullName)) {
                    *slot = None;
                }
            }
        }

        let columns: Vec<Column> = columns
            .into_iter()
            .zip(headers)
            .enumerate()
            .map(|(i, (slot, header))| match (slot, options.unmapped) {
                (Some(column), _) => column,
                (None, Unmapped::Ignore) => Column::Ignore,
                (None, Unmapped::Custom) => {
                    let base = custom_key(header);
                    let base = if base.is_empty() {
                        format!("column_{}", i + 1)
                    } else {
                        base
                    };
                    Column::Custom(unique_key(base, &mut keys))
                }
            })
            .collect();

        let mut index = [None; Target::ALL.len()];
        let mut custom = Vec::new();
        for (i, column) in columns.iter().enumerate() {
            match column {
                Column::Field(t) => index[*t as usize] = Some(i),
                Column::Custom(key) => custom.push((i, key.clone())),
                Column::Ignore => {}
            }
        }
        Ok(Self {
            columns,
            index,
            custom,
        })
    }

    /// Where each header column goes, in header order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column feeding `target`, if any.
    pub fn column_of(&self, target: Target) -> Option<usize> {
        self.index[target as usize]
    }

    /// Required fields no column feeds (`email`, `firstName`, `lastName`; a
    /// full-name column covers both names). Every row would fail `required`,
    /// so a caller may refuse the file up front.
    pub fn missing_required(&self) -> Vec<Target> {
        let full = self.column_of(Target::FullName).is_some();
        [Target::Email, Target::FirstName, Target::LastName]
            .into_iter()
            .filter(|t| self.column_of(*t).is_none() && (*t == Target::Email || !full))
            .collect()
    }
}

/// `base`, or `base_2`, `base_3`… (within the key length limit), whichever
/// is not taken yet; records the result as taken.
fn unique_key(base: String, taken: &mut HashSet<String>) -> String {
    let mut key = base.clone();
    let mut n = 1;
    while taken.contains(&key) {
        n += 1;
        let suffix = format!("_{n}");
        let room = CUSTOM_KEY_MAX_CHARS.saturating_sub(suffix.len());
        key = format!("{}{suffix}", truncate_key(&base, room));
    }
    taken.insert(key.clone());
    key
}
