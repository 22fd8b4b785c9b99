//! The query root.

use async_graphql::{Context, ID, Object, Result};
use entity::{api_key, audit_event, lead_transition, team, user};
use sea_orm::{EntityTrait, PrimaryKeyTrait, QueryFilter};

use super::{
    connection::{self, Conn, CountQuery},
    context::Ctx,
    errors::{GqlResult, coded},
    guards::{ScopeGuard, require},
    types::{
        ApiKey, Lead, LeadTransition, Node, Team, User, Viewer,
        audit::{AuditEvent, AuditEventFilter},
        inputs::{LeadFilter, LeadOrder},
        lead_one_pass::OnePassLead,
        webhook::{self, WebhookDelivery, WebhookDeliveryFilter, WebhookEndpoint},
    },
};
use crate::{
    auth::Op,
    domain::DomainError,
    error::ErrorCode,
    ids::NodeType,
    scope,
    store::{self, PageArgs, page::Sort},
};

/// Most ids `nodes(ids:)` accepts at once.
const MAX_NODES: usize = 100;

/// The query root, merged from one object per area.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    CoreQuery,
    super::types::import::ImportQuery,
    super::types::dedupe::DedupeQuery,
);

/// Leads, organisation, keys, audit and webhooks.
#[derive(Default)]
pub struct CoreQuery;

/// One row by id within `scope`, or `not_found`.
async fn scoped_one<E: EntityTrait<PrimaryKey: PrimaryKeyTrait<ValueType = i64>>>(
    ctx: &Context<'_>,
    db: &sea_orm::DatabaseConnection,
    id: i64,
    scope: sea_orm::Condition,
) -> Result<E::Model> {
    E::find_by_id(id)
        .filter(scope)
        .one(db)
        .await
        .map_err(DomainError::from)
        .and_then(|row| row.ok_or(DomainError::NotFound))
        .gql(ctx)
}

/// Loads one node of a decoded id, or `NotFound`.
async fn load_node(ctx: &Context<'_>, ty: NodeType, id: i64) -> Result<Node> {
    let p = ctx.principal().gql(ctx)?;
    let db = ctx.db().gql(ctx)?;
    let loaders = ctx.loaders().gql(ctx)?;
    let missing = || super::errors::to_gql(ctx, DomainError::NotFound);
    fn loaded<T>(
        ctx: &Context<'_>,
        r: Result<Option<T>, std::sync::Arc<sea_orm::DbErr>>,
    ) -> Result<T> {
        r.map_err(super::types::lead::load_err)
            .gql(ctx)?
            .ok_or_else(|| super::errors::to_gql(ctx, DomainError::NotFound))
    }
    Ok(match ty {
        NodeType::Lead => {
            require(ctx, Op::LeadsRead)?;
            Node::Lead(Lead(loaded(ctx, loaders.leads.load_one(id).await)?))
        }
        NodeType::User => Node::User(User(loaded(ctx, loaders.users.load_one(id).await)?)),
        NodeType::Team => Node::Team(Team(loaded(ctx, loaders.teams.load_one(id).await)?)),
        NodeType::ApiKey => {
            require(ctx, Op::KeysManage)?;
            let key = scoped_one::<api_key::Entity>(ctx, db, id, scope::api_keys(p)).await?;
            Node::ApiKey(ApiKey(key))
        }
        NodeType::LeadTransition => {
            require(ctx, Op::LeadsRead)?;
            let t =
                scoped_one::<lead_transition::Entity>(ctx, db, id, scope::transitions(p)).await?;
            // Visible only through a lead the caller can see.
            loaded(ctx, loaders.leads.load_one(t.lead_id).await)?;
            Node::LeadTransition(LeadTransition(t))
        }
        NodeType::AuditEvent => {
            require(ctx, Op::AuditRead)?;
            let event =
                scoped_one::<audit_event::Entity>(ctx, db, id, scope::audit_events(p)).await?;
            Node::AuditEvent(AuditEvent(event))
        }
        NodeType::WebhookEndpoint => {
            require(ctx, Op::WebhooksManage)?;
            Node::WebhookEndpoint(webhook::load_endpoint(ctx, id).await.gql(ctx)?)
        }
        NodeType::WebhookDelivery => {
            require(ctx, Op::WebhooksManage)?;
            Node::WebhookDelivery(webhook::load_delivery(ctx, id).await.gql(ctx)?)
        }
        NodeType::ImportJob => Node::ImportJob(super::types::import::load(ctx, id).await?),
        NodeType::DedupeRun => {
            require(ctx, Op::ImportsRun)?;
            Node::DedupeRun(super::types::dedupe::load_run(ctx, id).await?)
        }
        NodeType::Tenant | NodeType::WebhookEvent => return Err(missing()),
    })
}

