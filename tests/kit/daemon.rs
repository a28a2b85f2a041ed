//! The real `returnsd` binary as a child process: started on a config, ready when its
//! control socket answers a ping, its stderr collected, stopped by SIGTERM or SIGKILL.
//!
//! This is the one daemon starter of the tests and the benches (zero2prod's `spawn_app()`:
//! the whole application, a fresh state per test). Tests reach it through
//! `support::Station::start`; benches that write their own config call [`Launch`].

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::control::request;
use super::poll::{EVERY, PATIENCE, try_poll};

/// The daemon binary Cargo built for this test or bench target.
pub const BIN: &str = env!("CARGO_BIN_EXE_returnsd");

/// How much of the daemon's stderr is kept in memory (its tail): enough for every log
/// line a test looks for, bounded for a chatty bench run.
const LOG_TAIL: usize = 64 * 1024;

/// How `returnsd run` is started; [`Launch::start`] waits until it is ready.
pub struct Launch {
    cmd: Command,
    socket: PathBuf,
    log_file: Option<PathBuf>,
    /// The read end of a pipe made here for stderr ([`Launch::journal_stream`]), instead
    /// of the one `Command` makes.
    stderr: Option<std::io::PipeReader>,
}

impl Launch {
    /// `returnsd --config <config> run`, ready when `socket` answers a ping.
    pub fn new(config: &Path, socket: &Path) -> Launch {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config")
            .arg(config)
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        Launch {
            cmd,
            socket: socket.to_path_buf(),
            log_file: None,
            stderr: None,
        }
    }

    /// Make the daemon's stderr look like systemd's journal stream: a pipe of our own,
    /// named by `JOURNAL_STREAM=<device>:<inode>` as systemd names the journal's stream
    /// for a service whose output goes there.
    pub fn journal_stream(mut self) -> Launch {
        use std::os::unix::fs::MetadataExt;
        let (reader, writer) = std::io::pipe().expect("pipe");
        let writer = File::from(std::os::fd::OwnedFd::from(writer));
        let m = writer.metadata().expect("fstat of the pipe");
        self.cmd
            .env("JOURNAL_STREAM", format!("{}:{}", m.dev(), m.ino()))
            .stderr(Stdio::from(writer));
        self.stderr = Some(reader);
        self
    }

    /// Set an environment variable for the daemon.
    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.cmd.env(key, value);
        self
    }

    /// Remove an environment variable (e.g. `RETURNSD_LOG`, so the config's level holds).
    pub fn env_remove(mut self, key: &str) -> Launch {
        self.cmd.env_remove(key);
        self
    }

    /// Also write the whole of stderr to this file (a bench's log of a long run; only the
    /// tail is kept in memory).
    pub fn log_to(mut self, path: &Path) -> Launch {
        self.log_file = Some(path.to_path_buf());
        self
    }

    /// Spawn the daemon without waiting for it to be ready.
    pub fn spawn(mut self) -> Daemon {
        let mut child = self.cmd.spawn().expect("spawn returnsd");
        // Our copy of a pipe's write end goes with the command, so the reader sees the end
        // of the log when the daemon exits.
        drop(self.cmd);
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr: Box<dyn Read + Send> = match self.stderr.take() {
            Some(pipe) => Box::new(pipe),
            None => Box::new(child.stderr.take().expect("piped stderr")),
        };
        let file = self
            .log_file
            .map(|p| File::create(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
        let reader = {
            let log = log.clone();
            std::thread::spawn(move || collect(stderr, &log, file))
        };
        Daemon {
            child,
            socket: self.socket,
            log,
            reader: Some(reader),
        }
    }

    /// Spawn a daemon that is expected to refuse to start: its exit status and whole
    /// stderr, or `None` if it is still running after `limit` (it is killed then).
    pub fn refusal(self, limit: Duration) -> Option<(ExitStatus, String)> {
        let mut d = self.spawn();
        let status = d.wait_exit(limit)?;
        Some((status, d.finish_log()))
    }

    /// Spawn the daemon and wait (30 s at most) until it answers a ping; panics with its
    /// stderr if it exits first.
    pub fn start(self) -> Daemon {
        let mut d = self.spawn();
        if let Err(e) = d.wait_ready(PATIENCE) {
            panic!("{e}");
        }
        d
    }
}

/// Read the daemon's stderr until it closes (the daemon exited): keep the last
/// [`LOG_TAIL`] bytes in `log`, and everything in `file` if there is one. Reading
/// continuously means a chatty daemon never blocks on a full pipe.
fn collect(mut stderr: impl Read, log: &Mutex<Vec<u8>>, mut file: Option<File>) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Some(f) = &mut file {
            let _ = f.write_all(&buf[..n]);
        }
        let mut l = log.lock().unwrap_or_else(|p| p.into_inner());
        l.extend_from_slice(&buf[..n]);
        let len = l.len();
        if len > LOG_TAIL {
            l.drain(..len - LOG_TAIL);
        }
    }
}

