//! How the command line prints what it got: the daemon's answers, `ping`, the returns list
//! and one return, `sync status`, `journal verify`, a manifest import's report. Each
//! function returns the text (every line ends in a newline) and prints nothing, so the
//! words can be read and tested in one place. Messages come from `i18n` in the station's
//! language, the returns list and a return's facts too (headings, kinds, stages, zones,
//! grades); tables are padded by terminal columns, so Chinese lines up.

use std::fmt::Write;

use serde_json::{Value, json};

use crate::format::{pad, pad_left};
use crate::i18n::{Lang, message, zone_names};
use crate::manifest::ImportReport;
use crate::privacy::mask_name;
use crate::store::Verification;
use crate::views::ReturnRow;

/// `returnsd ping` for people: one fact a line.
pub fn ping_text(v: &Value, lang: Lang) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("—").to_string();
    let tls = v["tls_fingerprint"].as_str();
    let http = match (v["http"].as_str(), tls) {
        (Some(a), Some(_)) => format!("https://{a}"),
        (Some(a), None) => format!("http://{a}"),
        (None, _) => "—".to_string(),
    };
    let fp = tls.map_or_else(|| message(lang, "ping.no_tls", &[]), str::to_string);
    let line = |code: &str, value: String| format!("{}: {value}\n", message(lang, code, &[]));
    [
        line("ping.station", s("station")),
        line("ping.epoch", s("epoch")),
        line("ping.http", http),
        line("ping.tls_fingerprint", fp),
    ]
    .concat()
}

/// The daemon's answer to a scan or an operator command: `OK `, `ERR` or `NOT SAVED`, the
/// message in the station's language, the journal seqs it was recorded at, and whether it
/// is the answer to an earlier ask.
pub fn reply_line(reply: &Value, lang: Lang) -> String {
    let outcome = reply.get("outcome").and_then(Value::as_str).unwrap_or("");
    let code = reply.get("code").and_then(Value::as_str).unwrap_or("");
    let msg = reply
        .get(if lang == Lang::En {
            "message_en"
        } else {
            "message_zh"
        })
        .and_then(Value::as_str)
        .unwrap_or(code);
    let seq = match (
        reply.get("seq_first").and_then(Value::as_i64),
        reply.get("seq_last").and_then(Value::as_i64),
    ) {
        (Some(a), Some(b)) if a == b => format!(" [seq {a}]"),
        (Some(a), Some(b)) => format!(" [seq {a}-{b}]"),
        _ => String::new(),
    };
    let tag = match outcome {
        "accepted" => "OK ",
        "not_stored" => "NOT SAVED",
        _ => "ERR",
    };
    let again = if reply["replayed"] == true {
        format!(" ({})", message(lang, "cli.replayed", &[]))
    } else {
        String::new()
    };
    format!("{tag} {msg}{seq}{again}\n")
}

/// A request whose answer was lost: it may or may not have been carried out.
pub fn unknown_line(lang: Lang, why: String) -> String {
    format!(
        "UNKNOWN {}\n",
        message(lang, "cli.unknown", &[("why", why)])
    )
}

