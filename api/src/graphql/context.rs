//! Per-request data and typed accessors for resolvers.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::{
    Context,
    dataloader::{DataLoader, Loader},
};
use entity::{team, user};
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use crate::{
    auth::Principal,
    domain::DomainError,
    ids::{IdCodec, NodeType},
    store::loaders::{LeadLoader, TeamLoader, UserLoader},
};

/// The request id, for error messages and logs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// DataLoaders of one request.
pub struct Loaders {
    pub users: DataLoader<UserLoader>,
    pub teams: DataLoader<TeamLoader>,
    pub leads: DataLoader<LeadLoader>,
    /// Users and teams a page of leads refers to, loaded with the page (see
    /// [`Loaders::prefetch`]).
    prefetched: Mutex<Prefetched>,
}

/// Rows loaded ahead for the nodes of a page.
#[derive(Default)]
struct Prefetched {
    users: HashMap<i64, user::Model>,
    teams: HashMap<i64, team::Model>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection, principal: &Arc<Principal>) -> Self {
        let spawn = tokio::spawn;
        Self {
            users: DataLoader::new(
                UserLoader {
                    db: db.clone(),
                    principal: principal.clone(),
                },
                spawn,
            ),
            teams: DataLoader::new(
                TeamLoader {
                    db: db.clone(),
                    principal: principal.clone(),
                },
                spawn,
            ),
            leads: DataLoader::new(
                LeadLoader {
                    db: db.clone(),
                    principal: principal.clone(),
                },
                spawn,
            ),
            prefetched: Mutex::default(),
        }
    }

    /// Loads the users (`assignedTo`, `createdBy`) and teams of a page of leads
    /// in one query each, right away, when the selection asks for them. The
    /// DataLoaders would batch the same queries, but only after their batching
    /// delay and with a task and a channel per field; a page of 50 leads with
    /// three nested objects resolves 150 of them.
    ///
    /// Only read operations call this (the top-level `leads` query), so no
    /// write of the same request can make the rows stale.
    pub async fn prefetch(
        &self,
        users: Vec<i64>,
        teams: Vec<i64>,
    ) -> Result<(), Arc<sea_orm::DbErr>> {
        let (users, teams) = tokio::try_join!(
            load_distinct(self.users.loader(), users),
            load_distinct(self.teams.loader(), teams),
        )?;
        let mut prefetched = self
            .prefetched
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        prefetched.users.extend(users);
        prefetched.teams.extend(teams);
        Ok(())
    }

    /// A user loaded by [`Loaders::prefetch`] (`None`: load it with `users`).
    pub fn prefetched_user(&self, id: i64) -> Option<user::Model> {
        self.with_prefetched_user(id, Clone::clone)
    }

    /// A team loaded by [`Loaders::prefetch`] (`None`: load it with `teams`).
    pub fn prefetched_team(&self, id: i64) -> Option<team::Model> {
        self.with_prefetched_team(id, Clone::clone)
    }

    /// `f` of a user loaded by [`Loaders::prefetch`], without a copy of it.
    pub fn with_prefetched_user<T>(&self, id: i64, f: impl FnOnce(&user::Model) -> T) -> Option<T> {
        let prefetched = self
            .prefetched
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        prefetched.users.get(&id).map(f)
    }

    /// `f` of a team loaded by [`Loaders::prefetch`], without a copy of it.
    pub fn with_prefetched_team<T>(&self, id: i64, f: impl FnOnce(&team::Model) -> T) -> Option<T> {
        let prefetched = self
            .prefetched
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        prefetched.teams.get(&id).map(f)
    }
}

/// Loads `keys` (deduplicated) with `loader`; nothing to load is no query.
async fn load_distinct<L: Loader<i64>>(
    loader: &L,
    mut keys: Vec<i64>,
) -> Result<HashMap<i64, L::Value>, L::Error> {
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    loader.load(&keys).await
}

/// Typed access to what every resolver needs.
pub trait Ctx {
    fn principal(&self) -> Result<&Principal, DomainError>;
    fn db(&self) -> Result<&DatabaseConnection, DomainError>;
    fn codec(&self) -> Result<&IdCodec, DomainError>;
    fn loaders(&self) -> Result<&Loaders, DomainError>;
    /// Encodes a row id as a public id.
    fn encode_id(&self, ty: NodeType, id: i64) -> Result<async_graphql::ID, DomainError> {
        Ok(async_graphql::ID(self.codec()?.encode(ty, id)))
    }
    /// Decodes a public id that must name a `ty`; malformed is `bad_request`, and a
    /// well-formed id of another type is `not_found`.
    fn decode_id(&self, ty: NodeType, id: &async_graphql::ID) -> Result<i64, DomainError> {
        self.codec()?
            .decode_as(ty, id)
            .map_err(|_| DomainError::BadRequest(format!("`{}` is not a valid id", id.as_str())))?
            .ok_or(DomainError::NotFound)
    }
}

fn missing(what: &str) -> DomainError {
    DomainError::Internal(anyhow::anyhow!("{what} missing from the GraphQL context"))
}

impl Ctx for Context<'_> {
    fn principal(&self) -> Result<&Principal, DomainError> {
        self.data_opt::<Arc<Principal>>()
            .map(|p| p.as_ref())
            .ok_or_else(|| missing("principal"))
    }
    fn db(&self) -> Result<&DatabaseConnection, DomainError> {
        self.data_opt::<DatabaseConnection>()
            .ok_or_else(|| missing("database"))
    }
    fn codec(&self) -> Result<&IdCodec, DomainError> {
        self.data_opt::<IdCodec>()
            .ok_or_else(|| missing("id codec"))
    }
    fn loaders(&self) -> Result<&Loaders, DomainError> {
        self.data_opt::<Loaders>().ok_or_else(|| missing("loaders"))
    }
}

/// Runs `f` in a transaction, committing on success.
pub async fn in_transaction<T, F>(db: &DatabaseConnection, f: F) -> Result<T, DomainError>
where
    F: AsyncFnOnce(&DatabaseTransaction) -> Result<T, DomainError>,
{
    let txn = crate::store::begin_write(db).await?;
    let out = f(&txn).await?;
    txn.commit().await?;
    Ok(out)
}
