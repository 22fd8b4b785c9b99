//! Batch lead mutations (at most 500 items): per-item results, one transaction.

use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::{
    auth::Op,
    domain::leads::{self as service, check_batch_size},
    graphql::{
        context::{Ctx, in_transaction},
        errors::GqlResult,
        guards::ScopeGuard,
        types::{
            batch::BatchResult,
            enums::OnDuplicate,
            inputs::{CreateLeadInput, UpdateLeadInput},
        },
    },
    ids::NodeType,
};

#[derive(Default)]
pub struct BatchMutation;

/// One item of `updateLeads`.
#[derive(InputObject)]
pub struct UpdateLeadsItem {
    pub id: ID,
    pub input: UpdateLeadInput,
}

#[Object]
impl BatchMutation {
    /// Creates up to 500 leads; each item gets its own result. A later item with
    /// the same canonical email as an earlier one is a duplicate of it.
    #[graphql(guard = "ScopeGuard(Op::LeadsWrite)")]
    async fn create_leads(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<CreateLeadInput>,
        #[graphql(default)] on_duplicate: OnDuplicate,
    ) -> Result<BatchResult> {
        check_batch_size(inputs.len()).gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let mut ready = Vec::with_capacity(inputs.len());
        let mut refused = Vec::new();
        for (index, input) in inputs.into_iter().enumerate() {
            match input.into_domain(ctx) {
                Ok(item) => ready.push((index, item)),
                Err(e) => refused.push(service::ItemOutcome {
                    index,
                    result: Err(e),
                }),
            }
        }
        let (indexes, items): (Vec<usize>, Vec<_>) = ready.into_iter().unzip();
        let mut outcomes = in_transaction(db, async |txn| {
            service::create_leads(txn, p, items, on_duplicate.into()).await
        })
        .await
        .gql(ctx)?;
        for (o, index) in outcomes.iter_mut().zip(indexes) {
            o.index = index;
        }
        outcomes.extend(refused);
        outcomes.sort_by_key(|o| o.index);
        Ok(BatchResult::from_outcomes(ctx, outcomes))
    }

    /// Updates up to 500 leads; each item gets its own result.
    #[graphql(guard = "ScopeGuard(Op::LeadsWrite)")]
    async fn update_leads(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<UpdateLeadsItem>,
    ) -> Result<BatchResult> {
        check_batch_size(inputs.len()).gql(ctx)?;
        let items = inputs
            .into_iter()
            .map(|item| {
                let id = ctx.decode_id(NodeType::Lead, &item.id)?;
                Ok((id, item.input.into_domain(ctx)?))
            })
            .collect();
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let outcomes = in_transaction(db, async |txn| service::update_leads(txn, p, items).await)
            .await
            .gql(ctx)?;
        Ok(BatchResult::from_outcomes(ctx, outcomes))
    }

    /// Deletes up to 500 leads; each item gets its own result (`DELETED` or
    /// `FAILED`).
    #[graphql(guard = "ScopeGuard(Op::LeadsWrite)")]
    async fn delete_leads(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<BatchResult> {
        check_batch_size(ids.len()).gql(ctx)?;
        let ids = ids
            .iter()
            .map(|id| ctx.decode_id(NodeType::Lead, id))
            .collect();
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let outcomes = in_transaction(db, async |txn| service::delete_leads(txn, p, ids).await)
            .await
            .gql(ctx)?;
        Ok(BatchResult::from_outcomes(ctx, outcomes))
    }
}
