//! The operator API's live and heavy edges through the real binary: the server-sent event
//! stream, photo upload (location stripped), slow clients against the connection cap and
//! idle timeout, and the `[http]` config checks.

use std::time::Duration;

use serde_json::json;

use crate::api::{CUSTOMER, manifest};
use crate::api_client::{Sess, addr, get, http, login, post, station};
use crate::kit::http::{exchange, read_until};
use crate::support::{EVERY, poll, scan_ok, try_poll};

/// The station named as another machine (or a DNS rebinding) would name it.
const ELSEWHERE: &str = "station.example:8470";

fn read_until_end(s: &mut std::net::TcpStream, seen: &mut String) {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            return;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// The kiosk's event stream (cookie session, as EventSource sends it): a hello, then every
/// committed journal event with its seq and no customer fields; SIGTERM ends an open
/// stream at once.
#[test]
fn event_stream_carries_journal_events() {
    use std::io::Write;
    let st = station("");
    manifest(&st);
    let d = st.start();
    let a = addr(&d);
    let s = login(&a, "017", "1111");
    let mut c = std::net::TcpStream::connect(&a).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        c,
        "GET /api/v1/events HTTP/1.1\r\nHost: {a}\r\nCookie: {}\r\nAccept: text/event-stream\r\n\r\n",
        s.cookie()
    )
    .unwrap();
    let mut seen = String::new();
    read_until(&mut c, &mut seen, "event: hello");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains("text/event-stream"), "{seen}");
    scan_ok(&st, &["OP-017", "SF1000000000001"]);
    read_until(&mut c, &mut seen, "return.received");
    assert!(seen.contains("event: journal"), "{seen}");
    assert!(seen.contains("\"type\":\"operator.logged_in\""), "{seen}");
    assert!(!seen.contains(CUSTOMER));
    // Without a session only the bench PC's own kiosk may listen: a request naming the
    // station by another name (another machine, or DNS rebinding) is refused.
    let other = std::net::TcpStream::connect(&a).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let refused = exchange(other, ELSEWHERE, "GET", "/api/v1/events", &[], b"");
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert!(
        refused.text().contains("\"unauthorized\""),
        "{}",
        refused.text()
    );
    // SIGTERM ends the stream (the last chunk, then the connection closes) at once.
    let t = std::time::Instant::now();
    let waiter = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
        read_until_end(&mut c, &mut rest);
        (std::time::Instant::now(), rest)
    });
    d.stop();
    let (ended, rest) = waiter.join().unwrap();
    assert!(ended - t < Duration::from_secs(3), "{:?}", ended - t);
    assert!(rest.ends_with("0\r\n\r\n"), "{rest:?}");
}

/// Away from the bench PC (another Host, as a supervisor's desk reaches the station) the
/// kiosk's snapshot needs a logged-in operator; with one it answers.
#[test]
fn kiosk_snapshot_elsewhere_needs_a_session() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    let s = login(&a, "017", "1111");
    let get = |auth: Option<String>| {
        let c = std::net::TcpStream::connect(&a).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let headers: Vec<(&str, &str)> = auth.iter().map(|h| ("Authorization", &**h)).collect();
        let path = "/api/v1/kiosk/state?bench=bench-1";
        exchange(c, ELSEWHERE, "GET", path, &headers, b"")
    };
    let anonymous = get(None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    assert!(
        anonymous.text().contains("login_required"),
        "{}",
        anonymous.text()
    );
    let operator = get(Some(s.bearer()));
    assert_eq!(operator.status, 200, "{}", operator.text());
    assert!(operator.text().contains("\"bench\""), "{}", operator.text());
    d.stop();
}

