//! Core tables: tenants, markets, users, teams, API keys, leads and their status
//! history.
//!
//! Index notes (why each exists; every list query must have one matching its
//! filter and order, so paging never sorts or scans a tenant's whole table):
//! - `leads` keyset orders: one index per `LeadOrder` field, each
//!   `(tenant_id, environment, <field>, id)`. A page is then one index range scan in
//!   either direction (`ASC`/`DESC`, `after`/`before`), whatever the depth: the
//!   cursor condition `(field, id) > (v, id)` is a seek into the same index.
//! - `(tenant_id, environment, market, created_at, id)`: keys scoped to one market
//!   page their default order (`CREATED_AT DESC`) without filtering rows out.
//! - `(tenant_id, environment, status, market)`: status/market filters and their
//!   `totalCount` are answered from the index alone.
//! - `(tenant_id, environment, assigned_to_id)`, `(tenant_id, environment, team_id)`:
//!   the `assignedToId` / `teamId` filters.
//! - `ux_leads_live_email`: partial unique index enforcing "one live lead per tenant,
//!   environment and canonical email" (merged and deleted leads do not count); it is
//!   also the lookup path for `email` filters and duplicate checks.
//! - `lead_transitions (lead_id, created_at, id)`: a lead's `history` connection.
//! - `api_keys.key_hash` unique: authentication is one indexed lookup.

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    Plan,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Markets {
    Table,
    Id,
    TenantId,
    Code,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    Email,
    Name,
    Role,
    DeactivatedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    TenantId,
    Market,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Environment,
    OwnerUserId,
    Name,
    KeyHash,
    DisplayPrefix,
    Operations,
    Markets,
    TeamIds,
    CreatedByKeyId,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
    TenantId,
    Environment,
    Email,
    EmailKey,
    FirstName,
    LastName,
    Phone,
    Company,
    JobTitle,
    Source,
    Status,
    Score,
    CustomFields,
    Market,
    TeamId,
    AssignedToId,
    CreatedById,
    MergedIntoId,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LeadTransitions {
    Table,
    Id,
    TenantId,
    Environment,
    LeadId,
    FromStatus,
    ToStatus,
    ActorUserId,
    ApiKeyId,
    Reason,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(big_pk_auto(Tenants::Id))
                    .col(string_len(Tenants::Name, 200))
                    .col(string_len(Tenants::Plan, 32))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Markets::Table)
                    .col(big_pk_auto(Markets::Id))
                    .col(big_integer(Markets::TenantId))
                    .col(string_len(Markets::Code, 16))
                    .col(timestamp_with_time_zone(Markets::CreatedAt))
                    .foreign_key(&mut fk(
                        (Markets::Table, Markets::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_markets_tenant_code",
                    Markets::Table,
                    &["tenant_id", "code"],
                )
                .unique()
                .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(big_integer(Users::TenantId))
                    .col(string_len(Users::Email, 254))
                    .col(string_len(Users::Name, 200))
                    .col(string_len(Users::Role, 16))
                    .col(timestamp_with_time_zone_null(Users::DeactivatedAt))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .foreign_key(&mut fk(
                        (Users::Table, Users::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .take(),
            )
            .await?;
        // One account per email in a tenant; also the `users` connection order.
        manager
            .create_index(
                index(
                    "ux_users_tenant_email",
                    Users::Table,
                    &["tenant_id", "email"],
                )
                .unique()
                .take(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_users_tenant_id",
                Users::Table,
                &["tenant_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Teams::Table)
                    .col(big_pk_auto(Teams::Id))
                    .col(big_integer(Teams::TenantId))
                    .col(string_len(Teams::Market, 16))
                    .col(string_len(Teams::Name, 200))
                    .col(timestamp_with_time_zone(Teams::CreatedAt))
                    .foreign_key(&mut fk(
                        (Teams::Table, Teams::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .take(),
            )
            .await?;
        // Team names are unique in a tenant; `teams` pages by (tenant_id, id).
        manager
            .create_index(
                index("ux_teams_tenant_name", Teams::Table, &["tenant_id", "name"])
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_teams_tenant_id",
                Teams::Table,
                &["tenant_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(big_pk_auto(ApiKeys::Id))
                    .col(big_integer(ApiKeys::TenantId))
                    .col(string_len(ApiKeys::Environment, 16))
                    .col(big_integer(ApiKeys::OwnerUserId))
                    .col(string_len(ApiKeys::Name, 200))
                    .col(string_len_uniq(ApiKeys::KeyHash, 64))
                    .col(string_len(ApiKeys::DisplayPrefix, 32))
                    .col(text(ApiKeys::Operations))
                    .col(text_null(ApiKeys::Markets))
                    .col(text_null(ApiKeys::TeamIds))
                    .col(big_integer_null(ApiKeys::CreatedByKeyId))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .foreign_key(&mut fk(
                        (ApiKeys::Table, ApiKeys::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut fk(
                        (ApiKeys::Table, ApiKeys::OwnerUserId),
                        (Users::Table, Users::Id),
                    ))
                    .take(),
            )
            .await?;
        // `apiKeys` pages a tenant environment's keys by id.
        manager
            .create_index(index(
                "ix_api_keys_tenant_env_id",
                ApiKeys::Table,
                &["tenant_id", "environment", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Leads::Table)
                    .col(big_pk_auto(Leads::Id))
                    .col(big_integer(Leads::TenantId))
                    .col(string_len(Leads::Environment, 16))
                    .col(string_len(Leads::Email, 254))
                    .col(string_len(Leads::EmailKey, 254))
                    .col(string_len(Leads::FirstName, 400))
                    .col(string_len(Leads::LastName, 400))
                    .col(string_len_null(Leads::Phone, 32))
                    .col(string_len_null(Leads::Company, 800))
                    .col(string_len_null(Leads::JobTitle, 800))
                    .col(string_len(Leads::Source, 16))
                    .col(string_len(Leads::Status, 16))
                    .col(integer(Leads::Score).default(0))
                    .col(text(Leads::CustomFields))
                    .col(string_len(Leads::Market, 16))
                    .col(big_integer_null(Leads::TeamId))
                    .col(big_integer_null(Leads::AssignedToId))
                    .col(big_integer_null(Leads::CreatedById))
                    .col(big_integer_null(Leads::MergedIntoId))
                    .col(timestamp_with_time_zone_null(Leads::DeletedAt))
                    .col(timestamp_with_time_zone(Leads::CreatedAt))
                    .col(timestamp_with_time_zone(Leads::UpdatedAt))
                    .foreign_key(&mut fk(
                        (Leads::Table, Leads::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Leads::Table, Leads::TeamId),
                        (Teams::Table, Teams::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Leads::Table, Leads::AssignedToId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Leads::Table, Leads::CreatedById),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Leads::Table, Leads::MergedIntoId),
                        (Leads::Table, Leads::Id),
                    ))
                    .take(),
            )
            .await?;
        let scope = ["tenant_id", "environment"];
        for (name, cols) in [
            ("ix_leads_created", &["created_at", "id"][..]),
            ("ix_leads_updated", &["updated_at", "id"][..]),
            ("ix_leads_score", &["score", "id"][..]),
            ("ix_leads_last_name", &["last_name", "id"][..]),
            (
                "ix_leads_market_created",
                &["market", "created_at", "id"][..],
            ),
            ("ix_leads_status_market", &["status", "market"][..]),
            ("ix_leads_assigned", &["assigned_to_id"][..]),
            ("ix_leads_team", &["team_id"][..]),
        ] {
            let all: Vec<&'static str> = scope.iter().chain(cols.iter()).copied().collect();
            manager
                .create_index(index(name, Leads::Table, &all))
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_leads_live_email ON leads (tenant_id, environment, email_key) \
                 WHERE merged_into_id IS NULL AND deleted_at IS NULL",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LeadTransitions::Table)
                    .col(big_pk_auto(LeadTransitions::Id))
                    .col(big_integer(LeadTransitions::TenantId))
                    .col(string_len(LeadTransitions::Environment, 16))
                    .col(big_integer(LeadTransitions::LeadId))
                    .col(string_len(LeadTransitions::FromStatus, 16))
                    .col(string_len(LeadTransitions::ToStatus, 16))
                    .col(big_integer_null(LeadTransitions::ActorUserId))
                    .col(big_integer_null(LeadTransitions::ApiKeyId))
                    .col(string_len_null(LeadTransitions::Reason, 1000))
                    .col(timestamp_with_time_zone(LeadTransitions::CreatedAt))
                    .foreign_key(&mut fk(
                        (LeadTransitions::Table, LeadTransitions::LeadId),
                        (Leads::Table, Leads::Id),
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_lead_transitions_lead",
                LeadTransitions::Table,
                &["lead_id", "created_at", "id"],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "lead_transitions",
            "leads",
            "api_keys",
            "teams",
            "users",
            "markets",
            "tenants",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
