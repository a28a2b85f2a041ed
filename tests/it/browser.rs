//! The kiosk in a real headless Chromium, driven over WebDriver by a minimal client (the
//! kit's HTTP/1.1 client over a TcpStream to `chromedriver`): the page follows scans live,
//! shows refusals in red, switches language, shows the printer's state; screenshots of
//! both languages are left in `target/screenshots/`.
//!
//! Chromium and chromedriver are required (Debian `chromium`, `chromium-driver`; installed by
//! `tests/run-all.sh`): without them these tests FAIL, they never skip.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api_client::addr as http_addr;
use crate::kiosk::kiosk_station;
use crate::kit::http::exchange;
use crate::support::{scan, scan_ok, try_poll};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How often a wait looks at the page: each look is a WebDriver round trip through
/// Chromium, so less often than the kit's 20 ms.
const LOOK_EVERY: Duration = Duration::from_millis(50);

fn find_program(env: &str, names: &[&str]) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "{} not found (set {env} or install Debian's chromium and chromium-driver: \
         `apt-get install -y chromium chromium-driver`; tests/run-all.sh does this)",
        names.join(" / ")
    );
}

/// One HTTP/1.1 request to chromedriver; the reply's JSON `value`, or a panic naming the
/// WebDriver error.
fn wd(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    wd_try(port, method, path, body).unwrap_or_else(|e| panic!("{e}"))
}

/// The same, with a WebDriver error (e.g. a stale element) as `Err`.
fn wd_try(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let addr = format!("127.0.0.1:{port}");
    let s = TcpStream::connect(&addr).expect("connect to chromedriver");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    // chromedriver answers `Connection: close` but leaves the socket open: the kit's
    // client reads the answer by its framing, not to the end of the stream.
    let r = exchange(
        s,
        &addr,
        method,
        path,
        &[("Content-Type", "application/json; charset=utf-8")],
        body.as_bytes(),
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: bad JSON ({e}): {}",
            String::from_utf8_lossy(&r.body)
        )
    });
    if r.status != 200 {
        return Err(format!("{method} {path}: {}\n{v}", r.head));
    }
    Ok(v["value"].clone())
}

