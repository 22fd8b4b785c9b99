//! The one place where a caller's scope becomes SQL.
//!
//! Every query made for a request starts from one of these conditions, so a row of
//! another tenant, environment, market or team can never be read or written: to the
//! caller it does not exist (`not_found`).

use entity::{
    JobKind, JobStatus, api_key, audit_event, job, lead, lead_transition, team, user,
    webhook_delivery, webhook_endpoint,
};
use sea_orm::{ColumnTrait, Condition};

use crate::auth::{MarketScope, Principal};

/// Leads the caller may see: tenant, environment, markets and teams.
pub fn leads(p: &Principal) -> Condition {
    let mut cond = Condition::all()
        .add(lead::Column::TenantId.eq(p.tenant_id))
        .add(lead::Column::Environment.eq(p.environment));
    if let MarketScope::Only(markets) = &p.markets {
        cond = cond.add(lead::Column::Market.is_in(markets.iter().cloned()));
    }
    if let Some(teams) = &p.teams {
        cond = cond.add(lead::Column::TeamId.is_in(teams.iter().copied()));
    }
    cond
}

/// Status history rows of the caller's tenant and environment. Callers reach them
/// only through a lead that passed [`leads`].
pub fn transitions(p: &Principal) -> Condition {
    Condition::all()
        .add(lead_transition::Column::TenantId.eq(p.tenant_id))
        .add(lead_transition::Column::Environment.eq(p.environment))
}

/// Teams the caller may see: the tenant's teams in its markets (and its teams).
pub fn teams(p: &Principal) -> Condition {
    let mut cond = Condition::all().add(team::Column::TenantId.eq(p.tenant_id));
    if let MarketScope::Only(markets) = &p.markets {
        cond = cond.add(team::Column::Market.is_in(markets.iter().cloned()));
    }
    if let Some(teams) = &p.teams {
        cond = cond.add(team::Column::Id.is_in(teams.iter().copied()));
    }
    cond
}

/// Users are tenant-wide organisation data (assignees, creators).
pub fn users(p: &Principal) -> Condition {
    Condition::all().add(user::Column::TenantId.eq(p.tenant_id))
}

/// API keys of the caller's tenant and environment.
pub fn api_keys(p: &Principal) -> Condition {
    Condition::all()
        .add(api_key::Column::TenantId.eq(p.tenant_id))
        .add(api_key::Column::Environment.eq(p.environment))
}

/// Audit entries of the caller's tenant and environment.
pub fn audit_events(p: &Principal) -> Condition {
    Condition::all()
        .add(audit_event::Column::TenantId.eq(p.tenant_id))
        .add(audit_event::Column::Environment.eq(p.environment))
}

/// Webhook endpoints of the caller's tenant and environment.
pub fn webhook_endpoints(p: &Principal) -> Condition {
    Condition::all()
        .add(webhook_endpoint::Column::TenantId.eq(p.tenant_id))
        .add(webhook_endpoint::Column::Environment.eq(p.environment))
}

/// Webhook deliveries of the caller's tenant and environment.
pub fn webhook_deliveries(p: &Principal) -> Condition {
    Condition::all()
        .add(webhook_delivery::Column::TenantId.eq(p.tenant_id))
        .add(webhook_delivery::Column::Environment.eq(p.environment))
}

/// Jobs (imports, dedupe runs) of `kind` the caller may see. A job's results
/// hold leads and rows of its starting key's scope, so a key limited to some
/// markets or teams sees only the jobs it started itself; a key with the whole
/// environment in scope sees every job of it. Uploads still arriving are never
/// shown.
pub fn jobs(p: &Principal, kind: JobKind) -> Condition {
    let mut cond = Condition::all()
        .add(job::Column::TenantId.eq(p.tenant_id))
        .add(job::Column::Environment.eq(p.environment))
        .add(job::Column::Kind.eq(kind))
        .add(job::Column::Status.ne(JobStatus::Uploading));
    if !(p.markets == MarketScope::All && p.teams.is_none()) {
        cond = cond.add(job::Column::ApiKeyId.eq(p.key_id));
    }
    cond
}
