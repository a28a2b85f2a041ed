//! One station day as the supervisor's daily report and the day's quality-check sheets
//! read it: the returns received in a time range (the `returns_received` index), and the
//! journal events of chosen types in a time range. The journal has no index on time: its
//! seq follows commit time, so the range's first seq is found by a binary search over seq
//! (`journal::first_seq_since`, as the kiosk's day counters do), and the day's events are
//! one seq-range read. The cost is the day's size, never the station's history.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::codec::fmt_time;
use super::super::journal::{JOURNAL_COLUMNS, JournalRow, first_seq_since};
use super::super::reader::Sql;
use super::super::{Read, StoreError};

/// The header state of every return received in `[from, to)`, oldest first.
pub fn received(
    db: &dyn Read,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Value>, StoreError> {
    let mut q = db.sql().prepare_cached(
        "SELECT return_id, state FROM returns WHERE received_at >= ?1 AND received_at < ?2
         ORDER BY received_at, return_id",
    )?;
    let rows = q.query_map([fmt_time(from), fmt_time(to)], |r| {
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

/// The journal events of the given types that happened in `[from, to)`, in seq order.
pub fn events(
    db: &dyn Read,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    types: &[&str],
) -> Result<Vec<JournalRow>, StoreError> {
    let (lo, hi) = (
        first_seq_since(db.sql(), from)?,
        first_seq_since(db.sql(), to)?,
    );
    if lo >= hi || types.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; types.len()].join(", ");
    let mut q = db.sql().prepare_cached(&format!(
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
