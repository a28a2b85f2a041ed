//! The counters and the storage state operators see (API, `/metrics`, `sync status`,
//! the kiosk's alarms), written by the engine thread and the checkpointer.

use std::sync::atomic::{AtomicBool, AtomicU64};

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
    /// Returns the engine holds in memory: the open work (`store::working`), whatever the
    /// history behind it.
    pub held_returns: AtomicU64,
    /// The database passed its integrity check (run after READY): until then nothing is
    /// checkpointed into the database file, so a damaged file is never written over.
    pub verified: AtomicBool,
    /// The integrity check found the file damaged: stopped for storage for good (until a
    /// restore and a restart) — no repair is tried, so the engine stays quick to answer.
    pub damaged: AtomicBool,
    /// Inputs the engine thread has taken off its channel and not yet answered (the
    /// batch being written and those waiting their turn, per source).
    pub inputs_taken: AtomicU64,
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

    pub(super) fn set_storage_fault(&self, fault: Option<String>) {
        *self.storage_fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }
}
