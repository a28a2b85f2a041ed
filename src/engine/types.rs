//! What the engine answers and publishes: an input's [`Reply`] and its [`Outcome`], the
//! committed events it broadcasts, a feed page and what applying it did, and the clock.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// The time source; tests pass a fixed or stepped clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// What an input's sender is told.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The operator's action succeeded (green banner).
    pub ok: bool,
    /// Events were committed to disk for this input.
    pub stored: bool,
    pub code: String,
    pub params: Vec<(String, String)>,
    /// The seq range this input's events got, when stored.
    pub seqs: Option<(i64, i64)>,
    pub return_id: Option<String>,
    /// For an input sent with a [`Keep`]: what became of its key (None when nothing was
    /// decided in a transaction, e.g. the batch failed or the disk is full).
    pub kept: Option<Kept>,
}

/// The codes of answers to inputs that were not stored because the station could not
/// write (or is stopping): the only answers that mean "nothing was recorded, try again".
pub const NOT_STORED: &[&str] = &[
    "engine_stopped",
    "storage_error",
    "storage_full",
    "storage_cap",
    "storage_fault",
];

/// What became of an input, as the bench, scripts and exit codes tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (green): recorded, or a double read of a recorded scan.
    Accepted,
    /// Refused: the operator must do something else (recorded as a refused scan, or a
    /// command the rules turned down, which records nothing by design).
    Refused,
    /// Nothing was recorded because the station could not write: try again.
    NotStored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Refused => "refused",
            Outcome::NotStored => "not_stored",
        }
    }
}

impl Reply {
    pub(super) fn not_stored(code: &str) -> Reply {
        Reply {
            ok: false,
            stored: false,
            code: code.to_string(),
            params: Vec::new(),
            seqs: None,
            return_id: None,
            kept: None,
        }
    }

    pub fn outcome(&self) -> Outcome {
        if self.ok {
            Outcome::Accepted
        } else if !self.stored && NOT_STORED.contains(&self.code.as_str()) {
            Outcome::NotStored
        } else {
            Outcome::Refused
        }
    }

    /// The answer to a command whose key was already used: nothing was applied.
    pub(super) fn kept(kept: Kept) -> Reply {
        Reply {
            ok: false,
            stored: false,
            code: "idempotency_kept".to_string(),
            params: Vec::new(),
            seqs: None,
            return_id: None,
            kept: Some(kept),
        }
    }
}

/// A committed journal event, broadcast after commit (for live pages and the sync worker).
#[derive(Debug, Clone)]
pub struct Committed {
    pub seq: i64,
    pub ty: &'static str,
    pub return_id: Option<String>,
}

/// One page of the central's feed, parsed at the edge.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    pub items: Vec<crate::feed::FeedItem>,
    /// Items too malformed to parse as items at all: (reason, raw JSON).
    pub malformed: Vec<(String, String)>,
    pub next_after: String,
}

/// What applying a feed page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedApplied {
    pub stored: usize,
    pub deleted: usize,
    pub stale: usize,
    pub rejected: usize,
    /// Badges of `operator` items deleted, or whose roles or PIN changed: their API
    /// sessions end (contract 1.1, § 6.5).
    pub operators_changed: Vec<String>,
}

/// What became of a command's `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub enum Kept {
    /// The command ran (or was refused by the domain) and this answer was committed with it.
    Recorded(u16, serde_json::Value),
    /// The key already answered this same request: its answer; nothing was applied.
    Replay(u16, serde_json::Value),
    /// The key already answered a different request; nothing was applied.
    Mismatch,
}

/// Why the engine did not do what one of the station's own workers asked (an ack, a feed
/// page, a print job's progress, pruning, a session row, part of a manifest).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The engine has stopped (the daemon is shutting down): nothing was done.
    #[error("engine stopped")]
    Stopped,
    /// The batch it was in could not be committed: nothing of it is on disk.
    #[error("not stored: {0}")]
    NotStored(String),
    /// The request itself is wrong (e.g. an ack beyond the journal's end).
    #[error("{0}")]
    Refused(String),
}

impl From<EngineError> for String {
    fn from(e: EngineError) -> String {
        e.to_string()
    }
}