/// The contract time `t` in the station's time zone, to the minute (as given when it does
/// not parse).
fn local(tz: &chrono_tz::Tz, t: &str) -> String {
    crate::format::parse_time(t)
        .map(|t| t.with_timezone(tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// `returns list`: a table, newest first, customer names masked, in the station's
/// language (headings, kinds and stages).
pub fn returns_table(rows: &[ReturnRow], lang: Lang, tz: &chrono_tz::Tz) -> String {
    const WIDTHS: [usize; 7] = [26, 18, 16, 14, 8, 5, 16];
    let line = |cells: [String; 7]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(WIDTHS).enumerate() {
            // The count lines up on the right.
            l.push_str(&if i == 5 { pad_left(c, w) } else { pad(c, w) });
            l.push(' ');
        }
        format!("{}\n", l.trim_end())
    };
    let col = |c: &str| message(lang, &format!("cli.col.{c}"), &[]);
    let mut out = line(
        [
            "return_id",
            "waybill",
            "kind",
            "stage",
            "customer",
            "items",
            "received",
        ]
        .map(col),
    );
    for r in rows {
        let kind = (r.kind.as_ref())
            .map(|k| message(lang, &format!("kind.{k}"), &[]))
            .unwrap_or_else(|| "?".into());
        out.push_str(&line([
            r.return_id.clone(),
            r.waybill.clone(),
            kind,
            message(lang, &format!("stage.{}", r.stage), &[]),
            mask_name(&r.customer_name),
            r.items.to_string(),
            local(tz, &r.received_at),
        ]));
    }
    out
}

/// `returns list --json`: one object a line, customer names masked.
pub fn returns_json_lines(rows: &[ReturnRow]) -> String {
    let mut out = String::new();
    for r in rows {
        let st = &r.state;
        let _ = writeln!(
            out,
            "{}",
            json!({"return_id": r.return_id, "waybill": r.waybill, "kind": r.kind, "stage": r.stage,
                   "customer": mask_name(&r.customer_name), "items": r.items, "received_at": r.received_at,
                   "refund_due_by": st["refund_due_by"], "exchange_ship_by": st["exchange_ship_by"]})
        );
    }
    out
}

/// `stock`: each zone in the station's language (the bin kept: `良品区 A01`), SKU and
/// units, padded by terminal columns.
pub fn stock_table(rows: &[(String, String, i64)], lang: Lang) -> String {
    let line = |zone: &str, sku: &str, qty: &str| {
        format!("{} {} {}\n", pad(zone, 28), pad(sku, 20), pad_left(qty, 6))
    };
    let col = |c: &str| message(lang, &format!("cli.col.{c}"), &[]);
    let mut out = line(&col("zone"), &col("sku"), &col("qty"));
    for (zone, sku, qty) in rows {
        out.push_str(&line(&zone_names(lang, zone), sku, &qty.to_string()));
    }
    if rows.is_empty() {
        out.push_str("-\n");
    }
    out
}

/// `stock --json`: one `{zone, sku, qty}` a line, zones as the ledger names them.
pub fn stock_json_lines(rows: &[(String, String, i64)]) -> String {
    rows.iter()
        .map(|(zone, sku, qty)| format!("{}\n", json!({"zone": zone, "sku": sku, "qty": qty})))
        .collect()
}

/// `returns show`: the return's facts, its items (voided ones left out) and its events,
/// in the station's language. `st` carries the customer fields as they may be shown
/// (masked unless revealed).
pub fn return_text(
    id: &str,
    st: &Value,
    events: &[Value],
    lang: Lang,
    tz: &chrono_tz::Tz,
) -> String {
    let s = |k: &str, none: &'static str| st[k].as_str().unwrap_or(none).to_string();
    let word = |code: &str| message(lang, code, &[]);
    // A value shown by its words (`stage.received` → 已签收), or `none` when absent.
    let named = |prefix: &str, k: &str, none: &str| match st[k].as_str() {
        Some(v) => word(&format!("{prefix}.{v}")),
        None => none.to_string(),
    };
    let label = |code: &str| pad(&word(code), 16);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}{id}   {} {}",
        label("cli.col.return_id"),
        word("cli.col.stage"),
        named("stage", "stage", "")
    );
    let _ = writeln!(
        out,
        "{}{} ({})",
        label("cli.col.waybill"),
        s("waybill", ""),
        s("courier", "")
    );
    let _ = writeln!(
        out,
        "{}{}",
        label("cli.col.kind"),
        named("kind", "kind", "?")
    );
    let _ = writeln!(out, "{}{}", label("cli.show.order"), s("order_no", "-"));
    let _ = writeln!(
        out,
        "{}{} {}",
        label("cli.col.customer"),
        s("customer_name", ""),
        s("customer_phone_tail", "")
    );
    let _ = writeln!(
        out,
        "{}{} ({} {})",
        label("cli.col.received"),
        local(tz, &s("received_at", "")),
        word("cli.show.received_by"),
        s("received_by", "")
    );
    if let Some(t) = st["refund_due_by"].as_str() {
        let _ = writeln!(out, "{}{}", label("cli.show.refund_due_by"), local(tz, t));
    }
    if let Some(t) = st["exchange_ship_by"].as_str() {
        let _ = writeln!(
            out,
            "{}{}",
            label("cli.show.exchange_ship_by"),
            local(tz, t)
        );
    }
    let _ = writeln!(out, "{}:", word("cli.show.items"));
    for i in st["items"].as_array().into_iter().flatten() {
        if i["voided"] == json!(true) {
            continue;
        }
        let reasons: Vec<&str> = (i["defect_reasons"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        let zone = i["zone"]
            .as_str()
            .map_or("-".into(), |z| zone_names(lang, z));
        let grade = i["grade"]
            .as_str()
            .map_or("-".into(), |g| word(&format!("grade.{g}")));
        let mut line = format!(
            "  {:>3} {} {} {} {} {}",
            i["item_no"],
            pad(i["sku"].as_str().unwrap_or(""), 20),
            word("cli.show.zone"),
            pad(&zone, 14),
            word("cli.show.grade"),
            pad(&grade, 7),
        );
        if !reasons.is_empty() {
            let _ = write!(line, " {} {}", word("cli.show.defects"), reasons.join(","));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out, "{}:", word("cli.show.events"));
    for e in events {
        let _ = writeln!(
            out,
            "  {:>6} {} {:<24} {}",
            e["seq"],
            e["occurred_at"].as_str().unwrap_or(""),
            e["type"].as_str().unwrap_or(""),
            e["actor"].as_str().unwrap_or("")
        );
    }
    out
}

/// `sync status` for people: the journal and backlog, the push and feed workers, the disk
/// and the clock.
pub fn sync_status_text(v: &Value, lang: Lang) -> String {
    let s = |p: &Value| match p {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // A line: its label from the table padded to the value column, then the value's
    // template filled in (both in the station's language).
    let line = |out: &mut String, key: &str, params: &[(&str, String)]| {
        let label = message(lang, &format!("cli.sync.{key}"), &[]);
        let value = message(lang, &format!("cli.sync.{key}.value"), params);
        let _ = writeln!(out, "{}{value}", pad(&label, 17));
    };
    // A worker's state by its words where the table has them (`backoff` → 重试等待中).
    let state = |worker: &str, st: &Value| match st.as_str() {
        Some(x) if lang == Lang::Zh => {
            crate::i18n::template(lang, &format!("sync.{worker}.{x}")).map_or(s(st), str::to_string)
        }
        _ => s(st),
    };
    let (push, feed) = (&v["push"], &v["feed"]);
    let mut out = String::new();
    line(&mut out, "epoch", &[("epoch", s(&v["epoch"]))]);
    line(
        &mut out,
        "journal",
        &[
            ("last", s(&v["last_seq"])),
            ("acked", s(&v["acked_through"])),
        ],
    );
    line(
        &mut out,
        "backlog",
        &[
            ("events", s(&v["backlog"])),
            ("age", s(&v["oldest_unacked_age_s"])),
        ],
    );
    line(
        &mut out,
        "push",
        &[
            ("state", state("push", &push["state"])),
            ("at", s(&push["last_success"])),
            ("limit", s(&push["batch_limit"])),
        ],
    );
    if !push["last_error"].is_null() {
        line(
            &mut out,
            "push_error",
            &[
                ("error", s(&push["last_error"])),
                ("at", s(&push["last_error_at"])),
            ],
        );
        line(&mut out, "next_retry", &[("at", s(&push["next_retry"]))]);
    }
    if let Some(alarm) = crate::views::blocked_photo_alarm(lang, v) {
        line(&mut out, "alarm", &[("alarm", alarm)]);
    }
    line(
        &mut out,
        "feed",
        &[
            ("state", state("feed", &feed["state"])),
            ("cursor", format!("{:?}", s(&feed["cursor"]))),
            ("at", s(&feed["last_success"])),
            ("rejected", s(&feed["rejected_items"])),
        ],
    );
    if !feed["last_error"].is_null() {
        line(&mut out, "feed_error", &[("error", s(&feed["last_error"]))]);
    }
    for r in feed["recent_rejected"].as_array().into_iter().flatten() {
        let what = match (r["type"].as_str(), r["key"].as_str()) {
            (Some(t), Some(k)) => format!("{t} {k} v{}", s(&r["version"])),
            _ => message(lang, "cli.sync.a_line", &[]),
        };
        line(
            &mut out,
            "rejected",
            &[
                ("what", what),
                ("source", s(&r["source"])),
                ("at", s(&r["at"])),
                ("reason", s(&r["reason"])),
            ],
        );
    }
    if v["disk"].is_object() {
        out.push_str(&disk_text(&v["disk"], s, lang));
    }
    let alarm = if v["clock_alarm"] == json!(true) {
        message(lang, "cli.sync.clock_alarm", &[])
    } else {
        String::new()
    };
    line(
        &mut out,
        "clock",
        &[("ms", s(&v["clock_offset_ms"])), ("alarm", alarm)],
    );
    out
}

/// The disk lines of `sync status`: usage against the cap, full or above the high-water
/// mark, pruning, a storage fault.
fn disk_text(d: &Value, s: impl Fn(&Value) -> String, lang: Lang) -> String {
    let mb = |x: &Value| {
        x.as_u64()
            .map(|b| format!("{:.1} MiB", b as f64 / 1048576.0))
            .unwrap_or("-".into())
    };
    let state = match d["full_reason"].as_str() {
        Some("filesystem") => message(
            lang,
            "cli.sync.disk_fs_full",
            &[("free", mb(&d["fs_free_bytes"]))],
        ),
        Some(_) => message(lang, "cli.sync.disk_cap_full", &[]),
        None if d["high_water"] == json!(true) => message(lang, "cli.sync.disk_high", &[]),
        None => String::new(),
    };
    let label = |key: &str| pad(&message(lang, key, &[]), 17);
    let mut out = format!(
        "{}{}\n",
        label("cli.sync.disk"),
        message(
            lang,
            "cli.sync.disk.value",
            &[
                ("used", mb(&d["used_bytes"])),
                ("cap", mb(&d["cap_bytes"])),
                ("state", state),
                ("pruned", s(&d["pruned_events"])),
            ]
        )
    );
    if let Some(f) = d["storage_fault"].as_str() {
        let _ = writeln!(out, "{}{f}", label("cli.sync.storage_fault"));
    }
    out
}

/// `journal verify` / `journal rebuild`: what was checked and what differs, then `OK` or
/// `FAILED`, in the station's language.
pub fn verification_text(v: &Verification, lang: Lang) -> String {
    let seq = |s: Option<i64>| s.map(|s| s.to_string()).unwrap_or("-".into());
    let w =
        |key: &str, params: &[(&str, String)]| message(lang, &format!("cli.verify.{key}"), params);
    let mut out = w(
        "journal",
        &[
            ("events", v.events.to_string()),
            ("first", seq(v.first_seq)),
            ("last", seq(v.last_seq)),
        ],
    );
    out.push('\n');
    let mut line = |text: String| {
        out.push_str("  ");
        out.push_str(&text);
        out.push('\n');
    };
    if v.pruned_through > 0 {
        line(w("pruned", &[("through", v.pruned_through.to_string())]));
    }
    if v.gaps.is_empty() {
        line(w("contiguous", &[]));
    }
    for (a, b) in &v.gaps {
        line(w("gap", &[("from", a.to_string()), ("to", b.to_string())]));
    }
    for s in &v.order_errors {
        line(w(
            "order",
            &[("seq", s.to_string()), ("before", (s - 1).to_string())],
        ));
    }
    for (s, e) in &v.undecodable {
        line(w(
            "unreadable",
            &[("seq", s.to_string()), ("error", e.to_string())],
        ));
    }
    for r in &v.mismatched_returns {
        line(w("mismatch", &[("return_id", r.to_string())]));
    }
    let part = |key: &str, ok: bool| w(&format!("{key}.{}", if ok { "ok" } else { "bad" }), &[]);
    line(part("ledger", v.stock_matches));
    line(part("benches", v.benches_match));
    line(part("supervision", v.supervision_matches));
    out.push_str(if v.ok() { "OK\n" } else { "FAILED\n" });
    out
}

/// `manifest import`: the counts, then each rejected line with its reason, in the
/// station's language.
pub fn import_text(file: &std::path::Path, r: &ImportReport, lang: Lang) -> String {
    let mut out = message(
        lang,
        "cli.import.report",
        &[
            ("file", file.display().to_string()),
            ("stored", r.stored.to_string()),
            ("deleted", r.deleted.to_string()),
            ("stale", r.stale.to_string()),
            ("rejected", r.rejected.len().to_string()),
        ],
    );
    out.push('\n');
    for (line, why) in &r.rejected {
        let text = message(
            lang,
            "cli.import.rejected",
            &[("line", line.to_string()), ("why", why.to_string())],
        );
        let _ = writeln!(out, "  {text}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sync status` in English reads as it always did (scripts and the tests read it); on
    /// a zh-CN station every label and every fixed word is Chinese, lined up the same.
    #[test]
    fn sync_status_speaks_the_station_language() {
        let v = json!({"epoch": "e-1", "last_seq": 10, "acked_through": 7, "backlog": 3,
            "oldest_unacked_age_s": 42,
            "push": {"state": "backoff", "last_success": null, "batch_limit": 1000,
                     "last_error": "central answered 503", "last_error_at": "t1",
                     "next_retry": "t2"},
            "feed": {"state": "idle", "cursor": "c-9", "last_success": "t3",
                     "rejected_items": 1, "last_error": null,
                     "recent_rejected": [{"type": "expected_return", "key": "SF1",
                        "version": 2, "source": "central", "at": "t4", "reason": "bad"}]},
            "disk": {"used_bytes": 1048576, "cap_bytes": 2097152, "full_reason": "cap",
                     "pruned_events": 5, "storage_fault": "EIO"},
            "clock_offset_ms": 9000, "clock_alarm": true});
        let en = sync_status_text(&v, Lang::En);
        assert_eq!(
            en,
            "epoch            e-1\n\
             journal          last seq 10, acked through 7\n\
             backlog          3 events, oldest unacked 42 s old\n\
             push             backoff (last success -, batch limit 1000)\n  \
             last error     central answered 503 at t1\n  \
             next retry     t2\n\
             feed             idle (cursor \"c-9\", last success t3, rejected items 1)\n  \
             rejected       expected_return SF1 v2 (central, t4): bad\n\
             disk             1.0 MiB of 2.0 MiB  FULL: the station's disk cap is reached: new work refused, 5 events pruned\n  \
             STORAGE FAULT  EIO\n\
             clock offset     9000 ms  ALARM: over the limit\n"
        );
        let zh = sync_status_text(&v, Lang::Zh);
        for word in [
            "纪元",
            "待上传",
            "重试等待中",
            "下次重试",
            "空闲",
            "已拒收",
            "磁盘",
            "存储故障",
            "时钟偏差",
            "警报",
        ] {
            assert!(zh.contains(word), "{word}: {zh}");
        }
        for word in ["journal", "backlog", "last error", "pruned", "ALARM"] {
            assert!(!zh.contains(word), "{word}: {zh}");
        }
    }

    /// A zh-CN station's list and a return's facts speak Chinese — headings, kind, stage,
    /// zone and grade — and the list's columns line up by terminal columns.
    #[test]
    fn returns_list_and_show_follow_the_station_language() {
        let tz = chrono_tz::Asia::Shanghai;
        let rows = [ReturnRow {
            return_id: "R-ST01-20261203-0001".into(),
            waybill: "SF1000000000001".into(),
            kind: Some("customer_return".into()),
            stage: "put_away".into(),
            received_at: "2026-12-03T01:00:00.000Z".into(),
            customer_name: "欧阳娜娜".into(),
            customer_phone_tail: "4321".into(),
            items: 2,
            state: json!({}),
        }];
        let zh = returns_table(&rows, Lang::Zh, &tz);
        let lines: Vec<&str> = zh.lines().collect();
        assert!(
            lines[0].starts_with("退件号") && lines[0].contains("签收时间"),
            "{zh}"
        );
        assert!(
            lines[1].contains("自退件") && lines[1].contains("已上架"),
            "{zh}"
        );
        assert!(
            lines[1].contains("欧**") && !lines[1].contains("欧阳"),
            "{zh}"
        );
        let col = |l: &str, w: &str| {
            let at = l.find(w).unwrap();
            l[..at]
                .chars()
                .map(|c| if c.is_ascii() { 1 } else { 2 })
                .sum::<usize>()
        };
        assert_eq!(col(lines[0], "运单号"), col(lines[1], "SF1000000000001"));
        assert_eq!(col(lines[0], "签收时间"), col(lines[1], "2026-12-03 09:00"));
        assert_eq!(
            col(lines[0], "件数") + 4,
            col(lines[1], " 2 ") + 2,
            "the count is right-aligned under its heading"
        );
        let en = returns_table(&rows, Lang::En, &tz);
        assert!(en.starts_with("return") && en.contains("put away"), "{en}");

        let st = json!({"stage": "put_away", "kind": "customer_return", "waybill": "SF1",
            "courier": "sf", "order_no": "SO-1", "customer_name": "欧**",
            "received_at": "2026-12-03T01:00:00.000Z", "received_by": "017",
            "items": [
                {"item_no": 1, "sku": "SKU-A", "zone": "defect/D01", "grade": "defect",
                 "defect_reasons": ["cracked"]},
                {"item_no": 2, "sku": "SKU-B", "zone": "good", "grade": "good"},
                {"item_no": 3, "sku": "SKU-C", "zone": "pending", "voided": true}]});
        let zh = return_text("R-1", &st, &[], Lang::Zh, &tz);
        assert!(zh.contains("已上架") && zh.contains("自退件"), "{zh}");
        assert!(zh.contains("不良区 D01") && zh.contains("不良品"), "{zh}");
        assert!(zh.contains("缺陷 cracked") && zh.contains("良品区"), "{zh}");
        assert!(!zh.contains("SKU-C"), "a voided item is left out: {zh}");
        assert!(
            !zh.contains("defect/D01") && !zh.contains("put_away"),
            "{zh}"
        );
        let en = return_text("R-1", &st, &[], Lang::En, &tz);
        assert!(
            en.contains("Defect zone D01") && en.contains("put away"),
            "{en}"
        );
    }

    /// `returnsd stock` names each zone in the station's language, keeping the bin.
    #[test]
    fn stock_names_zones_in_the_station_language() {
        let rows = [
            ("good/A01".to_string(), "SKU-A".to_string(), 2),
            ("sellable".to_string(), "SKU-B".to_string(), 1),
        ];
        let zh = stock_table(&rows, Lang::Zh);
        assert!(
            zh.contains("良品区 A01") && zh.contains("已退库入可售库存"),
            "{zh}"
        );
        let en = stock_table(&rows, Lang::En);
        assert!(
            en.contains("Good zone A01") && en.contains("Back in sellable stock"),
            "{en}"
        );
        assert_eq!(
            stock_json_lines(&rows[..1]),
            "{\"qty\":2,\"sku\":\"SKU-A\",\"zone\":\"good/A01\"}\n"
        );
        assert_eq!(stock_table(&[], Lang::En).lines().nth(1), Some("-"));
    }

    /// An answer's line carries its tag, the message in the station's language, its seqs
    /// and, for an answer given before, that it was not recorded again.
    #[test]
    fn reply_lines_say_outcome_message_and_seqs() {
        let reply = json!({"outcome": "accepted", "code": "x", "message_en": "Logged in",
                           "message_zh": "已登录", "seq_first": 1, "seq_last": 2});
        assert_eq!(reply_line(&reply, Lang::En), "OK  Logged in [seq 1-2]\n");
        assert_eq!(reply_line(&reply, Lang::Zh), "OK  已登录 [seq 1-2]\n");
        let refused = json!({"outcome": "refused", "code": "kind_required", "seq_first": 3,
                             "seq_last": 3});
        assert_eq!(
            reply_line(&refused, Lang::En),
            "ERR kind_required [seq 3]\n"
        );
        let lost = json!({"outcome": "not_stored", "message_en": "Disk full"});
        assert_eq!(reply_line(&lost, Lang::En), "NOT SAVED Disk full\n");
        let again = json!({"outcome": "accepted", "message_en": "OK", "replayed": true});
        assert!(reply_line(&again, Lang::En).starts_with("OK  OK ("));
    }

    /// A clean journal reads as contiguous and matching, and ends in OK.
    #[test]
    fn a_clean_verification_ends_in_ok() {
        let v = Verification {
            events: 3,
            first_seq: Some(1),
            last_seq: Some(3),
            stock_matches: true,
            benches_match: true,
            supervision_matches: true,
            ..Default::default()
        };
        assert_eq!(
            verification_text(&v, Lang::En),
            "journal: 3 events, seq 1..3\n  seq: contiguous\n  ledger: balances with the \
             rebuild\n  benches: match the rebuild\n  bins and RTV notes: match the rebuild\nOK\n"
        );
        let zh = verification_text(&v, Lang::Zh);
        assert!(
            zh.contains("日志:3 条事件") && zh.contains("与重建一致") && zh.ends_with("OK\n"),
            "{zh}"
        );
        let report = ImportReport {
            stored: 2,
            rejected: vec![(3, "bad kind".into())],
            ..Default::default()
        };
        let zh = import_text(std::path::Path::new("m.csv"), &report, Lang::Zh);
        assert!(
            zh.contains("已保存 2") && zh.contains("第 3 行被拒收:bad kind"),
            "{zh}"
        );
    }
}
