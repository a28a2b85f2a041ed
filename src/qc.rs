//! The return quality-check sheet 《退货质量检查表》 (seed 000 step 4.6: the inspector's
//! findings go back to customer service) and the station's day in figures (the
//! supervisor's daily report and its defect Pareto). Pure: the API reads the rows
//! (`store::read::day`, a return's detail) and passes them in; nothing here touches the
//! store, the clock or the network.
//!
//! A sheet is printable HTML (A4 by the print CSS, zh-CN or en): the return, its kind,
//! order and claimed reason, the receipt and the first check, then every item with its
//! grade, defect reasons, the inspection standard's lines as answered, the inspector and
//! the time, and the photos. Every value is escaped: item names and notes come from
//! manifests and operators. The page carries no script.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::i18n::{self, Lang};

/// HTML text and attribute escaping.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A word of the translation table in `lang` (its code when the table has none).
fn w(lang: Lang, code: &str) -> String {
    i18n::template(lang, code).unwrap_or(code).to_string()
}

/// A stored UTC time in the station's time zone, to the minute (`-` when absent).
pub fn local_time(t: Option<&str>, tz: Tz) -> String {
    t.and_then(|s| crate::format::parse_time(s).ok())
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".to_string())
}

/// What a sheet needs besides the return: the station's words and how to name people,
/// reasons, checklist lines and photos.
pub struct SheetContext<'a> {
    pub lang: Lang,
    pub tz: Tz,
    pub station: &'a str,
    /// When the sheet was made (UTC, RFC 3339).
    pub generated_at: &'a str,
    /// Defect reasons as `refdata::defect_reasons` gives them (code, label_zh, label_en).
    pub reasons: &'a [Value],
    /// An actor (`inspector:021`) as people read it (`王五 (021)`).
    pub who: &'a dyn Fn(&str) -> String,
    /// A photo's `src` (a URL, or a `data:` URI for a file that travels alone), or the
    /// translation code of why it is not shown (`qc.photo_missing`, …).
    pub photo_src: &'a dyn Fn(&str) -> Result<String, &'static str>,
}

/// A defect reason's label in `lang` from the station's reasons (its code when unknown).
fn reason_label(reasons: &[Value], lang: Lang, code: &str) -> String {
    let key = if lang == Lang::Zh {
        "label_zh"
    } else {
        "label_en"
    };
    reasons
        .iter()
        .find(|r| r["code"] == code)
        .and_then(|r| r[key].as_str())
        .unwrap_or(code)
        .to_string()
}

/// One return on a sheet: its whole state (header and items), its journal events and
/// the checklists that apply to its items (`refdata::checklists`, for the lines' labels).
pub struct SheetReturn<'a> {
    pub state: &'a Value,
    pub events: &'a [Value],
    pub checklists: &'a [Value],
}

/// The label of a checklist line: the standard's own words when it has them, else the
/// translation table's (`insp.line.<code>`), else the code.
fn line_label(lang: Lang, checklists: &[Value], item_no: &Value, code: &str) -> String {
    let key = if lang == Lang::Zh {
        "label_zh"
    } else {
        "label_en"
    };
    checklists
        .iter()
        .filter(|c| &c["item_no"] == item_no)
        .flat_map(|c| c["lines"].as_array().cloned().unwrap_or_default())
        .find(|l| l["code"] == code)
        .and_then(|l| l[key].as_str().map(str::to_string))
        .or_else(|| i18n::template(lang, &format!("insp.line.{code}")).map(str::to_string))
        .unwrap_or_else(|| code.to_string())
}

