//! Audit log: one row per write and per key, user or webhook change.
//!
//! Index notes: `auditEvents` pages by `(tenant_id, environment, id)` (ids grow
//! with time, so this is also time order) and filters by action, actor or
//! resource inside that range; `(tenant_id, environment, resource_type,
//! resource_id)` answers "what happened to this record".

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    Environment,
    Action,
    ResourceType,
    ResourceId,
    ApiKeyId,
    KeyOwnerUserId,
    ActingUserId,
    RequestId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(big_integer(AuditEvents::TenantId))
                    .col(string_len(AuditEvents::Environment, 16))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(string_len(AuditEvents::ResourceType, 32))
                    .col(big_integer_null(AuditEvents::ResourceId))
                    .col(big_integer_null(AuditEvents::ApiKeyId))
                    .col(big_integer_null(AuditEvents::KeyOwnerUserId))
                    .col(big_integer_null(AuditEvents::ActingUserId))
                    .col(string_len(AuditEvents::RequestId, 64))
                    .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_scope_id")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::Environment)
                    .col(AuditEvents::Id)
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_resource")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::Environment)
                    .col(AuditEvents::ResourceType)
                    .col(AuditEvents::ResourceId)
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).if_exists().take())
            .await
    }
}
