//! Test support: start the real `returnsd` binary on a fresh state directory, talk to it
//! through its control socket and its CLI, and read its journal.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_returnsd");

/// A station config with three operators and two bins; `extra` is appended verbatim.
pub fn config_text(state_dir: &Path, extra: &str) -> String {
    format!(
        r#"
[station]
id = "ST01"
language = "en"

[storage]
state_dir = "{}"

[scan]
double_read_window_ms = 0

[http]
listen = "127.0.0.1:0"

[[zones.bins]]
code = "A01"
class = "good"

[[operators]]
badge = "017"
name = "Keeper"
roles = ["keeper"]

[[operators]]
badge = "021"
name = "Inspector"
roles = ["inspector"]

[[operators]]
badge = "001"
name = "Supervisor"
roles = ["supervisor", "keeper"]
{extra}
"#,
        state_dir.display()
    )
}

/// A temp directory with a config file in it.
pub struct Station {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Station {
    pub fn new(extra: &str) -> Station {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("station.toml");
        std::fs::write(&config, config_text(&dir.path().join("state"), extra))
            .expect("write config");
        Station { dir, config }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn db(&self) -> PathBuf {
        self.state_dir().join("returnsd.db")
    }

    /// The control socket: `[control] socket` when the config sets one (a state directory
    /// on a test filesystem that cannot hold sockets), else the default in the state dir.
    pub fn socket(&self) -> PathBuf {
        let text = std::fs::read_to_string(&self.config).unwrap_or_default();
        text.split_once("[control]\nsocket = \"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(path, _)| PathBuf::from(path))
            .unwrap_or_else(|| self.state_dir().join("returnsd.sock"))
    }

    /// Run a CLI command against this station's config.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("RETURNSD_LOG")
            .output()
            .expect("run returnsd")
    }

    /// Start the daemon and wait until its control socket answers a ping.
    pub fn start(&self) -> Daemon {
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn daemon");
        let mut child = child;
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(mut e) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                use std::io::Read;
                let mut buf = [0u8; 8192];
                while let Ok(n) = e.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
                    l.extend_from_slice(&buf[..n]);
                    let len = l.len();
                    if len > 64 * 1024 {
                        l.drain(..len - 64 * 1024);
                    }
                }
            });
        }
        let mut d = Daemon {
            child,
            socket: self.socket(),
            log,
        };
        d.wait_ready();
        d
    }

    /// All journal rows, via `returnsd export` (the contract's JSON form).
    pub fn journal(&self) -> Vec<Value> {
        let out = self.cli(&[
            "export",
            "--since",
            "2000-01-01T00:00:00Z",
            "--format",
            "jsonl",
        ]);
        assert!(
            out.status.success(),
            "export failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    /// The journal's events of one type, in seq order.
    pub fn events(&self, ty: &str) -> Vec<Value> {
        self.journal()
            .into_iter()
            .filter(|e| e["type"] == ty)
            .collect()
    }
}

pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    /// The last 64 KiB of the daemon's stderr, read continuously so a chatty daemon never
    /// blocks on a full pipe.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Daemon {
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader thread a moment to collect the last words.
                std::thread::sleep(Duration::from_millis(100));
                let err =
                    String::from_utf8_lossy(&self.log.lock().unwrap_or_else(|p| p.into_inner()))
                        .into_owned();
                panic!("daemon exited early ({status}): {err}");
            }
            if let Ok(v) = request(&self.socket, &serde_json::json!({"op": "ping"}))
                && v["ok"] == Value::Bool(true)
            {
                return;
            }
            assert!(Instant::now() < deadline, "daemon not ready within 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; the exit status and how long the daemon took to exit.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Duration) {
        let t0 = Instant::now();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = poll("the daemon's exit", || self.child.try_wait().ok().flatten());
        (status, t0.elapsed())
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id() as i32;
        // SAFETY-free: plain kill(2) via the `kill` command keeps the tests dependency-free.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "daemon exit status {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request over the control socket (blocking std client).
pub fn request(socket: &Path, req: &Value) -> std::io::Result<Value> {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(format!("{req}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    serde_json::from_str(&line).map_err(|e| std::io::Error::other(e.to_string()))
}

/// Scan through the real CLI; returns the daemon's JSON replies, one per code.
pub fn scan(st: &Station, codes: &[&str]) -> Vec<Value> {
    let mut args = vec!["scan", "--json"];
    args.extend_from_slice(codes);
    let out = st.cli(&args);
    let replies: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("reply json"))
        .collect();
    assert_eq!(
        replies.len(),
        codes.len(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    replies
}

/// Scan and insist every code was accepted.
pub fn scan_ok(st: &Station, codes: &[&str]) -> Vec<Value> {
    let r = scan(st, codes);
    for (c, v) in codes.iter().zip(&r) {
        assert_eq!(v["ok"], Value::Bool(true), "scan {c} refused: {v}");
        assert_eq!(v["stored"], Value::Bool(true), "scan {c} not stored: {v}");
    }
    r
}

/// Drain the daemon's stderr on a thread of its own, so a chatty daemon never blocks on a
/// full pipe; the last 64 KiB are kept and returned by the handle (for diagnostics).
pub fn drain_stderr(d: &mut Daemon) -> std::thread::JoinHandle<String> {
    use std::io::Read;
    let stderr = d.child.stderr.take();
    std::thread::spawn(move || {
        let Some(mut e) = stderr else {
            return String::new();
        };
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = e.read(&mut buf) {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 64 * 1024 {
                tail.drain(..tail.len() - 64 * 1024);
            }
        }
        String::from_utf8_lossy(&tail).into_owned()
    })
}

/// Poll `f` every 20 ms until it gives a value or `limit` passes (then `None`).
pub fn poll_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait for `f` to give a value, polling every 20 ms, for at most 30 s.
pub fn poll<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    poll_for(Duration::from_secs(30), f).unwrap_or_else(|| panic!("timed out waiting for {what}"))
}
