//! Reference data from the central (the sync feed) and from files (`manifest import`):
//! versioned upserts of `(type, key)` items, validated at this edge. A malformed item is
//! recorded as rejected with its reason and never blocks the rest of a batch. The rows are
//! the store's (`store::feed_items`); reads go through `refdata` and the store's read
//! models.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::domain::kind::{ExpectedLine, ReturnKind, Role};
use crate::domain::policy::ClaimedReason;
use crate::domain::ports::ManifestEntry;
use crate::format::parse_time;
use crate::store::feed_items::{self, ItemId};
use crate::store::{StoreError, Write};

/// One feed item: an upsert of `(type, key)` at `version`; `data: None` deletes.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    pub ty: String,
    pub key: String,
    pub version: i64,
    pub data: Option<Value>,
}

/// What applying an item did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Stored,
    Deleted,
    /// The stored version is the same or newer.
    Stale,
    Rejected(String),
}

fn field<'a>(o: &'a Map<String, Value>, k: &str) -> Result<&'a Value, String> {
    o.get(k).ok_or_else(|| format!("missing field {k}"))
}

fn string(o: &Map<String, Value>, k: &str, max: usize) -> Result<String, String> {
    let s = field(o, k)?
        .as_str()
        .ok_or_else(|| format!("{k} must be a string"))?;
    if s.chars().count() > max {
        return Err(format!("{k} is longer than {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{k} contains control characters"));
    }
    Ok(s.to_string())
}

fn opt_string(o: &Map<String, Value>, k: &str, max: usize) -> Result<String, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(_) => string(o, k, max),
    }
}

/// Parse an `expected_return` item into a manifest entry (the contract's fields).
pub fn expected_return(key: &str, version: i64, data: &Value) -> Result<ManifestEntry, String> {
    let o = data.as_object().ok_or("data must be an object")?;
    let kind_s = string(o, "kind", 32)?;
    let kind = ReturnKind::parse(&kind_s).ok_or_else(|| {
        format!("kind {kind_s:?} is not customer_return, carrier_return or refused")
    })?;
    let order_no = opt_string(o, "order_no", 64)?;
    let name = opt_string(o, "customer_name", 64)?;
    let _ = name;
    let tail = opt_string(o, "customer_phone_tail", 4)?;
    if !tail.chars().all(|c| c.is_ascii_digit()) {
        return Err("customer_phone_tail must be at most 4 digits".into());
    }
    let signed_at = match o.get("signed_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_time(s)?),
        Some(_) => return Err("signed_at must be an RFC 3339 time".into()),
    };
    let claimed_reason = opt_string(o, "claimed_reason", 200)?;
    // Contract 1.1: a closed set. The reason decides who pays the freight, so one the
    // station cannot read is a rejected item, never a silent "unknown".
    if !claimed_reason.trim().is_empty()
        && ClaimedReason::parse(&claimed_reason) == ClaimedReason::Unknown
    {
        return Err(format!(
            "claimed_reason {claimed_reason:?} is not one of quality, not_as_described, no_reason, dislike, does_not_fit, customer_cancelled (or a Chinese reason the README lists)"
        ));
    }
    let free_shipping = match o.get("free_shipping") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("free_shipping must be true or false".into()),
    };
    let items = match o.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let l = v
                    .as_object()
                    .ok_or_else(|| format!("items[{i}] must be an object"))?;
                let qty = field(l, "qty")?
                    .as_u64()
                    .filter(|q| (1..=10_000).contains(q))
                    .ok_or_else(|| format!("items[{i}].qty must be a whole number 1 to 10000"))?;
                let sku = string(l, "sku", 64).map_err(|e| format!("items[{i}].{e}"))?;
                if sku.is_empty() {
                    return Err(format!("items[{i}].sku is empty"));
                }
                opt_string(l, "category", 64).map_err(|e| format!("items[{i}].{e}"))?;
                Ok(ExpectedLine {
                    sku,
                    barcode: opt_string(l, "barcode", 64).map_err(|e| format!("items[{i}].{e}"))?,
                    name: opt_string(l, "name", 200).map_err(|e| format!("items[{i}].{e}"))?,
                    qty: qty as u32,
                })
            })
            .collect::<Result<_, String>>()?,
        Some(_) => return Err("items must be an array".into()),
    };
    let waybill = crate::domain::ids::Waybill::parse(key)
        .map_err(|e| format!("key {key:?} is not a waybill number ({})", e.code()))?;
    Ok(ManifestEntry {
        waybill: waybill.as_str().to_string(),
        version,
        kind,
        order_no,
        claimed_reason,
        signed_at,
        free_shipping,
        items,
    })
}

/// One line of an inspection standard's checklist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StandardLine {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
}

