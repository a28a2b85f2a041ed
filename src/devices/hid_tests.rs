//! Tests of the HID actor's I/O shell: the same reader the device path uses, fed through a
//! `SOCK_SEQPACKET` socket pair (one message = one report, like hidraw) and through FIFOs
//! standing in for `/dev/hidrawN` in a fake sysfs tree (unplug, replug).

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};

use tokio::time::timeout;

use super::*;
use crate::devices::discover::tests::FakeTree;
use crate::devices::hiddesc::{from_hex, tests::COUNTED};

const T: Duration = Duration::from_secs(5);

/// A 64-byte Honeywell report (notes §1.3.1).
fn report(aim: &[u8; 3], data: &[u8], continued: bool) -> Vec<u8> {
    let mut r = vec![0u8; 64];
    r[0] = 2;
    r[1] = data.len() as u8;
    r[2..5].copy_from_slice(aim);
    r[5..5 + data.len()].copy_from_slice(data);
    r[61] = b'd';
    r[63] = u8::from(continued);
    r
}

/// A 62-byte report of the counted descriptor (continued flag in byte 61).
fn counted(aim: &[u8; 3], data: &[u8], continued: bool) -> Vec<u8> {
    let mut r = report(aim, data, false);
    r.truncate(62);
    r[61] = u8::from(continued);
    r
}

fn seqpacket_pair() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two new descriptors into `fds`, which we then own.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "socketpair: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are open and owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    (File::from(a), File::from(b))
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

fn hidpos_kind() -> HidKind {
    HidKind::HidPos {
        aim: Aim::Keep,
        quiet_gap_ms: None,
        fallback: HidPosLayout::honeywell(),
    }
}

/// Reports over SEQPACKET: a one-report scan, a 3-report continued scan with a stray
/// report between, then an "unplug" (writer closed) in the middle of a scan: the session
/// ends as lost and the half scan is never sent.
#[tokio::test]
async fn seqpacket_reports_become_scans_and_unplug_drops_the_partial() {
    let (reader_end, mut writer) = seqpacket_pair();
    let mut decoder = Decoder::new(&hidpos_kind(), None);
    let reader = ReportReader::new(reader_end, decoder.report_len()).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let (_stop, mut stop_rx) = watch::channel(false);
    let qr: Vec<u8> = (0..120u8).map(|i| b'0' + i % 10).collect();
    for r in [
        report(b"]E0", b"5901234123457", false),
        report(b"]Q3", &qr[..56], true),
        vec![0xFD; 64], // stray vendor report
        report(b"]Q3", &qr[56..112], true),
        report(b"]Q3", &qr[112..], false),
        report(b"]C1", b"0104012345678901", true), // unplugged before the rest
    ] {
        writer.write_all(&r).unwrap();
    }
    drop(writer);
    let end = timeout(
        T,
        read_session(&reader, &mut decoder, "B1", "test", &tx, &mut stop_rx),
    )
    .await
    .expect("session ends on unplug");
    assert!(
        matches!(end, SessionEnd::Lost(ref r) if r.contains("end of file")),
        "{end:?}"
    );
    drop(tx);
    let mut got = Vec::new();
    while let Some((bench, scan)) = rx.recv().await {
        assert_eq!(bench, "B1");
        got.push(scan);
    }
    let mut want_qr = b"]Q3".to_vec();
    want_qr.extend_from_slice(&qr);
    assert_eq!(got, vec![b"]E05901234123457".to_vec(), want_qr]);
}

/// Keyboard-wedge reports (8 bytes, one per message) through the same reader: Shift, GS as
/// Ctrl+], Enter ends the scan.
#[tokio::test]
async fn seqpacket_keyboard_reports_frame_on_enter() {
    let (reader_end, mut writer) = seqpacket_pair();
    let kind = HidKind::Keyboard {
        layout: Layout::us(),
        framer: FramerConfig::default(),
    };
    let mut decoder = Decoder::new(&kind, None);
    let reader = ReportReader::new(reader_end, decoder.report_len()).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let (_stop, mut stop_rx) = watch::channel(false);
    let up = [0u8; 8];
    let k = |m: u8, u: u8| [m, 0, u, 0, 0, 0, 0, 0];
    for r in [
        k(2, 0x16),
        up,
        k(2, 0x09),
        up,
        k(0, 0x1E),
        up,
        k(1, 0x30),
        up,
        k(0, 0x1F),
        up,
        k(0, 0x28),
        up,
    ] {
        writer.write_all(&r).unwrap();
    }
    drop(writer);
    let end = timeout(
        T,
        read_session(&reader, &mut decoder, "B2", "kbd", &tx, &mut stop_rx),
    )
    .await
    .unwrap();
    assert!(matches!(end, SessionEnd::Lost(_)));
    assert_eq!(rx.recv().await, Some(("B2".into(), b"SF1\x1d2".to_vec())));
}

/// Plug in scanner 0c2e:0b8f as `hidraw{n}`: its sysfs entry, then (as the kernel orders
/// it) a FIFO as the node, held open read-write by the test so the actor's reader never
/// sees end of file while it is "plugged".
fn plug(t: &FakeTree, desc: &[u8], n: u32) -> File {
    t.add_hidraw(n, &format!("1-{n}"), 0, 0x0c2e, 0x0b8f, "", desc);
    let p = t.dev().join(format!("hidraw{n}"));
    mkfifo(&p);
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .unwrap()
}

