//! What the keeper's kiosk reads from the projections (no event replay), as typed rows:
//! the bench, the return it shows, today's counters, the bench's last scan and the print
//! jobs that need someone. The kiosk (`http::kiosk_view`) words and translates them.
//!
//! Call [`rows`] inside [`Reader::snapshot`] so that bench, return and counters agree.

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde_json::Value;

use super::reader::Sql;
use super::snapshot::bench_from_json;
use super::{Reader, StoreError};
use crate::domain::model::Bench;
use crate::format::fmt_time;

/// Everything the kiosk snapshot reads from the database.
pub struct KioskRows {
    /// The bench's projection (who is logged in, its open and its last return); None
    /// before the bench's first scan.
    pub bench: Option<Bench>,
    /// The projection of the return the kiosk shows (the open one, else the last one).
    pub shown: Option<Value>,
    pub today: DayCounters,
    /// The bench's last scan today.
    pub last_scan: Option<ScanRow>,
    /// Print jobs that failed today.
    pub jobs_failed: i64,
    /// Print jobs queued or sent before the waiting limit and not confirmed since.
    pub jobs_waiting: i64,
}

/// Station-wide counts since the start of the day.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DayCounters {
    pub received: i64,
    pub first_checks: i64,
    /// Label copies, not jobs.
    pub labels_printed: i64,
    pub scans: i64,
}

/// One `scan.recorded` event.
pub struct ScanRow {
    pub seq: i64,
    /// The event's data: what was scanned and what the bench was told.
    pub data: Value,
    pub occurred_at: String,
}

/// The kiosk's rows for `bench`: the day starts at `day_start`; a job created before
/// `waiting_before` and not yet confirmed is waiting too long.
pub fn rows(
    r: &Reader,
    bench: &str,
    day_start: DateTime<Utc>,
    waiting_before: DateTime<Utc>,
) -> Result<KioskRows, StoreError> {
    let b = bench_row(r, bench)?;
    let shown = b
        .as_ref()
        .and_then(|b| b.current.as_ref().or(b.last.as_ref()));
    let shown = match shown {
        Some(id) => return_state(r, id.as_str())?,
        None => None,
    };
    let from = super::first_seq_since(r.sql(), day_start)?;
    let (jobs_failed, jobs_waiting) = job_alarms(r, day_start, waiting_before)?;
    Ok(KioskRows {
        bench: b,
        shown,
        today: day_counters(r, from)?,
        last_scan: last_scan(r, from, bench)?,
        jobs_failed,
        jobs_waiting,
    })
}

fn bench_row(r: &Reader, bench: &str) -> Result<Option<Bench>, StoreError> {
    let state: Option<String> = r
        .sql()
        .prepare_cached("SELECT state FROM benches WHERE bench = ?1")?
        .query_row([bench], |r| r.get(0))
        .optional()?;
    let what = || format!("benches[{bench}]");
    state
        .map(|s| {
            let v: Value =
                serde_json::from_str(&s).map_err(|e| StoreError::decode(what(), e.to_string()))?;
            bench_from_json(&v).map_err(|e| StoreError::decode(what(), e))
        })
        .transpose()
}

fn return_state(r: &Reader, id: &str) -> Result<Option<Value>, StoreError> {
    let state: Option<String> = r
        .sql()
        .prepare_cached("SELECT state FROM returns WHERE return_id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    state
        .map(|s| super::working::whole_state(r.sql(), id, &s))
        .transpose()
}

fn day_counters(r: &Reader, from_seq: i64) -> Result<DayCounters, StoreError> {
    let mut q = r.sql().prepare_cached(
        "SELECT type, COUNT(*), SUM(COALESCE(json_extract(data, '$.copies'), 1)) FROM journal
         WHERE seq >= ?1 AND type IN ('return.received', 'check.first_completed', 'label.printed', 'scan.recorded')
         GROUP BY type",
    )?;
    let rows = q.query_map([from_seq], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut c = DayCounters::default();
    for row in rows {
        let (ty, n, copies) = row?;
        match ty.as_str() {
            "return.received" => c.received = n,
            "check.first_completed" => c.first_checks = n,
            "label.printed" => c.labels_printed = copies,
            _ => c.scans = n,
        }
    }
    Ok(c)
}

fn last_scan(r: &Reader, from_seq: i64, bench: &str) -> Result<Option<ScanRow>, StoreError> {
    let seq: Option<i64> = r
        .sql()
        .prepare_cached(
            "SELECT seq FROM journal
             WHERE seq >= ?1 AND type = 'scan.recorded' AND json_extract(data, '$.bench') = ?2
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(rusqlite::params![from_seq, bench], |r| r.get(0))
        .optional()?;
    match seq {
        Some(seq) => scan(r, seq),
        None => Ok(None),
    }
}

/// The `scan.recorded` event at `seq`, if that is one (its data unreadable: null).
pub fn scan(r: &Reader, seq: i64) -> Result<Option<ScanRow>, StoreError> {
    let row: Option<(String, String)> = r
        .sql()
        .prepare_cached(
            "SELECT data, occurred_at FROM journal WHERE seq = ?1 AND type = 'scan.recorded'",
        )?
        .query_row([seq], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map(|(data, occurred_at)| ScanRow {
        seq,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
        occurred_at,
    }))
}

/// Print jobs failed since `day_start`, and jobs queued or sent before `waiting_before`.
fn job_alarms(
    r: &Reader,
    day_start: DateTime<Utc>,
    waiting_before: DateTime<Utc>,
) -> Result<(i64, i64), StoreError> {
    let conn = r.sql();
    let failed: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM print_jobs WHERE state = 'failed' AND created_at >= ?1",
        )?
        .query_row([fmt_time(day_start)], |r| r.get(0))?;
    let waiting: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM print_jobs WHERE state IN ('queued', 'sent') AND created_at < ?1",
        )?
        .query_row([fmt_time(waiting_before)], |r| r.get(0))?;
    Ok((failed, waiting))
}
