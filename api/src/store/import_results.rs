//! An import's per-row results: written packed, read row by row.
//!
//! A row that created a lead is stored in a run of `import_row_runs` (rows
//! `first_row..=last_row` created the leads `first_lead_id..`, one more per
//! row), every other row in `import_rows` with its code, errors and cells
//! (see the migration `m20261124_000010_import_row_runs`). Readers get one
//! [`import_row::Model`] per row either way, in row order: a page merges the
//! per-row results with the expanded runs. Both reads are keyset range scans
//! on the tables' primary keys, so a page costs the same at any depth.

use entity::{ImportRowStatus, import_row, import_row_run};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

/// Which way a page is read from its cursor row (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Rows after this row number, ascending (`0`: from the first row).
    After(i64),
    /// Rows before this row number, descending (`i64::MAX`: from the last).
    Before(i64),
}

/// Which statuses a read returns (`None`: all).
fn wants_created(statuses: Option<&[ImportRowStatus]>) -> bool {
    statuses.is_none_or(|s| s.contains(&ImportRowStatus::Created))
}

/// Splits a chunk's results, in row order, into the rows stored one each and
/// the runs of rows that created consecutive leads (or, in a dry run, would
/// create leads: runs of consecutive rows without ids).
pub fn pack(
    rows: Vec<import_row::Model>,
) -> (
    Vec<import_row::ActiveModel>,
    Vec<import_row_run::ActiveModel>,
) {
    let mut single = Vec::new();
    let mut runs: Vec<import_row_run::Model> = Vec::new();
    for row in rows {
        if row.status != ImportRowStatus::Created {
            single.push(active_row(row));
            continue;
        }
        if let Some(run) = runs.last_mut()
            && run.job_id == row.job_id
            && run.last_row.checked_add(1) == Some(row.row_number)
            && next_id(run) == row.lead_id
        {
            run.last_row = row.row_number;
            continue;
        }
        runs.push(import_row_run::Model {
            job_id: row.job_id,
            first_row: row.row_number,
            last_row: row.row_number,
            first_lead_id: row.lead_id,
        });
    }
    let runs = runs
        .into_iter()
        .map(|r| import_row_run::ActiveModel {
            job_id: Set(r.job_id),
            first_row: Set(r.first_row),
            last_row: Set(r.last_row),
            first_lead_id: Set(r.first_lead_id),
        })
        .collect();
    (single, runs)
}

/// The lead id the row after `run` must have to extend it (`None` for a run
/// without ids).
fn next_id(run: &import_row_run::Model) -> Option<i64> {
    let first = run.first_lead_id?;
    first.checked_add(run.last_row - run.first_row + 1)
}

fn active_row(m: import_row::Model) -> import_row::ActiveModel {
    import_row::ActiveModel {
        job_id: Set(m.job_id),
        row_number: Set(m.row_number),
        status: Set(m.status),
        lead_id: Set(m.lead_id),
        code: Set(m.code),
        errors: Set(m.errors),
        cells: Set(m.cells),
    }
}

/// The result of row `row` of `run` (which holds it).
fn run_row(run: &import_row_run::Model, row: i64) -> import_row::Model {
    import_row::Model {
        job_id: run.job_id,
        row_number: row,
        status: ImportRowStatus::Created,
        lead_id: run.first_lead_id.map(|id| id + (row - run.first_row)),
        code: None,
        errors: None,
        cells: None,
    }
}

