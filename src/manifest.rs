//! `manifest import`: customer service's daily returns log from a file, applied with the
//! same versioned-upsert rules as the central feed's `expected_return` items.
//!
//! JSONL: one object per line, either a feed item (`{"type":"expected_return","key":…,
//! "version":…,"data":{…}}`) or flat (`{"waybill":…,"version":…,"kind":…,"items":[…],…}`).
//! CSV: a header row, one row per item line; rows with the same waybill form one return.
//! Columns: waybill, version, kind, order_no, customer_name, customer_phone_tail,
//! signed_at, claimed_reason, free_shipping, sku, barcode, name, qty.
//!
//! A file is [`parse`]d where it is read (the CLI); its items are [`apply`]d by the one
//! writer — the running daemon's engine, in its group commit between scans, or, when no
//! daemon runs, the CLI itself under the state directory's lock — with the same function.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::feed::{self, Applied, FeedItem};
use crate::store::{StoreError, Write};

/// The file's format (by default from its extension: `.csv`, else JSONL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    Csv,
    Jsonl,
}

impl std::str::FromStr for ImportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(ImportFormat::Csv),
            "jsonl" => Ok(ImportFormat::Jsonl),
            _ => Err(format!("{s:?}: use csv or jsonl")),
        }
    }
}

/// What importing did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub stored: usize,
    pub deleted: usize,
    /// The stored version was the same or newer: nothing changed.
    pub stale: usize,
    /// (line, reason)
    pub rejected: Vec<(usize, String)>,
}

impl ImportReport {
    /// Add a later part's report (a file sent to the daemon in parts).
    pub fn add(&mut self, other: ImportReport) {
        self.stored += other.stored;
        self.deleted += other.deleted;
        self.stale += other.stale;
        self.rejected.extend(other.rejected);
    }

    pub fn to_json(&self) -> Value {
        json!({
            "stored": self.stored,
            "deleted": self.deleted,
            "stale": self.stale,
            "rejected": self.rejected.iter().map(|(l, r)| json!([l, r])).collect::<Vec<_>>(),
        })
    }

    pub fn from_json(v: &Value) -> Option<ImportReport> {
        let n = |k: &str| v[k].as_u64().map(|n| n as usize);
        Some(ImportReport {
            stored: n("stored")?,
            deleted: n("deleted")?,
            stale: n("stale")?,
            rejected: v["rejected"]
                .as_array()?
                .iter()
                .filter_map(|r| Some((r[0].as_u64()? as usize, r[1].as_str()?.to_string())))
                .collect(),
        })
    }
}

/// A line of a file: its item, or why the line is unusable.
pub type Line = (usize, Result<FeedItem, String>);

/// A file read and parsed: where it came from (recorded with each item) and its lines.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub source: String,
    pub lines: Vec<Line>,
}

/// One line as JSON for the control socket: `{"line": n, "item": {…}}` or
/// `{"line": n, "error": "…"}`.
pub fn line_json((line, item): &Line) -> Value {
    match item {
        Ok(i) => {
            json!({"line": line, "item": {"type": i.ty, "key": i.key, "version": i.version, "data": i.data}})
        }
        Err(e) => json!({"line": line, "error": e}),
    }
}

/// The inverse of [`line_json`].
pub fn line_from_json(v: &Value) -> Result<Line, String> {
    let line = v["line"].as_u64().ok_or("line must be a number")? as usize;
    if let Some(e) = v["error"].as_str() {
        return Ok((line, Err(e.to_string())));
    }
    let i = &v["item"];
    let item = FeedItem {
        ty: i["type"].as_str().ok_or("item.type")?.to_string(),
        key: i["key"].as_str().ok_or("item.key")?.to_string(),
        version: i["version"].as_i64().ok_or("item.version")?,
        data: (!i["data"].is_null()).then(|| i["data"].clone()),
    };
    Ok((line, Ok(item)))
}

/// Apply parsed lines as versioned upserts in the writer's transaction: bad lines are
/// recorded as rejected with their reason and never stop the rest.
pub fn apply(
    w: &dyn Write,
    source: &str,
    lines: &[Line],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport::default();
    for (line, item) in lines {
        match item {
            Err(reason) => {
                feed::reject(w, None, reason, source, &format!("line {line}"), now)?;
                report.rejected.push((*line, reason.clone()));
            }
            Ok(item) => match feed::apply(w, item, source, now)? {
                Applied::Stored => report.stored += 1,
                Applied::Deleted => report.deleted += 1,
                Applied::Stale => report.stale += 1,
                Applied::Rejected(r) => report.rejected.push((*line, format!("{}: {r}", item.key))),
            },
        }
    }
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {detail}")]
    File { path: String, detail: String },
}

