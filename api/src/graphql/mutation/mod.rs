//! The mutation root, merged from one object per area.

mod admin;
mod batch;
mod dedupe;
mod imports;
mod leads;
mod merge;
mod webhooks;

use async_graphql::MergedObject;

/// All mutations.
#[derive(MergedObject, Default)]
pub struct Mutation(
    leads::LeadMutation,
    merge::MergeMutation,
    batch::BatchMutation,
    admin::AdminMutation,
    webhooks::WebhookMutation,
    imports::ImportMutation,
    dedupe::DedupeMutation,
);
