//! The import runner: streams a job's stored file through the batch pipeline
//! and writes it chunk by chunk.
//!
//! Three stages run at once: a task reads the file's pieces from the database,
//! a blocking thread runs `batch::pipeline::prepare_stream` (CSV parsing, then
//! mapping and validation on rayon) and checks each chunk against the
//! tenant's markets and the import's options ([`Checker`], which also builds
//! the new leads' models), and this task writes each checked chunk in one
//! transaction (on SQLite, four chunks to one: [`SQLITE_CHUNKS_PER_TXN`]):
//! its new leads, every row's result (packed into runs where rows created
//! consecutive leads, see `store::import_results`) and the job's progress,
//! behind [`Lease::hold`]. On PostgreSQL the leads and the results go in
//! with `COPY`, on SQLite in multi-row `INSERT OR FAIL`s without a statement
//! journal ([`WriteTxn`]). A resumed job (after a crash, a shutdown or a
//! lost lease) re-reads the file and skips the rows whose results are
//! committed, so no row is written twice.
//!
//! Duplicates follow `onDuplicate` whether the earlier lead is in the database
//! or earlier in the file: rows of earlier chunks are committed (a dry run
//! keeps their keys in memory instead), and rows of the same chunk are matched
//! before the insert. A chunk looks its keys up in the database first; once a
//! whole chunk found none there, later chunks look up only the keys they
//! repeat from earlier chunks, and a key stored before the import meets the
//! unique index instead, which sends its chunk back to be written with every
//! key looked up (on SQLite, the run back to its last commit; see
//! [`Lookup`]).

use std::collections::{HashMap, VecDeque};

use batch::pipeline::{PreparedRow, RowFailure};
use bytes::Bytes;
use entity::{
    ImportRowStatus, JobStatus, LeadSource, LeadStatus, import_row, import_row_run, job, job_file,
    lead,
};
use fastbloom::BloomFilter;
use sea_orm::{
    ActiveEnum,
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use tokio::{sync::mpsc, task::JoinHandle};

use super::{JobContext, JobError, Lease};
use crate::{
    auth::{Principal, principal::Snapshot},
    domain::{
        DomainError,
        audit::{self, Resource},
        error::ItemError,
        imports::{self, ChannelReader, ImportParams, Piece},
        leads::{
            ItemStatus, OnDuplicate,
            create::{self, Outcome},
            placement::{Placement, PlacementData},
        },
        webhooks::{self, EventType},
    },
    ids::NodeType,
    store::{self, WriteTxn, sqlite_bulk::BulkTxn},
};

/// Leads per multi-row INSERT (22 columns: well under both databases'
/// bind-parameter limits). SQLite keeps each prepared statement's program in
/// memory (~1.1 MiB for 500 rows, ~190 KiB for 100), once per pooled
/// connection, so it gets smaller statements; PostgreSQL keeps them server-side
/// and gains from fewer round trips.
fn insert_batch(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Sqlite => 100,
        _ => 500,
    }
}
/// Leads created by a run before its first `ANALYZE leads` (PostgreSQL).
const ANALYZE_FIRST: i64 = 10_000;
/// Result rows per multi-row INSERT (7 columns; smaller on SQLite, as above).
fn result_batch(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Sqlite => 500,
        _ => 2_000,
    }
}

/// Runs (or resumes) one claimed import job to its end.
pub async fn run(ctx: &JobContext, mut job: job::Model, lease: &Lease) -> Result<(), JobError> {
    let mut may_skip_lookups = job.processed_rows == 0;
    loop {
        match run_pass(ctx, &job, lease, may_skip_lookups).await? {
            Pass::Done => return Ok(()),
            Pass::LookUpEveryKey => {
                // From the last commit again, every key looked up.
                may_skip_lookups = false;
                job = job::Entity::find_by_id(job.id)
                    .one(&ctx.db)
                    .await?
                    .ok_or(super::LeaseError::Lost)?;
            }
        }
    }
}

/// How a pass over the file ended.
enum Pass {
    Done,
    /// A group of chunks that looked up only their repeats met a key stored
    /// before the import ([`Writer::write_grouped`]); it was rolled back.
    LookUpEveryKey,
}

