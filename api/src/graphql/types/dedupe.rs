//! `DedupeRun` (a bulk dedupe job), its `DedupeCluster`s, and the
//! `dedupeRun(id)` query.

use async_graphql::{Context, Enum, ID, Object, Result};
use batch::dedupe::MatchReason;
use chrono::{DateTime, Utc};
use entity::{dedupe_cluster, job};

use super::{Lead, enums::JobStatus, lead::load_err};
use crate::{
    auth::Op,
    domain::dedupe::{self as service, StoredCluster},
    graphql::{
        connection::{self, Conn, CountQuery},
        context::Ctx,
        errors::GqlResult,
        guards::ScopeGuard,
    },
    ids::NodeType,
    store::{self, PageArgs, page::Sort},
};

/// Why leads were put in one cluster.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedupeReason {
    /// Same canonical email (gmail dots and `+tag` ignored).
    SameEmail,
    /// Same phone number (E.164), however it was written.
    SamePhone,
    /// Same full name and same company (case, punctuation and legal forms
    /// such as "Inc." ignored).
    SameNameAndCompany,
    /// Same full name and same email domain (free-mail domains excluded).
    SameNameAndEmailDomain,
}

impl From<MatchReason> for DedupeReason {
    fn from(r: MatchReason) -> Self {
        match r {
            MatchReason::SameEmail => Self::SameEmail,
            MatchReason::SamePhone => Self::SamePhone,
            MatchReason::SameNameAndCompany => Self::SameNameAndCompany,
            MatchReason::SameNameAndEmailDomain => Self::SameNameAndEmailDomain,
        }
    }
}

/// A bulk dedupe run (`startDedupe`) over the live leads in the starting
/// key's scope. Leads sharing an email, a phone, a name and company, or a
/// name and corporate email domain form clusters; a real run merges each
/// cluster into its oldest lead.
pub struct DedupeRun(pub job::Model);

#[Object]
impl DedupeRun {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::DedupeRun, self.0.id).gql(ctx)
    }

    async fn status(&self) -> JobStatus {
        self.0.status.into()
    }

    /// A dry run reports clusters and merges nothing.
    async fn dry_run(&self) -> bool {
        service::is_dry_run(&self.0)
    }

    /// Live leads in scope that were compared; null until the scan is done.
    async fn leads_scanned(&self) -> Option<i64> {
        self.0.total_rows
    }

    /// Clusters found (two or more leads each); null until the scan is done.
    async fn cluster_count(&self) -> Option<i64> {
        self.0
            .total_rows
            .map(|_| service::summary_of(&self.0).clusters)
    }

    /// Clusters merged so far (always 0 for a dry run).
    async fn merged_cluster_count(&self) -> i64 {
        self.0.updated_count
    }

    /// Clusters not merged because a member was deleted, merged, moved out of
    /// scope or changed so it no longer matches since the scan.
    async fn skipped_cluster_count(&self) -> i64 {
        self.0.skipped_count
    }

    /// Duplicates merged into their survivors so far.
    async fn merged_lead_count(&self) -> i64 {
        service::summary_of(&self.0).merged_leads
    }

    /// Values shared by more than 50 leads (junk such as `+10000000000` or
    /// "test test"), which were not used to link leads; null until the scan is
    /// done.
    async fn skipped_block_count(&self) -> Option<i64> {
        self.0
            .total_rows
            .map(|_| service::summary_of(&self.0).skipped_blocks)
    }

    /// From 0 to 1: 0 until the scan is done, then the share of clusters
    /// processed; 1 when completed.
    async fn progress(&self) -> f64 {
        service::progress(&self.0)
    }

    /// Why the run failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }

    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }

    /// The clusters found, by survivor (oldest first). Needs `leads:read`.
    #[graphql(
        guard = "ScopeGuard(Op::LeadsRead)",
        complexity = "PageArgs::max_nodes(first, last) * child_complexity"
    )]
    async fn clusters(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<DedupeCluster>> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let dry_run = service::is_dry_run(&self.0);
        connection::paged(
            ctx,
            args,
            &Sort::by_id(dedupe_cluster::Column::Id, true),
            store::dedupe::clusters(self.0.id),
            connection::id_key(|m: &dedupe_cluster::Model| m.id),
            |m| DedupeCluster {
                cluster: StoredCluster::parse(&m),
                dry_run,
            },
            CountQuery::DedupeClusters,
        )
        .await
    }
}

/// Leads a dedupe run found to be one person.
pub struct DedupeCluster {
    cluster: StoredCluster,
    dry_run: bool,
}

#[Object]
impl DedupeCluster {
    /// The lead the others merge into: the oldest. Null if the caller cannot
    /// see it (any more).
    async fn survivor(&self, ctx: &Context<'_>) -> Result<Option<Lead>> {
        let loaders = ctx.loaders().gql(ctx)?;
        Ok(loaders
            .leads
            .load_one(self.cluster.survivor_id)
            .await
            .map_err(load_err)
            .gql(ctx)?
            .map(Lead))
    }

    /// Every member, survivor first, then oldest first; leads the caller
    /// cannot see (any more) are left out.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Lead>> {
        let loaders = ctx.loaders().gql(ctx)?;
        let mut found = loaders
            .leads
            .load_many(self.cluster.member_ids.iter().copied())
            .await
            .map_err(load_err)
            .gql(ctx)?;
        Ok(self
            .cluster
            .member_ids
            .iter()
            .filter_map(|id| found.remove(id))
            .map(Lead)
            .collect())
    }

    /// Every reason that linked two members.
    async fn reasons(&self) -> Vec<DedupeReason> {
        self.cluster.reasons.iter().map(|&r| r.into()).collect()
    }

    /// Whether the members are merged into the survivor (every other member
    /// has `mergedInto` = the survivor). Always false in a dry run.
    async fn merged(&self, ctx: &Context<'_>) -> Result<bool> {
        if self.dry_run {
            return Ok(false);
        }
        let duplicates: Vec<i64> = self.cluster.duplicates().collect();
        let loaders = ctx.loaders().gql(ctx)?;
        let found = loaders
            .leads
            .load_many(duplicates.iter().copied())
            .await
            .map_err(load_err)
            .gql(ctx)?;
        Ok(!duplicates.is_empty()
            && duplicates.iter().all(|id| {
                found
                    .get(id)
                    .is_some_and(|l| l.merged_into_id == Some(self.cluster.survivor_id))
            }))
    }
}

/// Loads one run the caller may see, or `not_found`.
pub async fn load_run(ctx: &Context<'_>, id: i64) -> Result<DedupeRun> {
    let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
    Ok(DedupeRun(service::get(db, p, id).await.gql(ctx)?))
}

/// `dedupeRun(id)`.
#[derive(Default)]
pub struct DedupeQuery;

#[Object]
impl DedupeQuery {
    /// One bulk dedupe run by id (poll it until `status` is `COMPLETED` or
    /// `FAILED`). Needs `imports:run`. A run started by a key whose scope is
    /// not within the caller's is `not_found`.
    #[graphql(guard = "ScopeGuard(Op::ImportsRun)")]
    async fn dedupe_run(&self, ctx: &Context<'_>, id: ID) -> Result<Option<DedupeRun>> {
        let row = ctx.decode_id(NodeType::DedupeRun, &id).gql(ctx)?;
        load_run(ctx, row).await.map(Some)
    }
}
