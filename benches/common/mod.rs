//! What the benchmarks that drive the real `returnsd` binary share: percentiles, the
//! `BENCH_JSON` distribution form, waiting with a deadline, and one control-socket request.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// (p50, p99, max) of samples in milliseconds (nearest rank).
pub fn pct(ms: &[f64]) -> (f64, f64, f64) {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.5), at(0.99), *v.last().unwrap_or(&f64::NAN))
}

/// `{n, p50_ms, p99_ms, max_ms}`, rounded to microseconds.
pub fn dist(ms: &[f64]) -> Value {
    let (p50, p99, max) = pct(ms);
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({"n": ms.len(), "p50_ms": r(p50), "p99_ms": r(p99), "max_ms": r(max)})
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Call `f` until it yields a value; panic naming `what` after `limit`.
pub fn poll<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One JSON-lines request on the daemon's control socket.
pub fn request(socket: &Path, req: &Value) -> std::io::Result<Value> {
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.write_all(format!("{req}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    serde_json::from_str(&line).map_err(|e| std::io::Error::other(e.to_string()))
}

/// The real `returnsd` binary running on a config; stopped by SIGTERM when dropped (killed
/// if it has not stopped after 20 s).
pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
    }
}

/// Start the daemon on `cfg` (its state under `dir/state`) and wait for its control
/// socket to answer a ping; its stderr goes to `dir/daemon.stderr`.
pub fn start(cfg: &Path, dir: &Path) -> Daemon {
    let err = std::fs::File::create(dir.join("daemon.stderr")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_returnsd"))
        .arg("--config")
        .arg(cfg)
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("spawn returnsd");
    let socket = dir.join("state/returnsd.sock");
    poll("the daemon", Duration::from_secs(60), || {
        request(&socket, &json!({"op": "ping"}))
            .ok()
            .filter(|v| v["ok"] == true)
    });
    Daemon { child, socket }
}
