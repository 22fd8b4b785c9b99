//! Lead services: create (a batch, of one or many), update, delete, transition,
//! assign. Validation and canonicalisation are `batch`'s; this module adds scope,
//! placement, uniqueness and persistence.

mod create;
mod many;
mod placement;
mod transition;
mod update;

pub use create::{ItemOutcome, ItemStatus, NewLead, OnDuplicate, create_leads};
pub use many::{MAX_BATCH, check_batch_size, delete_leads, update_leads};
pub use transition::{allowed_transition, transition_lead};
pub use update::{LeadChanges, assign_lead, delete_lead, update_lead};
