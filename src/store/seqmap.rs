//! The seq numbers the central sees (the *wire* seqs), as opposed to the journal's own
//! (the *local* seqs), for a database restored from a backup (contract 1.1, "Identity and
//! auth"; `docs/sync-protocol.md` § 2.2).
//!
//! A restore takes a new epoch, and the contract numbers every epoch from 1. Renumbering
//! the journal would touch every row, the ledger and the print queue, and break the rule
//! that a journal row never changes; so the journal keeps its local seqs and the restore
//! records, in `meta`, how they map to the new epoch's:
//!
//! - `epoch_seq_offset` = A, the restored copy's acknowledged cursor (local): the event at
//!   local seq `A + 1` is the new epoch's seq 1, and `wire = local − A`. Events through A
//!   were acknowledged under an earlier epoch and are never sent again.
//! - `restored_from_epoch` = E_old, `restored_from_offset` = the old copy's own A (for a
//!   restore of a restored database) and `restored_through` = N, the copy's last local
//!   seq: each event with local seq in (A, N] is sent with
//!   `restored_from: {"epoch": E_old, "seq": local − old A}` — its seq under E_old, where
//!   the central may or may not have received it — and its original `id`.
//!
//! A database that was never restored has none of these keys: offset 0, no
//! `restored_from`, wire = local. `journal verify`, the fold, the ack cursor and pruning all
//! stay in local seqs; only the sync edges (push batches, the pull feed, the central's
//! acknowledgements) cross over, through this map.

use rusqlite::OptionalExtension;

use super::reader::{Read, Sql};
use super::{JournalRow, StoreError, acked_through, journal_after};

/// The meta keys a restore writes (see the module doc).
pub(super) const OFFSET: &str = "epoch_seq_offset";
pub(super) const FROM_EPOCH: &str = "restored_from_epoch";
pub(super) const FROM_OFFSET: &str = "restored_from_offset";
pub(super) const THROUGH: &str = "restored_through";

/// How local seqs map to the current epoch's wire seqs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqMap {
    /// Local seq of the last event acknowledged under an earlier epoch (0: none).
    offset: i64,
    /// Where the events of the restored copy were before, if this database was restored.
    restored: Option<Restored>,
}

/// The epoch a restored copy's events came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub epoch: String,
    /// That epoch's own offset (its wire seq was `local − offset`).
    pub offset: i64,
    /// The copy's last local seq: later events are new under the current epoch.
    pub through: i64,
}

impl SeqMap {
    /// A map (the restore writes these values; tests build them directly).
    pub fn new(offset: i64, restored: Option<Restored>) -> SeqMap {
        SeqMap { offset, restored }
    }

    pub fn offset(&self) -> i64 {
        self.offset
    }

    pub fn restored(&self) -> Option<&Restored> {
        self.restored.as_ref()
    }

    pub fn to_wire(&self, local: i64) -> i64 {
        local - self.offset
    }

    pub fn to_local(&self, wire: i64) -> i64 {
        wire + self.offset
    }

    /// `(old epoch, old seq)` of the event at `local`, when it came with the restored copy.
    pub fn restored_from(&self, local: i64) -> Option<(&str, i64)> {
        let r = self.restored.as_ref()?;
        (local > self.offset && local <= r.through).then(|| (r.epoch.as_str(), local - r.offset))
    }

    /// A journal row as the central sees it: its wire seq and, for an event of the
    /// restored copy, where it was before.
    pub fn wire_row(&self, mut row: JournalRow) -> JournalRow {
        row.restored_from = self.restored_from(row.seq).map(|(e, s)| (e.to_string(), s));
        row.seq = self.to_wire(row.seq);
        row
    }
}

/// What the push sends next, in the central's (wire) terms: the resend position (`after`,
/// or the durable cursor when None) and up to `limit` events after it, each with its wire
/// seq and, for an event of a restored copy, `restored_from` ([`SeqMap`]); photos a
/// supervisor acknowledged as lost are marked so (`lost::mark_lost_photos`).
pub fn wire_after(
    db: &dyn Read,
    seqs: &SeqMap,
    after: Option<i64>,
    limit: i64,
) -> Result<(i64, Vec<JournalRow>), StoreError> {
    let local = match after {
        Some(wire) => seqs.to_local(wire),
        None => acked_through(db)?,
    };
    let mut rows = journal_after(db, local, limit)?;
    super::lost::mark_lost_photos(db, &mut rows)?;
    Ok((
        seqs.to_wire(local),
        rows.into_iter().map(|r| seqs.wire_row(r)).collect(),
    ))
}

fn meta(db: &dyn Read, key: &str) -> Result<Option<String>, StoreError> {
    Ok(db
        .sql()
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn meta_int(db: &dyn Read, key: &str) -> Result<Option<i64>, StoreError> {
    meta(db, key)?
        .map(|v| {
            v.parse()
                .map_err(|_| StoreError::decode(format!("meta.{key}"), v))
        })
        .transpose()
}

/// The database's map (the identity for a database that was never restored).
pub fn seq_map(db: &dyn Read) -> Result<SeqMap, StoreError> {
    let offset = meta_int(db, OFFSET)?.unwrap_or(0);
    let restored = match meta(db, FROM_EPOCH)? {
        Some(epoch) => Some(Restored {
            epoch,
            offset: meta_int(db, FROM_OFFSET)?.unwrap_or(0),
            through: meta_int(db, THROUGH)?.unwrap_or(offset),
        }),
        None => None,
    };
    Ok(SeqMap { offset, restored })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64) -> JournalRow {
        JournalRow::for_test(seq, "{}")
    }

    /// Never restored: wire = local, nothing carries `restored_from`.
    #[test]
    fn identity_without_a_restore() {
        let m = SeqMap::default();
        assert_eq!(m.wire_row(row(7)).seq, 7);
        assert_eq!(m.to_local(0), 0);
        assert_eq!(m.wire_row(row(7)).restored_from, None);
    }

    /// The restored copy's unacknowledged events start the new epoch at 1 and say where
    /// they were (under the old epoch's own offset, for a chain of restores); events after
    /// the copy are plain; the central's cursor maps back.
    #[test]
    fn restored_events_start_at_one_and_name_their_old_seq() {
        let m = SeqMap::new(
            10,
            Some(Restored {
                epoch: "e-old".into(),
                offset: 4,
                through: 15,
            }),
        );
        let first = m.wire_row(row(11));
        assert_eq!(first.seq, 1);
        assert_eq!(first.restored_from, Some(("e-old".into(), 7)));
        assert_eq!(first.to_json()["restored_from"]["seq"], 7);
        assert_eq!(
            m.wire_row(row(15)).restored_from,
            Some(("e-old".into(), 11))
        );
        let new = m.wire_row(row(16));
        assert!(new.to_json().get("restored_from").is_none());
        assert_eq!((new.seq, new.restored_from), (6, None));
        assert_eq!(m.to_local(6), 16);
        assert_eq!(
            m.restored_from(10),
            None,
            "acknowledged before: never sent again"
        );
    }
}
