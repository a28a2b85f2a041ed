//! The database's schema: forward-only migrations, `PRAGMA user_version` = how many ran.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// Stock per zone and SKU as the ledger sums it (`zone, sku, qty`): every zone but `in`
/// (the source of received goods), balances that are not zero.
macro_rules! ledger_sums {
    () => {
        "SELECT zone, sku, SUM(delta) AS qty FROM (
             SELECT to_zone AS zone, sku, qty AS delta FROM ledger
             UNION ALL SELECT from_zone AS zone, sku, -qty AS delta FROM ledger)
         WHERE zone != 'in' GROUP BY zone, sku HAVING SUM(delta) != 0"
    };
}
pub(super) use ledger_sums;

/// Fill the `stock` table from the ledger.
macro_rules! stock_from_ledger {
    () => {
        concat!(
            "INSERT INTO stock(zone, sku, qty) ",
            $crate::store::schema::ledger_sums!()
        )
    };
}
pub(super) use stock_from_ledger;

/// The WHERE of the partial index `journal_station_events` (the events read at start: bin
/// edits, RTV notes), which its queries repeat word for word to use it. Written as ORs, not
/// `type IN (…)`: SQLite evaluates an IN list of constants through a temporary b-tree it
/// builds for each statement run, so every journal insert built one to test the index's
/// WHERE (3 % of a scan's CPU).
macro_rules! station_events {
    () => {
        "(type = 'zone.bin_set' OR type = 'rtv.note_created' OR type = 'rtv.note_closed')"
    };
}
pub(super) use station_events;

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
    // The station-level events read at every start (bin edits, RTV notes) found without
    // scanning the journal: a partial index holds only those rare rows, so scans and every
    // other event cost nothing more to write. Queries repeat its WHERE to use it.
    "CREATE INDEX journal_station_events ON journal(type, seq)
        WHERE type IN ('zone.bin_set', 'rtv.note_created', 'rtv.note_closed');",
    // 6: stock per zone and SKU kept with every ledger entry (read at start and by the
    // stock page without summing the whole ledger); returns listed newest first without
    // a filter walk an index instead of sorting the table.
    concat!(
        "CREATE TABLE stock (
            zone TEXT NOT NULL,
            sku TEXT NOT NULL,
            qty INTEGER NOT NULL,
            PRIMARY KEY (zone, sku)
         ) WITHOUT ROWID;
         CREATE INDEX returns_received ON returns(received_at, return_id);
         ",
        stock_from_ledger!(),
        ";"
    ),
    // 7: a return's items in rows of their own, so a scan writes the item it changed and
    // the return's header, not the whole return (a 400-item return cost 3× a 1-item one
    // per scan). The header keeps `item_count`, the items not voided, for the lists. And
    // contract 1.1 `photo.lost`: the photos a supervisor acknowledged as lost, read by the
    // push and the command without scanning the journal (a partial index as in 5; queries
    // repeat its WHERE).
    "CREATE TABLE return_items (
        return_id TEXT NOT NULL,
        item_no INTEGER NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (return_id, item_no)
     ) WITHOUT ROWID;
     INSERT INTO return_items(return_id, item_no, state)
        SELECT r.return_id, json_extract(i.value, '$.item_no'), i.value
        FROM returns r, json_each(r.state, '$.items') i;
     UPDATE returns SET state = json_set(json_remove(state, '$.items'), '$.item_count',
        (SELECT COUNT(*) FROM json_each(state, '$.items')
         WHERE json_extract(value, '$.voided') IS NOT 1));
     CREATE INDEX journal_photo_lost ON journal(type, seq) WHERE type = 'photo.lost';",
    // 8: the journal's return index holds only events of a return. Events without one
    // (a scan's own record, logins, bench events) all sorted into one NULL run in the
    // middle of the index, so nearly every scan's commit wrote that page as well as its
    // return's: a page more per scan. Every query by return says `return_id = …`, which
    // implies the WHERE, so they use it as before.
    // And the station events' index (5) with its WHERE as ORs (`station_events!`).
    concat!(
        "DROP INDEX journal_return;
         CREATE INDEX journal_return ON journal(return_id) WHERE return_id IS NOT NULL;
         DROP INDEX journal_station_events;
         CREATE INDEX journal_station_events ON journal(type, seq) WHERE ",
        station_events!(),
        ";"
    ),
];

/// The schema version this binary writes (`PRAGMA user_version` after every migration).
pub(super) fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    if version == known {
        return Ok(());
    }
    // An upgrade rewrites tables or indexes once (seconds on a year's database): say so,
    // or a start looks hung. A new file (version 0) is only being created.
    let started = std::time::Instant::now();
    let upgrade = version > 0;
    if upgrade {
        tracing::info!(path = %path.display(), from = version, to = known, "upgrading the database schema");
    }
    super::sqltrace::untraced(|| {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok::<_, StoreError>(())
    })?;
    if upgrade {
        let took_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            from = version,
            to = known,
            took_ms,
            "database schema upgraded"
        );
    }
    Ok(())
}