/// A JPEG whose EXIF carries a GPS latitude (31°14'42.42"), as a phone camera writes it.
pub fn jpeg_with_gps() -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&0x8825u16.to_le_bytes());
    t.extend_from_slice(&4u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&26u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&2u16.to_le_bytes()); // GPSLatitude, RATIONAL x3 at 44
    t.extend_from_slice(&5u16.to_le_bytes());
    t.extend_from_slice(&3u32.to_le_bytes());
    t.extend_from_slice(&44u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    for v in [31u32, 1, 14, 1, 424_242, 10_000] {
        t.extend_from_slice(&v.to_le_bytes());
    }
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xE1];
    j.extend_from_slice(&((t.len() + 8) as u16).to_be_bytes());
    j.extend_from_slice(b"Exif\0\0");
    j.extend_from_slice(&t);
    j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02]);
    j.extend((0..4000u32).map(|i| (i % 200) as u8));
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

/// Photo upload: raw JPEG from an inspector, sniffed, its GPS removed, stored by hash,
/// served back, and usable by a defect inspection; wrong types, sizes, roles and hashes
/// are refused.
#[test]
fn photo_upload_strips_location_and_feeds_inspection() {
    let st = station("photo_max_mib = 1");
    manifest(&st);
    let d = st.start();
    let a = addr(&d);
    scan_ok(
        &st,
        &[
            "OP-017",
            "SF1000000000001",
            "CMD-CARD-YES",
            "CMD-UNPACK",
            "6901234560015",
            "CMD-VIS-OK",
            "Z-PENDING",
        ],
    );
    let rid = st
        .journal()
        .iter()
        .find(|e| e["type"] == "return.received")
        .and_then(|e| e["return_id"].as_str().map(str::to_string))
        .unwrap();
    let keeper = login(&a, "017", "1111");
    let inspector = login(&a, "021", "2222");
    let up = |s: &Sess, ct: &str, body: &[u8]| {
        http(
            &a,
            "POST",
            "/api/v1/photos",
            &[("Authorization", &s.bearer()), ("Content-Type", ct)],
            body,
        )
    };
    let jpeg = jpeg_with_gps();
    let r = up(&inspector, "image/jpeg", &jpeg);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let sha = v["sha256"].as_str().unwrap().to_string();
    assert_eq!(v["content_type"], "image/jpeg");
    assert_eq!(v["bytes"].as_u64().unwrap() as usize, jpeg.len());
    let got = get(&a, &keeper, &format!("/api/v1/photos/{sha}"));
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type").as_deref(), Some("image/jpeg"));
    assert_eq!(got.body.len(), jpeg.len());
    assert!(!got.body.windows(4).any(|w| w == 424_242u32.to_le_bytes()));
    assert!(got.body.ends_with(&jpeg[jpeg.len() - 100..]));

    assert_eq!(up(&keeper, "image/jpeg", &jpeg).status, 403);
    for (ct, body) in [
        ("image/png", jpeg.as_slice()),
        ("image/gif", b"GIF89a....".as_slice()),
        ("text/plain", b"hello".as_slice()),
        ("multipart/form-data; boundary=x", jpeg.as_slice()),
    ] {
        let r = up(&inspector, ct, body);
        assert_eq!(r.status, 415, "{ct}");
        assert_eq!(r.json()["error"], "unsupported_image");
    }
    let mut big = jpeg.clone();
    big.resize(1536 * 1024, 0);
    assert_eq!(up(&inspector, "image/jpeg", &big).status, 413);
    let broken = b"\xFF\xD8\xFF\xE1\xFF\xF0Exif";
    assert_eq!(
        up(&inspector, "image/jpeg", broken).json()["error"],
        "bad_image"
    );
    for bad in ["../../etc/passwd", "ABC", &sha.to_uppercase()] {
        let r = get(&a, &keeper, &format!("/api/v1/photos/{bad}"));
        assert!([400, 404].contains(&r.status), "{bad}: {}", r.status);
    }
    let missing = "0".repeat(64);
    assert_eq!(
        get(&a, &keeper, &format!("/api/v1/photos/{missing}")).status,
        404
    );

    let r = post(
        &a,
        &inspector,
        &format!("/api/v1/returns/{rid}/inspect"),
        &json!({"grade": "defect", "defect_reasons": ["damaged_casing"], "photos": [sha]}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let detail = get(&a, &keeper, &format!("/api/v1/returns/{rid}")).json();
    assert_eq!(detail["photos"][0]["sha256"], json!(sha));
}

/// Slow clients cannot hold the station: with two connections allowed, two clients that
/// drip half a request line block a third only until the idle timeout closes them.
#[test]
fn slow_clients_are_cut_off() {
    use std::io::{Read, Write};
    let st = station("max_connections = 2\nidle_timeout_s = 5");
    let d = st.start();
    let a = addr(&d);
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut s = std::net::TcpStream::connect(&a).unwrap();
        s.write_all(b"GET /api/v1/me HTTP/1.1\r\nHo").unwrap();
        slow.push(s);
    }
    // No wait needed for the two to take the slots: their handshakes completed before this
    // client connects, and the kernel hands connections to accept() in that order.
    let t = std::time::Instant::now();
    let r = http(&a, "GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 256];
        // Closed by the station: end of file or a reset, never an answer.
        match s.read(&mut buf) {
            Ok(n) => assert_eq!(n, 0, "{}", String::from_utf8_lossy(&buf[..n])),
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "still open"),
        }
    }
}

