//! The `Lead` object. `email`, `phone` and `customFields` need `pii:read`.

use async_graphql::{Context, ID, Json, Object, Result};
use chrono::{DateTime, Utc};
use entity::{lead, lead_transition};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    LeadTransition, Team, User,
    enums::{LeadSource, LeadStatus},
    lead_one_pass::OnePassLead,
};
use crate::{
    auth::Op,
    domain::DomainError,
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

/// A lead: a person who might buy.
#[derive(Clone)]
pub struct Lead(pub lead::Model);

pub(crate) fn load_err(e: std::sync::Arc<sea_orm::DbErr>) -> DomainError {
    DomainError::Internal(anyhow::anyhow!("loader: {e}"))
}

#[Object]
impl Lead {
    pub async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        ctx.encode_id(NodeType::Lead, self.0.id).gql(ctx)
    }

    /// As given (trimmed). Needs `pii:read`.
    #[graphql(guard = "ScopeGuard(Op::PiiRead)")]
    async fn email(&self) -> Option<&str> {
        Some(&self.0.email)
    }

    async fn first_name(&self) -> &str {
        &self.0.first_name
    }

    async fn last_name(&self) -> &str {
        &self.0.last_name
    }

    /// E.164. Needs `pii:read`.
    #[graphql(guard = "ScopeGuard(Op::PiiRead)")]
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    async fn company(&self) -> Option<&str> {
        self.0.company.as_deref()
    }

    async fn job_title(&self) -> Option<&str> {
        self.0.job_title.as_deref()
    }

    async fn source(&self) -> LeadSource {
        self.0.source.into()
    }

    async fn status(&self) -> LeadStatus {
        self.0.status.into()
    }

    /// 0–100.
    async fn score(&self) -> i32 {
        self.0.score
    }

    /// A JSON object of scalar values. Needs `pii:read`.
    #[graphql(guard = "ScopeGuard(Op::PiiRead)")]
    async fn custom_fields(&self) -> Option<Json<serde_json::Value>> {
        Some(Json(
            serde_json::from_str(&self.0.custom_fields).unwrap_or_default(),
        ))
    }

    /// Market code (`US`, `IN`, ...).
    async fn market(&self) -> &str {
        &self.0.market
    }

    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        let Some(id) = self.0.team_id else {
            return Ok(None);
        };
        let loaders = ctx.loaders().gql(ctx)?;
        if let Some(team) = loaders.prefetched_team(id) {
            return Ok(Some(Team(team)));
        }
        Ok(Box::pin(loaders.teams.load_one(id))
            .await
            .map_err(load_err)
            .gql(ctx)?
            .map(Team))
    }

    async fn assigned_to(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        load_user(ctx, self.0.assigned_to_id).await
    }

    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        load_user(ctx, self.0.created_by_id).await
    }

    /// The surviving lead, when this one was merged into another.
    async fn merged_into(&self, ctx: &Context<'_>) -> Result<Option<Lead>> {
        let Some(id) = self.0.merged_into_id else {
            return Ok(None);
        };
        let loaders = ctx.loaders().gql(ctx)?;
        Ok(Box::pin(loaders.leads.load_one(id))
            .await
            .map_err(load_err)
            .gql(ctx)?
            .map(Lead))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Status transitions, oldest first.
    #[graphql(complexity = "PageArgs::max_nodes(first, last) * child_complexity")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<LeadTransition>> {
        let p = ctx.principal().gql(ctx)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let select = lead_transition::Entity::find()
            .filter(scope::transitions(p))
            .filter(lead_transition::Column::LeadId.eq(self.0.id));
        let sort = Sort::by_id(lead_transition::Column::Id, true);
        let id = connection::id_key(|m: &lead_transition::Model| m.id);
        Box::pin(connection::paged(
            ctx,
            args,
            &sort,
            select,
            id,
            LeadTransition,
            CountQuery::Transitions,
        ))
        .await
    }
}

async fn load_user(ctx: &Context<'_>, id: Option<i64>) -> Result<Option<User>> {
    let Some(id) = id else { return Ok(None) };
    let loaders = ctx.loaders().gql(ctx)?;
    if let Some(user) = loaders.prefetched_user(id) {
        return Ok(Some(User(user)));
    }
    Ok(Box::pin(loaders.users.load_one(id))
        .await
        .map_err(load_err)
        .gql(ctx)?
        .map(User))
}

/// Before the nodes of a page of leads resolve: loads the users and teams the
/// selection asks for (`nodes` or `edges.node` → `assignedTo`, `createdBy`,
/// `team`) in one query each ([`crate::graphql::context::Loaders::prefetch`]).
pub async fn prefetch_related(ctx: &Context<'_>, conn: &Conn<OnePassLead>) -> Result<()> {
    let look = ctx.look_ahead();
    let nodes = [look.field("nodes"), look.field("edges").field("node")];
    let wants = |field: &str| nodes.iter().any(|n| n.field(field).exists());
    let (assigned, created, team) = (wants("assignedTo"), wants("createdBy"), wants("team"));
    if !(assigned || created || team) {
        return Ok(());
    }
    let leads = conn.edges.iter().map(|e| &e.node.0.0);
    let mut users = Vec::new();
    if assigned {
        users.extend(leads.clone().filter_map(|l| l.assigned_to_id));
    }
    if created {
        users.extend(leads.clone().filter_map(|l| l.created_by_id));
    }
    let teams = if team {
        leads.filter_map(|l| l.team_id).collect()
    } else {
        Vec::new()
    };
    ctx.loaders()
        .gql(ctx)?
        .prefetch(users, teams)
        .await
        .map_err(load_err)
        .gql(ctx)
}
