//! Tenants: creation with markets, an owner and full-scope keys (CLI and
//! first-start bootstrap).

use std::collections::BTreeSet;

use entity::{Environment, market, tenant, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait, NotSet, PaginatorTrait,
};

use super::{
    DomainError,
    keys::{KeyScope, NewKey, insert_key},
    users::insert_user,
};
use crate::{
    auth::{ApiKeySecret, MarketScope, OpSet},
    clock,
};

/// Plans, from smallest to largest. Code that changes a tenant's plan must, once
/// committed, evict the tenant from the auth cache (`Invalidation::Tenant`):
/// cached keys carry the plan.
pub const PLANS: [&str; 5] = ["free", "starter", "pro", "team", "enterprise"];

/// What to create.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    pub name: String,
    pub plan: String,
    pub markets: Vec<String>,
    pub owner_email: String,
    /// One full-scope key is created per environment listed.
    pub environments: Vec<Environment>,
}

/// What was created; the keys are shown once.
#[derive(Debug)]
pub struct CreatedTenant {
    pub tenant: tenant::Model,
    pub owner: user::Model,
    pub keys: Vec<(Environment, ApiKeySecret)>,
}

/// Creates a tenant, its markets, owner and keys in one transaction.
pub async fn create_tenant(
    db: &DatabaseConnection,
    spec: TenantSpec,
) -> Result<CreatedTenant, DomainError> {
    let name = batch::name("name", &spec.name).map_err(|e| DomainError::Validation(vec![e]))?;
    if !PLANS.contains(&spec.plan.as_str()) {
        return Err(DomainError::BadRequest(format!(
            "plan must be one of {}",
            PLANS.join(", ")
        )));
    }
    let markets: BTreeSet<String> = spec
        .markets
        .iter()
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect();
    if markets.is_empty()
        || markets
            .iter()
            .any(|m| m.len() > 16 || !m.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(DomainError::BadRequest(
            "markets must be short alphanumeric codes such as US,IN".into(),
        ));
    }
    let txn = crate::store::begin_write(db).await?;
    let now = clock::now();
    let tenant = tenant::ActiveModel {
        id: NotSet,
        name: Set(name),
        plan: Set(spec.plan),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    for code in &markets {
        market::ActiveModel {
            id: NotSet,
            tenant_id: Set(tenant.id),
            code: Set(code.clone()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let owner = insert_user(&txn, tenant.id, &spec.owner_email, "Owner", "owner").await?;
    let mut keys = Vec::new();
    for env in spec.environments {
        let (_, secret) = insert_key(
            &txn,
            tenant.id,
            NewKey {
                environment: env,
                owner_user_id: owner.id,
                name: "Owner key".into(),
                scope: KeyScope {
                    ops: OpSet::full(),
                    markets: MarketScope::All,
                    teams: None,
                },
                expires_at: None,
                created_by_key_id: None,
            },
        )
        .await?;
        keys.push((env, secret));
    }
    txn.commit().await?;
    Ok(CreatedTenant {
        tenant,
        owner,
        keys,
    })
}

/// On an empty database, creates tenant `default` (market `US`) with one
/// full-scope live key. Returns `None` when any tenant exists.
pub async fn bootstrap(db: &DatabaseConnection) -> Result<Option<CreatedTenant>, DomainError> {
    if tenant::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    create_tenant(
        db,
        TenantSpec {
            name: "default".into(),
            plan: "enterprise".into(),
            markets: vec!["US".into()],
            owner_email: "owner@default.example".into(),
            environments: vec![Environment::Live],
        },
    )
    .await
    .map(Some)
}
