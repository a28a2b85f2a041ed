//! The engine: the one task that calls `domain::step`. It owns the writer connection and
//! the folded state, takes a closed set of inputs from a bounded channel, and commits each
//! group of inputs (group commit) in one `synchronous=FULL` transaction before it answers
//! any of them. A scan is acknowledged only after its events are on disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
use crate::domain::step::{Command, Effect, Operator, step};
use crate::refdata::DbLookup;
use crate::store::{Store, StoreError};

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
    /// For a command sent with a [`Keep`]: what became of its `Idempotency-Key` (None when
    /// nothing was decided in a transaction, e.g. the batch failed or the disk is full).
    pub kept: Option<Kept>,
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
    /// Inputs refused because the disk cap was reached.
    pub refused_full: AtomicU64,
    /// Events pruned since start.
    pub pruned: AtomicU64,
}

enum Input {
    Scan {
        bench: String,
        bytes: Vec<u8>,
        at_ms: u64,
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

/// A reply held until the batch commits, with what it will say.
type Answer<T> = (oneshot::Sender<Result<T, String>>, Result<T, String>);

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
        let at_ms = self.started.elapsed().as_millis() as u64;
        let (reply, rx) = oneshot::channel();
        let input = Input::Scan {
            bench: bench.to_string(),
            bytes,
            at_ms,
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

struct Engine {
    store: Store,
    station: Station,
    cfg: Arc<Config>,
    settings: Settings,
    grammar: ScanGrammar,
    filter: DoubleReadFilter,
    clock: Clock,
    stats: Arc<Stats>,
    events: broadcast::Sender<Committed>,
    effects: mpsc::UnboundedSender<Effect>,
    /// The disk cap was reached at the last batch (edge-triggered alarms).
    full: bool,
    /// WAL size past which the engine checkpoints itself between batches: under sustained
    /// writes the checkpointer thread's passive checkpoints never catch up, so the WAL
    /// would never restart.
    wal_limit: u64,
    /// The database's page size (fixed once the file exists).
    page_size: i64,
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
        station,
        settings,
        grammar,
        filter: DoubleReadFilter::new(cfg.double_read_window_ms),
        cfg: cfg.clone(),
        clock,
        stats: stats.clone(),
        events: events.clone(),
        effects: effects_tx,
        full: false,
        wal_limit,
        page_size,
    };
    let max = cfg.group_commit_max;
    let (stop_checkpoints, ticks) = std::sync::mpsc::channel::<()>();
    let db = cfg.database.clone();
    let checkpoints = std::thread::Builder::new()
        .name("returnsd-checkpoint".into())
        .spawn(move || checkpointer(&db, ticks))
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

/// Run passive WAL checkpoints from a connection of its own, off the commit path, every
/// 250 ms; a final truncating checkpoint when the engine stops.
fn checkpointer(db: &std::path::Path, stop: std::sync::mpsc::Receiver<()>) {
    let conn = match crate::store::open_connection(db, false) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "checkpointer cannot open the database; the WAL will grow");
            return;
        }
    };
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
        stop.recv_timeout(std::time::Duration::from_millis(250))
    {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "final WAL checkpoint failed");
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

fn is_disk_full(e: &StoreError) -> bool {
    matches!(e, StoreError::Sql(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::DiskFull)
}

impl Engine {
    /// Database pages in use, the WAL file and the photo store.
    fn wal_len(&self) -> u64 {
        let mut wal = self.cfg.database.clone().into_os_string();
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

    fn process(&mut self, inputs: &mut std::collections::VecDeque<Input>) {
        let now = (self.clock)();
        let mut replies: Vec<(oneshot::Sender<Reply>, Reply)> = Vec::with_capacity(inputs.len());
        let mut acks: Vec<Answer<i64>> = Vec::new();
        let mut feeds: Vec<Answer<FeedApplied>> = Vec::new();
        let mut prunes: Vec<Answer<i64>> = Vec::new();
        let mut jobs: Vec<Answer<()>> = Vec::new();
        let mut auths: Vec<Answer<()>> = Vec::new();
        // The disk cap: new work is refused (not dropped: the sender is told NOT SAVED)
        // while the database, its WAL and the photos use the whole cap.
        let used = self.disk_used();
        self.stats.disk_used.store(used, Ordering::Relaxed);
        let full = used >= self.cfg.cap_bytes;
        if full != self.full {
            self.full = full;
            if full {
                tracing::error!(
                    used,
                    cap = self.cfg.cap_bytes,
                    "disk cap reached: the station refuses new work until space is reclaimed"
                );
            } else {
                tracing::info!(
                    used,
                    cap = self.cfg.cap_bytes,
                    "disk below the cap again: accepting work"
                );
            }
        }
        let mut effects = Vec::new();
        let mut committed = Vec::new();
        let result: Result<(), StoreError> = (|| {
            let mut batch = self.store.begin()?;
            while let Some(input) = inputs.pop_front() {
                let input = match input {
                    Input::Scan { reply, .. } | Input::Command { reply, .. } if full => {
                        self.stats.refused_full.fetch_add(1, Ordering::Relaxed);
                        replies.push((reply, Reply::not_stored("storage_full")));
                        continue;
                    }
                    other => other,
                };
                let (reply_to, outcome, keep) = match input {
                    // Taken out by the engine thread before batching.
                    Input::Close => continue,
                    Input::Auth { writes, reply } => {
                        let r = writes
                            .iter()
                            .try_for_each(|w| crate::store::api_state::apply(batch.conn(), w));
                        match r {
                            Ok(()) => auths.push((reply, Ok(()))),
                            Err(e) => {
                                auths.push((reply, Err(e.to_string())));
                                return Err(e);
                            }
                        }
                        continue;
                    }
                    Input::Prune { reply } => {
                        let cutoff = now
                            - chrono::Duration::from_std(self.cfg.sync.retention)
                                .unwrap_or_default();
                        // Housekeeping of the API's rows rides along: idle sessions, spent
                        // lockouts, idempotency answers past 24 h.
                        let http = &self.cfg.http;
                        let ms = |d: std::time::Duration| {
                            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
                        };
                        if let Err(e) = crate::store::api_state::prune(
                            batch.conn(),
                            now.timestamp_millis(),
                            ms(http.session_idle),
                            ms(http.lockout_window),
                            KEEP_MS,
                        ) {
                            prunes.push((reply, Err(e.to_string())));
                            return Err(e);
                        }
                        match crate::store::prune(batch.conn(), cutoff, 20_000) {
                            Ok(n) => prunes.push((reply, Ok(n))),
                            Err(e) => {
                                prunes.push((reply, Err(e.to_string())));
                                return Err(e);
                            }
                        }
                        continue;
                    }
                    Input::PrintJob { update, reply } => {
                        match crate::store::jobs::apply(batch.conn(), &update) {
                            Ok(()) => jobs.push((reply, Ok(()))),
                            Err(e) => {
                                jobs.push((reply, Err(e.to_string())));
                                return Err(e);
                            }
                        }
                        continue;
                    }
                    Input::Ack { through, reply } => {
                        let last = batch.next_seq_ref() - 1;
                        let r = if through > last {
                            Err(format!(
                                "acked_through {through} is beyond the journal's last seq {last}"
                            ))
                        } else if through < 0 {
                            Err("acked_through must not be negative".to_string())
                        } else {
                            crate::store::advance_ack(batch.conn(), through)
                                .map_err(|e| e.to_string())
                        };
                        acks.push((reply, r));
                        continue;
                    }
                    Input::Feed { page, reply } => {
                        match apply_feed_page(batch.conn(), &page, now) {
                            Ok(applied) => feeds.push((reply, Ok(applied))),
                            Err(e) => {
                                // A database error fails the whole batch, like any other.
                                feeds.push((reply, Err(e.to_string())));
                                return Err(e);
                            }
                        }
                        continue;
                    }
                    Input::Scan {
                        bench,
                        bytes,
                        at_ms,
                        reply,
                    } => {
                        self.stats.scans.fetch_add(1, Ordering::Relaxed);
                        if self.filter.is_double(&bench, &bytes, at_ms) {
                            self.stats.double_reads.fetch_add(1, Ordering::Relaxed);
                            let mut r = Reply::not_stored("double_read");
                            r.ok = true;
                            replies.push((reply, r));
                            continue;
                        }
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
                        (
                            reply,
                            step(&self.station, &lk, &self.settings, cmd, now),
                            None,
                        )
                    }
                    Input::Command {
                        badge,
                        role,
                        mut cmd,
                        keep,
                        reply,
                    } => {
                        if let Some(k) = &keep {
                            match crate::store::api_state::idem_get(batch.conn(), &k.badge, &k.key)
                            {
                                Ok(Some(a)) if now.timestamp_millis() - a.created_at < KEEP_MS => {
                                    let kept = if a.fingerprint == k.fingerprint {
                                        Kept::Replay(a.status, a.body)
                                    } else {
                                        Kept::Mismatch
                                    };
                                    replies.push((reply, Reply::kept(kept)));
                                    continue;
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    replies.push((reply, Reply::not_stored("storage_error")));
                                    return Err(e);
                                }
                            }
                        }
                        let lk = DbLookup {
                            conn: batch.conn(),
                            cfg: &self.cfg,
                        };
                        let outcome = if matches!(*cmd, Command::RecordLockout { .. }) {
                            // The station's own record about a badge, not an operator's act.
                            step(&self.station, &lk, &self.settings, *cmd, now)
                        } else {
                            authorize(&lk, &badge, role).and_then(|op| {
                                set_operator(&mut cmd, op);
                                step(&self.station, &lk, &self.settings, *cmd, now)
                            })
                        };
                        (reply, outcome, keep)
                    }
                };
                match outcome {
                    Err(e) => {
                        let mut r = Reply {
                            ok: false,
                            stored: false,
                            code: e.code().to_string(),
                            params: params_owned(e.params()),
                            seqs: None,
                            return_id: None,
                            kept: None,
                        };
                        let kept = keep_answer(batch.conn(), keep, &mut r, now);
                        replies.push((reply_to, r));
                        kept?;
                    }
                    Ok(tr) => {
                        if tr.rejected.is_some() {
                            self.stats.rejected_scans.fetch_add(1, Ordering::Relaxed);
                        }
                        let mut first = None;
                        let mut last = None;
                        let mut return_id = None;
                        let mut failed = None;
                        for ev in &tr.events {
                            let a = match batch.append(ev) {
                                Ok(a) => a,
                                Err(e) => {
                                    failed = Some(e);
                                    break;
                                }
                            };
                            first.get_or_insert(a.seq);
                            last = Some(a.seq);
                            if return_id.is_none() {
                                return_id = ev.return_id.as_ref().map(|r| r.to_string());
                            }
                            committed.push(Committed {
                                seq: a.seq,
                                ty: ev.body.type_name(),
                                return_id: ev.return_id.as_ref().map(|r| r.to_string()),
                            });
                            self.station.apply(ev);
                            // Bin edits and RTV notes keep their snapshot in `meta`.
                            if let Err(e) = crate::store::snapshot::save_for_event(
                                batch.conn(),
                                &self.station,
                                &ev.body,
                            ) {
                                failed = Some(e);
                                break;
                            }
                        }
                        // Each label job is queued in the same transaction as the event that
                        // asked for it: committed together or not at all.
                        for e in &tr.effects {
                            let queued = match e {
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
                                ),
                                Effect::PrintRtvNote { note_no } => crate::store::jobs::enqueue(
                                    batch.conn(),
                                    note_no,
                                    "rtv_note",
                                    "first",
                                    None,
                                    last,
                                    now,
                                ),
                            };
                            if let Err(err) = queued {
                                failed.get_or_insert(err);
                            }
                        }
                        effects.extend(tr.effects);
                        let mut r = Reply {
                            ok: tr.feedback.ok,
                            stored: true,
                            code: tr.feedback.code.to_string(),
                            params: params_owned(tr.feedback.params),
                            seqs: first.zip(last),
                            return_id,
                            kept: None,
                        };
                        if let Some(e) = failed {
                            replies.push((reply_to, r));
                            return Err(e);
                        }
                        // The key's answer is committed with the command's events, or
                        // neither is.
                        let kept = keep_answer(batch.conn(), keep, &mut r, now);
                        replies.push((reply_to, r));
                        kept?;
                    }
                }
            }
            batch.commit(&self.station)
        })();
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                self.stats
                    .last_seq
                    .store(self.store.last_seq() as u64, Ordering::Relaxed);
                for (tx, r) in replies {
                    let _ = tx.send(r);
                }
                for (tx, r) in acks {
                    let _ = tx.send(r);
                }
                for (tx, r) in feeds {
                    let _ = tx.send(r);
                }
                for (tx, r) in jobs {
                    let _ = tx.send(r);
                }
                for (tx, r) in auths {
                    let _ = tx.send(r);
                }
                for (tx, r) in prunes {
                    if let Ok(n) = &r {
                        self.stats.pruned.fetch_add(*n as u64, Ordering::Relaxed);
                        if *n > 0 {
                            // Give the freed pages back to the file system.
                            let _ = self
                                .store
                                .conn()
                                .execute_batch("PRAGMA incremental_vacuum;");
                        }
                    }
                    let _ = tx.send(r);
                }
                for e in effects {
                    let _ = self.effects.send(e);
                }
                for c in committed {
                    let _ = self.events.send(c);
                }
                // Everyone is answered; now, if the WAL outgrew its limit, fold it back so
                // the next write restarts it (and trims the file to the limit).
                if self.wal_len() > self.wal_limit
                    && let Err(e) = self.store.conn().query_row(
                        "PRAGMA wal_checkpoint(PASSIVE)",
                        [],
                        |_| Ok(()),
                    )
                {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
            Err(e) => {
                // Nothing of this batch is on disk: tell every sender so, and fold the
                // state back from the database so memory matches disk again.
                self.stats.storage_errors.fetch_add(1, Ordering::Relaxed);
                let code = if is_disk_full(&e) {
                    "storage_full"
                } else {
                    "storage_error"
                };
                tracing::error!(error = %e, "batch not committed; every input in it was refused");
                for (tx, _) in replies {
                    let _ = tx.send(Reply::not_stored(code));
                }
                for (tx, _) in acks {
                    let _ = tx.send(Err(format!("not stored: {e}")));
                }
                for (tx, _) in feeds {
                    let _ = tx.send(Err(format!("not stored: {e}")));
                }
                for (tx, _) in prunes {
                    let _ = tx.send(Err(format!("not done: {e}")));
                }
                for (tx, _) in jobs {
                    let _ = tx.send(Err(format!("not stored: {e}")));
                }
                for (tx, _) in auths {
                    let _ = tx.send(Err(format!("not stored: {e}")));
                }
                // Inputs not reached before the failure are still in `inputs`.
                for input in inputs.drain(..) {
                    match input {
                        Input::Scan { reply, .. } | Input::Command { reply, .. } => {
                            let _ = reply.send(Reply::not_stored(code));
                        }
                        Input::Ack { reply, .. } => {
                            let _ = reply.send(Err(format!("not stored: {e}")));
                        }
                        Input::Feed { reply, .. } => {
                            let _ = reply.send(Err(format!("not stored: {e}")));
                        }
                        Input::Prune { reply } => {
                            let _ = reply.send(Err(format!("not done: {e}")));
                        }
                        Input::Close => {}
                        Input::PrintJob { reply, .. } | Input::Auth { reply, .. } => {
                            let _ = reply.send(Err(format!("not stored: {e}")));
                        }
                    }
                }
                let reloaded = self.store.load_station().and_then(|mut st| {
                    crate::store::snapshot::load_meta(self.store.conn(), &mut st)?;
                    Ok(st)
                });
                match reloaded {
                    Ok(st) => self.station = st,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot reload state after a failed batch")
                    }
                }
            }
        }
    }
}
