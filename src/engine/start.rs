//! Opening the station database, loading the state, and starting the engine thread and
//! its checkpointer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::sync::{broadcast, mpsc};

use super::handle::EngineHandle;
use super::handlers::Core;
use super::stats::Stats;
use super::types::Clock;
use super::writer::{Engine, checkpointer};
use crate::config::Config;
use crate::domain::doubleread::DoubleReadFilter;
use crate::domain::ports::Settings;
use crate::domain::scan::ScanGrammar;
use crate::domain::step::Effect;
use crate::store::{Store, StoreError};
use crate::telemetry::Telemetry;

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
    #[error("cannot start the engine's threads: {0}")]
    Thread(std::io::Error),
}

/// The database opened for the engine, with what it needs to know of it.
struct Opened {
    store: Store,
    station: crate::domain::model::Station,
    /// WAL size past which the engine checkpoints itself.
    wal_limit: u64,
    page_size: i64,
}

/// Open the station database for writing: checkpoints off the commit path, the WAL kept
/// to an eighth of the disk cap, the state folded back from the snapshots.
fn open(cfg: &Config, clock: &Clock) -> Result<Opened, StartError> {
    std::fs::create_dir_all(&cfg.storage.state_dir).map_err(|source| StartError::StateDir {
        path: cfg.storage.state_dir.clone(),
        source,
    })?;
    // The whole-file integrity check runs after READY (`verify_in_background`).
    let mut store = Store::open_unverified(&cfg.storage.database, cfg.station.id.as_str())?;
    let at = |e: rusqlite::Error| StoreError::from(e).at(&cfg.storage.database);
    // Checkpoints copy WAL pages into the database file and fsync it: tens of pages of
    // work that must not land inside a scan's commit. The checkpointer thread does them.
    store
        .conn()
        .execute_batch("PRAGMA wal_autocheckpoint=0;")
        .map_err(at)?;
    // The WAL counts against the disk cap: keep it to an eighth of the cap (1–64 MiB).
    let wal_limit = (cfg.storage.cap_bytes / 8).clamp(1 << 20, 64 << 20);
    store
        .conn()
        .execute_batch(&format!("PRAGMA journal_size_limit={wal_limit};"))
        .map_err(at)?;
    let page_size: i64 = store
        .conn()
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(at)?;
    correct_old_restocks(&mut store, clock()).map_err(|e| e.at(&cfg.storage.database))?;
    // The open work only: the history stays on disk (`store::working`).
    let mut station = store.load_open().map_err(|e| e.at(&cfg.storage.database))?;
    crate::store::snapshot::load_and_backfill(store.conn(), &mut station)
        .map_err(|e| e.at(&cfg.storage.database))?;
    station.number_rtv_notes();
    // The writer's page cache: 1 MiB holds the pages a scan touches (the journal's and the
    // indexes' last pages, the open returns' rows) with room to spare; SQLite's default
    // (2 MiB) would fill with whatever the start and pruning read. What loading read is
    // given back now; the open work's pages are read again when used, from the OS's cache.
    store
        .conn()
        .execute_batch("PRAGMA cache_size = -1024; PRAGMA shrink_memory;")
        .map_err(at)?;
    Ok(Opened {
        store,
        station,
        wal_limit,
        page_size,
    })
}

