//! Domain services. Each takes a connection or transaction and the caller's
//! `Principal`, owns its invariants, and returns a `DomainError` on refusal.

pub mod audit;
pub mod dedupe;
pub mod error;
pub mod imports;
pub mod keys;
pub mod leads;
pub mod teams;
pub mod tenants;
pub mod users;
pub mod webhooks;

pub use error::DomainError;