/// The new `[http]` keys are range-checked by `check-config`, naming file and key.
#[test]
fn http_config_keys_are_checked() {
    for (extra, key) in [
        ("session_idle_s = 0", "http.session_idle_s"),
        (
            "session_idle_s = 5\nsession_idle_min = 5",
            "http.session_idle_s",
        ),
        ("lockout_after = 0", "http.lockout_after"),
        ("max_concurrent = 0", "http.max_concurrent"),
        ("idle_timeout_s = 1", "http.idle_timeout_s"),
        ("photo_max_mib = 11", "http.photo_max_mib"),
        ("request_timeout_s = 0", "http.request_timeout_s"),
    ] {
        let st = station(extra);
        let out = st.cli(&["check-config"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra}: {err}");
        assert!(
            err.contains("station.toml") && err.contains(key),
            "{extra}: {err}"
        );
    }
    let out = station("session_idle_min = 5\nsecure_cookie = true").cli(&["check-config"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The concurrency cap and the request timeout: a client that stalls in its body holds
/// the only request slot (others get `503 busy`) until the timeout answers it
/// `503 timeout`; then the station serves again.
#[test]
fn request_cap_and_timeout() {
    use std::io::{Read, Write};
    let st = station("max_concurrent = 1\nrequest_timeout_s = 2");
    let d = st.start();
    let a = addr(&d);
    // Ready when the stalled request holds the only slot. Until the station has read its
    // head a probe still gets through (200); a probe that takes the slot first makes the
    // stall the refused one, and then another stall is started. Once a stall holds the
    // slot, the next probe is refused: that refusal must be `busy`.
    let (mut stall, t, r) = poll("a stalled request to hold the slot", || {
        let mut stall = std::net::TcpStream::connect(&a).unwrap();
        write!(
            stall,
            "POST /api/v1/session HTTP/1.1\r\nHost: {a}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"badge\":"
        )
        .unwrap();
        let t = std::time::Instant::now();
        let r = try_poll(Duration::from_secs(1), EVERY, || {
            let r = http(&a, "GET", "/api/v1/openapi.json", &[], b"");
            (r.status != 200).then_some(r)
        })?;
        Some((stall, t, r))
    });
    assert_eq!((r.status, r.json()["error"].clone()), (503, json!("busy")));
    stall
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&out).contains("timeout") {
        let n = stall.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(1800), "{waited:?}");
    assert!(waited < Duration::from_secs(8), "{waited:?}");
    let r = http(&a, "GET", "/api/v1/openapi.json", &[], b"");
    assert_eq!(r.status, 200);
}
