//! Every endpoint of the operator API fuzzed against the daemon's own OpenAPI document
//! (`GET /api/v1/openapi.json`) with schemathesis, through the real binary: no request may
//! get a 5xx answer (schemathesis' `not_a_server_error` check, and every answer in its
//! report looked at again here), the daemon must live through it and stop cleanly, and
//! schemathesis must run and test every documented operation.
//!
//! schemathesis is a Python program: `tests/run-all.sh` installs the pinned version into
//! `target/schemathesis-venv` (`RETURNSD_SCHEMATHESIS` names another executable). The
//! station is seeded first (returns in several stages, a photo, print jobs, an open RTV
//! note) and schemathesis is given their ids as dictionaries, so half of the generated
//! requests reach real returns, bins, notes, photos and jobs instead of stopping at 404.
//!
//! Three passes, each operation as its caller sees it:
//! - a supervisor (who is also a keeper: the widest access), by bearer token, every
//!   operation but `DELETE /session` (it would end the very session the pass uses);
//! - `DELETE /session` alone, with a session of its own that the first request ends;
//! - no session at all, every operation: 401/403/4xx, never 5xx.
//!
//! `RETURNSD_API_FUZZ_EXAMPLES` sets the examples per operation (default
//! [`DEFAULT_EXAMPLES`], about a minute on CI), `RETURNSD_API_FUZZ_SEED` repeats a run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::manifest;
use crate::api_client::{Sess, addr, get, http, login, post, station};
use crate::api_live::jpeg_with_gps;
use crate::support::{Daemon, EVERY, book_in_scans, poll, request, scan_ok, try_poll};

/// Examples per operation and phase of the supervisor's pass by default: with the
/// coverage and stateful phases, about 2,000 requests.
const DEFAULT_EXAMPLES: u32 = 20;

/// Where `tests/run-all.sh` installs schemathesis (the pinned version is checked there and
/// printed by the test).
const SCHEMATHESIS_VENV: &str = "target/schemathesis-venv/bin/schemathesis";

fn schemathesis() -> PathBuf {
    match std::env::var_os("RETURNSD_SCHEMATHESIS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMATHESIS_VENV),
    }
}

fn examples() -> u32 {
    std::env::var("RETURNSD_API_FUZZ_EXAMPLES")
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("RETURNSD_API_FUZZ_EXAMPLES={v}: not a number"))
        })
        .unwrap_or(DEFAULT_EXAMPLES)
        .max(1)
}

/// What the seeded station holds: the values schemathesis draws from.
struct Seed {
    returns: Vec<String>,
    note: String,
    photo: String,
    jobs: Vec<i64>,
    reasons: Vec<String>,
    checklist: Vec<String>,
}

