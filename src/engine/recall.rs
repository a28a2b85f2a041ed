//! The engine holds the open work in memory, not the station's history
//! (`store::working`). Before the rules decide on an input, the returns it names are
//! recalled from their snapshot rows — a waybill scanned again, a return or item label, a
//! command's return, an RTV note's items — and the day's last return number; after the
//! batch commits, whatever is no longer open work is let go again ([`Core::settle`]).
//! The rules then see exactly what they would see with every return in memory.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::handlers::{Core, Out};
use crate::domain::ids::ReturnId;
use crate::domain::scan::ScanClass;
use crate::domain::step::Command;
use crate::store::StoreError;
use crate::store::{snapshot, working};

impl Core {
    /// Recall what a scan at `bench` may act on: the return or item label's return, the
    /// return received under a waybill (and the day's numbering, should it be new), and
    /// the bench's own returns.
    pub(super) fn recall_for_scan(
        &mut self,
        conn: &Connection,
        bench: &str,
        class: &ScanClass,
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<(), StoreError> {
        if let Some(b) = self.station.benches.get(bench) {
            // What the bench pointed at before may be let go once the batch moves it on.
            out.touched
                .extend(b.current.iter().chain(b.last.iter()).cloned());
        }
        match class {
            ScanClass::ReturnId(id) => self.recall(conn, id, out),
            ScanClass::Item(item) => self.recall(conn, &item.return_id, out),
            ScanClass::Waybill { waybill, .. } | ScanClass::Ambiguous { waybill, .. } => {
                self.recall_day(conn, now)?;
                if self.station.by_waybill.contains_key(waybill.as_str()) {
                    return Ok(());
                }
                if let Some(r) = working::fetch_by_waybill(conn, waybill.as_str())? {
                    out.touched.push(r.id.clone());
                    self.station.admit(r);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Recall the returns an operator's command names.
    pub(super) fn recall_for_command(
        &mut self,
        conn: &Connection,
        cmd: &Command,
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<(), StoreError> {
        match cmd {
            Command::Inspect { return_id, .. }
            | Command::PutAway { return_id, .. }
            | Command::ExchangeShipped { return_id, .. }
            | Command::Restock { return_id, .. }
            | Command::Reprint { return_id, .. }
            | Command::Void { return_id, .. } => self.recall(conn, return_id, out),
            Command::CreateRtvNote { items, .. } => {
                for item in items {
                    self.recall(conn, &item.return_id, out)?;
                }
                self.recall_rtv_day(conn, now)
            }
            Command::CloseRtvNote { note_no, .. } => {
                if !self.station.rtv_notes.contains_key(note_no)
                    && let Some(n) = snapshot::rtv_note(conn, note_no)?
                {
                    self.station.rtv_notes.insert(n.note_no.clone(), n);
                }
                out.notes_touched.push(note_no.clone());
                Ok(())
            }
            Command::Scan { .. }
            | Command::SetBin { .. }
            | Command::RecordLockout { .. }
            | Command::EndSessions { .. }
            | Command::Unlock { .. }
            | Command::PhotoLost { .. } => Ok(()),
        }
    }

    /// Bring the return `id` into memory if it is not there (an unknown id stays unknown:
    /// the rules say so).
    fn recall(
        &mut self,
        conn: &Connection,
        id: &ReturnId,
        out: &mut Out,
    ) -> Result<(), StoreError> {
        if !self.station.returns.contains_key(id)
            && let Some(r) = working::fetch(conn, id.as_str())?
        {
            self.station.admit(r);
        }
        out.touched.push(id.clone());
        Ok(())
    }

    /// The last return number of the station's local day, read once per day: a new
    /// return takes the next one, never one used before (the clock may have stepped back
    /// into a day that already has returns).
    fn recall_day(&mut self, conn: &Connection, now: DateTime<Utc>) -> Result<(), StoreError> {
        let date = now.with_timezone(&self.settings.tz).date_naive();
        if !self.station.numbers.contains_key(&date) {
            let n = working::last_number(conn, &self.settings.station, date)?;
            self.station.numbers.insert(date, n);
        }
        Ok(())
    }

    /// The last RTV note number of the station's local day, from the notes' snapshots
    /// (closed ones are not in memory), read once per day.
    fn recall_rtv_day(&mut self, conn: &Connection, now: DateTime<Utc>) -> Result<(), StoreError> {
        let date = now.with_timezone(&self.settings.tz).date_naive();
        if !self.station.rtv_numbers.contains_key(&date) {
            let n = snapshot::last_rtv_number(conn, self.settings.station.as_str(), date)?;
            let e = self.station.rtv_numbers.entry(date).or_insert(0);
            *e = (*e).max(n);
        }
        Ok(())
    }

    /// After a commit: let go of the returns the batch touched that are no longer open
    /// work (their snapshot rows, just written, have them), and of closed RTV notes.
    pub(super) fn settle(&mut self, touched: &[ReturnId], notes: &[String]) {
        for id in touched {
            self.station.settle(id);
        }
        for no in notes {
            if self
                .station
                .rtv_notes
                .get(no)
                .is_some_and(|n| n.closed.is_some())
            {
                self.station.rtv_notes.remove(no);
            }
        }
        self.count_held();
    }

    /// Publish how many returns memory holds (`Stats::held_returns`).
    pub(super) fn count_held(&self) {
        self.stats
            .held_returns
            .store(self.station.returns.len() as u64, Ordering::Relaxed);
    }
}
