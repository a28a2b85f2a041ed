//! The supervisor's page (`GET /supervisor`) in a real headless Chromium against the real
//! daemon: a keeper is refused; a supervisor sees the stock per zone, creates a
//! return-to-vendor note over an item in the defect zone (note number and print job state
//! shown), reprints a label with a reason and voids a return after the confirm step; the
//! journal holds each command; a supervisor adds a bin (an item is put away into it
//! through the API), is refused retiring it while it holds the unit, closes an RTV note
//! after the confirm step and then retires the emptied bin; a photo holding the sync back
//! is named and acknowledged as lost. Screenshots of both languages land in
//! `target/screenshots/`.

use serde_json::Value;

use crate::api_client::{addr, http, station};
use crate::browser::{Browser, screenshots};
use crate::support::poll as poll_until;
use crate::support::{Daemon, Station, scan_ok};

const ENTER: &str = "\u{E007}";

/// A station (PINs from `api_client::station`, labels to a directory, defects without a
/// photo) with one return whose item is in the defect zone and one only unpacked.
fn with_defect() -> (Station, Daemon, String, String, String) {
    with_defect_at(Some("Z-DEFECT"))
}

/// As [`with_defect`]; the defect item is put away into `zone`, or left graded in
/// pending (None).
fn with_defect_at(zone: Option<&str>) -> (Station, Daemon, String, String, String) {
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
    st.cli_ok(&[
        "inspect",
        &defect,
        "--badge",
        "021",
        "--grade",
        "defect",
        "--reason",
        "damaged_casing",
    ]);
    if let Some(zone) = zone {
        st.cli_ok(&["put-away", &defect, "--badge", "021", "--zone", zone]);
    }
    let other = ids[1].clone();
    (st, d, a, defect, other)
}

