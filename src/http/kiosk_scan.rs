//! How the kiosk tells a scan: a `scan.recorded` event read back from the journal, with
//! what it caused (the event right after it: a receipt, an item counted or over), as
//! green or red and a message in the page's language, the way the scanner's own feedback
//! reads. The engine's broadcast carries only seq, type and return id, and the journal
//! keeps a refusal's code but not its parameters, so those are filled from what is known.

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value, json};

use super::kiosk_view::text;
use crate::i18n::Lang;
use crate::store::StoreError;

/// A journal row: type, data, return id, occurred_at.
type Row = (String, String, Option<String>, String);
/// What an accepted scan caused: the next event's type, data and return id, and that
/// return's state.
pub type Caused = (String, Value, Option<String>, Value);

/// The `scan.recorded` event at `seq` as the kiosk shows it, with what it caused (the
/// event right after it) and the return that event touched.
pub fn read_scan(
    conn: &Connection,
    seq: i64,
    current: Option<&str>,
    lang: Lang,
) -> Result<Value, StoreError> {
    let row = |seq: i64| -> Result<Option<Row>, StoreError> {
        Ok(conn
            .query_row(
                "SELECT type, data, return_id, occurred_at FROM journal WHERE seq = ?1",
                [seq],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?)
    };
    let Some((_, data, _, at)) = row(seq)? else {
        return Ok(Value::Null);
    };
    let data: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
    let mut caused = None;
    if data["accepted"] == true
        && let Some((ty, d, rid, _)) = row(seq + 1)?
    {
        let ret = match &rid {
            Some(id) => conn
                .query_row(
                    "SELECT state FROM returns WHERE return_id = ?1",
                    [id],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
                .and_then(|s| serde_json::from_str(&s).ok()),
            None => None,
        };
        let d: Value = serde_json::from_str(&d).unwrap_or(Value::Null);
        caused = Some((ty, d, rid, ret.unwrap_or(Value::Null)));
    }
    let mut v = scan_result(&data, caused.as_ref(), current, lang);
    v["seq"] = json!(seq);
    v["at"] = json!(at);
    Ok(v)
}

/// What an accepted scan caused, when the kiosk can say it better than the code's class:
/// a receipt, or an item counted (over and unknown items are shown as refusals, as the
/// scanner's own feedback does). `caused` = (type, data, return id, return state).
fn caused_message(caused: &Caused, lang: Lang) -> Option<(bool, String)> {
    let (ty, d, rid, ret) = caused;
    let rid = rid.clone().unwrap_or_default();
    match ty.as_str() {
        "return.received" if d["announced"] == true => {
            let expected: u64 = d["expected_items"]
                .as_array()
                .map(|a| a.iter().filter_map(|l| l["qty"].as_u64()).sum())
                .unwrap_or(0);
            let p = [
                ("return_id", rid),
                ("kind", d["kind"].as_str().unwrap_or("").to_string()),
                (
                    "order_no",
                    d["order_no"].as_str().unwrap_or("-").to_string(),
                ),
                ("expected", expected.to_string()),
            ];
            Some((true, text(lang, "received", &p)))
        }
        "return.received" => Some((
            true,
            text(lang, "received_unannounced", &[("return_id", rid)]),
        )),
        "item.scanned" => {
            let sku = d["sku"].as_str().unwrap_or("").to_string();
            let item_no = d["item_no"].as_u64().unwrap_or(0);
            let counted = ret["items"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|i| {
                            i["sku"] == sku.as_str()
                                && i["voided"] != true
                                && i["item_no"].as_u64().unwrap_or(0) <= item_no
                        })
                        .count()
                })
                .unwrap_or(0);
            let expected: u64 = ret["expected_items"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|l| l["sku"] == sku.as_str())
                        .filter_map(|l| l["qty"].as_u64())
                        .sum()
                })
                .unwrap_or(0);
            let exception = d["exception"].as_str();
            let code = match exception {
                None => "item_counted",
                Some("over") => "item_over",
                Some("unknown") => "item_unknown",
                Some(_) => "item_unannounced",
            };
            let p = [
                ("sku", sku),
                ("counted", counted.to_string()),
                ("expected", expected.to_string()),
                ("item_no", item_no.to_string()),
            ];
            let ok = matches!(exception, None | Some("unannounced"));
            Some((ok, text(lang, code, &p)))
        }
        _ => None,
    }
}

