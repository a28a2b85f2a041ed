//! The local control socket: a Unix socket carrying one JSON request per line and one JSON
//! reply per line. `returnsd scan` and the other operator CLI commands talk to the running
//! daemon through it; a keyboard-only bench can feed it too. Access is by file permission
//! (0660): whoever may open the socket acts on the station's floor PC.
//!
//! - [`server`]: binding the socket, accepting connections, reading request lines.
//! - [`ops`]: what each request does (`ping`, `scan`, `sync_status`, `devices`,
//!   `manifest_import`, the operator commands) and its JSON answer.
//! - [`client`]: the other side, for the CLI: one request, one answer, asked again with
//!   the same request id when the answer is lost.

mod client;
mod ops;
mod server;

pub use client::{RequestError, request, request_retrying};
pub use ops::{ControlCtx, reply_json};
pub use server::{MAX_LINE, bind, serve};
