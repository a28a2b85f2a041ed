//! Central sync, the station's side of `../shared/spec/central-sync.md`: the push worker
//! (events and the photos they reference, uplink), the feed worker (manifests and
//! reference data, downlink) and the shared status operators read. The pull endpoints live
//! in `crate::http`. Every write (ack cursor, feed items with their cursor) goes through
//! the engine, the station's one writer.
//!
//! Each worker is a state machine that decides (`push::PushMachine`, `feed::FeedMachine`:
//! plain data in, the next action out, time passed in) driven by a thin loop that does the
//! I/O (`push::run`, `feed::run`). Files:
//! - `settings.rs`: the one place that reads `Config`'s fields, once, at start.
//! - `retry.rs`, `status.rs`: time, backoff and status vocabulary the machines share.
//! - `error.rs`: the typed errors at the seams (client, push step, feed step).
//! - `client.rs`: the HTTP client (rustls/ring).
//! - `push/`, `feed/`: `machine.rs` decides, `wire.rs` encodes and parses, `mod.rs` loops.
//!
//! Architecture invariant: the machines and their vocabulary (`retry.rs`, `status.rs`,
//! `*/machine.rs`) name no tokio, reqwest, database, engine or clock
//! (`tests::machines_are_pure`); the loops decide nothing the machines could.

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

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Notify, broadcast, watch};

use crate::config::Config;
use crate::engine::Committed;
use crate::store::codec::fmt_time;
use client::Central;
use retry::{Now, Wait, Wake};
use settings::WorkerSettings;

/// Both clocks, read once for a machine input. Tokio's clock, so that a test that pauses
/// time moves the machines' deadlines with it.
pub fn now() -> Now {
    Now {
        mono: tokio::time::Instant::now().into_std(),
        wall: Utc::now(),
    }
}

/// A jitter draw from the OS RNG (a v4 UUID keeps the dependency tree small).
pub fn os_jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0
}

/// The start of an answer's body, for an alarm text.
pub fn snippet(s: &str) -> String {
    s.chars().take(300).collect()
}

/// What a worker starts with: its settings, read once, and the central's client. None when
/// no central is configured (the worker stays `disabled`) or the client cannot be built
/// (`cannot_start` puts the operator's text in the worker's status).
fn start(
    cfg: &Config,
    status: &SharedStatus,
    cannot_start: fn(&mut SyncStatus, String),
) -> Option<(WorkerSettings, Central)> {
    let settings = WorkerSettings::from_config(cfg);
    match Central::connect(settings.central.as_ref()?) {
        Ok(c) => Some((settings, c)),
        Err(e) => {
            tracing::error!(error = %e, "sync cannot start");
            update(status, |s| cannot_start(s, e.to_string()));
            None
        }
    }
}

/// What can end a worker's wait: the daemon stopping, another worker reaching the central
/// after a failure, the engine committing events.
struct Signals {
    network_up: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    /// Commit notices (the push only); None once the engine is gone.
    events: Option<broadcast::Receiver<Committed>>,
}

impl Signals {
    fn new(
        network_up: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
        events: Option<broadcast::Receiver<Committed>>,
    ) -> Signals {
        Signals {
            network_up,
            shutdown,
            events,
        }
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Tell the other workers the central answers again.
    fn network_back(&self) {
        self.network_up.notify_waiters();
    }

    /// Sleep until `w.until`, cut short as `w.wake` allows; false when the daemon stops.
    async fn wait(&mut self, w: Wait) -> bool {
        let Signals {
            network_up,
            shutdown,
            events,
        } = self;
        let closed = {
            let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(w.until));
            let network = async {
                match w.wake {
                    Wake::NetworkUp => network_up.notified().await,
                    Wake::NewEvents => std::future::pending().await,
                }
            };
            let commit = async {
                match (w.wake, events.as_mut()) {
                    (Wake::NewEvents, Some(rx)) => rx.recv().await.err(),
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => None,
                _ = network => None,
                e = commit => e,
                r = shutdown.changed() => match r {
                    Ok(()) => None,
                    // The daemon is gone without saying so: stop.
                    Err(_) => return false,
                },
            }
        };
        if matches!(closed, Some(RecvError::Closed)) {
            *events = None;
        }
        !self.stopping()
    }

    /// Until the daemon stops.
    async fn stopped(&mut self) {
        let _ = self.shutdown.wait_for(|s| *s).await;
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
    use std::time::Duration;

    use super::*;

    /// The machines and their vocabulary name no I/O crate, no database or engine, and
    /// never read the clock or the RNG (their tests may).
    #[test]
    fn machines_are_pure() {
        let files = [
            ("retry.rs", include_str!("retry.rs")),
            ("status.rs", include_str!("status.rs")),
            ("push/machine.rs", include_str!("push/machine.rs")),
            ("feed/machine.rs", include_str!("feed/machine.rs")),
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

    /// A network wait ends at its deadline or when another worker reports the network
    /// back; an idle wait ends on a commit notice and ignores the network; a stop ends any
    /// wait with false. Paused time: no real sleeping.
    #[tokio::test(start_paused = true)]
    async fn waits_end_at_their_deadline_or_their_wake_up() {
        let (stop_tx, stop_rx) = watch::channel(false);
        let up = Arc::new(Notify::new());
        let (commits, rx) = broadcast::channel(4);
        let mut s = Signals::new(up.clone(), stop_rx, Some(rx));
        let secs = Duration::from_secs;
        let in_2s = |f: Box<dyn FnOnce() + Send>| {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                f();
            })
        };

        let t = now();
        assert!(s.wait(Wait::network(t, secs(30))).await);
        assert_eq!(now().mono - t.mono, secs(30), "the deadline");

        let t = now();
        let u = up.clone();
        in_2s(Box::new(move || u.notify_waiters()));
        assert!(s.wait(Wait::network(t, secs(30))).await);
        assert_eq!(now().mono - t.mono, secs(2), "network back");

        let t = now();
        let idle = Wait {
            until: t.mono + secs(5),
            wake: Wake::NewEvents,
        };
        let u = up.clone();
        in_2s(Box::new(move || u.notify_waiters()));
        assert!(s.wait(idle).await);
        assert_eq!(
            now().mono - t.mono,
            secs(5),
            "the network does not end an idle wait"
        );

        let t = now();
        let idle = Wait {
            until: t.mono + secs(5),
            wake: Wake::NewEvents,
        };
        in_2s(Box::new(move || {
            let _ = commits.send(Committed {
                seq: 1,
                ty: "scan.recorded",
                return_id: None,
            });
        }));
        assert!(s.wait(idle).await);
        assert_eq!(now().mono - t.mono, secs(2), "a commit");

        let t = now();
        in_2s(Box::new(move || {
            let _ = stop_tx.send(true);
        }));
        assert!(!s.wait(Wait::network(t, secs(30))).await, "stopping");
        assert_eq!(now().mono - t.mono, secs(2));
        assert!(s.stopping());
    }
}
