//! HID scanners through the real binary, on a fake sysfs/dev tree: `returnsd devices` finds
//! a HID POS scanner and prints its profile and a snippet `check-config` accepts; the
//! daemon configured with that snippet reads hidraw reports (a FIFO stands in for
//! `/dev/hidraw0`) and each scan reaches the journal exactly once.

use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::kit::control;
use crate::support::{BIN, Station, poll, request};

/// The Honeywell-style "counted" descriptor (notes §1.3.2): 62-byte reports, report id 2,
/// byte count at 1, AIM at 2..4, data at 5..60, continued flag in byte 61 bit 0.
const COUNTED: &str = "05 8C 09 02 A1 01 85 02 09 12 A1 02 15 00 26 FF 00 75 08 95 01 05 01 09 3B 81 02 95 03 05 8C \
    09 FB 09 FC 09 FD 81 02 95 38 09 FE 82 02 01 25 01 75 01 95 01 09 FF 81 02 75 07 81 03 C0 C0";

/// A fake tree with one Honeywell HID POS scanner (0c2e:0b8f, serial 17001) on hidraw0;
/// the node itself is a FIFO.
fn fake_tree(root: &Path) -> (PathBuf, PathBuf) {
    let sys = root.join("sys");
    let dev = root.join("dev");
    let usb = sys.join("devices/pci0000:00/usb1/1-2");
    let hid = usb.join("1-2:1.0/0003:0C2E:0B8F.0001");
    let node = hid.join("hidraw/hidraw0");
    std::fs::create_dir_all(&node).unwrap();
    std::fs::create_dir_all(sys.join("class/hidraw")).unwrap();
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::write(usb.join("idVendor"), "0c2e\n").unwrap();
    std::fs::write(usb.join("idProduct"), "0b8f\n").unwrap();
    std::fs::write(
        hid.join("uevent"),
        "HID_ID=0003:00000C2E:00000B8F\nHID_NAME=Honeywell Imaging & Mobility 1950g\nHID_UNIQ=17001\n",
    )
    .unwrap();
    let desc: Vec<u8> = COUNTED
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    std::fs::write(hid.join("report_descriptor"), desc).unwrap();
    symlink("../..", node.join("device")).unwrap();
    plug(&sys, &dev);
    (sys, dev)
}

/// The class link and the device node appear (a FIFO held open read-write by the test, so
/// the daemon's reader never sees end of file while we are "plugged in").
fn plug(sys: &Path, dev: &Path) -> std::fs::File {
    symlink(
        "../../devices/pci0000:00/usb1/1-2/1-2:1.0/0003:0C2E:0B8F.0001/hidraw/hidraw0",
        sys.join("class/hidraw/hidraw0"),
    )
    .unwrap();
    let fifo = std::ffi::CString::new(dev.join("hidraw0").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev.join("hidraw0"))
        .unwrap()
}

/// The node leaves sysfs and /dev, and its writer closes (the reader sees end of file).
fn unplug(sys: &Path, dev: &Path, node: std::fs::File) {
    std::fs::remove_file(sys.join("class/hidraw/hidraw0")).unwrap();
    std::fs::remove_file(dev.join("hidraw0")).unwrap();
    drop(node);
}

fn report(aim: &[u8; 3], data: &[u8], continued: bool) -> Vec<u8> {
    let mut r = vec![0u8; 62];
    r[0] = 2;
    r[1] = data.len() as u8;
    r[2..5].copy_from_slice(aim);
    r[5..5 + data.len()].copy_from_slice(data);
    r[61] = u8::from(continued);
    r
}

