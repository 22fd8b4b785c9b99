//! Lead mutations. Each runs in one transaction; `createLead` is a batch of one
//! through the same pipeline as `createLeads`.

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use crate::{
    auth::Op,
    domain::{DomainError, leads as service},
    graphql::{
        context::{Ctx, in_transaction},
        errors::GqlResult,
        guards::ScopeGuard,
        types::{
            Lead, LeadTransition,
            enums::{BatchItemStatus, LeadStatus, OnDuplicate},
            inputs::{CreateLeadInput, UpdateLeadInput},
        },
    },
    ids::NodeType,
};

#[derive(Default)]
pub struct LeadMutation;

/// Result of `createLead`.
#[derive(SimpleObject)]
pub struct CreateLeadPayload {
    /// The created lead, or the existing one (`SKIPPED`/`UPDATED`).
    lead: Lead,
    status: BatchItemStatus,
}

/// Result of `updateLead` and `assignLead`.
#[derive(SimpleObject)]
pub struct LeadPayload {
    lead: Lead,
}

/// Result of `deleteLead`.
#[derive(SimpleObject)]
pub struct DeleteLeadPayload {
    deleted_lead_id: ID,
}

/// Result of `transitionLead`.
#[derive(SimpleObject)]
pub struct TransitionLeadPayload {
    lead: Lead,
    transition: LeadTransition,
}

#[Object]
impl LeadMutation {
    /// Creates a lead. With `onDuplicate: ERROR` (default) an existing live lead
    /// with the same canonical email fails with `duplicate` (`extensions.existingId`).
    #[graphql(guard = "ScopeGuard(Op::LeadsWrite)")]
    async fn create_lead(
        &self,
        ctx: &Context<'_>,
        input: CreateLeadInput,
        #[graphql(default)] on_duplicate: OnDuplicate,
    ) -> Result<CreateLeadPayload> {
        let item = input.into_domain(ctx).gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let outcome = in_transaction(db, async |txn| {
            let mut outcomes =
                service::create_leads(txn, p, vec![item], on_duplicate.into()).await?;
            outcomes
                .pop()
                .ok_or_else(|| {
                    DomainError::Internal(anyhow::anyhow!("a batch of one returned no outcome"))
                })?
                .result
        })
        .await
        .gql(ctx)?;
        Ok(CreateLeadPayload {
            status: outcome.0.into(),
            lead: Lead(outcome.1),
        })
    }

    /// Updates a lead's fields (not its status: see `transitionLead`).
    #[graphql(guard = "ScopeGuard(Op::LeadsWrite)")]
    async fn update_lead(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateLeadInput,
    ) -> Result<LeadPayload> {
        let row = ctx.decode_id(NodeType::Lead, &id).gql(ctx)?;
        let changes = input.into_domain(ctx).gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let lead = in_transaction(db, async |txn| {
            service::update_lead(txn, p, row, changes).await
        })
        .await
        .gql(ctx)?;
        Ok(LeadPayload { lead: Lead(lead) })
    }

    /// Deletes a lead: it leaves every list, and its email may be used again.
    #[graphql(guard = "ScopeGuard(Op::LeadsWrite)")]
    async fn delete_lead(&self, ctx: &Context<'_>, id: ID) -> Result<DeleteLeadPayload> {
        let row = ctx.decode_id(NodeType::Lead, &id).gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        in_transaction(db, async |txn| service::delete_lead(txn, p, row).await)
            .await
            .gql(ctx)?;
        Ok(DeleteLeadPayload {
            deleted_lead_id: id,
        })
    }

    /// Moves a lead's status along the allowed transitions (else
    /// `invalid_transition`) and records it in the lead's `history`.
    #[graphql(guard = "ScopeGuard(Op::LeadsWrite)")]
    async fn transition_lead(
        &self,
        ctx: &Context<'_>,
        id: ID,
        to: LeadStatus,
        reason: Option<String>,
    ) -> Result<TransitionLeadPayload> {
        let row = ctx.decode_id(NodeType::Lead, &id).gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let (lead, transition) = in_transaction(db, async |txn| {
            service::transition_lead(txn, p, row, to.into(), reason).await
        })
        .await
        .gql(ctx)?;
        Ok(TransitionLeadPayload {
            lead: Lead(lead),
            transition: LeadTransition(transition),
        })
    }

    /// Assigns a lead to an active user of the tenant; `userId: null` unassigns.
    #[graphql(guard = "ScopeGuard(Op::LeadsWrite)")]
    async fn assign_lead(
        &self,
        ctx: &Context<'_>,
        id: ID,
        user_id: Option<ID>,
    ) -> Result<LeadPayload> {
        let row = ctx.decode_id(NodeType::Lead, &id).gql(ctx)?;
        let user = match user_id {
            None => None,
            Some(u) => Some(match ctx.decode_id(NodeType::User, &u) {
                Err(DomainError::NotFound) => 0,
                other => other.gql(ctx)?,
            }),
        };
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let lead = in_transaction(db, async |txn| {
            service::assign_lead(txn, p, row, user).await
        })
        .await
        .gql(ctx)?;
        Ok(LeadPayload { lead: Lead(lead) })
    }
}
