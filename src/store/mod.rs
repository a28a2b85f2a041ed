//! The station's SQLite database: the journal (the contract's event log and the sync
//! outbox), projection snapshots, the ledger and reference data, and the operator API's
//! station-local rows (sessions, lockouts, idempotency answers: [`api_state`], never
//! synced). One writer connection lives in the engine; CLI commands open their own
//! short-lived connections.
//!
//! Architecture invariant: every state change is written in the same transaction as the
//! journal events that describe it, and the transaction is committed with
//! `synchronous=FULL` before anyone is told "OK".

pub mod api_state;
pub mod codec;
pub mod durable;
pub mod files;
pub mod jobs;
pub mod snapshot;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use serde_json::Value;

use crate::domain::event::{Event, EventBody};
use crate::domain::ids::ReturnId;
use crate::domain::model::{Station, parse_rtv_number};

/// Forward-only schema migrations; `PRAGMA user_version` is the index of the last applied.
const MIGRATIONS: &[&str] = &[
    // 1: journal, projections, reference data.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE journal (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        return_id TEXT,
        data TEXT NOT NULL
     );
     CREATE INDEX journal_return ON journal(return_id);
     CREATE TABLE returns (
        return_id TEXT PRIMARY KEY,
        waybill TEXT NOT NULL UNIQUE,
        kind TEXT,
        stage TEXT NOT NULL,
        received_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        state TEXT NOT NULL
     );
     CREATE INDEX returns_stage ON returns(stage, received_at);
     CREATE TABLE benches (bench TEXT PRIMARY KEY, state TEXT NOT NULL);
     CREATE TABLE ledger (
        seq INTEGER PRIMARY KEY,
        return_id TEXT,
        sku TEXT NOT NULL,
        from_zone TEXT NOT NULL,
        to_zone TEXT NOT NULL,
        qty INTEGER NOT NULL,
        occurred_at TEXT NOT NULL
     );
     CREATE TABLE feed_items (
        type TEXT NOT NULL,
        key TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT,
        source TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (type, key)
     );
     CREATE TABLE rejected_feed_items (
        id INTEGER PRIMARY KEY,
        type TEXT,
        key TEXT,
        version INTEGER,
        reason TEXT NOT NULL,
        source TEXT NOT NULL,
        raw TEXT NOT NULL,
        at TEXT NOT NULL
     );",
    // 2: sync: the shared push/pull cursor and the feed cursor; the photo store's index.
    "CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     INSERT INTO sync_state(key, value) VALUES ('acked_through', '0'), ('feed_after', '');
     CREATE TABLE blobs (
        sha256 TEXT PRIMARY KEY,
        bytes INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        stored_at TEXT NOT NULL,
        uploaded_at TEXT
     );",
    // 3: the durable print queue (see jobs.rs).
    "CREATE TABLE print_jobs (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        seq INTEGER,
        subject TEXT NOT NULL,
        template TEXT NOT NULL,
        reason TEXT NOT NULL,
        item_no INTEGER,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        printer TEXT,
        language TEXT,
        dpi INTEGER,
        bytes BLOB,
        sent_at TEXT,
        confirmed_at TEXT,
        last_error TEXT,
        next_attempt_at TEXT
     );
     CREATE INDEX print_jobs_state ON print_jobs(state, id);
     CREATE INDEX print_jobs_subject ON print_jobs(subject, id);",
    // 4: the operator API's sessions, PIN lockouts and Idempotency-Key answers (see
    // api_state.rs). Station-local: never journaled, never synced.
    "CREATE TABLE api_sessions (
        token_hash BLOB PRIMARY KEY,
        badge TEXT NOT NULL,
        name TEXT NOT NULL,
        roles TEXT NOT NULL,
        lang TEXT,
        csrf_hash BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
     );
     CREATE INDEX api_sessions_seen ON api_sessions(last_seen);
     CREATE TABLE api_lockouts (
        badge TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        failed_at TEXT NOT NULL,
        locked_until INTEGER,
        updated_at INTEGER NOT NULL
     );
     CREATE TABLE idempotency_keys (
        badge TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint BLOB NOT NULL,
        status INTEGER NOT NULL,
        response TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (badge, key)
     );
     CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{path}: this file is not a returnsd database (not SQLite, or encrypted). Nothing was changed. Point storage.state_dir at the right directory or move the file away."
    )]
    NotADatabase { path: PathBuf },
    #[error(
        "{path}: the database failed its integrity check ({detail}). returnsd refuses to run on a damaged file: restore it from a backup, or move it away (keep it) and start afresh with `returnsd init --new-epoch`."
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path}: this database belongs to station {found:?}, but the config says {configured:?}."
    )]
    WrongStation {
        path: PathBuf,
        found: String,
        configured: String,
    },
    #[error(
        "{path}: schema version {found} is newer than this returnsd knows ({known}); upgrade returnsd."
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{path}: cannot open the database: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Missing(Box<files::MissingDatabase>),
    #[error(
        "{path}: the state directory is in use by {holder} (PID {pid}); one returnsd per state directory. Stop it first (`systemctl stop returnsd`), or point storage.state_dir elsewhere.",
        pid = pid.map_or_else(|| "unknown".to_string(), |p| p.to_string())
    )]
    Locked {
        path: PathBuf,
        pid: Option<u64>,
        holder: String,
    },
    #[error("{path}: storage fault: {detail}")]
    Fault { path: PathBuf, detail: String },
    #[error("{path}: {error}")]
    Db {
        path: PathBuf,
        /// Not a `source`: the message says it all, and chained reports would repeat it.
        error: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("stored data is unreadable at {what}: {detail}")]
    Decode { what: String, detail: String },
}

