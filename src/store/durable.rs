//! What the station does after a storage error, so that a scan answered `NOT SAVED` never
//! appears later and every scan acknowledged afterwards survives a power cut.
//!
//! ## What goes wrong (the behaviour this relies on)
//!
//! A commit in WAL mode with `synchronous=FULL` writes the transaction's frames at the end
//! of the WAL file, `fdatasync`s the WAL, and only then publishes the new end of the log
//! (`mxFrame`) in the wal-index header of the `-shm` file (SQLite's `walFrames`: the
//! wal-index is appended to and its header written after the sync returns). When the
//! sync fails, SQLite reports `SQLITE_IOERR_FSYNC`, the header keeps the old `mxFrame`, and
//! the connection rolls back: to every connection the failed transaction never happened.
//!
//! But its frames are still in the WAL file as the kernel's page cache holds it. Linux
//! marks pages whose write-back failed **clean** (the error is reported once, by that
//! fsync): they stay readable until evicted, a later fsync does not write them again, and
//! a power cut loses them. Two things then break if nothing is done:
//! - a new process (a restart, a CLI command) rebuilds the wal-index from the WAL file as
//!   the page cache shows it, finds the failed frames with valid checksums and a commit
//!   marker, and treats the `NOT SAVED` transaction as committed;
//! - it then appends its own commits after those frames and fsyncs only what it wrote. At
//!   a power cut the disk holds stale bytes where the failed frames were, WAL recovery
//!   stops at the first frame whose checksum does not chain, and every commit after it —
//!   acknowledged ones included — is gone.
//!
//! A failed checkpoint is different: it copies WAL frames into the database file, and
//! only after the database file's fsync succeeds does it advance `nBackfill`. A failed
//! one leaves `nBackfill` where it was, the frames stay authoritative in the WAL, and the
//! next checkpoint copies (and so rewrites and fsyncs) the same pages again. Nothing needs
//! undoing; the station still stops and re-verifies, as below, because the disk has
//! shown it cannot be trusted.
//!
//! ## What the station does ([`repair_after_io_error`])
//!
//! The engine calls it on any I/O error from a commit or a checkpoint, **before** it
//! answers anyone, and answers nothing `OK` until it has succeeded (until then the station
//! is stopped for storage: an alarm, and every input answered `NOT SAVED`; it tries again
//! on later inputs):
//! 1. take the write lock (`BEGIN IMMEDIATE`), so the log's end cannot move;
//! 2. read `mxFrame` and the page size from the wal-index header (the documented
//!    "WAL-index format": two identical 48-byte copies at the start of `-shm`, native byte
//!    order) — the end of the last transaction whose fsync succeeded;
//! 3. truncate the WAL file to exactly that end and fsync it: the failed frames are gone
//!    from the page cache, so no process can read them, and — once that fsync succeeds —
//!    from the disk too;
//! 4. drop the WAL's and the database file's cached pages (`posix_fadvise(DONTNEED)`:
//!    clean pages are evicted), so that what is read next comes from the disk;
//! 5. read the WAL back and verify its header and the checksum chain of every frame
//!    through `mxFrame`, and that the last one carries a commit marker: every transaction
//!    the station acknowledged is on the disk, readable;
//! 6. release the lock. The engine then checks that the journal ends at the last seq it
//!    acknowledged (not before: lost; not after: a phantom) and reloads its state from
//!    the database.
//!
//! If any step fails the station stays stopped; if the verification finds acknowledged
//! data missing it says so and stays stopped: only a backup restore or a supervisor's
//! decision can go on from there. A full disk (`SQLITE_FULL`) is not such an error: the
//! write failed before any commit marker, and the station resumes by itself when space
//! returns.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::StoreError;

/// Size of the WAL file header.
const WAL_HEADER: u64 = 32;
/// Size of a frame header in the WAL file.
const FRAME_HEADER: u64 = 24;

/// True for the errors that mean the disk did not do what it was asked (as opposed to a
/// full disk, a busy lock or bad input).
pub fn is_io_error(e: &StoreError) -> bool {
    if matches!(e, StoreError::Corrupt { .. }) {
        return true;
    }
    matches!(
        e.sqlite_code(),
        Some(
            rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::DatabaseCorrupt
                | rusqlite::ErrorCode::NotADatabase
                | rusqlite::ErrorCode::CannotOpen
        )
    )
}

/// True for the errors that mean the file itself is damaged (SQLite read a page that is
/// not what it wrote): a re-check cannot heal it, only a restore can.
pub fn is_damage(e: &StoreError) -> bool {
    matches!(e, StoreError::Corrupt { .. })
        || matches!(
            e.sqlite_code(),
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        )
}