fn ok_json(what: &str, r: crate::api_client::Resp) -> Value {
    assert!(
        (200..300).contains(&r.status),
        "{what}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

fn return_id(reply: &Value) -> String {
    reply["return_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no return id in {reply}"))
        .to_string()
}

/// Returns in every stage the commands act on: waiting for inspection (from the
/// manifest, with a customer), inspected good and put away to a bin, inspected defect
/// with a photo, put away to the defect zone and on an open RTV note, and just received.
fn seed(st: &crate::support::Station, a: &str) -> Seed {
    let keeper = login(a, "017", "1111");
    let inspector = login(a, "021", "2222");
    let reasons: Vec<String> = get(a, &inspector, "/api/v1/defect-reasons").json()["reasons"]
        .as_array()
        .expect("defect reasons")
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect();
    let checklist: Vec<String> =
        get(a, &inspector, "/api/v1/inspection-standards").json()["builtin"]
            .as_array()
            .expect("built-in checklist")
            .iter()
            .map(|l| l["code"].as_str().unwrap().to_string())
            .collect();

    let queued = crate::api::first_check_one(st);

    let good = return_id(&scan_ok(st, &book_in_scans("SF2000000000002"))[1]);
    let inspect = |id: &str, body: Value| {
        let path = format!("/api/v1/returns/{id}/inspect");
        ok_json("inspect", post(a, &inspector, &path, &body));
    };
    let put_away = |id: &str, zone: &str| {
        let path = format!("/api/v1/returns/{id}/put-away");
        ok_json("put-away", post(a, &keeper, &path, &json!({"zone": zone})));
    };
    inspect(&good, json!({"grade": "good"}));
    put_away(&good, "Z-A01");

    let photo = http(
        a,
        "POST",
        "/api/v1/photos",
        &[
            ("Authorization", &inspector.bearer()),
            ("Content-Type", "image/jpeg"),
        ],
        &jpeg_with_gps(),
    );
    let photo = ok_json("photo upload", photo)["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let defect = return_id(&scan_ok(st, &book_in_scans("SF3000000000003"))[1]);
    inspect(
        &defect,
        json!({"grade": "defect", "defect_reasons": [reasons[0]], "photos": [photo]}),
    );
    put_away(&defect, "Z-DEFECT");
    let rtv = json!({"vendor": "ACME", "items": [format!("{defect}.1")]});
    let note =
        ok_json("rtv note", post(a, &keeper, "/api/v1/rtv-notes", &rtv))["params"]["note_no"]
            .as_str()
            .unwrap()
            .to_string();

    let received = return_id(&scan_ok(st, &["OP-017", "SF4000000000004"])[1]);

    let jobs: Vec<i64> = get(a, &keeper, "/api/v1/print-jobs?all=1").json()["jobs"]
        .as_array()
        .expect("print jobs")
        .iter()
        .filter_map(|j| j["id"].as_i64())
        .collect();
    assert!(!jobs.is_empty(), "the seeded returns printed no labels");
    Seed {
        returns: vec![queued, good, defect, received],
        note,
        photo,
        jobs,
        reasons,
        checklist,
    }
}

/// A TOML array of strings (JSON's string escapes are TOML's).
fn strings<S: AsRef<str>>(values: &[S]) -> String {
    let quoted: Vec<String> = values
        .iter()
        .map(|v| Value::from(v.as_ref()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// schemathesis' config: the seeded values as dictionaries, each drawn for half of the
/// generated values of the parameters and body fields it is bound to (the other half is
/// schemathesis' own).
fn config(seed: &Seed) -> String {
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let mut ids = seed.returns.clone();
    ids.push("R-ST01-20260101-0999".into()); // well-formed, unknown
    let items: Vec<String> = seed
        .returns
        .iter()
        .map(|r| format!("{r}.1"))
        .chain(["1".into(), "2".into()])
        .collect();
    let jobs: Vec<String> = seed.jobs.iter().map(i64::to_string).collect();
    let jobs = format!("[{}]", jobs.join(", "));
    let dictionaries: &[(&str, String, &[&str])] = &[
        ("return_ids", strings(&ids), &["path.id", "query.q"]),
        (
            "bins",
            strings(&["A01", "B02", "Z9"]),
            &["path.bin", "body.code"],
        ),
        (
            "notes",
            strings(&[&seed.note, "RTV-ST01-20260101-0999"]),
            &["path.note"],
        ),
        (
            "photos",
            strings(&[&seed.photo]),
            &["path.sha", "body.sha256", "body.photos[*]"],
        ),
        ("jobs", jobs, &["path.job"]),
        ("items", strings(&items), &["body.items[*]"]),
        (
            "reasons",
            strings(&seed.reasons),
            &["body.defect_reasons[*]"],
        ),
        (
            "checklist",
            strings(&seed.checklist),
            &["body.checklist[*].code"],
        ),
        (
            "zones",
            strings(&["Z-A01", "Z-GOOD", "Z-DEFECT", "Z-PENDING", "Z-B02"]),
            &["body.zone"],
        ),
        (
            "waybills",
            strings(&["SF1234567890", "YT9876543210"]),
            &["body.waybill"],
        ),
        (
            "badges",
            strings(&["017", "021", "OP-021"]),
            &["body.badge", "body.unlock_badge"],
        ),
        ("pins", strings(&["1111", "2222"]), &["body.pin"]),
        (
            "stages",
            strings(&[
                "received",
                "first_checked",
                "inspected",
                "put_away",
                "voided",
            ]),
            &["query.stage"],
        ),
        (
            "kinds",
            strings(&["customer_return", "carrier_return", "refused"]),
            &["query.kind"],
        ),
        ("states", strings(&["open", "closed"]), &["query.state"]),
        (
            "dates",
            strings(&[today.as_str(), "2026-02-29"]),
            &["query.date"],
        ),
        (
            "langs",
            strings(&["zh-CN", "en"]),
            &["query.lang", "body.lang"],
        ),
        ("benches", strings(&["bench-1"]), &["query.bench"]),
        ("flags", "[1, 0]".into(), &["query.reveal", "query.all"]),
    ];
    let mut text = String::from(
        "# Written by tests/it/api_fuzz.rs.\n\
         # GET /events never ends: read its first event (hello), then hang up.\n\
         max-stream-events = 1\n\
         request-timeout = 30\n\n",
    );
    let mut bindings = String::from("[parameters]\n");
    for (name, values, keys) in dictionaries {
        text.push_str(&format!("[dictionaries.{name}]\nvalues = {values}\n\n"));
        for key in *keys {
            bindings.push_str(&format!(
                "{} = {{ dictionary = \"{name}\", probability = 0.5 }}\n",
                Value::from(*key)
            ));
        }
    }
    text + &bindings
}

/// One run of `schemathesis run` as the report tells it.
#[derive(Default)]
struct Pass {
    /// `METHOD /path` of every operation schemathesis tested.
    operations: BTreeSet<String>,
    requests: usize,
    statuses: BTreeMap<u16, usize>,
    /// Every 5xx answer: the request and the answer's start.
    server_errors: Vec<String>,
}

/// A body of the report (`{"$base64": …}`) as text, its first 300 characters.
fn decoded(v: &Value) -> String {
    let Some(b64) = v["$base64"].as_str() else {
        return String::new();
    };
    let bytes = crate::browser::base64_decode(b64);
    String::from_utf8_lossy(&bytes).chars().take(300).collect()
}

/// The NDJSON report: every scenario's requests and answers.
fn read_report(path: &Path) -> Pass {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("schemathesis wrote no report {}: {e}", path.display()));
    let mut pass = Pass::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let event: Value = serde_json::from_str(line).expect("NDJSON line");
        let Some(done) = event.get("ScenarioFinished") else {
            continue;
        };
        let recorder = &done["recorder"];
        let label = recorder["label"].as_str().unwrap_or_default();
        if label
            .split_once(' ')
            .is_some_and(|(m, p)| m.chars().all(|c| c.is_ascii_uppercase()) && p.starts_with('/'))
        {
            pass.operations.insert(label.to_string());
        }
        let Some(interactions) = recorder["interactions"].as_object() else {
            continue;
        };
        for i in interactions.values() {
            pass.requests += 1;
            let Some(status) = i["response"]["status_code"].as_u64() else {
                continue;
            };
            let status = status as u16;
            *pass.statuses.entry(status).or_default() += 1;
            if status >= 500 {
                let req = &i["request"];
                pass.server_errors.push(format!(
                    "{status} for {} {} {} -> {}",
                    req["method"].as_str().unwrap_or("?"),
                    req["uri"].as_str().unwrap_or("?"),
                    decoded(&req["body"]),
                    decoded(&i["response"]["content"]),
                ));
            }
        }
    }
    pass
}

/// Run `schemathesis run` on the served document with `args`; its report. Panics with
/// its output if it fails (a 5xx, an error it met) or does not end in time.
fn run_pass(dir: &Path, name: &str, a: &str, examples: u32, args: &[&str]) -> Pass {
    let report = dir.join(format!("{name}.ndjson"));
    let out_path = dir.join(format!("{name}.out"));
    let out = std::fs::File::create(&out_path).unwrap();
    let mut cmd = Command::new(schemathesis());
    cmd.current_dir(dir)
        .arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .arg("run")
        // The served document, from the file `documented` saved: loaded from its URL,
        // schemathesis would leave out the operation that serves it.
        .arg(dir.join("openapi.json"))
        .args(["--url", &format!("http://{a}/api/v1")])
        .args(["--checks", "not_a_server_error"])
        .args(["--max-examples", &examples.to_string()])
        .args(["--workers", "1", "--no-color", "--report", "ndjson"])
        .arg("--report-ndjson-path")
        .arg(&report)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    if let Ok(seed) = std::env::var("RETURNSD_API_FUZZ_SEED") {
        cmd.args(["--seed", &seed]);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run tests/run-all.sh (it installs schemathesis)",
            schemathesis().display()
        )
    });
    // Far beyond a healthy run; a hang fails the test, not the CI job.
    let limit = Duration::from_secs(300 + 20 * u64::from(examples));
    let status = try_poll(limit, EVERY * 10, || child.try_wait().ok().flatten());
    let output = || std::fs::read_to_string(&out_path).unwrap_or_default();
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "schemathesis ({name}) still running after {limit:?}:\n{}",
            tail(&output())
        );
    };
    let pass = read_report(&report);
    assert!(
        status.success() && pass.server_errors.is_empty(),
        "schemathesis ({name}) failed ({status}); 5xx answers:\n{}\n\n{}",
        pass.server_errors.join("\n"),
        tail(&output())
    );
    pass
}

