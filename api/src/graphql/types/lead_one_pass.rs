//! A `Lead` whose scalar fields resolve in one pass.
//!
//! async-graphql resolves each selected field of an object as its own boxed
//! future, with a field context, a guard check and a map insert; on a page of
//! 50 leads with ten fields that machinery was a quarter of the server's CPU
//! (perf, `first_page` of the API bench). [`OnePassLead`] is the same GraphQL
//! type (`Lead`, registered by [`Lead`] itself) with its own `resolve`: the
//! scalar fields are computed in a loop over the selection, and so are
//! `team`, `assignedTo` and `createdBy` selecting scalars only, from the rows
//! the page prefetched; every other field (`history`, `customFields`,
//! `mergedInto`, a related object that was not prefetched, ...) goes through
//! [`Lead`]'s generated resolver, all of them concurrently as on the generic
//! path (so their DataLoaders batch together), their errors recorded as the
//! generic path records them. Keys come in selection order. A selection with fragments, directives or a
//! repeated response key, and `email`/`phone` without `pii:read` (whose guard
//! must answer), take the generic path for the whole object.
//!
//! The schema registers no extension (see `graphql::schema`): an extension's
//! per-field hooks would not see the fields resolved here.

use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::{
    ContainerType, ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerResult,
    Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection, SelectionSet},
    registry::Registry,
    resolver_utils::enum_value,
};

use super::{
    Lead,
    enums::{LeadSource, LeadStatus},
};
use crate::{
    auth::{Op, Principal},
    graphql::context::Loaders,
    ids::{IdCodec, NodeType},
};
use entity::{lead, team, user};

/// A [`Lead`] resolved in one pass where its selection allows.
pub struct OnePassLead(pub Lead);

