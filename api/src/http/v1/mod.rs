//! `/v1` routes: what is naturally HTTP (batch writes with 207 Multi-Status,
//! the streamed lead export).
//! Every response uses the envelope in [`envelope`].

pub mod auth;
pub mod batch;
pub mod envelope;
pub mod export;
pub mod imports;
pub mod lead_json;
