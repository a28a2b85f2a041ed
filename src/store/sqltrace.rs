//! Test hook: with `RETURNSD_TEST_SQL_TRACE=<file>` every statement the station's
//! connections run is appended to `<file>`, one line each: the bytes of the values bound to
//! it, a tab, and its text as written (parameters not expanded). It is how the query-plan test (`tests/it/plans.rs`) sees every query an
//! operator, a page or the engine makes, to check none walks the whole journal or the
//! returns table, and what the scan test (`tests/it/flow.rs`) reads to see that a scan
//! writes what it changed, not the whole return. Never set in production: unset, it costs one check per opened
//! connection.

use std::fs::File;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};

static SINK: OnceLock<Option<Mutex<File>>> = OnceLock::new();

fn sink() -> Option<&'static Mutex<File>> {
    SINK.get_or_init(|| {
        let path = std::env::var_os("RETURNSD_TEST_SQL_TRACE")?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()?;
        Some(Mutex::new(file))
    })
    .as_ref()
}

thread_local! {
    /// Set while this thread runs the schema's migrations: one-off whole-table work on
    /// upgrade, not the queries the plan test is about.
    static MIGRATING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` (the schema's migrations) with its statements left out of the trace.
pub(super) fn untraced<T>(f: impl FnOnce() -> T) -> T {
    MIGRATING.with(|m| m.set(true));
    let out = f();
    MIGRATING.with(|m| m.set(false));
    out
}

/// Trace `conn`'s statements when the hook is set.
pub(super) fn install(conn: &mut Connection) {
    if sink().is_none() {
        return;
    }
    let _ = conn.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        Some(|e: TraceEvent<'_>| {
            if MIGRATING.with(|m| m.get()) {
                return;
            }
            if let (TraceEvent::Stmt(stmt, _), Some(sink)) = (e, sink()) {
                let sql = stmt.sql();
                // What the statement carries: its text with the values bound (the bytes a
                // write hands SQLite), less the text itself.
                let bound = stmt
                    .expanded_sql()
                    .map_or(0, |x| x.len().saturating_sub(sql.len()));
                let line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
                if let Ok(mut f) = sink.lock() {
                    let _ = writeln!(f, "{bound}\t{line}");
                }
            }
        }),
    );
}
