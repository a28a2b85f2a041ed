//! The supervisor's page (`GET /supervisor`) in a real headless Chromium against the real
//! daemon: a keeper is refused; a supervisor sees the stock per zone, creates a
//! return-to-vendor note over an item in the defect zone (note number and print job state
//! shown), reprints a label with a reason and voids a return after the confirm step; the
//! journal holds each command. Screenshots of both languages land in `target/screenshots/`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::api_client::{addr, http, station};
use crate::browser::Browser;
use crate::support::{Daemon, Station, scan_ok};

const ENTER: &str = "\u{E007}";

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
}

fn cli_ok(st: &Station, args: &[&str]) {
    let out = st.cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A station (PINs from `api_client::station`, labels to a directory, defects without a
/// photo) with one return whose item is in the defect zone and one only unpacked.
fn with_defect() -> (Station, Daemon, String, String, String) {
    let st = station("");
    let mut text = std::fs::read_to_string(&st.config).unwrap();
    text.push_str(
        "\n[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n\n[inspection]\ndefect_photo_required = false\n",
    );
    std::fs::write(&st.config, text).unwrap();
    let d = st.start();
    let a = addr(&d);
    let mut ids = Vec::new();
    for waybill in ["SF1000000000008", "SF1000000000009"] {
        let r = scan_ok(&st, &["OP-017", waybill, "CMD-KIND-CUSTOMER", "CMD-UNPACK"]);
        ids.push(r[1]["return_id"].as_str().unwrap().to_string());
        if ids.len() == 1 {
            scan_ok(&st, &["6901234560015", "CMD-VIS-OK", "Z-PENDING"]);
        }
    }
    let defect = ids[0].clone();
    cli_ok(
        &st,
        &[
            "inspect",
            &defect,
            "--badge",
            "021",
            "--grade",
            "defect",
            "--reason",
            "damaged_casing",
        ],
    );
    cli_ok(
        &st,
        &["put-away", &defect, "--badge", "021", "--zone", "Z-DEFECT"],
    );
    let other = ids[1].clone();
    (st, d, a, defect, other)
}

fn login(b: &Browser, a: &str, badge: &str, pin: &str) {
    b.goto(&format!("http://{a}/supervisor"));
    b.wait_js("login view", "document.body.dataset.view === 'v-login'");
    b.send_keys("#badge", &format!("{badge}{ENTER}"));
    b.send_keys("#pin", &format!("{pin}{ENTER}"));
}

fn events(st: &Station, ty: &str) -> Vec<Value> {
    st.journal()
        .into_iter()
        .filter(|e| e["type"] == ty)
        .collect()
}

/// A keeper logs in and is refused, in words of the page's language; nothing of the
/// panels is shown. The page and its files carry the strict CSP.
#[test]
fn supervisor_page_refuses_a_keeper() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    for path in [
        "/supervisor",
        "/assets/supervisor.js",
        "/assets/supervisor.css",
    ] {
        let r = http(&a, "GET", path, &[], b"");
        assert_eq!(r.status, 200, "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
    }
    // The kiosk's footer links here.
    let kiosk = http(&a, "GET", "/kiosk", &[], b"");
    assert_eq!(kiosk.status, 200);
    assert!(String::from_utf8_lossy(&kiosk.body).contains("href=\"/supervisor\""));
    let b = Browser::start_with(360, 780, true);
    login(&b, &a, "017", "1111");
    b.wait_js("denied view", "document.body.dataset.view === 'v-denied'");
    b.wait_text("#denied", |t| {
        t == "017 is not a supervisor: this page is for supervisors only"
    });
    assert_eq!(
        b.script("return document.getElementById('v-main').hidden;"),
        true
    );
    b.click("#lang");
    b.wait_text("#denied", |t| t == "017 不是主管:此页面仅限主管使用");
    drop(b);
    d.stop();
}

/// The supervisor's four panels: stock per zone, an RTV note over the defect item (its
/// number and print job state shown, `rtv.note_created` journaled), a reprint with a
/// reason (`label.printed`, reason reprint) and a void after the confirm step
/// (`return.voided`); screenshots in both languages, desktop and 360 px.
#[test]
fn supervisor_page_runs_rtv_reprint_and_void() {
    let (st, d, a, defect, other) = with_defect();
    let b = Browser::start(1280, 900);
    login(&b, &a, "OP-001", "3333");
    b.wait_js("main view", "document.body.dataset.view === 'v-main'");
    b.wait_text("#who", |t| t == "001");

    // Stock per zone, from GET /zones.
    b.wait_text("#stock tr[data-zone='defect'] .zone", |t| {
        t == "Defect zone"
    });
    b.wait_text("#stock tr[data-zone='defect'] .num", |t| t == "1");

    // RTV note over the defect item.
    let item = format!("{defect}.1");
    let row = format!("#defects li[data-ref='{item}']");
    b.wait_text(&format!("{row} .ref"), |t| t == item);
    b.click("#rtv-btn");
    b.wait_text("#msg", |t| t == "Select at least one item");
    b.click(&format!("{row} input"));
    b.click("#rtv-btn");
    b.wait_text("#msg", |t| t == "Enter the vendor");
    b.send_keys("#vendor", "ACME");
    b.click("#rtv-btn");
    let created = poll(|| events(&st, "rtv.note_created").into_iter().next());
    let note_no = created["data"]["note_no"].as_str().unwrap().to_string();
    b.wait_text("#rtv-note", |t| t == format!("Note number: {note_no}"));
    b.wait_text("#rtv-job", |t| t == "Printing: printed");
    b.wait_js(
        "defect list empty",
        "!document.getElementById('no-defects').hidden",
    );
    b.wait_text("#stock tr[data-zone='vendor'] .num", |t| t == "1");

    // Reprint with a reason.
    b.send_keys("#reprint-id", &other);
    b.click("#reprint-btn");
    b.wait_text("#msg", |t| t == "Enter a reason");
    b.send_keys("#reprint-reason", "label smudged");
    b.click("#reprint-btn");
    b.wait_text("#reprint-result", |t| {
        t == format!("Reprinting label {other}")
    });
    let reprints: Vec<Value> = events(&st, "label.printed")
        .into_iter()
        .filter(|e| e["return_id"] == other.as_str() && e["data"]["reason"] == "reprint")
        .collect();
    assert_eq!(reprints.len(), 1, "{reprints:?}");

    // Void: asks first; cancel leaves it, confirm voids.
    b.send_keys("#void-id", &other);
    b.send_keys("#void-reason", "duplicate parcel");
    b.click("#void-btn");
    b.wait_text("#void-question", |t| {
        t == format!("Void {other}? Reason: duplicate parcel. This cannot be undone")
    });
    b.click("#void-no");
    b.wait_js(
        "confirm closed",
        "document.getElementById('void-confirm').hidden",
    );
    assert!(events(&st, "return.voided").is_empty());
    b.click("#void-btn");
    b.wait_js(
        "confirm open",
        "!document.getElementById('void-confirm').hidden",
    );
    b.script("window.scrollTo(0, 0); return true;");
    b.screenshot(&screenshots().join("supervisor-en.png"));
    b.click("#void-yes");
    b.wait_text("#void-result", |t| t == format!("Return {other} voided"));
    let voided = events(&st, "return.voided");
    assert_eq!(voided.len(), 1, "{voided:?}");
    assert_eq!(voided[0]["return_id"], other.as_str());

    // Chinese: every word switches, the results too.
    b.click("#lang");
    b.wait_text("#rtv-note", |t| t == format!("退厂单号:{note_no}"));
    b.wait_text("#rtv-job", |t| t == "打印:已打印");
    b.wait_text("#void-result", |t| t == format!("退件 {other} 已作废"));
    b.wait_text("#stock tr[data-zone='vendor'] .zone", |t| t == "已退厂");
    b.script("window.scrollTo(0, 0); return true;");
    b.screenshot(&screenshots().join("supervisor-zh.png"));
    drop(b);

    // 360 px: one column, no horizontal scroll.
    let b = Browser::start_with(360, 780, true);
    login(&b, &a, "001", "3333");
    b.wait_js("main view", "document.body.dataset.view === 'v-main'");
    b.wait_text("#stock tr[data-zone='vendor'] .num", |t| t == "1");
    b.wait_js(
        "360 px wide, no horizontal scroll",
        "window.innerWidth === 360 && document.documentElement.scrollWidth <= 360",
    );
    b.screenshot(&screenshots().join("supervisor-phone.png"));
    drop(b);
    d.stop();
}

fn poll<T>(f: impl Fn() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out");
}