/// Standard base64 (padding and anything outside the alphabet skipped).
pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A chromedriver process with one headless Chromium session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start chromedriver on a free port and open a session (fresh profile directory).
    pub fn start(width: u32, height: u32) -> Browser {
        Browser::start_with(width, height, false)
    }

    /// With `phone`, the page is laid out as on a phone of `width` CSS pixels (a desktop
    /// window cannot be narrower than about 500 px).
    pub fn start_with(width: u32, height: u32, phone: bool) -> Browser {
        let chromium = find_program(
            "CHROME_BIN",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let driver_bin = find_program("CHROMEDRIVER", &["chromedriver"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));
        let profile = tempfile::tempdir().unwrap();
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        try_poll(Duration::from_secs(20), LOOK_EVERY, || {
            TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| wd(port, "GET", "/status", None))
                .filter(|v| v["ready"] == true)
        })
        .expect("chromedriver ready within 20 s");
        let mut caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--autoplay-policy=no-user-gesture-required",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", b._profile.path().display()),
                ],
            },
        }}});
        if phone {
            caps["capabilities"]["alwaysMatch"]["goog:chromeOptions"]["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2}});
        }
        let v = wd(port, "POST", "/session", Some(&caps));
        b.session = v["sessionId"].as_str().expect("sessionId").to_string();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        wd(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        )
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// The element's id, or None when nothing matches.
    pub fn find(&self, css: &str) -> Option<String> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()?.first()?[ELEMENT].as_str().map(str::to_string)
    }

    /// The element's rendered text; None when it is missing or was just re-rendered.
    pub fn text(&self, css: &str) -> Option<String> {
        let id = self.find(css)?;
        let path = format!("/session/{}/element/{id}/text", self.session);
        match wd_try(self.port, "GET", &path, None) {
            Ok(v) => v.as_str().map(str::to_string),
            Err(e) if e.contains("stale element reference") => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// Act on the element `css` names. Live pages re-render lists when the station's
    /// events arrive: an element replaced between finding it and acting on it (a stale
    /// element) is found again, within a deadline; nothing was done to the stale one.
    fn act(&self, css: &str, action: &str, body: Value) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let id = self.find(css).unwrap_or_else(|| panic!("no {css}"));
            let path = format!("/session/{}/element/{id}/{action}", self.session);
            match wd_try(self.port, "POST", &path, Some(&body)) {
                Ok(_) => return,
                Err(e) if e.contains("stale element") && std::time::Instant::now() < deadline => {}
                Err(e) => panic!("{css}: {e}"),
            }
        }
    }

    pub fn click(&self, css: &str) {
        self.act(css, "click", json!({}));
    }

    #[allow(dead_code)]
    pub fn send_keys(&self, css: &str, keys: &str) {
        self.act(css, "value", json!({"text": keys}));
    }

    pub fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    pub fn screenshot(&self, out: &Path) {
        let v = self.call("GET", "/screenshot", None);
        let png = base64_decode(v.as_str().expect("base64 PNG"));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(out, png).unwrap();
    }

    /// Wait until `css`'s text satisfies `want`, or fail showing the last text.
    pub fn wait_text(&self, css: &str, want: impl Fn(&str) -> bool) -> String {
        let mut last = None;
        try_poll(Duration::from_secs(20), LOOK_EVERY, || {
            let t = self.text(css);
            if let Some(t) = &t
                && want(t)
            {
                return Some(t.clone());
            }
            last = t.or(last.take());
            None
        })
        .unwrap_or_else(|| panic!("{css}: text never matched, last {last:?}"))
    }

    /// Wait until `js` (an expression) is true.
    pub fn wait_js(&self, what: &str, js: &str) {
        try_poll(Duration::from_secs(20), LOOK_EVERY, || {
            (self.script(&format!("return !!({js});")) == true).then_some(())
        })
        .unwrap_or_else(|| panic!("timed out waiting for {what}"));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = std::panic::catch_unwind(|| self.call("DELETE", "", None));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where browser tests save their screenshots (test artifacts; copies live in `docs/`).
pub fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
}

/// The kiosk follows scans live: operator, return id, green banner, item counts, the
/// printer ok; then switching to Chinese changes every text; screenshots of both.
#[test]
fn kiosk_follows_scans_live_in_both_languages() {
    let t0 = Instant::now();
    let st = kiosk_station();
    let d = st.start();
    let addr = http_addr(&d);
    let b = Browser::start(1600, 1000);
    b.goto(&format!("http://{addr}/kiosk?bench=bench-1"));
    b.wait_text("#live", |t| t == "live");
    b.wait_text("#operator", |t| t == "nobody logged in");
    b.wait_text("#next-step", |t| t == "Scan your badge to log in");
    b.wait_text("li[data-kind=printer] .dstate", |t| t == "ok");

    let r = scan_ok(&st, &["OP-017", "SF1000000000001"]);
    let rid = r[1]["return_id"].as_str().unwrap().to_string();
    b.wait_text("#return-id", |t| t == rid);
    b.wait_text("#operator", |t| t == "017 · keeper");
    b.wait_text("#banner-text", |t| {
        t.starts_with(&format!("Received {rid}: customer return"))
    });
    b.wait_js(
        "green banner",
        "document.getElementById('banner').dataset.state === 'ok'",
    );
    b.wait_text("#r-customer", |t| t == "张**");

    scan_ok(&st, &["CMD-UNPACK", "6901234560015", "6901234560022"]);
    b.wait_text("tr[data-sku='SKU-A'] .scanned", |t| t == "1");
    b.wait_text("tr[data-sku='SKU-B'] .scanned", |t| t == "1");
    b.wait_text("tr[data-sku='SKU-B'] .expected", |t| t == "2");
    b.wait_text("tr[data-sku='SKU-A'] .st", |t| t == "matches");
    b.wait_text("#banner-text", |t| t == "SKU-B: 1/2");
    b.wait_text("#next-step", |t| {
        t == "Scan more items, or the visual result"
    });
    b.wait_text("#count-labels", |t| t == "1");
    b.wait_text("#count-received", |t| t == "1");
    let body = b.text("body").unwrap_or_default();
    assert!(!body.contains("三丰"), "the customer's name is masked");
    b.screenshot(&screenshots().join("kiosk-en.png"));

    b.click("#lang");
    b.wait_text("#next-step", |t| t == "继续扫描商品,或扫描外观结果");
    b.wait_text("#banner-text", |t| t == "SKU-B:1/2");
    b.wait_text("tr[data-sku='SKU-A'] .st", |t| t == "相符");
    b.wait_text("li[data-kind=printer] .dstate", |t| t == "正常");
    b.wait_text("#r-kind", |t| t == "自退件");
    b.wait_text("#lang", |t| t == "English");
    b.wait_js(
        "lang attribute",
        "document.documentElement.lang === 'zh-CN'",
    );
    b.screenshot(&screenshots().join("kiosk-zh.png"));
    eprintln!("browser test took {:?}", t0.elapsed());
    drop(b);
    d.stop();
}

