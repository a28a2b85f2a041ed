//! The CLI's side of the control socket: send one request, read one answer; and, for a
//! request that carries a `request_id`, ask again after a lost answer. What went wrong is
//! told apart: nothing was sent ([`RequestError::Unreachable`]), or the request may have
//! been carried out ([`RequestError::Unconfirmed`]).

use std::path::Path;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The daemon could not be reached: nothing was sent, nothing was done.
    Unreachable(String),
    /// The request may have reached the daemon, but no answer came back: it may or may
    /// not have been carried out.
    Unconfirmed(String),
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Unreachable(e) | RequestError::Unconfirmed(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for RequestError {}

/// Client side: send one request and read one reply.
pub async fn request(socket: &Path, req: &Value) -> Result<Value, RequestError> {
    let stream = UnixStream::connect(socket).await.map_err(|e| {
        RequestError::Unreachable(format!(
            "cannot reach the daemon at {}: {e}. Is `returnsd run` running with this config?",
            socket.display()
        ))
    })?;
    let unconfirmed = |what: String| {
        RequestError::Unconfirmed(format!(
            "{what}: the daemon may have stopped; the request is not confirmed"
        ))
    };
    let (r, mut w) = stream.into_split();
    w.write_all(format!("{req}\n").as_bytes())
        .await
        .map_err(|e| unconfirmed(format!("write to daemon: {e}")))?;
    let mut reader = BufReader::new(r);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .await
        .map_err(|e| unconfirmed(format!("read from daemon: {e}")))?;
    if line.is_empty() {
        return Err(unconfirmed(
            "the daemon closed the connection without answering".to_string(),
        ));
    }
    serde_json::from_str(&line)
        .map_err(|e| unconfirmed(format!("the daemon's reply is not JSON: {e}")))
}

/// [`request`] for a request that carries a `request_id`: when the answer is lost (the
/// daemon stopped or restarted meanwhile), send it again — the daemon answers a request
/// id it has seen with the answer it gave — until `retry_for` has passed. A daemon that
/// could not be reached at the first try was never sent anything.
pub async fn request_retrying(
    socket: &Path,
    req: &Value,
    retry_for: std::time::Duration,
) -> Result<Value, RequestError> {
    let deadline = tokio::time::Instant::now() + retry_for;
    let mut sent = false;
    loop {
        match request(socket, req).await {
            Ok(v) => return Ok(v),
            Err(RequestError::Unreachable(e)) if !sent => {
                return Err(RequestError::Unreachable(e));
            }
            Err(e) => {
                sent = true;
                if tokio::time::Instant::now() >= deadline {
                    return Err(RequestError::Unconfirmed(e.to_string()));
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
