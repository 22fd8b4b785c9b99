//! CSV imports: options, limits, the upload that turns a request body into a
//! queued job, and the reads of jobs and per-row results.
//!
//! The file is stored in the database (`job_files`, pieces of 1 MiB) while it
//! streams in, so any instance can run the job and a crashed run can resume;
//! nothing holds the whole file in memory. The same pass counts the rows with
//! the import's own CSV reader, so the header and mapping are checked and the
//! row limit enforced before the job is queued.

mod channel;
mod upload;

pub use channel::{ChannelReader, Piece};

use batch::{ImportOptions, Unmapped};
use entity::{JobKind, job};
use serde::{Deserialize, Serialize};

pub use upload::{Uploaded, upload};

use crate::{
    auth::Principal,
    domain::DomainError,
    domain::leads::OnDuplicate,
    store::{
        PageRequest, PageResult,
        import_results::{self, Start},
        page::Direction,
    },
};

/// Limits of imports (configurable, see `ServeArgs`).
#[derive(Debug, Clone)]
pub struct ImportLimits {
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Most data rows in one file.
    pub max_rows: u64,
    /// Rows per chunk (one transaction each).
    pub chunk_rows: usize,
    /// Most rows for `?wait=true` (the request runs the job and answers 207).
    pub wait_max_rows: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 1024 * 1024 * 1024,
            max_rows: 5_000_000,
            chunk_rows: 5_000,
            wait_max_rows: 10_000,
        }
    }
}

/// The options of one import, as stored with its job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportParams {
    /// `ERROR`, `SKIP` or `UPDATE`.
    pub on_duplicate: String,
    pub dry_run: bool,
    /// Explicit `(header, target)` pairs.
    pub mapping: Vec<(String, String)>,
    /// `custom` or `ignore`.
    pub unmapped: String,
    /// Market of rows without a market column (else the default-market rule).
    pub market: Option<String>,
}

impl ImportParams {
    /// Parses the request's options; every problem is a `bad_request`.
    pub fn parse(
        on_duplicate: Option<&str>,
        dry_run: bool,
        mapping: Option<&str>,
        unmapped: Option<&str>,
        market: Option<&str>,
    ) -> Result<Self, DomainError> {
        let on_duplicate = match on_duplicate.map(|s| s.trim().to_ascii_uppercase()) {
            None => "ERROR".to_owned(),
            Some(s) if ["ERROR", "SKIP", "UPDATE"].contains(&s.as_str()) => s,
            Some(_) => {
                return Err(DomainError::BadRequest(
                    "onDuplicate must be `error`, `skip` or `update`".to_owned(),
                ));
            }
        };
        let mapping = match mapping {
            Some(spec) => batch::parse_mapping(spec).map_err(DomainError::BadRequest)?,
            None => Vec::new(),
        };
        let unmapped = match unmapped {
            None => "custom".to_owned(),
            Some(s) => match s.parse::<Unmapped>().map_err(DomainError::BadRequest)? {
                Unmapped::Custom => "custom".to_owned(),
                Unmapped::Ignore => "ignore".to_owned(),
            },
        };
        let market = market
            .map(|m| m.trim().to_ascii_uppercase())
            .filter(|m| !m.is_empty());
        Ok(Self {
            on_duplicate,
            dry_run,
            mapping,
            unmapped,
            market,
        })
    }

    pub fn on_duplicate(&self) -> OnDuplicate {
        match self.on_duplicate.as_str() {
            "SKIP" => OnDuplicate::Skip,
            "UPDATE" => OnDuplicate::Update,
            _ => OnDuplicate::Error,
        }
    }

    /// The mapping options of the batch pipeline.
    pub fn options(&self) -> ImportOptions {
        ImportOptions {
            unmapped: if self.unmapped == "ignore" {
                Unmapped::Ignore
            } else {
                Unmapped::Custom
            },
            explicit: self.mapping.clone(),
        }
    }
}

/// What an import job stores about its file besides the pieces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The header row as read (the failed-rows CSV repeats it).
    pub headers: Vec<String>,
}

impl FileInfo {
    pub fn of(job: &job::Model) -> Self {
        job.summary
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }
}

/// The stored options of an import job.
pub fn params_of(job: &job::Model) -> Result<ImportParams, DomainError> {
    serde_json::from_str(&job.params)
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("import job {}: params: {e}", job.id)))
}

/// One import job the caller may see, or `not_found`.
pub async fn get(
    db: &impl sea_orm::ConnectionTrait,
    p: &Principal,
    id: i64,
) -> Result<job::Model, DomainError> {
    use sea_orm::{EntityTrait, QueryFilter};
    job::Entity::find_by_id(id)
        .filter(crate::scope::jobs(p, JobKind::Import))
        .one(db)
        .await?
        .ok_or(DomainError::NotFound)
}

/// Progress of a job, 0.0 to 1.0.
pub fn progress(job: &job::Model) -> f64 {
    use entity::JobStatus;
    match (job.status, job.total_rows) {
        (JobStatus::Completed, _) => 1.0,
        (_, Some(total)) if total > 0 => (job.processed_rows as f64 / total as f64).min(1.0),
        _ => 0.0,
    }
}

/// A Relay page of a job's results (cursors hold row numbers). Whether rows
/// lie on the other side of the cursor costs a second read, made only when
/// `other_side` asks for it.
pub async fn results_page(
    db: &impl sea_orm::ConnectionTrait,
    job_id: i64,
    statuses: Option<&[entity::ImportRowStatus]>,
    req: &PageRequest,
    other_side: bool,
) -> Result<PageResult<entity::import_row::Model>, DomainError> {
    let row = match &req.cursor {
        Some(c) if c.value.is_some() => {
            return Err(DomainError::BadRequest(
                "cursor does not match this order".into(),
            ));
        }
        Some(c) => Some(c.id),
        None => None,
    };
    let forward = req.direction == Direction::Forward;
    let (from, back) = match (forward, row) {
        (true, row) => (Start::After(row.unwrap_or(0)), row.map(Start::Before)),
        (false, row) => (
            Start::Before(row.unwrap_or(i64::MAX)),
            row.map(Start::After),
        ),
    };
    let mut items = import_results::page(db, job_id, statuses, from, req.limit + 1).await?;
    let more = items.len() as u64 > req.limit;
    items.truncate(usize::try_from(req.limit).unwrap_or(usize::MAX));
    let beyond = match back {
        Some(back) if other_side => !import_results::page(db, job_id, statuses, back, 1)
            .await?
            .is_empty(),
        _ => false,
    };
    if !forward {
        items.reverse();
    }
    let (has_previous_page, has_next_page) = if forward {
        (beyond, more)
    } else {
        (more, beyond)
    };
    Ok(PageResult {
        items,
        has_previous_page,
        has_next_page,
    })
}
