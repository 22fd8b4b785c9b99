//! Domain errors to GraphQL errors: `extensions.code`, `extensions.status`, and
//! `extensions.fields` for validation. Internal errors are logged once here and
//! reach the client as `internal` (or `unavailable` when the database is
//! overloaded) with the request id, never the cause.

use async_graphql::{Context, Error, ErrorExtensionValues, ErrorExtensions, Value};

use super::context::{Ctx, RequestId};
use crate::{
    domain::DomainError,
    error::{ErrorCode, server_failure},
    ids::NodeType,
};

/// Sets `code` and `status` on an error's extensions.
pub fn set_code(ext: &mut ErrorExtensionValues, code: ErrorCode) {
    ext.set("code", code.slug());
    ext.set("status", i32::from(code.status()));
}

/// A GraphQL error with a code.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, ext| set_code(ext, code))
}

/// Converts a domain error for the client.
pub fn to_gql(ctx: &Context<'_>, err: DomainError) -> Error {
    let code = err.code();
    match err {
        DomainError::Validation(fields) => {
            let list: Vec<Value> = fields
                .iter()
                .map(|f| {
                    let mut obj = async_graphql::indexmap::IndexMap::new();
                    obj.insert(
                        async_graphql::Name::new("field"),
                        Value::from(f.field.clone()),
                    );
                    obj.insert(
                        async_graphql::Name::new("code"),
                        Value::from(f.code.as_str()),
                    );
                    obj.insert(
                        async_graphql::Name::new("message"),
                        Value::from(f.message.clone()),
                    );
                    Value::Object(obj)
                })
                .collect();
            Error::new("validation failed").extend_with(move |_, ext| {
                set_code(ext, code);
                ext.set("fields", Value::List(list.clone()));
            })
        }
        DomainError::Duplicate { existing_id } => {
            let existing = existing_id.and_then(|id| ctx.encode_id(NodeType::Lead, id).ok());
            Error::new("a lead with this email already exists").extend_with(move |_, ext| {
                set_code(ext, code);
                if let Some(id) = &existing {
                    ext.set("existingId", id.as_str());
                }
            })
        }
        DomainError::Db(_) | DomainError::Internal(_) => {
            let request_id = ctx
                .data_opt::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default();
            let (code, message) = server_failure(err.busy(), &request_id, &err, "request failed");
            Error::new(message).extend_with(move |_, ext| {
                set_code(ext, code);
                ext.set("requestId", request_id.as_str());
            })
        }
        other => coded(code, other.to_string()),
    }
}

/// `?`-friendly conversion in resolvers: `.gql(ctx)?`.
pub trait GqlResult<T> {
    fn gql(self, ctx: &Context<'_>) -> Result<T, Error>;
}

impl<T> GqlResult<T> for Result<T, DomainError> {
    fn gql(self, ctx: &Context<'_>) -> Result<T, Error> {
        self.map_err(|e| to_gql(ctx, e))
    }
}
