//! Gives every error a code, including those async-graphql raises itself: parse
//! and validation errors become `bad_request`, the depth and complexity limits
//! `query_too_complex`.
//!
//! It also answers a failed nullable field with `null` (GraphQL spec, "Handling
//! Field Errors"): async-graphql 7 leaves such a field out of `data` instead, so
//! a `forbidden` PII field or a `not_found` `lead(id)` would be missing, not null.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{
    Response, ServerError, ServerResult, Value,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextRequest, NextResolve, ResolveInfo,
    },
};

use super::errors::set_code;
use crate::error::ErrorCode;

/// Factory registered on the schema.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension::default())
    }
}

/// One per request.
#[derive(Default)]
struct ErrorCodesExtension {
    /// Errors of nullable fields that were answered with `null`.
    nulled: Mutex<Vec<ServerError>>,
}

fn classify(err: &ServerError) -> ErrorCode {
    match err.message.as_str() {
        "Query is too complex." | "Query is nested too deep." => ErrorCode::QueryTooComplex,
        // Far beyond the depth limit, async-graphql's own recursion guards (schema
        // check at 32 levels, parser at 64) answer first: still too deep.
        m if m.starts_with("The recursion depth of the query cannot be greater than")
            || m.contains("recursion limit exceeded") =>
        {
            ErrorCode::QueryTooComplex
        }
        _ => ErrorCode::BadRequest,
    }
}

#[async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        response.errors.extend(
            self.nulled
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .drain(..),
        );
        for err in &mut response.errors {
            let has_code = err
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some());
            if !has_code {
                let code = classify(err);
                set_code(err.extensions.get_or_insert_with(Default::default), code);
            }
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        match next.run(ctx, info).await {
            Err(err) if nullable => {
                self.nulled
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(err);
                Ok(Some(Value::Null))
            }
            other => other,
        }
    }
}