/// Reads the file from the first row not committed and writes it.
async fn run_pass(
    ctx: &JobContext,
    job: &job::Model,
    lease: &Lease,
    may_skip_lookups: bool,
) -> Result<Pass, JobError> {
    let params = imports::params_of(job).map_err(|e| anyhow::anyhow!(e))?;
    let snapshot: Snapshot = serde_json::from_str(&job.principal)
        .map_err(|e| anyhow::anyhow!("import job {}: principal: {e}", job.id))?;
    let p = Principal::from_snapshot(
        &snapshot,
        job.tenant_id,
        job.environment,
        format!("import-job-{}", job.id),
    );
    let places = PlacementData::load(&ctx.db, &p, [], [])
        .await
        .map_err(|e| anyhow::anyhow!("loading markets: {e}"))?;
    let default_market = places
        .resolve(&p, params.market.as_deref(), None, None)
        .ok()
        .map(|pl| pl.market);

    let (piece_tx, reader) = ChannelReader::channel(4);
    let feeder = tokio::spawn(feed_file(ctx.db.clone(), job.id, piece_tx));
    let (chunk_tx, mut chunks) = mpsc::channel::<Result<Checked, String>>(1);
    let options = params.options();
    let chunk_rows = ctx.limits.chunk_rows;
    let checker = Checker {
        p: p.clone(),
        params: params.clone(),
        places,
        job_id: job.id,
        committed: job.processed_rows,
    };
    let preparer = tokio::task::spawn_blocking(move || {
        let stream =
            match batch::pipeline::prepare_stream(reader, options, default_market, chunk_rows) {
                Ok(stream) => stream,
                Err(err) => {
                    let _ = chunk_tx.blocking_send(Err(err.to_string()));
                    return;
                }
            };
        for chunk in stream {
            let failed = chunk.is_err();
            let checked = chunk
                .map(|rows| checker.check(rows))
                .map_err(|e| e.to_string());
            if chunk_tx.blocking_send(checked).is_err() || failed {
                return;
            }
        }
    });

    let mut writer = Writer {
        db: &ctx.db,
        p: &p,
        params: &params,
        lease,
        job_id: job.id,
        processed: job.processed_rows,
        dry_seen: HashMap::new(),
        lookup: Lookup::All,
        may_skip_lookups: may_skip_lookups && !params.dry_run,
        seen_keys: BloomFilter::with_false_pos(SEEN_KEYS_FALSE_POS).expected_items(
            job.total_rows
                .and_then(|total| usize::try_from(total - job.processed_rows).ok())
                .unwrap_or(chunk_rows)
                .max(1),
        ),
        created: 0,
        analyze_at: ANALYZE_FIRST,
        analyzing: None,
        ids: IdReserve::new(
            chunk_rows,
            job.total_rows
                .map(|total| usize::try_from(total - job.processed_rows).unwrap_or(0)),
        ),
        group_chunks: match ctx.db.get_database_backend() {
            DbBackend::Sqlite => SQLITE_CHUNKS_PER_TXN,
            _ => 1,
        },
        open: None,
        again: false,
    };
    let mut fatal = None;
    while let Some(item) = chunks.recv().await {
        let chunk = match item {
            Ok(chunk) => chunk,
            Err(message) => {
                fatal = Some(message);
                break;
            }
        };
        if ctx.stopping() {
            return Err(JobError::Stopped);
        }
        writer.write(chunk).await?;
        if writer.again {
            drop(chunks);
            // Both stop at their next send; what they found no longer matters.
            let _ = feeder.await;
            let _ = preparer.await;
            return Ok(Pass::LookUpEveryKey);
        }
    }
    writer.flush().await?;
    drop(chunks);
    // The statistics a finished import leaves are those of its last refresh.
    if let Some(analyzing) = writer.analyzing.take() {
        let _ = analyzing.await;
    }
    // A file that could not be read from the database must not look shorter.
    feeder
        .await
        .map_err(|e| anyhow::anyhow!("file reader task: {e}"))?
        .map_err(|e| anyhow::anyhow!("reading the stored file: {e}"))?;
    preparer
        .await
        .map_err(|e| anyhow::anyhow!("import pipeline thread: {e}"))?;

    if let Some(message) = fatal {
        let txn = store::begin_write(&ctx.db).await?;
        lease.hold(&txn, writer.processed).await?;
        lease
            .finish(
                &txn,
                JobStatus::Failed,
                Some(format!("the file cannot be imported: {message}")),
            )
            .await?;
        txn.commit().await?;
        return Ok(Pass::Done);
    }
    if job
        .total_rows
        .is_some_and(|total| total != writer.processed)
    {
        return Err(anyhow::anyhow!(
            "import job {}: {} rows processed, {:?} counted at upload",
            job.id,
            writer.processed,
            job.total_rows
        )
        .into());
    }
    finish(ctx, &p, lease, writer.processed).await?;
    Ok(Pass::Done)
}

