//! Opening the station database and writing to it: the writer's [`Store`], one [`Batch`]
//! per group commit, and the projection snapshots written with each batch.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::error::StoreError;
use super::reader::{Read, Write, sealed};
use super::{codec, files, schema, snapshot};
use crate::domain::event::{Event, EventBody};
use crate::domain::ids::ReturnId;
use crate::domain::model::Station;

fn is_not_a_db(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase)
}

/// Open (creating if needed) and check a station database.
pub fn open_connection(path: &Path, create: bool) -> Result<Connection, StoreError> {
    let conn = connect(path, create)?;
    check(&conn, path)?;
    Ok(conn)
}

/// A second read-write connection to a database the writer has opened and checked (the
/// checkpointer's): no second integrity check on the way to READY.
pub fn open_checked_already(path: &Path) -> Result<Connection, StoreError> {
    connect(path, false)
}

/// Open with the station's settings (WAL, `synchronous=FULL`), without the check.
fn connect(path: &Path, create: bool) -> Result<Connection, StoreError> {
    let flags = if create {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    };
    let mut conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    super::sqltrace::install(&mut conn);
    super::pace::cache_statements(&conn);
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
    Ok(conn)
}

/// The integrity check the engine runs after READY ([`Store::open_unverified`]), on a
/// read-only connection of its own: `Err(Corrupt)` names the file and what is wrong.
///
/// It yields to the operators (and says how long it paused for them): while an API read or a batch of scans is in flight
/// ([`super::pace::Foreground`]), the check pauses between pages (SQLite's progress handler, which its
/// B-tree check calls as it goes), so on a year's file — about 12 s of reading on a
/// 2-core floor PC — a keeper's scan or an inspector's call does not wait behind it.
pub fn integrity_check(path: &Path) -> Result<std::time::Duration, StoreError> {
    integrity_check_beside(path, &super::pace::FOREGROUND)
}

/// [`integrity_check`], yielding while `foreground` is above zero.
fn integrity_check_beside(
    path: &Path,
    foreground: &'static std::sync::atomic::AtomicUsize,
) -> Result<std::time::Duration, StoreError> {
    let mut conn = super::reader::open_reader(path)?;
    // The check reads every page once: a small cache does it as fast and leaves the
    // daemon's memory as it was.
    conn.execute_batch("PRAGMA cache_size = -256;")?;
    let started = std::time::Instant::now();
    let paused = std::sync::Arc::new(std::sync::Mutex::new(std::time::Duration::ZERO));
    let total = paused.clone();
    conn.progress_handler(
        super::pace::YIELD_EVERY,
        Some(move || {
            let mut yielded = total
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // At most two thirds of the time paused: under load without a break the check
            // still ends, in three times its time at most.
            if *yielded < started.elapsed() * 2 / 3 {
                *yielded += super::pace::yield_to(foreground);
            }
            false
        }),
    )?;
    check(&conn, path)?;
    let paused = *paused
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(paused)
}

/// `PRAGMA quick_check`: a damaged file is refused, naming it.
fn check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let wrap = |e: rusqlite::Error| StoreError::Db {
        path: path.to_path_buf(),
        error: e,
    };
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
    Ok(())
}

/// The writer's handle on the database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    epoch: String,
    /// Local seqs to the epoch's wire seqs (set by a restore; read once: only a restore,
    /// with no daemon running, changes it).
    seqs: super::SeqMap,
    /// Why the database is not where it was created (copied or moved; `identity`): then
    /// nothing may be pushed under its epoch until a restore is confirmed.
    moved: Option<String>,
    /// The seq the next event gets; kept in memory because there is exactly one writer.
    next_seq: i64,
    ids: EventIds,
}