/// The page's style: screen and A4 print, one sheet per page.
const STYLE: &str = "
*{box-sizing:border-box}
body{font-family:'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei',sans-serif;color:#111;margin:0;background:#e8eaed}
.sheet{background:#fff;width:210mm;min-height:297mm;margin:8mm auto;padding:12mm 12mm 10mm;box-shadow:0 1px 4px #0003}
.sheet h1{font-size:18pt;margin:0 0 2mm}
.meta{font-size:9pt;color:#555;margin-bottom:4mm}
table{border-collapse:collapse;width:100%;font-size:9.5pt;margin-bottom:4mm}
th,td{border:1px solid #777;padding:1.5mm 2mm;vertical-align:top;text-align:left}
th{background:#f0f1f3;font-weight:600;white-space:nowrap}
.facts th{width:17%}.facts td{width:33%}
.grade-good{color:#0a6b2d;font-weight:700}.grade-defect{color:#b3261e;font-weight:700}
.lines{margin:0;padding:0;list-style:none}.lines li{white-space:nowrap}
.unmet{color:#b3261e}
.photos{display:flex;flex-wrap:wrap;gap:3mm;margin-bottom:4mm}
.photos figure{margin:0;width:42mm;font-size:7.5pt;color:#444}
.photos img{width:42mm;height:32mm;object-fit:cover;border:1px solid #999;display:block}
.missing{width:42mm;height:32mm;border:1px dashed #b3261e;color:#b3261e;display:flex;align-items:center;justify-content:center;text-align:center;padding:2mm}
.sign{display:flex;gap:10mm;margin-top:8mm;font-size:10pt}.sign div{flex:1;border-top:1px solid #333;padding-top:1.5mm}
.empty{font-size:12pt;padding:20mm;text-align:center}
@page{size:A4;margin:0}
@media print{body{background:#fff}.sheet{margin:0;box-shadow:none;page-break-after:always;break-after:page}}
";

/// A whole HTML document of `sheets` (one per return; `title` names the document, e.g. the
/// day's export). An empty list says so.
pub fn document(cx: &SheetContext<'_>, title: &str, sheets: &[SheetReturn<'_>]) -> String {
    let mut out = String::with_capacity(8 * 1024 * sheets.len().max(1));
    out.push_str(&format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        cx.lang.code(),
        esc(title)
    ));
    if sheets.is_empty() {
        out.push_str(&format!(
            "<section class=\"sheet\"><h1>{}</h1><p class=\"empty\">{}</p></section>\n",
            esc(title),
            esc(&w(cx.lang, "qc.none"))
        ));
    }
    for s in sheets {
        sheet(&mut out, cx, s);
    }
    out.push_str("</body></html>\n");
    out
}

/// When and by whom each item was inspected last: `item_no → (occurred_at, actor)`.
fn inspections(events: &[Value]) -> BTreeMap<u64, (String, String)> {
    let mut out = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e["type"] == "inspection.completed")
    {
        let at = e["occurred_at"].as_str().unwrap_or("").to_string();
        let actor = e["actor"].as_str().unwrap_or("").to_string();
        for n in e["data"]["items"].as_array().into_iter().flatten() {
            if let Some(n) = n.as_u64() {
                out.insert(n, (at.clone(), actor.clone()));
            }
        }
    }
    out
}

fn row(out: &mut String, cells: &[(&str, String)]) {
    out.push_str("<tr>");
    for (h, v) in cells {
        out.push_str(&format!("<th>{}</th><td>{v}</td>", esc(h)));
    }
    out.push_str("</tr>\n");
}

fn sheet(out: &mut String, cx: &SheetContext<'_>, r: &SheetReturn<'_>) {
    let (lang, s) = (cx.lang, r.state);
    let t = |k: &str| w(lang, k);
    let text = |k: &str| esc(s[k].as_str().unwrap_or("-"));
    let id = s["id"].as_str().unwrap_or("");
    out.push_str(&format!(
        "<section class=\"sheet\" data-return=\"{}\">\n<h1>{}</h1>\n<div class=\"meta\">{}</div>\n",
        esc(id),
        esc(&t("qc.title")),
        esc(&i18n::message(
            lang,
            "qc.meta",
            &[
                ("station", cx.station.to_string()),
                ("time", local_time(Some(cx.generated_at), cx.tz)),
            ]
        ))
    ));
    let kind = s["kind"]
        .as_str()
        .map(|k| t(&format!("kind.{k}")))
        .unwrap_or_else(|| t("qc.kind_unknown"));
    let claimed = s["claimed_reason"]
        .as_str()
        .map(|c| {
            let class = crate::domain::policy::ClaimedReason::parse(c).as_str();
            let word = t(&format!("claimed.{class}"));
            if word == c {
                esc(c)
            } else {
                format!("{} ({})", esc(&word), esc(c))
            }
        })
        .unwrap_or_else(|| "-".to_string());
    let person = |k: &str| {
        s[k].as_str()
            .map(|a| esc(&(cx.who)(a)))
            .unwrap_or_else(|| "-".to_string())
    };
    let when = |k: &str| esc(&local_time(s[k].as_str(), cx.tz));
    let visual = s["visual"]
        .as_str()
        .map(|v| esc(&t(&format!("visual.{v}"))))
        .unwrap_or_else(|| "-".to_string());
    let card = match s["card_present"].as_bool() {
        Some(true) => esc(&t("qc.card_present")),
        Some(false) => format!(
            "<span class=\"unmet\">{}</span>",
            esc(&t("qc.card_missing"))
        ),
        None => "-".to_string(),
    };
    let stage = s["stage"]
        .as_str()
        .map(|v| esc(&t(&format!("stage.{v}"))))
        .unwrap_or_default();
    out.push_str("<table class=\"facts\">\n");
    row(
        out,
        &[
            (&t("qc.return"), esc(id)),
            (&t("qc.waybill"), text("waybill")),
        ],
    );
    row(
        out,
        &[
            (&t("qc.kind"), esc(&kind)),
            (&t("qc.order"), text("order_no")),
        ],
    );
    row(
        out,
        &[
            (&t("qc.claimed"), claimed),
            (&t("qc.courier"), text("courier")),
        ],
    );
    row(
        out,
        &[
            (
                &t("qc.received"),
                format!("{} · {}", when("received_at"), person("received_by")),
            ),
            (
                &t("qc.first_check"),
                format!(
                    "{} · {}",
                    when("first_checked_at"),
                    person("first_checked_by")
                ),
            ),
        ],
    );
    row(out, &[(&t("qc.visual"), visual), (&t("qc.card"), card)]);
    row(
        out,
        &[
            (&t("qc.stage"), stage),
            (&t("qc.signed_at"), when("signed_at")),
        ],
    );
    out.push_str("</table>\n");

    let inspected = inspections(r.events);
    out.push_str(&format!(
        "<table class=\"items\"><thead><tr><th>#</th><th>SKU</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>\n",
        esc(&t("qc.item")),
        esc(&t("qc.grade")),
        esc(&t("qc.reasons")),
        esc(&t("qc.checklist")),
        esc(&t("qc.inspector")),
    ));
    let items: Vec<&Value> = s["items"]
        .as_array()
        .map(|a| a.iter().filter(|i| i["voided"] != true).collect())
        .unwrap_or_default();
    let mut photos: Vec<(u64, String)> = Vec::new();
    for i in &items {
        let n = i["item_no"].as_u64().unwrap_or(0);
        let grade = match i["grade"].as_str() {
            Some(g) => format!(
                "<span class=\"grade-{}\">{}</span>",
                esc(g),
                esc(&t(&format!("grade.{g}")))
            ),
            None => esc(&t("qc.not_inspected")),
        };
        let reasons: Vec<String> = i["defect_reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|c| esc(&reason_label(cx.reasons, lang, c)))
            .collect();
        let mut reasons = reasons.join("<br>");
        if let Some(note) = i["note"].as_str().filter(|n| !n.is_empty()) {
            reasons.push_str(&format!(
                "<div class=\"note\">{}: {}</div>",
                esc(&t("qc.note")),
                esc(note)
            ));
        }
        let lines: Vec<String> = i["checklist"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                let code = l["code"].as_str().unwrap_or("");
                let met = l["met"] == true;
                format!(
                    "<li class=\"{}\">{} {}</li>",
                    if met { "met" } else { "unmet" },
                    if met { "☑" } else { "☒" },
                    esc(&line_label(lang, r.checklists, &i["item_no"], code))
                )
            })
            .collect();
        let by = match inspected.get(&n) {
            Some((at, actor)) => format!(
                "{}<br>{}",
                esc(&(cx.who)(actor)),
                esc(&local_time(Some(at), cx.tz))
            ),
            None => "-".to_string(),
        };
        out.push_str(&format!(
            "<tr><td>{n}</td><td>{}</td><td>{}</td><td>{grade}</td><td>{}</td><td><ul class=\"lines\">{}</ul></td><td>{by}</td></tr>\n",
            esc(i["sku"].as_str().unwrap_or("")),
            esc(i["name"].as_str().unwrap_or("")),
            if reasons.is_empty() { "-".to_string() } else { reasons },
            lines.join(""),
        ));
        for p in i["photos"].as_array().into_iter().flatten() {
            if let Some(sha) = p["sha256"].as_str() {
                photos.push((n, sha.to_string()));
            }
        }
    }
    out.push_str("</tbody></table>\n");
    if !photos.is_empty() {
        out.push_str(&format!(
            "<h2 class=\"photos-title\">{}</h2><div class=\"photos\">\n",
            esc(&t("qc.photos"))
        ));
        let mut seen = BTreeSet::new();
        for (n, sha) in photos {
            if !seen.insert(sha.clone()) {
                continue;
            }
            let short = sha.get(..12).unwrap_or(&sha);
            let pic = match (cx.photo_src)(&sha) {
                Ok(src) => format!("<img src=\"{}\" alt=\"{}\">", esc(&src), esc(short)),
                Err(why) => format!("<div class=\"missing\">{}</div>", esc(&t(why))),
            };
            out.push_str(&format!(
                "<figure>{pic}<figcaption>#{n} · {}</figcaption></figure>\n",
                esc(short)
            ));
        }
        out.push_str("</div>\n");
    }
    out.push_str(&format!(
        "<div class=\"sign\"><div>{}</div><div>{}</div><div>{}</div></div>\n</section>\n",
        esc(&t("qc.sign_inspector")),
        esc(&t("qc.sign_date")),
        esc(&t("qc.sign_service"))
    ));
}

/// The journal event types the daily report reads.
pub const DAY_EVENT_TYPES: &[&str] = &["check.first_completed", "inspection.completed"];

/// What the daily report is made of: the returns received that day (header states), the
/// day's first checks and inspections (journal rows as JSON), each inspected return's
/// items (`return_id → items`), the defect reasons' labels, and now.
pub struct DayInput<'a> {
    pub lang: Lang,
    pub date: &'a str,
    pub station: &'a str,
    pub received: &'a [Value],
    pub events: &'a [Value],
    pub items: &'a BTreeMap<String, Vec<Value>>,
    pub reasons: &'a [Value],
    pub now: DateTime<Utc>,
}

/// A Pareto list: the counts by key, largest first (ties by key), with each entry's
/// cumulative share in percent.
fn pareto(counts: BTreeMap<String, (String, u64)>) -> Vec<Value> {
    let total: u64 = counts.values().map(|(_, n)| n).sum();
    let mut v: Vec<(String, String, u64)> = counts
        .into_iter()
        .map(|(k, (label, n))| (k, label, n))
        .collect();
    v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let mut cum = 0;
    v.into_iter()
        .map(|(key, label, n)| {
            cum += n;
            json!({"key": key, "label": label, "units": n,
                "cumulative_pct": if total == 0 { 0.0 } else { (cum as f64 * 1000.0 / total as f64).round() / 10.0 }})
        })
        .collect()
}

/// The station's day in figures: received by kind (and unannounced, after-sales card
/// missing), first-checked, inspected (returns and units, good and defect), the day's
/// returns whose refund deadline has passed and whose exchange is overdue (not shipped
/// by its deadline, no refund due), and the defect Pareto by reason and by SKU. An item
/// inspected twice that day counts once, as last graded.
pub fn day_report(d: &DayInput<'_>) -> Value {
    let now = crate::format::fmt_time(d.now);
    let mut by_kind: BTreeMap<&str, u64> =
        ["customer_return", "carrier_return", "refused", "unknown"]
            .into_iter()
            .map(|k| (k, 0))
            .collect();
    let (mut unannounced, mut card_missing, mut refund_passed, mut exchange_overdue, mut voided) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for r in d.received {
        *by_kind
            .entry(r["kind"].as_str().unwrap_or("unknown"))
            .or_default() += 1;
        unannounced += u64::from(r["announced"] == false);
        card_missing += u64::from(r["card_present"] == false);
        if r["voided"].is_string() {
            voided += 1;
            continue;
        }
        let passed = |k: &str| r[k].as_str().is_some_and(|t| t <= now.as_str());
        refund_passed += u64::from(passed("refund_due_by"));
        exchange_overdue += u64::from(
            passed("exchange_ship_by")
                && r["refund_due_by"].is_null()
                && r["exchange_waybill"].is_null()
                && r["closed"] != true,
        );
    }
    let mut first_checked = 0u64;
    let mut graded: BTreeMap<(String, u64), (String, Vec<String>)> = BTreeMap::new();
    for e in d.events {
        let id = e["return_id"].as_str().unwrap_or("").to_string();
        match e["type"].as_str() {
            Some("check.first_completed") => first_checked += 1,
            Some("inspection.completed") => {
                let grade = e["data"]["grade"].as_str().unwrap_or("").to_string();
                let reasons: Vec<String> = e["data"]["defect_reasons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect();
                for n in e["data"]["items"].as_array().into_iter().flatten() {
                    if let Some(n) = n.as_u64() {
                        graded.insert((id.clone(), n), (grade.clone(), reasons.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    let cx_label = |code: &str| reason_label(d.reasons, d.lang, code);
    let (mut good, mut defect) = (0u64, 0u64);
    let mut by_reason: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut by_sku: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let returns: BTreeSet<&String> = graded.keys().map(|(id, _)| id).collect();
    for ((id, n), (grade, reasons)) in &graded {
        if grade != "defect" {
            good += 1;
            continue;
        }
        defect += 1;
        for code in reasons {
            by_reason
                .entry(code.clone())
                .or_insert_with(|| (cx_label(code), 0))
                .1 += 1;
        }
        let item = d
            .items
            .get(id)
            .and_then(|items| items.iter().find(|i| i["item_no"].as_u64() == Some(*n)));
        let sku = item.and_then(|i| i["sku"].as_str()).unwrap_or("?");
        let name = item.and_then(|i| i["name"].as_str()).unwrap_or("");
        by_sku
            .entry(sku.to_string())
            .or_insert_with(|| (name.to_string(), 0))
            .1 += 1;
    }
    json!({
        "date": d.date,
        "station": d.station,
        "received": {"total": d.received.len(), "by_kind": by_kind},
        "unannounced": unannounced,
        "card_missing": card_missing,
        "voided": voided,
        "first_checked": first_checked,
        "inspected_returns": returns.len(),
        "inspected_units": good + defect,
        "good_units": good,
        "defect_units": defect,
        "refund_deadline_passed": refund_passed,
        "exchange_overdue": exchange_overdue,
        "pareto_reasons": pareto(by_reason),
        "pareto_skus": pareto(by_sku),
        "returns_inspected": returns,
    })
}

/// Base64 (standard alphabet, padded) for `data:` URIs of the day's exported sheets.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(A[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o, "{i:?}");
        }
    }

    fn cx_with<'a>(
        who: &'a dyn Fn(&str) -> String,
        src: &'a dyn Fn(&str) -> Result<String, &'static str>,
        reasons: &'a [Value],
    ) -> SheetContext<'a> {
        SheetContext {
            lang: Lang::En,
            tz: chrono_tz::Tz::Asia__Shanghai,
            station: "ST01",
            generated_at: "2026-12-03T02:00:00.000Z",
            reasons,
            who,
            photo_src: src,
        }
    }

    /// Manifest and operator text cannot open markup: names, notes and SKUs are escaped,
    /// and the sheet carries no script.
    #[test]
    fn a_sheet_escapes_every_value() {
        let who = |a: &str| a.to_string();
        let src = |_: &str| Err("qc.photo_missing");
        let reasons =
            [json!({"code": "scratched", "label_en": "Scratched <b>", "label_zh": "划伤"})];
        let state = json!({"id": "R-ST01-20261203-1", "waybill": "SF1", "kind": "customer_return",
            "items": [{"item_no": 1, "sku": "<script>x</script>", "name": "Mug \"<img src=x onerror=alert(1)>\"",
                "grade": "defect", "defect_reasons": ["scratched"], "note": "</td><script>",
                "photos": [{"sha256": "ab".repeat(32)}], "checklist": [{"code": "resellable", "met": false}]}]});
        let html = document(
            &cx_with(&who, &src, &reasons),
            "t",
            &[SheetReturn {
                state: &state,
                events: &[],
                checklists: &[],
            }],
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("Scratched &lt;b&gt;"), "{html}");
        assert!(html.contains("&lt;/td&gt;&lt;script&gt;"), "{html}");
        // The photo is gone from the store: the sheet says so instead of a broken image.
        assert!(html.contains("class=\"missing\""), "{html}");
    }

    /// The day in figures: kinds, unannounced, missing cards, first checks, inspections
    /// (an item graded twice counts once, as last graded), deadlines, and the Pareto
    /// largest first with its cumulative share.
    #[test]
    fn the_day_report_counts_and_ranks() {
        let now: DateTime<Utc> = "2026-12-03T12:00:00Z".parse().unwrap();
        let received = [
            json!({"kind": "customer_return", "announced": true, "card_present": false,
                "exchange_ship_by": "2026-12-03T11:00:00.000Z"}),
            json!({"kind": "customer_return", "announced": true, "refund_due_by": "2026-12-03T11:30:00.000Z",
                "exchange_ship_by": "2026-12-03T11:00:00.000Z"}),
            json!({"kind": "refused", "announced": true, "exchange_ship_by": "2026-12-04T11:00:00.000Z"}),
            json!({"kind": null, "announced": false}),
        ];
        let ev = |id: &str, items: &[u64], grade: &str, reasons: &[&str]| {
            json!({"type": "inspection.completed", "return_id": id,
                "data": {"items": items, "grade": grade, "defect_reasons": reasons}})
        };
        let events = [
            json!({"type": "check.first_completed", "return_id": "A"}),
            json!({"type": "check.first_completed", "return_id": "B"}),
            ev("A", &[1], "good", &[]),
            ev("A", &[1], "defect", &["scratched"]),
            ev("A", &[2, 3], "defect", &["scratched", "no_power"]),
            ev("B", &[1], "defect", &["no_power"]),
            ev("B", &[2], "good", &[]),
        ];
        let items: BTreeMap<String, Vec<Value>> = [
            (
                "A".to_string(),
                vec![
                    json!({"item_no": 1, "sku": "MUG"}),
                    json!({"item_no": 2, "sku": "LAMP", "name": "Lamp"}),
                    json!({"item_no": 3, "sku": "LAMP", "name": "Lamp"}),
                ],
            ),
            ("B".to_string(), vec![json!({"item_no": 1, "sku": "MUG"})]),
        ]
        .into();
        let reasons = [json!({"code": "scratched", "label_en": "Scratched"})];
        let r = day_report(&DayInput {
            lang: Lang::En,
            date: "2026-12-03",
            station: "ST01",
            received: &received,
            events: &events,
            items: &items,
            reasons: &reasons,
            now,
        });
        assert_eq!(r["received"]["total"], 4);
        assert_eq!(r["received"]["by_kind"]["customer_return"], 2);
        assert_eq!(r["received"]["by_kind"]["refused"], 1);
        assert_eq!(r["received"]["by_kind"]["unknown"], 1);
        assert_eq!(r["unannounced"], 1);
        assert_eq!(r["card_missing"], 1);
        assert_eq!(r["first_checked"], 2);
        assert_eq!(r["inspected_returns"], 2);
        assert_eq!(r["inspected_units"], 5);
        assert_eq!(r["good_units"], 1);
        assert_eq!(r["defect_units"], 4);
        assert_eq!(r["refund_deadline_passed"], 1);
        assert_eq!(
            r["exchange_overdue"], 1,
            "the refund one is not an exchange"
        );
        let reasons = &r["pareto_reasons"];
        assert_eq!(reasons[0]["key"], "no_power");
        assert_eq!(reasons[0]["units"], 3);
        assert_eq!(reasons[1]["key"], "scratched");
        assert_eq!(reasons[1]["label"], "Scratched");
        assert_eq!(reasons[1]["units"], 3);
        assert_eq!(reasons[1]["cumulative_pct"], 100.0);
        let skus = &r["pareto_skus"];
        assert_eq!(skus[0]["key"], "LAMP");
        assert_eq!(skus[0]["units"], 2);
        assert_eq!(skus[0]["cumulative_pct"], 50.0);
        assert_eq!(skus[1]["key"], "MUG");
        assert_eq!(skus[1]["units"], 2);
    }
}
