//! Input objects and their conversion into domain requests.

use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined};
use chrono::{DateTime, Utc};

use super::enums::{LeadOrderField, LeadSource, LeadStatus, OrderDirection};
use crate::{
    domain::{
        DomainError,
        leads::{LeadChanges, NewLead, caller_filter},
    },
    graphql::context::Ctx,
    ids::NodeType,
    store::leads as store,
};

/// A new lead. `status` starts at `NEW`; `market` defaults to the key's (or the
/// tenant's) only market; `source` defaults to `API`.
#[derive(InputObject, Debug, Clone)]
pub struct CreateLeadInput {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub source: Option<LeadSource>,
    /// 0–100; defaults to 0.
    pub score: Option<i32>,
    /// A JSON object of scalar values (≤ 50 keys, keys ≤ 64 chars, values ≤ 1 KiB).
    pub custom_fields: Option<Json<serde_json::Value>>,
    pub market: Option<String>,
    pub team_id: Option<ID>,
    pub assigned_to_id: Option<ID>,
}

/// Changes to a lead: omitted fields are unchanged, `null` clears a nullable
/// field. `customFields` replaces the whole object. Status changes go through
/// `transitionLead`, assignment through `assignLead`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateLeadInput {
    pub email: MaybeUndefined<String>,
    pub first_name: MaybeUndefined<String>,
    pub last_name: MaybeUndefined<String>,
    pub phone: MaybeUndefined<String>,
    pub company: MaybeUndefined<String>,
    pub job_title: MaybeUndefined<String>,
    pub source: Option<LeadSource>,
    pub score: MaybeUndefined<i32>,
    pub custom_fields: MaybeUndefined<Json<serde_json::Value>>,
    pub market: Option<String>,
    pub team_id: MaybeUndefined<ID>,
}

/// Filters for `leads`; every given field must match.
#[derive(InputObject, Debug, Clone, Default)]
pub struct LeadFilter {
    pub status: Option<Vec<LeadStatus>>,
    pub source: Option<Vec<LeadSource>>,
    pub market: Option<Vec<String>>,
    pub team_id: Option<ID>,
    pub assigned_to_id: Option<ID>,
    /// `true`: only unassigned leads; `false`: only assigned ones.
    pub unassigned: Option<bool>,
    pub score_min: Option<i32>,
    pub score_max: Option<i32>,
    /// Inclusive.
    pub created_after: Option<DateTime<Utc>>,
    /// Exclusive.
    pub created_before: Option<DateTime<Utc>>,
    /// Inclusive; with `orderBy: {field: UPDATED_AT, direction: ASC}` this is the
    /// incremental-sync pattern.
    pub updated_after: Option<DateTime<Utc>>,
    /// Exclusive.
    pub updated_before: Option<DateTime<Utc>>,
    /// Matches the canonical email (case, and gmail dots/`+tag`, do not matter).
    /// Needs `pii:read`.
    pub email: Option<String>,
    /// Case-insensitive prefix of first, last or full name, company, or (with
    /// `pii:read`) email.
    pub search: Option<String>,
}

/// Ordering of `leads`; default `CREATED_AT DESC`, ties broken by id.
#[derive(InputObject, Debug, Clone, Copy, Default)]
pub struct LeadOrder {
    #[graphql(default)]
    pub field: LeadOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// A new API key. Omitted `markets`/`teamIds`/`expiresAt` inherit the calling
/// key's; every part must be within the calling key's scope.
#[derive(InputObject, Debug, Clone)]
pub struct CreateApiKeyInput {
    pub name: String,
    /// Operation scopes: `leads:read`, `leads:write`, `pii:read`, `imports:run`,
    /// `users:manage`, `keys:manage`, `webhooks:manage`, `audit:read`, or `full`.
    pub operations: Vec<String>,
    pub markets: Option<Vec<String>>,
    pub team_ids: Option<Vec<ID>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new user of the tenant.
#[derive(InputObject, Debug, Clone)]
pub struct CreateUserInput {
    pub email: String,
    pub name: String,
}

/// A new team in one market.
#[derive(InputObject, Debug, Clone)]
pub struct CreateTeamInput {
    pub name: String,
    pub market: String,
}

fn maybe<T, U>(v: MaybeUndefined<T>, f: impl FnOnce(T) -> U) -> Option<Option<U>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(f(v))),
    }
}

