//! Lead services: create (a batch, of one or many), update, delete, transition,
//! assign, merge. Validation and canonicalisation are `batch`'s; this module
//! adds scope, placement, uniqueness and persistence.

pub(crate) mod create;
mod filter;
mod many;
mod merge;
pub(crate) mod placement;
mod transition;
mod update;

pub use create::{ItemOutcome, ItemStatus, NewLead, OnDuplicate, create_leads};
pub use filter::caller_filter;
pub use many::{MAX_BATCH, check_batch_size, delete_leads, update_leads};
#[cfg(test)]
pub(crate) use merge::test_lead;
pub use merge::{MAX_MERGE, Merge, merge_leads, plan_in_chunks, write_merges};
pub use transition::{allowed_transition, transition_lead};
pub use update::{LeadChanges, assign_lead, delete_lead, update_lead};
