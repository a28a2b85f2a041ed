//! The feed's wire format: a page of the central's feed parsed into what the engine
//! applies. No I/O.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::engine::FeedPage;
use crate::feed::FeedItem;
use crate::sync::error::FeedError;

/// What a page's answer says besides its items: `more`, and *(1.1)* the central's clock
/// (`server_time`; none when absent or unreadable).
pub type PageAnswer = (FeedPage, bool, Option<DateTime<Utc>>);

/// Parse one page. Items that are not even items (no type, key or version) become
/// `malformed` with their reason; the rest are validated when applied.
pub fn parse_page(body: &str, after: &str) -> Result<PageAnswer, FeedError> {
    let v: Value = serde_json::from_str(body).map_err(|e| FeedError::NotJson(e.to_string()))?;
    let items = v
        .get("items")
        .and_then(Value::as_array)
        .ok_or(FeedError::NoItems)?;
    let mut page = FeedPage {
        next_after: v
            .get("next_after")
            .and_then(Value::as_str)
            .unwrap_or(after)
            .to_string(),
        ..Default::default()
    };
    for it in items {
        let ty = it.get("type").and_then(Value::as_str);
        let key = it.get("key").and_then(Value::as_str);
        let version = it.get("version").and_then(Value::as_i64);
        match (ty, key, version) {
            (Some(ty), Some(key), Some(version)) => page.items.push(FeedItem {
                ty: ty.to_string(),
                key: key.to_string(),
                version,
                data: match it.get("data") {
                    None | Some(Value::Null) => None,
                    Some(d) => Some(d.clone()),
                },
            }),
            _ => page.malformed.push((
                "item lacks type, key or a whole-number version".to_string(),
                it.to_string(),
            )),
        }
    }
    let more = v.get("more").and_then(Value::as_bool).unwrap_or(false);
    let server_time = v
        .get("server_time")
        .and_then(Value::as_str)
        .and_then(|t| crate::format::parse_time(t).ok());
    Ok((page, more, server_time))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page's items, deletes and malformed entries are separated; the cursor advances.
    #[test]
    fn parses_pages() {
        let body = r#"{"items":[
            {"cursor":"c-1","type":"expected_return","key":"SF1","version":3,"data":{"kind":"refused"}},
            {"cursor":"c-2","type":"expected_return","key":"SF2","version":4,"data":null},
            {"cursor":"c-3","type":"operator","version":"x"}
        ],"next_after":"c-3","more":true}"#;
        let (page, more, server_time) = parse_page(body, "c-0").unwrap();
        assert!(more);
        assert_eq!(server_time, None, "a page without server_time");
        assert_eq!(page.next_after, "c-3");
        assert_eq!(page.items.len(), 2);
        assert!(page.items[1].data.is_none(), "null data deletes");
        assert_eq!(page.malformed.len(), 1);
        assert!(matches!(
            parse_page("nope", "c"),
            Err(FeedError::NotJson(_))
        ));
        assert_eq!(
            parse_page("{}", "c").unwrap_err().to_string(),
            "feed page has no items array"
        );
        let (p, more, _) = parse_page(r#"{"items":[]}"#, "c-9").unwrap();
        assert_eq!(p.next_after, "c-9");
        assert!(!more);
        let (_, _, t) = parse_page(
            r#"{"items":[],"server_time":"2026-11-25T08:30:00.123Z"}"#,
            "c-9",
        )
        .unwrap();
        assert_eq!(
            t.map(crate::format::fmt_time).as_deref(),
            Some("2026-11-25T08:30:00.123Z")
        );
    }
}
