//! Status changes: the only way a lead's status moves, each one recorded.

use entity::{LeadStatus, lead, lead_transition};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction, NotSet};
use tracing::instrument;

use crate::domain::audit::{self, Resource};
use crate::domain::webhooks;
use crate::{auth::Principal, clock, domain::DomainError, store};

/// The transition table (DESIGN §5).
pub fn allowed_transition(from: LeadStatus, to: LeadStatus) -> bool {
    use LeadStatus::*;
    matches!(
        (from, to),
        (New, Contacted)
            | (New, Qualified)
            | (New, Unqualified)
            | (Contacted, Qualified)
            | (Contacted, Unqualified)
            | (Qualified, Unqualified)
            | (Unqualified, Contacted)
    )
}

/// Moves a lead to `to`, recording from, to, actor, key and reason.
#[instrument(skip_all, fields(tenant.id = p.tenant_id, lead.id = id))]
pub async fn transition_lead(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
    to: LeadStatus,
    reason: Option<String>,
) -> Result<(lead::Model, lead_transition::Model), DomainError> {
    let found = store::leads::get_writable(txn, p, id).await?;
    let from = found.status;
    if !allowed_transition(from, to) {
        return Err(DomainError::InvalidTransition { from, to });
    }
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(DomainError::field(
            "reason",
            batch::FieldCode::TooLong,
            "at most 1000 characters",
        ));
    }
    let now = clock::now();
    let mut am: lead::ActiveModel = found.into();
    am.status = Set(to);
    am.updated_at = Set(now);
    let lead = am.update(txn).await?;
    let transition = lead_transition::ActiveModel {
        id: NotSet,
        tenant_id: Set(p.tenant_id),
        environment: Set(p.environment),
        lead_id: Set(lead.id),
        from_status: Set(from),
        to_status: Set(to),
        actor_user_id: Set(Some(p.acting_user_id)),
        api_key_id: Set(Some(p.key_id)),
        reason: Set(reason),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    audit::record(txn, p, "lead.status_changed", Resource::Lead(lead.id)).await?;
    webhooks::emit_status_changed(txn, p, &lead, from).await?;
    Ok((lead, transition))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn exactly_the_seven_designed_transitions_are_allowed() {
        let allowed: Vec<(LeadStatus, LeadStatus)> = LeadStatus::iter()
            .flat_map(|a| LeadStatus::iter().map(move |b| (a, b)))
            .filter(|(a, b)| allowed_transition(*a, *b))
            .collect();
        assert_eq!(allowed.len(), 7);
        assert!(!allowed_transition(LeadStatus::Qualified, LeadStatus::New));
        assert!(!allowed_transition(LeadStatus::New, LeadStatus::New));
    }
}
