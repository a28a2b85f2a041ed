//! The `returnsd` command line. Daemon: `run`. Operator commands that change state go
//! through the running daemon's control socket (so the engine stays the only writer of
//! events); read-only commands and `manifest import` (with no daemon running) open the
//! database directly, through the store and the views — no SQL here.
//!
//! - [`args`]: what can be typed (clap).
//! - `dispatch`: the binary's edge — one call per command, failures as `returnsd: …`, exit 2.
//! - by command group: `local` (run, check-config, pin-hash, init, photo add, devices,
//!   commands), `live` (ping, devices --live, sync status), `ops` (scan and the operator
//!   commands: exit 0/1/2/3), `reads` (returns, print queue, label preview, journal),
//!   `export`, `import` (manifest import), `backup` (backup and restore).
//! - `render`: how answers, lists, sync status and verification are printed (zh/en).
//! - `setup`: config, runtime, the state directory's lock; `logging`: the daemon's logs
//!   (journal, terminal, plain or JSON lines); `error`: [`CliError`].

mod args;
mod backup;
mod dispatch;
mod error;
mod export;
mod import;
mod live;
mod local;
mod logging;
mod ops;
mod reads;
mod render;
mod setup;

pub use args::{
    BinCmd, Cli, Cmd, ExportFormat, JournalCmd, LabelCmd, ManifestCmd, OperatorCmd, PhotoCmd,
    PrintCmd, ReturnsCmd, SyncCmd,
};
pub use dispatch::main;
pub use error::CliError;
