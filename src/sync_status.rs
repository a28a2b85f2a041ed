//! The central sync's live state: what the push and feed workers last saw, as plain data.
//! The workers (`crate::sync`) publish it — each machine owns its section (`PushStatus`,
//! `FeedStatus`), and its loop copies it into the [`SharedStatus`] — and the views read it
//! (`views::sync_status_json` for the CLI's `sync status`, the control socket, the API, the
//! kiosk's alarms and `/metrics`). Like the device board (`board.rs`), it sits below the
//! edges so that they read it without naming the sync worker. The clock offset is its own
//! section because more than one exchange may measure it (the push answer today; contract
//! 1.1 adds the feed answer: whichever came last wins).
//!
//! Architecture invariant: pure — no I/O, no clock, no crate module
//! (`tests/it/arch.rs`: its `ALLOWED` row is empty and its `PURE` row names what it must
//! not use).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// What the sync workers last saw; shared with the status views.
#[derive(Debug, Clone, Default)]
pub struct SyncStatus {
    pub push: PushStatus,
    pub feed: FeedStatus,
    /// The last clock-offset measurement (none before the first answer with `server_time`).
    pub clock: Option<ClockReading>,
}

/// The push worker's state as operators read it (`sync status`, the README's list).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PushState {
    /// No central configured.
    #[default]
    Disabled,
    Idle,
    Sending,
    /// A transient failure; retried with backoff.
    Backoff,
    /// The central refused the station token (or it cannot be read): fix the token.
    AuthFailed,
    /// The central refuses the data, or the station cannot send it: a bug to report.
    Rejected,
    /// Stopped: the central holds different events; a supervisor reconciles.
    Conflict,
    /// Held: the database was copied or moved (contract 1.1); nothing is sent under its
    /// epoch until `returnsd restore --confirm-moved` takes a new one.
    Moved,
}

impl PushState {
    pub fn as_str(self) -> &'static str {
        match self {
            PushState::Disabled => "disabled",
            PushState::Idle => "idle",
            PushState::Sending => "sending",
            PushState::Backoff => "backoff",
            PushState::AuthFailed => "auth_failed",
            PushState::Rejected => "rejected",
            PushState::Conflict => "conflict",
            PushState::Moved => "moved",
        }
    }
}

/// The feed worker's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FeedState {
    #[default]
    Disabled,
    Idle,
    Backoff,
    Rejected,
}

impl FeedState {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedState::Disabled => "disabled",
            FeedState::Idle => "idle",
            FeedState::Backoff => "backoff",
            FeedState::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushStatus {
    pub state: PushState,
    pub last_success: Option<DateTime<Utc>>,
    /// The alarm text operators read; pinned by the integration tests.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// When the push tries again (none while it works, or once stopped).
    pub next_retry: Option<DateTime<Utc>>,
    /// Events per batch now (lower than configured after a `413`).
    pub batch_limit: usize,
    /// The photo the station cannot upload, holding the push back until it is back in
    /// the photo store or a supervisor acknowledges it as lost (contract 1.1).
    pub blocked_photo: Option<BlockedPhoto>,
}

/// A photo an event references that the station cannot upload *(contract 1.1)*.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedPhoto {
    pub sha256: String,
    /// The (wire) seq of the first event waiting for it.
    pub seq: i64,
    pub problem: PhotoProblem,
}

impl BlockedPhoto {
    /// The supervisor's command that acknowledges it as lost (shown in the alarm).
    pub fn command(&self) -> String {
        format!(
            "returnsd photo-lost {} --badge <supervisor> --reason <why>",
            self.sha256
        )
    }
}

/// Why a photo cannot be uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoProblem {
    /// Not in the photo store.
    Missing,
    /// Its file no longer hashes to its name.
    Damaged,
    /// Its file cannot be read (an I/O error: perhaps passing).
    Unreadable,
}

impl PhotoProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoProblem::Missing => "missing",
            PhotoProblem::Damaged => "damaged",
            PhotoProblem::Unreadable => "unreadable",
        }
    }
}

impl PushStatus {
    /// The worker could not start (the client cannot be built): nothing will be sent.
    pub fn cannot_start(&mut self, error: String) {
        self.state = PushState::Rejected;
        self.last_error = Some(error);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedStatus {
    pub state: FeedState,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl FeedStatus {
    pub fn cannot_start(&mut self, error: String) {
        self.state = FeedState::Rejected;
        self.last_error = Some(error);
    }
}

/// Central time minus station time, and whether it is over the configured limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    pub offset_ms: i64,
    pub alarm: bool,
}

impl ClockReading {
    /// The central read `server_time` while answering a request sent at `sent_at` that took
    /// `rtt` to answer: assume it read its clock halfway through.
    pub fn measure(
        server_time: DateTime<Utc>,
        sent_at: DateTime<Utc>,
        rtt: Duration,
        limit: Duration,
    ) -> ClockReading {
        let halfway = sent_at + chrono::Duration::from_std(rtt / 2).unwrap_or_default();
        let offset_ms = (server_time - halfway).num_milliseconds();
        ClockReading {
            offset_ms,
            alarm: offset_ms.unsigned_abs() > limit.as_millis() as u64,
        }
    }
}

pub type SharedStatus = Arc<Mutex<SyncStatus>>;

pub fn new_status() -> SharedStatus {
    Arc::new(Mutex::new(SyncStatus::default()))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The offset is measured against the request's midpoint and alarms only past the limit.
    #[test]
    fn clock_offset_uses_the_midpoint_and_the_limit() {
        let sent = DateTime::parse_from_rfc3339("2026-11-25T08:30:00.000Z")
            .unwrap()
            .to_utc();
        let server = sent + chrono::Duration::milliseconds(1_100);
        let limit = Duration::from_secs(1);
        let r = ClockReading::measure(server, sent, Duration::from_millis(200), limit);
        assert_eq!(r.offset_ms, 1_000);
        assert!(!r.alarm, "exactly at the limit is no alarm");
        let r = ClockReading::measure(server, sent, Duration::ZERO, limit);
        assert_eq!(
            r,
            ClockReading {
                offset_ms: 1_100,
                alarm: true
            }
        );
        let behind = ClockReading::measure(sent, server, Duration::ZERO, limit);
        assert!(behind.alarm && behind.offset_ms == -1_100);
    }
}
