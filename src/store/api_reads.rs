//! Typed reads for the station's HTTP server: a page of the journal with its last seq (the
//! central's pull and `GET /journal`), the items in the defect zone, an operator from the
//! feed, the bin edits and RTV notes, the sessions and lockouts to restore at start.
//! Each takes a [`Reader`]; the caller words the answer.

use std::collections::{BTreeMap, HashMap};

use rusqlite::OptionalExtension;
use serde_json::Value;

use super::api_state::{self, LockoutRow, SessionRow};
use super::reader::Sql;
use super::seqmap::SeqMap;
use super::{JournalRow, Reader, StoreError, journal_after, pruned_through, snapshot};
use crate::domain::ids::BinCode;
use crate::domain::kind::Role;
use crate::domain::model::{BinEdit, RtvNote, Station};

/// A page of the journal and where the journal stands, from one snapshot.
pub struct JournalPage {
    /// Events with `seq > after`, ascending.
    pub rows: Vec<JournalRow>,
    /// The highest seq on disk (None: the journal is empty).
    pub last_seq: Option<i64>,
    /// The highest seq pruned away (0 when nothing was).
    pub pruned_through: i64,
}

/// Events after `after`, at most `limit`, with the journal's last seq and pruning point
/// read in the same transaction.
pub fn journal_page(r: &Reader, after: i64, limit: i64) -> Result<JournalPage, StoreError> {
    r.snapshot(|r| {
        let conn = r.sql();
        let pruned = pruned_through(conn)?;
        let rows = journal_after(conn, after, limit)?;
        let last: Option<i64> = conn
            .prepare_cached("SELECT MAX(seq) FROM journal")?
            .query_row([], |r| r.get(0))?;
        Ok(JournalPage {
            rows,
            last_seq: last,
            pruned_through: pruned,
        })
    })
}

/// [`journal_page`] in the central's (wire) terms, for the pull feed: `after`, the rows'
/// seqs, the last seq and the pruning point are the current epoch's ([`SeqMap`]), and
/// events of a restored copy carry `restored_from`. What was acknowledged under an earlier
/// epoch lies at or below wire seq 0: never served again.
pub fn wire_page(
    r: &Reader,
    seqs: &SeqMap,
    after: i64,
    limit: i64,
) -> Result<JournalPage, StoreError> {
    let mut page = journal_page(r, seqs.to_local(after.max(0)), limit)?;
    super::lost::mark_lost_photos(r, &mut page.rows)?;
    let wire = |local: i64| seqs.to_wire(local).max(0);
    Ok(JournalPage {
        rows: page
            .rows
            .into_iter()
            .map(|row| seqs.wire_row(row))
            .collect(),
        last_seq: page.last_seq.map(wire),
        pruned_through: wire(page.pruned_through),
    })
}

/// One unit in the defect zone or a defect bin.
pub struct DefectItem {
    pub return_id: String,
    pub item_no: i64,
    pub sku: String,
    pub name: String,
    /// `defect` or `defect/<bin>` (the ledger's name).
    pub zone: String,
    pub defect_reasons: Vec<String>,
    pub inspected_by: Option<String>,
    /// When it last moved into `zone` (None: it was graded there and never moved).
    pub since: Option<String>,
}

/// Every unit now in the defect zone or a defect bin (not voided), by return id and item
/// number: the RTV pick list.
pub fn defect_items(r: &Reader) -> Result<Vec<DefectItem>, StoreError> {
    let conn = r.sql();
    let mut q = conn.prepare_cached(
        "SELECT return_id, state FROM returns WHERE stage IN ('inspected', 'put_away')
         ORDER BY return_id",
    )?;
    let rows = q
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for (id, state) in rows {
        let v = super::working::whole_state(conn, &id, &state)?;
        let here: Vec<&Value> = (v["items"].as_array().into_iter().flatten())
            .filter(|i| {
                i["voided"] != Value::Bool(true)
                    && (i["zone"].as_str())
                        .is_some_and(|z| z == "defect" || z.starts_with("defect/"))
            })
            .collect();
        if here.is_empty() {
            continue;
        }
        let since = last_moves(r, &id)?;
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        for i in here {
            let item_no = i["item_no"].as_i64().unwrap_or(0);
            let zone = i["zone"].as_str().unwrap_or("defect").to_string();
            out.push(DefectItem {
                return_id: id.clone(),
                item_no,
                sku: text(&i["sku"]),
                name: text(&i["name"]),
                since: (since.get(&item_no))
                    .filter(|(to, _)| *to == zone)
                    .map(|(_, at)| at.clone()),
                zone,
                defect_reasons: (i["defect_reasons"].as_array().into_iter().flatten())
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect(),
                inspected_by: i["inspected_by"].as_str().map(str::to_string),
            });
        }
    }
    Ok(out)
}

