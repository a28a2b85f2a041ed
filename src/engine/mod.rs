//! The engine: the one task that calls `domain::step`. It owns the writer connection and
//! the folded state, takes a closed set of inputs from a bounded channel, and commits each
//! group of inputs (group commit) in one `synchronous=FULL` transaction before it answers
//! any of them. A scan is acknowledged only after its events are on disk.
//!
//! - [`handle`]: the cloneable [`EngineHandle`] and the closed set of inputs it sends;
//! - `handlers`: one handler per input kind, deciding what a batch writes;
//! - `writer`: the engine thread's loop — group commit, answers after commit, the disk
//!   cap, and what it does after a storage error (`store::durable`);
//! - [`stats`]: the counters and the storage state operators see.

pub mod handle;
mod handlers;
pub mod stats;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc};

use crate::config::Config;
use crate::domain::doubleread::DoubleReadFilter;
use crate::domain::ports::Settings;
use crate::domain::scan::ScanGrammar;
use crate::domain::step::Effect;
use crate::store::{Store, StoreError};

use handle::Input;
use handlers::Core;
use writer::{Engine, checkpointer};

pub use handle::EngineHandle;
pub use stats::Stats;

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
    fn not_stored(code: &str) -> Reply {
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
    fn kept(kept: Kept) -> Reply {
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

/// How long an `Idempotency-Key`'s answer is kept.
pub const KEEP_MS: i64 = 24 * 3600 * 1000;

/// An `Idempotency-Key` sent with a command: the engine looks it up in `idempotency_keys`
/// before running the command and, when it runs it, records the answer (as `render` makes
/// it from the reply) in the same transaction as the command's events.
pub struct Keep {
    pub badge: String,
    pub key: String,
    pub fingerprint: [u8; 32],
    /// The caller's answer (HTTP status, JSON body) for a reply.
    pub render: Render,
}

impl Keep {
    /// Keys are 1 to 128 visible ASCII characters.
    pub fn valid_key(k: &str) -> bool {
        !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic())
    }

    /// What identifies "the same request": a digest of its parts (kept with the key, so
    /// a key reused for a different request is told apart).
    pub fn fingerprint(parts: &[&[u8]]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                h.update([0]);
            }
            h.update(p);
        }
        h.finalize().into()
    }
}

/// Makes the caller's answer (HTTP status, JSON body) from a reply.
pub type Render = Box<dyn FnOnce(&Reply) -> (u16, serde_json::Value) + Send>;

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
}

/// Errors that stop the engine from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("scan grammar: {0}")]
    Grammar(String),
}

/// Open the database, load the state and start the engine thread.
pub fn start(
    cfg: Arc<Config>,
    clock: Clock,
) -> Result<
    (
        EngineHandle,
        mpsc::UnboundedReceiver<Effect>,
        std::thread::JoinHandle<()>,
    ),
    StartError,
