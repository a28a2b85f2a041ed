//! A serial scanner unplugged and replugged under the real daemon. The configured path is
//! a symlink, as a `/dev/serial/by-id/…` link is, to a pty playing the scanner: "unplug"
//! removes the link and closes the pty (the daemon's reads fail, as on a real unplug),
//! "replug" opens a new pty and makes the link again — plainly or renamed into place, the
//! way udev does. The journal is read straight from the database (read-only, beside the
//! running daemon), so a scan is timed to the moment it is committed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::kit::control::{devices, wait_scanners};
use crate::kit::pty::{Pty, pty};
use crate::support::{Station, poll, request, try_poll};

/// How often the journal is looked at while a scan is timed.
const LOOK: Duration = Duration::from_millis(2);

/// The promise: a replugged scanner's scan is journaled within this of the replug.
const REPLUG_TO_JOURNALED: Duration = Duration::from_millis(500);

/// The scanner side: a link at the configured path and the pty behind it while plugged.
struct Scanner {
    link: PathBuf,
    pty: Option<Pty>,
}

impl Scanner {
    fn new(link: PathBuf) -> Scanner {
        Scanner { link, pty: None }
    }

    /// Plug in: a new pty, then the link to it (renamed into place from a temporary name
    /// when `rename`). Returns the instant the link stood at the configured path.
    fn plug(&mut self, rename: bool) -> Instant {
        let p = pty();
        if rename {
            let tmp = self.link.with_file_name(".#scanner.tmp");
            std::os::unix::fs::symlink(&p.path, &tmp).expect("temporary link");
            std::fs::rename(&tmp, &self.link).expect("link renamed into place");
        } else {
            std::os::unix::fs::symlink(&p.path, &self.link).expect("link");
        }
        let at = Instant::now();
        self.pty = Some(p);
        at
    }

    /// Unplug: the link goes, then the pty closes.
    fn unplug(&mut self) {
        std::fs::remove_file(&self.link).expect("remove the link");
        self.pty = None;
    }

    /// The scanner reads a code: its bytes and the CR suffix into the pty.
    fn scan(&mut self, code: &str) {
        let p = self.pty.as_mut().expect("plugged");
        p.master
            .write_all(format!("{code}\r").as_bytes())
            .expect("write the scan");
    }
}

/// The journal's scans, read from the database file beside the running daemon.
struct Journal(rusqlite::Connection);

impl Journal {
    fn open(db: &Path) -> Journal {
        let c =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("open the journal read-only");
        Journal(c)
    }