/// Read and parse a file (nothing is applied).
pub fn parse(path: &Path, format: Option<ImportFormat>) -> Result<Parsed, ImportError> {
    let file_err = |detail: String| ImportError::File {
        path: path.display().to_string(),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|e| file_err(format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        file_err(format!(
            "not UTF-8 at byte {} (save the spreadsheet as CSV UTF-8)",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let format = format.unwrap_or_else(|| {
        if path.extension().is_some_and(|e| e == "csv") {
            ImportFormat::Csv
        } else {
            ImportFormat::Jsonl
        }
    });
    Ok(Parsed {
        source: format!("file:{}", path.display()),
        lines: parse_text(text, format).map_err(file_err)?,
    })
}

/// The lines of a file's text (UTF-8, byte-order mark removed) in `format`; `Err` when
/// the whole file is unusable (a CSV header without a required column).
pub fn parse_text(text: &str, format: ImportFormat) -> Result<Vec<Line>, String> {
    match format {
        ImportFormat::Jsonl => Ok(text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, jsonl_item(l)))
            .collect()),
        ImportFormat::Csv => csv_items(text),
    }
}

fn version_of(v: Option<&Value>) -> Result<i64, String> {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| "version must be a whole number".into()),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("version {s:?} is not a whole number")),
        _ => Err("version is required (a whole number; higher replaces lower)".into()),
    }
}

fn jsonl_item(line: &str) -> Result<FeedItem, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let o = v.as_object().ok_or("not a JSON object")?;
    if o.contains_key("type") && o.contains_key("key") {
        let ty = o["type"].as_str().ok_or("type must be a string")?;
        if ty != "expected_return" && ty != "inspection_standard" {
            return Err(format!(
                "type {ty:?}: a manifest file holds expected_return and inspection_standard items only"
            ));
        }
        return Ok(FeedItem {
            ty: ty.to_string(),
            key: o["key"].as_str().ok_or("key must be a string")?.to_string(),
            version: version_of(o.get("version"))?,
            data: match o.get("data") {
                None | Some(Value::Null) => None,
                Some(d) => Some(d.clone()),
            },
        });
    }
    let waybill = o
        .get("waybill")
        .and_then(Value::as_str)
        .ok_or("waybill is required")?
        .to_string();
    let version = version_of(o.get("version"))?;
    let mut data: Map<String, Value> = o.clone();
    data.remove("waybill");
    data.remove("version");
    let deleted = data
        .get("deleted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(FeedItem {
        ty: "expected_return".into(),
        key: waybill,
        version,
        data: (!deleted).then_some(Value::Object(data)),
    })
}

/// Items parsed from a file, each with its line number, or why that line is unusable.
type Lines = Vec<Line>;

fn csv_items(text: &str) -> Result<Lines, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| format!("header row: {e}"))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    for required in ["waybill", "version", "kind", "sku", "qty"] {
        if col(required).is_none() {
            return Err(format!(
                "the header row has no {required:?} column (found: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    // Group rows by waybill, keeping the first row's line number.
    let mut groups: Vec<(usize, String, Vec<csv::StringRecord>)> = Vec::new();
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.push((line, Err(format!("unreadable row: {e}"))));
                continue;
            }
        };
        let wb = col("waybill")
            .and_then(|c| rec.get(c))
            .unwrap_or("")
            .trim()
            .to_string();
        match groups.iter_mut().find(|g| g.1 == wb) {
            Some(g) => g.2.push(rec),
            None => groups.push((line, wb, vec![rec])),
        }
    }
    for (line, waybill, rows) in groups {
        out.push((line, csv_group(&headers, &waybill, &rows)));
    }
    Ok(out)
}

fn csv_group(
    headers: &csv::StringRecord,
    waybill: &str,
    rows: &[csv::StringRecord],
) -> Result<FeedItem, String> {
    let get = |rec: &csv::StringRecord, name: &str| -> String {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .and_then(|c| rec.get(c))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let first = &rows[0];
    let version: i64 = get(first, "version").parse().map_err(|_| {
        format!(
            "{waybill}: version {:?} is not a whole number",
            get(first, "version")
        )
    })?;
    let mut data = Map::new();
    data.insert("kind".into(), json!(get(first, "kind")));
    for k in [
        "order_no",
        "customer_name",
        "customer_phone_tail",
        "claimed_reason",
    ] {
        data.insert(k.into(), json!(get(first, k)));
    }
    let signed = get(first, "signed_at");
    data.insert(
        "signed_at".into(),
        if signed.is_empty() {
            Value::Null
        } else {
            json!(signed)
        },
    );
    let fs = get(first, "free_shipping").to_ascii_lowercase();
    data.insert(
        "free_shipping".into(),
        json!(matches!(fs.as_str(), "true" | "1" | "yes" | "y" | "是")),
    );
    let mut items = Vec::new();
    for r in rows {
        let qty: u64 = get(r, "qty")
            .parse()
            .map_err(|_| format!("{waybill}: qty {:?} is not a whole number", get(r, "qty")))?;
        let mut line = json!({"sku": get(r, "sku"), "barcode": get(r, "barcode"), "name": get(r, "name"), "qty": qty});
        let category = get(r, "category");
        if !category.is_empty() {
            line["category"] = json!(category);
        }
        items.push(line);
    }
    data.insert("items".into(), Value::Array(items));
    Ok(FeedItem {
        ty: "expected_return".into(),
        key: waybill.to_string(),
        version,
        data: Some(Value::Object(data)),
    })
}
