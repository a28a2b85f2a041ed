//! Backups of the station database and restoring one (`returnsd backup`, `returnsd
//! restore`; README "Backup and restore").
//!
//! **A backup is one SQLite file**: a consistent snapshot of the station database, taken
//! with SQLite's online backup API from a read-only connection in one step (one read
//! transaction: the daemon keeps writing beside it under WAL, and stays the only writer),
//! plus `backup_photos` (every photo the snapshot's journal references: sha256 → bytes)
//! and `backup_info` (when, which station and epoch, last seq, acknowledged cursor, binary
//! and schema version). One file, because it is copied, checked and restored as a whole:
//! SQLite's own integrity check covers the photos too, and a backup cannot be half a
//! database and half a directory. It is written to a temp file beside the target, fsynced,
//! renamed, and its directory fsynced.
//!
//! **A restore** checks the file (SQLite's `integrity_check`, that it is a backup of this
//! station, a schema this binary knows), copies it to `returnsd.db.restoring`, migrates it
//! to the current schema, runs `journal verify` on it, checks every photo against its
//! hash and hands it to the photo store, drops the backup's own tables, takes **a new
//! epoch** ([`super::seqmap`]: the copy's unacknowledged events are sent again under it
//! with `restored_from`), moves the current database aside (never deleted:
//! `returnsd.db.replaced-<UTC time>`, with its `-wal` and `-shm`), renames the restored one
//! into place and writes a fresh creation marker. The caller holds the state directory's
//! lock (no daemon runs).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::reader::open_reader;
use super::seqmap::{self, SeqMap};
use super::{StoreError, Verification, acked_through, codec, files, pruned_through, schema};

/// Why a backup or a restore did not happen. Each names the file and says what to do;
/// nothing is left half done (a temp file is removed, the current database untouched).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{}: the backup's directory does not exist; create it or name another --out",
        .0.display()
    )]
    NoDirectory(PathBuf),
    #[error(
        "{}: the disk is full; nothing was written there. Free some space or choose another place",
        .0.display()
    )]
    DiskFull(PathBuf),
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{}: not a returnsd backup ({why}). Nothing was changed; name a file written by `returnsd backup`",
        path.display()
    )]
    NotABackup { path: PathBuf, why: String },
    #[error(
        "{}: the backup is damaged ({detail}). Nothing was changed; restore another backup",
        path.display()
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "{}: the backup is of station {found:?}, but the config says {configured:?}. Nothing was changed",
        path.display()
    )]
    WrongStation {
        path: PathBuf,
        found: String,
        configured: String,
    },
    #[error(
        "{}: the backup's schema version {found} is newer than this returnsd knows ({known}). Nothing was changed; restore it with the returnsd that wrote it (or a newer one)",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "{}: this database is where it was created; there is no move to confirm. Nothing was changed",
        .0.display()
    )]
    NotMoved(PathBuf),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What `backup_info` says about a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    pub taken_at: String,
    pub station_id: String,
    pub epoch: String,
    /// The journal's last local seq in the snapshot (0: empty).
    pub last_seq: i64,
    /// The acknowledged cursor in the snapshot (local seqs).
    pub acked_through: i64,
    pub binary_version: String,
    pub schema_version: i64,
    /// Photos copied into the backup.
    pub photos: i64,
    /// Photos the journal references that were not in the photo store (or damaged there).
    pub photos_missing: Vec<String>,
}

/// Reads a photo of the store by its sha256: its bytes and content type; `Ok(None)` when
/// it is not there, `Err` (with why) when it cannot be read or is damaged.
pub type PhotoSource<'a> = dyn FnMut(&str) -> Result<Option<(Vec<u8>, String)>, String> + 'a;

/// How long a backup step waits for a lock before it gives up (WAL readers are never
/// blocked by the writer, so this is for the unusual: a checkpoint restarting the WAL).
const BUSY_LIMIT: Duration = Duration::from_secs(30);

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |error| {
        if error.kind() == std::io::ErrorKind::StorageFull {
            BackupError::DiskFull(path.to_path_buf())
        } else {
            BackupError::Io {
                path: path.to_path_buf(),
                error,
            }
        }
    }
}

