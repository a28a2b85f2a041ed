//! The handles the rest of the crate reads and writes the database through without naming
//! SQLite: [`Reader`], a read-only connection a worker, a view or a CLI command owns, and
//! the traits every read model and every reference-data write takes — [`Read`] (anything
//! that can be read: a `Reader`, or the writer's open `Batch`, so the engine's lookups see
//! the batch's own writes) and [`Write`] (a connection inside a write transaction: the
//! engine's `Batch`; its impls are with it, in `db.rs`).
//!
//! Architecture invariant: outside `store` (and the engine, which holds the transaction)
//! nobody names `rusqlite`; they hold these types instead. The traits are sealed, and the
//! connection behind them can only be taken inside the store: only the store says what
//! can be read or written, and how.
//!
//! A bare `rusqlite::Connection` is `Read` and a `rusqlite::Transaction` `Read + Write` too,
//! for the store's own use (its tests, the writer's checks, the CLI's offline transaction
//! that `offline::in_transaction` opens); the edges hold `Reader`s (`tests/it/arch.rs`
//! keeps `rusqlite` out of them).

use std::path::Path;

use rusqlite::{Connection, OpenFlags, Transaction};

use super::StoreError;

pub(super) mod sealed {
    /// Proof that the caller is inside `store`: only the store can make one, so no one
    /// else can call [`Sealed::connection`] (a trait object's methods need no import).
    #[derive(Clone, Copy)]
    pub struct Inside(pub(in crate::store) ());

    /// The SQLite connection behind a handle.
    pub trait Sealed {
        fn connection(&self, _: Inside) -> &rusqlite::Connection;
    }
}

/// The connection behind any handle, for the store's own queries.
pub(super) trait Sql {
    fn sql(&self) -> &Connection;
}

impl<T: sealed::Sealed + ?Sized> Sql for T {
    fn sql(&self) -> &Connection {
        self.connection(sealed::Inside(()))
    }
}

/// Something the read models can read from.
pub trait Read: sealed::Sealed {}

/// A connection inside a write transaction: what reference-data writes take.
pub trait Write: Read {}

/// A connection for reading only: no integrity check (the writer did it at start), so it
/// opens in microseconds; WAL lets it read while the engine writes. What a [`Reader`]
/// holds.
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    super::sqltrace::install(&mut conn);
    super::pace::cache_statements(&conn);
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// A read-only handle on the station database. Cheap to open; hold one per worker (not
/// across long waits: an open read pins the WAL snapshot only while a statement runs).
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// Open the station database at `path` for reading.
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        Ok(Reader {
            conn: open_reader(path)?,
        })
    }
}

/// One reader kept open and lent to whoever reads next (opened on first use): opening a
/// connection costs a schema parse and the WAL index mapping — more than a short read —
/// so a worker that reads often (the print queue: a look and a render per label; the
/// API) keeps one. Lent under a lock, for one short read at a time on a blocking thread.
/// A failed read drops the connection: the next one opens afresh.
#[derive(Clone)]
pub struct SharedReader {
    path: std::path::PathBuf,
    slot: std::sync::Arc<std::sync::Mutex<Option<Reader>>>,
}

impl SharedReader {
    pub fn new(path: &Path) -> SharedReader {
        SharedReader {
            path: path.to_path_buf(),
            slot: Default::default(),
        }
    }

    /// Run `f` on the reader (blocking: call from a blocking thread).
    pub fn with<T>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _operator = super::pace::Foreground::enter();
        let mut guard = self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let r = match &mut *guard {
            Some(r) => r,
            empty => empty.insert(Reader::open(&self.path)?),
        };
        let out = f(r);
        if out.is_err() {
            *guard = None;
        }
        out
    }
}

impl Reader {
    /// A reader over a connection the store opened (see `db::open_checked`).
    pub(super) fn from_connection(conn: Connection) -> Reader {
        Reader { conn }
    }
}

impl sealed::Sealed for Reader {
    fn connection(&self, _: sealed::Inside) -> &Connection {
        &self.conn
    }
}
impl Read for Reader {}

// Inside the store: the writer's own connection (the engine's checks, the store's tests) and
// a transaction the store opens (`offline::in_transaction`). Nobody outside gets either:
// `Store::conn` serves the engine, and the store opens no connection for anyone else.
impl sealed::Sealed for Connection {
    fn connection(&self, _: sealed::Inside) -> &Connection {
        self
    }
}
impl Read for Connection {}

impl sealed::Sealed for Transaction<'_> {
    fn connection(&self, _: sealed::Inside) -> &Connection {
        self
    }
}
impl Read for Transaction<'_> {}
impl Write for Transaction<'_> {}

impl Reader {
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
