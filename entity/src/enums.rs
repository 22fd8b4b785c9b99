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

/// What a background job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum JobKind {
    /// A CSV import (`startImport`, `POST /v1/imports`).
    #[sea_orm(string_value = "import")]
    Import,
    /// A bulk dedupe run (`startDedupe`).
    #[sea_orm(string_value = "dedupe")]
    Dedupe,
}

/// Where a background job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum JobStatus {
    /// The upload is still arriving; not claimable and not shown.
    #[sea_orm(string_value = "uploading")]
    Uploading,
    /// Waiting for a runner.
    #[sea_orm(string_value = "queued")]
    Queued,
    /// Claimed by a runner (whose lease may have run out: then it is re-claimed).
    #[sea_orm(string_value = "running")]
    Running,
    /// Finished; every row has its result.
    #[sea_orm(string_value = "completed")]
    Completed,
    /// Stopped for good; `error` says why.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// The outcome of one import row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ImportRowStatus {
    #[sea_orm(string_value = "CREATED")]
    Created,
    #[sea_orm(string_value = "UPDATED")]
    Updated,
    #[sea_orm(string_value = "SKIPPED")]
    Skipped,
    #[sea_orm(string_value = "FAILED")]
    Failed,
}