fn optional_id(
    ctx: &Context<'_>,
    ty: NodeType,
    id: Option<&ID>,
) -> Result<Option<i64>, DomainError> {
    // A well-formed id of another type names nothing: map it to 0, which no row has,
    // so the usual "no such team/user" validation answers.
    id.map(|id| match ctx.decode_id(ty, id) {
        Err(DomainError::NotFound) => Ok(0),
        other => other,
    })
    .transpose()
}

impl CreateLeadInput {
    pub fn into_domain(self, ctx: &Context<'_>) -> Result<NewLead, DomainError> {
        Ok(NewLead {
            team_id: optional_id(ctx, NodeType::Team, self.team_id.as_ref())?,
            assigned_to_id: optional_id(ctx, NodeType::User, self.assigned_to_id.as_ref())?,
            raw: batch::RawLead {
                email: Some(self.email),
                first_name: Some(self.first_name),
                last_name: Some(self.last_name),
                phone: self.phone,
                company: self.company,
                job_title: self.job_title,
                score: self.score.map(i64::from),
                custom_fields: self.custom_fields.map(|j| j.0),
            },
            source: self.source.unwrap_or(LeadSource::Api).into(),
            market: self.market,
        })
    }
}

impl UpdateLeadInput {
    pub fn into_domain(self, ctx: &Context<'_>) -> Result<LeadChanges, DomainError> {
        let team_id = match self.team_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(optional_id(ctx, NodeType::Team, Some(&id))?),
        };
        Ok(LeadChanges {
            patch: batch::LeadPatch {
                email: maybe(self.email, |v| v),
                first_name: maybe(self.first_name, |v| v),
                last_name: maybe(self.last_name, |v| v),
                phone: maybe(self.phone, |v| v),
                company: maybe(self.company, |v| v),
                job_title: maybe(self.job_title, |v| v),
                score: maybe(self.score, i64::from),
                custom_fields: maybe(self.custom_fields, |j| j.0),
            },
            source: self.source.map(Into::into),
            market: self.market,
            team_id,
            assigned_to_id: None,
        })
    }
}

impl LeadFilter {
    /// Converts the filter; the caller-dependent rules (email needs `pii:read`,
    /// `search` matches emails only with it) are [`caller_filter`]'s, shared with
    /// the `/v1` export.
    pub fn into_domain(self, ctx: &Context<'_>) -> Result<store::LeadFilter, DomainError> {
        let id = |ty, id: Option<ID>| optional_id(ctx, ty, id.as_ref());
        let filter = store::LeadFilter {
            status: self.status.map(|v| v.into_iter().map(Into::into).collect()),
            source: self.source.map(|v| v.into_iter().map(Into::into).collect()),
            market: self.market,
            team_id: id(NodeType::Team, self.team_id)?,
            assigned_to_id: id(NodeType::User, self.assigned_to_id)?,
            unassigned: self.unassigned,
            score_min: self.score_min,
            score_max: self.score_max,
            created_after: self.created_after,
            created_before: self.created_before,
            updated_after: self.updated_after,
            updated_before: self.updated_before,
            email_key: None,
            search: self.search,
            search_email: false,
        };
        caller_filter(ctx.principal()?, filter, self.email.as_deref())
    }
}

impl From<LeadOrder> for store::LeadOrder {
    fn from(o: LeadOrder) -> Self {
        Self {
            field: match o.field {
                LeadOrderField::CreatedAt => store::LeadOrderField::CreatedAt,
                LeadOrderField::UpdatedAt => store::LeadOrderField::UpdatedAt,
                LeadOrderField::Score => store::LeadOrderField::Score,
                LeadOrderField::LastName => store::LeadOrderField::LastName,
            },
            ascending: o.direction == OrderDirection::Asc,
        }
    }
}
