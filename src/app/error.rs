//! Why the daemon could not start. Each message names the file, socket or key to look at;
//! the texts are the ones operators have always seen (printed with their causes by the
//! binary).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::engine::StartError;
use crate::store::StoreError;

/// A start that failed before the daemon was ready; nothing was served.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The state directory cannot be created.
    #[error("{}: cannot create the state directory: {error}", path.display())]
    StateDir {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Another daemon (or `journal rebuild`, `init`) holds the state directory.
    #[error(transparent)]
    Locked(StoreError),
    /// The engine could not start: the database is damaged, missing, or another station's.
    #[error(transparent)]
    Engine(#[from] StartError),
    /// The control socket is answered by another daemon, or cannot be bound.
    #[error("{0}")]
    Control(String),
    /// `http.listen` cannot be bound (the port is in use, the address is not this host's).
    #[error("http.listen {addr}: cannot listen: {error}")]
    HttpListen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// `http.tls`: the certificate cannot be loaded or made.
    #[error("{0}")]
    Tls(String),
}