impl StoreError {
    /// The same error, naming the database file it concerns.
    pub fn at(self, path: &Path) -> StoreError {
        if matches!(
            self.sqlite_code(),
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        ) {
            let detail = match &self {
                StoreError::Sql(e) | StoreError::Db { error: e, .. } => e.to_string(),
                other => other.to_string(),
            };
            return StoreError::Corrupt {
                path: path.to_path_buf(),
                detail,
            };
        }
        match self {
            StoreError::Sql(error) => StoreError::Db {
                path: path.to_path_buf(),
                error,
            },
            StoreError::Decode { what, detail } => StoreError::Decode {
                what: format!("{}: {what}", path.display()),
                detail,
            },
            other => other,
        }
    }

    /// The underlying SQLite error, if any.
    pub fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
            | StoreError::Db {
                error: rusqlite::Error::SqliteFailure(f, _),
                ..
            }
            | StoreError::Open {
                source: rusqlite::Error::SqliteFailure(f, _),
                ..
            } => Some(f.code),
            _ => None,
        }
    }

    /// The disk (or the filesystem under the state directory) is full.
    pub fn is_disk_full(&self) -> bool {
        self.sqlite_code() == Some(rusqlite::ErrorCode::DiskFull)
    }

    pub(crate) fn decode(what: impl Into<String>, detail: impl Into<String>) -> StoreError {
        StoreError::Decode {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

fn is_not_a_db(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase)
}

/// Open (creating if needed) and check a station database.
pub fn open_connection(path: &Path, create: bool) -> Result<Connection, StoreError> {
    let flags = if create {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let wrap = |e: rusqlite::Error| {
        if is_not_a_db(&e) {
            StoreError::NotADatabase {
                path: path.to_path_buf(),
            }
        } else {
            StoreError::Db {
                path: path.to_path_buf(),
                error: e,
            }
        }
    };
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(wrap)?;
    if create {
        // On a new, empty file, and before anything writes its first page: lets retention
        // pruning give space back to the disk (`PRAGMA incremental_vacuum`).
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .map_err(wrap)?;
        if pages == 0 {
            conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
                .map_err(wrap)?;
        }
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(wrap)?;
    if mode != "wal" {
        tracing::warn!(mode, "could not switch the database to WAL mode");
    }
    // FULL: a commit is on stable storage before anyone is told OK. The WAL file is trimmed
    // back to 64 MiB after checkpoints so a burst never leaves it large.
    conn.execute_batch(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=67108864;",
    )
    .map_err(wrap)?;
    let check: String = match conn.query_row("PRAGMA quick_check", [], |r| r.get(0)) {
        Ok(c) => c,
        Err(rusqlite::Error::SqliteFailure(f, msg))
            if f.code == rusqlite::ErrorCode::DatabaseCorrupt =>
        {
            msg.unwrap_or_else(|| "database disk image is malformed".to_string())
        }
        Err(e) => return Err(wrap(e)),
    };
    if check != "ok" {
        let detail: String = check.lines().take(3).collect::<Vec<_>>().join("; ");
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail,
        });
    }
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// The writer's handle on the database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    epoch: String,
    /// The seq the next event gets; kept in memory because there is exactly one writer.
    next_seq: i64,
}

impl Store {
    /// Open the station database at `path`, creating it (with a fresh epoch) if missing —
    /// unless the creation marker shows a database was made here before (then a missing
    /// or empty file is refused: see [`files::check_present`]). Every error names the file.
    pub fn open(path: &Path, station_id: &str) -> Result<Store, StoreError> {
        files::check_present(path)?;
        Self::open_inner(path, station_id).map_err(|e| e.at(path))
    }

    /// Start afresh: a new, empty database with a new epoch where the old one is missing
    /// or empty (`returnsd init --new-epoch`). A database with content is never replaced.
    pub fn create_new_epoch(path: &Path, station_id: &str) -> Result<Store, StoreError> {
        let len = std::fs::metadata(path).map(|m| m.len()).ok();
        if len.is_some_and(|l| l > 0) {
            return Err(StoreError::Fault {
                path: path.to_path_buf(),
                detail: "a database with content is here; returnsd never replaces one. Move it away first (keep it: it may be restorable), then run this again".to_string(),
            });
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Fault {
                        path: PathBuf::from(p),
                        detail: e.to_string(),
                    });
                }
            }
        }
        let _ = std::fs::remove_file(files::marker_path(path));
        Self::open(path, station_id)
    }

    fn open_inner(path: &Path, station_id: &str) -> Result<Store, StoreError> {
        let mut conn = open_connection(path, true)?;
        migrate(&mut conn, path)?;
        let tx = conn.transaction()?;
        let found: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key='station_id'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match found {
            Some(f) if f != station_id => {
                return Err(StoreError::WrongStation {
                    path: path.to_path_buf(),
                    found: f,
                    configured: station_id.to_string(),
                });
            }
            Some(_) => {}
            None => {
                tx.execute(
                    "INSERT INTO meta(key, value) VALUES ('station_id', ?1), ('epoch', ?2), ('created_at', ?3)",
                    params![
                        station_id,
                        uuid::Uuid::new_v4().to_string(),
                        codec::fmt_time(chrono::Utc::now())
                    ],
                )?;
            }
        }
        tx.commit()?;
        let epoch: String =
            conn.query_row("SELECT value FROM meta WHERE key='epoch'", [], |r| r.get(0))?;
        // The marker: written once, when the database is new (or predates markers).
        if files::read_marker(path).is_none() {
            let created_at: String = conn
                .query_row("SELECT value FROM meta WHERE key='created_at'", [], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or_default();
            files::write_marker(
                path,
                &files::Marker {
                    station: station_id.to_string(),
                    epoch: epoch.clone(),
                    created_at,
                },
            )?;
        }
        let last: Option<i64> = conn.query_row("SELECT MAX(seq) FROM journal", [], |r| r.get(0))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            epoch,
            next_seq: last.unwrap_or(0) + 1,
        })
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The highest seq on disk.
    pub fn last_seq(&self) -> i64 {
        self.next_seq - 1
    }

    /// Load the folded state from the projection snapshots.
    pub fn load_station(&self) -> Result<Station, StoreError> {
        load_station(&self.conn)
    }

    /// Start a write batch (one transaction for a group of commands).
    pub fn begin(&mut self) -> Result<Batch<'_>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Ok(Batch {
            tx,
            next_seq: &mut self.next_seq,
            seq: 0,
            returns: BTreeSet::new(),
            benches: BTreeSet::new(),
        })
    }
}

