//! The journal as the sync outbox reads it: rows after a seq, the ack and feed cursors
//! the central's answers move, retention pruning of the acknowledged prefix, and which
//! photos events still waiting for the central reference.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::reader::{Read, Sql};
use super::{StoreError, codec, jobs};
use crate::domain::event::Event;

/// The central's acknowledged high-water mark (push and pull share it).
pub fn acked_through(db: &dyn Read) -> Result<i64, StoreError> {
    let v: String = db
        .sql()
        .prepare_cached("SELECT value FROM sync_state WHERE key = 'acked_through'")?
        .query_row([], |r| r.get(0))?;
    v.parse()
        .map_err(|_| StoreError::decode("sync_state.acked_through", v))
}

/// Advance the ack cursor; it never moves backwards. Returns the cursor after the update.
pub fn advance_ack(conn: &Connection, through: i64) -> Result<i64, StoreError> {
    let cur = acked_through(conn)?;
    if through > cur {
        conn.execute(
            "UPDATE sync_state SET value = ?1 WHERE key = 'acked_through'",
            [through.to_string()],
        )?;
        Ok(through)
    } else {
        Ok(cur)
    }
}

/// The feed cursor (`next_after` of the last applied page; "" before the first).
pub fn feed_after(db: &dyn Read) -> Result<String, StoreError> {
    Ok(db
        .sql()
        .prepare_cached("SELECT value FROM sync_state WHERE key = 'feed_after'")?
        .query_row([], |r| r.get(0))?)
}

pub fn set_feed_after(conn: &Connection, cursor: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sync_state SET value = ?1 WHERE key = 'feed_after'",
        [cursor],
    )?;
    Ok(())
}

/// Delete a contiguous prefix of the journal that the central has acknowledged, that is
/// older than `cutoff`, and that holds no event of a return still open (an open return's
/// history stays whole). At most `max` events per call. Records `pruned_through` in meta so
/// `journal verify` knows the missing prefix was pruned, not lost. Returns the count.
pub fn prune(
    conn: &Connection,
    cutoff: chrono::DateTime<chrono::Utc>,
    max: i64,
) -> Result<i64, StoreError> {
    let acked = acked_through(conn)?;
    let before: i64 = pruned_through(conn)?;
    // The returns not yet closed or voided (by `returns_stage`), each's first event (by
    // `journal_return`): as many lookups as returns in the station, none over the history.
    let first_open: Option<i64> = conn
        .prepare_cached(
            "SELECT MIN((SELECT MIN(seq) FROM journal WHERE return_id = r.return_id))
         FROM returns r
         WHERE r.stage IN ('received', 'unpacked', 'first_checked', 'inspected', 'put_away')",
        )?
        .query_row([], |r| r.get(0))?;
    let first_young = match first_seq_since(conn, cutoff)? {
        s if s > last_seq(conn)? => None,
        s => Some(s),
    };
    let mut through = acked.min(before + max);
    if let Some(s) = first_open {
        through = through.min(s - 1);
    }
    if let Some(s) = first_young {
        through = through.min(s - 1);
    }
    if through <= before {
        return Ok(0);
    }
    jobs::prune(conn, cutoff)?;
    let n = conn.execute("DELETE FROM journal WHERE seq <= ?1", [through])?;
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('pruned_through', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [through.to_string()],
    )?;
    Ok(n as i64)
}

/// The highest seq in the journal (0: empty).
fn last_seq(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT IFNULL(MAX(seq), 0) FROM journal")?
        .query_row([], |r| r.get(0))?)
}

/// The first seq that occurred at or after `t` (one past the last when none did): a
/// binary search over the seq key — events are appended in time order — so neither the
/// kiosk's day counters nor pruning walk the journal. A clock stepped back can put a few
/// events out of order; the search then lands at one of the steps, never far from `t`.
pub fn first_seq_since(
    conn: &Connection,
    t: chrono::DateTime<chrono::Utc>,
) -> Result<i64, StoreError> {
    let key = (conn.path().unwrap_or_default().to_string(), t);
    if let Some(seq) = since_memo().get(&key) {
        return Ok(seq);
    }
    let (seq, found) = search_first_seq_since(conn, t)?;
    if found {
        since_memo().put(key, seq);
    }
    Ok(seq)
}

/// The answers [`first_seq_since`] gave, per database and time: the kiosk asks for the
/// start of the day at every refresh, and on a year's journal the search reads about 22
/// pages scattered over the file. An answer stays true: events are appended in time
/// order, so what occurred at or after `t` starts at the same seq however many came
/// since. Only answers that found such an event are kept: "none yet" (one past the last,
/// as for a day not over) changes with the next event. A few, most recent first.
struct SinceMemo(std::sync::Mutex<std::collections::VecDeque<(SinceKey, i64)>>);

/// A database's path and a time.
type SinceKey = (String, chrono::DateTime<chrono::Utc>);

