//! The tests' side of the test kit (`tests/kit/`): a station on a fresh state directory
//! with three operators, started as the real `returnsd` binary (the kit's [`Daemon`]),
//! driven through its CLI and control socket, its journal read back.
//!
//! It re-exports what nearly every test uses from the kit (`poll`, `request`, `Daemon`,
//! `BIN`), so a test imports its helpers from one place.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::time::Duration;

use serde_json::Value;

pub use crate::kit::control::request;
pub use crate::kit::daemon::{BIN, Daemon, Launch};
pub use crate::kit::poll::{EVERY, poll, poll_within, try_poll};

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

    /// Run a CLI command that must succeed; its standard output.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "returnsd {args:?} failed ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// Start the daemon and wait until its control socket answers a ping.
    pub fn start(&self) -> Daemon {
        Daemon::start(&self.config, &self.socket())
    }

    /// The same with an environment variable set for the daemon (a test hook).
    pub fn start_with_env(&self, key: &str, value: &str) -> Daemon {
        Launch::new(&self.config, &self.socket())
            .env(key, value)
            .start()
    }

    /// Run the daemon expecting it to refuse to start: its exit status and stderr. Panics
    /// if it is still running after 20 s.
    pub fn run_refused(&self) -> (ExitStatus, String) {
        Launch::new(&self.config, &self.socket())
            .refusal(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("the daemon started instead of refusing"))
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

/// The bench's scans that book one unit in: keeper 017 logs in, receives `waybill` as a
/// customer return, unpacks it, counts one unit (6901234560015), records the visual
/// check and books it into pending. The reply to `waybill` (index 1) has the return id.
pub fn book_in_scans(waybill: &str) -> [&str; 7] {
    [
        "OP-017",
        waybill,
        "CMD-KIND-CUSTOMER",
        "CMD-UNPACK",
        "6901234560015",
        "CMD-VIS-OK",
        "Z-PENDING",
    ]
}

/// After a waybill, the scans that take a customer return with its after-sales card to the
/// inspection queue: kind, card, unpack (the label), one unit of 6901234560015, visual
/// OK, pending.
pub const TO_THE_QUEUE: [&str; 6] = [
    "CMD-KIND-CUSTOMER",
    "CMD-CARD-YES",
    "CMD-UNPACK",
    "6901234560015",
    "CMD-VIS-OK",
    "Z-PENDING",
];

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

/// Run an inspection with a photo reference given as `sha:bytes:type` on a fresh return.
pub fn inspect_with_photo(st: &Station, photo: &str) -> std::process::Output {
    let r = scan_ok(
        st,
        &[
            "OP-017",
            "SF1888888888888",
            "CMD-KIND-CUSTOMER",
            "CMD-UNPACK",
            "6901234560015",
            "CMD-DONE",
        ],
    );
    let rid = r[1]["return_id"].as_str().expect("return id").to_string();
    st.cli(&[
        "inspect",
        &rid,
        "--badge",
        "021",
        "--grade",
        "defect",
        "--reason",
        "damaged_casing",
        "--photo",
        photo,
    ])
}

/// `returnsd journal verify` passes: exit 0, `OK`.
pub fn assert_journal_verifies(st: &Station) {
    let out = st.cli(&["journal", "verify"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("OK"),
        "journal verify: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
