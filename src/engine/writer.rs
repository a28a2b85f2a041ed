//! The engine thread: takes whatever inputs are queued (group commit), runs them through
//! the handlers in one transaction, commits with `synchronous=FULL`, and only then answers.
//! It owns the writer connection, measures the disk against the cap, and after a storage
//! error re-establishes what is durably on disk before it answers anyone
//! (`store::durable`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::sync::{broadcast, mpsc};

use super::fair::FairQueue;
use super::handle::Input;
use super::handlers::{Core, Out, Pending};
use super::{Clock, Committed, Stats};
use crate::domain::step::Effect;
use crate::store::{Store, StoreError};
use crate::telemetry::Telemetry;

/// The engine thread's state: the writer connection and, apart from it (so a batch can
/// borrow the connection while the handlers change the rest), the [`Core`].
pub(super) struct Engine {
    pub(super) store: Store,
    pub(super) core: Core,
    pub(super) clock: Clock,
    pub(super) stats: Arc<Stats>,
    /// Where a committed scan's label jobs are noted (scan → label latency).
    pub(super) telemetry: Arc<Telemetry>,
    pub(super) events: broadcast::Sender<Committed>,
    pub(super) operator_changes: broadcast::Sender<Vec<String>>,
    pub(super) effects: mpsc::UnboundedSender<Effect>,
    /// The checkpointer thread saw an I/O error: the engine re-verifies before its next
    /// batch.
    pub(super) checkpoint_fault: Arc<AtomicBool>,
    /// When the engine last tried to re-verify the disk while stopped for storage (it
    /// tries again at most every [`REPAIR_EVERY`]).
    pub(super) repair_tried: Option<Instant>,
    /// Test-only fault: while this file exists the writer stands still before its next
    /// batch, as a writer stuck in a hung `fsync` would (`RETURNSD_TEST_WEDGE_WRITER`;
    /// never set in production). It is how the tests see the watchdog pings stop.
    pub(super) wedge: Option<std::path::PathBuf>,
    /// WAL size past which the engine checkpoints itself between batches: under sustained
    /// writes the checkpointer thread's passive checkpoints never catch up, so the WAL
    /// would never restart.
    pub(super) wal_limit: u64,
    /// What the station's files take on disk, measured per batch against the cap.
    pub(super) disk: DiskUse,
}

/// What the station's files take on disk: the database's pages in use, read at most once
/// a second (SQLite parses a `PRAGMA` again at every run: 3 % of a scan's CPU when read
/// per batch), and the WAL, whose size is one `fstat` of a held descriptor per batch (a
/// `stat` walked the path, twice per batch). Every page a batch adds is a WAL frame first,
/// so the figure never lags what was written. The WAL is reopened when SQLite has removed
/// it; SQLite takes no locks on the WAL file itself (they are on the database and `-shm`),
/// so this descriptor's close cannot drop a lock of SQLite's.
pub(super) struct DiskUse {
    wal_path: std::path::PathBuf,
    wal: Option<std::fs::File>,
    /// The database's page size (fixed once the file exists).
    page_size: u64,
    /// The database's bytes in pages in use, and when they were read.
    pages_read: Option<(u64, Instant)>,
}

/// How long the database's page count is taken as read.
const PAGES_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

impl DiskUse {
    pub(super) fn new(db: &std::path::Path, page_size: i64) -> Self {
        let mut path = db.as_os_str().to_owned();
        path.push("-wal");
        DiskUse {
            wal_path: path.into(),
            wal: None,
            page_size: page_size.max(0) as u64,
            pages_read: None,
        }
    }

    /// The WAL file's length (0 when there is none).
    fn wal_len(&mut self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        if let Some(m) = self.wal.as_ref().and_then(|f| f.metadata().ok())
            && m.nlink() > 0
        {
            return m.len();
        }
        self.wal = std::fs::File::open(&self.wal_path).ok();
        self.wal
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len())
    }

    /// Database pages in use (through `conn`), the WAL and `photo_bytes`.
    fn measure(&mut self, conn: &rusqlite::Connection, photo_bytes: u64) -> u64 {
        if self
            .pages_read
            .is_none_or(|(_, at)| at.elapsed() >= PAGES_FRESH)
        {
            let pragma = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap_or(0) };
            let pages = pragma("PRAGMA page_count") - pragma("PRAGMA freelist_count");
            self.pages_read = Some((pages.max(0) as u64 * self.page_size, Instant::now()));
        }
        self.pages_read.map_or(0, |(bytes, _)| bytes) + self.wal_len() + photo_bytes
    }

    /// The file shrank: the next measurement reads its pages again.
    fn forget_pages(&mut self) {
        self.pages_read = None;
    }
}

