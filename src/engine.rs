//! The engine: the one task that calls `domain::step`. It owns the writer connection and
//! the folded state, takes a closed set of inputs from a bounded channel, and commits each
//! group of inputs (group commit) in one `synchronous=FULL` transaction before it answers
//! any of them. A scan is acknowledged only after its events are on disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::config::Config;
use crate::domain::doubleread::DoubleReadFilter;
use crate::domain::error::DomainError;
use crate::domain::ids::Badge;
use crate::domain::kind::Role;
use crate::domain::model::Station;
use crate::domain::ports::{Lookup, Settings};
use crate::domain::scan::ScanGrammar;
use crate::domain::step::{Command, Effect, Operator, Transition, step};
use crate::refdata::DbLookup;
use crate::store::{Batch, Store, StoreError};

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

/// Counters visible to operators (API, metrics).
#[derive(Debug, Default)]
pub struct Stats {
    pub scans: AtomicU64,
    pub double_reads: AtomicU64,
    pub rejected_scans: AtomicU64,
    pub batches: AtomicU64,
    pub storage_errors: AtomicU64,
    pub last_seq: AtomicU64,
    /// Bytes the photo store uses (kept current by the maintenance task).
    pub photo_bytes: AtomicU64,
    /// Bytes in use at the last batch: database pages in use + WAL + photos.
    pub disk_used: AtomicU64,
    /// Inputs refused for lack of storage (the cap, a full filesystem, a storage fault).
    pub refused_full: AtomicU64,
    /// Events pruned since start.
    pub pruned: AtomicU64,
    /// The station's own disk cap was reached at the last batch.
    pub cap_full: AtomicBool,
    /// The last write failed because the filesystem under the state directory is full
    /// (below the cap); cleared by the next successful commit.
    pub fs_full: AtomicBool,
    /// Free bytes on that filesystem when it was found full.
    pub fs_free: AtomicU64,
    /// Stopped for storage after an I/O error: what happened, until the station has
    /// re-verified what is on disk (see `store::durable`).
    pub storage_fault: std::sync::Mutex<Option<String>>,
}

impl Stats {
    /// The storage fault's description, if the station is stopped for storage.
    pub fn storage_fault(&self) -> Option<String> {
        self.storage_fault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_storage_fault(&self, fault: Option<String>) {
        *self.storage_fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }
}

enum Input {
    Scan {
        bench: String,
        bytes: Vec<u8>,
        at_ms: u64,
        /// A client request id: its answer is kept, so a resubmission after an unknown
        /// outcome is answered, never recorded twice.
        keep: Option<Keep>,
        reply: oneshot::Sender<Reply>,
    },
    Command {
        badge: Badge,
        role: Option<Role>,
        cmd: Box<Command>,
        keep: Option<Keep>,
        reply: oneshot::Sender<Reply>,
    },
    /// Operator API sessions and lockouts (station-local rows, not journal events).
    Auth {
        writes: Vec<crate::store::api_state::AuthWrite>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The central acknowledged the journal through `through` (push or pull).
    Ack {
        through: i64,
        reply: oneshot::Sender<Result<i64, String>>,
    },
    /// A feed page: its items applied and its cursor stored in one transaction.
    Feed {
        page: FeedPage,
        reply: oneshot::Sender<Result<FeedApplied, String>>,
    },
    /// The print worker reports what happened to a job.
    PrintJob {
        update: crate::store::jobs::JobUpdate,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Prune acknowledged events older than the retention period.
    Prune {
        reply: oneshot::Sender<Result<i64, String>>,
    },
    /// The daemon is stopping: commit what was sent before this, refuse what comes after.
    Close,
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

/// A cheap, cloneable handle to the engine.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Input>,
    started: Instant,
    pub stats: Arc<Stats>,
    pub events: broadcast::Sender<Committed>,
    pub epoch: Arc<str>,
}

impl EngineHandle {
    /// Submit a scan from a bench; resolves once it is durably recorded (or refused).
    pub async fn scan(&self, bench: &str, bytes: Vec<u8>) -> Reply {
        self.scan_kept(bench, bytes, None).await
    }

    /// [`EngineHandle::scan`] with a client request id ([`Keep`]): a scan whose id was
    /// already answered gets that answer back ([`Kept::Replay`]) and is not recorded again.
    pub async fn scan_kept(&self, bench: &str, bytes: Vec<u8>, keep: Option<Keep>) -> Reply {
        let at_ms = self.started.elapsed().as_millis() as u64;
        let (reply, rx) = oneshot::channel();
        let input = Input::Scan {
            bench: bench.to_string(),
            bytes,
            at_ms,
            keep,
            reply,
        };
        if self.tx.send(input).await.is_err() {
            return Reply::not_stored("engine_stopped");
        }
        rx.await
            .unwrap_or_else(|_| Reply::not_stored("engine_stopped"))
    }

    /// Record the central's acknowledgement; answers the cursor after it (never lower).
    pub async fn ack(&self, through: i64) -> Result<i64, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Ack { through, reply })
            .await
            .map_err(|_| "engine stopped".to_string())?;
        rx.await.map_err(|_| "engine stopped".to_string())?
    }

