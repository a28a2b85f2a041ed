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
    let benches: Vec<String> = (0..SCANNERS).map(|i| format!("burst-{i:02}")).collect();
    let (rt, mut masters, slaves, cfg) = pty_scanners(&benches, String::new());
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

/// Two benches burst 400 scans each (batch-upload scanners) while the writer is held, so
/// every scan is waiting at once; released, the engine shares each group commit between
/// them: while both still have scans waiting, no batch-sized run of one bench's scans
/// shuts the other out (group commit of 32 here: a run is at most half a batch, plus one
/// across a batch boundary). Each bench's scans keep their order, once each.
#[test]
fn two_bursting_benches_share_every_group_commit() {
    const SCANS: usize = 400;
    const BATCH: usize = 32;
    let (rt, mut masters, slaves, cfg) = pty_scanners(
        &["bench-a".into(), "bench-b".into()],
        format!("[engine]\ngroup_commit_max = {BATCH}\n"),
    );
    let st = Station::new(&cfg);
    let wedge = st.dir.path().join("wedge");
    let d = st.start_with_env("RETURNSD_TEST_WEDGE_WRITER", wedge.to_str().unwrap());
    wait_scanners(&d.socket, 2);
    let addr = crate::api_client::addr(&d);
    let waiting = || {
        let text = crate::api_client::http(&addr, "GET", "/metrics", &[], b"").text();
        crate::metrics::metric(&text, "returnsd_engine_inputs_waiting") as usize
    };
    std::fs::write(&wedge, b"").unwrap();
    let code = |b: usize, k: usize| format!("SF9{b}{k:011}");
    rt.block_on(async {
        for (b, m) in masters.iter_mut().enumerate() {
            let mut all = Vec::new();
            for k in 0..SCANS {
                all.extend_from_slice(code(b, k).as_bytes());
                all.push(b'\r');
            }
            tokio::io::AsyncWriteExt::write_all(m, &all).await.unwrap();
            tokio::io::AsyncWriteExt::flush(m).await.unwrap();
        }
    });
    // Every scan has reached the engine (the first batch is held by the wedge).
    poll("both bursts waiting for the engine", || {
        (waiting() >= 2 * SCANS).then_some(())
    });
    std::fs::remove_file(&wedge).unwrap();
    let j = poll("every scan journaled", || {
        let j = st.journal();
        let n = j.iter().filter(|e| e["type"] == "scan.recorded").count();
        (n >= 2 * SCANS).then_some(j)
    });
    let benches: Vec<usize> = j
        .iter()
        .filter(|e| e["type"] == "scan.recorded")
        .map(|e| {
            let code = e["data"]["code"].as_str().unwrap();
            usize::from(code.as_bytes()[3] - b'0')
        })
        .collect();
    assert_eq!(benches.len(), 2 * SCANS, "nothing duplicated");
    for b in 0..2 {
        let got: Vec<String> = j
            .iter()
            .filter(|e| e["type"] == "scan.recorded")
            .filter(|e| e["data"]["bench"] == format!("bench-{}", ["a", "b"][b]).as_str())
            .map(|e| e["data"]["code"].as_str().unwrap().to_string())
            .collect();
        let want: Vec<String> = (0..SCANS).map(|k| code(b, k)).collect();
        assert_eq!(got, want, "bench {b}: every scan once, in order");
    }
    // The held first batch may be one bench's alone; after it, runs stay short while the
    // other bench still has scans to commit.
    let mut run = 0;
    let mut left = [SCANS, SCANS];
    for (i, &b) in benches.iter().enumerate() {
        run = if i > BATCH && benches[i - 1] == b {
            run + 1
        } else {
            1
        };
        left[b] -= 1;
        if i >= BATCH && left[1 - b] > 0 {
            assert!(
                run <= BATCH / 2 + 1,
                "bench {b} ran {run} scans in a row at position {i} while the other waited"
            );
        }
    }
    d.stop();
    drop((masters, slaves));
}

/// One serial scanner on a fresh pty per bench: the runtime that owns the ptys, their
/// master ends (the test types into them), the slave ends (kept open) and `cfg` with a
/// `[[scanners]]` table for each.
#[allow(clippy::type_complexity)]
fn pty_scanners(
    benches: &[String],
    mut cfg: String,
) -> (
    tokio::runtime::Runtime,
    Vec<tokio_serial::SerialStream>,
    Vec<tokio_serial::SerialStream>,
    String,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut masters = Vec::new();
    let mut slaves = Vec::new();
    for bench in benches {
        let (master, slave) = rt.block_on(async { tokio_serial::SerialStream::pair().unwrap() });
        let path = slave.name().unwrap();
        cfg.push_str(&format!(
            "[[scanners]]\npath = \"{path}\"\nbench = \"{bench}\"\nsuffix = \"cr\"\n"
        ));
        masters.push(master);
        slaves.push(slave);
    }
    (rt, masters, slaves, cfg)
}

