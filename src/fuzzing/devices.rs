//! Scanner input: serial framing, HID POS reports, keyboard-wedge reports and HID report
//! descriptors (`devices`). The round trips here are "never loses a scan": what a scanner
//! sends comes out whole, once, however the bytes are cut into reads or reports.

use crate::devices::framing::{Framer, FramerConfig, Suffix};
use crate::devices::hiddesc;
use crate::devices::hidpos::{self, Aim, HidPosLayout, Outcome, Reassembler};
use crate::devices::keyboard::{KeyboardDecoder, REPORT_LEN};

const CR: u8 = b'\r';
const LF: u8 = b'\n';
/// The quiet gap of the fuzzed framers (ms).
const GAP_MS: u64 = 10;

/// A framer configuration read from two bytes: suffix, prefix, length guard.
fn framer_config(a: u8, b: u8) -> FramerConfig {
    let suffix = [Suffix::Cr, Suffix::Lf, Suffix::CrLf, Suffix::None][usize::from(a & 3)];
    FramerConfig {
        suffix,
        quiet_gap_ms: (a & 8 != 0).then_some(GAP_MS),
        max_len: 1 + usize::from(b % 64),
        prefix: (a & 4 != 0).then(|| b"$%".to_vec()),
    }
}

/// Any byte stream frames the same whether it arrives in one read or cut anywhere into
/// several; no scan is empty or longer than one byte past the guard. Scans framed the way
/// the configured scanner sends them come back whole and in order.
pub fn framing(data: &[u8]) {
    let [a, b, cut, rest @ ..] = data else {
        return;
    };
    let cfg = framer_config(*a, *b);
    let mut whole = Framer::new(cfg.clone());
    let expected = whole.push(rest, 0);
    let mut pieces = Framer::new(cfg.clone());
    let step = 1 + usize::from(*cut % 7);
    let got: Vec<Vec<u8>> = rest.chunks(step).flat_map(|c| pieces.push(c, 0)).collect();
    assert_eq!(got, expected, "cut into reads of {step} bytes");
    for s in &expected {
        assert!(!s.is_empty() && s.len() <= cfg.max_len + 1, "scan {s:?}");
    }
    framing_round_trip(&cfg, *cut, rest);
}

/// The round trip of [`framing`]: the stream's CR/LF-free runs as scans.
fn framing_round_trip(cfg: &FramerConfig, style: u8, rest: &[u8]) {
    let prefix = cfg.prefix.clone().unwrap_or_default();
    // With an LF suffix the CR of a CR LF counts against the guard until the LF comes (a
    // scan of exactly `max_len` bytes sent with CR LF is refused as too long): leave it room.
    let cr_counts = usize::from(cfg.suffix == Suffix::Lf && style & 0x80 != 0);
    let Some(room) = cfg
        .max_len
        .checked_sub(prefix.len() + cr_counts)
        .filter(|r| *r > 0)
    else {
        return;
    };
    let scans: Vec<&[u8]> = rest
        .split(|&b| b == CR || b == LF)
        .filter(|s| !s.is_empty())
        .map(|s| &s[..s.len().min(room)])
        .collect();
    let suffix: &[u8] = match (cfg.suffix, style & 0x80 != 0) {
        (Suffix::Cr, false) => b"\r",
        (Suffix::Lf, false) => b"\n",
        (Suffix::Cr | Suffix::Lf | Suffix::CrLf, _) => b"\r\n",
        (Suffix::None, _) => b"",
    };
    let mut framer = Framer::new(cfg.clone());
    let mut got = Vec::new();
    let mut now = 0;
    for s in &scans {
        let frame = [prefix.as_slice(), s, suffix].concat();
        got.extend(framer.push(&frame, now));
        now += 2 * GAP_MS + 100;
    }
    got.extend(framer.flush_if_quiet(now));
    assert_eq!(got, scans, "framed with {suffix:?}, prefix {prefix:?}");
    assert!(!framer.has_partial(), "nothing left over");
}

/// Splits `payload` into Honeywell reports (id 2, count, AIM, 56 data bytes, continued
/// flag in byte 63).
fn honeywell_reports(payload: &[u8], aim: &[u8; 3]) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> = payload.chunks(56).collect();
    let last = chunks.len().saturating_sub(1);
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut r = vec![0u8; 64];
            r[0] = 2;
            r[1] = c.len() as u8;
            r[2..5].copy_from_slice(aim);
            r[5..5 + c.len()].copy_from_slice(c);
            r[63] = u8::from(i != last);
            r
        })
        .collect()
}

