//! The push's wire format, as the contract words it: a central's answer classified into
//! what it means (`classify`, `classify_blob`), a run of journal rows encoded as the
//! batch's event JSON (`Encoded`, cut to the window the machine picks), gzip, and the
//! photos an event references. No I/O: bytes in, bytes or meanings out.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::machine::{Outcome, window};
use crate::store::{JournalRow, codec};
use crate::sync::error::snippet;

/// Classify an answer to a batch per the contract.
pub fn classify(status: u16, body: &str) -> Outcome {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let acked = v.get("acked_through").and_then(Value::as_i64);
    match status {
        200 => match acked {
            Some(n) => Outcome::Acked {
                through: n,
                server_time: v
                    .get("server_time")
                    .and_then(Value::as_str)
                    .and_then(|t| codec::parse_time(t).ok()),
            },
            None => Outcome::Transient(format!("200 without acked_through: {}", snippet(body))),
        },
        409 => {
            let err = v.get("error").and_then(Value::as_str).unwrap_or("");
            if err == "seq_conflict" {
                Outcome::Conflict {
                    acked_through: acked,
                    detail: snippet(body),
                }
            } else {
                match acked {
                    Some(n) => Outcome::Gap { acked_through: n },
                    None => Outcome::Rejected(409, snippet(body)),
                }
            }
        }
        413 => Outcome::TooLarge,
        401 | 403 => Outcome::Auth(status),
        400..=499 => Outcome::Rejected(status, snippet(body)),
        _ => Outcome::Transient(format!("HTTP {status}: {}", snippet(body))),
    }
}

/// Classify an answer to a photo upload: `None` when the central holds the photo, else one
/// of `Auth`, `Rejected` or `Transient` (the event rules, as the contract says).
pub fn classify_blob(status: u16, sha256: &str, body: &str) -> Option<Outcome> {
    match status {
        200 | 201 => None,
        409 => Some(Outcome::Rejected(
            409,
            format!(
                "central says photo {sha256} does not match its hash; the station's copy may be damaged"
            ),
        )),
        413 => Some(Outcome::Rejected(
            413,
            format!("the central refuses photo {sha256} as too large"),
        )),
        _ => Some(classify(status, body)),
    }
}

/// The batch envelope up to its event list: `{"station_id":…,"epoch":…,"sent_at":…,"events":[`.
pub fn header(station_id: &str, epoch: &str, sent_at: DateTime<Utc>) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(b"{\"station_id\":");
    string(&mut out, station_id);
    out.extend_from_slice(b",\"epoch\":");
    string(&mut out, epoch);
    out.extend_from_slice(b",\"sent_at\":");
    string(&mut out, &codec::fmt_time(sent_at));
    out.extend_from_slice(b",\"events\":[");
    out
}

/// What closes the envelope after the last event.
const FOOTER: &[u8] = b"]}";

fn string(out: &mut Vec<u8>, s: &str) {
    // Serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Journal rows written as the contract's event JSON after an envelope header, ready to be
/// cut to the window the machine picks. Written straight into one buffer: the stored
/// `data` is already JSON, so it is copied (after a cheap well-formedness check) instead of
/// being parsed and printed again.
pub struct Encoded {
    /// The header, then the events, comma-separated.
    buf: Vec<u8>,
    /// Where the events start (the header's length).
    events_from: usize,
    /// Where each event ends in `buf` (an event owns the comma before it).
    ends: Vec<usize>,
}

impl Encoded {
    pub fn new(header: Vec<u8>, rows: &[JournalRow]) -> Encoded {
        let events_from = header.len();
        let mut buf = header;
        buf.reserve(rows.len() * 320 + FOOTER.len());
        let mut ends = Vec::with_capacity(rows.len());
        for row in rows {
            if !ends.is_empty() {
                buf.push(b',');
            }
            event(&mut buf, row);
            ends.push(buf.len());
        }
        Encoded {
            buf,
            events_from,
            ends,
        }
    }

    /// The header and footer's bytes: what a batch weighs besides its events.
    pub fn envelope(&self) -> usize {
        self.events_from + FOOTER.len()
    }

    /// Each event's bytes in the body, its separating comma included.
    pub fn sizes(&self) -> impl Iterator<Item = usize> + '_ {
        let starts = std::iter::once(self.events_from).chain(self.ends.iter().copied());
        self.ends.iter().zip(starts).map(|(end, start)| end - start)
    }

    fn end_of(&self, n: usize) -> usize {
        match n.min(self.ends.len()) {
            0 => self.events_from,
            n => self.ends[n - 1],
        }
    }

    /// The body of the first `n` events under the header it was encoded with.
    pub fn into_body(mut self, n: usize) -> Vec<u8> {
        let end = self.end_of(n);
        self.buf.truncate(end);
        self.buf.extend_from_slice(FOOTER);
        self.buf
    }

    /// The gzipped body of the first `n` events under a fresh `header` (its `sent_at` is
    /// when the batch goes out, not when it was read), without copying the events.
    pub fn gzip(&self, n: usize, header: &[u8]) -> Vec<u8> {
        let events = &self.buf[self.events_from..self.end_of(n)];
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(events.len() / 4 + 64),
            flate2::Compression::fast(),
        );
        // Writing to a Vec cannot fail.
        let _ = enc.write_all(header);
        let _ = enc.write_all(events);
        let _ = enc.write_all(FOOTER);
        enc.finish().unwrap_or_default()
    }
}