    /// Apply a feed page and store its cursor in the same transaction.
    pub async fn apply_feed(&self, page: FeedPage) -> Result<FeedApplied, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Feed { page, reply })
            .await
            .map_err(|_| "engine stopped".to_string())?;
        rx.await.map_err(|_| "engine stopped".to_string())?
    }

    /// Record a print job's progress (the print worker's only way to write).
    pub async fn print_job(&self, update: crate::store::jobs::JobUpdate) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::PrintJob { update, reply })
            .await
            .map_err(|_| "engine stopped".to_string())?;
        rx.await.map_err(|_| "engine stopped".to_string())?
    }

    /// Stop taking inputs: everything sent before is committed (and answered), later
    /// senders are told the engine stopped; the engine thread then ends even while
    /// handles are still alive (a lingering HTTP or control connection).
    pub async fn close(&self) {
        let _ = self.tx.send(Input::Close).await;
    }

    /// Prune acknowledged, expired events (a contiguous prefix of the journal); answers how
    /// many were removed.
    pub async fn prune(&self) -> Result<i64, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Prune { reply })
            .await
            .map_err(|_| "engine stopped".to_string())?;
        rx.await.map_err(|_| "engine stopped".to_string())?
    }

    /// Store operator API session and lockout changes (committed before the answer).
    pub async fn auth(
        &self,
        writes: Vec<crate::store::api_state::AuthWrite>,
    ) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Auth { writes, reply })
            .await
            .map_err(|_| "engine stopped".to_string())?;
        rx.await.map_err(|_| "engine stopped".to_string())?
    }

    /// Journal `operator.locked_out` for a badge (the operator API's lockout).
    pub async fn record_lockout(&self, badge: Badge, failures: u32, minutes: u32) -> Reply {
        let cmd = Command::RecordLockout {
            badge: badge.clone(),
            failures,
            minutes,
        };
        self.command(badge, None, cmd).await
    }

    /// Submit an operator command. The operator is checked against the reference data;
    /// `role` picks which of their roles they act in (default: their most capable).
    pub async fn command(&self, badge: Badge, role: Option<Role>, cmd: Command) -> Reply {
        self.command_kept(badge, role, cmd, None).await
    }

    /// [`EngineHandle::command`] with an optional `Idempotency-Key` ([`Keep`]): see
    /// [`Reply::kept`] for what became of it.
    pub async fn command_kept(
        &self,
        badge: Badge,
        role: Option<Role>,
        cmd: Command,
        keep: Option<Keep>,
    ) -> Reply {
        let (reply, rx) = oneshot::channel();
        let input = Input::Command {
            badge,
            role,
            cmd: Box::new(cmd),
            keep,
            reply,
        };
        if self.tx.send(input).await.is_err() {
            return Reply::not_stored("engine_stopped");
        }
        rx.await
            .unwrap_or_else(|_| Reply::not_stored("engine_stopped"))
    }
}

/// The engine thread's state: the writer connection and, apart from it (so a batch can
/// borrow the connection while the handlers change the rest), the [`Core`].
struct Engine {
    store: Store,
    core: Core,
    clock: Clock,
    stats: Arc<Stats>,
    events: broadcast::Sender<Committed>,
    effects: mpsc::UnboundedSender<Effect>,
    /// The checkpointer thread saw an I/O error: the engine re-verifies before its next
    /// batch.
    checkpoint_fault: Arc<AtomicBool>,
    /// When the engine last tried to re-verify the disk while stopped for storage (it
    /// tries again at most every [`REPAIR_EVERY`]).
    repair_tried: Option<Instant>,
    /// WAL size past which the engine checkpoints itself between batches: under sustained
    /// writes the checkpointer thread's passive checkpoints never catch up, so the WAL
    /// would never restart.
    wal_limit: u64,
    /// The database's page size (fixed once the file exists).
    page_size: i64,
}

