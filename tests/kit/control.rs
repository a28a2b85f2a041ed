//! The daemon's control socket (JSON lines over a Unix socket, `src/control/`) as a
//! client sees it: one request per connection, or a kept connection for many.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::poll::poll;

/// How long a request may wait for its answer: a commit with fsync on a loaded machine
/// takes milliseconds; this only bounds a daemon that hangs.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// One request on a connection of its own.
pub fn request(socket: &Path, req: &Value) -> std::io::Result<Value> {
    Ctl::new(socket.to_path_buf()).request(req)
}

/// The device board (the `devices` op): every scanner and printer with its state; empty
/// while the daemon does not answer.
pub fn devices(socket: &Path) -> Vec<Value> {
    request(socket, &json!({"op": "devices"}))
        .ok()
        .and_then(|v| v["devices"].as_array().cloned())
        .unwrap_or_default()
}

/// Wait until `n` scanners are connected. A scanner actor discards what was typed before
/// it opened its port, so a test or bench types only after this.
pub fn wait_scanners(socket: &Path, n: usize) {
    poll(&format!("{n} scanners connected"), || {
        let connected = devices(socket)
            .iter()
            .filter(|e| e["kind"] == "scanner" && e["state"] == "connected")
            .count();
        (connected == n).then_some(())
    });
}

/// A control-socket client that keeps its connection (the daemon serves many requests per
/// connection), reconnecting on the next request after a failure.
pub struct Ctl {
    socket: PathBuf,
    conn: Option<(UnixStream, BufReader<UnixStream>)>,
}

impl Ctl {
    pub fn new(socket: PathBuf) -> Ctl {
        Ctl { socket, conn: None }
    }

    /// One request and its answer. `Err` when the daemon could not be reached or hung up:
    /// then nothing was acknowledged.
    pub fn request(&mut self, req: &Value) -> std::io::Result<Value> {
        let r = self.try_request(req);
        if r.is_err() {
            self.conn = None;
        }
        r
    }

    /// One scan on `bench`.
    pub fn scan(&mut self, bench: &str, code: &str) -> std::io::Result<Value> {
        self.request(&json!({"op": "scan", "bench": bench, "code": code}))
    }

    fn try_request(&mut self, req: &Value) -> std::io::Result<Value> {
        if self.conn.is_none() {
            let s = UnixStream::connect(&self.socket)?;
            s.set_read_timeout(Some(ANSWER_WITHIN))?;
            let r = BufReader::new(s.try_clone()?);
            self.conn = Some((s, r));
        }
        let Some((w, r)) = self.conn.as_mut() else {
            unreachable!("connected above");
        };
        w.write_all(format!("{req}\n").as_bytes())?;
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("daemon hung up"));
        }
        serde_json::from_str(&line).map_err(|e| std::io::Error::other(e.to_string()))
    }
}
