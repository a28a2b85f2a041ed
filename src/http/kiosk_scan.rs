//! How the kiosk tells a scan: a `scan.recorded` event read back from the journal, as
//! green or red with a message in the page's language. The event keeps what the station
//! answered at the bench (`ok`, the answer's code and parameters), so the kiosk says
//! exactly what the scanner's feedback said. Also the kiosk's one wording helper
//! ([`text`]), which the snapshot's alarms share.

use serde_json::{Value, json};

use crate::i18n::{Lang, message, template};
use crate::store::kiosk::{ScanRow, scan};
use crate::store::{Reader, StoreError};

/// A message in `lang` with its parameters; placeholders nobody could fill show as `…`
/// rather than as `{name}`.
pub fn text(lang: Lang, code: &str, params: &[(&str, String)]) -> String {
    let out = message(lang, code, params);
    match regex::Regex::new(r"\{[a-z_]+\}") {
        Ok(re) => re.replace_all(&out, "…").into_owned(),
        Err(_) => out,
    }
}

/// The `scan.recorded` event at `seq` as the kiosk shows it (null when there is none).
pub fn read_scan(r: &Reader, seq: i64, lang: Lang) -> Result<Value, StoreError> {
    Ok(scan(r, seq)?.map_or(Value::Null, |s| scan_json(&s, lang)))
}

/// A stored scan as the kiosk shows it: its result, seq and time.
pub fn scan_json(s: &ScanRow, lang: Lang) -> Value {
    let mut v = scan_result(&s.data, lang);
    v["seq"] = json!(s.seq);
    v["at"] = json!(s.occurred_at);
    v
}

/// A `scan.recorded` event's data as the kiosk shows it: `accepted` (journaled as
/// accepted), `ok` (green: what the bench was told; an over item is accepted but red) and
/// the answer's message in `lang`. An answer without a translation (or a journal written
/// before answers were recorded) is shown by the class of the code scanned.
pub fn scan_result(data: &Value, lang: Lang) -> Value {
    let code = data["code"].as_str().unwrap_or("").to_string();
    let class = data["class"].as_str().unwrap_or("");
    let accepted = data["accepted"] == true;
    let ok = data["ok"].as_bool().unwrap_or(accepted);
    let reply = data["reply"]
        .as_str()
        .or(data["error"].as_str())
        .unwrap_or("");
    let params: Vec<(&str, String)> = data["params"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let message = if template(lang, reply).is_some() {
        text(lang, reply, &params)
    } else {
        let key = match (accepted, class) {
            (false, _) => "scan.unknown",
            (true, "waybill") => "kiosk.scan.waybill",
            (true, "product") => "kiosk.scan.product",
            (true, "badge") => "kiosk.scan.badge",
            (true, "return_id" | "item") => "kiosk.scan.label",
            (true, "zone") => "kiosk.scan.zone",
            _ => "kiosk.scan.code",
        };
        text(lang, key, &[("code", code.clone())])
    };
    json!({
        "bench": data["bench"],
        "shown_code": shown_code(&code),
        "code": code,
        "class": class,
        "accepted": accepted,
        "ok": ok,
        "error": data["error"],
        "message": message,
    })
}

/// Longest scanned code the kiosk shows; a longer one is cut and marked `…`.
const SHOWN_CODE_MAX: usize = 40;

/// A scanned code as the kiosk may show it: control characters (a hostile or garbled
/// read) as `·`, at most [`SHOWN_CODE_MAX`] characters.
pub fn shown_code(code: &str) -> String {
    let mut out: String = code
        .chars()
        .take(SHOWN_CODE_MAX)
        .map(|c| if c.is_control() { '·' } else { c })
        .collect();
    if code.chars().count() > SHOWN_CODE_MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code shown on a refusal never carries control characters or an unbounded
    /// length onto the floor's screen.
    #[test]
    fn shown_codes_are_clean_and_short() {
        assert_eq!(shown_code("SF1234567890123"), "SF1234567890123");
        assert_eq!(shown_code("A\u{1b}[2J\r\nB"), "A·[2J··B");
        let long = "X".repeat(100);
        assert_eq!(shown_code(&long), format!("{}…", "X".repeat(40)));
        assert_eq!(shown_code(""), "");
    }

    /// The kiosk says what the station answered, with its parameters, in either language;
    /// an over item is accepted but shown red; an answer with no translation falls back to
    /// the class of the code.
    #[test]
    fn scan_results_say_the_recorded_answer() {
        let refused = json!({"bench": "bench-1", "code": "CMD-UNPACK", "class": "command",
            "accepted": false, "error": "return_in_progress", "ok": false,
            "reply": "return_in_progress", "params": {"return_id": "R-ST01-20261125-0001"}});
        let v = scan_result(&refused, Lang::En);
        assert_eq!(
            v["message"],
            "Return R-ST01-20261125-0001 is not finished: scan DONE or CANCEL first"
        );
        assert_eq!(v["ok"], false);
        let over = json!({"code": "6901234560015", "class": "product", "accepted": true,
            "ok": false, "reply": "item_over",
            "params": {"sku": "A", "counted": "2", "expected": "1", "item_no": "2"}});
        let v = scan_result(&over, Lang::En);
        assert_eq!(
            (v["accepted"].clone(), v["ok"].clone()),
            (json!(true), json!(false))
        );
        assert_eq!(v["message"], "Over! A: 2/1");
        let v = scan_result(&over, Lang::Zh);
        assert!(v["message"].as_str().unwrap().contains("2/1"), "{v}");
        // Written before answers were recorded: accepted is green, by the code's class.
        let old = json!({"code": "SF1", "class": "waybill", "accepted": true});
        let v = scan_result(&old, Lang::En);
        assert_eq!(
            (v["ok"].clone(), v["message"].clone()),
            (json!(true), json!("Waybill SF1"))
        );
        // A refusal whose parameters are missing never shows a raw placeholder.
        let bare = json!({"error": "role_not_allowed", "code": "x", "accepted": false});
        assert!(
            !scan_result(&bare, Lang::Zh)["message"]
                .as_str()
                .unwrap()
                .contains('{')
        );
    }
}
