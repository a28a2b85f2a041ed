//! What each label template shows, read from the station's database for one print job:
//! the return's snapshot (and the manifest's customer name, for the return label only),
//! the inspected item for a defect tag, the `rtv.note_created` event for an RTV note.
//! Customer data goes onto the label and nowhere else (never into logs or errors).

use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use crate::config::Config;
use crate::i18n::{Lang, message};
use crate::label::template::Fields;
use crate::store::jobs::Job;

/// The fields of `job.template` for `job.subject`.
pub fn fields(conn: &Connection, cfg: &Config, job: &Job) -> Result<Fields, String> {
    match job.template.as_str() {
        "return_label" => return_label(conn, cfg, &job.subject),
        "defect_tag" => defect_tag(conn, cfg, &job.subject, job.item_no),
        "rtv_note" => rtv_note(conn, cfg, &job.subject),
        other => Err(format!("no data for label template {other:?}")),
    }
}

fn return_state(conn: &Connection, return_id: &str) -> Result<Value, String> {
    let state: String = conn
        .query_row(
            "SELECT state FROM returns WHERE return_id = ?1",
            [return_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("return {return_id} is not in the database"))?;
    serde_json::from_str(&state).map_err(|e| format!("return {return_id}: {e}"))
}

/// A station-local date (YYYY-MM-DD) from an RFC 3339 time.
fn local_date(cfg: &Config, at: &str) -> String {
    crate::format::parse_time(at)
        .map(|t| {
            t.with_timezone(&cfg.station.timezone)
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_else(|_| at.chars().take(10).collect())
}

fn return_label(conn: &Connection, cfg: &Config, return_id: &str) -> Result<Fields, String> {
    let st = return_state(conn, return_id)?;
    let waybill = st["waybill"].as_str().unwrap_or("");
    let customer_name = crate::feed::get(conn, "expected_return", waybill)
        .ok()
        .flatten()
        .and_then(|(_, d)| {
            d.get("customer_name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
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
            local_date(cfg, st["received_at"].as_str().unwrap_or("")),
        )
        .text("station", cfg.station.id.as_str()))
}

fn defect_tag(
    conn: &Connection,
    cfg: &Config,
    return_id: &str,
    item_no: Option<i64>,
) -> Result<Fields, String> {
    let st = return_state(conn, return_id)?;
    let no = item_no.ok_or("a defect tag needs an item number")?;
    let item = st["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["item_no"].as_i64() == Some(no)))
        .ok_or_else(|| format!("return {return_id} has no item {no}"))?;
    let reasons: Vec<String> = item["defect_reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|code| {
                    let (zh, en) = crate::refdata::defect_reason_labels(conn, cfg, code);
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
            local_date(cfg, st["updated_at"].as_str().unwrap_or("")),
        ))
}

fn rtv_note(conn: &Connection, cfg: &Config, note_no: &str) -> Result<Fields, String> {
    let (data, at): (String, String) = conn
        .query_row(
            "SELECT data, occurred_at FROM journal
             WHERE type = 'rtv.note_created' AND json_extract(data, '$.note_no') = ?1
             ORDER BY seq DESC LIMIT 1",
            [note_no],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("RTV note {note_no} is not in the journal"))?;
    let v: Value = serde_json::from_str(&data).map_err(|e| e.to_string())?;
    Ok(Fields::new()
        .text("note_no", note_no)
        .text("vendor", v["vendor"].as_str().unwrap_or(""))
        .text(
            "item_count",
            v["items"].as_array().map_or(0, Vec::len).to_string(),
        )
        .text("date", local_date(cfg, &at))
        .text("station", cfg.station.id.as_str()))
}
