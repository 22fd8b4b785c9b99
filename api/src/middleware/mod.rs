//! Request middleware that wraps handlers: `Idempotency-Key` handling.

pub mod idempotency;