impl Store {
    /// Open the station database at `path`, creating it (with a fresh epoch) if missing —
    /// unless the creation marker shows a database was made here before (then a missing
    /// or empty file is refused: see [`files::check_present`]). Every error names the file.
    pub fn open(path: &Path, station_id: &str) -> Result<Store, StoreError> {
        files::check_present(path)?;
        let conn = open_connection(path, true)?;
        Self::open_inner(conn, path, station_id).map_err(|e| e.at(path))
    }

    /// [`Store::open`] without the integrity check, for the engine: the check reads the
    /// whole file (seconds on a year's database), so the engine runs it after READY
    /// ([`integrity_check`]) and stops for storage if it fails. A file too damaged to
    /// open, migrate or load is still refused here, naming it.
    pub fn open_unverified(path: &Path, station_id: &str) -> Result<Store, StoreError> {
        files::check_present(path)?;
        let conn = connect(path, true)?;
        Self::open_inner(conn, path, station_id).map_err(|e| e.at(path))
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

    fn open_inner(
        mut conn: Connection,
        path: &Path,
        station_id: &str,
    ) -> Result<Store, StoreError> {
        schema::migrate(&mut conn, path)?;
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
        let seqs = super::seq_map(&conn)?;
        let moved = super::identity::moved(&conn, path)?;
        // After pruning an empty journal still continues after the pruned prefix.
        let floor = super::pruned_through(&conn)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            epoch,
            seqs,
            moved,
            next_seq: last.unwrap_or(0).max(floor) + 1,
            ids: EventIds::default(),
        })
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Why the database is not where it was created, if it was copied or moved.
    pub fn moved(&self) -> Option<&str> {
        self.moved.as_deref()
    }

    /// How the journal's seqs map to the epoch's wire seqs.
    pub fn seq_map(&self) -> &super::SeqMap {
        &self.seqs
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

    /// Load the whole folded state (every return) from the projection snapshots.
    pub fn load_station(&self) -> Result<Station, StoreError> {
        super::working::load_station(&self.conn)
    }

    /// Load the engine's working set: the open work (`working`).
    pub fn load_open(&self) -> Result<Station, StoreError> {
        super::working::load_open(&self.conn)
    }

    /// Start a write batch (one transaction for a group of commands).
    pub fn begin(&mut self) -> Result<Batch<'_>, StoreError> {
        let tx = WriteTx::begin(&self.conn)?;
        Ok(Batch {
            tx,
            next_seq: &mut self.next_seq,
            ids: &mut self.ids,
            seq: 0,
            returns: BTreeMap::new(),
            benches: BTreeSet::new(),
        })
    }
}

/// The batch's write transaction. `BEGIN IMMEDIATE` and `COMMIT` run as cached
/// statements: rusqlite's `Transaction` parses both again for every batch (3 % of a
/// scan's CPU). Dropped without a commit — or after a commit that failed — it rolls back.
struct WriteTx<'a> {
    conn: &'a Connection,
    committed: bool,
}

impl<'a> WriteTx<'a> {
    fn begin(conn: &'a Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(WriteTx {
            conn,
            committed: false,
        })
    }

    fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.committed = true;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if !self.committed && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Event ids: UUIDv7 (the time in milliseconds, then random bits), their randomness drawn
/// from the kernel 25 ids at a time — `Uuid::now_v7` asks it twice for every id.
#[derive(Default)]
struct EventIds {
    pool: Vec<u8>,
}

impl EventIds {
    const RANDOM: usize = 10;
    const AT_ONCE: usize = 25;

    fn next(&mut self) -> uuid::Uuid {
        if self.pool.len() < Self::RANDOM {
            let mut fresh = vec![0u8; Self::RANDOM * Self::AT_ONCE];
            if getrandom::fill(&mut fresh).is_err() {
                return uuid::Uuid::now_v7();
            }
            self.pool = fresh;
        }
        let at = self.pool.len() - Self::RANDOM;
        let mut random = [0u8; Self::RANDOM];
        random.copy_from_slice(&self.pool[at..]);
        self.pool.truncate(at);
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid()
    }
}