/// A SQLite error while writing `path`, as a [`BackupError`] (a full disk said as such).
fn sql_at(path: &Path) -> impl Fn(rusqlite::Error) -> BackupError + '_ {
    move |e| {
        let e = StoreError::from(e);
        if e.is_disk_full() {
            BackupError::DiskFull(path.to_path_buf())
        } else {
            BackupError::Store(e.at(path))
        }
    }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn remove_with_sidecars(path: &Path) {
    for s in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(path, s));
    }
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Copy `from` into `to` with the online backup API, in one step (one read transaction
/// on `from`: a consistent snapshot however busy the writer is).
fn copy_db(from: &Connection, to: &mut Connection, to_path: &Path) -> Result<(), BackupError> {
    let b = Backup::new(from, to).map_err(sql_at(to_path))?;
    let start = Instant::now();
    loop {
        match b.step(-1).map_err(sql_at(to_path))? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked
                if start.elapsed() < BUSY_LIMIT =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {
                return Err(BackupError::Io {
                    path: to_path.to_path_buf(),
                    error: std::io::Error::other("the database stayed locked for 30 s"),
                });
            }
        }
    }
}

/// Write a backup of the database at `db` to `out`, with the photos `photo` reads.
pub fn take(
    db: &Path,
    out: &Path,
    binary_version: &str,
    photo: &mut PhotoSource<'_>,
) -> Result<BackupInfo, BackupError> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(BackupError::NoDirectory(dir));
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| BackupError::Io {
            path: out.to_path_buf(),
            error: std::io::Error::other("names no file"),
        })?;
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    remove_with_sidecars(&tmp);
    match write_backup(db, &tmp, binary_version, photo) {
        Ok(info) => {
            std::fs::rename(&tmp, out).map_err(io(out))?;
            sync_dir(&dir)?;
            Ok(info)
        }
        Err(e) => {
            remove_with_sidecars(&tmp);
            // A full disk is the target's, whatever step noticed it.
            Err(match e {
                BackupError::DiskFull(_) => BackupError::DiskFull(out.to_path_buf()),
                other => other,
            })
        }
    }
}

fn write_backup(
    db: &Path,
    tmp: &Path,
    binary_version: &str,
    photo: &mut PhotoSource<'_>,
) -> Result<BackupInfo, BackupError> {
    let src = open_reader(db).map_err(|e| e.at(db))?;
    let mut dst = Connection::open(tmp).map_err(sql_at(tmp))?;
    copy_db(&src, &mut dst, tmp)?;
    drop(src);
    let at = sql_at(tmp);
    // One self-contained file: no WAL beside it.
    let _: String = dst
        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
        .map_err(&at)?;
    dst.execute_batch("PRAGMA synchronous=FULL;").map_err(&at)?;
    let mut info = BackupInfo {
        taken_at: codec::fmt_time(chrono::Utc::now()),
        station_id: meta(&dst, "station_id")?.unwrap_or_default(),
        epoch: meta(&dst, "epoch")?.unwrap_or_default(),
        last_seq: last_seq(&dst)?,
        acked_through: acked_through(&dst).map_err(|e| e.at(tmp))?,
        binary_version: binary_version.to_string(),
        schema_version: dst
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(&at)?,
        photos: 0,
        photos_missing: Vec::new(),
    };
    let tx = dst.transaction().map_err(&at)?;
    tx.execute_batch(
        "CREATE TABLE backup_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE backup_photos (
            sha256 TEXT PRIMARY KEY,
            content_type TEXT NOT NULL,
            bytes BLOB NOT NULL
         );",
    )
    .map_err(&at)?;
    for sha in referenced_photos(&tx).map_err(&at)? {
        match photo(&sha) {
            Ok(Some((bytes, content_type))) => {
                tx.execute(
                    "INSERT INTO backup_photos(sha256, content_type, bytes) VALUES (?1, ?2, ?3)",
                    params![sha, content_type, bytes],
                )
                .map_err(&at)?;
                info.photos += 1;
            }
            Ok(None) => info.photos_missing.push(sha),
            Err(why) => info.photos_missing.push(format!("{sha} ({why})")),
        }
    }
    let rows: [(&str, String); 9] = [
        ("taken_at", info.taken_at.clone()),
        ("station_id", info.station_id.clone()),
        ("epoch", info.epoch.clone()),
        ("last_seq", info.last_seq.to_string()),
        ("acked_through", info.acked_through.to_string()),
        ("binary_version", info.binary_version.clone()),
        ("schema_version", info.schema_version.to_string()),
        ("photos", info.photos.to_string()),
        ("photos_missing", info.photos_missing.join("\n")),
    ];
    for (k, v) in rows {
        tx.execute(
            "INSERT INTO backup_info(key, value) VALUES (?1, ?2)",
            params![k, v],
        )
        .map_err(&at)?;
    }
    tx.commit().map_err(&at)?;
    dst.close().map_err(|(_, e)| at(e))?;
    File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(tmp))?;
    Ok(info)
}