/// A serial scanner streaming noise at full speed (a bad cable, a scanner in a loop) does
/// not cost anything else: another bench's scans are each journaled once, codes that the
/// noisy scanner itself sends between bursts come through once each, the daemon answers
/// the API all along (its p99 printed), and the noise makes no record but refused scans.
#[test]
fn a_scanner_streaming_noise_loses_nothing_and_the_api_answers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    const CODES: u64 = 60;
    let noisy = crate::kit::pty::pty();
    let clean = crate::kit::pty::pty();
    let st = crate::api_client::station("");
    let mut text = std::fs::read_to_string(&st.config).unwrap();
    for (p, bench) in [(&noisy, "noisy"), (&clean, "clean")] {
        text.push_str(&format!(
            "\n[[scanners]]\npath = \"{}\"\nbench = \"{bench}\"\nsuffix = \"cr\"\n",
            p.path
        ));
    }
    std::fs::write(&st.config, text).unwrap();
    let d = st.start();
    wait_scanners(&d.socket, 2);
    let addr = crate::api_client::addr(&d);
    let keeper = crate::api_client::login(&addr, "017", "1111");
    let done = std::sync::Arc::new(AtomicBool::new(false));
    // The noise: pseudo-random bytes (CR, NUL, control codes and high bytes included) as
    // fast as the pty takes them; after each 64 KiB, a CR and a real code.
    let noise = {
        let (mut m, done) = (noisy.master.try_clone().unwrap(), done.clone());
        std::thread::spawn(move || {
            let (mut x, mut bytes, mut k) = (0x9e37_79b9_7f4a_7c15_u64, 0u64, 0u64);
            let mut buf = vec![0u8; 4096];
            while !done.load(Ordering::SeqCst) || k < CODES {
                for b in buf.iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = x as u8;
                }
                m.write_all(&buf).unwrap();
                bytes += buf.len() as u64;
                if bytes % 65_536 == 0 && k < CODES {
                    m.write_all(format!("\rSF3{k:012}\r").as_bytes()).unwrap();
                    k += 1;
                }
            }
            bytes
        })
    };
    // The clean bench: a keeper's scans, one at a time.
    let mut clean_m = clean.master.try_clone().unwrap();
    let mut api_ms = Vec::new();
    for k in 0..CODES {
        clean_m
            .write_all(format!("SF4{k:012}\r").as_bytes())
            .unwrap();
        let t = std::time::Instant::now();
        let r = crate::api_client::get(&addr, &keeper, "/api/v1/returns?limit=20");
        api_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(r.status, 200, "the API answers under the noise");
    }
    poll("every clean scan journaled", || {
        let n = st
            .journal()
            .iter()
            .filter(|e| e["type"] == "scan.recorded" && e["data"]["bench"] == "clean")
            .count();
        (n as u64 >= CODES).then_some(())
    });
    done.store(true, Ordering::SeqCst);
    let noise_bytes = noise.join().unwrap();
    let journal = poll("every code the noisy scanner sent journaled", || {
        let j = st.journal();
        let n = (0..CODES)
            .filter(|k| {
                let code = format!("SF3{k:012}");
                j.iter().any(|e| e["data"]["code"] == code.as_str())
            })
            .count();
        (n as u64 == CODES).then_some(j)
    });
    let codes: Vec<&str> = journal
        .iter()
        .filter(|e| e["type"] == "scan.recorded")
        .filter_map(|e| e["data"]["code"].as_str())
        .collect();
    for k in 0..CODES {
        for code in [format!("SF3{k:012}"), format!("SF4{k:012}")] {
            let n = codes.iter().filter(|c| **c == code).count();
            assert_eq!(n, 1, "{code} journaled {n} times");
        }
    }
    // No one is logged in at either bench: the noise made no record but refused scans.
    assert!(
        journal
            .iter()
            .all(|e| e["type"] == "scan.recorded" || e["data"]["bench"] != "noisy"),
        "the noise made only scan records"
    );
    let noisy_scans = journal
        .iter()
        .filter(|e| e["type"] == "scan.recorded" && e["data"]["bench"] == "noisy")
        .count();
    api_ms.sort_by(f64::total_cmp);
    eprintln!(
        "noise: {noise_bytes} bytes; {noisy_scans} scans journaled at the noisy bench; API p50 {:.2} ms, p99 {:.2} ms over {} calls",
        api_ms[api_ms.len() / 2],
        api_ms[(api_ms.len() * 99 / 100).min(api_ms.len() - 1)],
        api_ms.len()
    );
    d.stop();
}
