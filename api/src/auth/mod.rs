//! Authentication and authorisation: key format, operation scopes, the `Principal`.
//!
//! Middleware turns a credential into a [`Principal`]; GraphQL guards check its
//! operation scopes; `crate::scope` turns its market/team scope into SQL.
//! Verified keys are cached briefly ([`cache`]).

pub mod authenticate;
pub mod cache;
pub mod key;
pub mod ops;
pub mod principal;

pub use key::{ApiKeySecret, KeyFormatError};
pub use ops::{Op, OpSet};
pub use principal::{MarketScope, Principal};
