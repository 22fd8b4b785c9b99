//! Turning request headers into a `Principal`.
//!
//! Accepted credentials: `X-API-Key: <key>` or `Authorization: Bearer <key>`. A
//! malformed key is refused before any database lookup (checksum); a well-formed
//! one is looked up by its SHA-256. Unknown, revoked and expired keys, and keys
//! whose owner was deactivated, are all `unauthenticated`.

use axum::http::HeaderMap;
use chrono::{TimeDelta, Utc};
use entity::{api_key, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};

use super::{ApiKeySecret, Principal};
use crate::{clock, domain::keys::KeyScope};

/// `lastUsedAt` is written at most this often per key, not on every request.
const LAST_USED_RESOLUTION: TimeDelta = TimeDelta::seconds(60);

/// Why a request is not authenticated (all answer HTTP 401).
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

/// Authenticates a request's headers against the database.
pub async fn authenticate(
    db: &DatabaseConnection,
    headers: &HeaderMap,
) -> Result<Principal, AuthenticateError> {
    let raw = credential(headers).ok_or(AuthError::Missing)?;
    let secret = ApiKeySecret::parse(raw).map_err(|_| AuthError::Malformed)?;
    let key = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(secret.hash()))
        .one(db)
        .await?
        .ok_or(AuthError::Unknown)?;
    if key.environment != secret.environment() {
        return Err(AuthError::Unknown.into());
    }
    if key.revoked_at.is_some() {
        return Err(AuthError::Revoked.into());
    }
    let now = Utc::now();
    if key.expires_at.is_some_and(|t| t <= now) {
        return Err(AuthError::Expired.into());
    }
    let owner_active = user::Entity::find_by_id(key.owner_user_id)
        .filter(user::Column::TenantId.eq(key.tenant_id))
        .filter(user::Column::DeactivatedAt.is_null())
        .one(db)
        .await?
        .is_some();
    if !owner_active {
        return Err(AuthError::Revoked.into());
    }
    if key
        .last_used_at
        .is_none_or(|t| now - t >= LAST_USED_RESOLUTION)
    {
        let mut am: api_key::ActiveModel = key.clone().into();
        am.last_used_at = Set(Some(clock::now()));
        am.update(db).await?;
    }
    let KeyScope {
        ops,
        markets,
        teams,
    } = KeyScope::of(&key);
    Ok(Principal {
        tenant_id: key.tenant_id,
        environment: key.environment,
        key_id: key.id,
        owner_user_id: key.owner_user_id,
        acting_user_id: key.owner_user_id,
        ops,
        markets,
        teams,
        expires_at: key.expires_at,
    })
}

/// Authentication failed: a refused credential, or the database failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    #[error(transparent)]
    Refused(#[from] AuthError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}
