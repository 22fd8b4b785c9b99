//! User lookups for services that work on many leads at once.

use std::collections::BTreeSet;

use entity::user;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

/// Ids per lookup statement (see [`super::fixed_batches`]).
const LOOKUP_BATCH: usize = 500;

/// Which of `ids` are active (not deactivated) users of the tenant.
pub async fn active_ids<C: ConnectionTrait>(
    db: &C,
    tenant_id: i64,
    ids: impl IntoIterator<Item = i64>,
) -> Result<BTreeSet<i64>, DbErr> {
    let ids: Vec<i64> = ids
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut active = BTreeSet::new();
    for batch in super::fixed_batches(&ids, LOOKUP_BATCH) {
        let found: Vec<i64> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::TenantId.eq(tenant_id))
            .filter(user::Column::DeactivatedAt.is_null())
            .filter(user::Column::Id.is_in(batch.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        active.extend(found);
    }
    Ok(active)
}