const SINCE_MEMO: usize = 8;

fn since_memo() -> &'static SinceMemo {
    static MEMO: std::sync::OnceLock<SinceMemo> = std::sync::OnceLock::new();
    MEMO.get_or_init(|| SinceMemo(std::sync::Mutex::new(Default::default())))
}

impl SinceMemo {
    fn get(&self, key: &SinceKey) -> Option<i64> {
        let m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.iter().find(|(k, _)| k == key).map(|(_, seq)| *seq)
    }

    fn put(&self, key: SinceKey, seq: i64) {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.retain(|(k, _)| *k != key);
        m.push_front((key, seq));
        m.truncate(SINCE_MEMO);
    }
}

fn search_first_seq_since(
    conn: &Connection,
    t: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, bool), StoreError> {
    // Two lookups along the key (one `MIN(seq), MAX(seq)` would read a whole index).
    let (lo, hi): (Option<i64>, Option<i64>) = conn
        .prepare_cached("SELECT (SELECT MIN(seq) FROM journal), (SELECT MAX(seq) FROM journal)")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (Some(mut lo), Some(hi)) = (lo, hi) else {
        return Ok((1, false));
    };
    let t = codec::fmt_time(t);
    let last = hi;
    let mut hi = hi + 1;
    let mut q = conn
        .prepare_cached("SELECT occurred_at FROM journal WHERE seq >= ?1 ORDER BY seq LIMIT 1")?;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at: Option<String> = q.query_row([mid], |r| r.get(0)).optional()?;
        if at.as_deref().is_some_and(|a| a < t.as_str()) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok((lo, lo <= last))
}

