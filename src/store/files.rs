//! The state directory's own files besides the database: the lock that lets one process
//! own the directory at a time, and the creation marker that remembers a database was
//! made here (so a database that vanished or was emptied is noticed, never silently
//! replaced by a new one with a new epoch).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::error::{MissingDatabase, StoreError};

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "returnsd.lock";

/// An exclusive lock on the state directory, held for the life of the value (the kernel
/// releases it when the process ends, however it ends).
#[derive(Debug)]
pub struct StateLock {
    /// Kept open: closing it would release the lock.
    _file: File,
    pub path: PathBuf,
}

impl StateLock {
    /// Take the lock without waiting; `who` says what holds it (written into the file for
    /// the next one who tries, with the PID). Refused with the holder's PID when another
    /// process has it.
    pub fn acquire(state_dir: &Path, who: &str) -> Result<StateLock, StoreError> {
        let path = state_dir.join(LOCK_FILE);
        let io = |e: std::io::Error| StoreError::Fault {
            path: path.clone(),
            detail: e.to_string(),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                return Err(StoreError::Locked {
                    path,
                    pid: holder["pid"].as_u64(),
                    holder: holder["what"].as_str().unwrap_or("returnsd").to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let me = json!({"pid": std::process::id(), "what": who});
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(format!("{me}\n").as_bytes()))
            .map_err(io)?;
        Ok(StateLock { _file: file, path })
    }
}

/// The creation marker's path for a database file.
pub fn marker_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".created");
    PathBuf::from(p)
}

/// What the marker says about the database that was created here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub station: String,
    pub epoch: String,
    pub created_at: String,
}

pub fn read_marker(db: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(marker_path(db)).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    Some(Marker {
        station: v["station"].as_str()?.to_string(),
        epoch: v["epoch"].as_str()?.to_string(),
        created_at: v["created_at"].as_str().unwrap_or("").to_string(),
    })
}

/// Write the marker durably (file and directory entry).
pub fn write_marker(db: &Path, m: &Marker) -> Result<(), StoreError> {
    let path = marker_path(db);
    let io = |e: std::io::Error| StoreError::Fault {
        path: path.clone(),
        detail: e.to_string(),
    };
    let text = json!({
        "station": m.station,
        "epoch": m.epoch,
        "created_at": m.created_at,
        "note": "written when this station's database was created; returnsd refuses to start on a missing or empty database while this file says one existed",
    });
    let tmp = path.with_extension("created.tmp");
    {
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(format!("{text:#}\n").as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, &path).map_err(io)?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

/// Refuse a database that is missing or empty where the marker says one was created.
pub fn check_present(db: &Path) -> Result<(), StoreError> {
    let len = std::fs::metadata(db).map(|m| m.len()).ok();
    if len.is_some_and(|l| l > 0) {
        return Ok(());
    }
    match read_marker(db) {
        None => Ok(()),
        Some(marker) => Err(StoreError::Missing(Box::new(MissingDatabase {
            path: db.to_path_buf(),
            empty: len.is_some(),
            marker_path: marker_path(db),
            station: marker.station,
            epoch: marker.epoch,
            created_at: marker.created_at,
        }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second lock on the same directory is refused and names the first holder's PID;
    /// once the first is dropped it can be taken.
    #[test]
    fn one_lock_per_state_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path(), "returnsd run").unwrap();
        let e = StateLock::acquire(dir.path(), "returnsd run").unwrap_err();
        let pid = std::process::id();
        assert!(
            matches!(&e, StoreError::Locked { pid: Some(p), .. } if *p == u64::from(pid)),
            "{e}"
        );
        assert!(e.to_string().contains(&pid.to_string()), "{e}");
        drop(first);
        StateLock::acquire(dir.path(), "returnsd run").unwrap();
    }

    /// Without a marker a missing database may be created; with one, a missing or empty
    /// file is refused with what to do.
    #[test]
    fn a_marked_database_that_vanished_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("returnsd.db");
        check_present(&db).unwrap();
        let m = Marker {
            station: "ST01".into(),
            epoch: "e1".into(),
            created_at: "2026-12-01T00:00:00Z".into(),
        };
        write_marker(&db, &m).unwrap();
        assert_eq!(read_marker(&db), Some(m));
        let e = check_present(&db).unwrap_err().to_string();
        assert!(
            e.contains("missing") && e.contains("init --new-epoch"),
            "{e}"
        );
        std::fs::write(&db, b"").unwrap();
        let e = check_present(&db).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        std::fs::write(&db, b"x").unwrap();
        check_present(&db).unwrap();
    }
}