#[Object]
impl CoreQuery {
    /// The caller's rate-limit budget for this request's class, after this
    /// request (also sent as `X-RateLimit-*` headers and `extensions.cost`).
    async fn rate_limit(&self, ctx: &Context<'_>) -> Option<super::types::rate_limit::RateLimit> {
        ctx.data_opt::<super::rate_limit::RateSlot>()
            .and_then(super::rate_limit::RateSlot::get)
            .map(Into::into)
    }

    /// The caller: its key, tenant, environment and acting user.
    async fn viewer(&self) -> Viewer {
        Viewer
    }

    /// Any object by its global id. Malformed ids are `bad_request`; ids of other
    /// tenants or outside the key's scope are `not_found`.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let (ty, row) = ctx.codec().gql(ctx)?.decode(&id).map_err(|_| {
            coded(
                ErrorCode::BadRequest,
                format!("`{}` is not a valid id", id.as_str()),
            )
        })?;
        load_node(ctx, ty, row).await.map(Some)
    }

    /// Several objects by id (at most 100), in order; null where an id names
    /// nothing the caller can see.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(coded(
                ErrorCode::BadRequest,
                format!("at most {MAX_NODES} ids"),
            ));
        }
        let codec = ctx.codec().gql(ctx)?;
        let decoded = ids
            .iter()
            .map(|id| {
                codec.decode(id).map_err(|_| {
                    coded(
                        ErrorCode::BadRequest,
                        format!("`{}` is not a valid id", id.as_str()),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let loads = decoded.into_iter().map(|(ty, row)| load_node(ctx, ty, row));
        Ok(futures::future::join_all(loads)
            .await
            .into_iter()
            .map(Result::ok)
            .collect())
    }

    /// One lead by id.
    #[graphql(guard = "ScopeGuard(Op::LeadsRead)")]
    async fn lead(&self, ctx: &Context<'_>, id: ID) -> Result<Option<OnePassLead>> {
        let row = ctx.decode_id(NodeType::Lead, &id).gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let lead = store::leads::get(db, p, row).await.gql(ctx)?;
        Ok(Some(OnePassLead(Lead(lead))))
    }

    /// Live leads (not deleted, not merged) in the key's scope. Default order
    /// `CREATED_AT DESC`; page size 50 by default, at most 200.
    #[graphql(
        guard = "ScopeGuard(Op::LeadsRead)",
        complexity = "PageArgs::max_nodes(first, last) * child_complexity"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn leads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<LeadFilter>,
        order_by: Option<LeadOrder>,
    ) -> Result<Conn<OnePassLead>> {
        let p = ctx.principal().gql(ctx)?;
        let order: store::leads::LeadOrder = order_by.unwrap_or_default().into();
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let filter = filter.unwrap_or_default().into_domain(ctx).gql(ctx)?;
        let select = store::leads::list(p, &filter);
        let key = |m: &entity::lead::Model| (Some(order.value_of(m)), m.id);
        let conn = connection::paged(
            ctx,
            args,
            &order.sort(),
            select,
            key,
            |m| OnePassLead(Lead(m)),
            CountQuery::Leads,
        )
        .await?;
        super::types::lead::prefetch_related(ctx, &conn).await?;
        Ok(conn)
    }

    /// One user of the tenant.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        let row = ctx.decode_id(NodeType::User, &id).gql(ctx)?;
        match load_node(ctx, NodeType::User, row).await? {
            Node::User(u) => Ok(Some(u)),
            _ => Ok(None),
        }
    }

    /// Users of the tenant, oldest first.
    #[graphql(complexity = "PageArgs::max_nodes(first, last) * child_complexity")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<User>> {
        let p = ctx.principal().gql(ctx)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let select = user::Entity::find().filter(scope::users(p));
        let id = connection::id_key(|m: &user::Model| m.id);
        connection::paged(
            ctx,
            args,
            &Sort::by_id(user::Column::Id, true),
            select,
            id,
            User,
            CountQuery::Users,
        )
        .await
    }

    /// Teams in the key's markets (and teams), oldest first.
    #[graphql(complexity = "PageArgs::max_nodes(first, last) * child_complexity")]
    async fn teams(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<Team>> {
        let p = ctx.principal().gql(ctx)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let select = team::Entity::find().filter(scope::teams(p));
        let id = connection::id_key(|m: &team::Model| m.id);
        connection::paged(
            ctx,
            args,
            &Sort::by_id(team::Column::Id, true),
            select,
            id,
            Team,
            CountQuery::Teams,
        )
        .await
    }

    /// API keys of this tenant and environment, oldest first. Needs `keys:manage`.
    #[graphql(
        guard = "ScopeGuard(Op::KeysManage)",
        complexity = "PageArgs::max_nodes(first, last) * child_complexity"
    )]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<ApiKey>> {
        let p = ctx.principal().gql(ctx)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let select = api_key::Entity::find().filter(scope::api_keys(p));
        let id = connection::id_key(|m: &api_key::Model| m.id);
        connection::paged(
            ctx,
            args,
            &Sort::by_id(api_key::Column::Id, true),
            select,
            id,
            ApiKey,
            CountQuery::ApiKeys,
        )
        .await
    }

    /// The audit log of this tenant and environment, newest first. Needs
    /// `audit:read`.
    #[graphql(
        guard = "ScopeGuard(Op::AuditRead)",
        complexity = "PageArgs::max_nodes(first, last) * child_complexity"
    )]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<AuditEventFilter>,
    ) -> Result<Conn<AuditEvent>> {
        let p = ctx.principal().gql(ctx)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let condition = filter.unwrap_or_default().condition(ctx).gql(ctx)?;
        let select = audit_event::Entity::find()
            .filter(scope::audit_events(p))
            .filter(condition);
        let id = connection::id_key(|m: &audit_event::Model| m.id);
        connection::paged(
            ctx,
            args,
            &Sort::by_id(audit_event::Column::Id, false),
            select,
            id,
            AuditEvent,
            CountQuery::AuditEvents,
        )
        .await
    }

    /// Webhook endpoints of this tenant and environment (not deleted), oldest
    /// first. Needs `webhooks:manage`.
    #[graphql(
        guard = "ScopeGuard(Op::WebhooksManage)",
        complexity = "PageArgs::max_nodes(first, last) * child_complexity"
    )]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<WebhookEndpoint>> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        webhook::list_endpoints(ctx, args).await
    }

    /// Webhook deliveries of this tenant and environment with their attempts,
    /// newest first. Needs `webhooks:manage`.
    #[graphql(
        guard = "ScopeGuard(Op::WebhooksManage)",
        complexity = "PageArgs::max_nodes(first, last) * child_complexity"
    )]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<WebhookDeliveryFilter>,
    ) -> Result<Conn<WebhookDelivery>> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        webhook::list_deliveries(ctx, args, filter).await
    }
}
