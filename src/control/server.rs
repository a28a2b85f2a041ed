//! The daemon's side of the control socket: bind it (refusing a socket another daemon
//! answers on), accept connections until the shutdown future resolves, read one request
//! line at a time and write its answer.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::ops::{ControlCtx, bad_request, handle};

/// Longest request line accepted (a part of a manifest file is the largest request).
pub const MAX_LINE: u64 = 4 * 1024 * 1024;

/// Bind the control socket. Refuses to start when another daemon is listening on it.
pub async fn bind(path: &Path) -> Result<UnixListener, String> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(format!(
                "{}: another returnsd is already running on this socket",
                path.display()
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("{}: cannot remove the stale socket: {e}", path.display()))?;
    }
    let l =
        UnixListener::bind(path).map_err(|e| format!("{}: cannot bind: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("{}: cannot set permissions: {e}", path.display()))?;
    Ok(l)
}

/// Serve connections until `shutdown` resolves.
pub async fn serve(
    listener: UnixListener,
    ctx: ControlCtx,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let ctx = ctx.clone();
                    tokio::spawn(async move {
                        if let Err(e) = connection(stream, ctx).await {
                            tracing::debug!(error = %e, "control connection ended");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "control socket accept failed"),
            }
        }
    }
}

async fn connection(stream: UnixStream, ctx: ControlCtx) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let reply = if line.last() != Some(&b'\n') && n as u64 >= MAX_LINE {
            let v = bad_request(format!("request longer than {MAX_LINE} bytes"));
            w.write_all(format!("{v}\n").as_bytes()).await?;
            return Ok(());
        } else {
            match serde_json::from_slice::<Value>(&line) {
                Ok(req) => handle(&ctx, &req).await,
                Err(e) => bad_request(format!("not JSON: {e}")),
            }
        };
        w.write_all(format!("{reply}\n").as_bytes()).await?;
    }
}
