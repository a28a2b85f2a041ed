//! Lost photos *(contract 1.1, `photo.lost`)*: which photos a supervisor acknowledged as
//! lost, read from the journal itself (a partial index holds only the `photo.lost` rows,
//! so nothing else is written or kept), and the events that reference them marked
//! `"lost": true` in their `photos` list as they go to the central — by the push and the
//! pull alike. The journal's rows are never changed: the mark is made on the way out.
//!
//! A `photo.lost` covers the events before it: an event recorded after it references a
//! photo that was in the store again when it was recorded (an inspection names only stored
//! photos), so that photo is uploaded for it as usual.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::reader::{Read, Sql};
use super::{JournalRow, StoreError, acked_through, photo_referenced_after};
use crate::domain::ports::PhotoUplink;

/// Every photo acknowledged as lost, with the (local) seq of its latest `photo.lost`.
pub fn lost_photos(db: &dyn Read) -> Result<HashMap<String, i64>, StoreError> {
    let mut q = db.sql().prepare_cached(
        "SELECT seq, json_extract(data, '$.sha256') FROM journal
         WHERE type = 'photo.lost' ORDER BY seq",
    )?;
    let rows = q.query_map([], |r| Ok((r.get::<_, Option<String>>(1)?, r.get(0)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        if let (Some(sha), seq) = row? {
            out.insert(sha, seq);
        }
    }
    Ok(out)
}

/// Where the photo `sha256` stands with the uplink: waiting (an event the central has not
/// acknowledged, recorded after any `photo.lost` of it, references it), lost, or neither.
pub fn photo_uplink(db: &dyn Read, sha256: &str) -> Result<PhotoUplink, StoreError> {
    let lost: Option<i64> = db
        .sql()
        .prepare_cached(
            "SELECT MAX(seq) FROM journal
             WHERE type = 'photo.lost' AND json_extract(data, '$.sha256') = ?1",
        )?
        .query_row(params![sha256], |r| r.get(0))
        .optional()?
        .flatten();
    let after = acked_through(db)?.max(lost.unwrap_or(0));
    Ok(if photo_referenced_after(db, after, sha256)? {
        PhotoUplink::Waiting
    } else if let Some(seq) = lost {
        PhotoUplink::Lost { seq }
    } else {
        PhotoUplink::NotWaiting
    })
}

/// Mark, in rows about to go to the central (local seqs), every photo acknowledged as lost
/// after the row was recorded. Reads the lost photos only when a row names photos.
pub fn mark_lost_photos(db: &dyn Read, rows: &mut [JournalRow]) -> Result<(), StoreError> {
    if !rows.iter().any(|r| r.data.contains("\"photos\"")) {
        return Ok(());
    }
    let lost = lost_photos(db)?;
    if lost.is_empty() {
        return Ok(());
    }
    for row in rows.iter_mut() {
        let seq = row.seq;
        if let Some(data) = mark_lost(&row.data, |sha| lost.get(sha).is_some_and(|&l| l > seq)) {
            row.data = data;
        }
    }
    Ok(())
}

/// `data` with `"lost": true` added to each entry of its `photos` list that `is_lost`
/// names; None when nothing changes (no photos, none lost, or not JSON).
pub fn mark_lost(data: &str, is_lost: impl Fn(&str) -> bool) -> Option<String> {
    if !data.contains("\"photos\"") {
        return None;
    }
    let mut v: Value = serde_json::from_str(data).ok()?;
    let mut changed = false;
    for p in v.get_mut("photos")?.as_array_mut()? {
        let lost = p
            .get("sha256")
            .and_then(Value::as_str)
            .is_some_and(&is_lost);
        if let (true, Some(o)) = (lost, p.as_object_mut()) {
            o.insert("lost".into(), Value::Bool(true));
            changed = true;
        }
    }
    changed.then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    /// Only the lost entry gains `"lost": true`; the rest of the data is kept as it was.
    #[test]
    fn marks_only_the_lost_photo() {
        let data = format!(
            r#"{{"grade":"defect","photos":[{{"bytes":1,"content_type":"image/png","sha256":"{A}"}},{{"bytes":2,"sha256":"{B}"}}]}}"#
        );
        let out = mark_lost(&data, |s| s == A).expect("changed");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["photos"][0]["lost"], true);
        assert_eq!(v["photos"][0]["bytes"], 1);
        assert_eq!(v["photos"][1].get("lost"), None);
        assert_eq!(v["grade"], "defect");
        assert_eq!(mark_lost(&data, |_| false), None, "nothing lost: unchanged");
        assert_eq!(mark_lost(r#"{"grade":"good"}"#, |_| true), None);
        assert_eq!(mark_lost("not json \"photos\"", |_| true), None);
    }

    fn insert(c: &rusqlite::Connection, seq: i64, ty: &str, data: &str) {
        c.execute(
            "INSERT INTO journal(seq, id, type, occurred_at, actor, return_id, data)
             VALUES (?1, ?2, ?3, '2026-11-25T08:30:00.000Z', 'supervisor:001', NULL, ?4)",
            params![seq, format!("id-{seq}"), ty, data],
        )
        .unwrap();
    }

    /// A photo waits while an unacknowledged event references it, is lost once a
    /// `photo.lost` follows those events, and waits again for an event recorded after it;
    /// rows are marked only for a `photo.lost` recorded after them.
    #[test]
    fn lost_covers_the_events_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::Store::open(&dir.path().join("t.db"), "ST01").unwrap();
        let c = store.conn();
        let refs = format!(r#"{{"photos":[{{"sha256":"{A}"}}]}}"#);
        assert_eq!(photo_uplink(c, A).unwrap(), PhotoUplink::NotWaiting);
        insert(c, 1, "inspection.completed", &refs);
        assert_eq!(photo_uplink(c, A).unwrap(), PhotoUplink::Waiting);
        assert_eq!(photo_uplink(c, B).unwrap(), PhotoUplink::NotWaiting);
        insert(
            c,
            2,
            "photo.lost",
            &format!(r#"{{"reason":"file gone","sha256":"{A}"}}"#),
        );
        assert_eq!(photo_uplink(c, A).unwrap(), PhotoUplink::Lost { seq: 2 });
        insert(c, 3, "inspection.completed", &refs);
        assert_eq!(photo_uplink(c, A).unwrap(), PhotoUplink::Waiting);

        let mut rows = crate::store::journal_after(c, 0, 10).unwrap();
        mark_lost_photos(c, &mut rows).unwrap();
        assert!(rows[0].data.contains("\"lost\":true"), "{}", rows[0].data);
        assert!(!rows[2].data.contains("lost"), "{}", rows[2].data);
        assert_eq!(lost_photos(c).unwrap(), HashMap::from([(A.to_string(), 2)]));
    }
}