/// What the input handlers work on: the folded state and what they need to decide.
struct Core {
    /// The projections as of the last commit (plus the batch's events while one is open).
    station: Station,
    cfg: Arc<Config>,
    /// The rules' settings, taken from the config once.
    settings: Settings,
    grammar: ScanGrammar,
    /// Drops a trigger pull read twice; only committed reads open its window.
    filter: DoubleReadFilter,
    stats: Arc<Stats>,
    /// Test-only fault: end the process right after the batch holding a scan of this code
    /// commits, before anyone is answered (`RETURNSD_TEST_ABORT_AFTER_SCAN`; never set in
    /// production). It is how the tests make "the daemon died mid-request" happen at a
    /// known point.
    abort_after_scan: Option<Vec<u8>>,
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
    std::fs::create_dir_all(&cfg.storage.state_dir).map_err(|source| StartError::StateDir {
        path: cfg.storage.state_dir.clone(),
        source,
    })?;
    let store = Store::open(&cfg.storage.database, cfg.station.id.as_str())?;
    // Checkpoints copy WAL pages into the database file and fsync it: tens of pages of
    // work that must not land inside a scan's commit. The checkpointer thread does them.
    store
        .conn()
        .execute_batch("PRAGMA wal_autocheckpoint=0;")
        .map_err(StoreError::from)?;
    // The WAL counts against the disk cap: keep it to an eighth of the cap (1–64 MiB).
    let wal_limit = (cfg.storage.cap_bytes / 8).clamp(1 << 20, 64 << 20);
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
    let grammar = ScanGrammar::new(&cfg.scan.couriers, cfg.scan.max_len)
        .map_err(|e| StartError::Grammar(format!("{e:?}")))?;
    let (tx, mut rx) = mpsc::channel(cfg.engine.queue);
    let (events, _) = broadcast::channel(4096);
    let (effects_tx, effects_rx) = mpsc::unbounded_channel();
    let stats = Arc::new(Stats::default());
    stats
        .last_seq
        .store(store.last_seq() as u64, Ordering::Relaxed);
    let epoch: Arc<str> = Arc::from(store.epoch());
    let settings = Settings {
        station: cfg.station.id.clone(),
        tz: cfg.station.timezone,
        defect_photo_required: cfg.inspection.defect_photo_required,
        two_person_check: cfg.inspection.two_person_check,
    };
    let mut engine = Engine {
        store,
        core: Core {
            station,
            settings,
            grammar,
            filter: DoubleReadFilter::new(cfg.scan.double_read_window_ms),
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
    let max = cfg.engine.group_commit_max;
    let (stop_checkpoints, ticks) = std::sync::mpsc::channel::<()>();
    let db = cfg.storage.database.clone();
    let ckpt_fault = engine.checkpoint_fault.clone();
    let ckpt_stats = stats.clone();
    let checkpoints = std::thread::Builder::new()
        .name("returnsd-checkpoint".into())
        .spawn(move || checkpointer(&db, ticks, &ckpt_fault, &ckpt_stats))
        .map_err(|source| StartError::StateDir {
            path: cfg.storage.state_dir.clone(),
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
            path: cfg.storage.state_dir.clone(),
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

/// Run passive WAL checkpoints from a connection of its own, off the commit path, every
/// 250 ms; a final truncating checkpoint when the engine stops. An I/O error stops the
/// station for storage until the engine has re-verified the disk (`store::durable`).
fn checkpointer(
    db: &std::path::Path,
    stop: std::sync::mpsc::Receiver<()>,
    fault: &AtomicBool,
    stats: &Stats,
) {
    let conn = match crate::store::open_connection(db, false) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "checkpointer cannot open the database; the WAL will grow");
            return;
        }
    };
    let checkpoint = |mode: &str| {
        let r = conn
            .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
            .map_err(|e| StoreError::Sql(e).at(db));
        if let Err(e) = &r {
            tracing::warn!(error = %e, "WAL checkpoint failed");
            if crate::store::durable::is_io_error(e) {
                stats.set_storage_fault(Some(format!("checkpoint: {e}")));
                fault.store(true, Ordering::SeqCst);
            }
        }
    };
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
        stop.recv_timeout(std::time::Duration::from_millis(250))
    {
        if !fault.load(Ordering::SeqCst) {
            checkpoint("PASSIVE");
        }
    }
    if !fault.load(Ordering::SeqCst) && stats.storage_fault().is_none() {
        checkpoint("TRUNCATE");
    }
}

fn apply_feed_page(
    conn: &rusqlite::Connection,
    page: &FeedPage,
    now: DateTime<Utc>,
) -> Result<FeedApplied, StoreError> {
    use crate::feed::Applied;
    let mut out = FeedApplied::default();
    for item in &page.items {
        match crate::feed::apply(conn, item, "central", now)? {
            Applied::Stored => out.stored += 1,
            Applied::Deleted => out.deleted += 1,
            Applied::Stale => out.stale += 1,
            Applied::Rejected(reason) => {
                tracing::warn!(ty = %item.ty, key = %item.key, %reason, "feed item rejected");
                out.rejected += 1;
            }
        }
    }
    for (reason, raw) in &page.malformed {
        crate::feed::reject(conn, None, reason, "central", raw, now)?;
        tracing::warn!(%reason, "malformed feed item rejected");
        out.rejected += 1;
    }
    crate::store::set_feed_after(conn, &page.next_after)?;
    Ok(out)
}

fn authorize(lk: &dyn Lookup, badge: &Badge, role: Option<Role>) -> Result<Operator, DomainError> {
    let op = lk
        .operator(badge.as_str())
        .ok_or_else(|| DomainError::UnknownOperator {
            badge: badge.as_str().to_string(),
        })?;
    let role = match role {
        Some(r) if op.has(r) => r,
        Some(r) => {
            return Err(DomainError::RoleNotAllowed {
                role: r,
                action: "act_as",
            });
        }
        None => op.primary_role(),
    };
    Ok(Operator {
        badge: badge.clone(),
        role,
    })
}

fn set_operator(cmd: &mut Command, op: Operator) {
    match cmd {
        Command::Scan { .. } | Command::RecordLockout { .. } => {}
        Command::Inspect { by, .. }
        | Command::PutAway { by, .. }
        | Command::ExchangeShipped { by, .. }
        | Command::Restock { by, .. }
        | Command::CreateRtvNote { by, .. }
        | Command::Reprint { by, .. }
        | Command::Void { by, .. }
        | Command::SetBin { by, .. }
        | Command::CloseRtvNote { by, .. } => *by = op,
    }
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

/// How often a station stopped for storage tries again to re-verify the disk.
const REPAIR_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Free bytes on the filesystem holding `dir` (None when it cannot be asked).
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we pass; the path is NUL-terminated.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c.as_ptr(), &mut st) == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
    }
}