/// Completes the job: drops the stored file, audits and emits
/// `import.completed`, releases the lease.
async fn finish(
    ctx: &JobContext,
    p: &Principal,
    lease: &Lease,
    processed: i64,
) -> Result<(), JobError> {
    let txn = store::begin_write(&ctx.db).await?;
    lease.hold(&txn, processed).await?;
    job_file::Entity::delete_many()
        .filter(job_file::Column::JobId.eq(lease.job_id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        p,
        "import.completed",
        Resource::ImportJob(lease.job_id),
    )
    .await
    .map_err(domain_err)?;
    if let Some(job) = job::Entity::find_by_id(lease.job_id).one(&txn).await? {
        let dry_run = imports::params_of(&job).is_ok_and(|params| params.dry_run);
        let payload = serde_json::json!({ "importJob": {
            "id": ctx.codec.encode(NodeType::ImportJob, job.id),
            "status": "COMPLETED",
            "fileName": job.file_name,
            "dryRun": dry_run,
            "totalRows": job.total_rows,
            "created": job.created_count,
            "updated": job.updated_count,
            "skipped": job.skipped_count,
            "failed": job.failed_count,
        }});
        webhooks::emit_job(&txn, p, EventType::ImportCompleted, payload)
            .await
            .map_err(domain_err)?;
    }
    lease.finish(&txn, JobStatus::Completed, None).await?;
    txn.commit().await?;
    Ok(())
}

fn domain_err(err: DomainError) -> JobError {
    match err {
        DomainError::Db(db) => JobError::from(db),
        other => JobError::Internal(anyhow::anyhow!(other)),
    }
}

/// Sends the stored pieces in order; an error is passed on to the reader.
async fn feed_file(
    db: DatabaseConnection,
    job_id: i64,
    tx: mpsc::Sender<Piece>,
) -> Result<(), DbErr> {
    for seq in 0.. {
        match job_file::Entity::find_by_id((job_id, seq)).one(&db).await {
            Ok(Some(piece)) => {
                if tx.send(Ok(Bytes::from(piece.data))).await.is_err() {
                    return Ok(());
                }
            }
            Ok(None) => return Ok(()),
            Err(err) => {
                let _ = tx.send(Err(std::io::Error::other(err.to_string()))).await;
                return Err(err);
            }
        }
    }
    Ok(())
}

/// A row ready to be written (validated and placed).
struct Ready {
    row_number: i64,
    /// The row's cells as read (a failure's result repeats them).
    cells: batch::csv::Cells,
    lead: batch::CleanLead,
    /// The canonical email key.
    key: String,
    placement: Placement,
    source: LeadSource,
    status: LeadStatus,
    /// The lead to insert if the key is new (not built for dry runs); taken
    /// by the chunk's bulk insert.
    model: Option<lead::ActiveModel>,
}

/// A chunk checked on the pipeline's thread, off the writer's task: the
/// rows failing the checks have their results, the others their new leads'
/// models. Only the duplicate lookup and the writes are left to the writer,
/// so the checks of a chunk run while the chunk before is written.
struct Checked {
    /// The chunk's last row (`None`: every row was committed before a resume).
    last: Option<i64>,
    /// Results of the rows that failed the checks.
    failed: ChunkResult,
    /// The other rows, in row order.
    ready: Vec<Ready>,
}

/// Checks prepared rows against the tenant's data and the import's options.
struct Checker {
    p: Principal,
    params: ImportParams,
    places: PlacementData,
    job_id: i64,
    /// Rows whose results were committed when the run started (a resume
    /// skips them).
    committed: i64,
}

/// Which of a chunk's email keys are looked up in the database before its
/// insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Every key.
    All,
    /// Only the keys of earlier chunks of this run (a repeat of an earlier
    /// row). A key already in the database before the import is then met
    /// by the unique index on live emails instead: the insert fails, the
    /// chunk is rolled back and written again with [`Lookup::All`], and so
    /// are the run's later chunks.
    Repeats,
}

/// False positives of [`Writer::seen_keys`]: the share of new keys looked up
/// for nothing.
const SEEN_KEYS_FALSE_POS: f64 = 0.001;

/// Writes prepared chunks of one job.
struct Writer<'a> {
    db: &'a DatabaseConnection,
    p: &'a Principal,
    params: &'a ImportParams,
    lease: &'a Lease,
    job_id: i64,
    /// Rows whose results are committed.
    processed: i64,
    /// Dry runs write nothing, so later chunks find earlier rows here: email
    /// key → the existing lead's id, if one exists.
    dry_seen: HashMap<String, Option<i64>>,
    /// How the next chunk looks its keys up.
    lookup: Lookup,
    /// Whether [`Lookup::Repeats`] may be used: a run from the file's first
    /// row (a resumed run's earlier rows are in the database but not in
    /// `seen_keys`) that writes (a dry run has no insert to fail).
    may_skip_lookups: bool,
    /// The email keys of the chunks this run committed, as a Bloom filter
    /// (about 2 MiB per million rows, against 20-30 MiB for a set of 64-bit
    /// hashes): a false positive only costs a lookup.
    seen_keys: BloomFilter,
    /// Leads this run created so far.
    created: i64,
    /// PostgreSQL: `created` at which `leads` is analyzed next.
    analyze_at: i64,
    /// PostgreSQL: the `ANALYZE leads` running, if any.
    analyzing: Option<JoinHandle<()>>,
    /// PostgreSQL: ids drawn ahead for the chunks' new leads.
    ids: IdReserve,
    /// Chunks per transaction ([`SQLITE_CHUNKS_PER_TXN`] on SQLite's bulk
    /// path, else 1).
    group_chunks: usize,
    /// SQLite: the transaction open with the chunks staged in it so far.
    open: Option<Group>,
    /// A group was rolled back: the run starts again from the last commit
    /// ([`Pass::LookUpEveryKey`]).
    again: bool,
}

