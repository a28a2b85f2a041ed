//! What comes in as files and answers: photos (`photometa`), feed items (`feed`), the
//! central's answers (`sync`), manifests (`manifest`) and the config (`config`).

use std::path::Path;

use serde_json::{Value, json};

use crate::config;
use crate::feed::{self, FeedItem};
use crate::manifest::{self, ImportFormat};
use crate::photometa::strip_location;
use crate::sync::feed::parse_page;
use crate::sync::push::{Outcome, classify};

/// A big- or little-endian reader of a TIFF block (EXIF), bounds-checked.
struct Tiff<'a>(&'a [u8], bool);

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<usize> {
        let s = self.0.get(at..at.checked_add(2)?)?;
        let v = [s[0], s[1]];
        Some(usize::from(if self.1 {
            u16::from_le_bytes(v)
        } else {
            u16::from_be_bytes(v)
        }))
    }
    fn u32(&self, at: usize) -> Option<usize> {
        let s = self.0.get(at..at.checked_add(4)?)?;
        let v = [s[0], s[1], s[2], s[3]];
        usize::try_from(if self.1 {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        })
        .ok()
    }
}

/// The entry counts of every GPS IFD that IFD0 of an EXIF block points to.
fn gps_entry_counts(tiff: &[u8]) -> Vec<usize> {
    let le = match tiff.get(0..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return Vec::new(),
    };
    let t = Tiff(tiff, le);
    let Some(ifd0) = t.u32(4) else {
        return Vec::new();
    };
    let Some(n) = t.u16(ifd0) else {
        return Vec::new();
    };
    (0..n)
        .map(|k| ifd0 + 2 + 12 * k)
        .filter(|&e| t.u16(e) == Some(0x8825))
        .filter_map(|e| t.u32(e + 8).and_then(|gps| t.u16(gps)))
        .collect()
}

/// The APP segments of a JPEG before its image data: (marker, payload).
fn jpeg_segments(b: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut i = 2;
    while let (Some(&0xFF), Some(&marker)) = (b.get(i), b.get(i + 1)) {
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let Some(len) = b
            .get(i + 2..i + 4)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        else {
            break;
        };
        let Some(payload) = b.get(i + 4..i + 2 + len.max(2)) else {
            break;
        };
        out.push((marker, payload));
        i += 2 + len.max(2);
    }
    out
}

/// The chunk types of a PNG or WebP file (`at`: the first chunk; `le`: WebP's lengths).
fn chunk_types(b: &[u8], at: usize, webp: bool) -> Vec<[u8; 4]> {
    let mut out = Vec::new();
    let mut i = at;
    while let Some(head) = b.get(i..i + 8) {
        let (ty, len) = if webp {
            let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
            ([head[0], head[1], head[2], head[3]], 8 + len + (len & 1))
        } else {
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            ([head[4], head[5], head[6], head[7]], 12 + len)
        };
        out.push(ty);
        i += len;
    }
    out
}