/// An answer held until the batch commits (or fails), with where it goes.
enum Pending {
    Reply(oneshot::Sender<Reply>, Reply),
    Count(oneshot::Sender<Result<i64, String>>, Result<i64, String>),
    Feed(
        oneshot::Sender<Result<FeedApplied, String>>,
        Result<FeedApplied, String>,
    ),
    Done(oneshot::Sender<Result<(), String>>, Result<(), String>),
}

impl Pending {
    /// The batch committed: say what was decided.
    fn send(self) {
        let _ = match self {
            Pending::Reply(tx, r) => tx.send(r).map_err(drop),
            Pending::Count(tx, r) => tx.send(r).map_err(drop),
            Pending::Feed(tx, r) => tx.send(r).map_err(drop),
            Pending::Done(tx, r) => tx.send(r).map_err(drop),
        };
    }

    /// Nothing of the batch is on disk: say so (`code` for operators' replies).
    fn fail(self, code: &str, detail: &str) {
        let why = format!("not stored: {detail}");
        let _ = match self {
            Pending::Reply(tx, _) => tx.send(Reply::not_stored(code)).map_err(drop),
            Pending::Count(tx, _) => tx.send(Err(why)).map_err(drop),
            Pending::Feed(tx, _) => tx.send(Err(why)).map_err(drop),
            Pending::Done(tx, _) => tx.send(Err(why)).map_err(drop),
        };
    }
}

impl Input {
    /// The input was not taken: tell its sender (`code` for operators' replies).
    fn fail(self, code: &str, detail: &str) {
        let p = match self {
            Input::Scan { reply, .. } | Input::Command { reply, .. } => {
                Pending::Reply(reply, Reply::not_stored(code))
            }
            Input::Auth { reply, .. } | Input::PrintJob { reply, .. } => {
                Pending::Done(reply, Ok(()))
            }
            Input::Ack { reply, .. } | Input::Prune { reply } => Pending::Count(reply, Ok(0)),
            Input::Feed { reply, .. } => Pending::Feed(reply, Ok(FeedApplied::default())),
            Input::Close => return,
        };
        p.fail(code, detail);
    }