/// Up to `limit` results of the job from `from` (exclusive), in the reading
/// direction: ascending after a row, descending before one.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    job_id: i64,
    statuses: Option<&[ImportRowStatus]>,
    from: Start,
    limit: u64,
) -> Result<Vec<import_row::Model>, DbErr> {
    let mut select = import_row::Entity::find().filter(import_row::Column::JobId.eq(job_id));
    if let Some(statuses) = statuses {
        select = select.filter(import_row::Column::Status.is_in(statuses.iter().copied()));
    }
    let select = match from {
        Start::After(row) => select
            .filter(import_row::Column::RowNumber.gt(row))
            .order_by_asc(import_row::Column::RowNumber),
        Start::Before(row) => select
            .filter(import_row::Column::RowNumber.lt(row))
            .order_by_desc(import_row::Column::RowNumber),
    };
    let single = select.limit(limit).all(db).await?;
    if !wants_created(statuses) {
        return Ok(single);
    }
    let runs = runs_from(db, job_id, from, limit).await?;
    let capacity = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut created = Vec::with_capacity(capacity.min(single.len() + 256));
    'runs: for run in &runs {
        match from {
            Start::After(after) => {
                for row in run.first_row.max(after.saturating_add(1))..=run.last_row {
                    if created.len() >= capacity {
                        break 'runs;
                    }
                    created.push(run_row(run, row));
                }
            }
            Start::Before(before) => {
                for row in (run.first_row..=run.last_row.min(before.saturating_sub(1))).rev() {
                    if created.len() >= capacity {
                        break 'runs;
                    }
                    created.push(run_row(run, row));
                }
            }
        }
    }
    let ascending = matches!(from, Start::After(_));
    Ok(merge(single, created, ascending, capacity))
}

/// The runs that may hold rows of a page from `from`: at most `limit` of
/// them (each holds at least one row), in the reading direction.
async fn runs_from<C: ConnectionTrait>(
    db: &C,
    job_id: i64,
    from: Start,
    limit: u64,
) -> Result<Vec<import_row_run::Model>, DbErr> {
    let of_job = import_row_run::Entity::find().filter(import_row_run::Column::JobId.eq(job_id));
    match from {
        Start::After(after) => {
            // The run holding the row after the cursor starts at or before
            // it: the last run starting there, if it reaches past the cursor.
            let holding = of_job
                .clone()
                .filter(import_row_run::Column::FirstRow.lte(after))
                .order_by_desc(import_row_run::Column::FirstRow)
                .one(db)
                .await?
                .filter(|run| run.last_row > after);
            let mut runs: Vec<_> = holding.into_iter().collect();
            runs.extend(
                of_job
                    .filter(import_row_run::Column::FirstRow.gt(after))
                    .order_by_asc(import_row_run::Column::FirstRow)
                    .limit(limit)
                    .all(db)
                    .await?,
            );
            Ok(runs)
        }
        Start::Before(before) => {
            of_job
                .filter(import_row_run::Column::FirstRow.lt(before))
                .order_by_desc(import_row_run::Column::FirstRow)
                .limit(limit)
                .all(db)
                .await
        }
    }
}

/// Merges two lists sorted the same way (row numbers never repeat across
/// them), keeping the first `limit`.
fn merge(
    a: Vec<import_row::Model>,
    b: Vec<import_row::Model>,
    ascending: bool,
    limit: usize,
) -> Vec<import_row::Model> {
    let mut out = Vec::with_capacity(limit.min(a.len() + b.len()));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while out.len() < limit {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => (x.row_number < y.row_number) == ascending,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_a { a.next() } else { b.next() };
        out.extend(next);
    }
    out
}

/// Every result of the job, in row order (small jobs: `wait=true`).
pub async fn all<C: ConnectionTrait>(db: &C, job_id: i64) -> Result<Vec<import_row::Model>, DbErr> {
    let single = import_row::Entity::find()
        .filter(import_row::Column::JobId.eq(job_id))
        .order_by_asc(import_row::Column::RowNumber)
        .all(db)
        .await?;
    let runs = import_row_run::Entity::find()
        .filter(import_row_run::Column::JobId.eq(job_id))
        .order_by_asc(import_row_run::Column::FirstRow)
        .all(db)
        .await?;
    let created: Vec<_> = runs
        .iter()
        .flat_map(|run| (run.first_row..=run.last_row).map(|row| run_row(run, row)))
        .collect();
    Ok(merge(single, created, true, usize::MAX))
}

#[derive(FromQueryResult)]
struct Total {
    rows: Option<i64>,
}

