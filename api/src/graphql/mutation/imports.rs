//! `startImport`: a CSV file by multipart upload (the GraphQL multipart request
//! spec) becomes a queued import job, like `POST /v1/imports`.

use async_graphql::{Context, Object, Result, Upload};

use crate::{
    auth::Op,
    domain::{DomainError, imports},
    graphql::{
        context::Ctx,
        errors::GqlResult,
        guards::ScopeGuard,
        types::{
            enums::{OnDuplicate, UnmappedColumns},
            import::ImportJob,
        },
    },
    jobs::Jobs,
};

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Queues an import of a CSV file sent as a multipart upload (`file`).
    /// The header and `mapping` are checked and the rows counted before the
    /// job is queued; poll `importJob` (or `node`) for progress. `mapping` is
    /// `"Header=field,Other=customFields.key"`; `market` applies to rows
    /// without a market column. Limits: the server's request body limit for
    /// GraphQL uploads (use `POST /v1/imports` for large files) and its rows
    /// per file.
    #[graphql(guard = "ScopeGuard(Op::ImportsRun)")]
    #[allow(clippy::too_many_arguments)]
    async fn start_import(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        #[graphql(default)] on_duplicate: OnDuplicate,
        #[graphql(default = false)] dry_run: bool,
        mapping: Option<String>,
        #[graphql(default)] unmapped: UnmappedColumns,
        market: Option<String>,
    ) -> Result<ImportJob> {
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let jobs = ctx
            .data::<Jobs>()
            .map_err(|_| DomainError::Internal(anyhow::anyhow!("job handle missing")))
            .gql(ctx)?;
        let on_duplicate = match on_duplicate {
            OnDuplicate::Error => "error",
            OnDuplicate::Skip => "skip",
            OnDuplicate::Update => "update",
        };
        let unmapped = match unmapped {
            UnmappedColumns::Custom => "custom",
            UnmappedColumns::Ignore => "ignore",
        };
        let params = imports::ImportParams::parse(
            Some(on_duplicate),
            dry_run,
            mapping.as_deref(),
            Some(unmapped),
            market.as_deref(),
        )
        .gql(ctx)?;
        let value = file
            .value(ctx)
            .map_err(|e| DomainError::BadRequest(format!("the upload is unreadable: {e}")))
            .gql(ctx)?;
        let name = Some(value.filename.clone()).filter(|n| !n.is_empty());
        let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(value.content)]);
        let uploaded = imports::upload(
            db,
            p,
            params,
            name,
            body,
            &jobs.limits,
            false,
            &jobs.instance,
        )
        .await
        .gql(ctx)?;
        jobs.signal.wake();
        Ok(ImportJob(uploaded.job))
    }
}
