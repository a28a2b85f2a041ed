//! The test kit: what the integration tests (`tests/it/`) and the benches (`benches/`)
//! share, as source files both include (`#[path = "../tests/kit/mod.rs"] mod kit;` in a
//! bench, `#[path = "../kit/mod.rs"] mod kit;` in `tests/it/main.rs`), since a bench cannot
//! `use` the test binary's modules.
//!
//! - [`poll`]: the one wait-with-a-deadline loop (`poll`, `poll_within`, `try_poll`).
//! - [`daemon`]: the one daemon starter (`Launch`, `Daemon`: ready on ping, stderr kept,
//!   SIGTERM/SIGKILL).
//! - [`control`]: the one control-socket client (`request`, kept-alive `Ctl`).
//! - [`http`]: the one HTTP/1.1 client (`http`, `exchange`, kept-alive `Conn`, `Resp`).
//! - [`central`]: the one central double, faithful to `shared/spec/central-sync.md`.
//! - [`pty`]: a pseudo-terminal pair for serial devices.
//! - [`codes`]: codes to scan (valid EAN-13s).
//!
//! What only the tests need (a station config with operators, scans through the CLI, API
//! sessions) lives in `tests/it/support.rs` and `tests/it/api_client.rs`, built on this.

// Each test target and bench includes all of the kit and uses a part of it.
#![allow(dead_code)]

pub mod central;
pub mod codes;
pub mod control;
pub mod daemon;
pub mod http;
pub mod poll;
pub mod pty;
