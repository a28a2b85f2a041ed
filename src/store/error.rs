//! What can go wrong with the station database, each naming the file it concerns and what
//! to do about it.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{path}: this file is not a returnsd database (not SQLite, or encrypted). Nothing was changed. Point storage.state_dir at the right directory or move the file away."
    )]
    NotADatabase { path: PathBuf },
    #[error(
        "{path}: the database failed its integrity check ({detail}). returnsd refuses to run on a damaged file: restore it from a backup, or move it away (keep it) and start afresh with `returnsd init --new-epoch`."
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path}: this database belongs to station {found:?}, but the config says {configured:?}."
    )]
    WrongStation {
        path: PathBuf,
        found: String,
        configured: String,
    },
    #[error(
        "{path}: schema version {found} is newer than this returnsd knows ({known}); upgrade returnsd."
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{path}: cannot open the database: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Missing(Box<MissingDatabase>),
    #[error(
        "{path}: the state directory is in use by {holder} (PID {pid}); one returnsd per state directory. Stop it first (`systemctl stop returnsd`), or point storage.state_dir elsewhere.",
        pid = pid.map_or_else(|| "unknown".to_string(), |p| p.to_string())
    )]
    Locked {
        path: PathBuf,
        pid: Option<u64>,
        holder: String,
    },
    #[error("{path}: storage fault: {detail}")]
    Fault { path: PathBuf, detail: String },
    #[error("{path}: {error}")]
    Db {
        path: PathBuf,
        /// Not a `source`: the message says it all, and chained reports would repeat it.
        error: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("stored data is unreadable at {what}: {detail}")]
    Decode { what: String, detail: String },
}

impl StoreError {
    /// The same error, naming the database file it concerns.
    pub fn at(self, path: &Path) -> StoreError {
        if matches!(
            self.sqlite_code(),
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        ) {
            let detail = match &self {
                StoreError::Sql(e) | StoreError::Db { error: e, .. } => e.to_string(),
                other => other.to_string(),
            };
            return StoreError::Corrupt {
                path: path.to_path_buf(),
                detail,
            };
        }
        match self {
            StoreError::Sql(error) => StoreError::Db {
                path: path.to_path_buf(),
                error,
            },
            StoreError::Decode { what, detail } => StoreError::Decode {
                what: format!("{}: {what}", path.display()),
                detail,
            },
            other => other,
        }
    }

    /// The underlying SQLite error, if any.
    pub fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
            | StoreError::Db {
                error: rusqlite::Error::SqliteFailure(f, _),
                ..
            }
            | StoreError::Open {
                source: rusqlite::Error::SqliteFailure(f, _),
                ..
            } => Some(f.code),
            _ => None,
        }
    }

    /// The disk (or the filesystem under the state directory) is full.
    pub fn is_disk_full(&self) -> bool {
        self.sqlite_code() == Some(rusqlite::ErrorCode::DiskFull)
    }

    pub(crate) fn decode(what: impl Into<String>, detail: impl Into<String>) -> StoreError {
        StoreError::Decode {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// A database that is missing or empty where the marker says one was created.
#[derive(Debug)]
pub struct MissingDatabase {
    pub path: PathBuf,
    /// The file exists with 0 bytes (else it is gone).
    pub empty: bool,
    /// The creation marker that says a database was made here.
    pub marker_path: PathBuf,
    /// What the marker says: the station, its epoch and when the database was created.
    pub station: String,
    pub epoch: String,
    pub created_at: String,
}

impl std::fmt::Display for MissingDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: the station database is {}, but {} shows station {}'s database was created here (epoch {}, {}). Nothing was created. Restore the database from a backup (see the README), or start afresh with a new epoch: `returnsd init --new-epoch`.",
            self.path.display(),
            if self.empty {
                "empty (0 bytes)"
            } else {
                "missing"
            },
            self.marker_path.display(),
            self.station,
            self.epoch,
            self.created_at,
        )
    }
}
