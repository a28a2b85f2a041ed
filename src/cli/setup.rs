//! What most commands do first: load the config (the `--config` file, or the default
//! place), start a small async runtime for the control socket (the daemon's logging is
//! `logging`).

use std::path::{Path, PathBuf};

use super::error::CliError;
use crate::config::{self, Config};
use crate::store::files::StateLock;

/// The config file `--config` names, or the default place.
pub fn config_path(config: &Option<PathBuf>) -> PathBuf {
    config.clone().unwrap_or_else(config::default_config_path)
}

/// Load and validate the config.
pub fn load_config(config: &Option<PathBuf>) -> Result<Config, CliError> {
    Ok(config::load(&config_path(config))?)
}

/// The runtime a command talks to the daemon in (two workers: the floor PC is small).
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// The database of a command that only reads it: refused, with what to do, when there is
/// none yet.
pub fn existing_database(cfg: &Config) -> Result<&Path, CliError> {
    let db = &cfg.storage.database;
    if !db.exists() {
        return Err(CliError::NoDatabase(db.clone()));
    }
    Ok(db)
}

/// The state directory (created if need be) and its lock, for a command that must not run
/// beside the daemon: refused, naming the holder, while one runs.
pub fn lock_state_dir(cfg: &Config, who: &str) -> Result<StateLock, CliError> {
    let dir = &cfg.storage.state_dir;
    std::fs::create_dir_all(dir).map_err(CliError::io(dir.display()))?;
    Ok(StateLock::acquire(dir, who)?)
}
