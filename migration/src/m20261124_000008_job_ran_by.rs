//! Which runner ended a job. `lease_owner` names the runner only while it
//! holds the job and is cleared when the job ends, so after several instances
//! had shared the jobs nothing said which one ran a finished job. `ran_by`
//! keeps the lease owner (`<pid>-<instance id>/<claim nonce>`) of the run that
//! completed or failed the job.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE jobs ADD COLUMN ran_by VARCHAR")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE jobs DROP COLUMN ran_by")
            .await?;
        Ok(())
    }
}
