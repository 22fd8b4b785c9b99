//! The audit log: every write, and every key, user and webhook change, is
//! recorded in the same transaction as the change (no change without its entry,
//! no entry for a change that rolled back).

use entity::audit_event;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, NotSet};

use crate::{auth::Principal, clock, domain::DomainError, ids::NodeType, store};

/// What an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Lead(i64),
    User(i64),
    Team(i64),
    ApiKey(i64),
    WebhookEndpoint(i64),
    WebhookDelivery(i64),
    ImportJob(i64),
    DedupeRun(i64),
}

impl Resource {
    fn parts(self) -> (&'static str, i64) {
        match self {
            Self::Lead(id) => ("lead", id),
            Self::User(id) => ("user", id),
            Self::Team(id) => ("team", id),
            Self::ApiKey(id) => ("api_key", id),
            Self::WebhookEndpoint(id) => ("webhook_endpoint", id),
            Self::WebhookDelivery(id) => ("webhook_delivery", id),
            Self::ImportJob(id) => ("import_job", id),
            Self::DedupeRun(id) => ("dedupe_run", id),
        }
    }

    /// The node type of a stored resource type (for public ids).
    pub fn node_type(resource_type: &str) -> Option<NodeType> {
        Some(match resource_type {
            "lead" => NodeType::Lead,
            "user" => NodeType::User,
            "team" => NodeType::Team,
            "api_key" => NodeType::ApiKey,
            "webhook_endpoint" => NodeType::WebhookEndpoint,
            "webhook_delivery" => NodeType::WebhookDelivery,
            "import_job" => NodeType::ImportJob,
            "dedupe_run" => NodeType::DedupeRun,
            _ => return None,
        })
    }
}

/// Records `action` on `resource` by the caller.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    action: &str,
    resource: Resource,
) -> Result<(), DomainError> {
    entry(p, action, resource, clock::now()).insert(db).await?;
    Ok(())
}

/// Entries per multi-row `INSERT` of [`record_many`] (10 values each).
const INSERT_BATCH: usize = 500;

/// Records each `(action, resource)` by the caller, in order (ids follow
/// it), as [`record`] would one by one, with multi-row statements.
pub async fn record_many<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    entries: &[(&str, Resource)],
) -> Result<(), DomainError> {
    let now = clock::now();
    let rows: Vec<audit_event::ActiveModel> = entries
        .iter()
        .map(|&(action, resource)| entry(p, action, resource, now))
        .collect();
    for batch in store::fixed_batches(&rows, INSERT_BATCH) {
        audit_event::Entity::insert_many(batch.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The row of one entry.
fn entry(
    p: &Principal,
    action: &str,
    resource: Resource,
    now: chrono::DateTime<chrono::Utc>,
) -> audit_event::ActiveModel {
    let (resource_type, resource_id) = resource.parts();
    audit_event::ActiveModel {
        id: NotSet,
        tenant_id: Set(p.tenant_id),
        environment: Set(p.environment),
        action: Set(action.to_owned()),
        resource_type: Set(resource_type.to_owned()),
        resource_id: Set(Some(resource_id)),
        api_key_id: Set(Some(p.key_id)),
        key_owner_user_id: Set(Some(p.owner_user_id)),
        acting_user_id: Set(Some(p.acting_user_id)),
        request_id: Set(p.request_id.chars().take(64).collect()),
        created_at: Set(now),
    }
}
