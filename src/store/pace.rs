//! How the station's connections share the machine: statements kept prepared on every
//! connection, and the background integrity check yielding to operators' work
//! ([`Foreground`]). A leaf of the store: it names no other store file.

/// Statements kept prepared per connection. The engine's writer alone runs about thirty
/// distinct statements on the scan path and the API's reader as many; rusqlite's default
/// of 16 made them evict each other, so a scan parsed SQL it had parsed a moment before.
const STATEMENT_CACHE: usize = 96;

/// Every station connection keeps its statements prepared (`prepare_cached`).
pub(super) fn cache_statements(conn: &rusqlite::Connection) {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
}

/// Steps of the integrity check between looks at the foreground (a step is a page or a
/// cell checked: some microseconds).
pub(super) const YIELD_EVERY: i32 = 64;
/// The longest the check pauses at one look.
const YIELD_MAX: std::time::Duration = std::time::Duration::from_millis(20);

pub(super) static FOREGROUND: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Work an operator is waiting for, in flight while this is held: an API read, a batch
/// of scans. The background integrity check yields to it.
pub struct Foreground(());

impl Foreground {
    pub fn enter() -> Foreground {
        FOREGROUND.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Foreground(())
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        FOREGROUND.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Wait (at most [`YIELD_MAX`]) while `foreground` work is in flight; how long it waited.
pub(super) fn yield_to(foreground: &std::sync::atomic::AtomicUsize) -> std::time::Duration {
    let busy = || foreground.load(std::sync::atomic::Ordering::SeqCst) > 0;
    if !busy() {
        return std::time::Duration::ZERO;
    }
    let start = std::time::Instant::now();
    while busy() && start.elapsed() < YIELD_MAX {
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    start.elapsed()
}