    /// Every `scan.recorded` code at `bench`, in journal order.
    fn codes(&self, bench: &str) -> Vec<String> {
        let mut q = self
            .0
            .prepare_cached(
                "SELECT json_extract(data, '$.code') FROM journal
                 WHERE type = 'scan.recorded' AND json_extract(data, '$.bench') = ?1
                 ORDER BY seq",
            )
            .expect("prepare");
        q.query_map([bench], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// How long after `since` the code `code` was seen journaled at `bench`, looking every
    /// [`LOOK`] for at most 10 s.
    fn wait_for(&self, bench: &str, code: &str, since: Instant) -> Duration {
        try_poll(Duration::from_secs(10), LOOK, || {
            self.codes(bench)
                .iter()
                .any(|c| c == code)
                .then(|| since.elapsed())
        })
        .unwrap_or_else(|| panic!("{code} was not journaled within 10 s"))
    }
}

/// A station with one serial scanner at `bench` whose path is the link `scanner` in the
/// station's directory.
fn station(bench: &str) -> (Station, Scanner) {
    let st = Station::new("");
    let link = st.dir.path().join("scanner");
    std::fs::write(
        &st.config,
        crate::support::config_text(
            &st.state_dir(),
            &format!(
                "[[scanners]]\npath = \"{}\"\nbench = \"{bench}\"\nsuffix = \"cr\"\n",
                link.display()
            ),
        ),
    )
    .expect("write the config");
    (st, Scanner::new(link))
}

/// The scanner's state on the device board.
fn board_state(socket: &Path) -> (String, u64) {
    devices(socket)
        .into_iter()
        .find(|e| e["kind"] == "scanner")
        .map(|e| {
            (
                e["state"].as_str().unwrap_or_default().to_string(),
                e["count"].as_u64().unwrap_or_default(),
            )
        })
        .unwrap_or_default()
}

/// Unplugged for longer than the fallback poll's cap (1 s, so the poll is at its slowest),
/// then replugged: a scan made 0, 150 or 300 ms after the link reappears is journaled
/// within 0.5 s of the replug — the bytes that waited at the port are read, not flushed.
#[test]
fn replugged_scanner_journals_a_scan_within_half_a_second() {
    /// How long the scanner stays unplugged: a scenario's pause, past the poll's 1 s cap.
    const UNPLUGGED: Duration = Duration::from_millis(1500);
    let (st, mut sc) = station("hp");
    sc.plug(false);
    let d = st.start();
    wait_scanners(&d.socket, 1);
    let j = Journal::open(&st.db());
    let mut want = Vec::new();
    for (round, delay_ms) in [0u64, 150, 300, 0].into_iter().enumerate() {
        sc.unplug();
        poll("the scanner disconnected", || {
            (board_state(&d.socket).0 == "disconnected").then_some(())
        });
        std::thread::sleep(UNPLUGGED);
        let replugged = sc.plug(round % 2 == 1);
        // The keeper's pace: the scan comes this long after the replug.
        std::thread::sleep(Duration::from_millis(delay_ms));
        let code = format!("SF1{round:012}");
        sc.scan(&code);
        let took = j.wait_for("hp", &code, replugged);
        eprintln!("replug → journaled: {took:?} (scanned {delay_ms} ms after the replug)");
        assert!(
            took < REPLUG_TO_JOURNALED,
            "round {round}: {code} scanned {delay_ms} ms after the replug was journaled only \
             after {took:?}"
        );
        want.push(code);
    }
    assert_eq!(j.codes("hp"), want, "each scan journaled once, in order");
    d.stop();
}

/// 100 unplug/replug cycles, as fast as they go, with three scans made the moment each
/// replug is in place: every scan made while plugged is journaled exactly once, in order,
/// the board counted each once, and the daemon still answers a scan at once.
#[test]
fn flapping_scanner_journals_every_plugged_scan_once() {
    const CYCLES: usize = 100;
    const PER_PLUG: usize = 3;
    let (st, mut sc) = station("flap");
    let code = |i: usize, k: usize| format!("SF2{i:03}{k:09}");
    sc.plug(false);
    let d = st.start();
    wait_scanners(&d.socket, 1);
    let j = Journal::open(&st.db());
    let mut worst = Duration::ZERO;
    for i in 0..CYCLES {
        if i > 0 {
            sc.unplug();
        }
        let plugged = if i > 0 {
            sc.plug(i % 2 == 1)
        } else {
            Instant::now()
        };
        for k in 0..PER_PLUG {
            sc.scan(&code(i, k));
        }
        // The plug is pulled only once this plug's scans are in: what a keeper does, and
        // what makes "every scan made while plugged" a fixed list.
        worst = worst.max(j.wait_for("flap", &code(i, PER_PLUG - 1), plugged));
    }
    eprintln!("{CYCLES} replugs: the slowest replug → last scan journaled took {worst:?}");
    let want: Vec<String> = (0..CYCLES)
        .flat_map(|i| (0..PER_PLUG).map(move |k| code(i, k)))
        .collect();
    assert_eq!(j.codes("flap"), want, "every scan once, in order");
    let (state, count) = board_state(&d.socket);
    assert_eq!(
        (state.as_str(), count),
        ("connected", (CYCLES * PER_PLUG) as u64),
        "the board counted each scan once"
    );
    let asked = Instant::now();
    let r = request(
        &d.socket,
        &json!({"op": "scan", "bench": "flap", "code": "OP-017"}),
    )
    .expect("the daemon answers");
    assert_eq!(r["stored"], true, "{r}");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "a scan took {:?} after the flapping",
        asked.elapsed()
    );
    d.stop();
}
