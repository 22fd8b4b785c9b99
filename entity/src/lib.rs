//! SeaORM entities: one module per table, nothing else.
//!
//! Every tenant-owned table carries `tenant_id`; tables holding environment data
//! (leads, their history, API keys) also carry `environment`. Users, markets and
//! teams are tenant-wide organisation data shared by both environments.

pub mod api_key;
pub mod audit_event;
pub mod dedupe_cluster;
pub mod enums;
pub mod idempotency_key;
pub mod import_row;
pub mod import_row_run;
pub mod job;
pub mod job_file;
pub mod lead;
pub mod lead_transition;
pub mod market;
pub mod team;
pub mod tenant;
pub mod user;
pub mod webhook_delivery;
pub mod webhook_delivery_attempt;
pub mod webhook_endpoint;
pub mod webhook_event;

pub use enums::{
    Environment, ImportRowStatus, JobKind, JobStatus, LeadSource, LeadStatus, WebhookDeliveryStatus,
};