    /// An operator's input (a scan or a command), as opposed to the station's own work.
    fn is_operator(&self) -> bool {
        matches!(self, Input::Scan { .. } | Input::Command { .. })
    }
}

/// What a batch produced besides its answers: sent on only once it has committed.
#[derive(Default)]
struct Out {
    pending: Vec<Pending>,
    effects: Vec<Effect>,
    committed: Vec<Committed>,
    /// Events pruned in this batch.
    pruned: i64,
    /// The test-only abort hook matched a scan of this batch.
    abort: bool,
}

impl Out {
    /// Hold an input's answer until the batch ends; a database error fails the whole
    /// batch (`pending` gets `None` then: the answer will be "not stored" whatever it says).
    fn hold<T>(
        &mut self,
        r: Result<T, StoreError>,
        pending: impl FnOnce(Option<T>) -> Pending,
    ) -> Result<(), StoreError> {
        match r {
            Ok(v) => {
                self.pending.push(pending(Some(v)));
                Ok(())
            }
            Err(e) => {
                self.pending.push(pending(None));
                Err(e)
            }
        }
    }
}

impl Core {
    /// Take one input into the open batch. An error fails the batch (every input in it is
    /// answered "not stored"); a refusal by the rules is an answer, not an error.
    fn handle(
        &mut self,
        batch: &mut Batch<'_>,
        input: Input,
        now: DateTime<Utc>,
        cap_full: bool,
        out: &mut Out,
    ) -> Result<(), StoreError> {
        if cap_full && input.is_operator() {
            // The disk cap: new work is refused (not dropped: the sender is told NOT
            // SAVED) while the database, its WAL and the photos use the whole cap.
            self.stats.refused_full.fetch_add(1, Ordering::Relaxed);
            input.fail("storage_cap", "the disk cap is reached");
            return Ok(());
        }
        match input {
            // Taken out by the engine thread before batching.
            Input::Close => Ok(()),
            Input::Auth { writes, reply } => {
                let r = writes
                    .iter()
                    .try_for_each(|w| crate::store::api_state::apply(batch.conn(), w));
                out.hold(r, |_| Pending::Done(reply, Ok(())))
            }
            Input::Prune { reply } => {
                let r = self.prune(batch, now);
                if let Ok(n) = &r {
                    out.pruned += n;
                }
                out.hold(r, |n| Pending::Count(reply, Ok(n.unwrap_or(0))))
            }
            Input::PrintJob { update, reply } => {
                let r = crate::store::jobs::apply(batch.conn(), &update);
                out.hold(r, |_| Pending::Done(reply, Ok(())))
            }
            Input::Ack { through, reply } => {
                let last = batch.next_seq_ref() - 1;
                let r = if through > last {
                    Ok(Err(format!(
                        "acked_through {through} is beyond the journal's last seq {last}"
                    )))
                } else if through < 0 {
                    Ok(Err("acked_through must not be negative".to_string()))
                } else {
                    crate::store::advance_ack(batch.conn(), through).map(Ok)
                };
                out.hold(r, |a| Pending::Count(reply, a.unwrap_or(Ok(0))))
            }
            Input::Feed { page, reply } => {
                let r = apply_feed_page(batch.conn(), &page, now);
                out.hold(r, |a| Pending::Feed(reply, Ok(a.unwrap_or_default())))
            }
            Input::Scan {
                bench,
                bytes,
                at_ms,
                keep,
                reply,
            } => {
                let r = self.scan(batch, bench, bytes, at_ms, keep, now, out);
                out.hold(r, |r| {
                    Pending::Reply(reply, r.unwrap_or_else(|| Reply::not_stored("")))
                })
            }
            Input::Command {
                badge,
                role,
                cmd,
                keep,
                reply,
            } => {
                let r = self.command(batch, badge, role, *cmd, keep, now, out);
                out.hold(r, |r| {
                    Pending::Reply(reply, r.unwrap_or_else(|| Reply::not_stored("")))
                })
            }
        }
    }

    /// Housekeeping of the API's rows (idle sessions, spent lockouts, idempotency answers
    /// past 24 h), then acknowledged events past the retention period.
    fn prune(&self, batch: &Batch<'_>, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let cutoff = now - chrono::Duration::from_std(self.cfg.sync.retention).unwrap_or_default();
        let http = &self.cfg.http;
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        crate::store::api_state::prune(
            batch.conn(),
            now.timestamp_millis(),
            ms(http.session_idle),
            ms(http.lockout_window),
            KEEP_MS,
        )?;
        crate::store::prune(batch.conn(), cutoff, 20_000)
    }

