#![doc = include_str!("../README.md")]

pub mod csv;
pub mod dedupe;
pub mod outcome;
pub mod pipeline;
pub mod record;

pub use outcome::{FieldCode, FieldError};
pub use pipeline::{
    PreparedChunks, PreparedLead, PreparedRow, RowFailure, SeenKeys, prepare_chunk, prepare_stream,
};
pub use record::canonical::{
    CanonicalEmail, E164, Email, Score, custom_fields, email, name, normalize_name_key,
    optional_text, phone, score,
};
pub use record::mapping::{ImportOptions, MappedRow, Mapping, Unmapped, parse_mapping};
pub use record::{
    ChunkItem, CleanLead, CleanPatch, LeadPatch, NAME_MAX, RawLead, TEXT_MAX, field, process_chunk,
    validate_new, validate_patch,
};
