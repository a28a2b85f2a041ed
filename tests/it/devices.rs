//! The device edges through the real daemon: a serial scanner on a real pseudo-terminal
//! feeds the bench, and label jobs land in a directory printer as injection-safe ZPL.

use std::io::Write;

use std::time::{Duration, Instant};
use tokio_serial::SerialPort;

use serde_json::Value;

use crate::support::{Station, scan_ok};

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

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
    // The actor discards input queued before it opened the port: wait until it is open
    // (its own log line; the board logs the state in lower case since the device board).
    poll("the scanner connected", || {
        let log = d.log.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&log)
            .contains("serial scanner connected")
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

/// A raw TCP printer (fake firmware on loopback) receives the ZPL job on port-9100 style
/// socket and is asked `~HS`; its "paper out, paused, ribbon out" answer raises a fault
/// alarm in the log, and a silent printer is reported as unknown, never ok.
#[test]
fn tcp_printer_gets_the_job_and_its_status_is_read() {
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    // A loopback printer: records each connection's bytes; answers ~HS when `answer`.
    let start_printer = |answer: bool| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let jobs: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let rec = jobs.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { return };
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.ends_with(b"~HS") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                if answer {
                    let _ = c.write_all(b"\x02030,1,1,1225,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,1,1,2,6,0,00000100,1,000\x03\r\n\x021234,0\x03\r\n");
                }
                rec.lock().unwrap().push(got);
            }
        });
        (addr, jobs)
    };
    for answer in [true, false] {
        let (addr, jobs) = start_printer(answer);
        let st = Station::new(&format!(
            "[printer]\nkind = \"tcp\"\naddress = \"{addr}\"\nlanguage = \"zpl\"\n"
        ));
        let d = st.start();
        let r = scan_ok(
            &st,
            &[
                "OP-017",
                "SF1000000000001",
                "CMD-KIND-CUSTOMER",
                "CMD-UNPACK",
            ],
        );
        let id = r[1]["return_id"].as_str().unwrap().to_string();
        let job = poll("the job at the printer", || {
            jobs.lock().unwrap().first().cloned()
        });
        let text = String::from_utf8_lossy(&job);
        assert!(
            text.starts_with("^XA") && text.contains(&id) && text.ends_with("~HS"),
            "{text}"
        );
        let expect = if answer {
            "PRINTER FAULT"
        } else {
            "status unknown"
        };
        poll("the printer status in the log", || {
            let log = d.log.lock().unwrap_or_else(|p| p.into_inner());
            let log = String::from_utf8_lossy(&log);
            (log.contains(expect) && (!answer || log.contains("paper_out"))).then_some(())
        });
        d.stop();
    }
}
