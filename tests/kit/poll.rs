//! Waiting for something to happen in another thread or process: the one polling loop of
//! the tests and the benches. Every wait has a deadline and names what it waits for, so a
//! hang fails with a sentence instead of a timeout of the whole run.
//!
//! Use it for what another process or thread does in its own time (a daemon that becomes
//! ready, a push the central acknowledges, a printer that answers). It is not a pace: a
//! sleep that is part of a scenario (a quiet window, a client that streams slowly) says so
//! where it stands.

use std::time::{Duration, Instant};

/// How often [`poll`] and [`poll_within`] look.
pub const EVERY: Duration = Duration::from_millis(20);

/// How long [`poll`] waits: far beyond anything a healthy run needs on a loaded 2-core
/// machine, short enough that a hang fails the test instead of the CI job.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Call `f` every `every` until it gives a value, or `None` once `limit` has passed (`f`
/// runs at least once, and once more at the deadline).
pub fn try_poll<T>(
    limit: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Wait at most `limit` for `f` to give a value, looking every 20 ms; panics naming `what`.
pub fn poll_within<T>(limit: Duration, what: &str, f: impl FnMut() -> Option<T>) -> T {
    try_poll(limit, EVERY, f)
        .unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}"))
}

/// Wait at most 30 s for `f` to give a value, looking every 20 ms; panics naming `what`.
pub fn poll<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    poll_within(PATIENCE, what, f)
}

/// [`poll_within`] for async code: the same loop, but it sleeps on the runtime instead of
/// blocking it. A `#[tokio::test]` (one thread) needs this whenever what it waits for
/// depends on its own runtime: e.g. a dropped client request is only hung up by the
/// client's connection task, which runs there.
pub async fn poll_async<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(EVERY).await;
    }
}
