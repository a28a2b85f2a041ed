//! One station day as the supervisor's daily report and the day's quality-check sheets
//! read it: the returns received in a time range (the `returns_received` index), and the
//! journal events of chosen types in a time range. The journal has no index on time: its
//! seq follows commit time, so the range's first seq is found by a binary search over seq
//! (about 2·log₂(events) point reads), and the day's events are one seq-range read. The
//! cost is the day's size, never the station's history.

use rusqlite::OptionalExtension;
use serde_json::Value;

use super::super::journal::{JOURNAL_COLUMNS, JournalRow};
use super::super::reader::Sql;
use super::super::{Read, StoreError};

/// The header state of every return received in `[from, to)` (RFC 3339 UTC times as the
/// store writes them), oldest first.
pub fn received(db: &dyn Read, from: &str, to: &str) -> Result<Vec<Value>, StoreError> {
    let mut q = db.sql().prepare_cached(
        "SELECT return_id, state FROM returns WHERE received_at >= ?1 AND received_at < ?2
         ORDER BY received_at, return_id",
    )?;
    let rows = q.query_map([from, to], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, text) = row?;
        out.push(
            serde_json::from_str(&text)
                .map_err(|e| StoreError::decode(format!("returns[{id}]"), e.to_string()))?,
        );
    }
    Ok(out)
}

/// The time of the first event at or after seq `x` (None past the journal's end).
fn first_at(db: &dyn Read, x: i64) -> Result<Option<String>, StoreError> {
    Ok(db
        .sql()
        .prepare_cached("SELECT occurred_at FROM journal WHERE seq >= ?1 ORDER BY seq LIMIT 1")?
        .query_row([x], |r| r.get(0))
        .optional()?)
}

/// The smallest seq `x` whose first event at or after it happened at or after `t`; one
/// past the last event when none did. Assumes the journal's times follow its seq (they are
/// commit times; a clock stepped back makes the day's edge approximate, never wrong by
/// more than the step's events).
fn seq_from(db: &dyn Read, t: &str) -> Result<i64, StoreError> {
    let edge = |sql: &str| -> Result<Option<i64>, StoreError> {
        Ok(db.sql().query_row(sql, [], |r| r.get(0)).optional()?)
    };
    let (Some(min), Some(max)) = (
        edge("SELECT MIN(seq) FROM journal")?,
        edge("SELECT MAX(seq) FROM journal")?,
    ) else {
        return Ok(0);
    };
    let (mut lo, mut hi) = (min, max + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match first_at(db, mid)? {
            Some(at) if at.as_str() < t => lo = mid + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

/// The journal events of the given types that happened in `[from, to)`, in seq order.
pub fn events(
    db: &dyn Read,
    from: &str,
    to: &str,
    types: &[&str],
) -> Result<Vec<JournalRow>, StoreError> {
    let (lo, hi) = (seq_from(db, from)?, seq_from(db, to)?);
    if lo >= hi || types.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; types.len()].join(", ");
    let mut q = db.sql().prepare(&format!(
        "SELECT {JOURNAL_COLUMNS} FROM journal WHERE seq >= ?1 AND seq < ?2 AND type IN ({marks})
         ORDER BY seq"
    ))?;
    let mut params: Vec<rusqlite::types::Value> = vec![lo.into(), hi.into()];
    params.extend(
        types
            .iter()
            .map(|t| rusqlite::types::Value::from(t.to_string())),
    );
    let rows = q.query_map(rusqlite::params_from_iter(params), JournalRow::from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
