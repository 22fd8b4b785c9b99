//! Query builders: the only module that builds SQL. Every function takes the
//! caller's scope (from `crate::scope`) or a tenant id.

pub mod cursor;
pub mod leads;
pub mod loaders;
pub mod page;

pub use page::{PageArgs, PageRequest, PageResult};