/// Chunks per write transaction on SQLite. Each commit writes every page the
/// transaction dirtied to the WAL, and a chunk's new email keys and last
/// names land on pages all over their indexes, so fewer, larger commits
/// write each page fewer times: a million-row import took 66.7 s with
/// 20,000-row chunks against 80.5-85.3 s with 5,000 (measured with the
/// statement journal already gone). Larger chunks would hold every pipeline
/// stage's rows four times over (435 MiB peak RSS at 20,000); a group keeps
/// none of its chunks once written. The write lock is held for the group,
/// about a second; API writes wait up to the busy timeout.
const SQLITE_CHUNKS_PER_TXN: usize = 4;

/// Chunks written into one open transaction ([`Writer::write_grouped`]).
struct Group {
    txn: WriteTxn,
    staged: Vec<Staged>,
}

/// What a staged chunk changes once its transaction commits.
struct Staged {
    last: i64,
    created: i64,
    found_none: bool,
}

/// Lead ids drawn ahead of the chunks that use them (PostgreSQL).
///
/// A chunk's `COPY` needs its new leads' ids first, and drawing them is
/// PostgreSQL's work (`nextval`, about 2 µs an id, 5% of an import's time
/// when the chunk drew its own). Here each chunk takes its ids from a
/// reserve that another connection refills, one chunk's worth at a time,
/// while the chunk is written, so the draw runs on the core the import's
/// session does not use. Ids stay ascending in row order (each refill draws
/// after the one before). Refills stop at the rows left in the file, so a
/// run leaves unused at most as many ids as rows that did not create a lead
/// (gaps in the ids, as any rolled-back insert leaves).
struct IdReserve {
    ready: VecDeque<i64>,
    refill: Option<JoinHandle<Result<Vec<i64>, DbErr>>>,
    /// Ids per refill.
    batch: usize,
    /// Ids that may still be needed (drawn ones included): the rows left,
    /// when the job counted them.
    left: Option<usize>,
}

impl IdReserve {
    fn new(batch: usize, left: Option<usize>) -> Self {
        Self {
            ready: VecDeque::new(),
            refill: None,
            batch: batch.max(1),
            left,
        }
    }

    /// `n` ids, ascending, and the next refill started.
    async fn take(&mut self, db: &DatabaseConnection, n: usize) -> Result<Vec<i64>, DbErr> {
        if self.ready.len() < n
            && let Some(refill) = self.refill.take()
        {
            let drawn = refill
                .await
                .map_err(|e| DbErr::Custom(format!("drawing lead ids: {e}")))??;
            self.ready.extend(drawn);
        }
        if self.ready.len() < n {
            let drawn = store::leads::draw_ids(db, n - self.ready.len()).await?;
            self.ready.extend(drawn);
        }
        let ids = self.ready.drain(..n).collect();
        self.left = self.left.map(|left| left.saturating_sub(n));
        // Up to a chunk's worth in reserve, never more than may be needed.
        let undrawn = self
            .left
            .map_or(usize::MAX, |left| left.saturating_sub(self.ready.len()));
        let batch = self.batch.saturating_sub(self.ready.len()).min(undrawn);
        if self.refill.is_none() && batch > 0 {
            let db = db.clone();
            self.refill = Some(tokio::spawn(async move {
                store::leads::draw_ids(&db, batch).await
            }));
        }
        Ok(ids)
    }
}

/// The results of one chunk and its counters.
#[derive(Clone, Default)]
struct ChunkResult {
    job_id: i64,
    rows: Vec<import_row::Model>,
    created: i64,
    updated: i64,
    skipped: i64,
    failed: i64,
}

impl ChunkResult {
    fn push(&mut self, row_number: i64, status: ImportRowStatus, lead_id: Option<i64>) {
        match status {
            ImportRowStatus::Created => self.created += 1,
            ImportRowStatus::Updated => self.updated += 1,
            ImportRowStatus::Skipped => self.skipped += 1,
            ImportRowStatus::Failed => self.failed += 1,
        }
        self.rows.push(import_row::Model {
            job_id: self.job_id,
            row_number,
            status,
            lead_id,
            code: None,
            errors: None,
            cells: None,
        });
    }

    fn fail(&mut self, row_number: i64, cells: &[String], err: &DomainError) {
        let existing = match err {
            DomainError::Duplicate { existing_id } => *existing_id,
            _ => None,
        };
        self.fail_with(
            row_number,
            cells,
            err.code().slug(),
            &err.item_errors(),
            existing,
        );
    }

    fn fail_with(
        &mut self,
        row_number: i64,
        cells: &[String],
        code: &str,
        errors: &[ItemError],
        lead_id: Option<i64>,
    ) {
        self.failed += 1;
        self.rows.push(import_row::Model {
            job_id: self.job_id,
            row_number,
            status: ImportRowStatus::Failed,
            lead_id,
            code: Some(code.to_owned()),
            errors: serde_json::to_string(errors).ok(),
            cells: serde_json::to_string(cells).ok(),
        });
    }
}

