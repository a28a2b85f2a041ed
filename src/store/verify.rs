//! `journal verify` and `journal rebuild`: the projections are a fold of the journal,
//! and these prove it (or make it so again).

use rusqlite::{Connection, params};

use super::db::upsert_return;
use super::reader::Sql;
use super::working::load_station;
use super::{Read, StoreError, journal_after, pruned_through, snapshot};
use crate::domain::model::Station;

/// The outcome of `journal verify`.
#[derive(Debug, Default)]
pub struct Verification {
    pub events: i64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub gaps: Vec<(i64, i64)>,
    pub undecodable: Vec<(i64, String)>,
    pub order_errors: Vec<i64>,
    /// Returns whose snapshot differs from the journal's fold.
    pub mismatched_returns: Vec<String>,
    pub stock_matches: bool,
    pub benches_match: bool,
    /// Bin edits and RTV notes (their `meta` snapshots) agree with the journal's fold.
    pub supervision_matches: bool,
    /// The journal prefix removed by retention pruning (0: none).
    pub pruned_through: i64,
}

impl Verification {
    pub fn ok(&self) -> bool {
        // Time going backwards (an NTP step) is reported but is not damage: events keep
        // the station's time, and seq is the order.
        self.gaps.is_empty()
            && self.undecodable.is_empty()
            && self.mismatched_returns.is_empty()
            && self.stock_matches
            && self.benches_match
            && self.supervision_matches
    }
}

/// Replay the journal into a fresh state (the rebuild), checking seq contiguity and time
/// order on the way.
pub fn replay(conn: &Connection) -> Result<(Station, Verification), StoreError> {
    let mut v = Verification::default();
    let mut st = Station::default();
    v.pruned_through = pruned_through(conn).unwrap_or(0);
    let mut after = v.pruned_through;
    let mut prev_time = String::new();
    loop {
        let rows = journal_after(conn, after, 5000)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            if v.first_seq.is_none() {
                v.first_seq = Some(row.seq);
                if row.seq != v.pruned_through + 1 {
                    v.gaps.push((v.pruned_through + 1, row.seq - 1));
                }
            } else if row.seq != after + 1 {
                v.gaps.push((after + 1, row.seq - 1));
            }
            if row.occurred_at < prev_time {
                v.order_errors.push(row.seq);
            }
            prev_time.clone_from(&row.occurred_at);
            match row.decode() {
                Ok(ev) => st.apply(&ev),
                Err(e) => v.undecodable.push((row.seq, e)),
            }
            after = row.seq;
            v.events += 1;
            v.last_seq = Some(row.seq);
        }
    }
    Ok((st, v))
}

/// Replay the journal and compare the fold with the stored projections, all in one read
/// transaction: the journal and every projection are read from the same snapshot, so a
/// daemon committing meanwhile cannot make them look different.
pub fn verify(db: &dyn Read) -> Result<Verification, StoreError> {
    let tx = db.sql().unchecked_transaction()?;
    let v = verify_in(&tx)?;
    tx.finish()?;
    Ok(v)
}

fn verify_in(conn: &Connection) -> Result<Verification, StoreError> {
    let (rebuilt, mut v) = replay(conn)?;
    let mut stored = load_station(conn)?;
    snapshot::load_meta(conn, &mut stored)?;
    for (id, r) in &rebuilt.returns {
        if stored.returns.get(id) != Some(r) {
            v.mismatched_returns.push(id.to_string());
        }
    }
    for (id, r) in &stored.returns {
        // After pruning, a finished return's history may be gone from the journal.
        let archived = v.pruned_through > 0 && r.stage().is_terminal();
        if !rebuilt.returns.contains_key(id) && !archived {
            v.mismatched_returns.push(id.to_string());
        }
    }
    // The ledger must always balance against the items; after pruning the journal no
    // longer holds every ledger entry, so the fold is compared only when it is whole.
    v.stock_matches = stock_table_matches_ledger(conn)?
        && stored.stock == stored.stock_from_items()
        && (v.pruned_through > 0 || rebuilt.stock == stored.stock);
    // A bench's login may sit in the pruned prefix: benches are compared only when whole.
    v.benches_match = v.pruned_through > 0 || rebuilt.benches == stored.benches;
    // Bin edits and RTV notes outlive pruning in `meta`: compared when the journal is whole.
    v.supervision_matches = v.pruned_through > 0
        || (rebuilt.bins == stored.bins && rebuilt.rtv_notes == stored.rtv_notes);
    Ok(v)
}

/// The `stock` table holds what the ledger (never pruned) sums to, row for row.
fn stock_table_matches_ledger(conn: &Connection) -> Result<bool, StoreError> {
    let differ: i64 = conn.query_row(
        concat!(
            "SELECT (SELECT COUNT(*) FROM (SELECT zone, sku, qty FROM stock EXCEPT SELECT * FROM (",
            super::schema::ledger_sums!(),
            "))) + (SELECT COUNT(*) FROM (SELECT * FROM (",
            super::schema::ledger_sums!(),
            ") EXCEPT SELECT zone, sku, qty FROM stock))"
        ),
        [],
        |r| r.get(0),
    )?;
    Ok(differ == 0)
}

/// Replace the projections with the journal's fold (`journal rebuild`).
/// [`rebuild`] of the database at `path` (`journal rebuild`, under the state directory's
/// lock: no daemon runs), with its own writer connection.
pub fn rebuild_at(path: &std::path::Path) -> Result<Verification, StoreError> {
    let mut conn = super::open_connection(path, false)?;
    rebuild(&mut conn).map_err(|e| e.at(path))
}

pub fn rebuild(conn: &mut Connection) -> Result<Verification, StoreError> {
    let (st, v) = replay(conn)?;
    if v.pruned_through > 0 {
        return Err(StoreError::decode(
            "journal rebuild",
            format!(
                "events 1..{} were pruned after the central acknowledged them; the projections cannot be rebuilt from what is left (journal verify still checks them)",
                v.pruned_through
            ),
        ));
    }
    let tx = conn.transaction()?;
    tx.execute_batch(
        "DELETE FROM returns; DELETE FROM return_items; DELETE FROM benches; DELETE FROM ledger;
         DELETE FROM stock;",
    )?;
    snapshot::replace_meta(&tx, &st)?;
    {
        for r in st.returns.values() {
            upsert_return(&tx, r, None)?;
        }
        let mut ub = tx.prepare("INSERT INTO benches(bench, state) VALUES (?1, ?2)")?;
        for (name, b) in &st.benches {
            ub.execute(params![name, snapshot::bench_json(b).to_string()])?;
        }
        tx.execute(
            "INSERT INTO ledger(seq, return_id, sku, from_zone, to_zone, qty, occurred_at)
             SELECT seq, return_id, json_extract(data, '$.sku'), json_extract(data, '$.from'),
                    json_extract(data, '$.to'), json_extract(data, '$.qty'), occurred_at
             FROM journal WHERE type = 'ledger.entry'",
            [],
        )?;
        tx.execute(super::schema::stock_from_ledger!(), [])?;
    }
    tx.commit()?;
    // Report on what is now stored, as `journal verify` would.
    verify(conn)
}
