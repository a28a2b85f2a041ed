//! The durable print queue: one row per label job, written by the engine in the same
//! transaction as the `label.printed` event that asked for it, so a job can never be lost
//! between "the station said OK" and "the printer got it" — a restart finds it queued.
//!
//! States: `queued` (waiting for its first or next attempt), `sent` (a printer took every
//! byte; not known to be printed), `confirmed` (the printer reported, after the job, no
//! fault and an empty format buffer — or the directory sink fsynced the file), `failed`
//! (cannot be rendered: an operator must act; never retried silently). A queued job is
//! retried until a printer takes it; nothing is ever dropped. The bytes sent are kept with
//! the job, so a preview shows exactly what the printer received.
//!
//! Only the engine writes these rows (through [`apply`]); the print worker reads them with
//! its own connection and reports what happened as [`JobUpdate`]s.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::codec::{fmt_time, parse_time};
use super::reader::Sql;
use super::{Read, StoreError};

/// One job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub created_at: String,
    /// Journal seq of the event that asked for it.
    pub seq: Option<i64>,
    /// The return (or RTV note) the label is for.
    pub subject: String,
    /// Template name (`return_label`, `defect_tag`, `rtv_note`).
    pub template: String,
    /// `first` or `reprint`.
    pub reason: String,
    /// Item number for per-item labels.
    pub item_no: Option<i64>,
    pub state: String,
    pub attempts: i64,
    /// `primary` or `secondary`: who took it.
    pub printer: Option<String>,
    /// `zpl` or `tspl`: the language of `bytes`.
    pub language: Option<String>,
    pub dpi: Option<i64>,
    /// The rendered label, as every attempt sends it. Lists leave it out (see `size`).
    pub bytes: Option<Vec<u8>>,
    /// The rendered label's length: what a list shows of it. Lists ([`list`],
    /// [`for_subject`]) read this alone — a label is kilobytes, and `GET /alarms` lists up to
    /// 500 jobs at every poll — and leave `bytes` empty.
    pub size: Option<usize>,
    pub sent_at: Option<String>,
    pub confirmed_at: Option<String>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<String>,
}

/// What the print worker reports about a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobUpdate {
    /// Rendered: keep these bytes (they are what every attempt sends).
    Rendered {
        id: i64,
        language: String,
        dpi: u32,
        bytes: Vec<u8>,
    },
    /// An attempt failed; try again at `retry_at`.
    Retry {
        id: i64,
        error: String,
        retry_at: DateTime<Utc>,
    },
    /// A printer took every byte.
    Sent {
        id: i64,
        printer: String,
        at: DateTime<Utc>,
        /// A fault or "status unknown" seen right after sending.
        note: Option<String>,
    },
    /// The printer reported it done with no fault.
    Confirmed { id: i64, at: DateTime<Utc> },
    /// Every job this printer took and that is still `sent` is confirmed (a status poll
    /// found it idle, with no fault and an empty buffer).
    ConfirmAllSent { printer: String, at: DateTime<Utc> },
    /// The job cannot be rendered; an operator must act (reprint once fixed).
    Failed { id: i64, error: String },
}

/// The columns of a job, in the order [`row`] reads them, with `$bytes` for the rendered
/// label's.
macro_rules! job_columns {
    ($bytes:literal) => {
        concat!(
            "id, created_at, seq, subject, template, reason, item_no, state, attempts, ",
            "printer, language, dpi, ",
            $bytes,
            ", sent_at, confirmed_at, last_error, next_attempt_at"
        )
    };
}

const COLUMNS: &str = job_columns!("bytes");

/// `COLUMNS` with the rendered bytes' length in their place: what the lists read (SQLite
/// takes a BLOB's length from its record header, without reading the BLOB).
const LIST_COLUMNS: &str = job_columns!("length(bytes)");

/// A job from `COLUMNS` (the bytes) or `LIST_COLUMNS` (their length only).
fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    use rusqlite::types::ValueRef;
    let (bytes, size) = match r.get_ref(12)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => (Some(b.to_vec()), Some(b.len())),
        ValueRef::Integer(n) => (None, usize::try_from(n).ok()),
        _ => (None, None),
    };
    Ok(Job {
        id: r.get(0)?,
        created_at: r.get(1)?,
        seq: r.get(2)?,
        subject: r.get(3)?,
        template: r.get(4)?,
        reason: r.get(5)?,
        item_no: r.get(6)?,
        state: r.get(7)?,
        attempts: r.get(8)?,
        printer: r.get(9)?,
        language: r.get(10)?,
        dpi: r.get(11)?,
        bytes,
        size,
        sent_at: r.get(13)?,
        confirmed_at: r.get(14)?,
        last_error: r.get(15)?,
        next_attempt_at: r.get(16)?,
    })
}