/// One write transaction. Events get their seq here; the in-memory counter advances only
/// when the transaction commits.
pub struct Batch<'a> {
    tx: Transaction<'a>,
    next_seq: &'a mut i64,
    /// Events appended so far in this batch.
    seq: i64,
    returns: BTreeSet<ReturnId>,
    benches: BTreeSet<String>,
}

/// What was appended: the journal row's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub seq: i64,
    pub id: String,
}

impl Batch<'_> {
    pub fn conn(&self) -> &Connection {
        &self.tx
    }

    /// The seq the next appended event will get.
    pub fn next_seq_ref(&self) -> i64 {
        *self.next_seq + self.seq
    }

    /// Append one event to the journal (and the ledger table when it is a ledger entry).
    pub fn append(&mut self, ev: &Event) -> Result<Appended, StoreError> {
        let seq = *self.next_seq + self.seq;
        let id = uuid::Uuid::now_v7().to_string();
        let data = codec::encode(&ev.body);
        let at = codec::fmt_time(ev.occurred_at);
        self.tx
            .prepare_cached(
                "INSERT INTO journal(seq, id, type, occurred_at, actor, return_id, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                seq,
                id,
                ev.body.type_name(),
                at,
                ev.actor.as_str(),
                ev.return_id.as_ref().map(|r| r.as_str()),
                data.to_string()
            ])?;
        if let EventBody::Ledger { sku, from, to, qty } = &ev.body {
            self.tx
                .prepare_cached(
                    "INSERT INTO ledger(seq, return_id, sku, from_zone, to_zone, qty, occurred_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    seq,
                    ev.return_id.as_ref().map(|r| r.as_str()),
                    sku,
                    from,
                    to,
                    qty,
                    at
                ])?;
        }
        if let Some(r) = &ev.return_id {
            self.returns.insert(r.clone());
        }
        match &ev.body {
            EventBody::LoggedIn { bench, .. }
            | EventBody::LoggedOut { bench, .. }
            | EventBody::Received { bench, .. }
            | EventBody::Selected { bench }
            | EventBody::Released { bench } => {
                self.benches.insert(bench.clone());
            }
            EventBody::Closed { .. } | EventBody::Voided { .. } => {
                // A terminal return is released from whichever bench holds it.
                self.benches.insert(String::new());
            }
            _ => {}
        }
        self.seq += 1;
        Ok(Appended { seq, id })
    }

    /// Write the snapshots of everything this batch touched, then commit durably.
    pub fn commit(mut self, st: &Station) -> Result<(), StoreError> {
        if self.benches.remove("") {
            self.benches.extend(st.benches.keys().cloned());
        }
        {
            for id in &self.returns {
                if let Some(r) = st.returns.get(id) {
                    upsert_return(&self.tx, r)?;
                }
            }
            let mut ub = self.tx.prepare_cached(
                "INSERT INTO benches(bench, state) VALUES (?1, ?2)
                 ON CONFLICT(bench) DO UPDATE SET state=excluded.state",
            )?;
            for name in &self.benches {
                let b = st.bench(name);
                ub.execute(params![name, snapshot::bench_json(&b).to_string()])?;
            }
        }
        self.tx.commit()?;
        *self.next_seq += self.seq;
        Ok(())
    }
}

