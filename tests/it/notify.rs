//! The daemon under systemd's notify protocol, with a test socket standing in for the
//! service manager: `READY=1` once it takes scans, `WATCHDOG=1` only while the engine and
//! its writer make progress (a wedged writer stops the pings, and they resume when it
//! moves again), `STATUS=` lines saying what is degraded, and on SIGTERM `STOPPING=1`
//! then exit 0 with every acknowledged scan in the journal.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::api_client::{addr, http};
use super::fake_printer::{FakePrinter, Mode};
use super::kit::daemon::Launch;
use super::kit::poll::poll;
use super::support::{Station, scan_ok};

/// What the service manager received, in order.
#[derive(Clone, Default)]
struct Notes(Arc<Mutex<Vec<String>>>);

impl Notes {
    /// Listen on `path` as systemd does (one datagram per notification).
    fn listen(path: &Path) -> Notes {
        let sock = UnixDatagram::bind(path).expect("bind notify socket");
        let notes = Notes::default();
        let keep = notes.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                // One datagram may carry several assignments, one per line.
                let mut v = keep.0.lock().unwrap();
                v.extend(text.lines().map(str::to_string));
            }
        });
        notes
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The index of the first note at or after `from` that `f` accepts.
    fn find(&self, from: usize, f: impl Fn(&str) -> bool) -> Option<usize> {
        self.all()
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, n)| f(n))
            .map(|(i, _)| i)
    }

    /// Wait until a note at or after `from` is accepted by `f`; its index.
    fn wait_for(&self, from: usize, what: &str, f: impl Fn(&str) -> bool) -> usize {
        poll(what, || self.find(from, &f))
    }

    fn pings_after(&self, from: usize) -> usize {
        self.all()
            .iter()
            .skip(from)
            .filter(|n| *n == "WATCHDOG=1")
            .count()
    }
}

#[test]
fn watchdog_pings_only_while_the_writer_moves_and_sigterm_stops_cleanly() {
    let st = Station::new("");
    let notify = st.dir.path().join("notify.sock");
    let wedge = st.dir.path().join("wedge");
    let notes = Notes::listen(&notify);
    let d = Launch::new(&st.config, &st.socket())
        .env("NOTIFY_SOCKET", notify.to_str().unwrap())
        // WatchdogSec=0.4: pings every 200 ms while healthy.
        .env("WATCHDOG_USEC", "400000")
        .env("RETURNSD_TEST_WEDGE_WRITER", wedge.to_str().unwrap())
        .start();

    let ready = notes.wait_for(0, "READY=1", |n| n == "READY=1");
    notes.wait_for(0, "a status line", |n| n.starts_with("STATUS=ready"));
    // Healthy: pings keep coming.
    poll("three watchdog pings", || {
        (notes.pings_after(ready) >= 3).then_some(())
    });
    let waybills: Vec<String> = (1..=20).map(|i| format!("SF91000000{i:05}")).collect();
    let mut codes = vec!["OP-017"];
    for w in &waybills {
        codes.extend([w.as_str(), "CMD-CANCEL"]);
    }
    scan_ok(&st, &codes);

    let a = addr(&d);
    let r = http(&a, "GET", "/readyz", &[], b"");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // The writer wedges (as in a hung fsync): the watchdog says so and stops pinging.
    std::fs::write(&wedge, b"").unwrap();
    let late = notes.wait_for(ready, "the engine-not-answering status", |n| {
        n.starts_with("STATUS=degraded") && n.contains("engine not answering")
    });
    let pings_when_late = notes.pings_after(late);
    // Absence can only be observed over time: ten ping intervals with the writer wedged.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        notes.pings_after(late),
        pings_when_late,
        "no WATCHDOG=1 while the writer is wedged: {:?}",
        &notes.all()[late..]
    );
    assert_eq!(pings_when_late, 0, "{:?}", &notes.all()[late..]);
    // /readyz says so too (without a session).
    let r = http(&a, "GET", "/readyz", &[], b"");
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["reasons"][0], "engine_not_answering");

    // It moves again: pings resume.
    std::fs::remove_file(&wedge).unwrap();
    let resumed = notes.len();
    poll("watchdog pings resume", || {
        (notes.pings_after(resumed) >= 2).then_some(())
    });

    // SIGTERM: STOPPING=1, exit 0, every acknowledged scan kept.
    let before_stop = notes.len();
    let exit = d.terminate();
    assert!(exit.status.success(), "exit {}: {}", exit.status, exit.log);
    assert!(
        notes.find(before_stop, |n| n == "STOPPING=1").is_some(),
        "STOPPING=1 sent: {:?}",
        &notes.all()[before_stop..]
    );
    let received = st.events("return.received");
    for w in &waybills {
        let n = received
            .iter()
            .filter(|e| e["data"]["waybill"] == **w)
            .count();
        assert_eq!(n, 1, "{w} in the journal once");
    }
}

/// `STATUS=` says what is degraded, here a printer reporting paper out.
#[test]
fn status_line_names_a_printer_fault() {
    let p = FakePrinter::tcp(false, Mode::PaperOut);
    let st = Station::new(&format!(
        "[printer]\nkind = \"tcp\"\naddress = \"{}\"\nlanguage = \"zpl\"\nstatus_interval_s = 1\n",
        p.addr.unwrap()
    ));
    let notify = st.dir.path().join("notify.sock");
    let notes = Notes::listen(&notify);
    let d = Launch::new(&st.config, &st.socket())
        .env("NOTIFY_SOCKET", notify.to_str().unwrap())
        .start();
    notes.wait_for(0, "READY=1", |n| n == "READY=1");
    notes.wait_for(0, "a degraded status naming the printer", |n| {
        n.starts_with("STATUS=degraded") && n.contains("printer") && n.contains("paper_out")
    });
    d.stop();
}
