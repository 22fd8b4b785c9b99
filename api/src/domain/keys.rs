//! API keys: create (shown once), revoke. No key can mint a key wider than itself.

use std::collections::BTreeSet;

use batch::FieldCode;
use chrono::{DateTime, Utc};
use entity::{Environment, api_key, market, team};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, NotSet, QueryFilter,
};
use tracing::instrument;

use crate::domain::audit::{self, Resource};
use crate::{
    auth::{ApiKeySecret, MarketScope, OpSet, Principal},
    clock,
    domain::DomainError,
    error::FieldError,
    scope,
};

/// A key's complete scope, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScope {
    pub ops: OpSet,
    pub markets: MarketScope,
    pub teams: Option<BTreeSet<i64>>,
}

impl KeyScope {
    pub fn of(m: &api_key::Model) -> Self {
        Self {
            ops: OpSet::parse(m.operations.split_whitespace()).unwrap_or_default(),
            markets: MarketScope::from_storage(m.markets.as_deref()),
            teams: Principal::teams_from_storage(m.team_ids.as_deref()),
        }
    }

    /// Everything this scope allows, `p` allows too.
    pub fn is_within(&self, p: &Principal) -> bool {
        let teams_within = match (&self.teams, &p.teams) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(mine), Some(theirs)) => mine.is_subset(theirs),
        };
        self.ops.is_subset(p.ops) && self.markets.is_within(&p.markets) && teams_within
    }
}

/// A new key's fields.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub environment: Environment,
    pub owner_user_id: i64,
    pub name: String,
    pub scope: KeyScope,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by_key_id: Option<i64>,
}