/// Item number → where and when each unit of a return last moved (`item.moved`).
fn last_moves(r: &Reader, id: &str) -> Result<HashMap<i64, (String, String)>, StoreError> {
    let mut moved = r.sql().prepare_cached(
        "SELECT json_extract(data, '$.item_no'), json_extract(data, '$.to'), occurred_at
         FROM journal WHERE return_id = ?1 AND type = 'item.moved' ORDER BY seq",
    )?;
    let moves = moved.query_map([id], |r| {
        Ok((
            r.get::<_, Option<i64>>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut since = HashMap::new();
    for m in moves {
        if let (Some(no), Some(to), at) = m? {
            since.insert(no, (to, at));
        }
    }
    Ok(since)
}

/// An operator of the central's `operator` feed items, as the login needs one.
pub struct FeedOperator {
    pub name: String,
    pub roles: Vec<Role>,
    /// The argon2id PHC string (None: cannot log in over HTTP).
    pub pin_hash: Option<String>,
}

/// The live `operator` feed item of `badge`; None when there is none, it was deleted, or
/// it names no role this station knows.
pub fn feed_operator(r: &Reader, badge: &str) -> Result<Option<FeedOperator>, StoreError> {
    let data: Option<Option<String>> = r
        .sql()
        .prepare_cached("SELECT data FROM feed_items WHERE type = 'operator' AND key = ?1")?
        .query_row([badge], |r| r.get(0))
        .optional()?;
    let Some(data) = data.flatten() else {
        return Ok(None);
    };
    let d: Value = serde_json::from_str(&data)
        .map_err(|e| StoreError::decode(format!("feed_items[operator/{badge}]"), e.to_string()))?;
    let roles: Vec<Role> = (d["roles"].as_array().into_iter().flatten())
        .filter_map(|r| r.as_str().and_then(Role::parse))
        .collect();
    Ok((!roles.is_empty()).then(|| FeedOperator {
        name: d["name"].as_str().unwrap_or("").to_string(),
        roles,
        pin_hash: d["pin_hash"].as_str().map(str::to_string),
    }))
}

/// The supervisors' bin edits (`zone.bin_set`), by code.
pub fn bin_edits(r: &Reader) -> Result<BTreeMap<BinCode, BinEdit>, StoreError> {
    let mut st = Station::default();
    snapshot::load_bins(r.sql(), &mut st)?;
    Ok(st.bins)
}

/// How many closed RTV notes the list shows (the latest), beside every open one.
pub const RECENT_CLOSED_RTV_NOTES: usize = 100;

/// The return-to-vendor notes by number: every open one and the latest
/// [`RECENT_CLOSED_RTV_NOTES`] closed ones (a year's closed notes are history).
pub fn rtv_notes(r: &Reader) -> Result<BTreeMap<String, RtvNote>, StoreError> {
    Ok(snapshot::recent_rtv_notes(r.sql(), RECENT_CLOSED_RTV_NOTES)?.rtv_notes)
}

/// The API's sessions (the `max` most recently used) and wrong-PIN records, to restore
/// at start.
pub fn auth_records(
    r: &Reader,
    max_sessions: usize,
) -> Result<(Vec<SessionRow>, Vec<LockoutRow>), StoreError> {
    r.snapshot(|r| {
        Ok((
            api_state::load_sessions(r.sql(), max_sessions)?,
            api_state::load_lockouts(r.sql())?,
        ))
    })
}
