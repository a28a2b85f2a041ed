//! Opening the station database, loading the state, and starting the engine thread and
//! its checkpointer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::sync::{broadcast, mpsc};

use super::handle::{EngineHandle, Input};
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