/// Inserts a key row and returns it with the secret (shown once).
pub async fn insert_key<C: ConnectionTrait>(
    db: &C,
    tenant_id: i64,
    key: NewKey,
) -> Result<(api_key::Model, ApiKeySecret), DomainError> {
    let secret = ApiKeySecret::generate(key.environment);
    let model = api_key::ActiveModel {
        id: NotSet,
        tenant_id: Set(tenant_id),
        environment: Set(key.environment),
        owner_user_id: Set(key.owner_user_id),
        name: Set(key.name),
        key_hash: Set(secret.hash()),
        display_prefix: Set(secret.display_prefix().to_owned()),
        operations: Set(key.scope.ops.to_storage()),
        markets: Set(key.scope.markets.to_storage()),
        team_ids: Set(key
            .scope
            .teams
            .as_ref()
            .map(|t| t.iter().map(i64::to_string).collect::<Vec<_>>().join(" "))),
        created_by_key_id: Set(key.created_by_key_id),
        created_at: Set(clock::now()),
        expires_at: Set(key.expires_at.map(clock::truncate)),
        revoked_at: Set(None),
        last_used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((model, secret))
}

/// What a caller asks for; `None` fields inherit the caller's own scope/expiry.
#[derive(Debug, Clone, Default)]
pub struct KeyRequest {
    pub name: String,
    pub operations: Vec<String>,
    pub markets: Option<Vec<String>>,
    pub team_ids: Option<Vec<i64>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates a key for the caller's tenant and environment, owned by the acting
/// user. Every part of the new scope must be within the caller's: wider is
/// `forbidden`.
#[instrument(skip_all, fields(tenant.id = p.tenant_id))]
pub async fn create_key(
    txn: &DatabaseTransaction,
    p: &Principal,
    req: KeyRequest,
) -> Result<(api_key::Model, ApiKeySecret), DomainError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let name = batch::name("name", &req.name)
        .map_err(|e| errors.push(e))
        .ok();
    let ops = match OpSet::parse(req.operations.iter().map(String::as_str)) {
        Ok(ops) if ops == OpSet::default() => {
            errors.push(FieldError::new(
                "operations",
                FieldCode::Required,
                "name at least one operation",
            ));
            ops
        }
        Ok(ops) => ops,
        Err(unknown) => {
            errors.push(FieldError::new(
                "operations",
                FieldCode::InvalidValue,
                format!("unknown operation scope(s): {}", unknown.join(", ")),
            ));
            OpSet::default()
        }
    };
    let markets = match &req.markets {
        None => p.markets.clone(),
        Some(codes) => {
            let codes: BTreeSet<String> = codes
                .iter()
                .map(|c| c.trim().to_ascii_uppercase())
                .collect();
            let known: BTreeSet<String> = market::Entity::find()
                .filter(market::Column::TenantId.eq(p.tenant_id))
                .all(txn)
                .await?
                .into_iter()
                .map(|m| m.code)
                .collect();
            if codes.is_empty() || !codes.is_subset(&known) {
                errors.push(FieldError::new(
                    "markets",
                    FieldCode::InvalidValue,
                    "every market must be a market of this tenant",
                ));
            }
            MarketScope::Only(codes)
        }
    };
    let teams = match &req.team_ids {
        None => p.teams.clone(),
        Some(ids) => {
            let ids: BTreeSet<i64> = ids.iter().copied().collect();
            let found = team::Entity::find()
                .filter(team::Column::TenantId.eq(p.tenant_id))
                .filter(team::Column::Id.is_in(ids.iter().copied()))
                .all(txn)
                .await?;
            if ids.is_empty() || found.len() != ids.len() {
                errors.push(FieldError::new(
                    "teamIds",
                    FieldCode::InvalidValue,
                    "every team must be a team of this tenant",
                ));
            } else if found.iter().any(|t| !markets.allows(&t.market)) {
                errors.push(FieldError::new(
                    "teamIds",
                    FieldCode::InvalidValue,
                    "every team must be in the key's markets",
                ));
            }
            Some(ids)
        }
    };
    let expires_at = req.expires_at.or(p.expires_at);
    if expires_at.is_some_and(|t| t <= Utc::now()) {
        errors.push(FieldError::new(
            "expiresAt",
            FieldCode::OutOfRange,
            "must be in the future",
        ));
    }
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(DomainError::Validation(errors));
    };
    let scope = KeyScope {
        ops,
        markets,
        teams,
    };
    let outlives = match (expires_at, p.expires_at) {
        (Some(new), Some(own)) => new > own,
        (None, Some(_)) => true,
        _ => false,
    };
    if !scope.is_within(p) || outlives {
        return Err(DomainError::Forbidden(
            "a key cannot create a key wider or longer-lived than itself".into(),
        ));
    }
    let (key, secret) = insert_key(
        txn,
        p.tenant_id,
        NewKey {
            environment: p.environment,
            owner_user_id: p.acting_user_id,
            name,
            scope,
            expires_at,
            created_by_key_id: Some(p.key_id),
        },
    )
    .await?;
    audit::record(txn, p, "api_key.created", Resource::ApiKey(key.id)).await?;
    Ok((key, secret))
}

/// Revokes a key of the caller's tenant and environment. A key whose scope is
/// wider than the caller's cannot be revoked by it (`forbidden`). Idempotent.
/// Once committed, the caller evicts the key from the auth cache
/// (`Invalidation::Key`), as must any future code that rotates a key or
/// changes its scope or expiry.
#[instrument(skip_all, fields(tenant.id = p.tenant_id, key.id = id))]
pub async fn revoke_key(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
) -> Result<api_key::Model, DomainError> {
    let found = api_key::Entity::find_by_id(id)
        .filter(scope::api_keys(p))
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !KeyScope::of(&found).is_within(p) {
        return Err(DomainError::Forbidden(
            "this key is wider than the caller's".into(),
        ));
    }
    if found.revoked_at.is_some() {
        return Ok(found);
    }
    let mut am: api_key::ActiveModel = found.into();
    am.revoked_at = Set(Some(clock::now()));
    let key = am.update(txn).await?;
    audit::record(txn, p, "api_key.revoked", Resource::ApiKey(key.id)).await?;
    Ok(key)
}
