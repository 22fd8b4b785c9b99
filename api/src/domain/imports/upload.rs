//! Receiving an import file: stream it into `job_files` while counting its rows
//! with the import's CSV reader, then queue the job.

use std::fmt::Display;

use batch::csv::CsvRecords;
use bytes::{Bytes, BytesMut};
use entity::{JobKind, JobStatus, job, job_file};
use futures::{Stream, StreamExt};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, NotSet,
    QueryFilter,
};

use super::{FileInfo, ImportLimits, ImportParams, channel::ChannelReader};
use crate::{
    auth::Principal,
    clock,
    domain::{
        DomainError,
        audit::{self, Resource},
        leads::placement::PlacementData,
    },
    jobs::lease::{self, Lease},
    store,
};

/// Size of one stored piece of the file.
pub const PIECE_BYTES: usize = 1024 * 1024;

/// A queued (or, for `wait`, already leased) import job.
#[derive(Debug)]
pub struct Uploaded {
    pub job: job::Model,
    /// Set when the caller asked to run the job itself (`?wait=true`).
    pub lease: Option<Lease>,
}

/// What the row counter found.
struct Counted {
    rows: u64,
    headers: Vec<String>,
}

/// Counts data rows with the same reader the runner uses; fails on a bad
/// header, a mapping that does not fit, a missing email column, or too many
/// rows (as soon as the limit is passed).
fn count_rows(
    reader: ChannelReader,
    options: &batch::ImportOptions,
    max_rows: u64,
) -> Result<Counted, DomainError> {
    let mut records = CsvRecords::new(reader, options)
        .map_err(|e| DomainError::BadRequest(format!("the file cannot be imported: {e}")))?;
    let missing: Vec<String> = records
        .mapping()
        .missing_required()
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    if missing.iter().any(|m| m == "email") {
        return Err(DomainError::BadRequest(
            "no column of the file maps to `email` (name one with `mapping`, e.g. `Contact=email`)"
                .to_owned(),
        ));
    }
    let headers = records.headers().to_vec();
    let mut rows = 0u64;
    loop {
        match records.read_row() {
            Ok(Some(_)) => {
                rows += 1;
                if rows > max_rows {
                    return Err(DomainError::PayloadTooLarge(format!(
                        "the file has more than {max_rows} rows, the most one import takes; split it"
                    )));
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(DomainError::BadRequest(format!(
                    "the file cannot be imported: {e}"
                )));
            }
        }
    }
    Ok(Counted { rows, headers })
}

/// Checks the import's market option against the caller's scope before any
/// byte is stored.
async fn check_market(
    db: &DatabaseConnection,
    p: &Principal,
    params: &ImportParams,
) -> Result<(), DomainError> {
    if let Some(market) = &params.market {
        let places = PlacementData::load(db, p, [], []).await?;
        places.resolve(p, Some(market), None, None)?;
    }
    Ok(())
}

/// Stores `body` as the file of a new import job and queues it (or, with
/// `wait`, leases it to the caller, who runs it at once). Nothing is queued
/// unless the whole file arrived and passed the checks; on any failure the
/// partial upload is deleted.
#[allow(clippy::too_many_arguments)]
pub async fn upload<S, E>(
    db: &DatabaseConnection,
    p: &Principal,
    params: ImportParams,
    file_name: Option<String>,
    body: S,
    limits: &ImportLimits,
    wait: bool,
    instance: &str,
) -> Result<Uploaded, DomainError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    check_market(db, p, &params).await?;
    let now = clock::now();
    let params_json = serde_json::to_string(&params)
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("encoding import params: {e}")))?;
    let principal = serde_json::to_string(&p.snapshot())
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("encoding the principal: {e}")))?;
    let created = job::ActiveModel {
        id: NotSet,
        tenant_id: Set(p.tenant_id),
        environment: Set(p.environment),
        kind: Set(JobKind::Import),
        status: Set(JobStatus::Uploading),
        api_key_id: Set(p.key_id),
        principal: Set(principal),
        params: Set(params_json),
        file_name: Set(file_name.map(|n| n.chars().take(255).collect())),
        file_bytes: Set(0),
        total_rows: Set(None),
        processed_rows: Set(0),
        created_count: Set(0),
        updated_count: Set(0),
        skipped_count: Set(0),
        failed_count: Set(0),
        summary: Set(None),
        error: Set(None),
        attempts: Set(0),
        lease_owner: Set(None),
        ran_by: Set(None),
        lease_expires_at: Set(None),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;

    let stored = store_file(db, created.id, &params, body, limits).await;
    let (counted, bytes) = match stored {
        Ok(c) => c,
        Err(err) => {
            discard(db, created.id).await;
            return Err(err);
        }
    };
    if counted.rows == 0 {
        discard(db, created.id).await;
        return Err(DomainError::BadRequest(
            "the file has a header but no data rows".to_owned(),
        ));
    }
    if wait && counted.rows > limits.wait_max_rows {
        discard(db, created.id).await;
        return Err(DomainError::PayloadTooLarge(format!(
            "wait=true takes files of up to {} rows; this one has {}: start it without wait and poll the job",
            limits.wait_max_rows, counted.rows
        )));
    }
    match queue(db, p, created, (counted, bytes), wait, instance).await {
        Ok(done) => Ok(done),
        Err((id, err)) => {
            discard(db, id).await;
            Err(err)
        }
    }
}

