//! The inspector's handheld page (`GET /handheld`) in a real headless Chromium laid out as
//! a 360 px phone, against the real daemon: login with a scanned badge, the queue, a
//! scanned return label counted once, grading, put-away by a scanned zone, a submit whose
//! answer was lost retried and applied once, the language switch (remembered), and
//! screenshots of both languages in `target/screenshots/`.

use serde_json::{Value, json};

use crate::api::{first_check_one, manifest};
use crate::api_client::{addr, get, http, login, station};
use crate::browser::{Browser, screenshots};
use crate::support::{Daemon, Station};

/// WebDriver's Enter key (what the wedge scanner sends after the code).
const ENTER: &str = "\u{E007}";

/// A station with a return first-checked by keeper 017 (waiting for inspection).
fn first_checked() -> (Station, Daemon, String, String) {
    first_checked_with("")
}

/// The same, with `extra` appended to the config.
fn first_checked_with(extra: &str) -> (Station, Daemon, String, String) {
    let st = station("");
    if !extra.is_empty() {
        let text = std::fs::read_to_string(&st.config).unwrap();
        std::fs::write(&st.config, format!("{text}\n{extra}\n")).unwrap();
    }
    manifest(&st);
    let d = st.start();
    let a = addr(&d);
    let rid = first_check_one(&st);
    (st, d, a, rid)
}

/// Open the page and log in as inspector 021 the way the handheld does it: the scanner
/// types the badge and Enter (which moves on to the PIN), then the PIN and Enter.
fn open_and_login(b: &Browser, a: &str) {
    b.goto(&format!("http://{a}/handheld"));
    b.wait_js("login view", "document.body.dataset.view === 'v-login'");
    b.wait_js(
        "badge focused",
        "document.activeElement === document.getElementById('badge')",
    );
    b.send_keys("#badge", &format!("OP-021{ENTER}"));
    b.wait_js(
        "PIN focused after the badge's Enter",
        "document.activeElement === document.getElementById('pin')",
    );
    b.send_keys("#pin", &format!("2222{ENTER}"));
    b.wait_js("queue view", "document.body.dataset.view === 'v-queue'");
}

/// Record every fetch the page makes: URL, method, Idempotency-Key.
const RECORD_FETCH: &str = "window.__calls = []; const f = window.fetch; \
    window.fetch = function (u, o) { const h = (o && o.headers) || {}; \
      window.__calls.push({url: String(u), method: (o && o.method) || 'GET', key: h['Idempotency-Key'] || null}); \
      return f.apply(this, arguments); }; return true;";

fn calls(b: &Browser, method: &str, suffix: &str) -> Vec<Value> {
    let v = b.script("return window.__calls;");
    v.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] == method && c["url"].as_str().unwrap().ends_with(suffix))
        .cloned()
        .collect()
}

fn count(st: &Station, ty: &str, rid: &str) -> usize {
    st.journal()
        .iter()
        .filter(|e| e["type"] == ty && e["return_id"] == rid)
        .count()
}