/// The wal-index header's view of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalEnd {
    /// Frames of committed transactions in the WAL (0: the log is empty).
    pub mx_frame: u32,
    pub page_size: u32,
    /// The log's salts, as the bytes the WAL header and every frame header carry.
    pub salt: [u8; 8],
}

impl WalEnd {
    /// Bytes of the WAL file that hold committed transactions.
    pub fn bytes(&self) -> u64 {
        if self.mx_frame == 0 {
            0
        } else {
            WAL_HEADER + u64::from(self.mx_frame) * (FRAME_HEADER + u64::from(self.page_size))
        }
    }
}

fn side_file(db: &Path, suffix: &str) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn fault(path: &Path, what: impl std::fmt::Display) -> StoreError {
    StoreError::Fault {
        path: path.to_path_buf(),
        detail: what.to_string(),
    }
}

/// Read the wal-index header from the `-shm` file (both copies must agree).
pub fn read_wal_end(db: &Path) -> Result<WalEnd, StoreError> {
    let shm = side_file(db, "-shm");
    let mut buf = [0u8; 96];
    File::open(&shm)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| fault(&shm, format!("cannot read the wal-index: {e}")))?;
    if buf[..48] != buf[48..96] || buf[12] == 0 {
        return Err(fault(
            &shm,
            "the wal-index header is being changed or not set up",
        ));
    }
    let u32_at = |o: usize| u32::from_ne_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
    let sz = u32::from(u16::from_ne_bytes([buf[14], buf[15]]));
    // The page size is stored as two bytes; 65536 is written as 1.
    let page_size = if sz == 1 { 65536 } else { sz };
    Ok(WalEnd {
        mx_frame: u32_at(16),
        page_size,
        salt: buf[32..40].try_into().unwrap_or_default(),
    })
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `s`.
fn wal_checksum(big_endian: bool, data: &[u8], s: [u32; 2]) -> [u32; 2] {
    let (mut s0, mut s1) = (s[0], s[1]);
    for pair in data.chunks_exact(8) {
        let word = |b: &[u8]| {
            let a = [b[0], b[1], b[2], b[3]];
            if big_endian {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        };
        s0 = s0.wrapping_add(word(&pair[..4]).wrapping_add(s1));
        s1 = s1.wrapping_add(word(&pair[4..]).wrapping_add(s0));
    }
    [s0, s1]
}

fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Verify the WAL file's first `end.mx_frame` frames: header checksum, the salts, the
/// checksum chain, and a commit marker on the last frame.
pub fn verify_wal(wal: &Path, end: &WalEnd) -> Result<(), StoreError> {
    if end.mx_frame == 0 {
        return Ok(());
    }
    let mut f = File::open(wal).map_err(|e| fault(wal, e))?;
    let mut hdr = [0u8; WAL_HEADER as usize];
    f.read_exact(&mut hdr)
        .map_err(|e| fault(wal, format!("header: {e}")))?;
    let magic = be32(&hdr, 0);
    if magic & !1 != 0x377f_0682 {
        return Err(fault(wal, "not a WAL file (bad magic)"));
    }
    let big_endian = magic & 1 == 1;
    if be32(&hdr, 8) != end.page_size {
        return Err(fault(wal, "page size differs from the wal-index"));
    }
    let salt = &hdr[16..24];
    let mut sum = wal_checksum(big_endian, &hdr[..24], [0, 0]);
    if sum != [be32(&hdr, 24), be32(&hdr, 28)] {
        return Err(fault(wal, "the WAL header's checksum is wrong"));
    }
    if salt != end.salt.as_slice() {
        return Err(fault(
            wal,
            "the WAL header's salt differs from the wal-index",
        ));
    }
    let mut frame = vec![0u8; (FRAME_HEADER + u64::from(end.page_size)) as usize];
    let mut commit = false;
    for n in 1..=end.mx_frame {
        f.read_exact(&mut frame)
            .map_err(|e| fault(wal, format!("frame {n} of {}: {e}", end.mx_frame)))?;
        if &frame[8..16] != salt {
            return Err(fault(wal, format!("frame {n}: salt does not match")));
        }
        sum = wal_checksum(big_endian, &frame[..8], sum);
        sum = wal_checksum(big_endian, &frame[FRAME_HEADER as usize..], sum);
        if sum != [be32(&frame, 16), be32(&frame, 20)] {
            return Err(fault(wal, format!("frame {n}: checksum does not chain")));
        }
        commit = be32(&frame, 4) != 0;
    }
    if !commit {
        return Err(fault(wal, "the last frame is not a commit"));
    }
    Ok(())
}

/// Evict a file's clean cached pages so that the next read comes from the disk.
fn drop_cache(path: &Path) {
    if let Ok(f) = File::open(path) {
        // SAFETY: a plain syscall on a file descriptor we own for the call's duration.
        unsafe {
            libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
    }
}

/// What [`repair_after_io_error`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// Frames of committed transactions left in the WAL (verified from the disk).
    pub wal_frames: u32,
    /// Bytes of unacknowledged frames cut from the end of the WAL.
    pub cut_bytes: u64,
}

/// Re-establish what is durably on disk after an I/O error (see the module doc). `conn`
/// is the writer's connection; no transaction may be open on it.
pub fn repair_after_io_error(conn: &Connection, db: &Path) -> Result<Repaired, StoreError> {
    let at = |e: rusqlite::Error| StoreError::Db {
        path: db.to_path_buf(),
        error: e,
    };
    // The write lock: the log's end cannot move while it is cut and checked. Starting the
    // transaction also clears the connection's error state from the failed commit.
    conn.execute_batch("BEGIN IMMEDIATE").map_err(at)?;
    let result = (|| {
        let end = read_wal_end(db)?;
        let wal = side_file(db, "-wal");
        let mut cut_bytes = 0;
        if let Ok(f) = OpenOptions::new().write(true).open(&wal) {
            let len = f.metadata().map_err(|e| fault(&wal, e))?.len();
            if len > end.bytes() {
                f.set_len(end.bytes()).map_err(|e| fault(&wal, e))?;
                cut_bytes = len - end.bytes();
            }
            f.sync_all()
                .map_err(|e| fault(&wal, format!("fsync after cutting the log: {e}")))?;
        } else if end.mx_frame > 0 {
            return Err(fault(&wal, "the WAL file is missing"));
        }
        drop_cache(&wal);
        drop_cache(db);
        verify_wal(&wal, &end)?;
        Ok(Repaired {
            wal_frames: end.mx_frame,
            cut_bytes,
        })
    })();
    let _ = conn.execute_batch("ROLLBACK");
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_with_rows(dir: &Path, n: i64) -> (Connection, PathBuf) {
        let db = dir.join("t.db");
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE t(x INTEGER PRIMARY KEY, v TEXT);",
        )
        .unwrap();
        for i in 0..n {
            conn.execute("INSERT INTO t(v) VALUES (?1)", [format!("row {i}")])
                .unwrap();
        }
        (conn, db)
    }

    /// The wal-index header read from `-shm` gives the WAL's committed end, and the WAL up
    /// to it verifies.
    #[test]
    fn the_wal_end_from_the_wal_index_matches_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (_conn, db) = db_with_rows(dir.path(), 5);
        let end = read_wal_end(&db).unwrap();
        assert!(end.mx_frame >= 5, "{end:?}");
        let wal = side_file(&db, "-wal");
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), end.bytes());
        verify_wal(&wal, &end).unwrap();
    }

    /// Frames written after the last commit (a failed commit's) are cut, the rest verifies
    /// and keeps every committed row.
    #[test]
    fn repair_cuts_frames_past_the_last_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, db) = db_with_rows(dir.path(), 3);
        let wal = side_file(&db, "-wal");
        let good = std::fs::metadata(&wal).unwrap().len();
        // A failed commit's frames: valid-looking bytes past the published end.
        let mut bytes = std::fs::read(&wal).unwrap();
        let tail = bytes[bytes.len() - 4120..].to_vec();
        bytes.extend_from_slice(&tail);
        std::fs::write(&wal, &bytes).unwrap();
        let r = repair_after_io_error(&conn, &db).unwrap();
        assert_eq!(r.cut_bytes, 4120);
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), good);
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
    }

    /// A WAL whose committed frames are damaged fails the verification (acknowledged data
    /// is not what the disk holds).
    #[test]
    fn a_damaged_committed_frame_fails_the_verification() {
        let dir = tempfile::tempdir().unwrap();
        let (_conn, db) = db_with_rows(dir.path(), 3);
        let wal = side_file(&db, "-wal");
        let end = read_wal_end(&db).unwrap();
        let mut bytes = std::fs::read(&wal).unwrap();
        let i = bytes.len() - 100;
        bytes[i] ^= 0xff;
        std::fs::write(&wal, &bytes).unwrap();
        let e = verify_wal(&wal, &end).unwrap_err().to_string();
        assert!(e.contains("checksum does not chain"), "{e}");
    }

    /// A full disk is not an I/O error; a failed fsync is.
    #[test]
    fn io_errors_are_told_from_a_full_disk() {
        let err = |code: i32| {
            StoreError::Sql(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        assert!(is_io_error(&err(rusqlite::ffi::SQLITE_IOERR_FSYNC)));
        assert!(is_io_error(&err(rusqlite::ffi::SQLITE_IOERR_WRITE)));
        assert!(!is_io_error(&err(rusqlite::ffi::SQLITE_FULL)));
        assert!(!is_io_error(&err(rusqlite::ffi::SQLITE_BUSY)));
    }
}
