//! The authenticated caller of a `/v1` request, as an extractor: a refused key
//! answers 401 in the envelope before the handler runs.

use axum::{
    extract::FromRequestParts,
    http::request::Parts,
    response::{IntoResponse, Response},
};

use super::envelope;
use crate::{
    auth::{
        Op, Principal,
        authenticate::{AuthenticateError, authenticate},
    },
    error::ErrorCode,
    http::AppState,
};

/// The caller, authenticated.
pub struct Caller {
    pub principal: Principal,
    pub request_id: String,
}

impl Caller {
    /// `forbidden` unless the key has `op`.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, op: Op) -> Result<(), Response> {
        if self.principal.can(op) {
            Ok(())
        } else {
            let message = format!("this key lacks the `{}` scope", op.as_str());
            Err(envelope::error(
                ErrorCode::Forbidden,
                &message,
                self.request_id.clone(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let request_id = envelope::request_id(&parts.headers);
        match authenticate(&state.db, &state.codec, &parts.headers).await {
            Ok(principal) => Ok(Self {
                principal,
                request_id,
            }),
            Err(AuthenticateError::Refused(err)) => {
                Err(envelope::error(err.code(), &err.to_string(), request_id))
            }
            Err(AuthenticateError::Db(err)) => {
                tracing::error!(request.id = %request_id, error = %err, "authentication query failed");
                let message = format!("internal error (request id {request_id})");
                Err(envelope::error(ErrorCode::Internal, &message, request_id).into_response())
            }
        }
    }
}
