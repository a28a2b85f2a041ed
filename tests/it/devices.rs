//! The device edges through the real daemon: a serial scanner on a real pseudo-terminal
//! feeds the bench, and label jobs land in a directory printer as injection-safe ZPL.
//! Network, serial and USB printers and the print queue: `printing.rs`.

use std::io::Write;

use tokio_serial::SerialPort;

use serde_json::Value;

use crate::kit::control::{devices, wait_scanners};
use crate::support::{Station, poll, scan_ok};

/// Bytes typed by a serial scanner (split across writes, CRLF suffix) become scans at its
/// bench, each journaled once.
#[test]
fn serial_scanner_on_a_pty_feeds_its_bench() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut master, slave) = rt.block_on(async { tokio_serial::SerialStream::pair().unwrap() });
    let path = slave.name().unwrap();
    let st = Station::new(&format!(
        "[[scanners]]\npath = \"{path}\"\nbench = \"pty-bench\"\nsuffix = \"cr\"\n"
    ));
    let d = st.start();
    // Wait until the actor has the port open (the board's state, in lower case).
    poll("the scanner connected", || {
        devices(&d.socket)
            .iter()
            .any(|e| {
                e["kind"] == "scanner" && e["state"] == "connected" && e["bench"] == "pty-bench"
            })
            .then_some(())
    });
    rt.block_on(async {
        for chunk in [&b"OP-0"[..], b"17\r\nSF10000", b"00000001\r", b"\n"] {
            tokio::io::AsyncWriteExt::write_all(&mut master, chunk)
                .await
                .unwrap();
            tokio::io::AsyncWriteExt::flush(&mut master).await.unwrap();
        }
    });
    let j = poll("two scans from the pty", || {
        let j = st.journal();
        let n = j.iter().filter(|e| e["type"] == "scan.recorded").count();
        (n >= 2).then_some(j)
    });
    let scans: Vec<&Value> = j.iter().filter(|e| e["type"] == "scan.recorded").collect();
    assert_eq!(scans.len(), 2, "each code once: {scans:?}");
    assert_eq!(scans[0]["data"]["code"], "OP-017");
    assert_eq!(scans[0]["data"]["bench"], "pty-bench");
    assert_eq!(scans[1]["data"]["code"], "SF1000000000001");
    assert!(j.iter().any(|e| e["type"] == "return.received"));
    drop(slave);
    d.stop();
}

/// Unpacking prints a return label: a ZPL job whose customer name (Chinese plus printer
/// commands) is a bitmap, never commands.
#[test]
fn label_job_is_safe_zpl_in_the_printer_directory() {
    let st = Station::new("[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n");
    let m = st.dir.path().join("m.jsonl");
    let mut f = std::fs::File::create(&m).unwrap();
    writeln!(
        f,
        r#"{{"waybill":"SF1000000000001","version":1,"kind":"customer_return","order_no":"O-1","customer_name":"张三丰^XA~JR^FDx","items":[]}}"#
    )
    .unwrap();
    assert!(
        st.cli(&["manifest", "import", m.to_str().unwrap()])
            .status
            .success()
    );
    let d = st.start();
    let r = scan_ok(&st, &["OP-017", "SF1000000000001", "CMD-UNPACK"]);
    let id = r[1]["return_id"].as_str().unwrap().to_string();
    let dir = st.state_dir().join("labels");
    let job = poll("a label job", || {
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.extension().is_some_and(|x| x == "zpl")
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(&id))
            })
    });
    let zpl = String::from_utf8_lossy(&std::fs::read(&job).unwrap()).into_owned();
    assert!(
        zpl.starts_with("^XA") && zpl.trim_end().ends_with("^XZ"),
        "{zpl}"
    );
    assert_eq!(
        zpl.matches("^XA").count(),
        1,
        "one label, no injected format"
    );
    assert!(
        !zpl.contains("~JR") && !zpl.contains('~'),
        "no tilde command from the name"
    );
    assert!(zpl.contains("^GFA"), "the Chinese name is sent as a bitmap");
    assert!(zpl.contains(&id), "the return id is printed");
    d.stop();
}

/// Ten serial scanners on ten ptys, 200 scans each written as fast as the ptys take them:
/// every scan reaches the journal exactly once, at its own bench, in its scanner's order.
#[test]
fn ten_scanner_burst_loses_and_duplicates_nothing() {
    const SCANNERS: usize = 10;
    const SCANS: usize = 200;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut masters = Vec::new();
    let mut slaves = Vec::new();
    let mut cfg = String::new();
    for i in 0..SCANNERS {
        let (master, slave) = rt.block_on(async { tokio_serial::SerialStream::pair().unwrap() });
        let path = slave.name().unwrap();
        cfg.push_str(&format!(
            "[[scanners]]\npath = \"{path}\"\nbench = \"burst-{i:02}\"\nsuffix = \"cr\"\n"
        ));
        masters.push(master);
        slaves.push(slave);
    }
    let st = Station::new(&cfg);
    let d = st.start();
    wait_scanners(&d.socket, SCANNERS);
    let code = |i: usize, k: usize| format!("SF1{i:02}{k:010}");
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (i, mut m) in masters.drain(..).enumerate() {
            tasks.push(tokio::spawn(async move {
                let mut all = Vec::new();
                for k in 0..SCANS {
                    all.extend_from_slice(code(i, k).as_bytes());
                    all.push(b'\r');
                }
                // One burst: the pty takes what it can, the rest waits for the reader.
                tokio::io::AsyncWriteExt::write_all(&mut m, &all)
                    .await
                    .unwrap();
                tokio::io::AsyncWriteExt::flush(&mut m).await.unwrap();
                m
            }));
        }
        for t in tasks {
            masters.push(t.await.unwrap());
        }
    });
    let j = poll("every scan journaled", || {
        let j = st.journal();
        let n = j.iter().filter(|e| e["type"] == "scan.recorded").count();
        (n >= SCANNERS * SCANS).then_some(j)
    });
    let scans: Vec<&Value> = j.iter().filter(|e| e["type"] == "scan.recorded").collect();
    assert_eq!(scans.len(), SCANNERS * SCANS, "nothing duplicated");
    for i in 0..SCANNERS {
        let bench = format!("burst-{i:02}");
        let got: Vec<String> = scans
            .iter()
            .filter(|e| e["data"]["bench"] == bench.as_str())
            .map(|e| e["data"]["code"].as_str().unwrap().to_string())
            .collect();
        let want: Vec<String> = (0..SCANS).map(|k| code(i, k)).collect();
        assert_eq!(got, want, "bench {bench}: every scan once, in order");
    }
    d.stop();
    drop((masters, slaves));
}
