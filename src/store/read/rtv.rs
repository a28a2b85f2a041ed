//! RTV notes as the journal records them.

use rusqlite::OptionalExtension;
use serde_json::Value;

use super::super::reader::Sql;
use super::super::{Read, StoreError};

/// An RTV note's `rtv.note_created` event: its data (vendor, items) and when it happened.
pub struct NoteCreated {
    pub data: Value,
    /// RFC 3339, as recorded.
    pub occurred_at: String,
}

/// The latest `rtv.note_created` event of note `note_no`, or None when the journal has
/// none.
pub fn note_created(db: &dyn Read, note_no: &str) -> Result<Option<NoteCreated>, StoreError> {
    let row: Option<(String, String)> = db
        .sql()
        .query_row(
            // The first term is the partial index's (`journal_station_events`).
            concat!(
                "SELECT data, occurred_at FROM journal WHERE ",
                crate::store::schema::station_events!(),
                " AND type = 'rtv.note_created' AND json_extract(data, '$.note_no') = ?1
                 ORDER BY seq DESC LIMIT 1"
            ),
            [note_no],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(data, occurred_at)| {
        let data = serde_json::from_str(&data).map_err(|e| {
            StoreError::decode(format!("journal rtv.note_created {note_no}"), e.to_string())
        })?;
        Ok(NoteCreated { data, occurred_at })
    })
    .transpose()
}