/// Run passive WAL checkpoints from a connection of its own, off the commit path, every
/// 250 ms — and 1 ms apart while the WAL is past half its limit and being written or
/// copied ([`next_pass`]). Under sustained writes the WAL never restarts (that needs a pass
/// to end between two batches) and the engine folds it back itself at the limit, copying
/// what the last pass left: 10–15 ms with a pass every 250 ms, a stall on whichever scan
/// waits; with passes back to back, one pass's worth. A final truncating checkpoint when
/// the engine stops. An I/O error stops the station for storage until the engine has
/// re-verified the disk (`store::durable`).
pub(super) fn checkpointer(
    db: &std::path::Path,
    wal_limit: u64,
    stop: std::sync::mpsc::Receiver<()>,
    fault: &AtomicBool,
    stats: &Stats,
) {
    let conn = match crate::store::open_checked_already(db) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "checkpointer cannot open the database; the WAL will grow");
            return;
        }
    };
    // A checkpoint copies WAL frames to the file: it needs no page cache of its own.
    let _ = conn.execute_batch("PRAGMA cache_size = -64;");
    // What a pass did: the WAL's frames and how many of them are in the database file.
    let checkpoint = |mode: &str| -> Option<(i64, i64)> {
        let r = conn
            .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .map_err(|e| StoreError::Sql(e).at(db));
        if let Err(e) = &r {
            tracing::warn!(error = %e, "WAL checkpoint failed");
            if crate::store::durable::is_damage(e) {
                stats.damaged.store(true, Ordering::SeqCst);
                stats.set_storage_fault(Some(format!("checkpoint: {e}")));
            } else if crate::store::durable::is_io_error(e) {
                stats.set_storage_fault(Some(format!("checkpoint: {e}")));
                fault.store(true, Ordering::SeqCst);
            }
        }
        r.ok()
    };
    let page: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(4096);
    // A WAL frame is a page and its 24-byte header.
    let half = (wal_limit / 2) as i64 / (page + 24);
    let mut wait = CHECKPOINT_EVERY;
    let mut last: Option<(i64, i64)> = None;
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(wait) {
        if !fault.load(Ordering::SeqCst)
            && !stats.damaged.load(Ordering::SeqCst)
            && stats.verified.load(Ordering::SeqCst)
        {
            let pass = checkpoint("PASSIVE");
            wait = next_pass(last, pass, half, wait);
            last = pass;
        }
    }
    if !fault.load(Ordering::SeqCst)
        && stats.storage_fault().is_none()
        && stats.verified.load(Ordering::SeqCst)
    {
        checkpoint("TRUNCATE");
    }
}

