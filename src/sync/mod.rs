//! Central sync, the station's side of `../shared/spec/central-sync.md`: the push worker
//! (events and the photos they reference, uplink), the feed worker (manifests and
//! reference data, downlink) and the shared status operators read. The pull endpoints live
//! in `crate::http`. Every write (ack cursor, feed items with their cursor) goes through
//! the engine, the station's one writer.

pub mod client;
pub mod feed;
pub mod push;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::store::codec::fmt_time;

/// What the sync workers last saw; shared with the status views.
#[derive(Debug, Clone, Default)]
pub struct SyncStatus {
    /// `disabled`, `idle`, `sending`, `backoff`, `auth_failed`, `rejected`, `conflict`.
    pub push_state: String,
    pub push_last_success: Option<DateTime<Utc>>,
    pub push_last_error: Option<String>,
    pub push_last_error_at: Option<DateTime<Utc>>,
    pub push_next_retry: Option<DateTime<Utc>>,
    pub push_batch_limit: usize,
    pub feed_state: String,
    pub feed_last_success: Option<DateTime<Utc>>,
    pub feed_last_error: Option<String>,
    /// central `server_time` minus station time, from the last push.
    pub clock_offset_ms: Option<i64>,
    pub clock_alarm: bool,
}

pub type SharedStatus = Arc<Mutex<SyncStatus>>;

pub fn new_status() -> SharedStatus {
    Arc::new(Mutex::new(SyncStatus {
        push_state: "disabled".into(),
        feed_state: "disabled".into(),
        ..Default::default()
    }))
}

/// Update the shared status (a poisoned lock still holds usable data).
pub fn update(status: &SharedStatus, f: impl FnOnce(&mut SyncStatus)) {
    let mut g = match status.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    f(&mut g);
}

pub fn snapshot(status: &SharedStatus) -> SyncStatus {
    match status.lock() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

/// Exponential backoff with full jitter: uniform in [0, min(cap, 1 s · 2^attempt)].
pub fn backoff(attempt: u32, cap: Duration) -> Duration {
    let ceiling = Duration::from_secs(1)
        .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
        .min(cap);
    // Randomness from a v4 UUID (the OS RNG) keeps the dependency tree small.
    let r = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
    ceiling.mul_f64(r).max(Duration::from_millis(50))
}

/// The status as operators read it (CLI `sync status`, the API).
pub fn status_json(
    conn: &rusqlite::Connection,
    status: &SharedStatus,
    now: DateTime<Utc>,
) -> Result<Value, crate::store::StoreError> {
    let s = snapshot(status);
    let acked = crate::store::acked_through(conn)?;
    let last: Option<i64> = conn.query_row("SELECT MAX(seq) FROM journal", [], |r| r.get(0))?;
    let last = last.unwrap_or(0);
    let oldest: Option<String> = conn
        .query_row(
            "SELECT occurred_at FROM journal WHERE seq > ?1 ORDER BY seq LIMIT 1",
            [acked],
            |r| r.get(0),
        )
        .ok();
    let oldest_age_s = oldest
        .and_then(|t| crate::store::codec::parse_time(&t).ok())
        .map(|t| (now - t).num_seconds().max(0));
    let feed_after = crate::store::feed_after(conn)?;
    let rejected: i64 =
        conn.query_row("SELECT COUNT(*) FROM rejected_feed_items", [], |r| r.get(0))?;
    let epoch: String =
        conn.query_row("SELECT value FROM meta WHERE key='epoch'", [], |r| r.get(0))?;
    let t = |o: Option<DateTime<Utc>>| o.map(fmt_time);
    Ok(json!({
        "epoch": epoch,
        "last_seq": last,
        "acked_through": acked,
        "backlog": last - acked,
        "oldest_unacked_age_s": oldest_age_s,
        "push": {
            "state": s.push_state,
            "last_success": t(s.push_last_success),
            "last_error": s.push_last_error,
            "last_error_at": t(s.push_last_error_at),
            "next_retry": t(s.push_next_retry),
            "batch_limit": s.push_batch_limit,
        },
        "feed": {
            "state": s.feed_state,
            "cursor": feed_after,
            "last_success": t(s.feed_last_success),
            "last_error": s.feed_last_error,
            "rejected_items": rejected,
        },
        "clock_offset_ms": s.clock_offset_ms,
        "clock_alarm": s.clock_alarm,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backoff stays within [50 ms, min(cap, 2^n s)] and reaches the cap.
    #[test]
    fn backoff_is_capped_full_jitter() {
        let cap = Duration::from_secs(60);
        for attempt in 0..30 {
            let ceiling = Duration::from_secs(1 << attempt.min(6)).min(cap);
            for _ in 0..50 {
                let d = backoff(attempt, cap);
                assert!(
                    d <= ceiling.max(Duration::from_millis(50)),
                    "{attempt}: {d:?}"
                );
                assert!(d >= Duration::from_millis(50));
            }
        }
        let big = (0..200).map(|_| backoff(25, cap)).max().unwrap();
        assert!(
            big > Duration::from_secs(30),
            "full jitter spans the range: {big:?}"
        );
    }
}
