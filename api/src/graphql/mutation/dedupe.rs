//! `startDedupe`: queues a bulk dedupe run over the leads in the key's scope
//! (the run itself is `crate::jobs::dedupe`'s).

use async_graphql::{Context, Object, Result};

use crate::{
    auth::Op,
    domain::dedupe as service,
    graphql::{
        context::{Ctx, in_transaction},
        errors::GqlResult,
        guards::{ScopeGuard, require},
        types::dedupe::DedupeRun,
    },
    jobs::JobSignal,
};

#[derive(Default)]
pub struct DedupeMutation;

#[Object]
impl DedupeMutation {
    /// Queues a bulk dedupe run over every live lead in the key's scope; poll
    /// `dedupeRun(id)` (or `node`) until it is `COMPLETED`. Leads sharing a
    /// canonical email, a phone, a name and company, or a name and corporate
    /// email domain form clusters. A dry run (the default) only reports them;
    /// a real run merges each cluster into its oldest lead like `mergeLeads`
    /// (fill, `mergedInto`, audit, `lead.merged` webhooks). Either ends with a
    /// `dedupe.completed` webhook. Needs `imports:run` and `leads:read` (dry
    /// run) or `leads:write` (real run).
    #[graphql(guard = "ScopeGuard(Op::ImportsRun)")]
    async fn start_dedupe(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = true)] dry_run: bool,
    ) -> Result<DedupeRun> {
        require(
            ctx,
            if dry_run {
                Op::LeadsRead
            } else {
                Op::LeadsWrite
            },
        )?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let run = in_transaction(db, async |txn| service::start(txn, p, dry_run).await)
            .await
            .gql(ctx)?;
        if let Some(signal) = ctx.data_opt::<JobSignal>() {
            signal.wake();
        }
        Ok(DedupeRun(run))
    }
}
