//! What each label template shows, read for one print job through the store's read models:
//! the return's snapshot (and the manifest's customer name, for the return label only),
//! the inspected item for a defect tag, the `rtv.note_created` event for an RTV note.
//! Customer data goes onto the label and nowhere else (never into logs or errors).

use serde_json::Value;

use super::{PrintError, PrintSettings};
use crate::i18n::{Lang, message};
use crate::label::template::Fields;
use crate::store::Read;
use crate::store::jobs::Job;
use crate::store::read::{returns, rtv};

/// The fields of `job.template` for `job.subject`.
pub fn fields(db: &dyn Read, s: &PrintSettings, job: &Job) -> Result<Fields, PrintError> {
    match job.template.as_str() {
        "return_label" => return_label(db, s, &job.subject),
        "defect_tag" => defect_tag(db, s, &job.subject, job.item_no),
        "rtv_note" => rtv_note(db, s, &job.subject),
        other => Err(PrintError::NoTemplateData(other.to_string())),
    }
}

fn return_state(db: &dyn Read, return_id: &str) -> Result<Value, PrintError> {
    returns::state(db, return_id)?.ok_or_else(|| PrintError::NoReturn(return_id.to_string()))
}

/// A station-local date (YYYY-MM-DD) from an RFC 3339 time.
fn local_date(s: &PrintSettings, at: &str) -> String {
    crate::format::parse_time(at)
        .map(|t| t.with_timezone(&s.timezone).format("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| at.chars().take(10).collect())
}

fn return_label(db: &dyn Read, s: &PrintSettings, return_id: &str) -> Result<Fields, PrintError> {
    let st = return_state(db, return_id)?;
    let waybill = st["waybill"].as_str().unwrap_or("");
    let customer_name = returns::customer(db, waybill).name;
    let kind = match st["kind"].as_str() {
        Some(k) => format!(
            "{} {}",
            message(Lang::Zh, &format!("kind.{k}"), &[]),
            message(Lang::En, &format!("kind.{k}"), &[])
        ),
        None => String::new(),
    };
    Ok(Fields::new()
        .text("return_id", return_id)
        .text("customer_name", customer_name)
        .text("order_no", st["order_no"].as_str().unwrap_or(""))
        .text("kind", kind)
        .text(
            "date",
            local_date(s, st["received_at"].as_str().unwrap_or("")),
        )
        .text("station", s.station.as_str()))
}

fn defect_tag(
    db: &dyn Read,
    s: &PrintSettings,
    return_id: &str,
    item_no: Option<i64>,
) -> Result<Fields, PrintError> {
    let st = return_state(db, return_id)?;
    let no = item_no.ok_or(PrintError::NoItemNumber)?;
    let item = st["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["item_no"].as_i64() == Some(no)))
        .ok_or_else(|| PrintError::NoItem {
            return_id: return_id.to_string(),
            item_no: no,
        })?;
    let reasons: Vec<String> = item["defect_reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|code| {
                    let (zh, en) = crate::refdata::defect_reason_labels(db, &s.defect_labels, code);
                    format!("{zh} {en}")
                })
                .collect()
        })
        .unwrap_or_default();
    let inspector = item["inspected_by"].as_str().unwrap_or("");
    Ok(Fields::new()
        .text("return_id", return_id)
        .text("item_no", no.to_string())
        .text("sku", item["sku"].as_str().unwrap_or(""))
        .list("defect_reasons", reasons)
        .text("inspector", inspector)
        .text(
            "date",
            local_date(s, st["updated_at"].as_str().unwrap_or("")),
        ))
}

fn rtv_note(db: &dyn Read, s: &PrintSettings, note_no: &str) -> Result<Fields, PrintError> {
    let note = rtv::note_created(db, note_no)?
        .ok_or_else(|| PrintError::NoRtvNote(note_no.to_string()))?;
    let v = &note.data;
    Ok(Fields::new()
        .text("note_no", note_no)
        .text("vendor", v["vendor"].as_str().unwrap_or(""))
        .text(
            "item_count",
            v["items"].as_array().map_or(0, Vec::len).to_string(),
        )
        .text("date", local_date(s, &note.occurred_at))
        .text("station", s.station.as_str()))
}