/// What the one pass does with a selected field.
enum Plan<'a> {
    /// A scalar computed from the row.
    Scalar(Scalar),
    /// `team`, `assignedTo` or `createdBy` selecting scalars only: built from
    /// the rows the page prefetched (`Loaders::prefetch`).
    Related(Related, Vec<(&'a Positioned<Field>, RelatedScalar)>),
    /// Through `Lead`'s generated resolver.
    Generic,
}

#[derive(Clone, Copy)]
enum Scalar {
    Typename,
    Id,
    Email,
    Phone,
    FirstName,
    LastName,
    Company,
    JobTitle,
    Source,
    Status,
    Score,
    Market,
    CreatedAt,
    UpdatedAt,
}

impl Scalar {
    fn of(name: &str) -> Option<Self> {
        Some(match name {
            "__typename" => Self::Typename,
            "id" => Self::Id,
            "email" => Self::Email,
            "phone" => Self::Phone,
            "firstName" => Self::FirstName,
            "lastName" => Self::LastName,
            "company" => Self::Company,
            "jobTitle" => Self::JobTitle,
            "source" => Self::Source,
            "status" => Self::Status,
            "score" => Self::Score,
            "market" => Self::Market,
            "createdAt" => Self::CreatedAt,
            "updatedAt" => Self::UpdatedAt,
            _ => return None,
        })
    }

    /// Guarded by `pii:read` (as `Lead`'s resolvers are).
    fn is_pii(self) -> bool {
        matches!(self, Self::Email | Self::Phone)
    }

    fn value(self, lead: &lead::Model, codec: &IdCodec) -> Value {
        match self {
            Self::Typename => text("Lead"),
            Self::Id => Value::String(codec.encode(NodeType::Lead, lead.id)),
            Self::Email => text(&lead.email),
            Self::Phone => optional(lead.phone.as_deref()),
            Self::FirstName => text(&lead.first_name),
            Self::LastName => text(&lead.last_name),
            Self::Company => optional(lead.company.as_deref()),
            Self::JobTitle => optional(lead.job_title.as_deref()),
            Self::Source => enum_value(LeadSource::from(lead.source)),
            Self::Status => enum_value(LeadStatus::from(lead.status)),
            Self::Score => Value::from(lead.score),
            Self::Market => text(&lead.market),
            Self::CreatedAt => lead.created_at.to_value(),
            Self::UpdatedAt => lead.updated_at.to_value(),
        }
    }
}

/// A related object of the lead.
#[derive(Clone, Copy)]
enum Related {
    Team,
    AssignedTo,
    CreatedBy,
}

impl Related {
    fn of(name: &str) -> Option<Self> {
        Some(match name {
            "team" => Self::Team,
            "assignedTo" => Self::AssignedTo,
            "createdBy" => Self::CreatedBy,
            _ => return None,
        })
    }

    fn scalar(self, name: &str) -> Option<RelatedScalar> {
        use RelatedScalar as S;
        Some(match (self, name) {
            (_, "__typename") => S::Typename,
            (_, "id") => S::Id,
            (_, "name") => S::Name,
            (_, "createdAt") => S::CreatedAt,
            (Self::Team, "market") => S::Market,
            (Self::AssignedTo | Self::CreatedBy, "email") => S::Email,
            (Self::AssignedTo | Self::CreatedBy, "role") => S::Role,
            (Self::AssignedTo | Self::CreatedBy, "active") => S::Active,
            (Self::AssignedTo | Self::CreatedBy, "deactivatedAt") => S::DeactivatedAt,
            _ => return None,
        })
    }
}

/// A scalar field of a `User` or a `Team` (none of them guarded).
#[derive(Clone, Copy)]
enum RelatedScalar {
    Typename,
    Id,
    Name,
    CreatedAt,
    Market,
    Email,
    Role,
    Active,
    DeactivatedAt,
}

impl RelatedScalar {
    fn of_user(self, user: &user::Model, codec: &IdCodec) -> Value {
        match self {
            Self::Typename => text("User"),
            Self::Id => Value::String(codec.encode(NodeType::User, user.id)),
            Self::Name => text(&user.name),
            Self::CreatedAt => user.created_at.to_value(),
            Self::Email => text(&user.email),
            Self::Role => text(&user.role),
            Self::Active => Value::Boolean(user.deactivated_at.is_none()),
            Self::DeactivatedAt => user.deactivated_at.map_or(Value::Null, |t| t.to_value()),
            // Not a `User` field (`Related::scalar` never plans it).
            Self::Market => Value::Null,
        }
    }

    fn of_team(self, team: &team::Model, codec: &IdCodec) -> Value {
        match self {
            Self::Typename => text("Team"),
            Self::Id => Value::String(codec.encode(NodeType::Team, team.id)),
            Self::Name => text(&team.name),
            Self::CreatedAt => team.created_at.to_value(),
            Self::Market => text(&team.market),
            // Not `Team` fields (`Related::scalar` never plans them).
            Self::Email | Self::Role | Self::Active | Self::DeactivatedAt => Value::Null,
        }
    }
}

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn optional(s: Option<&str>) -> Value {
    s.map_or(Value::Null, text)
}

/// The fields of a selection set when it is fields only, without
/// directives, each under its own response key; else `None`.
fn plain_fields(set: &Positioned<SelectionSet>) -> Option<Vec<&Positioned<Field>>> {
    let mut fields: Vec<&Positioned<Field>> = Vec::with_capacity(set.node.items.len());
    for item in &set.node.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let key = &field.node.response_key().node;
        if !field.node.directives.is_empty()
            || fields.iter().any(|f| &f.node.response_key().node == key)
        {
            return None;
        }
        fields.push(field);
    }
    Some(fields)
}

