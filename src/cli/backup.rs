//! `returnsd backup --out FILE` (beside the running daemon: a read-only snapshot),
//! `returnsd restore --from FILE` and `returnsd restore --confirm-moved` (under the state
//! directory's lock: never beside the daemon). The work is the store's (`store::backup`); here the photo store is lent to it
//! and the outcome is worded. Exit 0 when done; any refusal is `returnsd: …`, exit 2, with
//! nothing changed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::error::CliError;
use super::setup::{existing_database, load_config, lock_state_dir};
use crate::store::backup;

/// `returnsd backup --out FILE`.
pub fn backup(config: &Option<PathBuf>, out: &Path) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let db = existing_database(&cfg)?;
    let state_dir = &cfg.storage.state_dir;
    let info = backup::take(db, out, env!("CARGO_PKG_VERSION"), &mut |sha| {
        crate::photos::read(state_dir, sha).map_err(|e| e.to_string())
    })?;
    println!(
        "{}: backup of station {} (epoch {}) taken {}: journal through seq {}, acknowledged by the central through {}, schema version {}, {} photo(s)",
        out.display(),
        info.station_id,
        info.epoch,
        info.taken_at,
        info.last_seq,
        info.acked_through,
        info.schema_version,
        info.photos
    );
    if !info.photos_missing.is_empty() {
        println!(
            "warning: {} photo(s) the journal references are not in the photo store (pruned after upload, or damaged): {}",
            info.photos_missing.len(),
            info.photos_missing.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `returnsd restore --from FILE`.
pub fn restore(config: &Option<PathBuf>, from: &Path) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let _lock = lock_state_dir(&cfg, "returnsd restore")?;
    let state_dir = &cfg.storage.state_dir;
    let r = backup::restore(
        &cfg.storage.database,
        from,
        cfg.station.id.as_str(),
        &mut |bytes| {
            crate::photos::store(state_dir, bytes)
                .map(|p| p.sha256)
                .map_err(|e| e.to_string())
        },
    )?;
    if let Some(old) = &r.replaced {
        println!("{}: the database that was here, kept", old.display());
    }
    println!(
        "{}: restored from {} (taken {}, epoch {}, journal through seq {}); journal verify: {} events, OK; {} photo(s)",
        cfg.storage.database.display(),
        from.display(),
        r.info.taken_at,
        r.info.epoch,
        r.info.last_seq,
        r.verification.events,
        r.photos
    );
    println!(
        "new epoch {}: {} event(s) the central had not acknowledged will be sent again under it (with restored_from); start the daemon",
        r.epoch, r.resent
    );
    Ok(ExitCode::SUCCESS)
}

/// `returnsd restore --confirm-moved`.
pub fn confirm_moved(config: &Option<PathBuf>) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let _lock = lock_state_dir(&cfg, "returnsd restore --confirm-moved")?;
    let r = backup::confirm_moved(&cfg.storage.database, cfg.station.id.as_str())?;
    println!("confirmed: {}", r.moved);
    println!(
        "new epoch {}: {} event(s) the central had not acknowledged will be sent again under it (with restored_from); start the daemon",
        r.epoch, r.resent
    );
    Ok(ExitCode::SUCCESS)
}