/// How many results of the job have one of `statuses` (all: `None`).
pub async fn count<C: ConnectionTrait>(
    db: &C,
    job_id: i64,
    statuses: Option<&[ImportRowStatus]>,
) -> Result<u64, DbErr> {
    use sea_orm::ExprTrait as _;

    let mut select = import_row::Entity::find().filter(import_row::Column::JobId.eq(job_id));
    if let Some(statuses) = statuses {
        select = select.filter(import_row::Column::Status.is_in(statuses.iter().copied()));
    }
    let mut n = select.count(db).await?;
    if wants_created(statuses) {
        let runs = import_row_run::Entity::find()
            .select_only()
            .column_as(
                Expr::col(import_row_run::Column::LastRow)
                    .sub(Expr::col(import_row_run::Column::FirstRow))
                    .add(1)
                    .sum()
                    // PostgreSQL sums `bigint`s into a `numeric`.
                    .cast_as("bigint"),
                "rows",
            )
            .filter(import_row_run::Column::JobId.eq(job_id))
            .into_model::<Total>()
            .one(db)
            .await?
            .and_then(|t| t.rows)
            .unwrap_or(0);
        n += u64::try_from(runs).unwrap_or(0);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(row: i64, lead: Option<i64>) -> import_row::Model {
        import_row::Model {
            job_id: 7,
            row_number: row,
            status: ImportRowStatus::Created,
            lead_id: lead,
            code: None,
            errors: None,
            cells: None,
        }
    }

    fn failed(row: i64) -> import_row::Model {
        import_row::Model {
            status: ImportRowStatus::Failed,
            code: Some("validation_failed".into()),
            ..created(row, None)
        }
    }

    /// A run as `(first_row, last_row, first_lead_id)`.
    type Run = (i64, i64, Option<i64>);

    fn runs_of(rows: Vec<import_row::Model>) -> (Vec<i64>, Vec<Run>) {
        let (single, runs) = pack(rows);
        let single = single.into_iter().map(|r| r.row_number.unwrap()).collect();
        let runs = runs
            .into_iter()
            .map(|r| {
                (
                    r.first_row.unwrap(),
                    r.last_row.unwrap(),
                    r.first_lead_id.unwrap(),
                )
            })
            .collect();
        (single, runs)
    }

    #[test]
    fn runs_break_where_rows_or_ids_jump() {
        let rows = vec![
            created(1, Some(10)),
            created(2, Some(11)),
            failed(3),
            created(4, Some(12)),
            created(5, Some(13)),
            // A gap in the ids (drawn by another session meanwhile).
            created(6, Some(20)),
            created(7, Some(21)),
            // A row written on its own with an older lead's id.
            created(8, Some(5)),
        ];
        assert_eq!(
            runs_of(rows),
            (
                vec![3],
                vec![
                    (1, 2, Some(10)),
                    (4, 5, Some(12)),
                    (6, 7, Some(20)),
                    (8, 8, Some(5))
                ]
            )
        );
    }

    #[test]
    fn dry_runs_pack_rows_without_ids() {
        let rows = vec![
            created(1, None),
            created(2, None),
            failed(3),
            created(4, None),
            created(5, Some(9)),
            created(6, None),
        ];
        assert_eq!(
            runs_of(rows),
            (
                vec![3],
                vec![(1, 2, None), (4, 4, None), (5, 5, Some(9)), (6, 6, None)]
            )
        );
    }

    #[test]
    fn merging_keeps_the_reading_order_and_the_limit() {
        let rows = |ns: &[i64]| ns.iter().map(|&n| created(n, None)).collect::<Vec<_>>();
        let numbers = |v: Vec<import_row::Model>| v.into_iter().map(|r| r.row_number).collect();
        let up: Vec<i64> = numbers(merge(rows(&[2, 5]), rows(&[1, 3, 4, 6]), true, 5));
        assert_eq!(up, vec![1, 2, 3, 4, 5]);
        let down: Vec<i64> = numbers(merge(rows(&[5, 2]), rows(&[6, 4, 3, 1]), false, 10));
        assert_eq!(down, vec![6, 5, 4, 3, 2, 1]);
    }
}