/// One write transaction. Events get their seq here; the in-memory counter advances only
/// when the transaction commits.
pub struct Batch<'a> {
    tx: WriteTx<'a>,
    next_seq: &'a mut i64,
    ids: &'a mut EventIds,
    /// Events appended so far in this batch.
    seq: i64,
    /// The returns this batch touched, each with the items its events changed: their rows
    /// and the return's header are written at commit, the other items' rows are not.
    returns: BTreeMap<ReturnId, BTreeSet<u32>>,
    benches: BTreeSet<String>,
}

/// What was appended: the journal row's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub seq: i64,
    pub id: String,
}

impl sealed::Sealed for Batch<'_> {
    fn connection(&self, _: sealed::Inside) -> &Connection {
        &self.tx
    }
}
/// The engine's lookups read through the open batch: they see what it wrote.
impl Read for Batch<'_> {}
/// Reference data (feed pages, manifest imports) is written inside the engine's batch.
impl Write for Batch<'_> {}

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
        let id = self.ids.next().to_string();
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
            super::working::move_stock(&self.tx, sku, from, to, i64::from(*qty))?;
        }
        if let Some(r) = &ev.return_id {
            (self.returns.entry(r.clone()).or_default()).extend(ev.body.touched_items());
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
            for (id, items) in &self.returns {
                if let Some(r) = st.returns.get(id) {
                    upsert_return(&self.tx, r, Some(items))?;
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

/// Write one return's header row and the rows of `items` (None: every item).
pub(super) fn upsert_return(
    conn: &Connection,
    r: &crate::domain::model::Return,
    items: Option<&BTreeSet<u32>>,
) -> Result<(), StoreError> {
    let mut put = conn.prepare_cached(
        "INSERT INTO return_items(return_id, item_no, state) VALUES (?1, ?2, ?3)
         ON CONFLICT(return_id, item_no) DO UPDATE SET state = excluded.state",
    )?;
    // Items are numbered from 1 in order, so item n is at n − 1 (searched if not).
    let item = |n: u32| {
        r.items
            .get((n as usize).wrapping_sub(1))
            .filter(|i| i.item_no == n)
            .or_else(|| r.items.iter().find(|i| i.item_no == n))
    };
    let mut write = |i: &crate::domain::model::Item| {
        put.execute(params![
            r.id.as_str(),
            i.item_no,
            snapshot::item_json(i).to_string()
        ])
        .map(drop)
    };
    match items {
        None => r.items.iter().try_for_each(&mut write)?,
        Some(set) => set
            .iter()
            .filter_map(|n| item(*n))
            .try_for_each(&mut write)?,
    }
    // The stage is set only when it changed: assigning it at all rewrites the return's
    // entry in the `returns_stage` index — a page more in every scan's commit, while most
    // scans leave the stage as it was. The upsert below leaves it out of its update.
    let stage = r.stage().as_str();
    conn.prepare_cached("UPDATE returns SET stage = ?2 WHERE return_id = ?1 AND stage != ?2")?
        .execute(params![r.id.as_str(), stage])?;
    conn.prepare_cached(
        "INSERT INTO returns(return_id, waybill, kind, stage, received_at, updated_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(return_id) DO UPDATE SET kind=excluded.kind,
           updated_at=excluded.updated_at, state=excluded.state",
    )?
    .execute(params![
        r.id.as_str(),
        r.waybill.as_str(),
        r.kind.map(|k| k.as_str()),
        stage,
        codec::fmt_time(r.received_at),
        codec::fmt_time(r.updated_at),
        snapshot::return_header_text(r)
    ])?;
    Ok(())
}

/// Open the station database at `path` for a command that reads it as a whole (the CLI's
/// lists, exports and `journal verify`): with the writer's integrity check, so a damaged
/// file is refused at once, naming it.
pub fn open_checked(path: &Path) -> Result<super::Reader, StoreError> {
    Ok(super::reader::Reader::from_connection(open_connection(
        path, false,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of a few thousand pages: enough steps for the check to look at the
    /// foreground many times.
    fn sizable_db(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("t.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER PRIMARY KEY, v TEXT);
             CREATE INDEX t_v ON t(v);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
             INSERT INTO t(v) SELECT printf('%0200d', i) FROM n;",
        )
        .unwrap();
        path
    }

    /// A journal insert writes the row and its indexes and does nothing else per scan: in
    /// particular it builds no temporary b-tree to test a partial index's WHERE (the
    /// station events' `type IN (…)` built one at every insert; schema 8 writes it as ORs).
    #[test]
    fn a_journal_insert_builds_no_temporary_btree() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), "ST01").unwrap();
        let ops: Vec<String> = store
            .conn()
            .prepare(
                "EXPLAIN INSERT INTO journal(seq, id, type, occurred_at, actor, return_id, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .unwrap()
            // EXPLAIN lists the program; nothing is inserted.
            .query_map(
                params![1, "id", "scan.recorded", "t", "017", "R-1", "{}"],
                |r| r.get::<_, String>(1),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(ops.iter().any(|o| o == "IdxInsert"), "{ops:?}");
        assert!(!ops.iter().any(|o| o == "OpenEphemeral"), "{ops:?}");
    }

    fn selected(bench: &str) -> Event {
        Event {
            occurred_at: chrono::Utc::now(),
            actor: crate::domain::event::Actor::system(),
            return_id: None,
            body: EventBody::Selected {
                bench: bench.into(),
            },
        }
    }

    /// Event ids are UUIDv7 of the moment, each its own, across refills of the random pool.
    #[test]
    fn event_ids_are_version_7_of_now_and_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db"), "ST01").unwrap();
        let ms = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        };
        let before = ms();
        let mut batch = store.begin().unwrap();
        let ids: Vec<String> = (0..(EventIds::AT_ONCE * 3 + 7))
            .map(|n| batch.append(&selected(&format!("bench-{n}"))).unwrap().id)
            .collect();
        batch.commit(&Station::default()).unwrap();
        let after = ms();
        let distinct: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
        for id in &ids {
            let u = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version_num(), 7, "{id}");
            let (secs, nanos) = u.get_timestamp().unwrap().to_unix();
            let at = secs * 1000 + u64::from(nanos) / 1_000_000;
            assert!(
                (before..=after).contains(&at),
                "{id}: {at} not in {before}..={after}"
            );
        }
        let stored: i64 = store
            .conn()
            .query_row("SELECT count(DISTINCT id) FROM journal", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, ids.len() as i64);
    }

    /// A batch dropped without its commit leaves nothing, and the next batch begins.
    #[test]
    fn a_batch_not_committed_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db"), "ST01").unwrap();
        let mut batch = store.begin().unwrap();
        batch.append(&selected("bench-1")).unwrap();
        drop(batch);
        assert!(store.conn().is_autocommit());
        let count = |s: &Store| -> i64 {
            s.conn()
                .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count(&store), 0);
        let mut batch = store.begin().unwrap();
        let a = batch.append(&selected("bench-2")).unwrap();
        batch.commit(&Station::default()).unwrap();
        assert_eq!(count(&store), 1);
        assert_eq!(store.last_seq(), a.seq);
    }

    /// The background integrity check pauses while an operator's work is in flight, and
    /// not otherwise; either way it passes a sound file.
    #[test]
    fn the_integrity_check_yields_to_foreground_work_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = sizable_db(dir.path());
        // A counter of its own: other tests' readers count in the station's.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let alone = integrity_check_beside(&db, &CALLS).unwrap();
        assert_eq!(alone, std::time::Duration::ZERO, "nothing to yield to");
        CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let paused = integrity_check_beside(&db, &CALLS).unwrap();
        CALLS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        assert!(
            paused > std::time::Duration::ZERO,
            "paused {paused:?} while an operator's call was in flight"
        );
    }
}