/// The plan of each selected field, or `None` when the whole object must
/// take the generic path.
fn plan<'a>(
    set: &'a Positioned<SelectionSet>,
    pii: bool,
) -> Option<Vec<(&'a Positioned<Field>, Plan<'a>)>> {
    let fields = plain_fields(set)?;
    let mut plans = Vec::with_capacity(fields.len());
    for field in fields {
        let name = field.node.name.node.as_str();
        let no_arguments = field.node.arguments.is_empty();
        let plan = match (Scalar::of(name), Related::of(name)) {
            (Some(s), _) if s.is_pii() && !pii => return None,
            (Some(s), _) if no_arguments => Plan::Scalar(s),
            (_, Some(related)) if no_arguments => plain_fields(&field.node.selection_set)
                .and_then(|nested| {
                    nested
                        .into_iter()
                        .map(|f| {
                            let plain = f.node.arguments.is_empty();
                            let scalar = related.scalar(f.node.name.node.as_str())?;
                            plain.then_some((f, scalar))
                        })
                        .collect::<Option<Vec<_>>>()
                })
                .map_or(Plan::Generic, |nested| Plan::Related(related, nested)),
            _ => Plan::Generic,
        };
        plans.push((field, plan));
    }
    Some(plans)
}

/// The object of `nested` scalars, in selection order.
fn object(
    nested: &[(&Positioned<Field>, RelatedScalar)],
    value: impl Fn(RelatedScalar) -> Value,
) -> Value {
    Value::Object(
        nested
            .iter()
            .map(|(f, s)| (f.node.response_key().node.clone(), value(*s)))
            .collect(),
    )
}

impl OnePassLead {
    /// `related` built from the prefetched rows: `Some(Null)` when the lead has
    /// none, `None` when the row was not prefetched.
    fn related(
        &self,
        related: Related,
        nested: &[(&Positioned<Field>, RelatedScalar)],
        loaders: &Loaders,
        codec: &IdCodec,
    ) -> Option<Value> {
        let lead = &self.0.0;
        let user = |id: Option<i64>| match id {
            None => Some(Value::Null),
            Some(id) => {
                loaders.with_prefetched_user(id, |u| object(nested, |s| s.of_user(u, codec)))
            }
        };
        match related {
            Related::AssignedTo => user(lead.assigned_to_id),
            Related::CreatedBy => user(lead.created_by_id),
            Related::Team => match lead.team_id {
                None => Some(Value::Null),
                Some(id) => {
                    loaders.with_prefetched_team(id, |t| object(nested, |s| s.of_team(t, codec)))
                }
            },
        }
    }
}

impl OutputType for OnePassLead {
    fn type_name() -> Cow<'static, str> {
        <Lead as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Lead as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let pii = ctx
            .data_opt::<Arc<Principal>>()
            .is_some_and(|p| p.can(Op::PiiRead));
        let (Some(codec), Some(loaders), Some(fields)) = (
            ctx.data_opt::<IdCodec>(),
            ctx.data_opt::<Loaders>(),
            plan(ctx.item, pii),
        ) else {
            return OutputType::resolve(&self.0, ctx, field).await;
        };
        let lead = &self.0.0;
        // Values computed here first; the rest resolve concurrently, as on the
        // generic path (their DataLoaders batch together), and every value
        // goes into the object in selection order.
        let values: Vec<Option<Value>> = fields
            .iter()
            .map(|(_, plan)| match plan {
                Plan::Scalar(s) => Some(s.value(lead, codec)),
                Plan::Related(related, nested) => self.related(*related, nested, loaders, codec),
                Plan::Generic => None,
            })
            .collect();
        let mut resolved = futures::future::join_all(
            fields
                .iter()
                .zip(&values)
                .filter(|(_, value)| value.is_none())
                .map(|((field, _), _)| async move {
                    let value = self.0.resolve_field(&ctx.with_field(field)).await?;
                    Ok(value.unwrap_or_default())
                }),
        )
        .await
        .into_iter();
        let mut map: IndexMap<Name, Value> = IndexMap::with_capacity(fields.len());
        for ((field, _), value) in fields.iter().zip(values) {
            let value = match value.map(Ok).or_else(|| resolved.next()) {
                Some(Ok(value)) => value,
                Some(Err(e)) => {
                    ctx.add_error(e);
                    continue;
                }
                None => continue,
            };
            map.insert(field.node.response_key().node.clone(), value);
        }
        Ok(if map.is_empty() {
            Value::Null
        } else {
            Value::Object(map)
        })
    }
}