/// One row as the contract's event JSON.
fn event(out: &mut Vec<u8>, row: &JournalRow) {
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(row.seq.to_string().as_bytes());
    out.extend_from_slice(b",\"id\":");
    string(out, &row.id);
    out.extend_from_slice(b",\"type\":");
    string(out, &row.ty);
    out.extend_from_slice(b",\"occurred_at\":");
    string(out, &row.occurred_at);
    out.extend_from_slice(b",\"actor\":");
    string(out, &row.actor);
    out.extend_from_slice(b",\"return_id\":");
    match &row.return_id {
        Some(r) => string(out, r),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"data\":");
    if serde_json::from_str::<serde::de::IgnoredAny>(&row.data).is_ok() {
        out.extend_from_slice(row.data.as_bytes());
    } else {
        tracing::error!(seq = row.seq, "journal data is not JSON; sent as null");
        out.extend_from_slice(b"null");
    }
    if let Some((epoch, seq)) = &row.restored_from {
        out.extend_from_slice(b",\"restored_from\":{\"epoch\":");
        string(out, epoch);
        out.extend_from_slice(b",\"seq\":");
        out.extend_from_slice(seq.to_string().as_bytes());
        out.push(b'}');
    }
    out.push(b'}');
}

/// Build a batch body from rows, stopping before `max_bytes` of JSON (at least one event);
/// returns the body and how many events it holds. The push worker does the same in two
/// steps (`Encoded`, then the machine's `window`); this is the one-call form.
pub fn batch_body(
    station_id: &str,
    epoch: &str,
    rows: &[JournalRow],
    max_bytes: usize,
) -> (Vec<u8>, usize) {
    let enc = Encoded::new(header(station_id, epoch, Utc::now()), rows);
    let n = window(rows.len(), max_bytes, enc.envelope(), enc.sizes());
    (enc.into_body(n), n)
}