/// A `scan.recorded` event's data as the kiosk shows it: `accepted` (journaled as
/// accepted), `ok` (green: accepted and no item exception) and a message in `lang`. The
/// journal keeps a refusal's code, not its parameters, so they are filled from what is
/// known (the code scanned, the bench, its current return).
pub fn scan_result(
    data: &Value,
    caused: Option<&Caused>,
    current: Option<&str>,
    lang: Lang,
) -> Value {
    let code = data["code"].as_str().unwrap_or("").to_string();
    let class = data["class"].as_str().unwrap_or("");
    let accepted = data["accepted"] == true;
    let bench = data["bench"].as_str().unwrap_or("").to_string();
    let (ok, message) = if accepted {
        let command = crate::domain::scan::CommandCode::ALL
            .iter()
            .find(|c| c.code() == code);
        match (class, command, caused.and_then(|c| caused_message(c, lang))) {
            (_, _, Some(said)) => said,
            ("command", Some(c), None) => (true, text(lang, &format!("cmd.{}", c.key()), &[])),
            _ => {
                let key = match class {
                    "waybill" => "kiosk.scan.waybill",
                    "product" => "kiosk.scan.product",
                    "badge" => "kiosk.scan.badge",
                    "return_id" | "item" => "kiosk.scan.label",
                    "zone" => "kiosk.scan.zone",
                    _ => "kiosk.scan.code",
                };
                (true, text(lang, key, &[("code", code.clone())]))
            }
        }
    } else {
        let error = data["error"].as_str().unwrap_or("scan.unknown");
        let return_id = current.map(str::to_string).unwrap_or_else(|| code.clone());
        let p = [
            ("code", code.clone()),
            ("badge", code.trim_start_matches("OP-").to_string()),
            ("return_id", return_id),
            ("waybill", code.clone()),
            // Not `bench`: where a refusal names one, it is another bench, which the
            // journal does not keep; it shows as `…`.
        ];
        (false, text(lang, error, &p))
    };
    json!({
        "bench": bench,
        "code": code,
        "class": class,
        "accepted": accepted,
        "ok": ok,
        "error": data["error"],
        "message": message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refusals are translated with what is known; nothing is left as a raw `{placeholder}`.
    #[test]
    fn scan_results_are_translated() {
        let refused = json!({"bench": "bench-1", "code": "CMD-UNPACK", "class": "command", "accepted": false, "error": "return_in_progress"});
        let v = scan_result(&refused, None, Some("R-ST01-20261125-0001"), Lang::En);
        assert_eq!(
            v["message"],
            "Return R-ST01-20261125-0001 is not finished: scan DONE or CANCEL first"
        );
        let v = scan_result(
            &json!({"error": "role_not_allowed", "code": "x"}),
            None,
            None,
            Lang::Zh,
        );
        assert!(!v["message"].as_str().unwrap().contains('{'), "{v}");
        let ok =
            json!({"bench": "bench-1", "code": "CMD-UNPACK", "class": "command", "accepted": true});
        assert_eq!(
            scan_result(&ok, None, None, Lang::Zh)["message"],
            "拆包并打印标签"
        );
        let ok = json!({"code": "SF1", "class": "waybill", "accepted": true});
        assert_eq!(
            scan_result(&ok, None, None, Lang::En)["message"],
            "Waybill SF1"
        );
        // An over item is journaled as accepted but shown red, like the scanner's feedback.
        let item = json!({"code": "6901234560015", "class": "product", "accepted": true});
        let ret = json!({"expected_items": [{"sku": "A", "qty": 1}],
                         "items": [{"sku": "A", "item_no": 1, "voided": false}, {"sku": "A", "item_no": 2, "voided": false}]});
        let caused = (
            "item.scanned".to_string(),
            json!({"sku": "A", "item_no": 2, "exception": "over"}),
            None,
            ret,
        );
        let v = scan_result(&item, Some(&caused), None, Lang::En);
        assert_eq!(
            (v["accepted"].clone(), v["ok"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(v["message"], "Over! A: 2/1");
    }
}