    /// A scan from a bench. A request id already answered gets its answer back; a double
    /// read of the bench's last committed read is dropped; anything else is journaled.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &mut self,
        batch: &mut Batch<'_>,
        bench: String,
        bytes: Vec<u8>,
        at_ms: u64,
        keep: Option<Keep>,
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<Reply, StoreError> {
        self.stats.scans.fetch_add(1, Ordering::Relaxed);
        if let Some(r) = kept_reply(batch.conn(), keep.as_ref(), now)? {
            return Ok(r);
        }
        if self.filter.is_double(&bench, &bytes, at_ms) {
            self.stats.double_reads.fetch_add(1, Ordering::Relaxed);
            let mut r = Reply::not_stored("double_read");
            r.ok = true;
            keep_answer(batch.conn(), keep, &mut r, now)?;
            return Ok(r);
        }
        out.abort |= self.abort_after_scan.as_deref() == Some(bytes.as_slice());
        let scan = self.grammar.classify(&bytes);
        let lk = DbLookup {
            conn: batch.conn(),
            cfg: &self.cfg,
        };
        let cmd = Command::Scan {
            bench,
            text: scan.text,
            class: scan.class,
        };
        let outcome = step(&self.station, &lk, &self.settings, cmd, now);
        self.record(batch, outcome, keep, now, out)
    }

