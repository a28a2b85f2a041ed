//! The engine's [`Lookup`]: reference data read from the database (manifest, operators and
//! defect reasons from the feed or `manifest import`) and from the config (bins, bootstrap
//! operators, built-in defect reasons). Point reads by primary key: microseconds.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::config::Config;
use crate::domain::ids::BinCode;
use crate::domain::kind::{BinClass, Role};
use crate::domain::ports::{DefectReasonInfo, Lookup, ManifestEntry, OperatorInfo, PhotoUplink};
use crate::feed;
use crate::store::feed_items::{self, get};
use crate::store::{Read, StoreError};

/// The engine's lookup: the writer's open batch (so a command sees the reference data the
/// same batch stored) and the config.
pub struct DbLookup<'a> {
    pub db: &'a dyn Read,
    pub cfg: &'a Config,
    /// The config's operators as the last reload left them (`config::LiveOperators`).
    pub operators: &'a [crate::config::LocalOperator],
}

impl Lookup for DbLookup<'_> {
    fn manifest(&self, waybill: &str) -> Option<ManifestEntry> {
        match get(self.db, "expected_return", waybill) {
            Ok(Some((version, data))) => feed::expected_return(waybill, version, &data).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "manifest lookup failed");
                None
            }
        }
    }

    fn operator(&self, badge: &str) -> Option<OperatorInfo> {
        if let Some(o) = self.operators.iter().find(|o| o.badge == badge) {
            return Some(OperatorInfo {
                badge: o.badge.clone(),
                roles: o.roles.clone(),
            });
        }
        let (_, data) = get(self.db, "operator", badge).ok().flatten()?;
        let roles = data
            .get("roles")?
            .as_array()?
            .iter()
            .filter_map(|r| r.as_str().and_then(Role::parse))
            .collect::<Vec<_>>();
        (!roles.is_empty()).then(|| OperatorInfo {
            badge: badge.to_string(),
            roles,
        })
    }

    fn defect_reason(&self, code: &str) -> Option<DefectReasonInfo> {
        if let Ok(Some((_, data))) = get(self.db, "defect_reason", code) {
            return Some(DefectReasonInfo {
                code: code.to_string(),
                seller_fault: data
                    .get("seller_fault")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(true),
            });
        }
        self.cfg
            .defect_reasons
            .iter()
            .find(|d| d.code == code)
            .map(|d| DefectReasonInfo {
                code: d.code.clone(),
                seller_fault: d.seller_fault,
            })
    }

    fn bin(&self, code: &BinCode) -> Option<BinClass> {
        self.cfg.zones.bins.get(code).copied()
    }

    fn photo_uplink(&self, sha256: &str) -> PhotoUplink {
        crate::store::lost::photo_uplink(self.db, sha256).unwrap_or_else(|e| {
            tracing::error!(error = %e, "lost photo lookup failed");
            PhotoUplink::NotWaiting
        })
    }
}

/// A defect reason's labels (zh-CN, en): from the feed, else `configured` (the config's
/// built-in and `[[defect_reasons]]` labels by code, as the print settings carry them),
/// else the code itself.
pub fn defect_reason_labels(
    db: &dyn Read,
    configured: &BTreeMap<String, (String, String)>,
    code: &str,
) -> (String, String) {
    if let Ok(Some((_, data))) = get(db, "defect_reason", code) {
        let l = |k: &str| {
            data.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or(code)
                .to_string()
        };
        return (l("label_zh"), l("label_en"));
    }
    configured
        .get(code)
        .cloned()
        .unwrap_or_else(|| (code.to_string(), code.to_string()))
}

/// Every defect reason an inspector may pick, sorted by code: the config's (built-in and
/// `[[defect_reasons]]`), overlaid by the central's `defect_reason` feed items, as the
/// engine's lookup resolves them. Each: `{code, label_zh, label_en, seller_fault}`.
pub fn defect_reasons(db: &dyn Read, cfg: &Config) -> Result<Vec<Value>, StoreError> {
    let mut by_code: BTreeMap<String, Value> = cfg
        .defect_reasons
        .iter()
        .map(|d| {
            let v = json!({"code": d.code, "label_zh": d.label_zh,
                "label_en": d.label_en, "seller_fault": d.seller_fault});
            (d.code.clone(), v)
        })
        .collect();
    for feed_items::FeedEntry {
        key: code, data, ..
    } in feed_items::live(db, "defect_reason")?
    {
        let label = |k: &str| {
            data.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or(&code)
                .to_string()
        };
        let v = json!({"code": code, "label_zh": label("label_zh"),
            "label_en": label("label_en"),
            "seller_fault": data.get("seller_fault").and_then(|v| v.as_bool()).unwrap_or(true)});
        by_code.insert(code.clone(), v);
    }
    Ok(by_code.into_values().collect())
}

/// The built-in checklist when no `inspection_standard` item applies: its codes, labelled
/// by the translation table (`insp.line.<code>`).
pub const BUILTIN_STANDARD: &[&str] = &["packaging_complete", "resellable"];

fn builtin_standard() -> Vec<feed::StandardLine> {
    use crate::i18n::{Lang, template};
    BUILTIN_STANDARD
        .iter()
        .map(|code| {
            let key = format!("insp.line.{code}");
            let label = |l| template(l, &key).unwrap_or(code).to_string();
            feed::StandardLine {
                code: code.to_string(),
                label_zh: label(Lang::Zh),
                label_en: label(Lang::En),
            }
        })
        .collect()
}