fn devices(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("devices")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `[[scanners]]` snippet `returnsd devices --json` printed for the HID device.
fn snippet(sys: &Path, dev: &Path) -> String {
    let out = devices(&[
        "--json",
        "--sysfs",
        sys.to_str().unwrap(),
        "--dev",
        dev.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["hid"][0]["snippet"]
        .as_str()
        .expect("a snippet")
        .to_string()
}

/// `returnsd devices` on a fake tree: the device, its usage page and profile, and a snippet
/// `check-config` accepts; on an empty tree it says so plainly.
#[test]
fn devices_lists_the_fake_scanner_with_a_valid_snippet() {
    let dir = tempfile::tempdir().unwrap();
    let (sys, dev) = fake_tree(dir.path());
    let text = devices(&[
        "--sysfs",
        sys.to_str().unwrap(),
        "--dev",
        dev.to_str().unwrap(),
    ]);
    for want in [
        "hidraw0",
        "0c2e:0b8f",
        "HID POS scanner (usage page 0x8C)",
        "profile  honeywell-hidpos",
        "[[scanners]]",
        "serial_number = \"17001\"",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    let st = Station::new(&snippet(&sys, &dev));
    let out = st.cli(&["check-config"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let empty = tempfile::tempdir().unwrap();
    let e = empty.path().to_str().unwrap();
    assert!(devices(&["--sysfs", e, "--dev", e]).starts_with("No scanners found"));
}

/// The daemon with a `transport = "hidpos"` scanner on the fake tree: a one-report badge
/// and a waybill split over two reports (continued flag) are journaled once each, at the
/// scanner's bench, and counted on the device board. Unplugged mid-scan, the scanner is
/// `disconnected` with a reason while the daemon keeps answering; plugged back, it is read
/// again, and the interrupted half scan never reaches the journal.
#[test]
fn hidpos_reports_reach_the_journal_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (sys, dev) = fake_tree(dir.path());
    let cfg = snippet(&sys, &dev).replace("bench-1", "hid-bench");
    assert!(cfg.contains("transport = \"hidpos\""), "{cfg}");
    // fake_tree() made the node; hold it open read-write like plug() does.
    let mut node = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev.join("hidraw0"))
        .unwrap();
    let st = Station::new(&cfg);
    let d = st.start();
    let scanner = |d: &crate::support::Daemon| {
        control::devices(&d.socket)
            .into_iter()
            .find(|e| e["transport"] == "hidpos")
    };
    poll("the HID scanner connected", || {
        scanner(&d).filter(|e| e["state"] == "connected")
    });
    node.write_all(&report(b"\0\0\0", b"OP-017", false))
        .unwrap();
    node.write_all(&report(b"]C0", b"SF10000", true)).unwrap();
    node.write_all(&report(b"]C0", b"00000001", false)).unwrap();
    node.flush().unwrap();
    let j = poll("two scans from the HID scanner", || {
        let j = st.journal();
        let n = j.iter().filter(|e| e["type"] == "scan.recorded").count();
        (n >= 2).then_some(j)
    });
    let scans: Vec<&Value> = j.iter().filter(|e| e["type"] == "scan.recorded").collect();
    assert_eq!(scans.len(), 2, "each scan once: {scans:?}");
    assert_eq!(scans[0]["data"]["code"], "OP-017");
    assert_eq!(scans[0]["data"]["bench"], "hid-bench");
    let waybill = scans[1]["data"]["code"].as_str().unwrap();
    assert!(waybill.ends_with("SF1000000000001"), "{waybill}");
    assert!(j.iter().any(|e| e["type"] == "return.received"), "{j:?}");
    let e = poll("both scans counted", || {
        scanner(&d).filter(|e| e["count"] == 2)
    });
    assert_eq!(e["path"], "0c2e:0b8f:17001");

    // Unplug in the middle of a two-report scan.
    node.write_all(&report(b"]C0", b"SF20000", true)).unwrap();
    unplug(&sys, &dev, node);
    let e = poll("the scanner disconnected", || {
        scanner(&d).filter(|e| e["state"] == "disconnected")
    });
    assert!(
        e["detail"].as_str().is_some_and(|r| !r.is_empty()),
        "a reason: {e}"
    );
    assert_eq!(
        request(&d.socket, &json!({"op": "ping"})).unwrap()["ok"],
        true
    );

    // Plug back: read again; the half scan was dropped, not delivered.
    let mut node = plug(&sys, &dev);
    poll("the scanner reconnected", || {
        scanner(&d).filter(|e| e["state"] == "connected")
    });
    node.write_all(&report(b"]C0", b"CMD-KIND-CUSTOMER", false))
        .unwrap();
    let j = poll("the scan after the replug", || {
        let j = st.journal();
        let n = j.iter().filter(|e| e["type"] == "scan.recorded").count();
        (n >= 3).then_some(j)
    });
    let codes: Vec<&str> = j
        .iter()
        .filter(|e| e["type"] == "scan.recorded")
        .filter_map(|e| e["data"]["code"].as_str())
        .collect();
    assert_eq!(codes.len(), 3, "{codes:?}");
    assert!(codes[2].ends_with("CMD-KIND-CUSTOMER"), "{codes:?}");
    assert!(
        !codes.iter().any(|c| c.contains("SF2")),
        "no half scan: {codes:?}"
    );
    drop(node);
    d.stop();
}
