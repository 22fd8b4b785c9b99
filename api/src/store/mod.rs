//! Query builders: the only module that builds SQL. Every function takes the
//! caller's scope (from `crate::scope`) or a tenant id.

pub mod copy;
pub mod cursor;
pub mod dedupe;
pub mod idempotency;
pub mod import_results;
pub mod lead_row;
pub mod leads;
pub mod loaders;
pub mod page;
pub mod sqlite_bulk;
pub mod users;
mod write_txn;

pub use write_txn::WriteTxn;

pub use page::{PageArgs, PageRequest, PageResult};

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// Begins a write transaction. On SQLite it starts `IMMEDIATE`, taking the write
/// lock up front: concurrent writers then queue on the busy timeout instead of
/// failing when a read snapshot cannot be upgraded. PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Splits `items` into batches for multi-row statements, with sizes from a
/// small fixed set: `max` while at least `max` remain, then powers of two
/// (so at most `log2(max) + 1` distinct sizes).
///
/// A multi-row statement's SQL text depends on its row count, and the database
/// driver prepares, and caches per pooled connection, one statement per text.
/// With arbitrary remainders each import chunk left new statements in the
/// cache: about 1 MiB each on SQLite for 500 rows of leads, which grew the
/// server by ~160 MiB over a 1M-row import.
pub fn fixed_batches<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.max(1);
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= max {
            max
        } else {
            1 << rest.len().ilog2()
        };
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        Some(batch)
    })
}

#[cfg(test)]
mod tests {
    use super::fixed_batches;

    #[test]
    fn fixed_batches_cover_every_item_in_order_with_few_sizes() {
        for (len, max) in [
            (0, 500),
            (1, 500),
            (499, 500),
            (500, 500),
            (1234, 500),
            (7, 1),
        ] {
            let items: Vec<usize> = (0..len).collect();
            let batches: Vec<&[usize]> = fixed_batches(&items, max).collect();
            assert_eq!(batches.concat(), items, "len {len}");
            for b in &batches {
                assert!(b.len() == max || (b.len().is_power_of_two() && b.len() < max));
            }
        }
        let items = vec![0u8; 1234];
        let sizes: Vec<usize> = fixed_batches(&items, 500).map(<[u8]>::len).collect();
        assert_eq!(sizes, [500, 500, 128, 64, 32, 8, 2]);
    }
}
