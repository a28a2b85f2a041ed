//! A read-only connection to the station database, as the edges hold one: opened without
//! the writer's integrity check (so in microseconds), reading beside the engine's writes
//! (WAL), and unable to write.
//!
//! Architecture invariant: an edge names [`Reader`], never `rusqlite`. It hands the reader
//! to the store's read models (`store::api_reads`, `store::kiosk`, …) and, until their
//! reads take a `Reader`, passes [`Reader::conn`] on to `views` and `refdata`; it never
//! prepares SQL itself.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// A read-only connection. Not `Sync`: one reader serves one thread at a time (an edge
/// that shares one puts it behind a lock).
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// Open the database at `db` for reading.
    pub fn open(db: &Path) -> Result<Reader, StoreError> {
        Ok(Reader {
            conn: super::open_reader(db)?,
        })
    }

    /// The connection, for read functions that still take one (`views`, `refdata`, the
    /// store's older reads). Pass it on; do not query it.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Run `f` in one read transaction, so that everything it reads comes from the same
    /// snapshot of the database (a page and the journal's last seq, say).
    pub fn snapshot<T>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let v = f(self)?;
        tx.finish()?;
        Ok(v)
    }
}
