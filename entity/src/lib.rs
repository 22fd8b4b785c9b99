//! SeaORM entities: one module per table, nothing else.
//!
//! Every tenant-owned table carries `tenant_id`; tables holding environment data
//! (leads, their history, API keys) also carry `environment`. Users, markets and
//! teams are tenant-wide organisation data shared by both environments.

pub mod api_key;
pub mod audit_event;
pub mod enums;
pub mod lead;
pub mod lead_transition;
pub mod market;
pub mod team;
pub mod tenant;
pub mod user;

pub use enums::{Environment, LeadSource, LeadStatus};
