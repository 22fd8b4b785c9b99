//! Relay connections: `edges { cursor node }`, `nodes`, `pageInfo`, and a lazy
//! `totalCount` that runs its `COUNT(*)` only when the field is selected.

use async_graphql::{
    Context, Object, OutputType, Result,
    connection::{Connection, CursorType, Edge, EmptyFields},
};
use entity::{
    api_key, audit_event, dedupe_cluster, job, lead, lead_transition, team, user, webhook_delivery,
    webhook_endpoint,
};
use sea_orm::{EntityTrait, FromQueryResult, PaginatorTrait, Select};

use super::{context::Ctx, errors::GqlResult};
use crate::store::{
    PageArgs, PageRequest, PageResult,
    cursor::{Cursor, CursorValue, InvalidCursor},
    import_results,
    page::{Direction, Sort},
};

/// A connection of `N` with `totalCount`.
pub type Conn<N> = Connection<EdgeCursor, N, TotalCount, EmptyFields>;

/// An edge's cursor: its row's position, encoded only when the response
/// reads it (`edges.cursor`, `pageInfo.startCursor`, `pageInfo.endCursor`).
/// A page read through `nodes` encodes two cursors instead of one per row
/// (each a JSON document in base64).
pub struct EdgeCursor(Cursor);

impl CursorType for EdgeCursor {
    type Error = InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Self, InvalidCursor> {
        Cursor::decode(s).map(Self)
    }

    fn encode_cursor(&self) -> String {
        self.0.encode()
    }
}

/// The filtered (unpaged) query a `totalCount` counts.
pub enum CountQuery {
    Leads(Select<lead::Entity>),
    Users(Select<user::Entity>),
    Teams(Select<team::Entity>),
    ApiKeys(Select<api_key::Entity>),
    Transitions(Select<lead_transition::Entity>),
    AuditEvents(Select<audit_event::Entity>),
    WebhookEndpoints(Select<webhook_endpoint::Entity>),
    WebhookDeliveries(Select<webhook_delivery::Entity>),
    Jobs(Select<job::Entity>),
    /// An import's results (per row and in runs: `store::import_results`).
    ImportRows {
        job_id: i64,
        statuses: Option<Vec<entity::ImportRowStatus>>,
    },
    DedupeClusters(Select<dedupe_cluster::Entity>),
}

/// Extra connection fields.
pub struct TotalCount(CountQuery);

#[Object]
impl TotalCount {
    /// Number of nodes matching the connection's filters (counted only when asked).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let db = ctx.db().gql(ctx)?;
        let n = match &self.0 {
            CountQuery::Leads(q) => q.clone().count(db).await,
            CountQuery::Users(q) => q.clone().count(db).await,
            CountQuery::Teams(q) => q.clone().count(db).await,
            CountQuery::ApiKeys(q) => q.clone().count(db).await,
            CountQuery::Transitions(q) => q.clone().count(db).await,
            CountQuery::AuditEvents(q) => q.clone().count(db).await,
            CountQuery::WebhookEndpoints(q) => q.clone().count(db).await,
            CountQuery::WebhookDeliveries(q) => q.clone().count(db).await,
            CountQuery::Jobs(q) => q.clone().count(db).await,
            CountQuery::ImportRows { job_id, statuses } => {
                import_results::count(db, *job_id, statuses.as_deref()).await
            }
            CountQuery::DedupeClusters(q) => q.clone().count(db).await,
        };
        n.map_err(crate::domain::DomainError::from).gql(ctx)
    }
}

/// Pages `select` (already scoped and filtered) by `sort` with the Relay
/// arguments, and builds the connection; `count` wraps the unpaged query for
/// `totalCount`. `key` gives a row's cursor value and id.
pub async fn paged<E, R, N>(
    ctx: &Context<'_>,
    args: PageArgs,
    sort: &Sort<E, R>,
    select: Select<E>,
    key: impl Fn(&E::Model) -> (Option<CursorValue>, i64),
    node: impl Fn(E::Model) -> N,
    count: impl FnOnce(Select<E>) -> CountQuery,
) -> Result<Conn<N>>
where
    E: EntityTrait,
    R: FromQueryResult + Into<E::Model> + Send + Sync,
    N: OutputType,
{
    let db = ctx.db().gql(ctx)?;
    let req = args.resolve(sort.tag).gql(ctx)?;
    let other_side = reads_other_side(ctx, &req);
    let page = sort
        .page(db, select.clone(), &req, other_side)
        .await
        .gql(ctx)?;
    Ok(build(page, sort, key, node, count(select)))
}

/// Whether the selection reads the page flag that costs a second query: rows
/// on the other side of the cursor, `pageInfo.hasPreviousPage` when reading
/// forward, `pageInfo.hasNextPage` when reading backward.
pub fn reads_other_side(ctx: &Context<'_>, req: &PageRequest) -> bool {
    let flag = match req.direction {
        Direction::Forward => "hasPreviousPage",
        Direction::Backward => "hasNextPage",
    };
    ctx.look_ahead().field("pageInfo").field(flag).exists()
}

/// The cursor key of rows sorted by id alone.
pub fn id_key<M>(id: impl Fn(&M) -> i64) -> impl Fn(&M) -> (Option<CursorValue>, i64) {
    move |m| (None, id(m))
}

/// Builds a connection from a page: each edge's cursor holds its row's sort value
/// and id.
pub fn build<E, R, N>(
    page: PageResult<E::Model>,
    sort: &Sort<E, R>,
    key: impl Fn(&E::Model) -> (Option<CursorValue>, i64),
    node: impl Fn(E::Model) -> N,
    count: CountQuery,
) -> Conn<N>
where
    E: EntityTrait,
    R: FromQueryResult + Into<E::Model> + Send + Sync,
    N: OutputType,
{
    let mut conn = Connection::with_additional_fields(
        page.has_previous_page,
        page.has_next_page,
        TotalCount(count),
    );
    conn.edges = page
        .items
        .into_iter()
        .map(|m| {
            let (value, id) = key(&m);
            Edge::new(EdgeCursor(sort.cursor_of(value, id)), node(m))
        })
        .collect();
    conn
}
