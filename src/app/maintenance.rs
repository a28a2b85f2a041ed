//! The housekeeping worker: every `storage.maintenance_interval` it expires photos past
//! retention that no unsent event references, measures the photo store, prunes
//! acknowledged events past retention, and warns when the disk passes its high-water mark.
//! It stops at the daemon's stop flag.

use std::sync::Arc;

use crate::config::Config;
use crate::engine::EngineHandle;

/// Housekeeping every `every`: measure the photo store, prune acknowledged events past the
/// retention period (more eagerly while the disk is over its high-water mark), alarm on
/// the high-water mark.
pub(super) async fn maintenance(
    cfg: Arc<Config>,
    engine: EngineHandle,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use std::sync::atomic::Ordering;
    let mut high = false;
    loop {
        let dir = cfg.storage.state_dir.clone();
        let db = cfg.storage.database.clone();
        let retention = cfg.sync.retention;
        let pruned = tokio::task::spawn_blocking(move || {
            // A photo goes only when it is past retention and no event still waiting for
            // the central references it (its upload is due before that event's push).
            let db = crate::store::Reader::open(&db).ok()?;
            let acked = crate::store::acked_through(&db).ok()?;
            let cutoff = std::time::SystemTime::now().checked_sub(retention)?;
            let mut referenced =
                |sha: &str| crate::store::photo_referenced_after(&db, acked, sha).unwrap_or(true);
            Some(crate::photos::prune(&dir, cutoff, &mut referenced))
        })
        .await;
        if let Ok(Some((files, bytes))) = pruned
            && files > 0
        {
            tracing::info!(files, bytes, "pruned photos past retention");
        }
        let dir = cfg.storage.state_dir.clone();
        if let Ok(bytes) = tokio::task::spawn_blocking(move || crate::photos::usage(&dir)).await {
            engine.stats.photo_bytes.store(bytes, Ordering::Relaxed);
        }
        for _ in 0..50 {
            match engine.prune().await {
                Ok(0) => break,
                Ok(n) => tracing::info!(pruned = n, "pruned acknowledged events past retention"),
                Err(e) => {
                    tracing::warn!(error = %e, "prune failed");
                    break;
                }
            }
        }
        let used = engine.stats.disk_used.load(Ordering::Relaxed);
        let mark = cfg.storage.cap_bytes / 100 * u64::from(cfg.storage.high_water_pct);
        if used >= mark && !high {
            tracing::warn!(
                used,
                cap = cfg.storage.cap_bytes,
                "disk usage above the high-water mark"
            );
        }
        high = used >= mark;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}