fn meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// The last local seq, the pruned prefix included (0: nothing ever journaled).
fn last_seq(conn: &Connection) -> Result<i64, StoreError> {
    let last: Option<i64> = conn.query_row("SELECT MAX(seq) FROM journal", [], |r| r.get(0))?;
    Ok(last.unwrap_or(0).max(pruned_through(conn)?))
}

/// The sha256 of every photo the journal references, once each.
fn referenced_photos(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut q = conn.prepare(
        "SELECT DISTINCT json_extract(p.value, '$.sha256')
         FROM journal j, json_each(j.data, '$.photos') p
         WHERE j.type = 'inspection.completed' AND json_valid(j.data)
           AND json_extract(p.value, '$.sha256') IS NOT NULL
         ORDER BY 1",
    )?;
    let rows = q.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Open a backup file and read its `backup_info`, refusing anything that is not an intact
/// backup: not SQLite, damaged, no `backup_info`.
pub fn inspect(path: &Path) -> Result<BackupInfo, BackupError> {
    let not = |why: &str| BackupError::NotABackup {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    let len = std::fs::metadata(path).map_err(io(path))?.len();
    if len == 0 {
        return Err(not("the file is empty"));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| BackupError::Store(StoreError::from(e).at(path)))?;
    let damaged = |detail: String| BackupError::Damaged {
        path: path.to_path_buf(),
        detail,
    };
    let check: String = match conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)) {
        Ok(c) => c,
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::NotADatabase =>
        {
            return Err(not("not an SQLite database"));
        }
        Err(e) => return Err(damaged(e.to_string())),
    };
    if check != "ok" {
        return Err(damaged(
            check.lines().take(3).collect::<Vec<_>>().join("; "),
        ));
    }
    let has_info: bool = conn
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'backup_info')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| damaged(e.to_string()))?;
    if !has_info {
        return Err(not("it has no backup_info table"));
    }
    let get = |key: &str| -> Result<String, BackupError> {
        conn.query_row("SELECT value FROM backup_info WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| damaged(e.to_string()))?
        .ok_or_else(|| damaged(format!("backup_info has no {key}")))
    };
    let int = |key: &str| -> Result<i64, BackupError> {
        let v = get(key)?;
        v.parse()
            .map_err(|_| damaged(format!("backup_info.{key} is {v:?}")))
    };
    let missing = get("photos_missing")?;
    // The file's own schema version, not what backup_info says: that is what a restore
    // must be able to read.
    let schema_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| damaged(e.to_string()))?;
    Ok(BackupInfo {
        taken_at: get("taken_at")?,
        station_id: get("station_id")?,
        epoch: get("epoch")?,
        last_seq: int("last_seq")?,
        acked_through: int("acked_through")?,
        binary_version: get("binary_version")?,
        schema_version,
        photos: int("photos")?,
        photos_missing: missing.lines().map(str::to_string).collect(),
    })
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub info: BackupInfo,
    /// The database's new epoch.
    pub epoch: String,
    /// Events of the copy the central had not acknowledged: sent again under the new
    /// epoch, with `restored_from`.
    pub resent: i64,
    /// Where the database that was replaced went (None: there was none).
    pub replaced: Option<PathBuf>,
    /// Photos put back into the photo store.
    pub photos: i64,
    pub verification: Verification,
}

