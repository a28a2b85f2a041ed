//! The engine's [`Lookup`]: reference data read from the database (manifest, operators and
//! defect reasons from the feed or `manifest import`) and from the config (bins, bootstrap
//! operators, built-in defect reasons). Point reads by primary key: microseconds.

use rusqlite::Connection;

use crate::config::Config;
use crate::domain::model::Role;
use crate::domain::ports::{BinClass, DefectReasonInfo, Lookup, ManifestEntry, OperatorInfo};
use crate::feed;

pub struct DbLookup<'a> {
    pub conn: &'a Connection,
    pub cfg: &'a Config,
}

impl Lookup for DbLookup<'_> {
    fn manifest(&self, waybill: &str) -> Option<ManifestEntry> {
        match feed::get(self.conn, "expected_return", waybill) {
            Ok(Some((version, data))) => feed::expected_return(waybill, version, &data).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "manifest lookup failed");
                None
            }
        }
    }

    fn operator(&self, badge: &str) -> Option<OperatorInfo> {
        if let Some(o) = self.cfg.operators.iter().find(|o| o.badge == badge) {
            return Some(OperatorInfo {
                badge: o.badge.clone(),
                roles: o.roles.clone(),
            });
        }
        let (_, data) = feed::get(self.conn, "operator", badge).ok().flatten()?;
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
        if let Ok(Some((_, data))) = feed::get(self.conn, "defect_reason", code) {
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

    fn bin(&self, code: &str) -> Option<BinClass> {
        self.cfg.bins.get(code).copied()
    }
}

/// A defect reason's labels (zh-CN, en): from the feed, else the config (which holds the
/// built-in reasons), else the code itself.
pub fn defect_reason_labels(conn: &Connection, cfg: &Config, code: &str) -> (String, String) {
    if let Ok(Some((_, data))) = feed::get(conn, "defect_reason", code) {
        let l = |k: &str| {
            data.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or(code)
                .to_string()
        };
        return (l("label_zh"), l("label_en"));
    }
    cfg.defect_reasons
        .iter()
        .find(|d| d.code == code)
        .map(|d| (d.label_zh.clone(), d.label_en.clone()))
        .unwrap_or_else(|| (code.to_string(), code.to_string()))
}

/// Every defect reason an inspector may pick, sorted by code: the config's (built-in and
/// `[[defect_reasons]]`), overlaid by the central's `defect_reason` feed items, as the
/// engine's lookup resolves them. Each: `{code, label_zh, label_en, seller_fault}`.
pub fn defect_reasons(
    conn: &Connection,
    cfg: &Config,
) -> Result<Vec<serde_json::Value>, crate::store::StoreError> {
    let mut by_code: std::collections::BTreeMap<String, serde_json::Value> = cfg
        .defect_reasons
        .iter()
        .map(|d| {
            let v = serde_json::json!({"code": d.code, "label_zh": d.label_zh,
                "label_en": d.label_en, "seller_fault": d.seller_fault});
            (d.code.clone(), v)
        })
        .collect();
    let mut q = conn.prepare(
        "SELECT key, data FROM feed_items WHERE type = 'defect_reason' AND data IS NOT NULL",
    )?;
    let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (code, data) = row?;
        let Ok(d) = serde_json::from_str::<serde_json::Value>(&data) else {
            continue;
        };
        let label = |k: &str| {
            d.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or(&code)
                .to_string()
        };
        let v = serde_json::json!({"code": code, "label_zh": label("label_zh"),
            "label_en": label("label_en"),
            "seller_fault": d.get("seller_fault").and_then(|v| v.as_bool()).unwrap_or(true)});
        by_code.insert(code.clone(), v);
    }
    Ok(by_code.into_values().collect())
}