/// Write one return's snapshot row.
fn upsert_return(conn: &Connection, r: &crate::domain::model::Return) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO returns(return_id, waybill, kind, stage, received_at, updated_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(return_id) DO UPDATE SET kind=excluded.kind, stage=excluded.stage,
           updated_at=excluded.updated_at, state=excluded.state",
    )?
    .execute(params![
        r.id.as_str(),
        r.waybill.as_str(),
        r.kind.map(|k| k.as_str()),
        r.stage().as_str(),
        codec::fmt_time(r.received_at),
        codec::fmt_time(r.updated_at),
        snapshot::return_json(r).to_string()
    ])?;
    Ok(())
}

/// Fold the snapshots, the ledger and the numbering counters back into a [`Station`].
pub fn load_station(conn: &Connection) -> Result<Station, StoreError> {
    let mut st = Station::default();
    let mut q = conn.prepare("SELECT return_id, state FROM returns")?;
    let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (id, state) = row?;
        let v: Value = serde_json::from_str(&state)
            .map_err(|e| StoreError::decode(format!("returns[{id}]"), e.to_string()))?;
        let r = snapshot::return_from_json(&v)
            .map_err(|e| StoreError::decode(format!("returns[{id}]"), e))?;
        let n = st.numbers.entry(r.id.date()).or_insert(0);
        *n = (*n).max(r.id.number());
        st.by_waybill
            .insert(r.waybill.as_str().to_string(), r.id.clone());
        st.returns.insert(r.id.clone(), r);
    }
    let mut q = conn.prepare("SELECT bench, state FROM benches")?;
    let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (name, state) = row?;
        let v: Value = serde_json::from_str(&state)
            .map_err(|e| StoreError::decode(format!("benches[{name}]"), e.to_string()))?;
        let b = snapshot::bench_from_json(&v)
            .map_err(|e| StoreError::decode(format!("benches[{name}]"), e))?;
        if b != Default::default() {
            st.benches.insert(name, b);
        }
    }
    let mut q = conn.prepare(
        "SELECT zone, sku, SUM(q) FROM (
            SELECT from_zone AS zone, sku, -qty AS q FROM ledger WHERE from_zone != 'in'
            UNION ALL
            SELECT to_zone AS zone, sku, qty AS q FROM ledger WHERE to_zone NOT IN ('vendor', 'customer')
         ) GROUP BY zone, sku HAVING SUM(q) != 0",
    )?;
    let rows = q.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (zone, sku, n) = row?;
        st.stock.insert((zone, sku), n);
    }
    let mut q = conn.prepare(
        "SELECT json_extract(data, '$.note_no') FROM journal WHERE type = 'rtv.note_created'",
    )?;
    let rows = q.query_map([], |r| r.get::<_, String>(0))?;
    for row in rows {
        if let Some((date, n)) = parse_rtv_number(&row?) {
            let e = st.rtv_numbers.entry(date).or_insert(0);
            *e = (*e).max(n);
        }
    }
    Ok(st)
}

