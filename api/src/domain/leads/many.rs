//! Batch updates and deletes: each item in its own savepoint, so one bad item
//! never fails (or half-writes) the others. Only a database failure fails the
//! whole batch.

use entity::lead as lead_model;
use sea_orm::{DatabaseTransaction, TransactionTrait};
use tracing::instrument;

use super::{ItemOutcome, ItemStatus, LeadChanges, delete_lead, update_lead};
use crate::{auth::Principal, domain::DomainError};

/// Most items in one batch call (GraphQL and `/v1`).
pub const MAX_BATCH: usize = 500;

/// Refuses batches over [`MAX_BATCH`] items (and empty ones).
pub fn check_batch_size(len: usize) -> Result<(), DomainError> {
    match len {
        0 => Err(DomainError::BadRequest(
            "a batch needs at least one item".into(),
        )),
        n if n > MAX_BATCH => Err(DomainError::BadRequest(format!(
            "a batch holds at most {MAX_BATCH} items, got {n}"
        ))),
        _ => Ok(()),
    }
}

/// Runs one item in a savepoint: item errors roll it back and become its
/// outcome; database errors abort the batch.
async fn in_savepoint<F>(
    txn: &DatabaseTransaction,
    f: F,
) -> Result<Result<lead_model::Model, DomainError>, DomainError>
where
    F: AsyncFnOnce(&DatabaseTransaction) -> Result<lead_model::Model, DomainError>,
{
    let savepoint = txn.begin().await?;
    match f(&savepoint).await {
        Ok(model) => {
            savepoint.commit().await?;
            Ok(Ok(model))
        }
        Err(err @ (DomainError::Db(_) | DomainError::Internal(_))) => Err(err),
        Err(err) => {
            savepoint.rollback().await?;
            Ok(Err(err))
        }
    }
}

/// Applies each item's changes to its lead.
#[instrument(skip_all, fields(tenant.id = p.tenant_id, batch.items = items.len()))]
pub async fn update_leads(
    txn: &DatabaseTransaction,
    p: &Principal,
    items: Vec<Result<(i64, LeadChanges), DomainError>>,
) -> Result<Vec<ItemOutcome>, DomainError> {
    let mut outcomes = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let result = match item {
            Err(e) => Err(e),
            Ok((id, changes)) => {
                in_savepoint(txn, async |sp| update_lead(sp, p, id, changes).await)
                    .await?
                    .map(|m| (ItemStatus::Updated, m))
            }
        };
        outcomes.push(ItemOutcome { index, result });
    }
    Ok(outcomes)
}

/// Deletes each lead.
#[instrument(skip_all, fields(tenant.id = p.tenant_id, batch.items = ids.len()))]
pub async fn delete_leads(
    txn: &DatabaseTransaction,
    p: &Principal,
    ids: Vec<Result<i64, DomainError>>,
) -> Result<Vec<ItemOutcome>, DomainError> {
    let mut outcomes = Vec::with_capacity(ids.len());
    for (index, id) in ids.into_iter().enumerate() {
        let result = match id {
            Err(e) => Err(e),
            Ok(id) => in_savepoint(txn, async |sp| delete_lead(sp, p, id).await)
                .await?
                .map(|m| (ItemStatus::Deleted, m)),
        };
        outcomes.push(ItemOutcome { index, result });
    }
    Ok(outcomes)
}
