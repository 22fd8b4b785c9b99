//! Users of a tenant: create and deactivate (`users:manage`).

use batch::FieldCode;
use entity::user;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, NotSet, QueryFilter,
};
use tracing::instrument;

use crate::domain::audit::{self, Resource};
use crate::{auth::Principal, clock, domain::DomainError, scope};

/// Validates and inserts a user row (used by tenant bootstrap too).
pub async fn insert_user<C: ConnectionTrait>(
    db: &C,
    tenant_id: i64,
    email: &str,
    name: &str,
    role: &str,
) -> Result<user::Model, DomainError> {
    let mut errors = Vec::new();
    let email = batch::email(email).map_err(|e| errors.push(e)).ok();
    let name = batch::name("name", name).map_err(|e| errors.push(e)).ok();
    let (Some(email), Some(name)) = (email, name) else {
        return Err(DomainError::Validation(errors));
    };
    let taken = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Email.eq(email.display.to_lowercase()))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(DomainError::field(
            "email",
            FieldCode::InvalidValue,
            "a user with this email exists",
        ));
    }
    let model = user::ActiveModel {
        id: NotSet,
        tenant_id: Set(tenant_id),
        email: Set(email.display.to_lowercase()),
        name: Set(name),
        role: Set(role.to_owned()),
        deactivated_at: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await;
    match model {
        Ok(m) => Ok(m),
        Err(e) if DomainError::is_unique_violation(&e) => Err(DomainError::field(
            "email",
            FieldCode::InvalidValue,
            "a user with this email exists",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Creates a member of the caller's tenant.
#[instrument(skip_all, fields(tenant.id = p.tenant_id))]
pub async fn create_user(
    txn: &DatabaseTransaction,
    p: &Principal,
    email: &str,
    name: &str,
) -> Result<user::Model, DomainError> {
    let user = insert_user(txn, p.tenant_id, email, name, "member").await?;
    audit::record(txn, p, "user.created", Resource::User(user.id)).await?;
    Ok(user)
}

/// Deactivates a user: they can no longer act (keys they own stop working, and
/// `X-On-Behalf-Of` refuses them). Idempotent. Once committed, the caller evicts
/// the user from the auth cache (`Invalidation::User`), as must a future
/// reactivation.
#[instrument(skip_all, fields(tenant.id = p.tenant_id, user.id = id))]
pub async fn deactivate_user(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
) -> Result<user::Model, DomainError> {
    let found = user::Entity::find_by_id(id)
        .filter(scope::users(p))
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    if found.id == p.acting_user_id {
        return Err(DomainError::BadRequest(
            "a user cannot deactivate themselves".into(),
        ));
    }
    if found.deactivated_at.is_some() {
        return Ok(found);
    }
    let mut am: user::ActiveModel = found.into();
    am.deactivated_at = Set(Some(clock::now()));
    let user = am.update(txn).await?;
    audit::record(txn, p, "user.deactivated", Resource::User(user.id)).await?;
    Ok(user)
}
