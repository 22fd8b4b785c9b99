//! Webhooks: endpoints, the event outbox, deliveries and their attempts.
//!
//! An event row and one delivery row per subscribed endpoint are written in the
//! transaction of the change that caused them (the outbox); the dispatcher only
//! ever reads committed deliveries, so a rolled-back change has nothing to send.
//!
//! Index notes:
//! - `webhook_deliveries (status, next_attempt_at)`: the dispatcher's poll, "due
//!   deliveries that are pending or failed, oldest due first", is one range scan.
//! - `(tenant_id, environment, id)` on endpoints and deliveries: their connections
//!   page by id inside one tenant and environment.
//! - `webhook_deliveries (endpoint_id, id)`: `webhookDeliveries(filter: {endpointId})`.
//! - `webhook_delivery_attempts (delivery_id, id)`: a delivery's attempts in order.
//! - `webhook_endpoints (tenant_id, environment, deleted_at)`: fan-out reads the
//!   live endpoints of one tenant and environment on every emitted event.

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    TenantId,
    Environment,
    Url,
    Description,
    EventTypes,
    Secret,
    Enabled,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    TenantId,
    Environment,
    EventType,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    TenantId,
    Environment,
    EndpointId,
    EventId,
    EventType,
    Status,
    Attempts,
    NextAttemptAt,
    LastAttemptAt,
    ResponseStatus,
    ResponseBodyExcerpt,
    Error,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveryAttempts {
    Table,
    Id,
    DeliveryId,
    Number,
    StartedAt,
    DurationMs,
    ResponseStatus,
    ResponseBodyExcerpt,
    Error,
    Succeeded,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(big_pk_auto(WebhookEndpoints::Id))
                    .col(big_integer(WebhookEndpoints::TenantId))
                    .col(string_len(WebhookEndpoints::Environment, 16))
                    .col(string_len(WebhookEndpoints::Url, 2048))
                    .col(string_len_null(WebhookEndpoints::Description, 500))
                    // Space-separated event types; empty means every event.
                    .col(text(WebhookEndpoints::EventTypes))
                    // The signing secret in clear: unlike an API key (stored as a
                    // hash), it must be read back to compute each HMAC.
                    .col(string_len(WebhookEndpoints::Secret, 128))
                    .col(boolean(WebhookEndpoints::Enabled))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoints::UpdatedAt))
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::DeletedAt))
                    .foreign_key(&mut fk(
                        (WebhookEndpoints::Table, WebhookEndpoints::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_webhook_endpoints_scope_id",
                WebhookEndpoints::Table,
                &["tenant_id", "environment", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_webhook_endpoints_live",
                WebhookEndpoints::Table,
                &["tenant_id", "environment", "deleted_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(big_pk_auto(WebhookEvents::Id))
                    .col(big_integer(WebhookEvents::TenantId))
                    .col(string_len(WebhookEvents::Environment, 16))
                    .col(string_len(WebhookEvents::EventType, 64))
                    .col(text(WebhookEvents::Payload))
                    .col(timestamp_with_time_zone(WebhookEvents::CreatedAt))
                    .foreign_key(&mut fk(
                        (WebhookEvents::Table, WebhookEvents::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_webhook_events_scope_id",
                WebhookEvents::Table,
                &["tenant_id", "environment", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(big_integer(WebhookDeliveries::TenantId))
                    .col(string_len(WebhookDeliveries::Environment, 16))
                    .col(big_integer(WebhookDeliveries::EndpointId))
                    .col(big_integer(WebhookDeliveries::EventId))
                    .col(string_len(WebhookDeliveries::EventType, 64))
                    .col(string_len(WebhookDeliveries::Status, 16))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::NextAttemptAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::LastAttemptAt,
                    ))
                    .col(integer_null(WebhookDeliveries::ResponseStatus))
                    .col(text_null(WebhookDeliveries::ResponseBodyExcerpt))
                    .col(text_null(WebhookDeliveries::Error))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::UpdatedAt))
                    .foreign_key(&mut fk(
                        (WebhookDeliveries::Table, WebhookDeliveries::EndpointId),
                        (WebhookEndpoints::Table, WebhookEndpoints::Id),
                    ))
                    .foreign_key(&mut fk(
                        (WebhookDeliveries::Table, WebhookDeliveries::EventId),
                        (WebhookEvents::Table, WebhookEvents::Id),
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_webhook_deliveries_due",
                WebhookDeliveries::Table,
                &["status", "next_attempt_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_webhook_deliveries_scope_id",
                WebhookDeliveries::Table,
                &["tenant_id", "environment", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_webhook_deliveries_endpoint",
                WebhookDeliveries::Table,
                &["endpoint_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveryAttempts::Table)
                    .col(big_pk_auto(WebhookDeliveryAttempts::Id))
                    .col(big_integer(WebhookDeliveryAttempts::DeliveryId))
                    .col(integer(WebhookDeliveryAttempts::Number))
                    .col(timestamp_with_time_zone(WebhookDeliveryAttempts::StartedAt))
                    .col(big_integer(WebhookDeliveryAttempts::DurationMs))
                    .col(integer_null(WebhookDeliveryAttempts::ResponseStatus))
                    .col(text_null(WebhookDeliveryAttempts::ResponseBodyExcerpt))
                    .col(text_null(WebhookDeliveryAttempts::Error))
                    .col(boolean(WebhookDeliveryAttempts::Succeeded))
                    .foreign_key(&mut fk(
                        (
                            WebhookDeliveryAttempts::Table,
                            WebhookDeliveryAttempts::DeliveryId,
                        ),
                        (WebhookDeliveries::Table, WebhookDeliveries::Id),
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_webhook_delivery_attempts_delivery",
                WebhookDeliveryAttempts::Table,
                &["delivery_id", "id"],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookDeliveryAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
