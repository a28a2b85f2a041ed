//! What the command line does in the database itself, with or without a daemon running:
//! the journal export (a read, safe beside the engine under WAL) and one transaction for
//! work done under the state directory's lock (a manifest import while no daemon runs).
//! The SQL stays here; the CLI hands in what to do with each row or inside the transaction.

use super::reader::{Read, Sql, Write};
use super::{JOURNAL_COLUMNS, JournalRow, Store, StoreError};

/// Every journal row stamped at or after `since` (the contract's time format), in seq
/// order, handed to `each` as it is read (an export of a long journal is never held in
/// memory). Stops at the first error, from the database or from `each`.
pub fn journal_since<E: From<StoreError>>(
    db: &dyn Read,
    since: &str,
    mut each: impl FnMut(JournalRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut q = db
        .sql()
        .prepare(&format!(
            "SELECT {JOURNAL_COLUMNS} FROM journal WHERE occurred_at >= ?1 ORDER BY seq"
        ))
        .map_err(StoreError::from)?;
    let rows = q
        .query_map([since], JournalRow::from_row)
        .map_err(StoreError::from)?;
    for row in rows {
        each(row.map_err(StoreError::from)?)?;
    }
    Ok(())
}

/// Run `work` in one transaction on `store`'s connection: committed when it succeeds,
/// rolled back when it fails. Beginning and committing name the database file when they
/// fail.
pub fn in_transaction<T>(
    store: &Store,
    work: impl FnOnce(&dyn Write) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let at = |e: rusqlite::Error| StoreError::Sql(e).at(store.path());
    let tx = store.conn().unchecked_transaction().map_err(at)?;
    let done = work(&tx)?;
    tx.commit().map_err(at)?;
    Ok(done)
}
