//! Turning request headers into a `Principal`.
//!
//! Accepted credentials: `X-API-Key: <key>` or `Authorization: Bearer <key>`. A
//! malformed key is refused before any database lookup (checksum); a well-formed
//! one is looked up by its SHA-256. Unknown, revoked and expired keys, and keys
//! whose owner was deactivated, are all `unauthenticated`.
//!
//! `X-On-Behalf-Of: <user id>` makes the request act for that user (creator,
//! assignee, transition actor, audit actor); the user must be active and in the
//! key's tenant, else `forbidden`. The key's scope still governs access.
//!
//! Verified keys and `X-On-Behalf-Of` users are cached for a short TTL
//! ([`super::cache`]); expiry is checked on every request all the same.

use std::{sync::Arc, time::Instant};

use axum::http::HeaderMap;
use chrono::{TimeDelta, Utc};
use entity::{api_key, tenant, user};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, sea_query::Expr};

use super::{
    ApiKeySecret, Principal,
    cache::{AuthCache, VerifiedKey},
};
use crate::{
    clock,
    error::ErrorCode,
    ids::{IdCodec, NodeType},
};

/// `lastUsedAt` is written at most this often per key, not on every request.
const LAST_USED_RESOLUTION: TimeDelta = TimeDelta::seconds(60);

/// Why a request is refused before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("an API key is required: send `X-API-Key: <key>` or `Authorization: Bearer <key>`")]
    Missing,
    #[error("the API key is malformed")]
    Malformed,
    #[error("the API key is not valid")]
    Unknown,
    #[error("the API key has been revoked")]
    Revoked,
    #[error("the API key has expired")]
    Expired,
    #[error("the API key's owner has been deactivated")]
    OwnerDeactivated,
    /// `X-On-Behalf-Of` names no active user of the key's tenant.
    #[error("X-On-Behalf-Of must name an active user of this tenant")]
    OnBehalfOf,
}

impl AuthError {
    /// `forbidden` (403) for a refused impersonation, else `unauthenticated` (401).
    pub fn code(self) -> ErrorCode {
        match self {
            Self::OnBehalfOf => ErrorCode::Forbidden,
            _ => ErrorCode::Unauthenticated,
        }
    }
}

/// Authentication failed: a refused credential, or the database failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    #[error(transparent)]
    Refused(#[from] AuthError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// The credential presented, if any.
pub fn credential(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key") {
        return v.to_str().ok().map(str::trim);
    }
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Authenticates a request's headers: against `cache` when it holds the key
/// (and the `X-On-Behalf-Of` user), else against the database.
pub async fn authenticate(
    db: &DatabaseConnection,
    codec: &IdCodec,
    cache: &AuthCache,
    headers: &HeaderMap,
) -> Result<Principal, AuthenticateError> {
    let raw = credential(headers).ok_or(AuthError::Missing)?;
    let secret = ApiKeySecret::parse(raw).map_err(|_| AuthError::Malformed)?;
    let key = verified_key(db, cache, &secret).await?;
    if key.environment != secret.environment() {
        return Err(AuthError::Unknown.into());
    }
    let now = Utc::now();
    if key.is_expired(now) {
        return Err(AuthError::Expired.into());
    }
    let acting_user_id = match headers.get("x-on-behalf-of") {
        None => key.owner_user_id,
        Some(value) => {
            let id = value
                .to_str()
                .ok()
                .map(str::trim)
                .and_then(|v| codec.decode_as(NodeType::User, v).ok().flatten())
                .ok_or(AuthError::OnBehalfOf)?;
            if !is_active_user(db, cache, key.tenant_id, id).await? {
                return Err(AuthError::OnBehalfOf.into());
            }
            id
        }
    };
    if key.claim_last_used(now, LAST_USED_RESOLUTION) {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(clock::now()))
            .filter(api_key::Column::Id.eq(key.key_id))
            .exec(db)
            .await?;
    }
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok(Principal {
        tenant_id: key.tenant_id,
        environment: key.environment,
        key_id: key.key_id,
        owner_user_id: key.owner_user_id,
        acting_user_id,
        ops: key.ops,
        markets: key.markets.clone(),
        teams: key.teams.clone(),
        expires_at: key.expires_at,
        request_id,
        plan: key.plan.clone(),
    })
}

/// The key `secret` names, from the cache or else checked against the database
/// (and then cached): known, not revoked, not expired, owner active.
async fn verified_key(
    db: &DatabaseConnection,
    cache: &AuthCache,
    secret: &ApiKeySecret,
) -> Result<Arc<VerifiedKey>, AuthenticateError> {
    let hash = secret.hash();
    if let Some(key) = cache.key(&hash) {
        return Ok(key);
    }
    let ticket = cache.ticket();
    let verified_at = Instant::now();
    let key = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash.as_str()))
        .one(db)
        .await?
        .ok_or(AuthError::Unknown)?;
    if key.environment != secret.environment() {
        return Err(AuthError::Unknown.into());
    }
    if key.revoked_at.is_some() {
        return Err(AuthError::Revoked.into());
    }
    if key.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(AuthError::Expired.into());
    }
    if active_user(db, key.tenant_id, key.owner_user_id)
        .await?
        .is_none()
    {
        return Err(AuthError::OwnerDeactivated.into());
    }
    let plan = tenant::Entity::find_by_id(key.tenant_id)
        .one(db)
        .await?
        .map(|t| t.plan)
        .ok_or(AuthError::Unknown)?;
    let verified = Arc::new(VerifiedKey::new(&key, plan, verified_at));
    cache.store_key(ticket, hash, verified.clone());
    Ok(verified)
}

/// Whether `id` is an active user of `tenant_id`, from the cache or else the
/// database (an active user is then cached; a refusal never is).
async fn is_active_user(
    db: &DatabaseConnection,
    cache: &AuthCache,
    tenant_id: i64,
    id: i64,
) -> Result<bool, sea_orm::DbErr> {
    if cache.user_active(tenant_id, id) {
        return Ok(true);
    }
    let ticket = cache.ticket();
    let verified_at = Instant::now();
    let active = active_user(db, tenant_id, id).await?.is_some();
    if active {
        cache.store_user(ticket, tenant_id, id, verified_at);
    }
    Ok(active)
}

/// The id of an active user of `tenant_id`, if `id` is one.
async fn active_user(
    db: &DatabaseConnection,
    tenant_id: i64,
    id: i64,
) -> Result<Option<i64>, sea_orm::DbErr> {
    Ok(user::Entity::find_by_id(id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::DeactivatedAt.is_null())
        .one(db)
        .await?
        .map(|u| u.id))
}