/// Once per database, before the state is loaded: the returns restocked before restock
/// moved units out of the good zone still count their restocked units as waiting there.
/// The station moves them to `sellable` now (`domain::step::restocked_to_sellable`: an
/// `item.moved` per unit and a `ledger.entry` per SKU, actor `system`, journaled and sent
/// to the central like any event), and marks the database corrected in the same
/// transaction, so the ledger, the `stock` table and `journal verify` agree again.
fn correct_old_restocks(
    store: &mut Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    use crate::store::working;
    if !working::restock_correction_due(store.conn())? {
        return Ok(());
    }
    // A slice of returns per transaction: a year's correction (hundreds of thousands of
    // units) holds one slice in memory at a time. A start cut short corrects the rest
    // next time: a corrected return no longer matches.
    const SLICE: usize = 500;
    let mut moved = 0;
    let mut after = String::new();
    loop {
        let returns = working::restocked_in_good(store.conn(), &after, SLICE)?;
        let done = returns.len() < SLICE;
        let mut st = crate::domain::model::Station::default();
        let mut batch = store.begin()?;
        for r in returns {
            after = r.id.as_str().to_string();
            let events = crate::domain::step::restocked_to_sellable(&r, now);
            st.admit(r);
            for ev in &events {
                batch.append(ev)?;
                st.apply(ev);
                moved += usize::from(matches!(
                    ev.body,
                    crate::domain::event::EventBody::ItemMoved { .. }
                ));
            }
        }
        if done {
            working::mark_restock_corrected(batch.conn())?;
        }
        batch.commit(&st)?;
        if done {
            break;
        }
    }
    if moved > 0 {
        tracing::warn!(
            units = moved,
            "units restocked before this version moved out of the good zone to sellable stock (one-time correction, journaled as system)"
        );
    }
    Ok(())
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
    let Opened {
        store,
        station,
        wal_limit,
        page_size,
    } = open(&cfg, &clock)?;
    let grammar = ScanGrammar::new(&cfg.scan.couriers, cfg.scan.max_len)
        .map_err(|e| StartError::Grammar(format!("{e:?}")))?;
    let (tx, rx) = mpsc::channel(cfg.engine.queue);
    let (events, _) = broadcast::channel(4096);
    let (operator_changes, _) = broadcast::channel(64);
    let (effects_tx, effects_rx) = mpsc::unbounded_channel();
    let stats = Arc::new(Stats::default());
    let telemetry = Telemetry::new();
    stats
        .last_seq
        .store(store.last_seq() as u64, Ordering::Relaxed);
    let epoch: Arc<str> = Arc::from(store.epoch());
    let seqs = Arc::new(store.seq_map().clone());
    let moved: Option<Arc<str>> = store.moved().map(Arc::from);
    let settings = Settings {
        station: cfg.station.id.clone(),
        tz: cfg.station.timezone,
        defect_photo_required: cfg.inspection.defect_photo_required,
        two_person_check: cfg.inspection.two_person_check,
    };
    let operators = crate::config::LiveOperators::new(cfg.operators.clone());
    let disk = super::writer::DiskUse::new(&cfg.storage.database, page_size);
    let engine = Engine {
        store,
        core: Core {
            seqs: seqs.clone(),
            station,
            settings,
            grammar,
            filter: DoubleReadFilter::new(cfg.scan.double_read_window_ms),
            cfg: cfg.clone(),
            stats: stats.clone(),
            operators: operators.clone(),
            abort_after_scan: std::env::var_os("RETURNSD_TEST_ABORT_AFTER_SCAN").map(|c| {
                use std::os::unix::ffi::OsStrExt;
                c.as_bytes().to_vec()
            }),
        },
        clock,
        stats: stats.clone(),
        telemetry: telemetry.clone(),
        events: events.clone(),
        operator_changes: operator_changes.clone(),
        effects: effects_tx,
        checkpoint_fault: Arc::new(AtomicBool::new(false)),
        repair_tried: None,
        wedge: std::env::var_os("RETURNSD_TEST_WEDGE_WRITER").map(std::path::PathBuf::from),
        wal_limit,
        disk,
    };
    engine.core.count_held();
    let max = cfg.engine.group_commit_max;
    let waiting_max = cfg.engine.queue.max(max);
    let per_source = cfg.engine.source_batch_max;
    let (stop_checkpoints, ticks) = std::sync::mpsc::channel::<()>();
    let db = cfg.storage.database.clone();
    let ckpt_fault = engine.checkpoint_fault.clone();
    let ckpt_stats = stats.clone();
    let checkpoints = std::thread::Builder::new()
        .name("returnsd-checkpoint".into())
        .spawn(move || checkpointer(&db, wal_limit, ticks, &ckpt_fault, &ckpt_stats))
        .map_err(StartError::Thread)?;
    let join = std::thread::Builder::new()
        .name("returnsd-engine".into())
        .spawn(move || {
            engine.run(
                rx,
                max,
                per_source,
                waiting_max,
                stop_checkpoints,
                checkpoints,
            )
        })
        .map_err(StartError::Thread)?;
    verify_in_background(cfg.storage.database.clone(), stats.clone())?;
    Ok((
        EngineHandle {
            tx,
            started: Instant::now(),
            stats,
            telemetry,
            events,
            operator_changes,
            epoch,
            seqs,
            moved,
            operators,
        },
        effects_rx,
        join,
    ))
}

/// The database's integrity check (`PRAGMA quick_check`, a read of the whole file), off
/// the way to READY: a station with a year's history is ready in milliseconds, and a
/// damaged file found a moment later stops it for storage — every input answered NOT
/// SAVED, the alarm on the kiosk, `/readyz` 503 — instead of taking scans into it.
fn verify_in_background(db: std::path::PathBuf, stats: Arc<Stats>) -> Result<(), StartError> {
    std::thread::Builder::new()
        .name("returnsd-verify".into())
        .spawn(move || {
            let t = Instant::now();
            let checked = crate::store::integrity_check(&db);
            // The check's buffers are freed: hand the pages back to the system.
            release_free_heap();
            match checked {
                Ok(paused) => {
                    stats.verified.store(true, Ordering::SeqCst);
                    tracing::info!(
                        took_ms = t.elapsed().as_millis() as u64,
                        paused_for_operators_ms = paused.as_millis() as u64,
                        "database integrity check passed"
                    )
                }
                Err(e) => {
                    tracing::error!(error = %e, "database integrity check FAILED: the station stops for storage");
                    stats.damaged.store(true, Ordering::SeqCst);
                    stats.set_storage_fault(Some(e.to_string()));
                }
            }
        })
        .map(drop)
        .map_err(StartError::Thread)
}

/// Return the heap's free pages to the system (glibc keeps freed memory for reuse until
/// told): after the start's one-off work, the idle daemon's resident memory is what it
/// holds, not what it once used.
fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}