/// Parse an `inspection_standard` item's data: `{lines: [{code, label_zh, label_en}]}`,
/// 1 to 30 lines, codes `a-z 0-9 _` (at most 32, unique), labels at most 100 characters.
/// The item's key is a product category (the manifest line's `category`) or `default`.
pub fn inspection_standard(data: &Value) -> Result<Vec<StandardLine>, String> {
    let o = data.as_object().ok_or("data must be an object")?;
    let lines = field(o, "lines")?
        .as_array()
        .ok_or("lines must be an array")?;
    if lines.is_empty() || lines.len() > 30 {
        return Err("lines must hold 1 to 30 lines".into());
    }
    let mut out: Vec<StandardLine> = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let l = l
            .as_object()
            .ok_or_else(|| format!("lines[{i}] must be an object"))?;
        let code = string(l, "code", 32).map_err(|e| format!("lines[{i}].{e}"))?;
        if code.is_empty()
            || !code
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        {
            return Err(format!("lines[{i}].code must be a-z 0-9 _"));
        }
        if out.iter().any(|x| x.code == code) {
            return Err(format!("lines[{i}].code {code:?} is repeated"));
        }
        let label_zh = string(l, "label_zh", 100).map_err(|e| format!("lines[{i}].{e}"))?;
        let label_en = string(l, "label_en", 100).map_err(|e| format!("lines[{i}].{e}"))?;
        out.push(StandardLine {
            code,
            label_zh,
            label_en,
        });
    }
    Ok(out)
}

/// Check an item of any type the station understands; other types are stored as they are.
pub fn validate(item: &FeedItem) -> Result<(), String> {
    if item.key.is_empty()
        || item.key.chars().count() > 128
        || item.key.chars().any(char::is_control)
    {
        return Err("key must be 1 to 128 printable characters".into());
    }
    if item.version < 0 {
        return Err("version must not be negative".into());
    }
    let Some(data) = &item.data else {
        return Ok(());
    };
    match item.ty.as_str() {
        "expected_return" => expected_return(&item.key, item.version, data).map(|_| ()),
        "operator" => {
            let o = data.as_object().ok_or("data must be an object")?;
            crate::domain::ids::Badge::parse(&item.key)
                .map_err(|_| "key must be a badge id (A-Z a-z 0-9 _)".to_string())?;
            string(o, "name", 64)?;
            let roles = field(o, "roles")?
                .as_array()
                .ok_or("roles must be an array")?;
            if roles.is_empty() {
                return Err("roles must not be empty".into());
            }
            for r in roles {
                r.as_str()
                    .and_then(Role::parse)
                    .ok_or("roles must be keeper, inspector or supervisor")?;
            }
            match o.get("pin_hash") {
                None | Some(Value::Null) => {}
                Some(Value::String(h)) if h.starts_with("$argon2id$") => {}
                Some(_) => return Err("pin_hash must be an argon2id PHC string".into()),
            }
            Ok(())
        }
        "defect_reason" => {
            let o = data.as_object().ok_or("data must be an object")?;
            string(o, "label_zh", 100)?;
            string(o, "label_en", 100)?;
            field(o, "seller_fault")?
                .as_bool()
                .ok_or("seller_fault must be true or false")?;
            Ok(())
        }
        "inspection_standard" => inspection_standard(data).map(|_| ()),
        "exchange_order" => {
            if data.is_object() {
                Ok(())
            } else {
                Err("data must be an object".into())
            }
        }
        _ => Ok(()),
    }
}

impl FeedItem {
    /// The item's identity as the store records it.
    pub fn id(&self) -> ItemId<'_> {
        ItemId {
            ty: &self.ty,
            key: &self.key,
            version: self.version,
        }
    }
}

/// Apply one item as a versioned upsert in the writer's transaction. Rejections are
/// recorded, not raised.
pub fn apply(
    w: &dyn Write,
    item: &FeedItem,
    source: &str,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    if let Err(reason) = validate(item) {
        reject(w, Some(item), &reason, source, &item_json(item), now)?;
        return Ok(Applied::Rejected(reason));
    }
    let stored = feed_items::version(w, &item.ty, &item.key)?;
    if stored.is_some_and(|v| v >= item.version) {
        return Ok(Applied::Stale);
    }
    feed_items::upsert(w, item.id(), item.data.as_ref(), source, now)?;
    Ok(if item.data.is_some() {
        Applied::Stored
    } else {
        Applied::Deleted
    })
}

fn item_json(item: &FeedItem) -> String {
    json!({"type": item.ty, "key": item.key, "version": item.version, "data": item.data})
        .to_string()
}

/// Record an item (or an unparseable line) that could not be applied.
pub fn reject(
    w: &dyn Write,
    item: Option<&FeedItem>,
    reason: &str,
    source: &str,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    feed_items::reject(w, item.map(FeedItem::id), reason, source, raw, now)
}
