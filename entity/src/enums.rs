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
