//! Where a lead goes: its market, team and assignee, checked against the tenant's
//! data and the caller's scope.

use std::collections::{BTreeSet, HashMap};

use batch::FieldCode;
use entity::{market, team, user};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{auth::Principal, domain::DomainError, error::FieldError};

/// Tenant data needed to place a batch of leads, loaded once per batch.
pub struct PlacementData {
    pub markets: BTreeSet<String>,
    pub teams: HashMap<i64, team::Model>,
    pub active_users: BTreeSet<i64>,
}

impl PlacementData {
    pub async fn load<C: ConnectionTrait>(
        db: &C,
        p: &Principal,
        team_ids: impl IntoIterator<Item = i64>,
        user_ids: impl IntoIterator<Item = i64>,
    ) -> Result<Self, DomainError> {
        let markets = market::Entity::find()
            .filter(market::Column::TenantId.eq(p.tenant_id))
            .all(db)
            .await?
            .into_iter()
            .map(|m| m.code)
            .collect();
        let team_ids: BTreeSet<i64> = team_ids.into_iter().collect();
        let teams = if team_ids.is_empty() {
            HashMap::new()
        } else {
            team::Entity::find()
                .filter(team::Column::TenantId.eq(p.tenant_id))
                .filter(team::Column::Id.is_in(team_ids))
                .all(db)
                .await?
                .into_iter()
                .map(|t| (t.id, t))
                .collect()
        };
        let user_ids: BTreeSet<i64> = user_ids.into_iter().collect();
        let active_users = if user_ids.is_empty() {
            BTreeSet::new()
        } else {
            user::Entity::find()
                .filter(user::Column::TenantId.eq(p.tenant_id))
                .filter(user::Column::DeactivatedAt.is_null())
                .filter(user::Column::Id.is_in(user_ids))
                .all(db)
                .await?
                .into_iter()
                .map(|u| u.id)
                .collect()
        };
        Ok(Self {
            markets,
            teams,
            active_users,
        })
    }

    /// The market used when a lead names none: the caller's only market, else the
    /// tenant's only market.
    fn default_market(&self, p: &Principal) -> Option<String> {
        if let crate::auth::MarketScope::Only(set) = &p.markets
            && set.len() == 1
        {
            return set.iter().next().cloned();
        }
        (self.markets.len() == 1)
            .then(|| self.markets.iter().next().cloned())
            .flatten()
    }

    /// Resolves and checks a placement. Unknown market/team/user ids are field
    /// errors; a valid placement outside the caller's scope is `forbidden`.
    pub fn resolve(
        &self,
        p: &Principal,
        market: Option<&str>,
        team_id: Option<i64>,
        assigned_to_id: Option<i64>,
    ) -> Result<Placement, DomainError> {
        let mut errors = Vec::new();
        let team = match team_id {
            Some(id) => match self.teams.get(&id) {
                Some(t) => Some(t),
                None => {
                    errors.push(FieldError::new(
                        "teamId",
                        FieldCode::InvalidValue,
                        "no such team",
                    ));
                    None
                }
            },
            None => None,
        };
        let market = match (market.map(|m| m.trim().to_ascii_uppercase()), team) {
            (Some(m), _) => Some(m),
            (None, Some(t)) => Some(t.market.clone()),
            (None, None) => self.default_market(p),
        };
        match &market {
            None => errors.push(FieldError::new(
                "market",
                FieldCode::Required,
                "market is required",
            )),
            Some(m) if !self.markets.contains(m) => {
                errors.push(FieldError::new(
                    "market",
                    FieldCode::InvalidValue,
                    "not a market of this tenant",
                ));
            }
            Some(m) => {
                if let Some(t) = team
                    && &t.market != m
                {
                    errors.push(FieldError::new(
                        "teamId",
                        FieldCode::InvalidValue,
                        "the team belongs to another market",
                    ));
                }
            }
        }
        if let Some(u) = assigned_to_id
            && !self.active_users.contains(&u)
        {
            errors.push(FieldError::new(
                "assignedToId",
                FieldCode::InvalidValue,
                "no active user with this id",
            ));
        }
        let team_id = team.map(|t| t.id);
        if p.teams.is_some() && team_id.is_none() && errors.is_empty() {
            errors.push(FieldError::new(
                "teamId",
                FieldCode::Required,
                "this key writes only into its teams",
            ));
        }
        let Some(market) = market.filter(|_| errors.is_empty()) else {
            return Err(DomainError::Validation(errors));
        };
        if !p.allows_placement(&market, team_id) {
            return Err(DomainError::Forbidden(
                "the market or team is outside this key's scope".into(),
            ));
        }
        Ok(Placement {
            market,
            team_id,
            assigned_to_id,
        })
    }
}

/// A checked placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub market: String,
    pub team_id: Option<i64>,
    pub assigned_to_id: Option<i64>,
}
