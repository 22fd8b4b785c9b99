//! Operation-scope guards. On a nullable field a refused guard nulls that field
//! with a `forbidden` error at its path; the rest of the query succeeds.

use async_graphql::{Context, Guard, Result};

use super::{context::Ctx, errors::coded};
use crate::{auth::Op, error::ErrorCode};

/// Requires one operation scope.
pub struct ScopeGuard(pub Op);

impl Guard for ScopeGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let allowed = ctx.principal().map(|p| p.can(self.0)).unwrap_or(false);
        if allowed {
            Ok(())
        } else {
            Err(coded(
                ErrorCode::Forbidden,
                format!("this key lacks the `{}` scope", self.0.as_str()),
            ))
        }
    }
}

/// Resolver-side check of an operation scope (for fields that branch on it).
pub fn require(ctx: &Context<'_>, op: Op) -> Result<()> {
    let allowed = ctx.principal().map(|p| p.can(op)).unwrap_or(false);
    if allowed {
        Ok(())
    } else {
        Err(coded(
            ErrorCode::Forbidden,
            format!("this key lacks the `{}` scope", op.as_str()),
        ))
    }
}