    /// An operator command, checked against the operator's roles.
    #[allow(clippy::too_many_arguments)]
    fn command(
        &mut self,
        batch: &mut Batch<'_>,
        badge: Badge,
        role: Option<Role>,
        mut cmd: Command,
        keep: Option<Keep>,
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<Reply, StoreError> {
        if let Some(r) = kept_reply(batch.conn(), keep.as_ref(), now)? {
            return Ok(r);
        }
        let lk = DbLookup {
            conn: batch.conn(),
            cfg: &self.cfg,
        };
        let outcome = if matches!(cmd, Command::RecordLockout { .. }) {
            // The station's own record about a badge, not an operator's act.
            step(&self.station, &lk, &self.settings, cmd, now)
        } else {
            authorize(&lk, &badge, role).and_then(|op| {
                set_operator(&mut cmd, op);
                step(&self.station, &lk, &self.settings, cmd, now)
            })
        };
        self.record(batch, outcome, keep, now, out)
    }

    /// Journal what the rules decided (or answer their refusal), with the key's answer in
    /// the same transaction.
    fn record(
        &mut self,
        batch: &mut Batch<'_>,
        outcome: Result<Transition, DomainError>,
        keep: Option<Keep>,
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<Reply, StoreError> {
        let mut r = match outcome {
            Err(e) => Reply {
                ok: false,
                stored: false,
                code: e.code().to_string(),
                params: params_owned(e.params()),
                seqs: None,
                return_id: None,
                kept: None,
            },
            Ok(tr) => self.append(batch, tr, now, out)?,
        };
        // The key's answer is committed with the command's events, or neither is.
        keep_answer(batch.conn(), keep, &mut r, now)?;
        Ok(r)
    }

    /// Append a transition's events (folding each into the state) and queue its label
    /// jobs in the same transaction.
    fn append(
        &mut self,
        batch: &mut Batch<'_>,
        tr: Transition,
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<Reply, StoreError> {
        if tr.rejected.is_some() {
            self.stats.rejected_scans.fetch_add(1, Ordering::Relaxed);
        }
        let mut seqs: Option<(i64, i64)> = None;
        let mut return_id = None;
        for ev in &tr.events {
            let a = batch.append(ev)?;
            seqs = Some((seqs.map_or(a.seq, |s| s.0), a.seq));
            if return_id.is_none() {
                return_id = ev.return_id.as_ref().map(|r| r.to_string());
            }
            out.committed.push(Committed {
                seq: a.seq,
                ty: ev.body.type_name(),
                return_id: ev.return_id.as_ref().map(|r| r.to_string()),
            });
            self.station.apply(ev);
            // Bin edits and RTV notes keep their snapshot in `meta`.
            crate::store::snapshot::save_for_event(batch.conn(), &self.station, &ev.body)?;
        }
        let last = seqs.map(|s| s.1);
        // Each label job is queued in the same transaction as the event that asked for
        // it: committed together or not at all.
        for e in &tr.effects {
            match e {
                Effect::PrintLabel {
                    return_id,
                    template,
                    reason,
                    item_no,
                } => crate::store::jobs::enqueue(
                    batch.conn(),
                    return_id.as_str(),
                    template,
                    reason.as_str(),
                    item_no.map(i64::from),
                    last,
                    now,
                )?,
                Effect::PrintRtvNote { note_no } => crate::store::jobs::enqueue(
                    batch.conn(),
                    note_no,
                    "rtv_note",
                    "first",
                    None,
                    last,
                    now,
                )?,
            };
        }
        out.effects.extend(tr.effects);
        Ok(Reply {
            ok: tr.feedback.ok,
            stored: true,
            code: tr.feedback.code.to_string(),
            params: params_owned(tr.feedback.params),
            seqs,
            return_id,
            kept: None,
        })
    }
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

impl Engine {
    /// Database pages in use, the WAL file and the photo store.
    fn wal_len(&self) -> u64 {
        let mut wal = self.core.cfg.storage.database.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0)
    }

    fn disk_used(&self) -> u64 {
        let conn = self.store.conn();
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap_or(0);
        let free: i64 = conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .unwrap_or(0);
        let size = self.page_size;
        ((pages - free).max(0) * size) as u64
            + self.wal_len()
            + self.stats.photo_bytes.load(Ordering::Relaxed)
    }

    /// Measure the disk against the cap; true when new work must be refused.
    fn cap_reached(&self) -> bool {
        let cap = self.core.cfg.storage.cap_bytes;
        let used = self.disk_used();
        self.stats.disk_used.store(used, Ordering::Relaxed);
        let full = used >= cap;
        if full != self.stats.cap_full.swap(full, Ordering::Relaxed) {
            if full {
                tracing::error!(
                    used,
                    cap,
                    "disk cap reached: the station refuses new work until space is reclaimed"
                );
            } else {
                tracing::info!(used, cap, "disk below the cap again: accepting work");
            }
        }
        full
    }

    fn process(&mut self, inputs: &mut std::collections::VecDeque<Input>) {
        let now = (self.clock)();
        if self.checkpoint_fault.swap(false, Ordering::SeqCst) {
            let cause = self.stats.storage_fault().unwrap_or_default();
            self.repair(&cause);
        }
        if let Some(fault) = self.stats.storage_fault() {
            let due = self
                .repair_tried
                .is_none_or(|t| t.elapsed() >= REPAIR_EVERY);
            if !(due && self.repair(&fault)) {
                // Stopped for storage: nothing is written until the disk is re-verified.
                for input in inputs.drain(..) {
                    if input.is_operator() {
                        self.stats.refused_full.fetch_add(1, Ordering::Relaxed);
                    }
                    input.fail("storage_fault", &fault);
                }
                return;
            }
        }
        let cap_full = self.cap_reached();
        let mut out = Out::default();
        let core = &mut self.core;
        let result: Result<(), StoreError> = (|| {
            let mut batch = self.store.begin()?;
            while let Some(input) = inputs.pop_front() {
                core.handle(&mut batch, input, now, cap_full, &mut out)?;
            }
            batch.commit(&core.station)
        })();
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => self.committed(out),
            Err(e) => self.not_committed(e.at(self.store.path()), out, inputs),
        }
    }

    /// The batch is on disk: answer everyone, then pass its effects and events on.
    fn committed(&mut self, out: Out) {
        if out.abort {
            tracing::error!("RETURNSD_TEST_ABORT_AFTER_SCAN: ending the process before answering");
            std::process::abort();
        }
        self.core.filter.commit();
        if self.stats.fs_full.swap(false, Ordering::Relaxed) {
            tracing::info!("the filesystem has room again: accepting work");
        }
        self.stats
            .last_seq
            .store(self.store.last_seq() as u64, Ordering::Relaxed);
        for p in out.pending {
            p.send();
        }
        if out.pruned > 0 {
            self.stats
                .pruned
                .fetch_add(out.pruned as u64, Ordering::Relaxed);
            // Give the freed pages back to the file system.
            let _ = self
                .store
                .conn()
                .execute_batch("PRAGMA incremental_vacuum;");
        }
        for e in out.effects {
            let _ = self.effects.send(e);
        }
        for c in out.committed {
            let _ = self.events.send(c);
        }
        // Everyone is answered; now, if the WAL outgrew its limit, fold it back so the next
        // write restarts it (and trims the file to the limit).
        if self.wal_len() > self.wal_limit
            && let Err(e) =
                self.store
                    .conn()
                    .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            let e = StoreError::Sql(e).at(self.store.path());
            tracing::warn!(error = %e, "WAL checkpoint failed");
            if crate::store::durable::is_io_error(&e) {
                self.repair(&format!("checkpoint: {e}"));
            }
        }
    }

    /// Nothing of the batch is on disk. After an I/O error, first re-establish what is
    /// (so that nothing answered "not saved" can surface later); then tell every sender,
    /// and fold the state back from the database so memory matches disk again.
    fn not_committed(
        &mut self,
        e: StoreError,
        out: Out,
        inputs: &mut std::collections::VecDeque<Input>,
    ) {
        self.core.filter.rollback();
        self.stats.storage_errors.fetch_add(1, Ordering::Relaxed);
        let detail = e.to_string();
        let code = if e.is_disk_full() {
            let free = free_bytes(&self.core.cfg.storage.state_dir).unwrap_or(0);
            self.stats.fs_free.store(free, Ordering::Relaxed);
            if !self.stats.fs_full.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    free,
                    dir = %self.core.cfg.storage.state_dir.display(),
                    "the filesystem holding the state directory is full: new work is refused until space returns"
                );
            }
            "storage_full"
        } else {
            "storage_error"
        };
        tracing::error!(error = %e, "batch not committed; every input in it was refused");
        if crate::store::durable::is_io_error(&e) {
            self.repair(&detail);
        }
        let refused = out
            .pending
            .iter()
            .filter(|p| matches!(p, Pending::Reply(..)))
            .count();
        if code == "storage_full" {
            self.stats
                .refused_full
                .fetch_add(refused as u64, Ordering::Relaxed);
        }
        for p in out.pending {
            p.fail(code, &detail);
        }
        for input in inputs.drain(..) {
            input.fail(code, &detail);
        }
        self.reload();
    }

    /// Fold the state back from the database.
    fn reload(&mut self) {
        let reloaded = self.store.load_station().and_then(|mut st| {
            crate::store::snapshot::load_meta(self.store.conn(), &mut st)?;
            Ok(st)
        });
        match reloaded {
            Ok(st) => self.core.station = st,
            Err(e) => {
                tracing::error!(error = %e, "cannot reload state after a failed batch")
            }
        }
    }

    /// Re-establish what is durably on disk after an I/O error (`store::durable`): until
    /// it succeeds the station is stopped for storage (an alarm; every input answered
    /// `NOT SAVED`). True when it succeeded.
    fn repair(&mut self, cause: &str) -> bool {
        self.repair_tried = Some(Instant::now());
        self.stats.set_storage_fault(Some(format!(
            "{cause} (stopped for storage; checking the disk)"
        )));
        let expected = self.store.last_seq();
        let r = crate::store::durable::repair_after_io_error(self.store.conn(), self.store.path())
            .and_then(|rep| {
                let path = self.store.path();
                let conn = self.store.conn();
                let check: String = conn
                    .query_row("PRAGMA quick_check", [], |r| r.get(0))
                    .map_err(|e| StoreError::Sql(e).at(path))?;
                if check != "ok" {
                    return Err(StoreError::Corrupt {
                        path: path.to_path_buf(),
                        detail: check,
                    });
                }
                let max: Option<i64> = conn
                    .query_row("SELECT MAX(seq) FROM journal", [], |r| r.get(0))
                    .map_err(|e| StoreError::Sql(e).at(path))?;
                let max = match max {
                    Some(m) => m,
                    None => crate::store::pruned_through(conn).map_err(|e| e.at(path))?,
                };
                if max != expected {
                    return Err(StoreError::Fault {
                        path: path.to_path_buf(),
                        detail: format!(
                            "the journal ends at seq {max} but the station acknowledged through seq {expected}; restore from a backup"
                        ),
                    });
                }
                Ok(rep)
            });
        match r {
            Ok(rep) => {
                tracing::warn!(
                    cut_bytes = rep.cut_bytes,
                    wal_frames = rep.wal_frames,
                    last_seq = expected,
                    "storage re-verified after an I/O error: every acknowledged event is on disk; accepting work again"
                );
                self.stats.set_storage_fault(None);
                self.reload();
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "storage not re-verified; the station stays stopped for storage");
                self.stats
                    .set_storage_fault(Some(format!("{cause}; not re-verified yet: {e}")));
                false
            }
        }
    }
}
