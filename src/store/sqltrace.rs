//! Test hook: with `RETURNSD_TEST_SQL_TRACE=<file>` every statement the station's
//! connections run is appended to `<file>`, one line each, as written (parameters not
//! expanded). It is how the query-plan test (`tests/it/plans.rs`) sees every query an
//! operator, a page or the engine makes, to check none walks the whole journal or the
//! returns table. Never set in production: unset, it costs one check per opened
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

/// Trace `conn`'s statements when the hook is set.
pub(super) fn install(conn: &mut Connection) {
    if sink().is_none() {
        return;
    }
    let _ = conn.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        Some(|e: TraceEvent<'_>| {
            if let (TraceEvent::Stmt(stmt, _), Some(sink)) = (e, sink()) {
                let line = stmt.sql().split_whitespace().collect::<Vec<_>>().join(" ");
                if let Ok(mut f) = sink.lock() {
                    let _ = writeln!(f, "{line}");
                }
            }
        }),
    );
}
