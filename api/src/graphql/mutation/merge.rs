//! `mergeLeads`: duplicates into a survivor the caller chose, in one
//! transaction (the rules are `domain::leads::merge_leads`'s).

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use crate::{
    auth::Op,
    domain::leads as service,
    graphql::{
        context::{Ctx, in_transaction},
        errors::GqlResult,
        guards::ScopeGuard,
        types::Lead,
    },
    ids::NodeType,
};

#[derive(Default)]
pub struct MergeMutation;

/// Result of `mergeLeads`.
#[derive(SimpleObject)]
pub struct MergeLeadsPayload {
    /// The survivor, its empty fields filled from the duplicates.
    survivor: Lead,
    /// The duplicates, now with `mergedInto` set to the survivor.
    merged: Vec<Lead>,
}

#[Object]
impl MergeMutation {
    /// Merges 1–100 duplicates into the survivor. The survivor keeps its values;
    /// its empty fields (phone, company, job title, team, assignee, custom field
    /// keys) are filled from the duplicates, oldest first. Each duplicate gets
    /// `mergedInto`, leaves every list, frees its email and stays readable by id.
    /// Emits `lead.merged` per duplicate and `lead.updated` if the survivor was
    /// filled. An unknown, deleted or out-of-scope lead is `not_found`; an already
    /// merged one, repeated ids or the survivor among the duplicates are
    /// `bad_request`; nothing is changed then.
    #[graphql(guard = "ScopeGuard(Op::LeadsWrite)")]
    async fn merge_leads(
        &self,
        ctx: &Context<'_>,
        survivor_id: ID,
        duplicate_ids: Vec<ID>,
    ) -> Result<MergeLeadsPayload> {
        let survivor = ctx.decode_id(NodeType::Lead, &survivor_id).gql(ctx)?;
        let duplicates = duplicate_ids
            .iter()
            .map(|id| ctx.decode_id(NodeType::Lead, id))
            .collect::<Result<Vec<_>, _>>()
            .gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let (survivor, merged) = in_transaction(db, async |txn| {
            service::merge_leads(txn, p, survivor, duplicates).await
        })
        .await
        .gql(ctx)?;
        Ok(MergeLeadsPayload {
            survivor: Lead(survivor),
            merged: merged.into_iter().map(Lead).collect(),
        })
    }
}
