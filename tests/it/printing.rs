//! The durable print queue through the real daemon, against fake printer firmware on
//! loopback TCP and on pseudo-terminals: jobs are confirmed only when the printer says so,
//! faults and silence are alarms (never "ok"), an offline printer keeps the job queued
//! across a kill -9, a secondary printer takes over, reprints are explicit and counted.

use serde_json::{Value, json};

use crate::fake_printer::{FakePrinter, Mode};
use crate::kit::control::devices;
use crate::kit::pty::pty;
use crate::support::{Daemon, Station, poll, request, scan_ok};

/// Every print job, via `returnsd print queue --all --json`.
fn jobs(st: &Station) -> Vec<Value> {
    let out = st.cli(&["print", "queue", "--all", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn wait_job(st: &Station, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    poll(what, || jobs(st).into_iter().find(|j| f(j)))
}

fn device(d: &Daemon, id: &str) -> Value {
    devices(&d.socket)
        .into_iter()
        .find(|e| e["id"] == id)
        .unwrap_or(Value::Null)
}

fn wait_device(d: &Daemon, id: &str, state: &str) -> Value {
    poll(&format!("{id} {state}"), || {
        let e = device(d, id);
        (e["state"] == state).then_some(e)
    })
}

/// Receive and unpack one parcel; returns the return id.
fn unpack(st: &Station, waybill: &str) -> String {
    let r = scan_ok(st, &["OP-017", waybill, "CMD-KIND-CUSTOMER", "CMD-UNPACK"]);
    r[1]["return_id"].as_str().unwrap().to_string()
}

fn printer_cfg(kind_and_where: &str, language: &str, extra: &str) -> String {
    format!(
        "[printer]\n{kind_and_where}\nlanguage = \"{language}\"\nstatus_interval_s = 1\nconfirm_timeout_ms = 2000\nretry_cap_s = 1\n{extra}"
    )
}

/// A station printing to a fake TCP printer in `mode`, speaking TSPL or ZPL.
fn tcp_station(tspl: bool, mode: Mode) -> (FakePrinter, Station) {
    let p = FakePrinter::tcp(tspl, mode);
    let st = Station::new(&printer_cfg(
        &format!("kind = \"tcp\"\naddress = \"{}\"", p.addr.unwrap()),
        if tspl { "tspl" } else { "zpl" },
        "",
    ));
    (p, st)
}

/// A healthy ZPL printer on TCP gets the label once; the job is confirmed, and the bytes
/// kept with the job are exactly the bytes the printer received.
#[test]
fn tcp_job_is_confirmed_and_kept_exactly_as_sent() {
    let (p, st) = tcp_station(false, Mode::Ok);
    let d = st.start();
    let id = unpack(&st, "SF1000000000001");
    let j = wait_job(&st, "the job confirmed", |j| j["state"] == "confirmed");
    assert_eq!(j["subject"], id.as_str());
    assert_eq!(j["reason"], "first");
    assert_eq!(j["printer"], "primary");
    let printed = p.printed();
    assert_eq!(printed.len(), 1, "one label, printed once");
    assert!(String::from_utf8_lossy(&printed[0]).contains(&id));
    // Exactly as sent: the connection that carried the label held the job's bytes plus
    // the status queries that followed it.
    let conn = p
        .lock()
        .connections
        .iter()
        .find(|c| c.starts_with(b"^XA"))
        .cloned()
        .unwrap();
    let queries = conn.windows(3).filter(|w| w == b"~HS").count();
    assert_eq!(
        j["bytes"].as_u64().unwrap() as usize,
        conn.len() - 3 * queries
    );
    // The journal says which event asked for it.
    let journal = st.journal();
    let ev = journal
        .iter()
        .find(|e| e["type"] == "label.printed")
        .unwrap();
    assert!(j["seq"].as_i64().unwrap() >= ev["seq"].as_i64().unwrap());
    assert_eq!(wait_device(&d, "printer:primary", "ok")["alarm"], false);
    d.stop();
}

/// Paper out: the job is sent but not confirmed, the printer is a fault alarm (devices op
/// and /metrics); when the paper is back the held label prints and the status poll
/// confirms the job.
#[test]
fn paper_out_is_an_alarm_and_the_job_confirms_after_the_fix() {
    let (p, st) = tcp_station(false, Mode::PaperOut);
    let d = st.start();
    unpack(&st, "SF1000000000002");
    let j = wait_job(&st, "the job sent", |j| j["state"] == "sent");
    assert!(
        j["last_error"].as_str().unwrap().contains("paper_out"),
        "{j}"
    );
    let dev = wait_device(&d, "printer:primary", "fault");
    assert_eq!(dev["faults"], json!(["paper_out", "paused"]));
    assert_eq!(dev["alarm"], true);
    let ping = request(&d.socket, &json!({"op": "ping"})).unwrap();
    let metrics =
        crate::api_client::http(ping["http"].as_str().unwrap(), "GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("returnsd_printer_fault{id=\"printer:primary\",fault=\"paper_out\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("returnsd_device_alarm{id=\"printer:primary\",kind=\"printer\"} 1"));
    let live = st.cli(&["devices", "--live"]);
    let text = String::from_utf8_lossy(&live.stdout).into_owned();
    assert_eq!(live.status.code(), Some(1), "an alarm: exit 1\n{text}");
    assert!(
        text.contains("!!") && text.contains("fault: paper out, paused"),
        "{text}"
    );
    assert!(p.printed().is_empty(), "nothing printed while out of paper");
    p.set_mode(Mode::Ok);
    wait_job(&st, "the job confirmed after the fix", |j| {
        j["state"] == "confirmed"
    });
    assert_eq!(p.printed().len(), 1);
    wait_device(&d, "printer:primary", "ok");
    d.stop();
}

/// A printer that never answers its status query is "unknown" — an alarm, never "ok" —
/// and its job stays "sent", not confirmed.
#[test]
fn a_silent_printer_is_unknown_never_ok() {
    let (p, st) = tcp_station(false, Mode::Silent);
    let d = st.start();
    unpack(&st, "SF1000000000003");
    let j = wait_job(&st, "the job sent", |j| j["state"] == "sent");
    assert!(j["last_error"].as_str().unwrap().contains("unknown"));
    let dev = wait_device(&d, "printer:primary", "unknown");
    assert_eq!(dev["alarm"], true);
    // Further polls do not turn it ok or confirm the job.
    let q = p.lock().queries;
    p.wait_for("another status poll", |s| s.queries > q);
    assert_eq!(device(&d, "printer:primary")["state"], "unknown");
    assert_eq!(jobs(&st)[0]["state"], "sent");
    d.stop();
}

/// A printer answering garbage to its status query (`~HS` on ZPL, `ESC ! ?` on TSPL) is
/// an alarm, never "ok", and its job stays "sent", not confirmed, for as
/// many polls as it keeps doing so; when it answers properly again the job confirms, and
/// the daemon never fell over.
#[test]
fn a_printer_answering_garbage_is_unknown_and_confirms_nothing() {
    for (tspl, language, waybill) in [
        (false, "zpl", "SF1000000000031"),
        (true, "tspl", "SF1000000000032"),
    ] {
        let (p, st) = tcp_station(tspl, Mode::Garbage);
        let d = st.start();
        unpack(&st, waybill);
        wait_job(&st, "the job sent", |j| j["state"] == "sent");
        // ZPL's answer is no status at all: unknown. TSPL's is one byte whatever it
        // holds, and 0xFF sets every fault bit: a fault. Either way an alarm, never ok.
        let alarm = if tspl { "fault" } else { "unknown" };
        let dev = wait_device(&d, "printer:primary", alarm);
        assert_eq!(dev["alarm"], true, "{language}: {dev}");
        let q = p.lock().queries;
        p.wait_for("three more garbage answers", |s| s.queries >= q + 3);
        let dev = device(&d, "printer:primary");
        assert!(
            dev["alarm"] == true && dev["state"] != "ok",
            "{language}: {dev}"
        );
        assert_eq!(jobs(&st)[0]["state"], "sent", "{language}");
        assert_eq!(p.printed().len(), 1, "{language}: the label itself printed");
        p.set_mode(Mode::Ok);
        wait_job(&st, "the job confirmed once the answers are sound", |j| {
            j["state"] == "confirmed"
        });
        wait_device(&d, "printer:primary", "ok");
        assert_eq!(p.printed().len(), 1, "{language}: printed once");
        d.stop();
    }
}

/// A printer that goes away with the job in hand (power-cycled, unplugged): the
/// connection closes before it answers the status query, and it comes back idle with an
/// empty buffer. The job is not taken as printed — before the fix the next status poll saw
/// "idle" and confirmed a label that never came out — it is sent again and printed once.
#[test]
fn a_printer_vanishing_mid_job_gets_the_label_again() {
    for (tspl, language, waybill) in [
        (false, "zpl", "SF1000000000033"),
        (true, "tspl", "SF1000000000034"),
    ] {
        let (p, st) = tcp_station(tspl, Mode::VanishMidJob);
        let d = st.start();
        unpack(&st, waybill);
        let j = wait_job(&st, "the job confirmed", |j| j["state"] == "confirmed");
        assert_eq!(p.lock().vanished, 1, "{language}: the first copy went away");
        assert_eq!(p.printed().len(), 1, "{language}: the label came out once");
        assert_eq!(j["attempts"], 2, "{language}: sent twice: {j}");
        d.stop();
    }
}

/// The same after the printer was down for two attempts: failed connections do not use up
/// the resend (before, a job with two failed attempts behind it was left `sent` when the
/// printer vanished with it, and the next "idle" confirmed a label that never came out).
#[test]
fn a_printer_vanishing_after_being_down_still_gets_the_label_again() {
    let (p, st) = tcp_station(false, Mode::Down);
    let d = st.start();
    unpack(&st, "SF1000000000035");
    wait_job(&st, "two failed attempts", |j| {
        j["state"] == "queued" && j["attempts"].as_i64().unwrap() >= 2
    });
    p.set_mode(Mode::VanishMidJob);
    wait_job(&st, "the job confirmed", |j| j["state"] == "confirmed");
    assert_eq!(p.lock().vanished, 1, "the first copy went away");
    assert_eq!(p.printed().len(), 1, "the label came out once");
    d.stop();
}

/// An unreachable printer: the job stays queued with its attempts and error; a kill -9
/// loses nothing; when the printer is back the restarted daemon prints it, once.
#[test]
fn offline_printer_keeps_the_job_across_kill9() {
    let (p, st) = tcp_station(false, Mode::Down);
    let d = st.start();
    let id = unpack(&st, "SF1000000000004");
    let j = wait_job(&st, "two failed attempts", |j| {
        j["state"] == "queued" && j["attempts"].as_i64().unwrap() >= 2
    });
    assert!(j["last_error"].as_str().is_some(), "{j}");
    let dev = wait_device(&d, "printer:primary", "offline");
    assert_eq!(dev["alarm"], true);
    let text = String::from_utf8_lossy(&st.cli(&["print", "queue"]).stdout).into_owned();
    assert!(text.contains(&id) && text.contains("queued"), "{text}");
    d.kill9();
    p.set_mode(Mode::Ok);
    let d = st.start();
    wait_job(&st, "the job confirmed after restart", |j| {
        j["state"] == "confirmed"
    });
    assert_eq!(p.printed().len(), 1, "printed exactly once");
    d.stop();
}

/// With the primary down, jobs fail over to the secondary (a TSPL printer here), rendered
/// in the secondary's language.
#[test]
fn jobs_fail_over_to_the_secondary_printer() {
    let primary = FakePrinter::tcp(false, Mode::Down);
    let secondary = FakePrinter::tcp(true, Mode::Ok);
    let st = Station::new(&printer_cfg(
        &format!(
            "kind = \"tcp\"\naddress = \"{}\"\nfailover_after = 1",
            primary.addr.unwrap()
        ),
        "zpl",
        &format!(
            "[printer.secondary]\nkind = \"tcp\"\naddress = \"{}\"\nlanguage = \"tspl\"\n",
            secondary.addr.unwrap()
        ),
    ));
    let d = st.start();
    let id = unpack(&st, "SF1000000000005");
    let j = wait_job(&st, "confirmed by the secondary", |j| {
        j["state"] == "confirmed"
    });
    assert_eq!(j["printer"], "secondary");
    assert_eq!(j["language"], "tspl");
    let printed = secondary.printed();
    assert_eq!(printed.len(), 1);
    let text = String::from_utf8_lossy(&printed[0]);
    assert!(text.starts_with("SIZE ") && text.contains(&id), "{text}");
    assert!(primary.printed().is_empty());
    wait_device(&d, "printer:secondary", "ok");
    assert_eq!(device(&d, "printer:primary")["state"], "offline");
    d.stop();
}

/// A serial printer on a pty: the job goes down the line, `~HS` comes back, confirmed.
#[test]
fn serial_printer_on_a_pty() {
    // The firmware reads the master side with plain blocking I/O.
    let pty = pty();
    let path = pty.path;
    let p = FakePrinter::on_pty(false, Mode::Ok, pty.master);
    let st = Station::new(&printer_cfg(
        &format!("kind = \"serial\"\npath = \"{path}\"\nbaud = 9600"),
        "zpl",
        "",
    ));
    let d = st.start();
    let id = unpack(&st, "SF1000000000006");
    wait_job(&st, "confirmed over serial", |j| j["state"] == "confirmed");
    assert!(String::from_utf8_lossy(&p.printed()[0]).contains(&id));
    d.stop();
    drop(pty.slave);
}

/// A reprint is an explicit, journaled command with a reason; it queues a second job
/// marked `reprint`, and both labels come out.
#[test]
fn reprint_is_explicit_counted_and_printed() {
    let (p, st) = tcp_station(true, Mode::Ok);
    let d = st.start();
    let id = unpack(&st, "SF1000000000007");
    wait_job(&st, "first confirmed", |j| j["state"] == "confirmed");
    let out = st.cli(&["reprint", &id, "--badge", "001", "--reason", "label torn"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    poll("two confirmed jobs", || {
        let j = jobs(&st);
        (j.len() == 2 && j.iter().all(|j| j["state"] == "confirmed")).then_some(())
    });
    let all = jobs(&st);
    assert_eq!(all[1]["reason"], "reprint");
    assert_eq!(p.printed().len(), 2);
    let journal = st.journal();
    let reprints: Vec<&Value> = journal
        .iter()
        .filter(|e| e["type"] == "label.printed" && e["data"]["reason"] == "reprint")
        .collect();
    assert_eq!(reprints.len(), 1);
    assert_eq!(reprints[0]["actor"], "supervisor:001");
    d.stop();
}

/// The whole label set through the daemon: the return label at unpack, a defect tag per
/// defective item at inspection (with its reasons), an RTV note label; each job's preview
/// (rendered from the bytes sent) decodes back to the id in the journal.
#[test]
fn defect_tag_and_rtv_note_print_and_previews_decode() {
    let st = Station::new(
        "[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n\n[inspection]\ndefect_photo_required = false\n",
    );
    let d = st.start();
    let id = unpack(&st, "SF1000000000008");
    scan_ok(&st, &["6901234560015", "CMD-VIS-OK", "Z-PENDING"]);
    let ok = |args: &[&str]| {
        let out = st.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&[
        "inspect",
        &id,
        "--badge",
        "021",
        "--grade",
        "defect",
        "--reason",
        "damaged_casing",
    ]);
    ok(&["put-away", &id, "--badge", "021", "--zone", "Z-DEFECT"]);
    let item = format!("{id}.1");
    ok(&["rtv", "--badge", "001", "--vendor", "ACME", &item]);
    let all = poll("three confirmed jobs", || {
        let j = jobs(&st);
        (j.len() == 3 && j.iter().all(|j| j["state"] == "confirmed")).then_some(j)
    });
    let templates: Vec<&str> = all
        .iter()
        .map(|j| j["template"].as_str().unwrap())
        .collect();
    assert_eq!(templates, ["return_label", "defect_tag", "rtv_note"]);
    assert_eq!(all[1]["item_no"], 1);
    let journal = st.journal();
    let note_no = journal
        .iter()
        .find(|e| e["type"] == "rtv.note_created")
        .unwrap()["data"]["note_no"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(all[2]["subject"], note_no.as_str());
    // Previews of the bytes as sent decode back to the journal's ids.
    for (job, want) in [(&all[0], id.clone()), (&all[1], item), (&all[2], note_no)] {
        let png = st.dir.path().join(format!("job-{}.png", job["id"]));
        ok(&[
            "label",
            "preview",
            "--job",
            &job["id"].to_string(),
            "--out",
            png.to_str().unwrap(),
        ]);
        let (gray, w, h) = crate::labels::luma(&std::fs::read(&png).unwrap());
        assert_eq!(
            crate::labels::decode(&gray, w, h, rxing::BarcodeFormat::CODE_128),
            want
        );
        assert_eq!(
            crate::labels::decode(&gray, w, h, rxing::BarcodeFormat::QR_CODE),
            want
        );
    }
    d.stop();
}

/// A ZPL printer with its head open and a TSPL printer out of paper are faults with their
/// own codes; a head-open ZPL job is not confirmed.
#[test]
fn head_open_and_tspl_paper_out_are_faults() {
    for (tspl, mode, fault) in [
        (false, Mode::HeadOpen, "head_open"),
        (true, Mode::PaperOut, "paper_out"),
    ] {
        let (_p, st) = tcp_station(tspl, mode);
        let d = st.start();
        unpack(&st, "SF1000000000009");
        let j = wait_job(&st, "the job sent", |j| j["state"] == "sent");
        assert!(j["last_error"].as_str().unwrap().contains(fault), "{j}");
        let dev = wait_device(&d, "printer:primary", "fault");
        assert_eq!(dev["faults"], json!([fault]));
        d.stop();
    }
}
