//! Device-path benchmark (custom harness): `cargo bench --bench devices`.
//!
//! The real `returnsd` binary (built with the bench profile) on a state directory under
//! `<cwd>/target/` (a real disk, not tmpfs), a serial scanner on a pseudo-terminal and a
//! ZPL label printer on loopback TCP (fake firmware in this process: it answers `~HS` at
//! once as "idle, no fault" and timestamps every complete `^XZ` format).
//!
//! 0. Baselines, same machine, same run: a pty write → read of one scan (the floor of the
//!    scanner side) and a loopback TCP connect + send of one label-sized job (the floor of
//!    the printer side).
//! 1. Scan → label: 1,000 announced parcels whose manifest carries a Chinese customer name
//!    (rendered to a bitmap on the PC for every label). Per parcel the keeper scans the
//!    waybill, then `CMD-UNPACK`; the time from writing `CMD-UNPACK\r` into the pty to the
//!    printer holding the complete label is one sample (pty framing, engine commit with
//!    fsync, the print queue row, CJK rendering, TCP send; since 2026-12-03 the rendered
//!    bytes are kept with the job after the send, not before it).
//!    `CMD-CANCEL` then frees the bench. Parcels are paced (30 ms gaps), as at a bench.
//!    Every label must carry its own return id, once.
//! 2. Burst: 10 ptys, 200 scans each written as fast as the ptys take them; time until all
//!    2,000 are journaled; loss and duplicates counted per bench (must be 0).
//!
//! Target (printed PASS/FAIL): scan → label p99 ≤ 10 ms; burst loses and duplicates
//! nothing. One `BENCH_JSON {…}` line carries every figure.

mod common;
#[path = "../tests/kit/mod.rs"]
mod kit;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{dist, ms, pct};
use kit::control::{request, wait_scanners};
use kit::daemon::{Daemon, Launch};
use kit::poll::try_poll;
use kit::pty::{Pty, pty};

const PARCELS: usize = 1_000;
const BASELINE_N: usize = 1_000;
const BURST_SCANNERS: usize = 10;
const BURST_SCANS: usize = 200;
const TARGET_P99_MS: f64 = 10.0;
/// How often a timed wait looks: it ends a measured interval, so finer than the kit's
/// 20 ms.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// The fake printer: (address, receiver of (arrival instant, label bytes)).
fn fake_printer() -> (String, mpsc::Receiver<(Instant, Vec<u8>)>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            let _ = c.set_nodelay(true);
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16384];
                loop {
                    let n = match c.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    loop {
                        let hs = buf.windows(3).position(|w| w == b"~HS");
                        let xz = buf.windows(3).position(|w| w == b"^XZ");
                        match (hs, xz) {
                            (Some(h), x) if x.is_none_or(|x| h < x) => {
                                buf.drain(..h + 3);
                                let _ = c.write_all(b"\x02030,0,0,1225,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n");
                            }
                            (_, Some(x)) => {
                                let job: Vec<u8> = buf.drain(..x + 3).collect();
                                let _ = tx.send((Instant::now(), job));
                            }
                            _ => break,
                        }
                    }
                }
            });
        }
    });
    (addr, rx)
}

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let cfg = dir.join("station.toml");
    std::fs::write(
        &cfg,
        format!(
            "[station]\nid = \"ST01\"\nlanguage = \"en\"\n\n[storage]\nstate_dir = \"{}\"\n\n[scan]\ndouble_read_window_ms = 0\n\n[http]\nlisten = \"\"\n\n[log]\nlevel = \"warn\"\n\n[[operators]]\nbadge = \"017\"\nname = \"Keeper\"\nroles = [\"keeper\"]\n{extra}",
            dir.join("state").display()
        ),
    )
    .unwrap();
    cfg
}

/// The daemon on `cfg` (its state under `dir/state`), ready; its stderr also in
/// `dir/daemon.stderr`.
fn start(cfg: &Path, dir: &Path) -> Daemon {
    Launch::new(cfg, &dir.join("state/returnsd.sock"))
        .log_to(&dir.join("daemon.stderr"))
        .start()
}

