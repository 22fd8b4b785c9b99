//! Enumerations stored as short strings (portable across SQLite and PostgreSQL).

use sea_orm::entity::prelude::*;

/// A tenant's dataset: `live` and `sandbox` never see each other's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Environment {
    #[sea_orm(string_value = "live")]
    Live,
    #[sea_orm(string_value = "sandbox")]
    Sandbox,
}

/// Where a lead came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum LeadSource {
    #[sea_orm(string_value = "WEB")]
    Web,
    #[sea_orm(string_value = "REFERRAL")]
    Referral,
    #[sea_orm(string_value = "API")]
    Api,
    #[sea_orm(string_value = "IMPORT")]
    Import,
    #[sea_orm(string_value = "MANUAL")]
    Manual,
}

/// A lead's position in the qualification funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum LeadStatus {
    #[sea_orm(string_value = "NEW")]
    New,
    #[sea_orm(string_value = "CONTACTED")]
    Contacted,
    #[sea_orm(string_value = "QUALIFIED")]
    Qualified,
    #[sea_orm(string_value = "UNQUALIFIED")]
    Unqualified,
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum WebhookDeliveryStatus {
    /// Not attempted yet.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// An attempt got a 2xx answer.
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    /// The last attempt failed; another is scheduled at `next_attempt_at`.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Attempts failed for the whole retry window (or the endpoint went away).
    #[sea_orm(string_value = "given_up")]
    GivenUp,
}
