//! HID POS bar code scanner reports (usage page 0x8C): where the data is in a report and
//! how multi-report scans are put back together. Pure — no I/O, time is passed in.
//!
//! - [`HidPosLayout::from_descriptor`] reads the Scanned Data Report's fields from the
//!   interface's report descriptor (Byte Count 0x01/0x3B, Symbology Identifier
//!   0x8C/0xFB..0xFD, Decoded Data 0x8C/0xFE, Decode Data Continued 0x8C/0xFF);
//!   [`HidPosLayout::honeywell`] is the fallback when no descriptor is available (report id
//!   2, byte 1 length, 2..4 AIM, 5..60 data, byte 63 bit 0 continued; `notes/devices.md`
//!   §1.3.1).
//! - [`Reassembler`] joins the chunks of one scan until a report with the continued flag
//!   clear arrives. If that report never comes, the scan ends after a quiet gap
//!   ([`DEFAULT_QUIET_GAP_MS`]) and is delivered as received (logged by the caller). A
//!   partial scan is never delivered when the device goes away ([`Reassembler::drop_partial`]).
//! - The AIM symbology identifier of the first chunk is kept with the scan and, with
//!   [`Aim::Keep`], delivered as the `]XY` prefix the scan grammar understands.
//! - Reports of another report id, or too short for the layout (trigger, status, vendor
//!   reports) are stray: ignored, never part of a scan.

use super::hiddesc::{self, PAGE_BARCODE};

/// Quiet gap that ends a scan whose last report never came (ms).
pub const DEFAULT_QUIET_GAP_MS: u64 = 500;
/// Length guard: a longer scan is delivered as `MAX_LEN + 1` bytes so the grammar refuses it.
pub const MAX_LEN: usize = super::framing::DEFAULT_MAX_LEN;

const USAGE_BYTE_COUNT: (u16, u16) = (0x01, 0x3B);

/// What to do with the AIM symbology identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aim {
    /// Deliver it as a `]XY` prefix (the grammar uses it: `]C1`, `]d2`, `]Q3`, `]E0`).
    #[default]
    Keep,
    /// Drop it (serial: strip a leading `]XY` the scanner sends).
    Strip,
}

/// Where the fields of the Scanned Data Report are in a hidraw report (byte offsets
/// include the report id byte when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidPosLayout {
    /// Report id of the scanned-data report.
    pub report_id: Option<u8>,
    /// Byte holding the number of data bytes in this report, if the descriptor has one.
    pub byte_count: Option<usize>,
    /// First of the three symbology identifier bytes.
    pub aim: Option<usize>,
    /// First data byte and the number of data bytes per report.
    pub data: (usize, usize),
    /// Bit position (from the start of the report) of the continued flag.
    pub continued_bit: Option<usize>,
    /// Report length in bytes, including the report id.
    pub report_len: usize,
}

impl HidPosLayout {
    /// The Honeywell / Access-IS layout (64-byte reports, report id 2).
    pub fn honeywell() -> Self {
        HidPosLayout {
            report_id: Some(2),
            byte_count: Some(1),
            aim: Some(2),
            data: (5, 56),
            continued_bit: Some(63 * 8),
            report_len: 64,
        }
    }

    /// Newland's documented HID POS report (integration guides, "USB Interface / HID-POS"):
    /// report id 2, byte 1 length, 2..57 data, 62 Newland symbology id, 63 bit 0 continued;
    /// no AIM id in the report.
    pub fn newland() -> Self {
        HidPosLayout {
            report_id: Some(2),
            byte_count: Some(1),
            aim: None,
            data: (2, 56),
            continued_bit: Some(63 * 8),
            report_len: 64,
        }
    }

    /// A fallback layout by name (`honeywell`, `newland`), for profiles.
    pub fn fallback(name: &str) -> Option<Self> {
        match name {
            "honeywell" => Some(Self::honeywell()),
            "newland" => Some(Self::newland()),
            _ => None,
        }
    }