/// Restore the backup `from` as the database at `db` of station `station_id`. `photo`
/// stores a photo's bytes and answers the sha256 it was stored under. The caller holds
/// the state directory's lock.
pub fn restore(
    db: &Path,
    from: &Path,
    station_id: &str,
    photo: &mut dyn FnMut(&[u8]) -> Result<String, String>,
) -> Result<Restored, BackupError> {
    let info = inspect(from)?;
    if info.station_id != station_id {
        return Err(BackupError::WrongStation {
            path: from.to_path_buf(),
            found: info.station_id,
            configured: station_id.to_string(),
        });
    }
    let known = schema::current_version();
    if info.schema_version > known {
        return Err(BackupError::TooNew {
            path: from.to_path_buf(),
            found: info.schema_version,
            known,
        });
    }
    let dir = match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = with_suffix(db, ".restoring");
    remove_with_sidecars(&tmp);
    let prepared = prepare(&tmp, from, info, photo);
    let (info, epoch, resent, photos, verification) = match prepared {
        Ok(p) => p,
        Err(e) => {
            remove_with_sidecars(&tmp);
            return Err(e);
        }
    };
    // Only now is the current database touched: moved aside, never deleted.
    let replaced = move_aside(db)?;
    std::fs::rename(&tmp, db).map_err(io(db))?;
    sync_dir(&dir)?;
    fresh_marker(db, station_id, &epoch)?;
    Ok(Restored {
        info,
        epoch,
        resent,
        replaced,
        photos,
        verification,
    })
}

type Prepared = (BackupInfo, String, i64, i64, Verification);

/// Build the restored database at `tmp`: a copy of the backup, migrated, verified, its
/// photos handed over, its backup tables dropped, a new epoch taken.
fn prepare(
    tmp: &Path,
    from: &Path,
    info: BackupInfo,
    photo: &mut dyn FnMut(&[u8]) -> Result<String, String>,
) -> Result<Prepared, BackupError> {
    {
        let src = Connection::open_with_flags(
            from,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| BackupError::Store(StoreError::from(e).at(from)))?;
        let mut dst = Connection::open(tmp).map_err(sql_at(tmp))?;
        copy_db(&src, &mut dst, tmp)?;
    }
    let mut conn = super::open_connection(tmp, false).map_err(|e| e.at(tmp))?;
    let at = sql_at(tmp);
    schema::migrate(&mut conn, tmp)?;
    let damaged = |detail: String| BackupError::Damaged {
        path: from.to_path_buf(),
        detail,
    };
    let verification = super::verify(&conn).map_err(|e| damaged(e.to_string()))?;
    if !verification.ok() {
        return Err(damaged(format!(
            "journal verify fails: {} gap(s), {} undecodable event(s), {} return(s) unlike the journal, stock {}, benches {}",
            verification.gaps.len(),
            verification.undecodable.len(),
            verification.mismatched_returns.len(),
            if verification.stock_matches {
                "matches"
            } else {
                "differs"
            },
            if verification.benches_match {
                "match"
            } else {
                "differ"
            },
        )));
    }
    let mut photos = 0;
    {
        let mut q = conn
            .prepare("SELECT sha256, bytes FROM backup_photos ORDER BY sha256")
            .map_err(&at)?;
        let mut rows = q.query([]).map_err(&at)?;
        while let Some(row) = rows.next().map_err(&at)? {
            let sha: String = row.get(0).map_err(&at)?;
            let bytes: Vec<u8> = row.get(1).map_err(&at)?;
            match photo(&bytes) {
                Ok(stored) if stored == sha => photos += 1,
                Ok(stored) => {
                    return Err(damaged(format!(
                        "photo {sha} holds bytes that hash to {stored}"
                    )));
                }
                Err(why) => return Err(damaged(format!("photo {sha}: {why}"))),
            }
        }
    }
    let tx = conn.transaction().map_err(&at)?;
    tx.execute_batch("DROP TABLE backup_photos; DROP TABLE backup_info;")
        .map_err(&at)?;
    let (epoch, resent) =
        take_new_epoch(&tx, ("restored_from_backup", &info.taken_at)).map_err(|e| e.at(tmp))?;
    // The file renamed into place keeps this inode: where the database now lives.
    super::identity::record(&tx, tmp).map_err(|e| e.at(tmp))?;
    tx.commit().map_err(&at)?;
    // Give the photos' pages back, and leave one self-contained file to rename.
    conn.execute_batch("PRAGMA incremental_vacuum;")
        .map_err(&at)?;
    let _: String = conn
        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
        .map_err(&at)?;
    conn.close().map_err(|(_, e)| at(e))?;
    File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(tmp))?;
    Ok((info, epoch, resent, photos, verification))
}