/// Login by scanned badge → the queue with due times → a typed return label + Enter opens
/// the return with ONE request (a duplicate submit and a stray keydown are ignored) →
/// grade good → confirm: one inspect request, one `inspection.completed` → a scanned
/// zone puts it away (one request, the stock is in the bin).
#[test]
fn handheld_inspects_and_puts_away_counting_each_scan_once() {
    let (st, d, a, rid) = first_checked();
    // The page and its files: public, with the strict CSP and nosniff.
    for path in ["/handheld", "/assets/handheld.js", "/assets/handheld.css"] {
        let r = http(&a, "GET", path, &[], b"");
        assert_eq!(r.status, 200, "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
    }
    let b = Browser::start_with(360, 780, true);
    open_and_login(&b, &a);
    let row = format!("#queue button[data-id='{rid}']");
    b.wait_text(&format!("{row} .qid"), |t| t == rid);
    b.wait_text(&format!("{row} .qdue"), |t| t.starts_with("due in "));
    b.wait_text(&format!("{row} .qmeta"), |t| {
        t.starts_with("customer return · 1 item(s)")
    });
    b.wait_text("#who", |t| t == "021");
    b.screenshot(&screenshots().join("handheld-queue-en.png"));

    // The wedge types the label and Enter into the focused field.
    assert_eq!(b.script(RECORD_FETCH), true);
    b.wait_js(
        "scan field focused",
        "document.activeElement === document.getElementById('scan')",
    );
    b.send_keys("#scan", &format!("{rid}{ENTER}"));
    b.wait_js("return view", "document.body.dataset.view === 'v-return'");
    b.wait_text("#r-id", |t| t == rid);
    assert_eq!(calls(&b, "GET", &format!("/returns/{rid}")).len(), 1);
    b.wait_text("li[data-item='1'] .sku", |t| t == "SKU-A");
    b.wait_text("li[data-item='1'] .first", |t| {
        t == "First check: as expected"
    });
    b.wait_text("#r-claimed", |t| t == "Quality problem");
    b.wait_text("#r-visual", |t| t == "OK");

    // A defect needs a reason: the review refuses, then grade good.
    b.click("li[data-item='1'] .grade[data-grade='defect']");
    b.wait_js(
        "defect reasons shown",
        "document.querySelectorAll(\"li[data-item='1'] .reasons button\").length >= 8",
    );
    b.click("#review");
    b.wait_text("#msg", |t| t == "A defect needs a reason");
    b.click("li[data-item='1'] .grade[data-grade='good']");
    b.click("#review");
    b.wait_text("#summary", |t| t == "1 good, 0 defect");
    b.click("#confirm");
    b.wait_js("done view", "document.body.dataset.view === 'v-done'");
    b.wait_text("#result", |t| t == format!("{rid}: 1 item(s) graded good"));
    b.wait_text("#suggest", |t| t == "Suggested: Z-GOOD");
    assert_eq!(calls(&b, "POST", "/inspect").len(), 1);
    assert_eq!(count(&st, "inspection.completed", &rid), 1);

    // The wedge's Enter submits the form; a keydown Enter fired as well and a second
    // submit of the same code are ignored: one put-away request.
    b.wait_js(
        "zone field focused",
        "document.activeElement === document.getElementById('zone')",
    );
    b.script(
        "const i = document.getElementById('zone'), f = document.getElementById('zone-form'); \
         i.value = 'Z-A01'; \
         i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true})); \
         f.requestSubmit(); i.value = 'Z-A01'; f.requestSubmit(); return true;",
    );
    b.wait_text("#result", |t| t.contains("put away to Good zone A01"));
    assert_eq!(calls(&b, "POST", "/put-away").len(), 1);
    b.wait_js(
        "zone form hidden",
        "document.getElementById('zone-form').hidden",
    );
    let ledger: Vec<Value> = st
        .journal()
        .into_iter()
        .filter(|e| e["type"] == "ledger.entry" && e["return_id"] == rid.as_str())
        .collect();
    assert_eq!(
        ledger
            .iter()
            .filter(|e| e["data"]["to"] == "good/A01")
            .count(),
        1,
        "{ledger:?}"
    );
    let inspector = login(&a, "021", "2222");
    let zones = get(&a, &inspector, "/api/v1/zones").json();
    assert!(
        zones["stock"]
            .as_array()
            .unwrap()
            .iter()
            .any(|z| z["zone"] == "good/A01" && z["sku"] == "SKU-A" && z["qty"] == 1),
        "{zones}"
    );
    b.wait_js(
        "360 px wide, no horizontal scroll",
        "window.innerWidth === 360 && document.documentElement.scrollWidth <= 360",
    );
    b.click("#next");
    b.wait_js("queue view", "document.body.dataset.view === 'v-queue'");
    b.wait_js(
        "queue empty",
        "!document.getElementById('queue-empty').hidden",
    );
    drop(b);
    d.stop();
}

/// The Wi-Fi drops while the inspection is sent: the server applies it but the answer is
/// lost, and further sends fail without reaching the server. The submit is kept (in
/// localStorage, with its Idempotency-Key) and shown as waiting; when the network is back
/// the retry button resends it with the same key, the server answers the first answer
/// (`Idempotent-Replayed`), and the journal holds one inspection.
#[test]
fn handheld_resends_a_lost_submit_and_it_is_applied_once() {
    let (st, d, a, rid) = first_checked();
    let b = Browser::start_with(360, 780, true);
    open_and_login(&b, &a);
    // The queue loads after the view shows: wait for the row before clicking it.
    let row = format!("#queue button[data-id='{rid}']");
    b.wait_text(&format!("{row} .qid"), |t| t == rid);
    b.click(&row);
    b.wait_text("#r-id", |t| t == rid);
    b.click("li[data-item='1'] .grade[data-grade='good']");
    b.click("#review");
    b.wait_text("#summary", |t| t == "1 good, 0 defect");
    assert_eq!(
        b.script(
            "window.__sent = []; window.__offline = true; let lost = false; const f = window.fetch; \
             window.fetch = async function (u, o) { \
               if (!String(u).endsWith('/inspect')) return f.apply(this, arguments); \
               if (lost && window.__offline) throw new TypeError('Failed to fetch'); \
               const r = await f.apply(this, arguments); \
               window.__sent.push({key: o.headers['Idempotency-Key'], replayed: r.headers.get('Idempotent-Replayed')}); \
               if (!lost) { lost = true; throw new TypeError('Failed to fetch'); } \
               return r; }; return true;"
        ),
        true
    );
    b.click("#confirm");
    b.wait_js(
        "the submit is kept and shown",
        "document.body.dataset.outbox === '1' && !document.getElementById('outbox').hidden",
    );
    b.wait_text("#outbox-text", |t| {
        t == "1 submit(s) waiting for the network: resent automatically"
    });
    let kept = b.script("return JSON.parse(localStorage.getItem('returnsd.hh.outbox'));");
    assert_eq!(kept.as_array().unwrap().len(), 1, "{kept}");
    let sent = b.script("return window.__sent;");
    assert_eq!(sent.as_array().unwrap().len(), 1, "{sent}");
    assert_eq!(kept[0]["key"], sent[0]["key"]);
    assert_eq!(kept[0]["body"]["grade"], "good");
    // Applied once already, though the page never saw the answer.
    assert_eq!(count(&st, "inspection.completed", &rid), 1);
    assert_eq!(b.script("return document.body.dataset.view;"), "v-return");

    // The network is back: the retry button resends under the same key.
    b.script("window.__offline = false; document.getElementById('retry').click(); return true;");
    b.wait_js("done view", "document.body.dataset.view === 'v-done'");
    b.wait_text("#result", |t| t == format!("{rid}: 1 item(s) graded good"));
    b.wait_js(
        "outbox empty",
        "document.body.dataset.outbox === '0' && document.getElementById('outbox').hidden",
    );
    let sent = b.script("return window.__sent;");
    assert_eq!(sent.as_array().unwrap().len(), 2, "{sent}");
    assert_eq!(sent[1]["key"], sent[0]["key"]);
    assert_eq!(sent[1]["replayed"], "true");
    assert_eq!(
        b.script("return localStorage.getItem('returnsd.hh.outbox');"),
        json!("[]")
    );
    assert_eq!(count(&st, "inspection.completed", &rid), 1);
    drop(b);
    d.stop();
}

/// The language button switches every word (and the server's results, rendered from their
/// codes), the choice survives a reload; screenshots of the return in both languages.
#[test]
fn handheld_switches_language_and_remembers_it() {
    let (st, d, a, rid) = first_checked();
    let b = Browser::start_with(360, 780, true);
    b.goto(&format!("http://{a}/handheld"));
    b.wait_text("#login-btn", |t| t == "Log in");
    b.wait_text("#lang", |t| t == "中文");
    b.screenshot(&screenshots().join("handheld-login-en.png"));
    b.click("#lang");
    b.wait_text("#login-btn", |t| t == "登录");
    b.wait_js(
        "lang attribute",
        "document.documentElement.lang === 'zh-CN'",
    );
    b.goto(&format!("http://{a}/handheld"));
    b.wait_text("#login-btn", |t| t == "登录");
    b.wait_text("#lang", |t| t == "English");

    b.send_keys("#badge", &format!("021{ENTER}"));
    b.send_keys("#pin", &format!("9999{ENTER}"));
    b.wait_text("#msg", |t| t == "工号或密码错误");
    b.send_keys("#pin", &format!("2222{ENTER}"));
    b.wait_js("queue view", "document.body.dataset.view === 'v-queue'");
    b.wait_text(&format!("#queue button[data-id='{rid}'] .qmeta"), |t| {
        t.starts_with("自退件 · 1 件")
    });
    b.send_keys("#scan", &format!("{rid}{ENTER}"));
    b.wait_text("#r-id", |t| t == rid);
    b.click("li[data-item='1'] .grade[data-grade='defect']");
    b.wait_text(
        "li[data-item='1'] .reasons button[data-code='not_working']",
        |t| t == "功能故障",
    );
    b.click("li[data-item='1'] .reasons button[data-code='not_working']");
    b.script("document.activeElement.blur(); window.scrollTo(0, 0); return true;");
    b.wait_text("li[data-item='1'] .first", |t| t == "一次检验:相符");
    b.screenshot(&screenshots().join("handheld-zh.png"));

    b.click("#lang");
    b.wait_text(
        "li[data-item='1'] .reasons button[data-code='not_working']",
        |t| t == "Does not work",
    );
    b.wait_text("li[data-item='1'] .first", |t| {
        t == "First check: as expected"
    });
    b.wait_text("#r-kind", |t| t == "customer return");
    b.wait_js(
        "the chosen reason is kept",
        "document.querySelector(\"li[data-item='1'] .reasons button[data-code='not_working']\").getAttribute('aria-pressed') === 'true'",
    );
    // A defect needs a photo at this station.
    b.click("#review");
    b.wait_text("#msg", |t| t == "A defect needs a photo");
    b.script("window.scrollTo(0, 0); return true;");
    b.screenshot(&screenshots().join("handheld-en.png"));
    b.wait_js(
        "360 px wide, no horizontal scroll",
        "window.innerWidth === 360 && document.documentElement.scrollWidth <= 360",
    );
    assert_eq!(count(&st, "inspection.completed", &rid), 0);
    drop(b);
    d.stop();
}

/// A defect: reasons, a note and a photo from the camera input (uploaded at once, its
/// hash sent with the inspection), confirm, then put away into the defect zone suggested.
#[test]
fn handheld_grades_a_defect_with_a_camera_photo() {
    let (st, d, a, rid) = first_checked();
    let photo = st.dir.path().join("IMG_0001.jpg");
    std::fs::write(&photo, crate::api_live::jpeg_with_gps()).unwrap();
    let b = Browser::start_with(360, 780, true);
    open_and_login(&b, &a);
    b.send_keys("#scan", &format!("{rid}{ENTER}"));
    b.wait_text("#r-id", |t| t == rid);
    b.click("li[data-item='1'] .grade[data-grade='defect']");
    b.click("li[data-item='1'] .reasons button[data-code='damaged_casing']");
    b.click("li[data-item='1'] .reasons button[data-code='missing_parts']");
    b.send_keys("li[data-item='1'] .note", "lid cracked");
    b.send_keys("li[data-item='1'] .photo", photo.to_str().unwrap());
    b.wait_text("li[data-item='1'] .photos", |t| t == "1 photo(s) uploaded");
    // No inspection standard stored: the built-in checklist, every line met.
    b.wait_text("li[data-item='1'] .checks label:nth-child(1)", |t| {
        t == "Packaging complete"
    });
    b.wait_text("li[data-item='1'] .checks label:nth-child(2)", |t| {
        t == "Resellable"
    });
    b.click("li[data-item='1'] .checks input[data-code='packaging_complete']");
    b.click("li[data-item='1'] .checks input[data-code='resellable']");
    b.click("#review");
    b.wait_text("#summary", |t| t == "0 good, 1 defect");
    b.click("#confirm");
    b.wait_text("#result", |t| {
        t == format!("{rid}: 1 item(s) graded defect")
    });
    b.wait_text("#suggest", |t| t == "Suggested: Z-DEFECT");
    let ev: Vec<Value> = st
        .journal()
        .into_iter()
        .filter(|e| e["type"] == "inspection.completed" && e["return_id"] == rid.as_str())
        .collect();
    assert_eq!(ev.len(), 1);
    let data = &ev[0]["data"];
    assert_eq!(data["grade"], "defect");
    assert_eq!(
        data["defect_reasons"],
        json!(["damaged_casing", "missing_parts"])
    );
    assert_eq!(data["note"], "lid cracked");
    assert_eq!(data["photos"].as_array().unwrap().len(), 1, "{data}");
    b.send_keys("#zone", &format!("Z-DEFECT{ENTER}"));
    b.wait_text("#result", |t| t.contains("put away to Defect zone"));
    assert!(count(&st, "ledger.entry", &rid) >= 2);
    drop(b);
    d.stop();
}

/// The answer is lost and the page is reloaded before the network is back: the submit
/// kept in localStorage is resent under its key after the page starts again, and the
/// inspection is applied once.
#[test]
fn handheld_resends_a_kept_submit_after_a_reload() {
    let (st, d, a, rid) = first_checked();
    let b = Browser::start_with(360, 780, true);
    open_and_login(&b, &a);
    b.send_keys("#scan", &format!("{rid}{ENTER}"));
    b.wait_text("#r-id", |t| t == rid);
    b.click("li[data-item='1'] .grade[data-grade='good']");
    b.click("#review");
    b.script(
        "let lost = false; const f = window.fetch; \
         window.fetch = async function (u, o) { \
           if (!String(u).endsWith('/inspect')) return f.apply(this, arguments); \
           if (lost) throw new TypeError('Failed to fetch'); \
           await f.apply(this, arguments); lost = true; throw new TypeError('Failed to fetch'); }; \
         return true;",
    );
    b.click("#confirm");
    b.wait_js("the submit is kept", "document.body.dataset.outbox === '1'");
    assert_eq!(count(&st, "inspection.completed", &rid), 1);

    b.goto(&format!("http://{a}/handheld"));
    b.wait_text("#msg", |t| t == format!("{rid}: 1 item(s) graded good"));
    b.wait_js(
        "outbox empty",
        "localStorage.getItem('returnsd.hh.outbox') === '[]' && document.body.dataset.outbox === '0'",
    );
    assert_eq!(count(&st, "inspection.completed", &rid), 1);
    drop(b);
    d.stop();
}

/// Blind second inspection with the inspection standard's checklist and the result
/// screen: an inspector's API view has no first-check results (a supervisor's has), the
/// checklist is the built-in one until a `default` standard is imported (`manifest
/// import`), the page hides the first check and shows the standard's tick boxes, the
/// unticked line goes in the note, and after confirming it shows the freight decision of
/// `refund.due` (both languages) and the defect tag's preview (a PNG from
/// `GET /print-jobs/{job}/preview.png`).
#[test]
fn handheld_blind_checklist_freight_and_defect_tag_preview() {
    let (st, d, a, rid) = first_checked_with(
        "[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n\n[inspection]\nblind = true\ndefect_photo_required = false",
    );
    let inspector = login(&a, "021", "2222");
    let supervisor = login(&a, "001", "3333");
    let path = format!("/api/v1/returns/{rid}");
    let blind = get(&a, &inspector, &path).json();
    assert_eq!(blind["blind"], true, "{blind}");
    assert!(blind["state"].get("visual").is_none(), "{blind}");
    assert!(blind["state"]["items"][0].get("exception").is_none());
    let types: Vec<&str> = blind["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(!types.contains(&"check.first_completed"), "{types:?}");
    assert!(!types.contains(&"check.visual_recorded"), "{types:?}");
    assert!(!types.contains(&"scan.recorded"), "{types:?}");
    assert_eq!(blind["checklists"][0]["standard"], "builtin");
    assert_eq!(
        blind["checklists"][0]["lines"][1]["label_zh"],
        "不影响二次销售"
    );
    let open = get(&a, &supervisor, &path).json();
    assert_eq!(open["blind"], false);
    assert_eq!(open["state"]["visual"], "ok");
    assert!(types.len() < open["events"].as_array().unwrap().len());
    // The station's journal tells the inspector no first check either: those events keep
    // their seq and type but not their data.
    let journal = |s| get(&a, s, "/api/v1/journal?limit=1000").json();
    let (hidden, shown) = (journal(&inspector), journal(&supervisor));
    let first_check = |j: &serde_json::Value| -> Vec<serde_json::Value> {
        j["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "check.first_completed")
            .cloned()
            .collect()
    };
    assert_eq!(first_check(&shown)[0]["data"]["visual"], "ok", "{shown}");
    assert_eq!(first_check(&hidden)[0]["redacted"], true, "{hidden}");
    assert!(first_check(&hidden)[0]["data"].get("visual").is_none());
    assert_eq!(
        hidden["events"].as_array().unwrap().len(),
        shown["events"].as_array().unwrap().len()
    );

    // A default standard from a file, through `manifest import`.
    let file = st.dir.path().join("standards.jsonl");
    std::fs::write(
        &file,
        r#"{"type":"inspection_standard","key":"default","version":1,"data":{"lines":[{"code":"tags_on","label_zh":"吊牌齐全","label_en":"Tags on"},{"code":"no_odour","label_zh":"无异味","label_en":"No odour"}]}}"#,
    )
    .unwrap();
    let out = st.cli(&["manifest", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let all = get(&a, &inspector, "/api/v1/inspection-standards").json();
    assert_eq!(all["standards"][0]["standard"], "default", "{all}");
    assert_eq!(all["builtin"][0]["code"], "packaging_complete");

    let b = Browser::start_with(360, 780, true);
    open_and_login(&b, &a);
    b.send_keys("#scan", &format!("{rid}{ENTER}"));
    b.wait_text("#r-id", |t| t == rid);
    b.wait_text("#r-visual", |t| {
        t == "Blind inspection: first-check results hidden"
    });
    b.wait_js(
        "first check hidden",
        "document.querySelector(\"li[data-item='1'] .first\").hidden",
    );
    b.wait_text("li[data-item='1'] .checks label:nth-child(1)", |t| {
        t == "Tags on"
    });
    b.wait_text("li[data-item='1'] .checks label:nth-child(2)", |t| {
        t == "No odour"
    });
    b.click("li[data-item='1'] .checks input[data-code='tags_on']");
    b.click("li[data-item='1'] .grade[data-grade='defect']");
    b.click("li[data-item='1'] .reasons button[data-code='damaged_casing']");
    b.click("#review");
    b.wait_text("#summary", |t| t == "0 good, 1 defect");
    b.click("#confirm");
    b.wait_text("#result", |t| {
        t == format!("{rid}: 1 item(s) graded defect")
    });
    let journal = st.journal();
    let done = journal
        .iter()
        .find(|e| e["type"] == "inspection.completed" && e["return_id"] == rid.as_str())
        .unwrap();
    assert_eq!(
        done["data"]["checklist"],
        serde_json::json!([{"code": "tags_on", "met": true}, {"code": "no_odour", "met": false}]),
        "{done}"
    );
    assert_eq!(done["data"]["note"], "", "{done}");
    let detail = get(&a, &supervisor, &path).json();
    assert_eq!(
        detail["state"]["items"][0]["checklist"][1]["met"], false,
        "{detail}"
    );
    let f = &journal
        .iter()
        .find(|e| e["type"] == "refund.due" && e["return_id"] == rid.as_str())
        .unwrap()["data"]["freight"];
    let (fault, out_p, back) = (
        f["fault"].as_str().unwrap(),
        f["outbound"].as_str().unwrap(),
        f["return_leg"].as_str().unwrap(),
    );
    b.wait_text("#freight", |t| {
        t == format!("Freight: fault {fault}; outbound paid by {out_p}; return leg paid by {back}")
    });
    b.wait_js(
        "defect tag preview loaded",
        "(() => { const i = document.querySelector('#tag-imgs img'); \
           return !document.getElementById('tags').hidden && i && i.complete && i.naturalWidth > 100; })()",
    );
    b.screenshot(&screenshots().join("handheld-result-en.png"));
    b.click("#lang");
    b.wait_text("#freight", |t| t.starts_with("运费:责任方 "));
    b.screenshot(&screenshots().join("handheld-result-zh.png"));
    drop(b);

    // The preview endpoint: a PNG for the defect tag job, 404 for none, 400 for junk.
    let jobs = get(&a, &inspector, &path).json()["labels"].clone();
    let tag = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["template"] == "defect_tag")
        .unwrap_or_else(|| panic!("{jobs}"))["id"]
        .as_i64()
        .unwrap();
    let png = get(
        &a,
        &inspector,
        &format!("/api/v1/print-jobs/{tag}/preview.png"),
    );
    assert_eq!(png.status, 200);
    assert_eq!(png.header("content-type").as_deref(), Some("image/png"));
    assert!(png.body.starts_with(b"\x89PNG\r\n\x1a\n"));
    let none = get(&a, &inspector, "/api/v1/print-jobs/999999/preview.png");
    assert_eq!(none.status, 404);
    assert_eq!(none.json()["error"], "not_found");
    let bad = get(&a, &inspector, "/api/v1/print-jobs/x1/preview.png");
    assert_eq!(bad.status, 400);
    d.stop();
}

/// A return with a good and a defective item: after grading, a zone scan that would move
/// both is refused (they go to different zones); scanning the defective item's label picks
/// it and Z-DEFECT puts away just that one; Z-GOOD then the rest. Later, scanning an item
/// label of a graded return in the queue opens its put-away with that item picked.
#[test]
fn handheld_puts_away_by_item_label_and_zone() {
    let st = station("");
    let text = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(
        &st.config,
        format!("{text}\n[inspection]\ndefect_photo_required = false\n"),
    )
    .unwrap();
    manifest(&st);
    let d = st.start();
    let a = addr(&d);
    let r = crate::support::scan_ok(&st, &["OP-017", "SF1000000000001"]);
    let rid = r[1]["return_id"].as_str().unwrap().to_string();
    crate::support::scan_ok(&st, &["CMD-CARD-YES", "CMD-UNPACK", "6901234560015"]);
    // A second kettle: over the manifest (recorded, shown red), still an item to grade.
    let over = crate::support::scan(&st, &["6901234560015"]);
    assert_eq!(over[0]["stored"], true, "{over:?}");
    crate::support::scan_ok(&st, &["CMD-VIS-OK", "Z-PENDING"]);

    let b = Browser::start_with(360, 780, true);
    open_and_login(&b, &a);
    b.send_keys("#scan", &format!("{rid}{ENTER}"));
    b.wait_text("#r-id", |t| t == rid);
    b.click("li[data-item='1'] .grade[data-grade='good']");
    b.click("li[data-item='2'] .grade[data-grade='defect']");
    b.click("li[data-item='2'] .reasons button[data-code='damaged_casing']");
    b.click("#review");
    b.wait_text("#summary", |t| t == "1 good, 1 defect");
    b.click("#confirm");
    b.wait_js("done view", "document.body.dataset.view === 'v-done'");
    b.wait_text("#pa-items li[data-item='2']", |t| t.contains("defect"));
    b.wait_text("#suggest", |t| {
        t == "Good and defect items go to different zones: scan an item label, then its zone"
    });
    b.send_keys("#zone", &format!("Z-GOOD{ENTER}"));
    b.wait_text("#msg", |t| t.starts_with("Good and defect items"));
    b.send_keys("#zone", &format!("{rid}.2{ENTER}"));
    b.wait_js(
        "item 2 picked",
        "document.querySelector(\"#pa-items li[data-item='2']\").dataset.picked === 'true'",
    );
    b.wait_text("#suggest", |t| t == "Suggested: Z-DEFECT");
    b.send_keys("#zone", &format!("Z-DEFECT{ENTER}"));
    b.wait_js(
        "only item 1 left",
        "document.querySelectorAll('#pa-items li').length === 1 && \
         !!document.querySelector(\"#pa-items li[data-item='1']\")",
    );
    // Leave it for now; later the item's label scanned in the queue opens its put-away
    // with that item picked.
    b.click("#next");
    b.wait_js("queue view", "document.body.dataset.view === 'v-queue'");
    b.send_keys("#scan", &format!("{rid}.1{ENTER}"));
    b.wait_js("put-away view", "document.body.dataset.view === 'v-done'");
    b.wait_js(
        "item 1 picked",
        "document.querySelector(\"#pa-items li[data-item='1']\").dataset.picked === 'true'",
    );
    b.wait_text("#suggest", |t| t == "Suggested: Z-GOOD");
    b.send_keys("#zone", &format!("Z-GOOD{ENTER}"));
    b.wait_js(
        "everything put away",
        "document.getElementById('zone-form').hidden",
    );
    let moved: Vec<(u64, String)> = st
        .journal()
        .iter()
        .filter(|e| e["type"] == "item.moved" && e["return_id"] == rid.as_str())
        .filter(|e| e["data"]["from"] == "pending")
        .map(|e| {
            (
                e["data"]["item_no"].as_u64().unwrap(),
                e["data"]["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        moved,
        [(2, "defect".to_string()), (1, "good".to_string())],
        "{moved:?}"
    );
    drop(b);
    d.stop();
}

/// The queue follows the bench live: while the inspector looks at it, the keeper finishes
/// the first check of another parcel and its row appears without touching refresh.
#[test]
fn handheld_queue_follows_first_checks_live() {
    let (st, d, a, rid) = first_checked();
    let b = Browser::start_with(360, 780, true);
    open_and_login(&b, &a);
    b.wait_text(&format!("#queue button[data-id='{rid}'] .qid"), |t| {
        t == rid
    });
    assert_eq!(
        b.script("return document.querySelectorAll('#queue li').length;"),
        1
    );
    // Keeper 017 is still logged in at bench-1: an unannounced parcel, first-checked.
    let r = crate::support::scan_ok(&st, &["SF1000000000077"]);
    let second = r[0]["return_id"].as_str().unwrap().to_string();
    crate::support::scan_ok(
        &st,
        &[
            "CMD-KIND-CUSTOMER",
            "CMD-CARD-YES",
            "CMD-UNPACK",
            "6901234567892",
            "CMD-VIS-OK",
            "Z-PENDING",
        ],
    );
    b.wait_text(&format!("#queue button[data-id='{second}'] .qid"), |t| {
        t == second
    });
    assert_eq!(
        b.script("return document.querySelectorAll('#queue li').length;"),
        2
    );
    drop(b);
    d.stop();
}