/// The photos an event references (`data.photos[].sha256`) that must be uploaded before
/// it: all but those marked `"lost": true` (contract 1.1: a supervisor acknowledged them as
/// lost; `store::lost` marks them as the rows are read).
pub fn photos_of(row: &JournalRow) -> Vec<String> {
    if !row.data.contains("\"photos\"") {
        return Vec::new();
    }
    let v: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
    v.get("photos")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|p| p.get("lost") != Some(&Value::Bool(true)))
                .filter_map(|p| p.get("sha256").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's answers map to the right reaction.
    #[test]
    fn classifies_the_contract_answers() {
        assert_eq!(
            classify(
                200,
                r#"{"acked_through":7,"server_time":"2026-11-25T08:30:00.123Z"}"#
            ),
            Outcome::Acked {
                through: 7,
                server_time: codec::parse_time("2026-11-25T08:30:00.123Z").ok()
            }
        );
        assert_eq!(
            classify(409, r#"{"acked_through":3,"error":"gap"}"#),
            Outcome::Gap { acked_through: 3 }
        );
        assert!(matches!(
            classify(409, r#"{"acked_through":3,"error":"seq_conflict"}"#),
            Outcome::Conflict {
                acked_through: Some(3),
                ..
            }
        ));
        assert_eq!(classify(413, ""), Outcome::TooLarge);
        assert_eq!(classify(401, ""), Outcome::Auth(401));
        assert_eq!(classify(403, ""), Outcome::Auth(403));
        assert!(matches!(classify(422, "x"), Outcome::Rejected(422, _)));
        assert!(matches!(classify(503, "x"), Outcome::Transient(_)));
        assert!(matches!(classify(200, "not json"), Outcome::Transient(_)));
        assert_eq!(
            classify(200, r#"{"acked_through":7,"server_time":"noon"}"#),
            Outcome::Acked {
                through: 7,
                server_time: None
            },
            "an unreadable server_time measures no offset"
        );
    }

    /// A photo answer is done (200/201), a damaged copy (409), or an event-rule failure; a
    /// 413 for a photo is a refusal, never the batch-halving 413.
    #[test]
    fn classifies_the_photo_answers() {
        assert_eq!(classify_blob(201, "ab", ""), None);
        assert_eq!(classify_blob(200, "ab", ""), None);
        assert!(matches!(
            classify_blob(409, "ab", ""),
            Some(Outcome::Rejected(409, t)) if t.contains("does not match its hash")
        ));
        assert!(matches!(
            classify_blob(413, "ab", ""),
            Some(Outcome::Rejected(413, _))
        ));
        assert_eq!(classify_blob(401, "ab", ""), Some(Outcome::Auth(401)));
        assert!(matches!(
            classify_blob(502, "ab", ""),
            Some(Outcome::Transient(_))
        ));
    }

    fn v_of(body: &[u8]) -> Value {
        serde_json::from_slice(body).unwrap()
    }

    fn row(seq: i64, data: &str) -> JournalRow {
        JournalRow::for_test(seq, data)
    }

    /// The hand-written body is exactly the contract's JSON of each row, escapes included.
    #[test]
    fn body_is_the_contract_json() {
        let mut r = row(7, r#"{"code":"a\"b","n":[1,2]}"#);
        r.actor = "keeper:\"017\"\n".into();
        r.return_id = Some("R-ST01-20261125-0001".into());
        let mut restored = row(9, r#"{"n":1}"#);
        restored.restored_from = Some(("e-old".into(), 42));
        let rows = vec![r.clone(), row(8, "not json"), restored.clone()];
        let (body, n) = batch_body("ST01", "e", &rows, 1 << 20);
        assert_eq!(n, 3);
        assert_eq!(
            v_of(&body)["events"][2],
            restored.to_json(),
            "restored_from as the pull feed writes it"
        );
        assert_eq!(
            v_of(&body)["events"][2]["restored_from"],
            serde_json::json!({"epoch": "e-old", "seq": 42})
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["station_id"], "ST01");
        assert_eq!(v["epoch"], "e");
        assert_eq!(v["events"][0], r.to_json());
        assert_eq!(
            v["events"][1]["data"],
            Value::Null,
            "corrupt data is sent as null"
        );
    }

    /// A batch stops before the byte cap but always carries at least one event.
    #[test]
    fn batches_respect_the_byte_cap() {
        let big = format!(r#"{{"code":"{}"}}"#, "x".repeat(3000));
        let rows: Vec<JournalRow> = (1..=10).map(|i| row(i, &big)).collect();
        let (body, n) = batch_body("ST01", "e", &rows, 8192);
        assert!((1..10).contains(&n), "{n}");
        assert!(body.len() <= 8192 + 1024);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["events"].as_array().unwrap().len(), n);
        assert_eq!(v["events"][0]["seq"], 1);
        let (_, one) = batch_body("ST01", "e", &rows[..1], 100);
        assert_eq!(one, 1, "one oversized event still goes alone");
    }

    /// The sizes add up to the body, and the gzipped cut carries a fresh header over the
    /// same events.
    #[test]
    fn encoded_rows_cut_and_gzip() {
        let rows: Vec<JournalRow> = (1..=3).map(|i| row(i, r#"{"n":1}"#)).collect();
        let t0 = codec::parse_time("2026-11-25T08:30:00.000Z").unwrap();
        let enc = Encoded::new(header("ST01", "e", t0), &rows);
        let sizes: Vec<usize> = enc.sizes().collect();
        assert_eq!(sizes.len(), 3);
        let two = enc.envelope() + sizes[0] + sizes[1];
        let t1 = t0 + chrono::Duration::seconds(5);
        let zipped = enc.gzip(2, &header("ST01", "e", t1));
        let mut json = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut json)
            .unwrap();
        assert_eq!(json.len(), two);
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["sent_at"], "2026-11-25T08:30:05.000Z");
        assert_eq!(v["events"].as_array().unwrap().len(), 2);
        let body = enc.into_body(2);
        assert_eq!(body.len(), two);
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap()["events"][1]["seq"],
            2
        );
    }

    /// Only rows that name photos are parsed, and every referenced sha256 is found.
    #[test]
    fn finds_the_photos_an_event_references() {
        let r = row(
            4,
            r#"{"photos":[{"sha256":"aa","bytes":1},{"sha256":"bb"}]}"#,
        );
        assert_eq!(photos_of(&r), ["aa", "bb"]);
        assert!(photos_of(&row(5, r#"{"code":"x"}"#)).is_empty());
    }

    /// A photo marked lost is not uploaded, and the event goes out carrying the mark
    /// exactly as the journal row was marked (contract 1.1).
    #[test]
    fn a_photo_marked_lost_is_not_uploaded_and_goes_out_marked() {
        let data = r#"{"photos":[{"sha256":"aa"},{"sha256":"bb"}]}"#;
        let marked = crate::store::lost::mark_lost(data, |s| s == "aa").unwrap();
        let r = row(4, &marked);
        assert_eq!(photos_of(&r), ["bb"], "only the photo not lost is uploaded");
        let all_lost = crate::store::lost::mark_lost(data, |_| true).unwrap();
        assert!(photos_of(&row(4, &all_lost)).is_empty());
        let (body, _) = batch_body("ST01", "e", &[r], 1 << 20);
        let v = v_of(&body);
        assert_eq!(v["events"][0]["data"]["photos"][0]["lost"], true);
        assert_eq!(v["events"][0]["data"]["photos"][1].get("lost"), None);
    }
}
