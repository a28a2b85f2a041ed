//! Secrets never reach the log or the journal: a whole flow through the real daemon
//! binary — operators logging in with PINs (one wrong), announced parcels of named
//! customers received, unpacked and labelled, a push to the central with the station's
//! token, a feed page bringing an operator and a customer, the central pulling with its
//! token — at `debug`, once with text logs and once with JSON logs. Every log line and
//! every journal event is searched for the configured secrets (PINs, both sync tokens, the
//! PIN hashes), the session tokens the API handed out, and the customers' names and
//! phone tails. The config's `Debug` form is held to the same.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use crate::api_client::{Sess, addr, get, http, login, login_resp, phc};
use crate::kit::central::{Central, CentralOptions};
use crate::support::{Daemon, Launch, Station, poll_within, request, scan_ok};

const STATION_TOKEN: &str = "st-7Hq2xV9pLm4Rw8Kc";
const CENTRAL_TOKEN: &str = "ct-Zb5Nf3Yt6Gd1Js0P";
/// Badge → PIN of the config's operators.
const PINS: [(&str, &str); 3] = [("017", "739184"), ("021", "582039"), ("001", "640275")];
/// A PIN typed wrong, and the PIN of the operator the feed brings.
const WRONG_PIN: &str = "915372";
const FEED_PIN: &str = "428613";
/// Announced parcels: waybill, customer name, phone tail (two by manifest, one by feed).
/// The tails are zero-led, a form a log's own numbers (durations, ports, seqs) never take.
const CUSTOMERS: [(&str, &str, &str); 3] = [
    ("SF1000000000011", "欧阳娜娜", "0417"),
    ("SF1000000000012", "Marguerite Okonkwo-Hale", "0853"),
    ("SF1000000000013", "司马相如", "0962"),
];