/// The HID POS scanner 0c2e:0b8f in the fake tree, at `bench`, sysfs looked at every `poll`.
fn scanner_0c2e(t: &FakeTree, bench: &str, poll: Duration) -> HidScannerConfig {
    HidScannerConfig {
        bench: bench.into(),
        target: HidTarget {
            vendor_id: Some(0x0c2e),
            product_id: Some(0x0b8f),
            ..Default::default()
        },
        kind: hidpos_kind(),
        roots: t.roots(),
        poll,
    }
}

/// Unplug `hidraw{n}`: out of sysfs and /dev.
fn unplug(t: &FakeTree, n: u32) {
    t.remove_hidraw(n);
    std::fs::remove_file(t.dev().join(format!("hidraw{n}"))).unwrap();
}

/// The actor against a fake sysfs tree (virtual time): absent at start → disconnected "not
/// found"; the node appears → connected and a scan arrives once; unplugged mid-scan →
/// disconnected, the half scan dropped; plugged back → the next scan arrives, nothing twice.
#[tokio::test(start_paused = true)]
async fn actor_follows_hotplug_in_a_fake_tree() {
    let t = FakeTree::new();
    let desc = from_hex(COUNTED).unwrap();
    let cfg = scanner_0c2e(&t, "B3", Duration::from_secs(1));
    assert_eq!(cfg.label(), "0c2e:0b8f");
    let (tx, mut rx) = mpsc::channel(16);
    let (status_tx, mut status) = watch::channel(ScannerStatus::Starting);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run_hid_scanner(cfg, tx, status_tx, stop_rx));

    let st = timeout(
        T,
        status.wait_for(|s| matches!(s, ScannerStatus::Disconnected { .. })),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    assert!(format!("{st:?}").contains("not found"), "{st:?}");

    let plug = |n: u32| plug(&t, &desc, n);
    let mut node = plug(1);
    timeout(T, status.wait_for(ScannerStatus::is_connected))
        .await
        .unwrap()
        .unwrap();
    // The counted descriptor: 62-byte reports.
    node.write_all(&counted(b"]E0", b"5901234123457", false))
        .unwrap();
    let got = timeout(T, rx.recv()).await.unwrap();
    assert_eq!(got, Some(("B3".into(), b"]E05901234123457".to_vec())));

    // Unplug mid-scan: the node leaves sysfs and /dev, the writer closes.
    node.write_all(&counted(b"]Q3", b"HALF", true)).unwrap();
    tokio::task::yield_now().await;
    unplug(&t, 1);
    drop(node);
    let st = timeout(
        T,
        status.wait_for(|s| matches!(s, ScannerStatus::Disconnected { .. })),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    assert!(!task.is_finished(), "keeps running: {st:?}");

    // Replug under a new node number.
    let mut node = plug(2);
    timeout(T, status.wait_for(ScannerStatus::is_connected))
        .await
        .unwrap()
        .unwrap();
    node.write_all(&counted(b"]E0", b"4006381333931", false))
        .unwrap();
    let got = timeout(T, rx.recv()).await.unwrap();
    assert_eq!(got, Some(("B3".into(), b"]E04006381333931".to_vec())));
    assert!(rx.try_recv().is_err(), "the half scan was never delivered");

    stop.send_replace(true);
    timeout(T, task).await.unwrap().unwrap();
    assert_eq!(*status.borrow(), ScannerStatus::Stopped);
}

/// With sysfs polled only once a minute, the node's appearance in the dev directory alone
/// wakes the actor: plugged in after it found nothing, and again after an unplug, the
/// scanner is open within 0.5 s (real time) and its scan arrives.
#[tokio::test]
async fn node_appearing_wakes_the_actor_before_its_poll() {
    const WAKE: Duration = Duration::from_millis(500);
    let t = FakeTree::new();
    let desc = from_hex(COUNTED).unwrap();
    let cfg = scanner_0c2e(&t, "B4", Duration::from_secs(60));
    let (tx, mut rx) = mpsc::channel(16);
    let (status_tx, mut status) = watch::channel(ScannerStatus::Starting);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run_hid_scanner(cfg, tx, status_tx, stop_rx));
    timeout(
        T,
        status.wait_for(|s| matches!(s, ScannerStatus::Disconnected { .. })),
    )
    .await
    .unwrap()
    .unwrap();
    for n in [1, 2] {
        let plugged = Instant::now();
        let mut node = plug(&t, &desc, n);
        timeout(WAKE, status.wait_for(ScannerStatus::is_connected))
            .await
            .unwrap_or_else(|_| panic!("hidraw{n} not opened 0.5 s after it appeared"))
            .unwrap();
        eprintln!("hidraw{n} appeared → opened: {:?}", plugged.elapsed());
        node.write_all(&counted(b"]E0", b"5901234123457", false))
            .unwrap();
        let got = timeout(T, rx.recv()).await.unwrap();
        assert_eq!(got, Some(("B4".into(), b"]E05901234123457".to_vec())));
        unplug(&t, n);
        drop(node);
        timeout(
            T,
            status.wait_for(|s| matches!(s, ScannerStatus::Disconnected { .. })),
        )
        .await
        .unwrap()
        .unwrap();
    }
    stop.send_replace(true);
    timeout(T, task).await.unwrap().unwrap();
}
