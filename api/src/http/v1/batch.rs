//! `POST|PATCH|DELETE /v1/leads/batch`: up to 500 leads, `207 Multi-Status` with a
//! result per record `{ index, status: 201|200|4xx, id, code, errors }`.

use axum::{body::Bytes, extract::State, http::StatusCode, response::Response};
use serde::Serialize;
use serde_json::Value;

use super::{auth::Caller, envelope, lead_json};
use crate::{
    auth::Op,
    domain::{
        DomainError,
        error::ItemError,
        leads::{self as service, ItemOutcome, ItemStatus, OnDuplicate, check_batch_size},
    },
    error::ErrorCode,
    http::AppState,
    ids::NodeType,
    store::begin_write,
};

/// One record's result.
#[derive(Debug, Serialize)]
pub struct RecordResult {
    pub index: usize,
    /// 201 created, 200 updated/skipped/deleted, else the error's status.
    pub status: u16,
    /// The lead's id; for a `duplicate`, the existing lead's (when visible).
    pub id: Option<String>,
    /// `created`, `updated`, `skipped`, `deleted`, or the error code.
    pub code: String,
    pub errors: Vec<ItemError>,
}

/// The `data` of a 207.
#[derive(Debug, Serialize)]
pub struct BatchData {
    pub results: Vec<RecordResult>,
    pub created: usize,
    pub updated: usize,
    pub skipped: usize,
    pub deleted: usize,
    pub failed: usize,
}

fn summarize(state: &AppState, outcomes: Vec<ItemOutcome>) -> BatchData {
    let mut data = BatchData {
        results: Vec::new(),
        created: 0,
        updated: 0,
        skipped: 0,
        deleted: 0,
        failed: 0,
    };
    for o in outcomes {
        let result = match o.result {
            Ok((status, lead)) => {
                let (http, code) = match status {
                    ItemStatus::Created => (201, "created"),
                    ItemStatus::Updated => (200, "updated"),
                    ItemStatus::Skipped => (200, "skipped"),
                    ItemStatus::Deleted => (200, "deleted"),
                };
                match status {
                    ItemStatus::Created => data.created += 1,
                    ItemStatus::Updated => data.updated += 1,
                    ItemStatus::Skipped => data.skipped += 1,
                    ItemStatus::Deleted => data.deleted += 1,
                }
                RecordResult {
                    index: o.index,
                    status: http,
                    id: Some(state.codec.encode(NodeType::Lead, lead.id)),
                    code: code.into(),
                    errors: vec![],
                }
            }
            Err(err) => {
                data.failed += 1;
                let id = match &err {
                    DomainError::Duplicate {
                        existing_id: Some(id),
                    } => Some(state.codec.encode(NodeType::Lead, *id)),
                    _ => None,
                };
                RecordResult {
                    index: o.index,
                    status: err.code().status(),
                    id,
                    code: err.code().slug().into(),
                    errors: err.item_errors(),
                }
            }
        };
        data.results.push(result);
    }
    data
}

/// Parses the body and returns the array under `key` (checked for size).
#[allow(clippy::result_large_err)]
fn items(body: &Bytes, key: &str, request_id: &str) -> Result<(Vec<Value>, Value), Response> {
    let bad = |m: &str| envelope::error(ErrorCode::BadRequest, m, request_id.to_owned());
    let mut doc: Value = serde_json::from_slice(body)
        .map_err(|e| bad(&format!("the body is not valid JSON: {e}")))?;
    let list = match doc.get_mut(key).map(Value::take) {
        Some(Value::Array(list)) => list,
        _ => {
            return Err(bad(&format!(
                "the body must be an object with a `{key}` array"
            )));
        }
    };
    check_batch_size(list.len()).map_err(|e| bad(&e.to_string()))?;
    Ok((list, doc))
}

async fn run<F>(state: &AppState, caller: &Caller, f: F) -> Response
where
    F: AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<Vec<ItemOutcome>, DomainError>,
{
    let result = async {
        let txn = begin_write(&state.db).await?;
        let outcomes = f(&txn).await?;
        txn.commit().await?;
        Ok::<_, DomainError>(outcomes)
    }
    .await;
    caller.finish(match result {
        Ok(outcomes) => envelope::ok(
            StatusCode::MULTI_STATUS,
            "batch processed; see each result",
            summarize(state, outcomes),
            caller.request_id.clone(),
        ),
        Err(err) => envelope::domain_error(&err, caller.request_id.clone()),
    })
}

/// `POST /v1/leads/batch` `{ leads: [...], onDuplicate: "ERROR"|"SKIP"|"UPDATE" }`.
pub async fn create(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    if let Err(r) = caller.require(Op::LeadsWrite) {
        return caller.finish(r);
    }
    let (list, doc) = match items(&body, "leads", &caller.request_id) {
        Ok(v) => v,
        Err(r) => return caller.finish(r),
    };
    let on_duplicate = match doc
        .get("onDuplicate")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("ERROR") => OnDuplicate::Error,
        Some("SKIP") => OnDuplicate::Skip,
        Some("UPDATE") => OnDuplicate::Update,
        Some(_) => {
            return caller.finish(envelope::error(
                ErrorCode::BadRequest,
                "onDuplicate is one of ERROR, SKIP, UPDATE",
                caller.request_id.clone(),
            ));
        }
    };
    let mut ready = Vec::new();
    let mut refused = Vec::new();
    for (index, item) in list.iter().enumerate() {
        match lead_json::new_lead(item, &state.codec) {
            Ok(lead) => ready.push((index, lead)),
            Err(e) => refused.push(ItemOutcome {
                index,
                result: Err(e),
            }),
        }
    }
    let (indexes, leads): (Vec<usize>, Vec<_>) = ready.into_iter().unzip();
    let p = &caller.principal;
    run(&state, &caller, async |txn| {
        let mut outcomes = service::create_leads(txn, p, leads, on_duplicate).await?;
        for (o, index) in outcomes.iter_mut().zip(indexes) {
            o.index = index;
        }
        outcomes.extend(refused);
        outcomes.sort_by_key(|o| o.index);
        Ok(outcomes)
    })
    .await
}

/// `PATCH /v1/leads/batch` `{ leads: [{ id, ...changes }] }`.
pub async fn update(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    if let Err(r) = caller.require(Op::LeadsWrite) {
        return caller.finish(r);
    }
    let (list, _) = match items(&body, "leads", &caller.request_id) {
        Ok(v) => v,
        Err(r) => return caller.finish(r),
    };
    let items = list
        .iter()
        .map(|item| lead_json::changes(item, &state.codec))
        .collect();
    let p = &caller.principal;
    run(&state, &caller, async |txn| {
        service::update_leads(txn, p, items).await
    })
    .await
}

/// `DELETE /v1/leads/batch` `{ ids: [...] }`.
pub async fn delete(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    if let Err(r) = caller.require(Op::LeadsWrite) {
        return caller.finish(r);
    }
    let (list, _) = match items(&body, "ids", &caller.request_id) {
        Ok(v) => v,
        Err(r) => return caller.finish(r),
    };
    let ids = list
        .iter()
        .map(|v| {
            let raw = v
                .as_str()
                .ok_or_else(|| DomainError::BadRequest("each id must be a string".into()))?;
            state
                .codec
                .decode_as(NodeType::Lead, raw)
                .map_err(|_| DomainError::BadRequest(format!("`{raw}` is not a valid id")))?
                .ok_or(DomainError::NotFound)
        })
        .collect();
    let p = &caller.principal;
    run(&state, &caller, async |txn| {
        service::delete_leads(txn, p, ids).await
    })
    .await
}
