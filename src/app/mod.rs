//! The daemon: builds the engine and its edges from a validated config, runs until a
//! shutdown it is given (SIGTERM or SIGINT for `returnsd run`), then stops accepting input,
//! lets the engine commit what it was given, and exits. A missing device never stops it; a
//! damaged database, a held state directory or a socket or port in use stops it before it
//! is ready.
//!
//! - [`daemon`]: [`Daemon::build`] (everything that can fail at start fails there) and
//!   [`Daemon::run_until`] (wait for the shutdown, stop in order); [`run`] for the binary.
//! - [`scanners`]: the scan sources — scanner actors and their board bridge, standard input.
//! - [`maintenance`]: the periodic housekeeping worker (photos, pruning, high-water mark).
//! - [`watchdog`]: what systemd is told while it runs — `WATCHDOG=1` on the engine's
//!   progress, `STATUS=` with what is degraded.
//! - [`reload`]: SIGHUP (`systemctl reload`): `[[operators]]` at once, the rest named as
//!   needing a restart.
//! - [`error`]: why the daemon could not start.
//!
//! Architecture invariant: nothing names `app` back; the CLI calls [`run`], tests and
//! benches [`Daemon::build`].

mod daemon;
mod error;
mod maintenance;
mod reload;
mod scanners;
mod watchdog;

pub use daemon::{Daemon, RunOptions, run};
pub use error::DaemonError;

/// Bound glibc's malloc arenas to two. By default glibc gives each thread that allocates
/// under contention an arena of its own (up to eight per core), and every arena keeps
/// freed memory for reuse: a daemon whose tokio workers, engine, checkpointer and HTTP
/// handlers all allocate grows in ~19 MB steps as the API is used and never gives it
/// back. Two arenas keep the resident memory near what is live at a cost a station never
/// notices (a little lock contention on allocation). Called first thing in `cli::main`.
pub fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread
    // is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