fn login(b: &Browser, a: &str, badge: &str, pin: &str) {
    b.goto(&format!("http://{a}/supervisor"));
    b.wait_js("login view", "document.body.dataset.view === 'v-login'");
    b.send_keys("#badge", &format!("{badge}{ENTER}"));
    b.send_keys("#pin", &format!("{pin}{ENTER}"));
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
    let created = poll_until("rtv.note_created", || {
        st.events("rtv.note_created").into_iter().next()
    });
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
    let reprints: Vec<Value> = st
        .events("label.printed")
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
    assert!(st.events("return.voided").is_empty());
    b.click("#void-btn");
    b.wait_js(
        "confirm open",
        "!document.getElementById('void-confirm').hidden",
    );
    b.script("window.scrollTo(0, 0); return true;");
    b.screenshot(&screenshots().join("supervisor-en.png"));
    b.click("#void-yes");
    b.wait_text("#void-result", |t| t == format!("Return {other} voided"));
    let voided = st.events("return.voided");
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

/// The bins and RTV-notes panels: a supervisor adds a defect bin from the page, an
/// inspector puts the defect item away into it through the API (the page shows the unit),
/// retiring the bin is refused in the page's language while it holds the unit, an RTV
/// note over the item is closed from the page after its confirm step (waybill and note
/// journaled as `rtv.note_closed`), and the emptied bin retires; in Chinese the states
/// switch; at 360 px nothing scrolls sideways.
#[test]
fn supervisor_page_edits_bins_and_closes_an_rtv_note() {
    let (st, d, a, defect, _) = with_defect_at(None);
    let b = Browser::start(1280, 900);
    login(&b, &a, "001", "3333");
    b.wait_js("main view", "document.body.dataset.view === 'v-main'");
    let a01 = "#bins li[data-bin='A01']";
    b.wait_text(&format!("{a01} .state"), |t| t == "Active · config");
    b.wait_text(&format!("{a01} .class"), |t| t == "Good");

    // A bad code is refused on the page; then D09 (defect) is added.
    b.send_keys("#bin-code", "d/9");
    click(&b, "#bin-btn");
    b.wait_text("#msg", |t| {
        t == "Bin code D/9 is not valid: use 1 to 16 of A-Z 0-9 -"
    });
    b.script(
        "const c = document.getElementById('bin-code'); c.value = 'd09';\
         document.getElementById('bin-class').value = 'defect'; return true;",
    );
    b.send_keys("#bin-label", "Rack 9");
    click(&b, "#bin-btn");
    b.wait_text("#bins-result", |t| t == "Bin D09 added");
    let d09 = "#bins li[data-bin='D09']";
    b.wait_text(&format!("{d09} .class"), |t| t == "Defect");
    b.wait_text(&format!("{d09} .label"), |t| t == "Rack 9");
    b.wait_text(&format!("{d09} .state"), |t| t == "Active · edited");
    let set = poll_until("zone.bin_set", || st.events("zone.bin_set").pop());
    assert_eq!(
        set["data"],
        serde_json::json!({"code": "D09", "class": "defect", "label": "Rack 9", "active": true})
    );

    // The inspector puts the item away into the new bin, through the API.
    let inspector = crate::api_client::login(&a, "021", "2222");
    let r = crate::api_client::post(
        &a,
        &inspector,
        &format!("/api/v1/returns/{defect}/put-away"),
        &serde_json::json!({"zone": "Z-D09"}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    click(&b, "#zones-refresh");
    b.wait_text(&format!("{d09} .units"), |t| t == "Units 1");

    // Retiring it asks first, then is refused: it holds the unit.
    click(&b, &format!("{d09} .retire"));
    b.wait_text("#bin-question", |t| {
        t == "Retire bin D09? Nothing can be put away into it afterwards."
    });
    click(&b, "#bin-yes");
    b.wait_text("#msg", |t| {
        t == "Bin D09 still holds 1 unit(s): move them out before retiring it or changing its class"
    });
    b.wait_text(&format!("{d09} .state"), |t| t == "Active · edited");

    // An RTV note over the item (its pick list from GET /defect-items), then closed.
    let item = format!("{defect}.1");
    click(&b, "#rtv-refresh");
    let row = format!("#defects li[data-ref='{item}']");
    b.wait_text(&format!("{row} .muted"), |t| t.ends_with("Defect zone D09"));
    click(&b, &format!("{row} input"));
    b.send_keys("#vendor", "ACME");
    click(&b, "#rtv-btn");
    let created = poll_until("rtv.note_created", || {
        st.events("rtv.note_created").into_iter().next()
    });
    let note_no = created["data"]["note_no"].as_str().unwrap().to_string();
    let li = format!("#notes li[data-note='{note_no}']");
    b.wait_text(&format!("{li} .state"), |t| t == "open");
    b.wait_text(&format!("{li} .lines"), |t| t.starts_with(&item));
    click(&b, &format!("{li} .close"));
    b.wait_text("#close-question", |t| {
        t == format!("Confirm the goods of {note_no} were handed to the vendor or carrier?")
    });
    click(&b, "#close-no");
    b.wait_js(
        "close box hidden",
        "document.getElementById('close-box').hidden",
    );
    assert!(st.events("rtv.note_closed").is_empty());
    click(&b, &format!("{li} .close"));
    b.send_keys("#close-waybill", "sf9876543210");
    b.send_keys("#close-note", "driver Li");
    click(&b, "#close-yes");
    b.wait_text("#notes-result", |t| {
        t == format!("RTV note {note_no} handed over (1 item(s))")
    });
    b.wait_text(&format!("{li} .state"), |t| t == "handed over");
    b.wait_text(&format!("{li} .closed"), |t| {
        t.contains("supervisor:001") && t.contains("SF9876543210") && t.ends_with("driver Li")
    });
    let closed = poll_until("rtv.note_closed", || {
        st.events("rtv.note_closed").into_iter().next()
    });
    assert_eq!(
        closed["data"],
        serde_json::json!({"note_no": note_no, "waybill": "SF9876543210", "note": "driver Li"})
    );

    // The emptied bin retires after the confirm.
    click(&b, "#zones-refresh");
    b.wait_text(&format!("{d09} .units"), |t| t == "Units 0");
    click(&b, &format!("{d09} .retire"));
    click(&b, "#bin-yes");
    b.wait_text("#bins-result", |t| t == "Bin D09 retired");
    b.wait_text(&format!("{d09} .state"), |t| t == "Retired · edited");
    b.wait_js(
        "reactivate offered",
        &format!("!!document.querySelector(\"{d09} .reactivate\")"),
    );
    b.script("document.getElementById('p-zones').scrollIntoView(); return true;");
    b.screenshot(&screenshots().join("supervisor-zones-en.png"));

    // Chinese: the states, the class and the last result switch.
    b.click("#lang");
    b.wait_text(&format!("{d09} .state"), |t| t == "已停用 · 已编辑");
    b.wait_text(&format!("{d09} .class"), |t| t == "不良品");
    b.wait_text(&format!("{li} .state"), |t| t == "已交接");
    b.wait_text("#bins-result", |t| t == "库位 D09 已停用");
    b.screenshot(&screenshots().join("supervisor-zones-zh.png"));
    drop(b);

    // 360 px: one column, no horizontal scroll, with the bins and notes shown.
    let b = Browser::start_with(360, 780, true);
    login(&b, &a, "001", "3333");
    b.wait_js("main view", "document.body.dataset.view === 'v-main'");
    b.wait_text(&format!("{d09} .state"), |t| {
        t == "已停用 · 已编辑" || t == "Retired · edited"
    });
    b.wait_js(
        "note listed",
        &format!("!!document.querySelector(\"{li}\")"),
    );
    b.wait_js(
        "360 px wide, no horizontal scroll",
        "window.innerWidth === 360 && document.documentElement.scrollWidth <= 360",
    );
    drop(b);
    d.stop();
}

/// Click after scrolling the element to the middle of the window: the sticky message
/// line at the top would otherwise take a click meant for what scrolled under it.
fn click(b: &Browser, css: &str) {
    b.script(&format!(
        "document.querySelector(\"{css}\").scrollIntoView({{block: 'center'}}); return true;"
    ));
    b.click(css);
}

/// The page follows the station live: an item an inspector graded defect and put away
/// while the supervisor looks shows in the RTV pick list and in the stock without refresh.
#[test]
fn supervisor_page_follows_put_aways_live() {
    let (st, d, a, defect, _other) = with_defect_at(None);
    let b = Browser::start(1280, 800);
    login(&b, &a, "001", "3333");
    b.wait_js("main view", "document.body.dataset.view === 'v-main'");
    b.wait_js(
        "pending stock shown",
        "!!document.querySelector(\"#stock tr[data-zone='pending']\")",
    );
    b.wait_js(
        "no defect items yet",
        "!!document.getElementById('defects') && document.querySelectorAll('#defects li').length === 0",
    );
    st.cli_ok(&["put-away", &defect, "--badge", "021", "--zone", "Z-DEFECT"]);
    let row = format!("#defects li[data-ref='{defect}.1']");
    b.wait_js(
        "the put-away shows in the pick list",
        &format!("!!document.querySelector(\"{row}\")"),
    );
    b.wait_js(
        "and in the stock",
        "!!document.querySelector(\"#stock tr[data-zone='defect']\")",
    );
    drop(b);
    d.stop();
}

/// Contract 1.1: while a photo the station cannot upload holds the sync back, the page
/// names it (prefix, what is wrong, from which seq) in the page's language; an empty reason
/// is refused on the page; the supervisor acknowledges the loss with a reason
/// (`photo.lost` journaled, POST /api/v1/photos/lost) and the events reach the central.
#[test]
fn supervisor_page_acknowledges_a_photo_holding_the_sync_back() {
    use crate::kit::central::{Central, CentralOptions, sha256_hex};
    use crate::proxy::{FaultMode, FaultProxy};

    let central = Central::start(CentralOptions::default());
    let proxy = FaultProxy::start(central.addr());
    proxy.set(FaultMode::Refuse);
    let st = station("");
    let mut text = std::fs::read_to_string(&st.config).unwrap();
    text.push_str(&format!(
        "\n[sync]\ncentral_url = \"{}\"\nstation_token = \"station-token\"\nbackoff_cap_s = 1\nslow_retry_s = 60\n",
        proxy.url()
    ));
    std::fs::write(&st.config, text).unwrap();
    let d = st.start();
    let a = addr(&d);
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    jpeg.extend((0..500u32).map(|i| (i * 7) as u8));
    let file = st.dir.path().join("p.jpg");
    std::fs::write(&file, &jpeg).unwrap();
    let photo = st.cli_ok(&["photo", "add", file.to_str().unwrap()]);
    let sha = sha256_hex(&jpeg);
    let out = crate::support::inspect_with_photo(&st, photo.trim());
    assert!(out.status.success(), "{out:?}");
    let stored = st
        .state_dir()
        .join("photos")
        .join(&sha[..2])
        .join(format!("{sha}.jpg"));
    std::fs::remove_file(&stored).unwrap();
    let seq = poll_until("the push held by the photo", || {
        let s = crate::support::request(&st.socket(), &serde_json::json!({"op": "sync_status"}))
            .ok()?;
        s["push"]["blocked_photo"]["seq"].as_i64()
    });
    proxy.set(FaultMode::Pass);

    // GET /api/v1/sync names it too, worded in the session's language.
    let sup = crate::api_client::login(&a, "001", "3333");
    let sync = crate::api_client::get(&a, &sup, "/api/v1/sync").json();
    let blocked = &sync["push"]["blocked_photo"];
    assert_eq!(blocked["sha256"], sha.as_str(), "{sync}");
    assert_eq!(blocked["seq"], seq, "{sync}");
    assert!(
        blocked["message"]
            .as_str()
            .is_some_and(|m| m.contains(&sha[..12]) && m.contains("returnsd photo-lost")),
        "{sync}"
    );
    let b = Browser::start(1280, 900);
    login(&b, &a, "001", "3333");
    b.wait_js("main view", "document.body.dataset.view === 'v-main'");
    let en = format!(
        "Photo {}… is missing and cannot be uploaded: events from seq {seq} are held. If it is lost for good, give the reason and acknowledge the loss",
        &sha[..12]
    );
    b.wait_text("#sync-photo", |t| t == en);
    b.screenshot(&screenshots().join("supervisor-photo-lost-en.png"));
    b.click("#lang");
    b.wait_text("#sync-photo", |t| {
        t.starts_with(&format!("照片 {}…已不在照片库中", &sha[..12]))
    });
    b.screenshot(&screenshots().join("supervisor-photo-lost-zh.png"));
    b.click("#lang");
    click(&b, "#lost-btn");
    b.wait_text("#msg", |t| t == "Enter a reason");
    b.send_keys("#lost-reason", "deleted by a disk repair");
    click(&b, "#lost-btn");
    b.wait_text("#sync-result", |t| {
        t.starts_with(&format!("Photo {sha} acknowledged as lost"))
    });
    b.wait_js(
        "the form gone once acknowledged",
        "document.getElementById('lost-form').hidden",
    );
    let ping = crate::support::request(&st.socket(), &serde_json::json!({"op": "ping"})).unwrap();
    let (last, epoch) = (
        ping["last_seq"].as_i64().unwrap(),
        ping["epoch"].as_str().unwrap(),
    );
    central.wait_until(
        std::time::Duration::from_secs(20),
        "every event acked",
        |c| c.acked_through(epoch) >= last,
    );
    drop(b);
    let journal = st.journal();
    d.stop();
    let lost = journal
        .iter()
        .find(|e| e["type"] == "photo.lost")
        .expect("photo.lost journaled");
    assert_eq!(lost["actor"], "supervisor:001");
    assert_eq!(lost["data"]["reason"], "deleted by a disk repair");
    assert!(
        central.violations().is_empty(),
        "{:?}",
        central.violations()
    );
}

/// A small real PNG (a colour gradient), as a handheld's camera photo stands in.
fn photo_png() -> Vec<u8> {
    let (w, h) = (160u32, 120u32);
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().unwrap();
        let mut px = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                px.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, 140]);
            }
        }
        wr.write_image_data(&px).unwrap();
    }
    out
}