/// Any reports, through either built-in layout, never panic and never make a scan longer
/// than the guard. A scan sent as Honeywell reports, with stray reports of another id in
/// between, comes back whole and once, with its AIM prefix.
pub fn hidpos(data: &[u8]) {
    for layout in [HidPosLayout::honeywell(), HidPosLayout::newland()] {
        let mut re = Reassembler::new(layout, Aim::Keep, None);
        for (t, report) in data.chunks(64).enumerate() {
            let now = t as u64 * 100;
            if let Some(g) = re.flush_if_quiet(now) {
                assert!(g.scan.len() <= hidpos::MAX_LEN + 4);
            }
            if let Outcome::Scan(s) = re.push(report, now) {
                assert!(!s.is_empty() && s.len() <= hidpos::MAX_LEN + 4, "{s:?}");
            }
        }
    }
    let payload = &data[..data.len().min(hidpos::MAX_LEN)];
    if payload.is_empty() {
        return;
    }
    let mut re = Reassembler::new(HidPosLayout::honeywell(), Aim::Keep, None);
    let mut scans = Vec::new();
    for report in honeywell_reports(payload, b"]C1") {
        let mut stray = report.clone();
        stray[0] = 3;
        assert_eq!(re.push(&stray, 0), Outcome::Stray, "another report id");
        match re.push(&report, 0) {
            Outcome::Scan(s) => scans.push(s),
            Outcome::Partial => {}
            Outcome::Stray => panic!("a scanned-data report taken as stray"),
        }
    }
    assert_eq!(scans, vec![[b"]C1", payload].concat()], "one scan, whole");
    assert!(!re.has_partial());
}

/// The boot-keyboard usage and Shift of a printable ASCII byte, US layout.
fn us_key(b: u8) -> Option<(u8, bool)> {
    const PUNCT: &[u8; 12] = b"-=[]\\#;'`,./";
    const SHIFTED_PUNCT: &[u8; 12] = b"_+{}|~:\"~<>?";
    const SHIFTED_DIGITS: &[u8; 10] = b"!@#$%^&*()";
    let at = |table: &[u8], base: u8| table.iter().position(|&c| c == b).map(|i| base + i as u8);
    match b {
        b'a'..=b'z' => Some((0x04 + b - b'a', false)),
        b'A'..=b'Z' => Some((0x04 + b - b'A', true)),
        b'1'..=b'9' => Some((0x1E + b - b'1', false)),
        b'0' => Some((0x27, false)),
        b'\r' => Some((0x28, false)),
        b'\t' => Some((0x2B, false)),
        b' ' => Some((0x2C, false)),
        _ => at(PUNCT, 0x2D)
            .map(|k| (k, false))
            .or_else(|| at(SHIFTED_PUNCT, 0x2D).map(|k| (k, true)))
            .or_else(|| at(SHIFTED_DIGITS, 0x1E).map(|k| (k, true))),
    }
}

/// The reports a wedge scanner sends to type `bytes`: a key press and its release for
/// printable ASCII, Alt + keypad digits for every other byte.
fn typed(bytes: &[u8]) -> Vec<[u8; REPORT_LEN]> {
    const SHIFT: u8 = 0x02;
    const ALT: u8 = 0x04;
    let key = |mods: u8, k: u8| [mods, 0, k, 0, 0, 0, 0, 0];
    let mut out = Vec::new();
    for &b in bytes {
        if let Some((k, shift)) = us_key(b) {
            out.push(key(if shift { SHIFT } else { 0 }, k));
        } else {
            for d in b.to_string().bytes() {
                let pad = if d == b'0' { 0x62 } else { 0x59 + d - b'1' };
                out.push(key(ALT, pad));
                out.push(key(ALT, 0));
            }
        }
        out.push([0; REPORT_LEN]);
    }
    out
}

/// Any report never panics (one not 8 bytes long is refused with its length); every byte
/// typed as a wedge scanner types it decodes back, in order.
pub fn keyboard(data: &[u8]) {
    let mut dec = KeyboardDecoder::new();
    for report in data.chunks(REPORT_LEN) {
        match dec.push_report(report) {
            Ok(_) => assert_eq!(report.len(), REPORT_LEN),
            Err(e) => assert_eq!(e.0, report.len()),
        }
    }
    let mut dec = KeyboardDecoder::new();
    let mut got = Vec::new();
    for report in typed(data) {
        got.extend(dec.push_report(&report).unwrap_or_default());
    }
    assert_eq!(got, data, "typed and decoded");
}

/// Any descriptor walks without panicking; every Input field lies inside its report's
/// length; a HID POS layout read from it keeps its data inside the report.
pub fn hiddesc(data: &[u8]) {
    let _ = hiddesc::top_level_usages(data);
    let fields = hiddesc::input_fields(data);
    for f in &fields {
        let len = hiddesc::input_report_len(data, f.report_id);
        let id_bits = if f.report_id.is_some() { 8 } else { 0 };
        let end = u64::from(f.bit_offset) + u64::from(f.bit_size) * u64::from(f.count);
        assert!(
            end + id_bits <= len as u64 * 8,
            "{f:?} ends at bit {end}, past the report's {len} bytes"
        );
    }
    if let Some(layout) = HidPosLayout::from_descriptor(data) {
        let (start, n) = layout.data;
        assert!(start + n <= layout.report_len, "{layout:?}");
        let report = vec![0xFF; layout.report_len.min(4096)];
        let _ = layout.chunk(&report);
    }
}
