//! Parallel validation of an import chunk.
//!
//! Pure CPU work on the global rayon pool; callers on an async runtime hand
//! the chunk over (e.g. via a oneshot channel) instead of blocking a worker.
//! Every row yields its own outcome, so one bad row never fails the chunk.

use rayon::prelude::*;

use super::{CleanLead, RawLead, validate_new};
use crate::outcome::FieldError;

/// One record of a chunk, with the default phone region of its market.
#[derive(Debug, Clone, Copy)]
pub struct ChunkItem<'a> {
    /// The record as read.
    pub raw: &'a RawLead,
    /// ISO 3166 alpha-2 region used for national phone numbers.
    pub default_region: Option<&'a str>,
}

/// Validates and canonicalises a chunk on the rayon pool, preserving order:
/// outcome `i` belongs to `items[i]`. Outcomes are data, never an early `Err`.
pub fn process_chunk(items: &[ChunkItem<'_>]) -> Vec<Result<CleanLead, Vec<FieldError>>> {
    items
        .par_iter()
        .map(|item| validate_new(item.raw, item.default_region))
        .collect()
}
