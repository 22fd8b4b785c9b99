//! GraphQL enums and their conversions to storage enums.

use async_graphql::Enum;

macro_rules! mirror_enum {
    ($(#[$meta:meta])* $name:ident => $entity:path { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
        #[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),+ }

        impl From<$name> for $entity {
            fn from(v: $name) -> Self {
                match v { $($name::$variant => <$entity>::$variant),+ }
            }
        }

        impl From<$entity> for $name {
            fn from(v: $entity) -> Self {
                match v { $(<$entity>::$variant => $name::$variant),+ }
            }
        }
    };
}

mirror_enum!(
    /// Where a lead came from.
    LeadSource => entity::LeadSource { Web, Referral, Api, Import, Manual }
);
mirror_enum!(
    /// A lead's position in the funnel. Changes only through `transitionLead`.
    LeadStatus => entity::LeadStatus { New, Contacted, Qualified, Unqualified }
);

/// A tenant's dataset: `LIVE` and `SANDBOX` never see each other's rows.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Live,
    Sandbox,
}

impl From<entity::Environment> for Environment {
    fn from(v: entity::Environment) -> Self {
        match v {
            entity::Environment::Live => Self::Live,
            entity::Environment::Sandbox => Self::Sandbox,
        }
    }
}

/// What to do when a live lead with the same canonical email already exists.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDuplicate {
    /// Fail with `duplicate`; `extensions.existingId` names the existing lead.
    #[default]
    Error,
    /// Return the existing lead unchanged.
    Skip,
    /// Fill the existing lead's empty fields from the input.
    Update,
}

impl From<OnDuplicate> for crate::domain::leads::OnDuplicate {
    fn from(v: OnDuplicate) -> Self {
        match v {
            OnDuplicate::Error => Self::Error,
            OnDuplicate::Skip => Self::Skip,
            OnDuplicate::Update => Self::Update,
        }
    }
}

/// How a batch item (or a single create) ended.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchItemStatus {
    Created,
    Updated,
    Skipped,
    /// `deleteLeads` only.
    Deleted,
    Failed,
}

impl From<crate::domain::leads::ItemStatus> for BatchItemStatus {
    fn from(v: crate::domain::leads::ItemStatus) -> Self {
        use crate::domain::leads::ItemStatus;
        match v {
            ItemStatus::Created => Self::Created,
            ItemStatus::Updated => Self::Updated,
            ItemStatus::Skipped => Self::Skipped,
            ItemStatus::Deleted => Self::Deleted,
        }
    }
}

/// Fields a lead connection can be sorted by (ties broken by id).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeadOrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Score,
    LastName,
}

/// Sort direction.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    Asc,
    #[default]
    Desc,
}

/// Where a background job (import, dedupe run) stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for a runner.
    Queued,
    /// Being worked on (progress is committed chunk by chunk).
    Running,
    /// Finished.
    Completed,
    /// Stopped for good; `error` says why.
    Failed,
}

impl From<entity::JobStatus> for JobStatus {
    fn from(v: entity::JobStatus) -> Self {
        match v {
            entity::JobStatus::Uploading | entity::JobStatus::Queued => Self::Queued,
            entity::JobStatus::Running => Self::Running,
            entity::JobStatus::Completed => Self::Completed,
            entity::JobStatus::Failed => Self::Failed,
        }
    }
}

impl From<JobStatus> for entity::JobStatus {
    fn from(v: JobStatus) -> Self {
        match v {
            JobStatus::Queued => Self::Queued,
            JobStatus::Running => Self::Running,
            JobStatus::Completed => Self::Completed,
            JobStatus::Failed => Self::Failed,
        }
    }
}

mirror_enum!(
    /// How one import row ended.
    ImportRowStatus => entity::ImportRowStatus { Created, Updated, Skipped, Failed }
);

/// What to do with CSV columns no rule maps.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnmappedColumns {
    /// Keep them in `customFields` under a key made from the header.
    #[default]
    Custom,
    /// Drop them.
    Ignore,
}