/// The highest seq pruned away (0 when nothing was).
pub fn pruned_through(db: &dyn Read) -> Result<i64, StoreError> {
    let v: Option<String> = db
        .sql()
        .prepare_cached("SELECT value FROM meta WHERE key = 'pruned_through'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// One journal row as stored.
#[derive(Debug, Clone)]
pub struct JournalRow {
    pub seq: i64,
    pub id: String,
    pub ty: String,
    pub occurred_at: String,
    pub actor: String,
    pub return_id: Option<String>,
    pub data: String,
    /// `(epoch, seq)` of an event that came with a restored copy, as sent to the central
    /// (`seqmap::SeqMap::wire_row`); None as stored.
    pub restored_from: Option<(String, i64)>,
}

/// The journal's columns in [`JournalRow::from_row`] order.
pub const JOURNAL_COLUMNS: &str = "seq, id, type, occurred_at, actor, return_id, data";

impl JournalRow {
    /// Read a row selected with [`JOURNAL_COLUMNS`].
    pub fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JournalRow> {
        Ok(JournalRow {
            seq: r.get(0)?,
            id: r.get(1)?,
            ty: r.get(2)?,
            occurred_at: r.get(3)?,
            actor: r.get(4)?,
            return_id: r.get(5)?,
            data: r.get(6)?,
            restored_from: None,
        })
    }

    /// The contract's JSON form of the event.
    pub fn to_json(&self) -> Value {
        let data: Value = serde_json::from_str(&self.data).unwrap_or(Value::Null);
        let mut v = serde_json::json!({
            "seq": self.seq,
            "id": self.id,
            "type": self.ty,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "return_id": self.return_id,
            "data": data,
        });
        if let Some((epoch, seq)) = &self.restored_from {
            v["restored_from"] = serde_json::json!({"epoch": epoch, "seq": seq});
        }
        v
    }

    pub fn decode(&self) -> Result<Event, String> {
        let data: Value = serde_json::from_str(&self.data).map_err(|e| e.to_string())?;
        let at = codec::parse_time(&self.occurred_at)?;
        codec::decode(&self.ty, &data, at, &self.actor, self.return_id.as_deref())
    }
}

#[cfg(test)]
impl JournalRow {
    /// A `scan.recorded` row for tests: id `id-<seq>`, actor `system`, no return, `data`.
    pub(crate) fn for_test(seq: i64, data: &str) -> JournalRow {
        JournalRow {
            seq,
            id: format!("id-{seq}"),
            ty: "scan.recorded".into(),
            occurred_at: "2026-11-25T08:30:00.123Z".into(),
            actor: "system".into(),
            return_id: None,
            data: data.into(),
            restored_from: None,
        }
    }
}

/// Journal rows with `seq > after`, ascending, at most `limit`.
pub fn journal_after(db: &dyn Read, after: i64, limit: i64) -> Result<Vec<JournalRow>, StoreError> {
    let mut q = db.sql().prepare_cached(&format!(
        "SELECT {JOURNAL_COLUMNS} FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let rows = q.query_map(params![after, limit], JournalRow::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The journal's figures the sync status shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCounters {
    pub epoch: String,
    /// The highest seq on disk (0 before the first event).
    pub last_seq: i64,
    pub acked_through: i64,
    /// When the oldest event the central has not acknowledged happened.
    pub oldest_unacked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The feed cursor ("" before the first page).
    pub feed_after: String,
    /// Feed items (and manifest lines) rejected so far.
    pub rejected_feed_items: i64,
    /// The last [`RECENT_REJECTED`] of them with their reasons, newest first (contract 1.1:
    /// operators see why, not only how many).
    pub recent_rejected: Vec<super::feed_items::RejectedItem>,
}

/// How many rejected items the sync status names.
pub const RECENT_REJECTED: i64 = 10;

/// Read the [`SyncCounters`] (one snapshot: call it inside a read transaction to have them
/// agree with each other exactly).
pub fn sync_counters(db: &dyn Read) -> Result<SyncCounters, StoreError> {
    let acked_through = acked_through(db)?;
    let conn = db.sql();
    let last: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM journal")?
        .query_row([], |r| r.get(0))?;
    let oldest: Option<String> = conn
        .prepare_cached("SELECT occurred_at FROM journal WHERE seq > ?1 ORDER BY seq LIMIT 1")?
        .query_row([acked_through], |r| r.get(0))
        .optional()?;
    Ok(SyncCounters {
        epoch: conn
            .prepare_cached("SELECT value FROM meta WHERE key='epoch'")?
            .query_row([], |r| r.get(0))?,
        last_seq: last.unwrap_or(0),
        acked_through,
        oldest_unacked_at: oldest.and_then(|t| codec::parse_time(&t).ok()),
        feed_after: feed_after(db)?,
        rejected_feed_items: conn
            .prepare_cached("SELECT COUNT(*) FROM rejected_feed_items")?
            .query_row([], |r| r.get(0))?,
        recent_rejected: super::feed_items::recent_rejected(db, RECENT_REJECTED)?,
    })
}

/// Whether an event the central has not acknowledged yet (`seq > after`) references the
/// photo `sha256`: such a photo is uploaded before that event is pushed, so it must stay.
pub fn photo_referenced_after(db: &dyn Read, after: i64, sha256: &str) -> Result<bool, StoreError> {
    Ok(db
        .sql()
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM journal WHERE seq > ?1 AND type = 'inspection.completed'
         AND instr(data, ?2) > 0)",
        )?
        .query_row(params![after, sha256], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photo stays referenced while an inspection the central has not acknowledged names
    /// it; not once that event is acknowledged, and not by another event type.
    #[test]
    fn photos_are_referenced_until_their_inspection_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::Store::open(&dir.path().join("t.db"), "ST01").unwrap();
        let c = store.conn();
        c.execute_batch(
            r#"INSERT INTO journal(seq, id, type, occurred_at, actor, return_id, data) VALUES
               (1, 'a', 'inspection.completed', '2026-11-25T08:30:00.000Z', 'B1', NULL,
                '{"photos":[{"sha256":"abc"}]}'),
               (2, 'b', 'scan.recorded', '2026-11-25T08:31:00.000Z', 'B1', NULL,
                '{"text":"def"}');"#,
        )
        .unwrap();
        assert!(photo_referenced_after(c, 0, "abc").unwrap());
        assert!(!photo_referenced_after(c, 1, "abc").unwrap());
        assert!(!photo_referenced_after(c, 0, "def").unwrap());
    }

    /// The first seq since a time is kept once an event at or after it was found (it
    /// cannot change), but "none yet" is not: a time later than every event — the end of
    /// a day not over — gets the events that come before it.
    #[test]
    fn first_seq_since_keeps_found_answers_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::Store::open(&dir.path().join("t.db"), "ST01").unwrap();
        let c = store.conn();
        let add = |seq: i64, at: &str| {
            c.execute(
                "INSERT INTO journal(seq, id, type, occurred_at, actor, return_id, data)
                 VALUES (?1, ?2, 'scan.recorded', ?3, 'B1', NULL, '{}')",
                params![seq, format!("e{seq}"), at],
            )
            .unwrap();
        };
        let t = |s: &str| crate::format::parse_time(s).unwrap();
        add(1, "2026-11-25T10:00:00.000Z");
        add(2, "2026-11-25T11:00:00.000Z");
        add(3, "2026-11-25T12:00:00.000Z");
        let noon_ish = t("2026-11-25T11:30:00.000Z");
        let day_end = t("2026-11-26T00:00:00.000Z");
        assert_eq!(first_seq_since(c, noon_ish).unwrap(), 3);
        assert_eq!(
            first_seq_since(c, day_end).unwrap(),
            4,
            "none yet: one past the last"
        );
        add(4, "2026-11-25T13:30:00.000Z");
        add(5, "2026-11-26T08:00:00.000Z");
        assert_eq!(
            first_seq_since(c, noon_ish).unwrap(),
            3,
            "a found answer stays"
        );
        assert_eq!(
            first_seq_since(c, day_end).unwrap(),
            5,
            "the day's later event is counted in it"
        );
    }
}
