//! Black-box tests: one binary (fast to link), one module per capability.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod audit;
mod auth;
mod auth_cache;
mod batch;
mod concurrency;
mod dedupe;
mod dedupe_merge;
mod dedupe_resume;
mod export;
mod http;
mod idempotency;
mod imports;
mod keys;
mod loaders;
mod rate_limits;
mod scale_out;
mod schema;
mod scopes;
mod webhooks;

mod ids;
mod lead_reads;
mod lead_support;
mod leads;
mod leads_transitions;
mod leads_validation;
mod merge;
mod paging;
mod paging_cursors;
mod paging_filters;
