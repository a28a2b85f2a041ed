//! One writer: every write to the station database goes through the engine. `manifest
//! import` beside a running daemon is applied by the daemon's engine in its group commit,
//! between scans (before, it opened a second writer and failed with "database is locked"
//! within milliseconds while the bench scanned).

use serde_json::json;

use crate::support::{Station, request};

/// A 3,000-return CSV imported while a bench scans: the import reports every return
/// stored and the rejected line by number, every scan meanwhile is stored (none refused,
/// none NOT SAVED), and the daemon then receives a parcel of the file as announced.
#[test]
fn a_large_manifest_imports_through_the_daemon_while_scans_stream() {
    let st = Station::new("");
    let d = st.start();
    request(&d.socket, &json!({"op": "scan", "code": "OP-017"})).unwrap();
    let mut csv = String::from(
        "waybill,version,kind,order_no,customer_name,customer_phone_tail,signed_at,claimed_reason,free_shipping,sku,barcode,name,qty\n",
    );
    for i in 0..3000 {
        csv.push_str(&format!(
            "SF{:013},1,customer_return,O-{i},张三,1234,,quality,true,SKU-{i},,Kettle,1\n",
            3_000_000_000_000_i64 + i
        ));
    }
    csv.push_str("SF2999999999999,x,customer_return,O-X,,,,,,SKU-X,,Bad,1\n");
    let file = st.dir.path().join("returns-log.csv");
    std::fs::write(&file, csv).unwrap();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let streamer = {
        let stop = stop.clone();
        let socket = d.socket.clone();
        std::thread::spawn(move || {
            let mut replies = Vec::new();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 20 {
                let code = format!("YT{:013}", 1_000_000_000_000_u64 + n);
                for c in [code.as_str(), "CMD-CANCEL"] {
                    replies.push(request(&socket, &json!({"op": "scan", "code": c})).unwrap());
                }
                n += 1;
            }
            replies
        })
    };
    let out = st.cli(&["manifest", "import", file.to_str().unwrap()]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let replies = streamer.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a rejected line makes the import exit 1: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("3000 stored, 0 deleted, 0 unchanged") && text.contains("1 rejected"),
        "{text}"
    );
    assert!(text.contains("line 3002"), "names the bad line: {text}");
    for r in &replies {
        assert_eq!(
            r["stored"], true,
            "every scan beside the import is stored: {r}"
        );
    }
    let r = request(&d.socket, &json!({"op": "scan", "code": "SF3000000002999"})).unwrap();
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        r["params"]["order_no"], "O-2999",
        "the file's data is in use: {r}"
    );
    // The other command that rewrites the database refuses beside the daemon.
    let out = st.cli(&["journal", "rebuild"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("PID {}", d.child.id())), "{err}");
    d.stop();
}