/// The station: PINs on its operators, inline sync tokens, a central, a directory printer,
/// `log.format` as given; the first two customers imported from a manifest.
fn station(central: &Central, format: &str) -> (Station, Vec<String>) {
    let st = Station::new(&format!(
        "\n[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n\n[log]\nformat = \"{format}\"\n\n\
         [sync]\ncentral_url = \"{}\"\nstation_token = \"{STATION_TOKEN}\"\n\
         central_token = \"{CENTRAL_TOKEN}\"\nbackoff_cap_s = 1\nslow_retry_s = 1\nfeed_poll_s = 1\n",
        central.url()
    ));
    let mut text = std::fs::read_to_string(&st.config).unwrap();
    let mut hashes = Vec::new();
    for (badge, pin) in PINS {
        let hash = phc(pin);
        let at = format!("badge = \"{badge}\"\n");
        text = text.replace(&at, &format!("{at}pin_hash = \"{hash}\"\n"));
        hashes.push(hash);
    }
    std::fs::write(&st.config, text).unwrap();
    let m = st.dir.path().join("m.jsonl");
    let mut f = std::fs::File::create(&m).unwrap();
    for (waybill, name, tail) in &CUSTOMERS[..2] {
        let line = json!({"waybill": waybill, "version": 1, "kind": "customer_return",
            "order_no": "O-1", "customer_name": name, "customer_phone_tail": tail,
            "items": [{"sku": "SKU-A", "barcode": "6901234567892", "name": "Kettle", "qty": 1}]});
        writeln!(f, "{line}").unwrap();
    }
    let out = st.cli(&["manifest", "import", m.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    (st, hashes)
}

fn sync_status(st: &Station) -> serde_json::Value {
    request(&st.socket(), &json!({"op": "sync_status"})).expect("sync_status")
}

/// Logs every operator in (and one wrong PIN), reads with each session; returns the
/// session tokens handed out.
fn log_in_everyone(a: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for (badge, pin) in PINS {
        let s = login(a, badge, pin);
        assert_eq!(get(a, &s, "/api/v1/me").status, 200);
        tokens.extend([s.token, s.csrf]);
    }
    assert_eq!(
        login_resp(a, "017", WRONG_PIN).status,
        401,
        "a wrong PIN refused"
    );
    tokens
}

/// The central's feed brings an operator with a PIN and a third customer; the operator
/// logs in. Returns the session's tokens.
fn feed_brings_operator_and_customer(st: &Station, central: &Central, a: &str) -> Vec<String> {
    let (waybill, name, tail) = CUSTOMERS[2];
    central.publish(
        "expected_return",
        waybill,
        1,
        Some(json!({"kind": "refused", "customer_name": name, "customer_phone_tail": tail})),
    );
    let hash = phc(FEED_PIN);
    let roles = json!({"name": "Feed Inspector", "roles": ["inspector"], "pin_hash": hash});
    let last = central.publish("operator", "061", 1, Some(roles));
    poll_within(Duration::from_secs(20), "the feed applied", || {
        (sync_status(st)["feed"]["cursor"] == last.as_str()).then_some(())
    });
    let s: Sess = login(a, "061", FEED_PIN);
    vec![s.token, s.csrf, hash]
}

/// The central pulls a page with its token (and someone tries a wrong one).
fn central_pulls(st: &Station, a: &str) {
    let ping = request(&st.socket(), &json!({"op": "ping"})).unwrap();
    let epoch = ping["epoch"].as_str().unwrap().to_string();
    let path = format!("/v1/sync/events?epoch={epoch}&after=0&limit=5");
    let pull = |token: &str| {
        let auth = format!("Bearer {token}");
        http(a, "GET", &path, &[("Authorization", &auth)], b"").status
    };
    assert_eq!(pull(CENTRAL_TOKEN), 200);
    assert_eq!(pull("not-the-central-token"), 401);
}

/// Waits until the central holds the whole journal (pushed with the station's token).
fn pushed(st: &Station, central: &Central) {
    let last = st.journal().len() as i64;
    let epoch = request(&st.socket(), &json!({"op": "ping"})).unwrap()["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    central.wait_until(Duration::from_secs(30), "the journal pushed", |c| {
        c.acked_through(&epoch) >= last
    });
}

/// One run of the flow with logs in `format`: the whole log and the secrets it made.
fn run(st: &Station, central: &Central, first: bool) -> (String, Vec<String>) {
    let d: Daemon = Launch::new(&st.config, &st.socket())
        .env("RETURNSD_LOG", "debug")
        .start();
    let a = addr(&d);
    let mut secrets = log_in_everyone(&a);
    if first {
        let (wb1, wb2) = (CUSTOMERS[0].0, CUSTOMERS[1].0);
        scan_ok(
            st,
            &[
                "OP-017",
                wb1,
                "CMD-UNPACK",
                "6901234567892",
                "CMD-VIS-OK",
                "CMD-DONE",
            ],
        );
        scan_ok(st, &[wb2, "CMD-UNPACK", "CMD-CANCEL"]);
        secrets.extend(feed_brings_operator_and_customer(st, central, &a));
        poll_within(Duration::from_secs(20), "the labels printed", || {
            (d.log_text().matches("label printed").count() >= 2).then_some(())
        });
    } else {
        scan_ok(st, &["OP-001", CUSTOMERS[2].0, "CMD-UNPACK"]);
    }
    central_pulls(st, &a);
    pushed(st, central);
    (d.stop(), secrets)
}

/// Whether `secret` stands in `hay`. A secret made of digits (a PIN, a phone tail) counts
/// only as a whole number: inside a longer one (a timestamp's fraction, a seq) it is not it.
pub(crate) fn leaked(hay: &str, secret: &str) -> bool {
    if !secret.bytes().all(|b| b.is_ascii_digit()) {
        return hay.contains(secret);
    }
    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
    hay.match_indices(secret).any(|(i, _)| {
        !digit(hay[..i].chars().next_back()) && !digit(hay[i + secret.len()..].chars().next())
    })
}

/// What [`leaked`] finds: a name anywhere, a PIN as a whole number but not inside another.
#[test]
fn a_leak_is_a_whole_word() {
    for hay in ["pin=739184", "\"pin\":\"739184\"", "739184x"] {
        assert!(leaked(hay, "739184"), "{hay}");
    }
    assert!(leaked("customer=客户欧阳娜娜", "欧阳娜娜"));
    for hay in ["t=08:15:33.7391845Z", "seq=1739184", "x"] {
        assert!(!leaked(hay, "739184"), "{hay}");
    }
}

/// No PIN, sync token, PIN hash, session token, customer name or phone tail in any line of
/// the text log, the JSON log, or any journal event.
#[test]
fn no_secret_or_customer_data_in_logs_or_journal() {
    let central = Central::start(CentralOptions {
        station_token: STATION_TOKEN.into(),
        central_token: CENTRAL_TOKEN.into(),
        ..CentralOptions::default()
    });
    let (st, hashes) = station(&central, "text");
    let (text_log, mut secrets) = run(&st, &central, true);
    let config = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(
        &st.config,
        config.replace("format = \"text\"", "format = \"json\""),
    )
    .unwrap();
    let (json_log, more) = run(&st, &central, false);
    secrets.extend(more);
    secrets.extend(hashes);
    secrets.extend([STATION_TOKEN, CENTRAL_TOKEN, WRONG_PIN, FEED_PIN].map(String::from));
    secrets.extend(PINS.iter().map(|(_, pin)| pin.to_string()));
    for (_, name, tail) in CUSTOMERS {
        secrets.extend([name.to_string(), tail.to_string()]);
    }
    assert!(
        text_log.contains("label printed") && text_log.contains(" INFO "),
        "{text_log}"
    );
    assert!(
        json_log.lines().all(|l| l.starts_with('{')),
        "JSON lines:\n{json_log}"
    );
    let journal: Vec<String> = st.journal().iter().map(|e| e.to_string()).collect();
    assert!(
        journal.iter().any(|e| e.contains(CUSTOMERS[2].0)),
        "the feed's parcel received"
    );
    for secret in &secrets {
        for line in text_log.lines().chain(json_log.lines()) {
            assert!(!leaked(line, secret), "{secret:?} in the log: {line}");
        }
        for event in &journal {
            assert!(!leaked(event, secret), "{secret:?} in the journal: {event}");
        }
    }
}

/// The loaded config's `Debug` form (what a log of it would show) holds no token and no
/// PIN hash, though the file has them inline.
#[test]
fn config_debug_shows_no_secret() {
    let central = Central::start(CentralOptions::default());
    let (st, hashes) = station(&central, "text");
    let cfg = returnsd::config::load_with_env(&st.config, &[]).expect("config loads");
    let shown = format!("{cfg:?} {cfg:#?}");
    assert!(
        shown.contains("ST01") && shown.contains("<redacted>"),
        "{shown}"
    );
    for secret in hashes
        .iter()
        .map(String::as_str)
        .chain([STATION_TOKEN, CENTRAL_TOKEN])
    {
        assert!(
            !shown.contains(secret),
            "{secret} in the config's Debug: {shown}"
        );
    }
}