/// The end of a long output (schemathesis prints its failures and summary last).
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(300)..].join("\n")
}

/// The daemon is alive: the process runs, its control socket answers, and the API
/// still knows the supervisor's session.
fn alive(d: &mut Daemon, a: &str, sup: &Sess, after: &str) {
    if let Ok(Some(status)) = d.child.try_wait() {
        panic!(
            "the daemon died during the {after} pass ({status}):\n{}",
            d.finish_log()
        );
    }
    let ping = request(&d.socket, &json!({"op": "ping"}));
    assert!(
        ping.as_ref().is_ok_and(|v| v["ok"] == true),
        "after the {after} pass the control socket answers {ping:?}"
    );
    let me = get(a, sup, "/api/v1/me");
    assert_eq!(me.status, 200, "after the {after} pass: {}", me.text());
}

/// `METHOD /path` of every operation the served document names; the document is saved
/// to `dir` for schemathesis.
fn documented(a: &str, dir: &Path) -> BTreeSet<String> {
    let r = http(a, "GET", "/api/v1/openapi.json", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    std::fs::write(dir.join("openapi.json"), &r.body).unwrap();
    let doc = r.json();
    let mut ops = BTreeSet::new();
    for (path, methods) in doc["paths"].as_object().expect("paths") {
        for m in methods.as_object().expect("methods").keys() {
            ops.insert(format!("{} {path}", m.to_ascii_uppercase()));
        }
    }
    ops
}

fn summary(name: &str, p: &Pass) -> String {
    let statuses: Vec<String> = p.statuses.iter().map(|(s, n)| format!("{s}x{n}")).collect();
    format!(
        "{name}: {} operations, {} requests ({})",
        p.operations.len(),
        p.requests,
        statuses.join(" ")
    )
}

/// Every operation of the OpenAPI document, fuzzed by schemathesis as a supervisor, as
/// a session that logs out, and without a session: no 5xx, the daemon lives through it
/// and stops cleanly.
#[test]
fn every_endpoint_survives_schemathesis() {
    let exe = schemathesis();
    let version = Command::new(&exe).arg("--version").output();
    let version = match version {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        other => panic!(
            "schemathesis is missing at {} ({other:?}): run tests/run-all.sh, which installs \
             it into target/schemathesis-venv (or set RETURNSD_SCHEMATHESIS)",
            exe.display()
        ),
    };
    let started = Instant::now();
    let examples = examples();
    let st = station("");
    // A printer writing each label to a file: the jobs get rendered, so their previews
    // (and the RTV note's, with the vendor schemathesis makes up) are drawn from bytes.
    let mut text = std::fs::read_to_string(&st.config).unwrap();
    text.push_str("\n[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n");
    std::fs::write(&st.config, text).unwrap();
    manifest(&st);
    let mut d = st.start();
    let a = addr(&d);
    let seed = seed(&st, &a);
    let dir = st.dir.path();
    std::fs::write(dir.join("schemathesis.toml"), config(&seed)).unwrap();
    let sup = login(&a, "001", "3333");
    let all = documented(&a, dir);
    assert!(all.len() >= 39, "documented operations: {all:?}");

    // The supervisor: everything but logging out of the session the pass runs on.
    let bearer = format!("Authorization: {}", sup.bearer());
    let supervisor = run_pass(
        dir,
        "supervisor",
        &a,
        examples,
        &["-H", &bearer, "--exclude-name", "DELETE /session"],
    );
    alive(&mut d, &a, &sup, "supervisor");

    // Logging out, on a session of its own (every request after the first is 401).
    let doomed = login(&a, "001", "3333");
    let bearer = format!("Authorization: {}", doomed.bearer());
    let logout = run_pass(
        dir,
        "logout",
        &a,
        examples,
        &["-H", &bearer, "--include-name", "DELETE /session"],
    );
    assert_eq!(get(&a, &doomed, "/api/v1/me").status, 401, "logged out");
    alive(&mut d, &a, &sup, "logout");

    // No session: every operation answers 4xx (the public ones 2xx), never 5xx.
    let anonymous = run_pass(dir, "anonymous", &a, examples.div_ceil(2), &[]);
    alive(&mut d, &a, &sup, "anonymous");

    let with_session: BTreeSet<String> = supervisor
        .operations
        .union(&logout.operations)
        .cloned()
        .collect();
    assert_eq!(with_session, all, "operations tested with a session");
    assert_eq!(
        anonymous.operations, all,
        "operations tested without a session"
    );
    assert!(
        anonymous.statuses.keys().all(|s| *s < 500) && anonymous.requests > all.len(),
        "{}",
        summary("anonymous", &anonymous)
    );

    let log = d.stop();
    assert!(!log.contains("panicked"), "the daemon panicked:\n{log}");
    let requests = supervisor.requests + logout.requests + anonymous.requests;
    println!(
        "api_fuzz: {version}, {examples} examples: {} operations, {requests} requests, no 5xx, {:.0?}",
        all.len(),
        started.elapsed()
    );
    for (name, p) in [
        ("supervisor", &supervisor),
        ("logout", &logout),
        ("anonymous", &anonymous),
    ] {
        println!("api_fuzz:   {}", summary(name, p));
    }
}

/// Found by this fuzz: on a station without a `[printer]`, the preview of a label job
/// that was never rendered (queued, no bytes) answered `500 internal` (and logged a
/// failure); there is no label to show yet, so it is `404 not_found`.
#[test]
fn preview_of_a_job_never_rendered_without_a_printer_is_404_not_500() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    scan_ok(&st, &book_in_scans("SF2000000000002"));
    let keeper = login(&a, "017", "1111");
    let job = poll("the return label's print job", || {
        let jobs = get(&a, &keeper, "/api/v1/print-jobs?all=1").json();
        jobs["jobs"].get(0).cloned()
    });
    assert_eq!(job["bytes"], Value::Null, "never rendered: {job}");
    let path = format!("/api/v1/print-jobs/{}/preview.png", job["id"]);
    let r = get(&a, &keeper, &path);
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("not_found")),
        "{}",
        r.text()
    );
    let log = d.stop();
    assert!(!log.contains("label preview failed"), "{log}");
}