    /// The layout of the first report that carries Decoded Data (0x8C/0xFE); `None` when the
    /// descriptor has none or it is not byte aligned.
    pub fn from_descriptor(desc: &[u8]) -> Option<Self> {
        let fields = hiddesc::input_fields(desc);
        let data = fields
            .iter()
            .find(|f| f.page == PAGE_BARCODE && f.usage == 0xFE && f.bit_size == 8)?;
        let rid = data.report_id;
        let in_report = |page: u16, usage: u16| {
            fields
                .iter()
                .find(|f| f.report_id == rid && f.page == page && f.usage == usage)
        };
        let byte_count = in_report(USAGE_BYTE_COUNT.0, USAGE_BYTE_COUNT.1)
            .filter(|f| f.bit_size == 8)
            .and_then(|f| f.byte_offset());
        let aim = in_report(PAGE_BARCODE, 0xFB)
            .filter(|f| f.bit_size == 8)
            .and_then(|f| f.byte_offset());
        // Three consecutive bytes FB FC FD, or nothing.
        let aim = aim.filter(|&a| {
            [0xFC, 0xFD].iter().enumerate().all(|(i, &u)| {
                in_report(PAGE_BARCODE, u).and_then(|f| f.byte_offset()) == Some(a + 1 + i)
            })
        });
        let continued_bit = in_report(PAGE_BARCODE, 0xFF)
            .map(|f| f.bit_offset as usize + if rid.is_some() { 8 } else { 0 });
        Some(HidPosLayout {
            report_id: rid,
            byte_count,
            aim,
            data: (data.byte_offset()?, data.count as usize),
            continued_bit,
            report_len: hiddesc::input_report_len(desc, rid),
        })
    }

    /// Decode one report; `None` for a stray report.
    pub fn chunk(&self, report: &[u8]) -> Option<Chunk> {
        if let Some(id) = self.report_id
            && report.first() != Some(&id)
        {
            return None;
        }
        let (start, cap) = self.data;
        if report.len() <= start {
            return None;
        }
        let avail = &report[start..report.len().min(start + cap)];
        let data = match self.byte_count {
            Some(at) => {
                let n = usize::from(*report.get(at)?);
                &avail[..n.min(avail.len())]
            }
            // No count: the data is NUL padded.
            None => {
                let end = avail.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                &avail[..end]
            }
        };
        let aim = self.aim.and_then(|a| {
            let id: [u8; 3] = report.get(a..a + 3)?.try_into().ok()?;
            (id[0] == b']' && id[1].is_ascii_alphabetic() && id[2].is_ascii_alphanumeric())
                .then_some(id)
        });
        let continued = self
            .continued_bit
            .and_then(|bit| report.get(bit / 8).map(|b| b >> (bit % 8) & 1 == 1))
            .unwrap_or(false);
        Some(Chunk {
            aim,
            data: data.to_vec(),
            continued,
        })
    }
}

/// The useful part of one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// `]XY` symbology identifier, when the report carries a valid one.
    pub aim: Option<[u8; 3]>,
    /// Data bytes of this report.
    pub data: Vec<u8>,
    /// More reports of the same scan follow.
    pub continued: bool,
}

/// What one report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not a scanned-data report (other report id, too short): ignored.
    Stray,
    /// Part of a scan; more reports expected.
    Partial,
    /// A complete scan, AIM prefix applied.
    Scan(Vec<u8>),
}

/// A scan ended by the quiet gap instead of its last report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapScan {
    pub scan: Vec<u8>,
    /// Reports it was made of.
    pub reports: usize,
}

/// Joins the chunks of multi-report scans.
#[derive(Debug, Clone)]
pub struct Reassembler {
    layout: HidPosLayout,
    aim_mode: Aim,
    gap_ms: u64,
    buf: Vec<u8>,
    aim: Option<[u8; 3]>,
    reports: usize,
    last_ms: Option<u64>,
}

impl Reassembler {
    pub fn new(layout: HidPosLayout, aim_mode: Aim, gap_ms: Option<u64>) -> Self {
        Reassembler {
            layout,
            aim_mode,
            gap_ms: gap_ms.unwrap_or(DEFAULT_QUIET_GAP_MS).max(1),
            buf: Vec::new(),
            aim: None,
            reports: 0,
            last_ms: None,
        }
    }

    pub fn layout(&self) -> &HidPosLayout {
        &self.layout
    }

    /// Reports of an unfinished scan are buffered.
    pub fn has_partial(&self) -> bool {
        self.reports > 0
    }

    /// Feed one report read at `now_ms`. A scan left unfinished for the quiet gap is
    /// returned first by [`Reassembler::flush_if_quiet`]; call it before `push`.
    pub fn push(&mut self, report: &[u8], now_ms: u64) -> Outcome {
        let Some(chunk) = self.layout.chunk(report) else {
            return Outcome::Stray;
        };
        if self.reports == 0 {
            self.aim = chunk.aim;
        }
        if self.buf.len() <= MAX_LEN {
            self.buf.extend_from_slice(&chunk.data);
            self.buf.truncate(MAX_LEN + 1);
        }
        self.reports += 1;
        self.last_ms = Some(now_ms);
        if chunk.continued {
            return Outcome::Partial;
        }
        match self.finish() {
            Some(scan) => Outcome::Scan(scan),
            None => Outcome::Stray,
        }
    }

