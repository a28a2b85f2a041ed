//! Central sync, the station's side of `../shared/spec/central-sync.md`: the push worker
//! (events and the photos they reference, uplink), the feed worker (manifests and
//! reference data, downlink) and the shared status operators read. The pull endpoints live
//! in `crate::http`. Every write (ack cursor, feed items with their cursor) goes through
//! the engine, the station's one writer.

pub mod client;
pub mod error;
pub mod feed;
pub mod push;
pub mod retry;
pub mod settings;
pub mod status;

pub use status::{
    ClockReading, FeedState, FeedStatus, PushState, PushStatus, SharedStatus, SyncStatus,
    new_status, snapshot, update,
};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::store::codec::fmt_time;
use client::Central;
use settings::WorkerSettings;

/// A jitter draw from the OS RNG (a v4 UUID keeps the dependency tree small).
pub fn os_jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0
}

/// The central's client for a worker: None when no central is configured (the worker stays
/// `disabled`) or the client cannot be built (`on_error` gets the operator's text).
fn connect(settings: &WorkerSettings, on_error: impl FnOnce(String)) -> Option<Central> {
    let central = settings.central.as_ref()?;
    match Central::connect(central) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "sync cannot start");
            on_error(e.to_string());
            None
        }
    }
}

/// The status as operators read it (CLI `sync status`, the API).
pub fn status_json(
    conn: &rusqlite::Connection,
    status: &SharedStatus,
    now: DateTime<Utc>,
) -> Result<Value, crate::store::StoreError> {
    let s = snapshot(status);
    let (push, feed) = (&s.push, &s.feed);
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
            "state": push.state.as_str(),
            "last_success": t(push.last_success),
            "last_error": push.last_error,
            "last_error_at": t(push.last_error_at),
            "next_retry": t(push.next_retry),
            "batch_limit": push.batch_limit,
        },
        "feed": {
            "state": feed.state.as_str(),
            "cursor": feed_after,
            "last_success": t(feed.last_success),
            "last_error": feed.last_error,
            "rejected_items": rejected,
        },
        "clock_offset_ms": s.clock.map(|c| c.offset_ms),
        "clock_alarm": s.clock.is_some_and(|c| c.alarm),
    }))
}

#[cfg(test)]
mod tests {
    /// The machines' vocabulary names no I/O crate, no database or engine, and never reads
    /// the clock or the RNG (their tests may).
    #[test]
    fn machines_are_pure() {
        let files = [
            ("retry.rs", include_str!("retry.rs")),
            ("status.rs", include_str!("status.rs")),
        ];
        let forbidden = [
            "tokio",
            "reqwest",
            "rusqlite",
            "crate::store",
            "crate::engine",
            "crate::config",
            "std::fs",
            "std::net",
            "Utc::now",
            "Instant::now",
            "SystemTime",
            "uuid",
        ];
        for (name, text) in files {
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (n, line) in code.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in forbidden {
                    assert!(
                        !code.contains(word),
                        "sync/{name}:{}: a machine must not use {word}: {line}",
                        n + 1
                    );
                }
            }
        }
    }
}
