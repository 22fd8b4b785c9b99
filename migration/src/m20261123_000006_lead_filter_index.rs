//! The status + market filter pages and counts from one index.
//!
//! `ix_leads_status_market (tenant_id, environment, status, market)` found
//! the matching leads but not in `created_at` order, so a page of 50 sorted
//! every match, and `totalCount` read every matching row from the table to
//! check that it is live. Its replacement adds the keyset order and is
//! partial on live leads (the condition every list query carries):
//!
//! - a filtered page is one index range read in order, however many match;
//! - `totalCount` of a filter is an index-only count on PostgreSQL (no
//!   table reads once the visibility map is set) and a covering-index count
//!   on SQLite.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX ix_leads_live_status_market ON leads \
             (tenant_id, environment, status, market, created_at, id) \
             WHERE deleted_at IS NULL AND merged_into_id IS NULL",
        )
        .await?;
        db.execute_unprepared("DROP INDEX ix_leads_status_market")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX ix_leads_status_market ON leads \
             (tenant_id, environment, status, market)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX ix_leads_live_status_market")
            .await?;
        Ok(())
    }
}
