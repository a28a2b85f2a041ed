//! Why a command failed before it had an answer to print: `returnsd: <message>` on
//! standard error, exit status 2. Each variant keeps the words operators have always seen;
//! only a daemon that could not start is printed with its causes (`a: b: c`), by the
//! binary's edge ([`super::dispatch::main`]).

use std::path::PathBuf;

use crate::app::DaemonError;
use crate::config::ConfigError;
use crate::control::RequestError;
use crate::manifest::ImportError;
use crate::store::StoreError;
use crate::store::backup::BackupError;

/// What stopped a command. None of the variants but [`CliError::Daemon`] has a source: the
/// message says it all, and a report with causes would repeat it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The config file is missing or invalid (every problem, one a line).
    #[error("{0}")]
    Config(ConfigError),
    /// The daemon could not start; its causes follow its message.
    #[error(transparent)]
    Daemon(DaemonError),
    /// The daemon could not be reached, or did not answer.
    #[error("{0}")]
    Control(RequestError),
    /// The station database (or its state directory's lock).
    #[error("{0}")]
    Store(StoreError),
    /// A command that reads the database found none.
    #[error("{}: no database yet (start the daemon once, or import a manifest)", .0.display())]
    NoDatabase(PathBuf),
    /// A backup that could not be written, or a restore that was refused.
    #[error("{0}")]
    Backup(BackupError),
    /// A manifest file that cannot be read.
    #[error("{0}")]
    Manifest(ImportError),
    /// A file or stream: which one (or what was being done), and the system's words.
    #[error("{what}: {error}")]
    Io { what: String, error: std::io::Error },
    /// Writing an export (standard output or `--out`) failed.
    #[error("{0}")]
    Write(std::io::Error),
    /// Writing the CSV form of an export failed.
    #[error("{0}")]
    Csv(csv::Error),
    /// A PIN that cannot be hashed.
    #[error("{0}")]
    Pin(#[from] crate::http::auth::PinError),
    /// The print queue or a label preview.
    #[error("{0}")]
    Print(#[from] crate::labels::PrintError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The command line asks for what cannot be done; the message says what to type.
    #[error("{0}")]
    Usage(String),
    /// A module that words its own failures (PIN hashing, the photo store, labels, the
    /// command sheet, an import the daemon did not finish).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// An I/O error on `what` (a path, or what was being done).
    pub fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> CliError {
        move |error| CliError::Io {
            what: what.to_string(),
            error,
        }
    }
}

/// `From` for the variants that carry another module's error as it is, so `?` works.
macro_rules! carries {
    ($($error:ty => $variant:ident),* $(,)?) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> CliError {
                CliError::$variant(e)
            }
        }
    )*};
}

carries!(
    ConfigError => Config,
    DaemonError => Daemon,
    RequestError => Control,
    StoreError => Store,
    BackupError => Backup,
    ImportError => Manifest,
    csv::Error => Csv,
    String => Failed,
);