/// Queue a job (inside the engine's transaction). Returns its id.
pub fn enqueue(
    conn: &Connection,
    subject: &str,
    template: &str,
    reason: &str,
    item_no: Option<i64>,
    seq: Option<i64>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO print_jobs(created_at, seq, subject, template, reason, item_no, state, attempts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', 0)",
    )?
    .execute(params![
        fmt_time(now),
        seq,
        subject,
        template,
        reason,
        item_no
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Record what the print worker saw (inside the engine's transaction). Unknown ids are an
/// error (the worker read them from this table).
pub fn apply(conn: &Connection, u: &JobUpdate) -> Result<(), StoreError> {
    let n = match u {
        JobUpdate::Rendered {
            id,
            language,
            dpi,
            bytes,
        } => conn.execute(
            "UPDATE print_jobs SET language = ?2, dpi = ?3, bytes = ?4 WHERE id = ?1",
            params![id, language, dpi, bytes],
        )?,
        JobUpdate::Retry {
            id,
            error,
            retry_at,
        } => conn.execute(
            "UPDATE print_jobs SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1 AND state = 'queued'",
            params![id, error, fmt_time(*retry_at)],
        )?,
        JobUpdate::Sent {
            id,
            printer,
            at,
            note,
        } => conn.execute(
            "UPDATE print_jobs SET state = 'sent', attempts = attempts + 1, printer = ?2,
               sent_at = ?3, last_error = ?4, next_attempt_at = NULL
             WHERE id = ?1 AND state = 'queued'",
            params![id, printer, fmt_time(*at), note],
        )?,
        JobUpdate::Confirmed { id, at } => conn.execute(
            "UPDATE print_jobs SET state = 'confirmed', confirmed_at = ?2, last_error = NULL
             WHERE id = ?1 AND state = 'sent'",
            params![id, fmt_time(*at)],
        )?,
        JobUpdate::ConfirmAllSent { printer, at } => {
            conn.execute(
                "UPDATE print_jobs SET state = 'confirmed', confirmed_at = ?2, last_error = NULL
                 WHERE printer = ?1 AND state = 'sent'",
                params![printer, fmt_time(*at)],
            )?;
            return Ok(());
        }
        JobUpdate::Failed { id, error } => conn.execute(
            "UPDATE print_jobs SET state = 'failed', last_error = ?2, next_attempt_at = NULL
             WHERE id = ?1 AND state = 'queued'",
            params![id, error],
        )?,
    };
    if n == 0 {
        // Not an error worth failing a batch over: the job moved on meanwhile (e.g. a
        // confirmation racing a restart). Logged so it is visible.
        let update = match u {
            JobUpdate::Rendered { .. } => "rendered",
            JobUpdate::Retry { .. } => "retry",
            JobUpdate::Sent { .. } => "sent",
            JobUpdate::Confirmed { .. } => "confirmed",
            JobUpdate::ConfirmAllSent { .. } => "confirm_all_sent",
            JobUpdate::Failed { .. } => "failed",
        };
        tracing::debug!(update, "print job update matched no row");
    }
    Ok(())
}

/// The oldest queued job whose next attempt is due at `now`.
pub fn next_due(db: &dyn Read, now: DateTime<Utc>) -> Result<Option<Job>, StoreError> {
    Ok(db
        .sql()
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM print_jobs
                 WHERE state = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
                 ORDER BY id LIMIT 1"
            ),
            [fmt_time(now)],
            row,
        )
        .optional()?)
}

/// When the earliest queued job becomes due (None: nothing queued).
pub fn next_wake(db: &dyn Read) -> Result<Option<DateTime<Utc>>, StoreError> {
    let v: Option<Option<String>> = db
        .sql()
        .prepare_cached(
            "SELECT MIN(COALESCE(next_attempt_at, '')) FROM print_jobs WHERE state = 'queued'",
        )?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(match v.flatten() {
        None => None,
        Some(s) if s.is_empty() => Some(DateTime::<Utc>::MIN_UTC),
        Some(s) => parse_time(&s).ok(),
    })
}

/// One job by id.
pub fn get(db: &dyn Read, id: i64) -> Result<Option<Job>, StoreError> {
    Ok(db
        .sql()
        .query_row(
            &format!("SELECT {COLUMNS} FROM print_jobs WHERE id = ?1"),
            [id],
            row,
        )
        .optional()?)
}

/// The newest job for a subject (a return id or an RTV note number).
pub fn latest_for(db: &dyn Read, subject: &str) -> Result<Option<Job>, StoreError> {
    Ok(db
        .sql()
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM print_jobs WHERE subject = ?1 ORDER BY id DESC LIMIT 1"
            ),
            [subject],
            row,
        )
        .optional()?)
}

