//! DataLoaders for nested fields (`assignedTo`, `createdBy`, `team`, `mergedInto`).
//!
//! Built per request around the caller's scope, so a page of N leads costs one
//! `IN (...)` query per nested type, whatever N is.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use entity::{lead, team, user};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::lead_row::LeadRow;
use crate::{auth::Principal, scope};

/// Loader errors are shared between the fields that waited on one batch.
pub type LoadError = Arc<sea_orm::DbErr>;

/// Users of the caller's tenant by id.
pub struct UserLoader {
    pub db: DatabaseConnection,
    pub principal: Arc<Principal>,
}

impl Loader<i64> for UserLoader {
    type Value = user::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = user::Entity::find()
            .filter(scope::users(&self.principal))
            .filter(user::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

/// Teams visible to the caller by id.
pub struct TeamLoader {
    pub db: DatabaseConnection,
    pub principal: Arc<Principal>,
}

impl Loader<i64> for TeamLoader {
    type Value = team::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = team::Entity::find()
            .filter(scope::teams(&self.principal))
            .filter(team::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

/// Leads visible to the caller by id (for `mergedInto`).
pub struct LeadLoader {
    pub db: DatabaseConnection,
    pub principal: Arc<Principal>,
}

impl Loader<i64> for LeadLoader {
    type Value = lead::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = lead::Entity::find()
            .filter(scope::leads(&self.principal))
            .filter(lead::Column::DeletedAt.is_null())
            .filter(lead::Column::Id.is_in(keys.iter().copied()))
            .into_model::<LeadRow>()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|LeadRow(r)| (r.id, r)).collect())
    }
}