    /// When the quiet gap has passed since the last report of an unfinished scan, end it.
    pub fn flush_if_quiet(&mut self, now_ms: u64) -> Option<GapScan> {
        let last = self.last_ms?;
        if self.reports == 0 || now_ms.saturating_sub(last) < self.gap_ms {
            return None;
        }
        let reports = self.reports;
        self.finish().map(|scan| GapScan { scan, reports })
    }

    /// When [`Reassembler::flush_if_quiet`] could end the unfinished scan.
    pub fn quiet_deadline_ms(&self) -> Option<u64> {
        let last = self.last_ms?;
        (self.reports > 0).then(|| last.saturating_add(self.gap_ms))
    }

    /// The device went away: forget the unfinished scan. Returns how many reports and bytes
    /// were dropped, if any.
    pub fn drop_partial(&mut self) -> Option<(usize, usize)> {
        let dropped = (self.reports > 0).then_some((self.reports, self.buf.len()));
        self.buf.clear();
        self.reports = 0;
        self.aim = None;
        dropped
    }

    fn finish(&mut self) -> Option<Vec<u8>> {
        let data = std::mem::take(&mut self.buf);
        let aim = self.aim.take();
        self.reports = 0;
        if data.is_empty() {
            return None;
        }
        match (self.aim_mode, aim) {
            (Aim::Keep, Some(id)) => {
                let mut out = Vec::with_capacity(3 + data.len());
                out.extend_from_slice(&id);
                out.extend_from_slice(&data);
                Some(out)
            }
            _ => Some(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::hiddesc::from_hex;
    use crate::devices::hiddesc::tests::{COUNTED, GENERIC};

    /// A 64-byte Honeywell report: id 2, length, AIM, data, code id, 0, continued.
    pub(crate) fn honeywell(aim: &[u8; 3], data: &[u8], code_id: u8, continued: bool) -> Vec<u8> {
        let mut r = vec![0u8; 64];
        r[0] = 2;
        r[1] = data.len() as u8;
        r[2..5].copy_from_slice(aim);
        r[5..5 + data.len()].copy_from_slice(data);
        r[61] = code_id;
        r[63] = u8::from(continued);
        r
    }

    #[test]
    fn honeywell_ean13_fixture_report() {
        // notes §1.3.1: 02 0D 5D 45 30 '5901234123457' 00…00 64 00 00 (64 bytes).
        let r = honeywell(b"]E0", b"5901234123457", 0x64, false);
        assert_eq!(&r[..5], &[0x02, 0x0D, 0x5D, 0x45, 0x30]);
        let layout = HidPosLayout::honeywell();
        let c = layout.chunk(&r).unwrap();
        assert_eq!(c.aim, Some(*b"]E0"));
        assert_eq!(c.data, b"5901234123457");
        assert!(!c.continued);
        let mut re = Reassembler::new(layout, Aim::Keep, None);
        assert_eq!(re.push(&r, 0), Outcome::Scan(b"]E05901234123457".to_vec()));
        let mut strip = Reassembler::new(HidPosLayout::honeywell(), Aim::Strip, None);
        assert_eq!(strip.push(&r, 0), Outcome::Scan(b"5901234123457".to_vec()));
    }

    #[test]
    fn counted_descriptor_layout_reads_the_honeywell_fixture() {
        let layout = HidPosLayout::from_descriptor(&from_hex(COUNTED).unwrap()).unwrap();
        assert_eq!(layout.report_id, Some(2));
        assert_eq!(layout.byte_count, Some(1));
        assert_eq!(layout.aim, Some(2));
        assert_eq!(layout.data, (5, 56));
        assert_eq!(layout.continued_bit, Some(61 * 8));
        assert_eq!(layout.report_len, 62);
        let r = honeywell(b"]E0", b"5901234123457", 0x64, false);
        let c = layout.chunk(&r[..62]).unwrap();
        assert_eq!(
            (c.aim, c.data.as_slice()),
            (Some(*b"]E0"), &b"5901234123457"[..])
        );
    }

    #[test]
    fn generic_descriptor_layout_strips_nul_padding() {
        let layout = HidPosLayout::from_descriptor(&from_hex(GENERIC).unwrap()).unwrap();
        assert_eq!(
            (layout.byte_count, layout.aim, layout.data),
            (None, Some(1), (4, 56))
        );
        let mut r = vec![0u8; layout.report_len];
        r[0] = 2;
        r[1..4].copy_from_slice(b"]C1");
        r[4..4 + 10].copy_from_slice(b"0104012345");
        let c = layout.chunk(&r).unwrap();
        assert_eq!(
            (c.data.as_slice(), c.continued),
            (&b"0104012345"[..], false)
        );
        r[60] = 1;
        assert!(layout.chunk(&r).unwrap().continued);
    }

    #[test]
    fn three_report_qr_continuation_and_stray_report() {
        let text: Vec<u8> = (0..130u8).map(|i| b'A' + i % 26).collect();
        let mut re = Reassembler::new(HidPosLayout::honeywell(), Aim::Keep, None);
        assert_eq!(
            re.push(&honeywell(b"]Q1", &text[..56], b's', true), 10),
            Outcome::Partial
        );
        // A stray report (vendor report id 0xFD, a trigger report) in the middle is ignored.
        let mut stray = vec![0u8; 64];
        stray[0] = 0xFD;
        assert_eq!(re.push(&stray, 11), Outcome::Stray);
        assert_eq!(re.push(&[2, 0], 11), Outcome::Stray);
        assert_eq!(
            re.push(&honeywell(b"]Q1", &text[56..112], b's', true), 12),
            Outcome::Partial
        );
        let mut want = b"]Q1".to_vec();
        want.extend_from_slice(&text);
        assert_eq!(
            re.push(&honeywell(b"]Q1", &text[112..], b's', false), 13),
            Outcome::Scan(want)
        );
        assert!(!re.has_partial());
    }

    #[test]
    fn missing_last_report_ends_after_the_quiet_gap_and_unplug_drops_partial() {
        let mut re = Reassembler::new(HidPosLayout::honeywell(), Aim::Keep, Some(500));
        assert_eq!(
            re.push(&honeywell(b"]d2", b"0104012345678901", b'w', true), 1000),
            Outcome::Partial
        );
        assert_eq!(re.quiet_deadline_ms(), Some(1500));
        assert_eq!(re.flush_if_quiet(1499), None);
        assert_eq!(
            re.flush_if_quiet(1500),
            Some(GapScan {
                scan: b"]d20104012345678901".to_vec(),
                reports: 1
            })
        );
        assert_eq!(re.quiet_deadline_ms(), None);
        // Unplug mid-scan: dropped, never delivered.
        re.push(&honeywell(b"]d2", b"01040123", b'w', true), 2000);
        assert_eq!(re.drop_partial(), Some((1, 8)));
        assert_eq!(re.flush_if_quiet(9000), None);
        assert_eq!(re.drop_partial(), None);
    }

    #[test]
    fn newland_fallback_layout_has_no_aim_in_the_report() {
        let mut r = vec![0u8; 64];
        r[0] = 2;
        r[1] = 4;
        r[2..6].copy_from_slice(b"]E01");
        r[62] = b'd';
        let c = HidPosLayout::fallback("newland")
            .unwrap()
            .chunk(&r)
            .unwrap();
        assert_eq!(
            (c.aim, c.data.as_slice(), c.continued),
            (None, &b"]E01"[..], false)
        );
        assert!(HidPosLayout::fallback("other").is_none());
    }

    #[test]
    fn invalid_aim_bytes_and_oversize_counts_are_safe() {
        let layout = HidPosLayout::honeywell();
        let mut r = honeywell(b"\0\0\0", b"ABC", 0, false);
        assert_eq!(layout.chunk(&r).unwrap().aim, None);
        r[1] = 0xFF; // count larger than the data area: clamped.
        assert_eq!(layout.chunk(&r).unwrap().data.len(), 56);
        let mut re = Reassembler::new(layout, Aim::Keep, None);
        let full = honeywell(b"]X0", &[b'Z'; 56], 0, true);
        for _ in 0..(MAX_LEN / 56 + 5) {
            assert_eq!(re.push(&full, 0), Outcome::Partial);
        }
        let last = honeywell(b"]X0", b"Z", 0, false);
        match re.push(&last, 0) {
            Outcome::Scan(s) => assert_eq!(s.len(), 3 + MAX_LEN + 1),
            other => panic!("{other:?}"),
        }
    }
}
