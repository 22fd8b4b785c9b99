//! `ImportJob`, its row results, and the `importJob`/`importJobs` queries.

use async_graphql::{Context, ID, Object, Result};
use entity::{JobKind, import_row, job};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    Lead,
    batch::BatchItemErrorObject,
    enums::{ImportRowStatus, JobStatus},
};
use crate::{
    auth::Op,
    domain::{error::ItemError, imports},
    graphql::{
        connection::{self, Conn, CountQuery},
        context::Ctx,
        errors::GqlResult,
        guards::ScopeGuard,
    },
    ids::NodeType,
    scope,
    store::{PageArgs, page::Sort},
};

/// A CSV import: its options, progress and per-row results.
pub struct ImportJob(pub job::Model);

#[Object]
impl ImportJob {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        Ok(ID(ctx
            .codec()
            .gql(ctx)?
            .encode(NodeType::ImportJob, self.0.id)))
    }

    async fn status(&self) -> JobStatus {
        self.0.status.into()
    }

    /// The uploaded file's name, when given.
    async fn file_name(&self) -> Option<&str> {
        self.0.file_name.as_deref()
    }

    /// Size of the uploaded file in bytes.
    async fn file_bytes(&self) -> i64 {
        self.0.file_bytes
    }

    /// A dry run validates and reports every row but writes no lead.
    async fn dry_run(&self) -> bool {
        imports::params_of(&self.0).is_ok_and(|p| p.dry_run)
    }

    async fn on_duplicate(&self) -> super::enums::OnDuplicate {
        use super::enums::OnDuplicate;
        match imports::params_of(&self.0).map(|p| p.on_duplicate()) {
            Ok(crate::domain::leads::OnDuplicate::Skip) => OnDuplicate::Skip,
            Ok(crate::domain::leads::OnDuplicate::Update) => OnDuplicate::Update,
            _ => OnDuplicate::Error,
        }
    }

    /// Data rows in the file (known once the upload is in).
    async fn total_rows(&self) -> Option<i64> {
        self.0.total_rows
    }

    /// Rows whose results are committed.
    async fn processed_rows(&self) -> i64 {
        self.0.processed_rows
    }

    async fn created(&self) -> i64 {
        self.0.created_count
    }

    async fn updated(&self) -> i64 {
        self.0.updated_count
    }

    async fn skipped(&self) -> i64 {
        self.0.skipped_count
    }

    async fn failed(&self) -> i64 {
        self.0.failed_count
    }

    /// 0.0 to 1.0.
    async fn progress(&self) -> f64 {
        imports::progress(&self.0)
    }

    /// Why the job failed (a file that cannot be read, ...).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.created_at
    }

    async fn started_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.started_at
    }

    async fn finished_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.finished_at
    }

    /// The rows' results in file order, optionally only some statuses.
    #[graphql(complexity = "PageArgs::max_nodes(first, last) * child_complexity")]
    async fn results(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<Vec<ImportRowStatus>>,
    ) -> Result<Conn<ImportRowResult>> {
        let sort = Sort::<import_row::Entity>::by_id(import_row::Column::RowNumber, true);
        let statuses: Option<Vec<entity::ImportRowStatus>> =
            status.map(|s| s.into_iter().map(Into::into).collect());
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let req = args.resolve(sort.tag).gql(ctx)?;
        let other_side = connection::reads_other_side(ctx, &req);
        let db = ctx.db().gql(ctx)?;
        let page = imports::results_page(db, self.0.id, statuses.as_deref(), &req, other_side)
            .await
            .gql(ctx)?;
        Ok(connection::build(
            page,
            &sort,
            connection::id_key(|m: &import_row::Model| m.row_number),
            ImportRowResult,
            CountQuery::ImportRows {
                job_id: self.0.id,
                statuses,
            },
        ))
    }
}

/// The result of one row of an import.
pub struct ImportRowResult(pub import_row::Model);

#[Object]
impl ImportRowResult {
    /// 1-based data row of the file (the header is not a row).
    async fn row(&self) -> i64 {
        self.0.row_number
    }

    async fn status(&self) -> ImportRowStatus {
        self.0.status.into()
    }

    /// The lead created, updated or skipped, or the existing lead a duplicate
    /// hit; null for other failures, in dry runs for new leads, and when the
    /// lead is outside the caller's scope.
    async fn lead(&self, ctx: &Context<'_>) -> Result<Option<Lead>> {
        let Some(id) = self.0.lead_id else {
            return Ok(None);
        };
        let loaders = ctx.loaders().gql(ctx)?;
        let lead = loaders
            .leads
            .load_one(id)
            .await
            .map_err(super::lead::load_err)
            .gql(ctx)?;
        Ok(lead.map(Lead))
    }

    /// The error code of a failed row (`validation_failed`, `duplicate`, ...).
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// Why the row failed: one entry per field problem.
    async fn errors(&self) -> Vec<BatchItemErrorObject> {
        self.0
            .errors
            .as_deref()
            .and_then(|e| serde_json::from_str::<Vec<ItemError>>(e).ok())
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect()
    }
}

/// An `importJobs` filter.
#[derive(async_graphql::InputObject, Default)]
pub struct ImportJobFilter {
    pub status: Option<Vec<JobStatus>>,
}

/// The import queries.
#[derive(Default)]
pub struct ImportQuery;

#[Object]
impl ImportQuery {
    /// One import job. Keys limited to some markets or teams see the jobs they
    /// started; others see every job of the environment.
    #[graphql(guard = "ScopeGuard(Op::ImportsRun)")]
    async fn import_job(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ImportJob>> {
        let row = ctx.decode_id(NodeType::ImportJob, &id).gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        Ok(Some(ImportJob(imports::get(db, p, row).await.gql(ctx)?)))
    }

    /// Import jobs, newest first.
    #[graphql(
        guard = "ScopeGuard(Op::ImportsRun)",
        complexity = "PageArgs::max_nodes(first, last) * child_complexity"
    )]
    async fn import_jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ImportJobFilter>,
    ) -> Result<Conn<ImportJob>> {
        let p = ctx.principal().gql(ctx)?;
        let sort = Sort::by_id(job::Column::Id, false);
        let mut select = job::Entity::find().filter(scope::jobs(p, JobKind::Import));
        if let Some(statuses) = filter.and_then(|f| f.status) {
            select = select.filter(
                job::Column::Status.is_in(statuses.into_iter().map(entity::JobStatus::from)),
            );
        }
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        connection::paged(
            ctx,
            args,
            &sort,
            select,
            connection::id_key(|m: &job::Model| m.id),
            ImportJob,
            CountQuery::Jobs,
        )
        .await
    }
}

/// An `ImportJob` the caller may see, for `node(id:)`.
pub async fn load(ctx: &Context<'_>, id: i64) -> Result<ImportJob> {
    super::super::guards::require(ctx, Op::ImportsRun)?;
    let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
    Ok(ImportJob(imports::get(db, p, id).await.gql(ctx)?))
}
