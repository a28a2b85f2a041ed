//! Wire types of the operator API (what the JSON answers look like). Built from the read
//! models (`views`), the engine's replies and the store's rows at the edge — domain types
//! never derive `Serialize`. Customer data arrives here masked unless a supervisor asked
//! to reveal it.

use serde::Serialize;
use serde_json::Value;

use super::error::ApiError;
use crate::i18n::Lang;
use crate::store::api_reads::DefectItem;

/// A wire type as the JSON it is sent as.
pub fn to_json(v: impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|_| ApiError::internal())
}

#[derive(Serialize)]
pub struct OperatorOut {
    pub badge: String,
    pub name: String,
    pub roles: Vec<&'static str>,
    /// The language the API answers this operator in.
    pub lang: &'static str,
}

/// The login answer. `token` is for `Authorization: Bearer`; the same token is also set
/// as the `returnsd_session` cookie. `csrf_token` goes in `X-CSRF-Token` on cookie
/// requests that change anything.
#[derive(Serialize)]
pub struct SessionOut {
    pub token: String,
    pub csrf_token: String,
    pub idle_timeout_s: u64,
    pub operator: OperatorOut,
}

/// One row of `GET /returns` and `GET /inspection-queue`.
#[derive(Serialize)]
pub struct ReturnSummary {
    pub return_id: String,
    pub waybill: String,
    pub kind: Option<String>,
    pub stage: String,
    /// Masked (`张**`).
    pub customer_name: String,
    pub items: usize,
    pub received_at: String,
    /// Hours since receipt (one decimal).
    pub sla_age_h: f64,
    pub refund_due_by: Value,
    pub exchange_ship_by: Value,
    /// Whole minutes to the earliest due time (negative: overdue); null without one.
    pub due_in_min: Option<i64>,
}

#[derive(Serialize)]
pub struct Page<T: Serialize> {
    pub items: Vec<T>,
    pub limit: i64,
    pub offset: i64,
}

/// `GET /returns/{id}`.
#[derive(Serialize)]
pub struct ReturnDetailOut {
    pub return_id: String,
    pub customer_name: String,
    pub customer_phone_tail: String,
    /// False only when a supervisor asked `?reveal=1`.
    pub masked: bool,
    pub sla_age_h: f64,
    /// The return's projection: stage, kind, waybill, order, due times, items…
    pub state: Value,
    /// Its journal events (contract form), oldest first.
    pub events: Vec<Value>,
    pub photos: Vec<Value>,
    /// Print jobs as the CLI's `print queue --json` shows them (bytes as a size).
    pub labels: Vec<serde_json::Value>,
    /// The inspection standard's checklist per live item (`refdata::checklists`).
    pub checklists: Vec<Value>,
    /// True when the keeper's first-check results were left out (`inspection.blind`).
    pub blind: bool,
    /// The customer's claimed reason as the policy reads it (`quality`, `no_reason`, …;
    /// `domain::policy::ClaimedReason`), for pages to show in their language; null when
    /// none was given.
    pub claimed_reason_class: Option<&'static str>,
}

/// One row of `GET /defect-items` (the RTV pick list).
#[derive(Serialize)]
pub struct DefectItemOut {
    /// The item's label text, `<return id>.<item no>` (what `POST /rtv-notes` takes).
    #[serde(rename = "ref")]
    pub item_ref: String,
    pub return_id: String,
    pub item_no: i64,
    pub sku: String,
    pub name: String,
    /// `defect` or `defect/<bin>`.
    pub zone: String,
    /// The bin of `zone`, if any.
    pub bin: Option<String>,
    pub defect_reasons: Vec<String>,
    pub inspected_by: Option<String>,
    /// When it moved to where it is (null: graded there, never moved).
    pub since: Option<String>,
}

impl From<DefectItem> for DefectItemOut {
    fn from(i: DefectItem) -> DefectItemOut {
        DefectItemOut {
            item_ref: format!("{}.{}", i.return_id, i.item_no),
            bin: i.zone.split_once('/').map(|(_, b)| b.to_string()),
            return_id: i.return_id,
            item_no: i.item_no,
            sku: i.sku,
            name: i.name,
            zone: i.zone,
            defect_reasons: i.defect_reasons,
            inspected_by: i.inspected_by,
            since: i.since,
        }
    }
}

#[derive(Serialize)]
pub struct ZoneStockOut {
    pub zone: String,
    pub sku: String,
    pub qty: i64,
}

#[derive(Serialize)]
pub struct AlarmOut {
    /// Stable: `device`, `sync_push`, `sync_photo_blocked` (instead of `sync_push` while a
    /// photo holds the push back; subject: its sha256), `disk_high_water`, `disk_full`,
    /// `clock_offset`, `print_failed`, `print_stuck`.
    pub code: &'static str,
    /// `warning` or `critical`.
    pub severity: &'static str,
    /// What it concerns (device id, job id…), when there is one.
    pub subject: Option<String>,
    pub message: String,
}

/// The answer to an accepted command.
#[derive(Serialize)]
pub struct CommandOut {
    pub ok: bool,
    pub code: String,
    pub message: String,
    pub params: serde_json::Map<String, Value>,
    pub seq_first: Option<i64>,
    pub seq_last: Option<i64>,
    pub return_id: Option<String>,
}

impl CommandOut {
    pub fn from_reply(r: &crate::engine::Reply, lang: Lang) -> CommandOut {
        let params: Vec<(&str, String)> = r
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        CommandOut {
            ok: r.ok,
            code: r.code.clone(),
            message: crate::i18n::message(lang, &r.code, &params),
            params: r
                .params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
            seq_first: r.seqs.map(|s| s.0),
            seq_last: r.seqs.map(|s| s.1),
            return_id: r.return_id.clone(),
        }
    }
}
