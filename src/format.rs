//! Formats the whole station shares: the contract's time format (RFC 3339, UTC,
//! milliseconds), lowercase hex, sizes for people and text padded into terminal columns.
//! Names nothing else of the crate.

use chrono::{DateTime, SecondsFormat, Utc};

/// Contract time format: RFC 3339 UTC with milliseconds.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse an RFC 3339 time (any offset) into UTC.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("bad time {s:?}: {e}"))
}

/// Lowercase hex of `b`.
pub fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The bytes of an even-length hex string (either case); `None` for anything else.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Bytes for people: "1.5 MiB".
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

/// Columns a character takes in a terminal: two for East Asian wide and full-width
/// characters (Chinese, Japanese, Korean, full-width forms), one otherwise.
fn columns(c: char) -> usize {
    match u32::from(c) {
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// `s` followed by spaces up to `width` terminal columns (Chinese counts two), for tables
/// that line up in either language; `s` is never cut.
pub fn pad(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(text_columns(s))))
}

/// Spaces up to `width` terminal columns, then `s` (a right-aligned column).
pub fn pad_left(s: &str, width: usize) -> String {
    format!("{}{s}", " ".repeat(width.saturating_sub(text_columns(s))))
}

fn text_columns(s: &str) -> usize {
    s.chars().map(columns).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Times round-trip in the contract's form; hex round-trips and refuses odd input.
    #[test]
    fn round_trips() {
        let t = parse_time("2026-11-25T16:30:00.123+08:00").unwrap();
        assert_eq!(fmt_time(t), "2026-11-25T08:30:00.123Z");
        assert!(parse_time("yesterday").is_err());
        assert_eq!(hex_encode(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(hex_decode("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
    }

    /// Tables line up in Chinese too: a wide character takes two columns.
    #[test]
    fn pads_by_terminal_columns() {
        assert_eq!(pad("ab", 5), "ab   ");
        assert_eq!(pad("已签收", 8), "已签收  ");
        assert_eq!(pad("toolong", 3), "toolong");
        assert_eq!(pad_left("件数", 5), " 件数");
    }
}