/// Give the database (inside `tx`) a new epoch, as contract 1.1 asks of a restored or
/// moved database ([`seqmap`]): the acknowledged cursor becomes the offset, the old epoch
/// and its own offset are where the unacknowledged events came from. `why` is a meta row
/// saying what prompted it. Answers the new epoch and how many events will be sent again.
fn take_new_epoch(tx: &Connection, why: (&str, &str)) -> Result<(String, i64), StoreError> {
    let old = seqmap::seq_map(tx)?;
    let acked = acked_through(tx)?;
    let last = last_seq(tx)?;
    let old_epoch = meta(tx, "epoch")?.unwrap_or_default();
    let epoch = uuid::Uuid::new_v4().to_string();
    let set = [
        ("epoch", epoch.clone()),
        (seqmap::OFFSET, acked.to_string()),
        (seqmap::FROM_EPOCH, old_epoch),
        (seqmap::FROM_OFFSET, old.offset().to_string()),
        (seqmap::THROUGH, last.to_string()),
        ("restored_at", codec::fmt_time(chrono::Utc::now())),
        (why.0, why.1.to_string()),
    ];
    for (k, v) in set {
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![k, v],
        )?;
    }
    Ok((epoch, SeqMap::new(acked, None).to_wire(last)))
}

/// What `restore --confirm-moved` did.
#[derive(Debug)]
pub struct ConfirmedMove {
    /// Why the database counted as moved.
    pub moved: String,
    pub epoch: String,
    /// Events the central had not acknowledged: sent again under the new epoch.
    pub resent: i64,
}

/// `returnsd restore --confirm-moved`: the database at `db` was copied or moved (its
/// recorded identity differs); take a new epoch in place, record where it lives now and
/// write a fresh creation marker. Refused when the database has not moved. The caller
/// holds the state directory's lock.
pub fn confirm_moved(db: &Path, station_id: &str) -> Result<ConfirmedMove, BackupError> {
    super::files::check_present(db)?;
    let mut conn = super::open_connection(db, false).map_err(|e| e.at(db))?;
    schema::migrate(&mut conn, db)?;
    let found = meta(&conn, "station_id").map_err(|e| e.at(db))?;
    if let Some(found) = found.filter(|f| f != station_id) {
        return Err(BackupError::Store(StoreError::WrongStation {
            path: db.to_path_buf(),
            found,
            configured: station_id.to_string(),
        }));
    }
    let Some(moved) = super::identity::moved(&conn, db).map_err(|e| e.at(db))? else {
        return Err(BackupError::NotMoved(db.to_path_buf()));
    };
    let at = sql_at(db);
    let tx = conn.transaction().map_err(&at)?;
    let (epoch, resent) = take_new_epoch(&tx, ("moved_confirmed", &moved)).map_err(|e| e.at(db))?;
    super::identity::record(&tx, db).map_err(|e| e.at(db))?;
    tx.commit().map_err(&at)?;
    drop(conn);
    fresh_marker(db, station_id, &epoch)?;
    Ok(ConfirmedMove {
        moved,
        epoch,
        resent,
    })
}

/// A new epoch is a new database as far as the creation marker is concerned: it says
/// this epoch, created now.
fn fresh_marker(db: &Path, station_id: &str, epoch: &str) -> Result<(), StoreError> {
    files::write_marker(
        db,
        &files::Marker {
            station: station_id.to_string(),
            epoch: epoch.to_string(),
            created_at: codec::fmt_time(chrono::Utc::now()),
        },
    )
}

/// Move the database at `db` (and its `-wal`, `-shm`) to `<db>.replaced-<UTC time>`; the
/// main file's new name, or None when there was no database.
fn move_aside(db: &Path) -> Result<Option<PathBuf>, BackupError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let target = with_suffix(db, &format!(".replaced-{stamp}"));
    let mut moved = None;
    // The sidecars first: a WAL left beside a new main file would be replayed into it.
    for suffix in ["-wal", "-shm", "-journal", ""] {
        let from = with_suffix(db, suffix);
        if std::fs::symlink_metadata(&from).is_err() {
            continue;
        }
        let to = with_suffix(&target, suffix);
        std::fs::rename(&from, &to).map_err(io(&from))?;
        if suffix.is_empty() {
            moved = Some(to);
        }
    }
    Ok(moved)
}