/// Streams the body into pieces and through the row counter.
async fn store_file<S, E>(
    db: &DatabaseConnection,
    job_id: i64,
    params: &ImportParams,
    mut body: S,
    limits: &ImportLimits,
) -> Result<(Counted, u64), DomainError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let (tx, reader) = ChannelReader::channel(8);
    let options = params.options();
    let max_rows = limits.max_rows;
    let counter = tokio::task::spawn_blocking(move || count_rows(reader, &options, max_rows));
    let mut tx = Some(tx);
    let mut piece = BytesMut::with_capacity(PIECE_BYTES);
    let mut seq = 0i32;
    let mut total: u64 = 0;
    let mut failure: Option<DomainError> = None;
    while let Some(next) = body.next().await {
        let bytes = match next {
            Ok(b) => b,
            Err(e) => {
                failure = Some(DomainError::BadRequest(format!(
                    "the upload was interrupted: {e}"
                )));
                break;
            }
        };
        total += bytes.len() as u64;
        if total > limits.max_file_bytes {
            failure = Some(DomainError::PayloadTooLarge(format!(
                "the file is larger than {} bytes, the most one import takes",
                limits.max_file_bytes
            )));
            break;
        }
        if let Some(sender) = &tx
            && sender.send(Ok(bytes.clone())).await.is_err()
        {
            // The counter stopped early (bad header, too many rows): its error says why.
            tx = None;
            break;
        }
        piece.extend_from_slice(&bytes);
        while piece.len() >= PIECE_BYTES {
            let full = piece.split_to(PIECE_BYTES).freeze();
            put_piece(db, job_id, seq, full).await?;
            seq += 1;
        }
    }
    drop(tx);
    let counted = counter
        .await
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("row counter: {e}")))?;
    if let Some(err) = failure {
        return Err(err);
    }
    let counted = counted?;
    if !piece.is_empty() {
        put_piece(db, job_id, seq, piece.freeze()).await?;
    }
    Ok((counted, total))
}

async fn put_piece(
    db: &DatabaseConnection,
    job_id: i64,
    seq: i32,
    data: Bytes,
) -> Result<(), DomainError> {
    job_file::ActiveModel {
        job_id: Set(job_id),
        seq: Set(seq),
        data: Set(data.to_vec()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Deletes a failed upload (best effort: a leftover is invisible and harmless).
async fn discard(db: &DatabaseConnection, job_id: i64) {
    let deleted = async {
        job_file::Entity::delete_many()
            .filter(job_file::Column::JobId.eq(job_id))
            .exec(db)
            .await?;
        job::Entity::delete_by_id(job_id).exec(db).await
    }
    .await;
    if let Err(err) = deleted {
        tracing::warn!(job.id = job_id, error = %err, "deleting a failed upload failed");
    }
}

/// Marks the uploaded job queued (or leased to the caller) with its row count
/// and header, and audits `import.started`, in one transaction.
async fn queue(
    db: &DatabaseConnection,
    p: &Principal,
    created: job::Model,
    (counted, bytes): (Counted, u64),
    wait: bool,
    instance: &str,
) -> Result<Uploaded, (i64, DomainError)> {
    let id = created.id;
    let run = async {
        let txn = store::begin_write(db).await?;
        let now = clock::now();
        let info = FileInfo {
            headers: counted.headers,
        };
        let summary = serde_json::to_string(&info)
            .map_err(|e| DomainError::Internal(anyhow::anyhow!("encoding file info: {e}")))?;
        let lease = wait.then(|| Lease {
            job_id: id,
            owner: lease::owner_name(instance),
            duration: std::time::Duration::from_secs(60),
        });
        let mut am: job::ActiveModel = created.into();
        am.file_bytes = Set(i64::try_from(bytes).unwrap_or(i64::MAX));
        am.total_rows = Set(Some(i64::try_from(counted.rows).unwrap_or(i64::MAX)));
        am.summary = Set(Some(summary));
        am.updated_at = Set(now);
        match &lease {
            Some(l) => {
                am.status = Set(JobStatus::Running);
                am.lease_owner = Set(Some(l.owner.clone()));
                am.lease_expires_at = Set(Some(
                    now + chrono::TimeDelta::from_std(l.duration).unwrap_or(chrono::TimeDelta::MAX),
                ));
                am.attempts = Set(1);
                am.started_at = Set(Some(now));
            }
            None => am.status = Set(JobStatus::Queued),
        }
        let job = am.update(&txn).await?;
        audit::record(&txn, p, "import.started", Resource::ImportJob(id)).await?;
        txn.commit().await?;
        Ok::<_, DomainError>(Uploaded { job, lease })
    };
    run.await.map_err(|e| (id, e))
}