/// A running `returnsd`. Dropping it kills the process (SIGKILL); [`Daemon::stop`] and
/// [`Daemon::terminate`] end it the way systemd does.
pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    /// The last 64 KiB of the daemon's stderr, read continuously by `reader`.
    log: Arc<Mutex<Vec<u8>>>,
    /// The thread filling `log`; it ends when the daemon has exited and its stderr is
    /// drained, so joining it is the signal that the log is complete.
    reader: Option<JoinHandle<()>>,
}

/// How a daemon ended after SIGTERM.
pub struct Exit {
    pub status: ExitStatus,
    /// From SIGTERM to the exit.
    pub took: Duration,
    /// The tail of its stderr, complete to the last line.
    pub log: String,
}

impl Daemon {
    /// Start `returnsd run` on `config` and wait until `socket` answers a ping.
    pub fn start(config: &Path, socket: &Path) -> Daemon {
        Launch::new(config, socket).start()
    }

    /// Wait at most `limit` until the control socket answers a ping. `Err` (naming the
    /// exit status and the daemon's last words) if it exits first or is not ready in time.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let ping = json!({"op": "ping"});
        let ready = try_poll(limit, EVERY, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(Err(status));
            }
            request(&self.socket, &ping)
                .ok()
                .filter(|v| v["ok"] == Value::Bool(true))
                .map(|_| Ok(()))
        });
        match ready {
            Some(Ok(())) => Ok(()),
            Some(Err(status)) => Err(format!(
                "daemon exited early ({status}): {}",
                self.finish_log()
            )),
            None => Err(format!(
                "daemon not ready within {limit:?}: {}",
                self.log_text()
            )),
        }
    }

    /// What the daemon has written to stderr so far (its last 64 KiB).
    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// The log once the daemon has exited: waits for the reader to drain the pipe (and to
    /// finish the `log_to` file), then the tail.
    pub fn finish_log(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log_text()
    }

    /// Send SIGTERM (what systemd sends), without waiting.
    pub fn sigterm(&self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
    }

    /// Wait at most `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        try_poll(limit, EVERY, || self.child.try_wait().ok().flatten())
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (30 s at most) for the exit; panics if the daemon does not stop.
    pub fn terminate(mut self) -> Exit {
        let t0 = Instant::now();
        self.sigterm();
        let Some(status) = self.wait_exit(PATIENCE) else {
            panic!("daemon did not stop within {PATIENCE:?} of SIGTERM");
        };
        let took = t0.elapsed();
        Exit {
            status,
            took,
            log: self.finish_log(),
        }
    }

    /// SIGTERM and insist on a clean exit; the whole log tail.
    pub fn stop(self) -> String {
        let exit = self.terminate();
        assert!(exit.status.success(), "daemon exit status {}", exit.status);
        exit.log
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`): a daemon's memory as the
/// benches and the soak sample it.
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| {
        v.trim_start_matches(':')
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}