/// Jobs for the operator's list: every job not yet confirmed, or (with `all`) the newest
/// `limit` of every state. Oldest first.
pub fn list(db: &dyn Read, all: bool, limit: i64) -> Result<Vec<Job>, StoreError> {
    let sql = if all {
        format!(
            "SELECT * FROM (SELECT {LIST_COLUMNS} FROM print_jobs ORDER BY id DESC LIMIT ?1) \
             ORDER BY id"
        )
    } else {
        format!(
            "SELECT {LIST_COLUMNS} FROM print_jobs WHERE state != 'confirmed' ORDER BY id LIMIT ?1"
        )
    };
    let mut st = db.sql().prepare_cached(&sql)?;
    let rows = st.query_map([limit], row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Every job of one return or RTV note, oldest first (at most `limit`).
pub fn for_subject(db: &dyn Read, subject: &str, limit: i64) -> Result<Vec<Job>, StoreError> {
    let sql =
        format!("SELECT {LIST_COLUMNS} FROM print_jobs WHERE subject = ?1 ORDER BY id LIMIT ?2");
    let mut st = db.sql().prepare_cached(&sql)?;
    let rows = st.query_map(params![subject, limit], row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Counts per state (for status views and metrics).
pub fn counts(db: &dyn Read) -> Result<Vec<(String, i64)>, StoreError> {
    let mut st = db
        .sql()
        .prepare_cached("SELECT state, COUNT(*) FROM print_jobs GROUP BY state")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Drop confirmed jobs created before `cutoff` (their bytes are the bulk of the table).
pub fn prune(conn: &Connection, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM print_jobs WHERE state = 'confirmed' AND created_at < ?1",
        [fmt_time(cutoff)],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db"), "ST01").unwrap();
        drop(store);
        let conn = crate::store::open_connection(&dir.path().join("t.db"), false).unwrap();
        (dir, conn)
    }

    #[test]
    fn a_job_goes_queued_retry_sent_confirmed() {
        let (_d, conn) = db();
        let t0 = Utc::now();
        let id = enqueue(&conn, "R-1", "return_label", "first", None, Some(7), t0).unwrap();
        assert_eq!(next_due(&conn, t0).unwrap().unwrap().id, id);
        let later = t0 + chrono::Duration::seconds(5);
        apply(
            &conn,
            &JobUpdate::Retry {
                id,
                error: "refused".into(),
                retry_at: later,
            },
        )
        .unwrap();
        assert!(
            next_due(&conn, t0).unwrap().is_none(),
            "not due before retry_at"
        );
        assert_eq!(next_wake(&conn).unwrap(), parse_time(&fmt_time(later)).ok());
        assert_eq!(next_due(&conn, later).unwrap().unwrap().attempts, 1);
        apply(
            &conn,
            &JobUpdate::Sent {
                id,
                printer: "primary".into(),
                at: later,
                note: None,
            },
        )
        .unwrap();
        assert!(next_wake(&conn).unwrap().is_none());
        assert_eq!(
            list(&conn, false, 10).unwrap().len(),
            1,
            "sent is still listed"
        );
        apply(
            &conn,
            &JobUpdate::ConfirmAllSent {
                printer: "primary".into(),
                at: later,
            },
        )
        .unwrap();
        let j = get(&conn, id).unwrap().unwrap();
        assert_eq!((j.state.as_str(), j.attempts), ("confirmed", 2));
        assert!(list(&conn, false, 10).unwrap().is_empty());
        assert_eq!(list(&conn, true, 10).unwrap().len(), 1);
        assert_eq!(prune(&conn, later).unwrap(), 1);
    }

    /// Lists carry a rendered label's length, not its bytes; one job read whole has both.
    #[test]
    fn lists_read_a_labels_length_not_its_bytes() {
        let (_d, conn) = db();
        let t0 = Utc::now();
        let id = enqueue(&conn, "R-3", "return_label", "first", None, None, t0).unwrap();
        let bytes = vec![b'^'; 6000];
        apply(
            &conn,
            &JobUpdate::Rendered {
                id,
                language: "zpl".into(),
                dpi: 203,
                bytes: bytes.clone(),
            },
        )
        .unwrap();
        for listed in [
            list(&conn, false, 10).unwrap(),
            list(&conn, true, 10).unwrap(),
            for_subject(&conn, "R-3", 10).unwrap(),
        ] {
            assert_eq!(
                (listed[0].bytes.as_ref(), listed[0].size),
                (None, Some(6000))
            );
        }
        let whole = get(&conn, id).unwrap().unwrap();
        assert_eq!((whole.bytes, whole.size), (Some(bytes), Some(6000)));
        let unrendered = enqueue(&conn, "R-4", "return_label", "first", None, None, t0).unwrap();
        let l = list(&conn, false, 10).unwrap();
        let j = l.iter().find(|j| j.id == unrendered).unwrap();
        assert_eq!((j.bytes.as_ref(), j.size), (None, None));
    }

    #[test]
    fn a_failed_job_is_kept_and_listed() {
        let (_d, conn) = db();
        let t0 = Utc::now();
        let id = enqueue(&conn, "R-2", "return_label", "first", None, None, t0).unwrap();
        apply(
            &conn,
            &JobUpdate::Failed {
                id,
                error: "no font".into(),
            },
        )
        .unwrap();
        assert!(next_due(&conn, t0).unwrap().is_none());
        let l = list(&conn, false, 10).unwrap();
        assert_eq!(l[0].state, "failed");
        assert_eq!(l[0].last_error.as_deref(), Some("no font"));
        assert_eq!(prune(&conn, t0 + chrono::Duration::days(1)).unwrap(), 0);
    }
}