/// The central's acknowledged high-water mark (push and pull share it).
pub fn acked_through(conn: &Connection) -> Result<i64, StoreError> {
    let v: String = conn.query_row(
        "SELECT value FROM sync_state WHERE key = 'acked_through'",
        [],
        |r| r.get(0),
    )?;
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
pub fn feed_after(conn: &Connection) -> Result<String, StoreError> {
    Ok(conn.query_row(
        "SELECT value FROM sync_state WHERE key = 'feed_after'",
        [],
        |r| r.get(0),
    )?)
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
    let first_open: Option<i64> = conn.query_row(
        "SELECT MIN(j.seq) FROM journal j JOIN returns r ON r.return_id = j.return_id
         WHERE r.stage NOT IN ('closed', 'voided')",
        [],
        |r| r.get(0),
    )?;
    let first_young: Option<i64> = conn.query_row(
        "SELECT MIN(seq) FROM journal WHERE occurred_at >= ?1",
        [codec::fmt_time(cutoff)],
        |r| r.get(0),
    )?;
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

/// The highest seq pruned away (0 when nothing was).
pub fn pruned_through(conn: &Connection) -> Result<i64, StoreError> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'pruned_through'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// A connection for reading only: no integrity check (the writer did it at start), so it
/// opens in microseconds; WAL lets it read while the engine writes.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
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
        })
    }

    /// The contract's JSON form of the event.
    pub fn to_json(&self) -> Value {
        let data: Value = serde_json::from_str(&self.data).unwrap_or(Value::Null);
        serde_json::json!({
            "seq": self.seq,
            "id": self.id,
            "type": self.ty,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "return_id": self.return_id,
            "data": data,
        })
    }

    pub fn decode(&self) -> Result<Event, String> {
        let data: Value = serde_json::from_str(&self.data).map_err(|e| e.to_string())?;
        let at = codec::parse_time(&self.occurred_at)?;
        codec::decode(&self.ty, &data, at, &self.actor, self.return_id.as_deref())
    }
}

/// Journal rows with `seq > after`, ascending, at most `limit`.
pub fn journal_after(
    conn: &Connection,
    after: i64,
    limit: i64,
) -> Result<Vec<JournalRow>, StoreError> {
    let mut q = conn.prepare_cached(&format!(
        "SELECT {JOURNAL_COLUMNS} FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let rows = q.query_map(params![after, limit], JournalRow::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

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
pub fn verify(conn: &Connection) -> Result<Verification, StoreError> {
    let tx = conn.unchecked_transaction()?;
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
    v.stock_matches = stored.stock == stored.stock_from_items()
        && (v.pruned_through > 0 || rebuilt.stock == stored.stock);
    // A bench's login may sit in the pruned prefix: benches are compared only when whole.
    v.benches_match = v.pruned_through > 0 || rebuilt.benches == stored.benches;
    // Bin edits and RTV notes outlive pruning in `meta`: compared when the journal is whole.
    v.supervision_matches = v.pruned_through > 0
        || (rebuilt.bins == stored.bins && rebuilt.rtv_notes == stored.rtv_notes);
    Ok(v)
}

/// Replace the projections with the journal's fold (`journal rebuild`).
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
    tx.execute_batch("DELETE FROM returns; DELETE FROM benches; DELETE FROM ledger;")?;
    snapshot::replace_meta(&tx, &st)?;
    {
        for r in st.returns.values() {
            upsert_return(&tx, r)?;
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
    }
    tx.commit()?;
    // Report on what is now stored, as `journal verify` would.
    verify(conn)
}
