//! Gives every error a code, including those async-graphql raises itself: parse
//! and validation errors become `bad_request`, the depth and complexity limits
//! `query_too_complex`.

use std::sync::Arc;

use async_graphql::{
    Response, ServerError,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextRequest},
};

use super::errors::set_code;
use crate::error::ErrorCode;

/// Factory registered on the schema.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

fn classify(err: &ServerError) -> ErrorCode {
    match err.message.as_str() {
        "Query is too complex." | "Query is nested too deep." => ErrorCode::QueryTooComplex,
        _ => ErrorCode::BadRequest,
    }
}

#[async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
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
}