/// The day's picture and the quality-check sheet 《退货质量检查表》: two defects of the
/// same reason (one with a photo, graded through the API) give the day's figures and a
/// Pareto of one reason at 100 %; the supervisor's page draws both charts as SVG bars
/// and lists the day's sheets; a return's sheet shows its grade, reason, inspector and
/// photo (loaded), in both languages, with no script and a CSP without scripts; the
/// day's file is a download with both sheets and the photo inside; a day without
/// inspections says so; a keeper may not read the report or the day's file; a bad date
/// names the format. A manifest line the station refused shows in the sync panel with its
/// reason (contract 1.1). Screenshots land in `target/screenshots/`.
#[test]
fn supervisor_page_shows_the_day_and_its_qc_sheets() {
    let (st, d, a, defect, other) = with_defect();
    scan_ok(&st, &["6901234560015", "CMD-VIS-OK", "Z-PENDING"]);
    let inspector = crate::api_client::login(&a, "021", "2222");
    let up = http(
        &a,
        "POST",
        "/api/v1/photos",
        &[
            ("Authorization", &inspector.bearer()),
            ("Content-Type", "image/png"),
        ],
        &photo_png(),
    );
    assert_eq!(up.status, 201, "{}", up.text());
    let sha = up.json()["sha256"].as_str().unwrap().to_string();
    let r = crate::api_client::post(
        &a,
        &inspector,
        &format!("/api/v1/returns/{other}/inspect"),
        &serde_json::json!({"grade": "defect", "defect_reasons": ["damaged_casing"],
            "photos": [sha], "note": "corner <cracked>",
            "checklist": [{"code": "packaging_complete", "met": true}, {"code": "resellable", "met": false}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // The report through the API.
    let sup = crate::api_client::login(&a, "001", "3333");
    let keeper = crate::api_client::login(&a, "017", "1111");
    let rep = crate::api_client::get(&a, &sup, "/api/v1/reports/daily?lang=en");
    assert_eq!(rep.status, 200, "{}", rep.text());
    let rep = rep.json();
    assert_eq!(rep["received"]["total"], 2, "{rep}");
    assert_eq!(rep["received"]["by_kind"]["customer_return"], 2, "{rep}");
    assert_eq!(rep["first_checked"], 2, "{rep}");
    assert_eq!(rep["inspected_returns"], 2, "{rep}");
    assert_eq!(rep["defect_units"], 2, "{rep}");
    assert_eq!(rep["good_units"], 0, "{rep}");
    assert_eq!(rep["pareto_reasons"][0]["key"], "damaged_casing", "{rep}");
    assert_eq!(rep["pareto_reasons"][0]["label"], "Damaged casing", "{rep}");
    assert_eq!(rep["pareto_reasons"][0]["units"], 2, "{rep}");
    assert_eq!(rep["pareto_reasons"][0]["cumulative_pct"], 100.0, "{rep}");
    assert_eq!(rep["pareto_skus"][0]["units"], 2, "{rep}");
    let ids: Vec<&str> = rep["returns_inspected"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ids, [defect.as_str(), other.as_str()], "{rep}");
    for path in ["/api/v1/reports/daily", "/api/v1/qc-sheets"] {
        let r = crate::api_client::get(&a, &keeper, path);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
    }
    let bad = crate::api_client::get(&a, &sup, "/api/v1/reports/daily?date=2026-13-40");
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("YYYY-MM-DD"), "{}", bad.text());

    // One return's sheet: HTML, no script, a CSP that allows none.
    let sheet = crate::api_client::get(
        &a,
        &keeper,
        &format!("/api/v1/returns/{other}/qc-sheet?lang=en"),
    );
    assert_eq!(sheet.status, 200, "{}", sheet.text());
    assert_eq!(
        sheet.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let csp = sheet.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let html = sheet.text();
    for want in [
        "Return quality-check sheet",
        other.as_str(),
        "Damaged casing",
        "corner &lt;cracked&gt;",
        "class=\"grade-defect\"",
        "☒ Resellable",
        "Inspector (021)",
        &format!("/api/v1/photos/{sha}"),
    ] {
        assert!(html.contains(want), "{want:?} not in the sheet: {html}");
    }
    assert!(!html.contains("<script"), "{html}");

    // The day's file: a download, both sheets, the photo inside.
    let day = crate::api_client::get(&a, &sup, "/api/v1/qc-sheets?lang=zh-CN");
    assert_eq!(day.status, 200, "{}", day.text());
    let cd = day.header("content-disposition").unwrap_or_default();
    assert!(
        cd.starts_with("attachment; filename=\"qc-sheets-ST01-"),
        "{cd}"
    );
    let file = day.text();
    assert_eq!(
        file.matches("<section class=\"sheet\"").count(),
        2,
        "{file}"
    );
    assert!(file.contains(&defect) && file.contains(&other));
    assert!(file.contains("退货质量检查表") && file.contains("外壳破损"));
    assert!(
        file.contains("src=\"data:image/png;base64,"),
        "photo inside"
    );
    let empty = crate::api_client::get(&a, &sup, "/api/v1/qc-sheets?date=2020-01-01&lang=en");
    assert_eq!(empty.status, 200);
    assert!(empty.text().contains("No return was inspected that day"));

    // A manifest line the station refuses (contract 1.1: the reason is shown, not only a
    // count), imported while the daemon runs.
    let f = st.dir.path().join("bad.jsonl");
    std::fs::write(
        &f,
        r#"{"waybill":"SF1000000000031","version":1,"kind":"customer_return","claimed_reason":"the moon was full","items":[]}"#,
    )
    .unwrap();
    let out = st.cli(&["manifest", "import", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // The page: figures, two Pareto charts as SVG bars, the day's sheets; the refused
    // manifest line with its reason in the sync panel.
    let b = Browser::start(1280, 1000);
    login(&b, &a, "001", "3333");
    b.wait_js("main view", "document.body.dataset.view === 'v-main'");
    b.wait_js(
        "the refused item and its reason",
        "!document.getElementById('p-sync').hidden && !document.getElementById('sync-rejected').hidden
         && document.getElementById('lost-form').hidden
         && document.querySelector('#rejected li[data-key=\"SF1000000000031\"] .reason').textContent.includes('the moon was full')",
    );
    b.wait_text("#rejected-title", |t| {
        t == "Items the station refused (latest 1 of 1)"
    });
    b.wait_text("#day-figures tr[data-figure='defect'] td", |t| t == "2");
    b.wait_text("#day-figures tr[data-figure='first_checked'] td", |t| {
        t == "2"
    });
    b.wait_js(
        "one bar per chart, 2 units each",
        "[...document.querySelectorAll('#pareto-reasons rect.bar, #pareto-skus rect.bar')]
            .map(r => r.dataset.units).join() === '2,2'",
    );
    b.wait_js(
        "the cumulative line",
        "document.querySelector('#pareto-reasons .pct').textContent === '100%'",
    );
    b.wait_js(
        "the day's sheets and the download",
        "document.querySelectorAll('#day-sheets a').length === 2 &&
         document.getElementById('day-export').getAttribute('href').startsWith('/api/v1/qc-sheets?date=')",
    );
    b.script("document.getElementById('p-day').scrollIntoView(); return true;");
    b.wait_text("#p-day h2", |t| t == "The day's report");
    b.screenshot(&screenshots().join("daily-report-en.png"));
    b.script("window.scrollTo(0, 0); return true;");
    b.click("#lang");
    b.wait_text("#p-day h2", |t| t == "当日报表");
    b.wait_js(
        "the reasons in Chinese",
        "document.querySelector('#pareto-reasons rect.bar title').textContent === '外壳破损: 2'",
    );
    b.script("document.getElementById('p-day').scrollIntoView(); return true;");
    b.screenshot(&screenshots().join("daily-report-zh.png"));

    // The sheet in the browser (the page's session): the photo loads.
    for (lang, title) in [
        ("zh-CN", "退货质量检查表"),
        ("en", "Return quality-check sheet"),
    ] {
        b.goto(&format!(
            "http://{a}/api/v1/returns/{other}/qc-sheet?lang={lang}"
        ));
        b.wait_text("section.sheet h1", |t| t == title);
        b.wait_js(
            "the photo loaded",
            "(() => { const i = document.querySelector('.photos img'); return !!i && i.complete && i.naturalWidth === 160; })()",
        );
        let short = if lang == "en" { "en" } else { "zh" };
        b.screenshot(&screenshots().join(format!("qc-sheet-{short}.png")));
    }
    drop(b);
    d.stop();
}