/// Any bytes are stripped or refused without panicking. What is stripped is the same kind
/// of image, no longer, strips again to itself (it re-parses), and holds no location: no
/// GPS IFD entry in any EXIF segment and no XMP (JPEG), no `eXIf` or text chunk (PNG), no
/// `EXIF` or `XMP ` chunk (WebP). A PNG that decodes still decodes, at the same size.
pub fn photometa(data: &[u8]) {
    let Ok(out) = strip_location(data) else {
        return;
    };
    let kind = |b: &[u8]| match b {
        [0xFF, 0xD8, ..] => "JPEG",
        [0x89, b'P', b'N', b'G', ..] => "PNG",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "WebP",
        _ => "other",
    };
    assert_eq!(kind(&out), kind(data), "the same kind of image");
    assert!(out.len() <= data.len(), "stripping only removes");
    assert_eq!(
        strip_location(&out).as_deref(),
        Ok(out.as_slice()),
        "re-parses"
    );
    if out.starts_with(&[0xFF, 0xD8]) {
        for (marker, payload) in jpeg_segments(&out) {
            assert!(
                !(marker == 0xE1 && payload.starts_with(b"http://ns.adobe.com/")),
                "XMP left"
            );
            if marker == 0xE1 && payload.starts_with(b"Exif\0\0") {
                let counts = gps_entry_counts(&payload[6..]);
                assert!(
                    counts.iter().all(|&n| n == 0),
                    "GPS entries left: {counts:?}"
                );
            }
        }
    } else if out.starts_with(b"\x89PNG") {
        let left = chunk_types(&out, 8, false);
        assert!(
            !left
                .iter()
                .any(|t| matches!(t, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt")),
            "{left:?}"
        );
        let size = |b: &[u8]| {
            png::Decoder::new(std::io::Cursor::new(b))
                .read_info()
                .ok()
                .map(|r| (r.info().width, r.info().height))
        };
        if let Some(before) = size(data) {
            assert_eq!(size(&out), Some(before), "a PNG that decoded still decodes");
        }
    } else {
        let left = chunk_types(&out, 12, true);
        assert!(
            !left.iter().any(|t| matches!(t, b"EXIF" | b"XMP ")),
            "{left:?}"
        );
        assert_eq!(
            out[4..8],
            ((out.len() - 8) as u32).to_le_bytes(),
            "RIFF size"
        );
    }
}

/// A feed item as the wire carries it (`None` when the JSON is not an item at all).
fn item_of(v: &Value) -> Option<FeedItem> {
    Some(FeedItem {
        ty: v.get("type")?.as_str()?.to_owned(),
        key: v.get("key")?.as_str()?.to_owned(),
        version: v.get("version")?.as_i64()?,
        data: v.get("data").filter(|d| !d.is_null()).cloned(),
    })
}

/// Any item validates or is refused with a reason, the same every time; a valid one has
/// a printable key of 1 to 128 characters and a version ≥ 0, and an `expected_return`
/// parses into its entry under that key. The item survives the control socket's JSON.
pub fn feed(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Some(item) = item_of(&v) else { return };
    let verdict = feed::validate(&item);
    assert_eq!(feed::validate(&item), verdict, "deterministic");
    if verdict.is_ok() {
        let n = item.key.chars().count();
        assert!((1..=128).contains(&n) && !item.key.chars().any(char::is_control));
        assert!(item.version >= 0);
        if let (Some(d), "expected_return") = (&item.data, item.ty.as_str()) {
            let entry = feed::expected_return(&item.key, item.version, d);
            // The entry's waybill is the key as a scanner reads it: upper case.
            let waybill = entry.map(|e| e.waybill.to_ascii_uppercase());
            assert_eq!(waybill, Ok(item.key.to_ascii_uppercase()));
        }
    }
    let line = (1, Ok(item.clone()));
    let back = manifest::line_from_json(&manifest::line_json(&line));
    assert_eq!(
        back.ok().and_then(|(_, i)| i.ok()),
        Some(item),
        "JSON round trip"
    );
}

/// Bytes 0–1 are an HTTP status, the rest the central's body. An answer acknowledges
/// events only as a 200 carrying `acked_through`; 413 always shrinks the batch, 401/403
/// always stop for the token. A feed page that parses accounts for every item it held
/// (kept or malformed), and its items parse back the same when sent again.
pub fn sync(data: &[u8]) {
    let [hi, lo, rest @ ..] = data else { return };
    let status = 100 + u16::from_be_bytes([*hi, *lo]) % 500;
    let Ok(body) = std::str::from_utf8(rest) else {
        return;
    };
    let acked = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("acked_through").and_then(Value::as_i64));
    match classify(status, body) {
        Outcome::Acked { through, .. } => {
            assert_eq!(
                (status, Some(through)),
                (200, acked),
                "an ack is a 200's acked_through"
            );
        }
        Outcome::Gap { acked_through } => {
            assert_eq!((status, Some(acked_through)), (409, acked));
        }
        Outcome::Conflict { .. } => assert_eq!(status, 409),
        Outcome::TooLarge => assert_eq!(status, 413),
        Outcome::Auth(s) => assert!(s == status && matches!(s, 401 | 403)),
        Outcome::Rejected(s, _) => assert!(s == status && (400..500).contains(&s)),
        Outcome::Transient(_) => assert!(status != 413 && !matches!(status, 401 | 403)),
    }
    let Ok((page, _, _)) = parse_page(body, "c-0") else {
        return;
    };
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let held = v["items"].as_array().map_or(0, Vec::len);
    assert_eq!(
        page.items.len() + page.malformed.len(),
        held,
        "every item accounted for"
    );
    let again: Vec<Value> = page
        .items
        .iter()
        .map(|i| json!({"type": i.ty, "key": i.key, "version": i.version, "data": i.data}))
        .collect();
    let resent = json!({"items": again}).to_string();
    let (page2, _, _) = parse_page(&resent, "c-0").unwrap_or_else(|e| panic!("{resent}: {e}"));
    assert_eq!(page2.items, page.items, "items parse back the same");
    assert!(page2.malformed.is_empty());
}

/// Byte 0 picks CSV or JSON lines; the rest is the file. Any file parses or is refused
/// whole without panicking; every line it yields has a number within the file, and every
/// item is a manifest's type, survives the control socket's JSON and validates (or is
/// refused) without panicking.
pub fn manifest(data: &[u8]) {
    let [pick, rest @ ..] = data else { return };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = if pick & 1 == 0 {
        ImportFormat::Csv
    } else {
        ImportFormat::Jsonl
    };
    let Ok(lines) = manifest::parse_text(text, format) else {
        return;
    };
    // Lines as either reader counts them: CSV ends a record at CR, LF or CR LF.
    let last = text.replace("\r\n", "\n").split(['\n', '\r']).count();
    for line in &lines {
        assert!((1..=last).contains(&line.0), "line {} of {last}", line.0);
        let back = manifest::line_from_json(&manifest::line_json(line));
        match (&line.1, back) {
            (Ok(item), Ok((n, Ok(again)))) => {
                assert_eq!((n, &again), (line.0, item));
                assert!(matches!(
                    item.ty.as_str(),
                    "expected_return" | "inspection_standard"
                ));
                let _ = feed::validate(item);
            }
            (Err(e), Ok((n, Err(again)))) => assert_eq!((n, &again), (line.0, e)),
            (_, back) => panic!("{line:?} came back as {back:?}"),
        }
    }
}

/// The inline secrets a config text holds: the tokens and PIN hashes, as strings long
/// enough that finding one elsewhere is no coincidence.
fn secrets_of(table: &toml::Table) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(sync) = table.get("sync").and_then(toml::Value::as_table) {
        for key in ["station_token", "central_token"] {
            out.extend(
                sync.get(key)
                    .and_then(toml::Value::as_str)
                    .map(str::to_owned),
            );
        }
    }
    for op in table
        .get("operators")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(
            op.get("pin_hash")
                .and_then(toml::Value::as_str)
                .map(str::to_owned),
        );
    }
    out.retain(|s| s.len() >= 8);
    out
}

/// Any text loads or is refused without panicking; every problem names the file and, when
/// it names a line, one within the text; neither a loaded config's `Debug` nor the
/// problems show an inline token or PIN hash.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent/returnsd-fuzz/station.toml");
    let mut secrets = text
        .parse::<toml::Table>()
        .map(|t| secrets_of(&t))
        .unwrap_or_default();
    // A value that stands elsewhere in the text too (a station id equal to a token) may be
    // shown for that other key.
    secrets.retain(|s| text.matches(s.as_str()).count() == 1);
    let shown = match config::parse(text, "fuzz.toml", path, &[]) {
        Ok(cfg) => format!("{cfg:?}"),
        Err(e) => {
            let lines = text.lines().count() + 1;
            for p in &e.0 {
                assert_eq!(p.file, "fuzz.toml", "{p:?}");
                assert!(
                    p.line.is_none_or(|l| (1..=lines).contains(&l)),
                    "{p:?} of {lines}"
                );
            }
            e.to_string()
        }
    };
    for s in &secrets {
        assert!(!shown.contains(s.as_str()), "a secret shown: {shown}");
    }
}