/// How often the checkpointer passes over a WAL that is not growing away from it.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
/// How soon it passes again while a WAL past half its limit is moving.
const CATCH_UP_EVERY: std::time::Duration = std::time::Duration::from_millis(1);
/// When the checkpointer passes next, after a pass that saw `pass` (the WAL's frames, and
/// how many of them are in the database file) and, before it, `before`. Every 250 ms while
/// the WAL is under `half` frames (it restarts between batches). Past that, 1 ms after a pass
/// that saw the WAL move (frames written or copied since the pass before); after a pass that
/// saw nothing move, twice the last wait, up to 250 ms — so an idle station, or a reader
/// holding old frames while nothing is written, is not polled every millisecond.
fn next_pass(
    before: Option<(i64, i64)>,
    pass: Option<(i64, i64)>,
    half: i64,
    wait: std::time::Duration,
) -> std::time::Duration {
    let Some((frames, _)) = pass else {
        return CHECKPOINT_EVERY;
    };
    if frames < half {
        return CHECKPOINT_EVERY;
    }
    if before != pass {
        CATCH_UP_EVERY
    } else {
        (wait * 2).min(CHECKPOINT_EVERY)
    }
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

/// Note `used` against the cap; true when new work must be refused.
fn cap_reached(stats: &Stats, used: u64, cap: u64) -> bool {
    stats.disk_used.store(used, Ordering::Relaxed);
    let full = used >= cap;
    if full != stats.cap_full.swap(full, Ordering::Relaxed) {
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

impl Engine {
    /// The engine thread: take whatever is queued (up to `max`) as one batch, until the
    /// input is closed; then close the writer and let the checkpointer fold the WAL into
    /// the database and close the last connection, so a stopped station leaves one file.
    pub(super) fn run(
        mut self,
        mut rx: mpsc::Receiver<Input>,
        max: usize,
        per_source: usize,
        waiting_max: usize,
        stop_checkpoints: std::sync::mpsc::Sender<()>,
        checkpoints: std::thread::JoinHandle<()>,
    ) {
        let mut batch = std::collections::VecDeque::with_capacity(max);
        // Inputs taken off the channel, per source (fair group commit): everything sent
        // is seen, so a burst queued first cannot hide another bench's scan behind it. It
        // holds at most `waiting_max` (the channel's bound); beyond that the channel
        // pushes back on the senders.
        let mut waiting = FairQueue::new();
        // `Close`: what was sent before it is still committed, later senders are refused.
        let admit = |i: Input, rx: &mut mpsc::Receiver<Input>, w: &mut FairQueue<Input>| match i {
            Input::Close => rx.close(),
            other => w.push(other.source(), other),
        };
        loop {
            if waiting.is_empty() {
                match rx.blocking_recv() {
                    Some(i) => admit(i, &mut rx, &mut waiting),
                    None => break,
                }
            }
            while waiting.len() < waiting_max {
                match rx.try_recv() {
                    Ok(i) => admit(i, &mut rx, &mut waiting),
                    Err(_) => break,
                }
            }
            waiting.take(max, per_source, &mut batch);
            let taken = (waiting.len() + batch.len()) as u64;
            self.stats.inputs_taken.store(taken, Ordering::Relaxed);
            if !batch.is_empty() {
                self.process(&mut batch);
            }
            let taken = waiting.len() as u64;
            self.stats.inputs_taken.store(taken, Ordering::Relaxed);
        }
        drop(self);
        drop(stop_checkpoints);
        let _ = checkpoints.join();
        tracing::info!("engine stopped: every acknowledged input is committed");
    }

    pub(super) fn process(&mut self, inputs: &mut std::collections::VecDeque<Input>) {
        if let Some(wedge) = &self.wedge {
            while wedge.exists() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        let now = (self.clock)();
        if self.checkpoint_fault.swap(false, Ordering::SeqCst) {
            let cause = self.stats.storage_fault().unwrap_or_default();
            self.repair(&cause);
        }
        if let Some(fault) = self.stats.storage_fault() {
            // A damaged file cannot heal here (restore it): no repair, no re-check.
            let due = !self.stats.damaged.load(Ordering::SeqCst)
                && self
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
        let _scans = crate::store::Foreground::enter();
        let mut out = Out::default();
        let core = &mut self.core;
        let (stats, disk) = (&self.stats, &mut self.disk);
        let result: Result<(), StoreError> = (|| {
            let mut batch = self.store.begin()?;
            // Measured inside the transaction, whose read lock is already held: the two
            // PRAGMAs read the header page without opening a read of their own.
            let used = disk.measure(batch.conn(), stats.photo_bytes.load(Ordering::Relaxed));
            let cap_full = cap_reached(stats, used, core.cfg.storage.cap_bytes);
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
            self.disk.forget_pages();
        }
        // Before the print worker hears of them: the jobs scans asked for, with when.
        for (job, received) in out.jobs {
            if let Some(received) = received {
                self.telemetry.label_queued(job, received);
            }
        }
        for e in out.effects {
            let _ = self.effects.send(e);
        }
        for c in out.committed {
            let _ = self.events.send(c);
        }
        if !out.operators_changed.is_empty() {
            let _ = self.operator_changes.send(out.operators_changed);
        }
        // After the answers: what is no longer open work leaves memory (its row has it).
        self.core.settle(&out.touched, &out.notes_touched);
        // Everyone is answered; now, if the WAL outgrew its limit, fold it back so the next
        // write restarts it (and trims the file to the limit).
        if self.disk.wal_len() > self.wal_limit
            && self.stats.verified.load(Ordering::Relaxed)
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
        if crate::store::durable::is_damage(&e) {
            // Whoever meets the damage first (a batch, the prune, the checkpointer or the
            // integrity check) stops the station for good: no repair re-reads the file.
            self.stats.damaged.store(true, Ordering::SeqCst);
            self.stats.set_storage_fault(Some(detail.clone()));
        } else if crate::store::durable::is_io_error(&e) {
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
        let reloaded = self.store.load_open().and_then(|mut st| {
            crate::store::snapshot::load_open_meta(self.store.conn(), &mut st)?;
            st.number_rtv_notes();
            Ok(st)
        });
        match reloaded {
            Ok(st) => {
                self.core.station = st;
                self.core.count_held();
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const HALF: i64 = 8000;

    #[test]
    fn a_small_wal_is_checkpointed_at_the_usual_pace() {
        for (before, pass) in [
            (None, Some((10, 10))),
            (Some((10, 10)), Some((3000, 2000))),
            (Some((7000, 100)), Some((7999, 7999))),
            (Some((9000, 9000)), None),
        ] {
            assert_eq!(
                next_pass(before, pass, HALF, CATCH_UP_EVERY),
                CHECKPOINT_EVERY,
                "{before:?} → {pass:?}"
            );
        }
    }

    #[test]
    fn a_large_wal_being_written_is_checkpointed_back_to_back() {
        // Frames written since the pass before (caught up or not), or copied, or a new WAL.
        for (before, pass) in [
            (Some((9000, 9000)), Some((9100, 9100))),
            (Some((9000, 8000)), Some((9100, 8000))),
            (Some((9000, 8000)), Some((9000, 9000))),
            (None, Some((9000, 9000))),
        ] {
            assert_eq!(
                next_pass(before, pass, HALF, CHECKPOINT_EVERY),
                CATCH_UP_EVERY,
                "{before:?} → {pass:?}"
            );
        }
    }

    #[test]
    fn a_large_wal_that_stands_still_is_polled_less_and_less() {
        let still = Some((9000, 8500));
        let mut wait = CATCH_UP_EVERY;
        let mut waits = vec![];
        for _ in 0..12 {
            wait = next_pass(still, still, HALF, wait);
            waits.push(wait.as_millis());
        }
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 250, 250, 250, 250, 250]);
        // It moves again: back to back at once.
        let moved = next_pass(still, Some((9050, 8500)), HALF, Duration::from_millis(250));
        assert_eq!(moved, CATCH_UP_EVERY);
    }
}