/// The inspection standard for a product category: the `inspection_standard` feed item
/// keyed by the category, else the one keyed `default`, else the built-in lines. Answers
/// `{standard, lines: [{code, label_zh, label_en}]}` where `standard` is the key used
/// (`builtin` for the built-in lines).
pub fn inspection_standard(db: &dyn Read, category: &str) -> Result<Value, StoreError> {
    for key in [category, "default"] {
        if key.is_empty() {
            continue;
        }
        if let Some((_, data)) = get(db, "inspection_standard", key)?
            && let Ok(lines) = feed::inspection_standard(&data)
        {
            return Ok(json!({"standard": key, "lines": lines}));
        }
    }
    Ok(json!({"standard": "builtin", "lines": builtin_standard()}))
}

/// Every stored inspection standard (sorted by key) and the built-in lines, for
/// `GET /api/v1/inspection-standards`. Generic rather than `&dyn Read` so that the API can
/// pass the function itself where it reads with a bare connection.
pub fn inspection_standards(db: &impl Read) -> Result<Value, StoreError> {
    let mut out = Vec::new();
    for e in feed_items::live(db, "inspection_standard")? {
        let Ok(lines) = feed::inspection_standard(&e.data) else {
            continue;
        };
        out.push(json!({"standard": e.key, "version": e.version, "lines": lines}));
    }
    Ok(json!({"standards": out, "builtin": builtin_standard()}))
}

/// The checklist of each live item of a return (its projection `state`): the category of
/// the item's SKU comes from the manifest line (`category` of the `expected_return` item
/// of the return's waybill). Each: `{item_no, sku, category, standard, lines}`.
pub fn checklists(db: &dyn Read, state: &Value) -> Result<Vec<Value>, StoreError> {
    let waybill = state["waybill"].as_str().unwrap_or("");
    let manifest = if waybill.is_empty() {
        None
    } else {
        get(db, "expected_return", waybill)?.map(|(_, d)| d)
    };
    let category_of = |sku: &str| -> String {
        manifest
            .as_ref()
            .and_then(|m| m["items"].as_array())
            .and_then(|items| items.iter().find(|l| l["sku"].as_str() == Some(sku)))
            .and_then(|l| l["category"].as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut out = Vec::new();
    let items = state["items"].as_array().cloned().unwrap_or_default();
    for i in items.iter().filter(|i| i["voided"] != json!(true)) {
        let sku = i["sku"].as_str().unwrap_or("");
        let category = category_of(sku);
        let mut v = inspection_standard(db, &category)?;
        v["item_no"] = i["item_no"].clone();
        v["sku"] = json!(sku);
        v["category"] = json!(category);
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{FeedItem, apply};
    use crate::store::{Batch, Store};

    fn put(b: &Batch<'_>, ty: &str, key: &str, data: Value) -> feed::Applied {
        let item = FeedItem {
            ty: ty.into(),
            key: key.into(),
            version: 1,
            data: Some(data),
        };
        apply(b, &item, "test", chrono::Utc::now()).unwrap()
    }

    /// No standard stored: the built-in lines in both languages; a category's standard
    /// (from the manifest line's `category`) wins over `default`, which wins over the
    /// built-in lines; malformed standards are rejected at the edge.
    #[test]
    fn checklists_by_category_default_and_builtin() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db"), "ST01").unwrap();
        let c = store.begin().unwrap();
        let state = json!({"waybill": "SF1000000000001", "items": [
            {"item_no": 1, "sku": "SKU-A", "voided": false},
            {"item_no": 2, "sku": "SKU-B", "voided": false},
            {"item_no": 3, "sku": "SKU-C", "voided": true}]});
        let l = checklists(&c, &state).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0]["standard"], "builtin");
        assert_eq!(
            l[0]["lines"],
            json!([
                {"code": "packaging_complete", "label_zh": "包装完好", "label_en": "Packaging complete"},
                {"code": "resellable", "label_zh": "不影响二次销售", "label_en": "Resellable"}])
        );
        let stored = put(
            &c,
            "expected_return",
            "SF1000000000001",
            json!({"kind": "customer_return", "items": [
                {"sku": "SKU-A", "qty": 1, "category": "kettle"}, {"sku": "SKU-B", "qty": 1}]}),
        );
        assert_eq!(stored, feed::Applied::Stored);
        let kettle = json!({"lines": [{"code": "lid_fits", "label_zh": "盖子合紧", "label_en": "Lid fits"}]});
        assert_eq!(
            put(&c, "inspection_standard", "kettle", kettle),
            feed::Applied::Stored
        );
        let l = checklists(&c, &state).unwrap();
        assert_eq!(l[0]["standard"], "kettle");
        assert_eq!(l[0]["category"], "kettle");
        assert_eq!(l[0]["lines"][0]["label_en"], "Lid fits");
        assert_eq!(l[1]["standard"], "builtin");
        put(
            &c,
            "inspection_standard",
            "default",
            json!({"lines": [{"code": "tags_on", "label_zh": "吊牌在", "label_en": "Tags on"}]}),
        );
        let l = checklists(&c, &state).unwrap();
        assert_eq!(l[1]["standard"], "default");
        assert_eq!(l[1]["lines"][0]["code"], "tags_on");
        let all = inspection_standards(&c).unwrap();
        assert_eq!(all["standards"].as_array().unwrap().len(), 2);
        assert_eq!(all["builtin"].as_array().unwrap().len(), 2);
        for bad in [
            json!({}),
            json!({"lines": []}),
            json!({"lines": [{"code": "Bad Code", "label_zh": "x", "label_en": "x"}]}),
            json!({"lines": [{"code": "a", "label_zh": "x"}]}),
            json!({"lines": [{"code": "a", "label_zh": "x", "label_en": "x"},
                             {"code": "a", "label_zh": "y", "label_en": "y"}]}),
        ] {
            assert!(
                matches!(
                    put(&c, "inspection_standard", "bad", bad.clone()),
                    feed::Applied::Rejected(_)
                ),
                "{bad}"
            );
        }
    }
}