> {
    std::fs::create_dir_all(&cfg.state_dir).map_err(|source| StartError::StateDir {
        path: cfg.state_dir.clone(),
        source,
    })?;
    let store = Store::open(&cfg.database, cfg.station.as_str())?;
    // Checkpoints copy WAL pages into the database file and fsync it: tens of pages of
    // work that must not land inside a scan's commit. The checkpointer thread does them.
    store
        .conn()
        .execute_batch("PRAGMA wal_autocheckpoint=0;")
        .map_err(StoreError::from)?;
    // The WAL counts against the disk cap: keep it to an eighth of the cap (1–64 MiB).
    let wal_limit = (cfg.cap_bytes / 8).clamp(1 << 20, 64 << 20);
    store
        .conn()
        .execute_batch(&format!("PRAGMA journal_size_limit={wal_limit};"))
        .map_err(StoreError::from)?;
    let page_size: i64 = store
        .conn()
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(StoreError::from)?;
    let mut station = store.load_station()?;
    crate::store::snapshot::load_and_backfill(store.conn(), &mut station)?;
    let grammar = ScanGrammar::new(&cfg.couriers, cfg.scan_max_len)
        .map_err(|e| StartError::Grammar(format!("{e:?}")))?;
    let (tx, mut rx) = mpsc::channel(cfg.queue);
    let (events, _) = broadcast::channel(4096);
    let (effects_tx, effects_rx) = mpsc::unbounded_channel();
    let stats = Arc::new(Stats::default());
    stats
        .last_seq
        .store(store.last_seq() as u64, Ordering::Relaxed);
    let epoch: Arc<str> = Arc::from(store.epoch());
    let settings = Settings {
        station: cfg.station.clone(),
        tz: cfg.timezone,
        defect_photo_required: cfg.defect_photo_required,
        two_person_check: cfg.two_person_check,
    };
    let mut engine = Engine {
        store,
        core: Core {
            station,
            settings,
            grammar,
            filter: DoubleReadFilter::new(cfg.double_read_window_ms),
            cfg: cfg.clone(),
            stats: stats.clone(),
            abort_after_scan: std::env::var_os("RETURNSD_TEST_ABORT_AFTER_SCAN").map(|c| {
                use std::os::unix::ffi::OsStrExt;
                c.as_bytes().to_vec()
            }),
        },
        clock,
        stats: stats.clone(),
        events: events.clone(),
        effects: effects_tx,
        checkpoint_fault: Arc::new(AtomicBool::new(false)),
        repair_tried: None,
        wal_limit,
        page_size,
    };
    let max = cfg.group_commit_max;
    let (stop_checkpoints, ticks) = std::sync::mpsc::channel::<()>();
    let db = cfg.database.clone();
    let ckpt_fault = engine.checkpoint_fault.clone();
    let ckpt_stats = stats.clone();
    let checkpoints = std::thread::Builder::new()
        .name("returnsd-checkpoint".into())
        .spawn(move || checkpointer(&db, ticks, &ckpt_fault, &ckpt_stats))
        .map_err(|source| StartError::StateDir {
            path: cfg.state_dir.clone(),
            source,
        })?;
    let join = std::thread::Builder::new()
        .name("returnsd-engine".into())
        .spawn(move || {
            let mut batch = std::collections::VecDeque::with_capacity(max);
            while let Some(first) = rx.blocking_recv() {
                match first {
                    Input::Close => rx.close(),
                    other => batch.push_back(other),
                }
                while batch.len() < max {
                    match rx.try_recv() {
                        Ok(Input::Close) => rx.close(),
                        Ok(i) => batch.push_back(i),
                        Err(_) => break,
                    }
                }
                if !batch.is_empty() {
                    engine.process(&mut batch);
                }
            }
            // Close the writer, then let the checkpointer fold the WAL into the database
            // and close the last connection, so a stopped station leaves one clean file.
            drop(engine);
            drop(stop_checkpoints);
            let _ = checkpoints.join();
            tracing::info!("engine stopped: every acknowledged input is committed");
        })
        .map_err(|source| StartError::StateDir {
            path: cfg.state_dir.clone(),
            source,
        })?;
    Ok((
        EngineHandle {
            tx,
            started: Instant::now(),
            stats,
            events,
            epoch,
        },
        effects_rx,
        join,
    ))
}

/// Record a keyed command's answer in the batch's transaction (nothing to do without a
/// key); an error fails the batch.
fn keep_answer(
    conn: &rusqlite::Connection,
    keep: Option<Keep>,
    reply: &mut Reply,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(k) = keep else {
        return Ok(());
    };
    let (status, body) = (k.render)(reply);
    let answer = crate::store::api_state::KeptAnswer {
        fingerprint: k.fingerprint,
        status,
        body,
        created_at: now.timestamp_millis(),
    };
    crate::store::api_state::idem_put(conn, &k.badge, &k.key, &answer)?;
    reply.kept = Some(Kept::Recorded(answer.status, answer.body));
    Ok(())
}

fn params_owned(p: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    p.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The answer already kept for an input's key, if it has one (within [`KEEP_MS`]).
fn kept_reply(
    conn: &rusqlite::Connection,
    keep: Option<&Keep>,
    now: DateTime<Utc>,
) -> Result<Option<Reply>, StoreError> {
    let Some(k) = keep else {
        return Ok(None);
    };
    Ok(
        match crate::store::api_state::idem_get(conn, &k.badge, &k.key)? {
            Some(a) if now.timestamp_millis() - a.created_at < KEEP_MS => {
                Some(Reply::kept(if a.fingerprint == k.fingerprint {
                    Kept::Replay(a.status, a.body)
                } else {
                    Kept::Mismatch
                }))
            }
            _ => None,
        },
    )
}
