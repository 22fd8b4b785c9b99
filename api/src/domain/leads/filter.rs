//! The caller-dependent rules of a lead filter, shared by GraphQL `leads` and
//! `GET /v1/leads/export`: filtering by email needs `pii:read`, `search` matches
//! emails only with it, emails become their canonical key and market codes are
//! upper-cased. Neither surface may reveal which emails exist to a key that
//! cannot read them.

use crate::{
    auth::{Op, Principal},
    domain::DomainError,
    store::leads::LeadFilter,
};

/// Completes `filter` for `p`: sets `email_key` from `email` (as given) and
/// `search_email`, and normalises market codes. `forbidden` when `email` is given
/// without `pii:read`.
pub fn caller_filter(
    p: &Principal,
    mut filter: LeadFilter,
    email: Option<&str>,
) -> Result<LeadFilter, DomainError> {
    let pii = p.can(Op::PiiRead);
    if email.is_some() && !pii {
        return Err(DomainError::Forbidden(
            "filtering by email needs the `pii:read` scope".into(),
        ));
    }
    filter.email_key = email.map(|e| match batch::email(e) {
        Ok(email) => email.key.as_str().to_owned(),
        // Not a valid address: no lead has it, but match its plain lower case
        // rather than refusing the filter.
        Err(_) => e.trim().to_lowercase(),
    });
    filter.market = filter.market.map(|v| {
        v.into_iter()
            .map(|m| m.trim().to_ascii_uppercase())
            .collect()
    });
    filter.search_email = pii;
    Ok(filter)
}
