//! Users, teams and API keys.

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use crate::{
    auth::{
        Op,
        cache::{AuthCache, Invalidation},
    },
    domain::{DomainError, keys, teams, users},
    graphql::{
        context::{Ctx, in_transaction},
        errors::GqlResult,
        guards::ScopeGuard,
        types::{
            ApiKey, Team, User,
            inputs::{CreateApiKeyInput, CreateTeamInput, CreateUserInput},
        },
    },
    ids::NodeType,
};

#[derive(Default)]
pub struct AdminMutation;

/// Result of `createUser` and `deactivateUser`.
#[derive(SimpleObject)]
pub struct UserPayload {
    user: User,
}

/// Result of `createTeam`.
#[derive(SimpleObject)]
pub struct TeamPayload {
    team: Team,
}

/// Result of `createApiKey`: the key's metadata and, this once, the full key.
#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    api_key: ApiKey,
    /// The secret. It is not stored and cannot be shown again.
    full_key: String,
}

/// Result of `revokeApiKey`.
#[derive(SimpleObject)]
pub struct ApiKeyPayload {
    api_key: ApiKey,
}

#[Object]
impl AdminMutation {
    /// Adds a member to the tenant. Needs `users:manage`.
    #[graphql(guard = "ScopeGuard(Op::UsersManage)")]
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<UserPayload> {
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let user = in_transaction(db, async |txn| {
            users::create_user(txn, p, &input.email, &input.name).await
        })
        .await
        .gql(ctx)?;
        Ok(UserPayload { user: User(user) })
    }

    /// Deactivates a user: keys they own stop working and leads can no longer be
    /// assigned to them. Needs `users:manage`.
    #[graphql(guard = "ScopeGuard(Op::UsersManage)")]
    async fn deactivate_user(&self, ctx: &Context<'_>, id: ID) -> Result<UserPayload> {
        let row = ctx.decode_id(NodeType::User, &id).gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let user = in_transaction(db, async |txn| users::deactivate_user(txn, p, row).await)
            .await
            .gql(ctx)?;
        invalidate(
            ctx,
            Invalidation::User {
                tenant_id: user.tenant_id,
                user_id: user.id,
            },
        )
        .await;
        Ok(UserPayload { user: User(user) })
    }

    /// Creates a team in one of the key's markets. Needs `users:manage`.
    #[graphql(guard = "ScopeGuard(Op::UsersManage)")]
    async fn create_team(&self, ctx: &Context<'_>, input: CreateTeamInput) -> Result<TeamPayload> {
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let team = in_transaction(db, async |txn| {
            teams::create_team(txn, p, &input.name, &input.market).await
        })
        .await
        .gql(ctx)?;
        Ok(TeamPayload { team: Team(team) })
    }

    /// Creates an API key within the calling key's scope (never wider), owned by
    /// the acting user. The full key is returned once. Needs `keys:manage`.
    #[graphql(guard = "ScopeGuard(Op::KeysManage)")]
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> Result<CreateApiKeyPayload> {
        let team_ids = input
            .team_ids
            .map(|ids| {
                ids.iter()
                    .map(|id| match ctx.decode_id(NodeType::Team, id) {
                        Err(DomainError::NotFound) => Ok(0),
                        other => other,
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .gql(ctx)?;
        let request = keys::KeyRequest {
            name: input.name,
            operations: input.operations,
            markets: input.markets,
            team_ids,
            expires_at: input.expires_at,
        };
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let (key, secret) = in_transaction(db, async |txn| keys::create_key(txn, p, request).await)
            .await
            .gql(ctx)?;
        Ok(CreateApiKeyPayload {
            api_key: ApiKey(key),
            full_key: secret.expose().to_owned(),
        })
    }

    /// Revokes a key at once. A key cannot revoke a key wider than itself. Needs
    /// `keys:manage`.
    #[graphql(guard = "ScopeGuard(Op::KeysManage)")]
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<ApiKeyPayload> {
        let row = ctx.decode_id(NodeType::ApiKey, &id).gql(ctx)?;
        let (p, db) = (ctx.principal().gql(ctx)?, ctx.db().gql(ctx)?);
        let key = in_transaction(db, async |txn| keys::revoke_key(txn, p, row).await)
            .await
            .gql(ctx)?;
        invalidate(
            ctx,
            Invalidation::Key {
                hash: key.key_hash.clone(),
            },
        )
        .await;
        Ok(ApiKeyPayload {
            api_key: ApiKey(key),
        })
    }
}

/// Evicts what a committed change made stale from the auth cache (here at once,
/// elsewhere through Redis when set).
async fn invalidate(ctx: &Context<'_>, what: Invalidation) {
    if let Some(cache) = ctx.data_opt::<AuthCache>() {
        cache.invalidate(what).await;
    }
}