/// A refused scan turns the banner red with the translated reason; an over-scan is marked;
/// the chosen language is remembered across a reload; the page fits 360 px.
#[test]
fn kiosk_shows_refusals_in_red_and_remembers_the_language() {
    let st = kiosk_station();
    let d = st.start();
    let addr = http_addr(&d);
    let b = Browser::start_with(360, 780, true);
    b.goto(&format!("http://{addr}/kiosk?bench=bench-1"));
    b.wait_text("#live", |t| t == "live");
    scan_ok(&st, &["OP-017", "SF1000000000001", "CMD-UNPACK"]);
    b.wait_text("#next-step", |t| t == "Scan each item");
    let refused = scan(&st, &["CMD-UNPACK"]);
    assert_eq!(refused[0]["ok"], false);
    b.wait_text("#banner-text", |t| t == "Already unpacked");
    b.wait_js(
        "red banner",
        "document.getElementById('banner').dataset.state === 'refused'",
    );
    b.wait_text("#banner-code", |t| t == "Scanned: CMD-UNPACK");
    scan_ok(&st, &["6901234560015"]);
    b.wait_js(
        "green banner, no code shown",
        "document.getElementById('banner').dataset.state === 'ok' && document.getElementById('banner-code').hidden",
    );
    // A garbled read: the code is shown as the journal keeps it (control characters
    // named, `<ESC>`), cut short.
    let garbled = format!("BAD\u{1b}[2J{}", "Z".repeat(60));
    assert_eq!(scan(&st, &[garbled.as_str()])[0]["ok"], false);
    b.wait_text("#banner-code", |t| {
        t == format!("Scanned: BAD<ESC>[2J{}…", "Z".repeat(29))
    });
    assert_eq!(scan(&st, &["6901234560015"])[0]["ok"], false);
    b.wait_text("#banner-text", |t| t == "Over! SKU-A: 2/1");
    b.wait_js(
        "red banner for an over item",
        "document.getElementById('banner').dataset.state === 'refused'",
    );
    b.wait_text("tr[data-sku='SKU-A'] .st", |t| t == "over");
    b.wait_js(
        "over row marked",
        "document.querySelector(\"tr[data-sku='SKU-A']\").dataset.status === 'over'",
    );
    b.wait_js(
        "360 px wide, no horizontal scroll",
        "window.innerWidth === 360 && document.documentElement.scrollWidth <= 360",
    );
    b.screenshot(&screenshots().join("kiosk-en-360.png"));
    b.click("#lang");
    b.wait_text("#next-step", |t| t == "继续扫描商品,或扫描外观结果");
    b.goto(&format!("http://{addr}/kiosk?bench=bench-1"));
    b.wait_text("#next-step", |t| t == "继续扫描商品,或扫描外观结果");
    b.wait_text("tr[data-sku='SKU-A'] .st", |t| t == "多件");
    b.wait_text("#live", |t| t == "实时");
    drop(b);
    d.stop();
}
