//! Batch results: one entry per input item, in input order, plus counts. One bad
//! item never fails the others.

use async_graphql::{Context, ID, SimpleObject};

use super::{Lead, enums::BatchItemStatus};
use crate::{
    domain::{
        DomainError,
        error::ItemError,
        leads::{ItemOutcome, ItemStatus},
    },
    graphql::context::Ctx,
    ids::NodeType,
};

/// An error of one batch item.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "BatchItemError")]
pub struct BatchItemErrorObject {
    /// The input field at fault, when one is.
    pub field: Option<String>,
    /// A field code (`required`, `invalid_format`, ...) or an error code
    /// (`duplicate`, `not_found`, `forbidden`, `bad_request`).
    pub code: String,
    pub message: String,
}

impl From<ItemError> for BatchItemErrorObject {
    fn from(e: ItemError) -> Self {
        Self {
            field: e.field,
            code: e.code,
            message: e.message,
        }
    }
}

/// The result of one item.
#[derive(SimpleObject)]
pub struct BatchItemResult {
    /// The item's position in the input (0-based).
    pub index: i32,
    pub status: BatchItemStatus,
    /// The lead written, found (`SKIPPED`) or deleted; null when `FAILED`.
    pub lead: Option<Lead>,
    /// For a `duplicate` failure: the existing lead, when the caller can see it.
    pub existing_id: Option<ID>,
    pub errors: Vec<BatchItemErrorObject>,
}

/// Per-item results and counts.
#[derive(SimpleObject)]
pub struct BatchResult {
    pub results: Vec<BatchItemResult>,
    pub created: i32,
    pub updated: i32,
    pub skipped: i32,
    pub deleted: i32,
    pub failed: i32,
}

impl BatchResult {
    pub fn from_outcomes(ctx: &Context<'_>, outcomes: Vec<ItemOutcome>) -> Self {
        let mut out = Self {
            results: Vec::new(),
            created: 0,
            updated: 0,
            skipped: 0,
            deleted: 0,
            failed: 0,
        };
        for o in outcomes {
            let index = i32::try_from(o.index).unwrap_or(i32::MAX);
            let item = match o.result {
                Ok((status, model)) => {
                    match status {
                        ItemStatus::Created => out.created += 1,
                        ItemStatus::Updated => out.updated += 1,
                        ItemStatus::Skipped => out.skipped += 1,
                        ItemStatus::Deleted => out.deleted += 1,
                    }
                    BatchItemResult {
                        index,
                        status: status.into(),
                        lead: Some(Lead(model)),
                        existing_id: None,
                        errors: vec![],
                    }
                }
                Err(err) => {
                    out.failed += 1;
                    let existing_id = match &err {
                        DomainError::Duplicate {
                            existing_id: Some(id),
                        } => ctx.encode_id(NodeType::Lead, *id).ok(),
                        _ => None,
                    };
                    BatchItemResult {
                        index,
                        status: BatchItemStatus::Failed,
                        lead: None,
                        existing_id,
                        errors: err.item_errors().into_iter().map(Into::into).collect(),
                    }
                }
            };
            out.results.push(item);
        }
        out
    }
}