fn row_status(status: ItemStatus) -> ImportRowStatus {
    match status {
        ItemStatus::Created => ImportRowStatus::Created,
        ItemStatus::Updated => ImportRowStatus::Updated,
        ItemStatus::Skipped | ItemStatus::Deleted => ImportRowStatus::Skipped,
    }
}

/// Parses an optional enum cell (case-insensitive); a bad value is a field error.
fn enum_cell<T: ActiveEnum<Value = String>>(
    cell: Option<&str>,
    field: &str,
    default: T,
) -> Result<T, DomainError> {
    match cell {
        None => Ok(default),
        Some(text) => T::try_from_value(&text.trim().to_ascii_uppercase()).map_err(|_| {
            DomainError::field(
                field,
                batch::FieldCode::InvalidValue,
                &format!("{field} is not one of the allowed values"),
            )
        }),
    }
}

impl Writer<'_> {
    /// Writes one chunk. An insert that meets the unique index on live
    /// emails rolls the chunk back: after a [`Lookup::Repeats`] write it is
    /// written again looking every key up; after that (a lead stored
    /// meanwhile by another writer), row by row.
    async fn write(&mut self, chunk: Checked) -> Result<(), JobError> {
        if self.group_chunks > 1 && !self.params.dry_run {
            self.write_grouped(chunk).await
        } else {
            self.write_one(chunk).await
        }
    }

    /// Writes `chunk` into the open group's transaction (opening one, with
    /// the lease, if none is), and commits the group once it holds
    /// [`Writer::group_chunks`] chunks. A unique violation (a key stored
    /// before the import, not looked up under [`Lookup::Repeats`]) rolls the
    /// whole group back and sets [`Writer::again`]: the group's chunks are
    /// not kept, so the run reads the file again from the last commit.
    async fn write_grouped(&mut self, mut chunk: Checked) -> Result<(), JobError> {
        let Some(last) = chunk.last else {
            return Ok(());
        };
        let mut group = match self.open.take() {
            Some(group) => group,
            None => {
                let txn = WriteTxn::begin(self.db, true).await?;
                self.lease.hold(&txn, self.processed).await?;
                Group {
                    txn,
                    staged: Vec::new(),
                }
            }
        };
        let lookup = self.lookup;
        match self
            .stage(&group.txn, &mut chunk, last, lookup, false)
            .await
        {
            Ok(staged) => {
                // The group's later chunks look this one's keys up.
                self.note_keys(&chunk, staged.found_none);
                group.staged.push(staged);
                if group.staged.len() >= self.group_chunks {
                    self.commit_group(group).await?;
                } else {
                    self.open = Some(group);
                }
                Ok(())
            }
            Err(JobError::Lease(super::LeaseError::Db(err)))
                if DomainError::is_unique_violation(&err) && lookup == Lookup::Repeats =>
            {
                drop(group.txn);
                tracing::info!(
                    job.id = self.job_id,
                    "a key of the file is in the database; reading it again from row {} with every key looked up",
                    self.processed + 1
                );
                self.again = true;
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// Commits the open group, if any (at the end of the file, or before
    /// the job stops on a bad file).
    async fn flush(&mut self) -> Result<(), JobError> {
        match self.open.take() {
            Some(group) => self.commit_group(group).await,
            None => Ok(()),
        }
    }

    async fn commit_group(&mut self, group: Group) -> Result<(), JobError> {
        group.txn.commit().await?;
        for staged in group.staged {
            self.processed = staged.last;
            self.created += staged.created;
        }
        self.refresh_statistics().await;
        Ok(())
    }

    /// Writes `chunk` in a transaction of its own.
    async fn write_one(&mut self, mut chunk: Checked) -> Result<(), JobError> {
        let Some(last) = chunk.last else {
            return Ok(());
        };
        let mut careful = false;
        loop {
            let lookup = self.lookup;
            match self.write_chunk(&mut chunk, last, lookup, careful).await {
                Err(JobError::Lease(super::LeaseError::Db(err)))
                    if DomainError::is_unique_violation(&err) && !careful =>
                {
                    if lookup == Lookup::Repeats {
                        tracing::info!(
                            job.id = self.job_id,
                            "a key of the file is in the database; looking every key up from now on"
                        );
                        self.lookup = Lookup::All;
                        self.may_skip_lookups = false;
                    } else {
                        tracing::info!(
                            job.id = self.job_id,
                            "unique race in a bulk insert; writing the chunk row by row"
                        );
                        careful = true;
                    }
                }
                other => return other,
            }
        }
    }

    async fn write_chunk(
        &mut self,
        chunk: &mut Checked,
        last: i64,
        lookup: Lookup,
        careful: bool,
    ) -> Result<(), JobError> {
        let txn = WriteTxn::begin(self.db, !careful && !self.params.dry_run).await?;
        self.lease.hold(&txn, self.processed).await?;
        let staged = self.stage(&txn, chunk, last, lookup, careful).await?;
        txn.commit().await?;
        self.processed = last;
        self.created += staged.created;
        self.note_keys(chunk, staged.found_none);
        self.refresh_statistics().await;
        Ok(())
    }

    /// Writes `chunk` into `txn` (whose lease is held): its duplicate
    /// lookup, its new leads, every row's result and the job's progress.
    async fn stage(
        &mut self,
        txn: &WriteTxn,
        chunk: &mut Checked,
        last: i64,
        lookup: Lookup,
        careful: bool,
    ) -> Result<Staged, JobError> {
        if let WriteTxn::Bulk(bulk) = txn {
            self.check_references(bulk, chunk).await?;
        }
        let mut result = chunk.failed.clone();
        let on_duplicate = self.params.on_duplicate();
        let keys: Vec<String> = chunk
            .ready
            .iter()
            .filter(|r| lookup == Lookup::All || self.seen_keys.contains(r.key.as_str()))
            .map(|r| r.key.clone())
            .collect();
        let mut existing: HashMap<String, lead::Model> = if keys.is_empty() {
            HashMap::new()
        } else {
            store::leads::live_by_email_keys(txn, self.p, keys)
                .await
                .map_err(domain_err)?
                .into_iter()
                .map(|m| (m.email_key.clone(), m))
                .collect()
        };
        // A chunk that looked every key up and found none stored: once it
        // commits, the next chunks look up only their repeats of earlier rows.
        let found_none = lookup == Lookup::All && existing.is_empty();

        // New leads of this chunk, in row order, and the rows that repeat them.
        let mut new_leads: Vec<(usize, lead::ActiveModel)> = Vec::new();
        let mut new_by_key: HashMap<String, usize> = HashMap::new();
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        for r in &mut chunk.ready {
            let key = r.key.clone();
            if self.params.dry_run {
                self.dry_row(r, &key, &existing, on_duplicate, &mut result);
                continue;
            }
            if let Some(found) = existing.get(&key) {
                let outcome: Outcome =
                    create::on_existing(txn, self.p, found, &r.lead, &r.placement, on_duplicate)
                        .await
                        .map_err(domain_err)?;
                self.record(&mut result, r, outcome, &mut existing, &key);
            } else if let Some(&first) = new_by_key.get(&key) {
                // A repeat of a row of this chunk that is not inserted yet; its
                // lead id is known after the insert.
                repeats.push((result.rows.len(), first));
                match on_duplicate {
                    OnDuplicate::Error => result.fail(
                        r.row_number,
                        &r.cells.as_strings(),
                        &DomainError::Duplicate { existing_id: None },
                    ),
                    OnDuplicate::Skip => result.push(r.row_number, ImportRowStatus::Skipped, None),
                    OnDuplicate::Update => {
                        fill_pending(&mut new_leads[first].1, r);
                        result.push(r.row_number, ImportRowStatus::Updated, None);
                    }
                }
            } else if careful {
                let WriteTxn::Orm(orm) = txn else {
                    return Err(
                        anyhow::anyhow!("row-by-row writes need a SeaORM transaction").into(),
                    );
                };
                let outcome: Outcome = create::insert(
                    orm,
                    self.p,
                    (r.source, r.status),
                    &r.lead,
                    &r.placement,
                    on_duplicate,
                )
                .await
                .map_err(domain_err)?;
                self.record(&mut result, r, outcome, &mut existing, &key);
            } else {
                // Built on the pipeline's thread, unless an earlier write of
                // this chunk took it.
                let model = r.model.take().unwrap_or_else(|| new_lead(self.p, r));
                new_by_key.insert(key, new_leads.len());
                result.push(r.row_number, ImportRowStatus::Created, None);
                new_leads.push((result.rows.len() - 1, model));
            }
        }

        // Bulk insert; ids come back by email key (unique among new rows).
        let mut ids: Vec<Option<i64>> = vec![None; new_leads.len()];
        let slots: Vec<usize> = new_leads.iter().map(|(slot, _)| *slot).collect();
        let index_of: HashMap<String, usize> = new_by_key;
        let models: Vec<lead::ActiveModel> = new_leads.into_iter().map(|(_, am)| am).collect();
        let backend = self.db.get_database_backend();
        let inserted = match txn {
            WriteTxn::Orm(orm) => {
                store::leads::insert_returning_keys(orm, &models, insert_batch(backend)).await?
            }
            WriteTxn::Bulk(bulk) => {
                store::leads::insert_returning_keys_bulk(bulk, models, insert_batch(backend))
                    .await?
            }
            WriteTxn::Copy(copy) => {
                let ids = self.ids.take(self.db, models.len()).await?;
                store::leads::copy_with_ids(copy, models, ids).await?
            }
        };
        for (id, key) in inserted {
            if let Some(&i) = index_of.get(&key) {
                ids[i] = Some(id);
            }
        }
        for (i, slot) in slots.into_iter().enumerate() {
            result.rows[slot].lead_id = ids[i];
        }
        for (slot, first) in repeats {
            result.rows[slot].lead_id = ids[first];
        }

        // Rows that created a lead are stored as runs, the others one each.
        let job_id = self.job_id;
        result.rows.sort_unstable_by_key(|r| r.row_number);
        let (single, runs) = store::import_results::pack(std::mem::take(&mut result.rows));
        match txn {
            WriteTxn::Copy(copy) => {
                copy.copy_insert(&single).await?;
                copy.copy_insert(&runs).await?;
            }
            // A `BulkTxn` runs them as `INSERT OR FAIL`.
            WriteTxn::Orm(_) | WriteTxn::Bulk(_) => {
                for batch in store::fixed_batches(&single, result_batch(backend)) {
                    import_row::Entity::insert_many(batch.to_vec())
                        .exec_without_returning(txn)
                        .await?;
                }
                for batch in store::fixed_batches(&runs, result_batch(backend)) {
                    import_row_run::Entity::insert_many(batch.to_vec())
                        .exec_without_returning(txn)
                        .await?;
                }
            }
        }
        job::Entity::update_many()
            .col_expr(job::Column::ProcessedRows, Expr::value(last))
            .col_expr(
                job::Column::CreatedCount,
                Expr::col(job::Column::CreatedCount).add(result.created),
            )
            .col_expr(
                job::Column::UpdatedCount,
                Expr::col(job::Column::UpdatedCount).add(result.updated),
            )
            .col_expr(
                job::Column::SkippedCount,
                Expr::col(job::Column::SkippedCount).add(result.skipped),
            )
            .col_expr(
                job::Column::FailedCount,
                Expr::col(job::Column::FailedCount).add(result.failed),
            )
            .filter(job::Column::Id.eq(job_id))
            .exec(txn)
            .await?;
        Ok(Staged {
            last,
            created: result.created,
            found_none,
        })
    }

    /// After `chunk` is written (committed, or staged in a group that
    /// commits later): later chunks look up the keys it wrote, and after a
    /// chunk that found none of its keys stored, only such repeats.
    fn note_keys(&mut self, chunk: &Checked, found_none: bool) {
        if self.may_skip_lookups {
            for r in &chunk.ready {
                self.seen_keys.insert(r.key.as_str());
            }
            if found_none {
                self.lookup = Lookup::Repeats;
            }
        }
    }

    /// The rows a chunk's leads may reference, checked in a [`BulkTxn`] in
    /// place of the foreign keys it leaves unenforced: the tenant, the teams
    /// and assignees of the rows' placements, and the acting user (the new
    /// leads' creator). The transaction holds SQLite's one write lock from its
    /// `BEGIN IMMEDIATE`, so they cannot go before it commits. None of them
    /// can be deleted through the
    /// API; one missing ends the job, as the foreign keys would.
    async fn check_references(&self, bulk: &BulkTxn, chunk: &Checked) -> Result<(), JobError> {
        let teams = chunk.ready.iter().filter_map(|r| r.placement.team_id);
        let users = chunk
            .ready
            .iter()
            .filter_map(|r| r.placement.assigned_to_id);
        bulk.check_references(vec![
            ("tenants", vec![self.p.tenant_id]),
            ("teams", teams.collect()),
            ("users", users.chain([self.p.acting_user_id]).collect()),
        ])
        .await
        .map_err(|e| anyhow::anyhow!("import job {}: {e}", self.job_id).into())
    }

    /// PostgreSQL plans each chunk's duplicate lookup (`email_key IN (...)`)
    /// from the table's statistics. A table that grew by an import since its
    /// last `ANALYZE` (autovacuum runs it at most once a minute, and not at all
    /// where it is off) looks almost empty to the planner, which then scans a
    /// status index and filters every row: measured at 0.5 s per chunk and,
    /// under a generic plan, over a minute. So the runner analyzes `leads` each
    /// time the leads it created double (10,000, 20,000, 40,000, ...): about 7
    /// times per million rows, ~0.2 s each. It runs on another connection
    /// while the next chunks are written (one at a time; a refresh due while
    /// one runs waits for a later chunk). A failure only costs speed.
    async fn refresh_statistics(&mut self) {
        if self.created < self.analyze_at
            || self.analyzing.as_ref().is_some_and(|a| !a.is_finished())
        {
            return;
        }
        self.analyze_at = self.created.saturating_mul(2);
        let (db, job_id) = (self.db.clone(), self.job_id);
        self.analyzing = Some(tokio::spawn(async move {
            if let Err(err) = store::leads::analyze(&db).await {
                tracing::warn!(job.id = job_id, error = %err, "ANALYZE leads failed");
            }
        }));
    }

    /// Records the outcome of a row written on its own.
    fn record(
        &self,
        result: &mut ChunkResult,
        r: &Ready,
        outcome: Outcome,
        existing: &mut HashMap<String, lead::Model>,
        key: &str,
    ) {
        match outcome {
            Ok((status, model)) => {
                result.push(r.row_number, row_status(status), Some(model.id));
                existing.insert(key.to_owned(), model);
            }
            Err(err) => result.fail(r.row_number, &r.cells.as_strings(), &err),
        }
    }

    /// What a row would do, without writing anything.
    fn dry_row(
        &mut self,
        r: &Ready,
        key: &str,
        existing: &HashMap<String, lead::Model>,
        on_duplicate: OnDuplicate,
        result: &mut ChunkResult,
    ) {
        let hit = match existing.get(key) {
            Some(found) if !self.p.allows_placement(&found.market, found.team_id) => {
                result.fail(
                    r.row_number,
                    &r.cells.as_strings(),
                    &DomainError::Duplicate { existing_id: None },
                );
                return;
            }
            Some(found) => Some(Some(found.id)),
            None => self.dry_seen.get(key).copied(),
        };
        match hit {
            None => {
                self.dry_seen.insert(key.to_owned(), None);
                result.push(r.row_number, ImportRowStatus::Created, None);
            }
            Some(id) => match on_duplicate {
                OnDuplicate::Error => result.fail(
                    r.row_number,
                    &r.cells.as_strings(),
                    &DomainError::Duplicate { existing_id: id },
                ),
                OnDuplicate::Skip => result.push(r.row_number, ImportRowStatus::Skipped, id),
                OnDuplicate::Update => result.push(r.row_number, ImportRowStatus::Updated, id),
            },
        }
    }
}

impl Checker {
    /// Turns a chunk of prepared rows into rows ready to write and the
    /// results of those that failed (rows committed before a resume are
    /// dropped).
    fn check(&self, rows: Vec<PreparedRow>) -> Checked {
        let mut failed = ChunkResult {
            job_id: self.job_id,
            ..ChunkResult::default()
        };
        let mut ready = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows {
            let number = i64::try_from(row.row_number).unwrap_or(i64::MAX);
            if number <= self.committed {
                continue;
            }
            last = Some(number);
            match &row.outcome {
                Ok(_) => {}
                Err(RowFailure::Row(e)) => {
                    let errors = [ItemError {
                        field: None,
                        code: e.code.as_str().to_owned(),
                        message: e.message.clone(),
                    }];
                    let cells = row.cells.as_strings();
                    failed.fail_with(number, &cells, "bad_request", &errors, None);
                    continue;
                }
                Err(RowFailure::Fields(fields)) => {
                    let err = DomainError::Validation(fields.clone());
                    failed.fail(number, &row.cells.as_strings(), &err);
                    continue;
                }
            }
            let market = row.market().or(self.params.market.as_deref());
            let placement = self.places.resolve(&self.p, market, None, None);
            let source = enum_cell(row.source(), "source", LeadSource::Import);
            let status = enum_cell(row.status(), "status", LeadStatus::New);
            match (placement, source, status) {
                (Ok(placement), Ok(source), Ok(status)) => {
                    let PreparedRow { cells, outcome, .. } = row;
                    // Checked above: the row has a lead.
                    let Ok(batch::pipeline::PreparedLead { lead, .. }) = outcome else {
                        continue;
                    };
                    let mut r = Ready {
                        row_number: number,
                        cells,
                        key: lead.email.key.as_str().to_owned(),
                        lead,
                        placement,
                        source,
                        status,
                        model: None,
                    };
                    if !self.params.dry_run {
                        r.model = Some(new_lead(&self.p, &r));
                    }
                    ready.push(r);
                }
                (placement, source, status) => {
                    let mut fields = Vec::new();
                    let mut other = None;
                    for err in [placement.err(), source.err(), status.err()]
                        .into_iter()
                        .flatten()
                    {
                        match err {
                            DomainError::Validation(f) => fields.extend(f),
                            e => other = other.or(Some(e)),
                        }
                    }
                    let err = other.unwrap_or(DomainError::Validation(fields));
                    failed.fail(number, &row.cells.as_strings(), &err);
                }
            }
        }
        Checked {
            last,
            failed,
            ready,
        }
    }
}

/// The lead a new row inserts.
fn new_lead(p: &Principal, r: &Ready) -> lead::ActiveModel {
    create::new_model(p, r.source, r.status, &r.lead, &r.placement)
}

/// `onDuplicate: UPDATE` against a lead not inserted yet: fill its empty fields.
fn fill_pending(am: &mut lead::ActiveModel, r: &Ready) {
    let clean = &r.lead;
    if matches!(&am.phone, sea_orm::ActiveValue::Set(None))
        && let Some(phone) = &clean.phone
    {
        am.phone = Set(Some(phone.as_str().to_owned()));
    }
    if matches!(&am.company, sea_orm::ActiveValue::Set(None)) && clean.company.is_some() {
        am.company = Set(clean.company.clone());
    }
    if matches!(&am.job_title, sea_orm::ActiveValue::Set(None)) && clean.job_title.is_some() {
        am.job_title = Set(clean.job_title.clone());
    }
    if let sea_orm::ActiveValue::Set(stored) = &am.custom_fields
        && let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_str(stored)
    {
        let before = fields.len();
        for (k, v) in &clean.custom_fields {
            if fields.len() >= batch::record::canonical::CUSTOM_FIELDS_MAX_KEYS {
                break;
            }
            fields.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if fields.len() != before {
            am.custom_fields = Set(serde_json::Value::Object(fields).to_string());
        }
    }
}