fn journal_scans(cfg: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_returnsd"))
        .arg("--config")
        .arg(cfg)
        .args([
            "export",
            "--since",
            "2000-01-01T00:00:00Z",
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "scan.recorded")
        .collect()
}

fn baselines() -> (Vec<f64>, Vec<f64>) {
    // pty: write one scan at the master, read it whole at the slave.
    let Pty {
        mut master, path, ..
    } = pty();
    let mut s = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    // Raw mode on the slave so reads return as bytes arrive.
    unsafe {
        use std::os::fd::AsRawFd;
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(s.as_raw_fd(), &mut t);
        libc::cfmakeraw(&mut t);
        libc::tcsetattr(s.as_raw_fd(), libc::TCSANOW, &t);
    }
    let mut pty_ms = Vec::with_capacity(BASELINE_N);
    let mut buf = [0u8; 64];
    for i in 0..BASELINE_N {
        let code = format!("SF1{i:012}\r");
        let t0 = Instant::now();
        master.write_all(code.as_bytes()).unwrap();
        let mut got = 0;
        while got < code.len() {
            got += s.read(&mut buf[got..]).unwrap();
        }
        pty_ms.push(ms(t0.elapsed()));
    }
    // TCP: connect + send a label-sized job, received whole by a loopback server.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel::<Instant>();
    const JOB: usize = 6_000;
    std::thread::spawn(move || {
        for c in l.incoming() {
            let mut c = c.unwrap();
            let mut n = 0;
            let mut b = [0u8; 16384];
            while n < JOB {
                match c.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
            }
            let _ = tx.send(Instant::now());
        }
    });
    let job = vec![b'A'; JOB];
    let mut tcp_ms = Vec::with_capacity(BASELINE_N);
    for _ in 0..BASELINE_N {
        let t0 = Instant::now();
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_nodelay(true).unwrap();
        c.write_all(&job).unwrap();
        let t1 = rx.recv().unwrap();
        tcp_ms.push(ms(t1 - t0));
    }
    (pty_ms, tcp_ms)
}

const NAMES: [&str; 8] = [
    "张三丰",
    "李小龙",
    "王五",
    "赵敏",
    "周芷若",
    "欧阳锋",
    "黄蓉",
    "郭靖",
];

fn scan_to_label(base: &Path) -> (Vec<f64>, usize) {
    let dir = base.join("scan-to-label");
    std::fs::create_dir_all(&dir).unwrap();
    let (printer, labels) = fake_printer();
    let Pty {
        mut master,
        path,
        slave: _slave,
    } = pty();
    let cfg = write_config(
        &dir,
        &format!(
            "\n[[scanners]]\npath = \"{path}\"\nbench = \"bench-1\"\nsuffix = \"cr\"\n\n[printer]\nkind = \"tcp\"\naddress = \"{printer}\"\nlanguage = \"zpl\"\nstatus_interval_s = 0\nconfirm_timeout_ms = 1000\n"
        ),
    );
    // The manifest: every parcel announced, with a Chinese customer name.
    let manifest = dir.join("manifest.jsonl");
    let mut m = std::fs::File::create(&manifest).unwrap();
    for i in 0..PARCELS {
        writeln!(
            m,
            "{}",
            json!({"waybill": format!("SF2{i:012}"), "version": 1, "kind": "customer_return",
                   "order_no": format!("SO{i:08}"), "customer_name": format!("{}{}", NAMES[i % NAMES.len()], NAMES[(i / 8) % NAMES.len()]),
                   "items": [{"sku": "SKU-1", "barcode": "6901234560015", "name": "杯子", "qty": 1}]})
        )
        .unwrap();
    }
    drop(m);
    let out = Command::new(env!("CARGO_BIN_EXE_returnsd"))
        .arg("--config")
        .arg(&cfg)
        .args(["manifest", "import", manifest.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = start(&cfg, &dir);
    wait_scanners(&d.socket, 1);
    master.write_all(b"OP-017\r").unwrap();
    try_poll(Duration::from_secs(30), POLL_EVERY, || {
        let v = request(&d.socket, &json!({"op": "ping"})).ok()?;
        (v["scans"].as_u64()? >= 1).then_some(())
    })
    .expect("the keeper's login scan recorded");
    let mut samples = Vec::with_capacity(PARCELS);
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..PARCELS {
        master
            .write_all(format!("SF2{i:012}\r").as_bytes())
            .unwrap();
        std::thread::sleep(Duration::from_millis(30));
        // Labels from an earlier parcel must not be counted for this one.
        while labels.try_recv().is_ok() {}
        let t0 = Instant::now();
        master.write_all(b"CMD-UNPACK\r").unwrap();
        let (t1, job) = labels
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no label for parcel {i}"));
        samples.push(ms(t1 - t0));
        let text = String::from_utf8_lossy(&job);
        // The id's text field (the barcode's field carries subset invocation codes).
        let id = text
            .split("^FDR-ST01-")
            .nth(1)
            .map(|r| r.chars().take(13).collect::<String>())
            .unwrap_or_default();
        assert!(
            text.contains("^GFA"),
            "the Chinese name is rendered as a bitmap"
        );
        ids.insert(id);
        master.write_all(b"CMD-CANCEL\r").unwrap();
        // The pace of a keeper at a bench (the scenario), not a wait.
        std::thread::sleep(Duration::from_millis(30));
    }
    d.stop();
    (samples, ids.len())
}

fn burst(base: &Path) -> (f64, usize, usize, usize) {
    let dir = base.join("burst");
    std::fs::create_dir_all(&dir).unwrap();
    let mut masters = Vec::new();
    let mut slaves = Vec::new();
    let mut extra = String::new();
    for i in 0..BURST_SCANNERS {
        let Pty {
            master: m,
            path,
            slave: s,
        } = pty();
        extra.push_str(&format!(
            "\n[[scanners]]\npath = \"{path}\"\nbench = \"burst-{i:02}\"\nsuffix = \"cr\"\n"
        ));
        masters.push(m);
        slaves.push(s);
    }
    let cfg = write_config(&dir, &extra);
    let d = start(&cfg, &dir);
    wait_scanners(&d.socket, BURST_SCANNERS);
    let code = |i: usize, k: usize| format!("SF1{i:02}{k:010}");
    let t0 = Instant::now();
    let writers: Vec<_> = masters
        .into_iter()
        .enumerate()
        .map(|(i, mut m)| {
            std::thread::spawn(move || {
                let mut all = Vec::new();
                for k in 0..BURST_SCANS {
                    all.extend_from_slice(code(i, k).as_bytes());
                    all.push(b'\r');
                }
                m.write_all(&all).unwrap();
                m
            })
        })
        .collect();
    let masters: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let total = BURST_SCANNERS * BURST_SCANS;
    try_poll(Duration::from_secs(120), POLL_EVERY, || {
        let v = request(&d.socket, &json!({"op": "ping"})).ok()?;
        (v["scans"].as_u64()? >= total as u64).then_some(())
    })
    .expect("all burst scans journaled within 120 s");
    let secs = t0.elapsed().as_secs_f64();
    d.stop();
    let scans = journal_scans(&cfg);
    let mut lost = 0;
    let mut dup = 0;
    for i in 0..BURST_SCANNERS {
        let bench = format!("burst-{i:02}");
        let got: Vec<&str> = scans
            .iter()
            .filter(|e| e["data"]["bench"] == bench.as_str())
            .filter_map(|e| e["data"]["code"].as_str())
            .collect();
        for k in 0..BURST_SCANS {
            let c = code(i, k);
            match got.iter().filter(|g| **g == c).count() {
                0 => lost += 1,
                1 => {}
                n => dup += n - 1,
            }
        }
    }
    drop((masters, slaves));
    (total as f64 / secs, scans.len(), lost, dup)
}

fn main() {
    let base = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("bench-devices-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    println!("returnsd device-path benchmark");
    println!("daemon   : {}", env!("CARGO_BIN_EXE_returnsd"));
    println!("work dir : {}", base.display());
    let (pty_ms, tcp_ms) = baselines();
    let (p50, p99, _) = pct(&pty_ms);
    println!("baseline : pty write → read of one scan    p50 {p50:.3} ms  p99 {p99:.3} ms");
    let (t50, t99, _) = pct(&tcp_ms);
    println!("baseline : TCP connect + 6 kB job received p50 {t50:.3} ms  p99 {t99:.3} ms");
    let (samples, distinct) = scan_to_label(&base);
    let (s50, s99, smax) = pct(&samples);
    let pass = s99 <= TARGET_P99_MS && distinct == PARCELS;
    println!(
        "scan → label ({} parcels, CJK names): p50 {s50:.3} ms  p99 {s99:.3} ms  max {smax:.3} ms  distinct labels {distinct}  target p99 ≤ {TARGET_P99_MS} ms: {}",
        samples.len(),
        if pass { "PASS" } else { "FAIL" }
    );
    let (rate, journaled, lost, dup) = burst(&base);
    let burst_ok = lost == 0 && dup == 0 && journaled == BURST_SCANNERS * BURST_SCANS;
    println!(
        "burst    : {BURST_SCANNERS} ptys × {BURST_SCANS} scans: {journaled} journaled, lost {lost}, duplicated {dup}, {rate:.0} scans/s: {}",
        if burst_ok { "PASS" } else { "FAIL" }
    );
    let out = json!({
        "baseline_pty": dist(&pty_ms),
        "baseline_tcp_job": dist(&tcp_ms),
        "scan_to_label": dist(&samples),
        "scan_to_label_distinct_labels": distinct,
        "scan_to_label_pass": pass,
        "burst": {"scanners": BURST_SCANNERS, "scans_each": BURST_SCANS, "journaled": journaled,
                  "lost": lost, "duplicated": dup, "scans_per_s": rate.round(), "pass": burst_ok},
    });
    println!("BENCH_JSON {out}");
    let _ = std::fs::remove_dir_all(&base);
}
