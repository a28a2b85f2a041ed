//! USB HID boot-keyboard report decoding (keyboard-wedge scanners): US layout built in,
//! other layouts as overrides ([`super::layout::Layout`]). Pure.
//!
//! A report is 8 bytes: `[modifiers, reserved, key1..key6]` (see `notes/devices.md` §1.2).
//! A key produces bytes when it appears in a report (press), not while held. Mapping:
//! - printable keys with Shift per the US layout; Enter / keypad Enter → CR (the suffix,
//!   frame with [`Suffix::Cr`](super::framing::Suffix::Cr)); Tab → HT; Esc → ESC;
//! - Ctrl+`[` / Ctrl+`\` / Ctrl+`]` → ESC / FS / GS (0x1D, the GS1 separator), Ctrl+letter → 0x01..0x1A;
//! - Alt + keypad digits → the byte with that decimal value, emitted when Alt is released
//!   (Zebra "Alt+029" for GS);
//! - rollover-error reports (all slots 0x01) are ignored; unknown keys produce nothing;
//! - a layout override replaces the US character of a key (plain, Shift, AltGr); Ctrl and
//!   Alt+keypad combinations are by key position and not affected.

/// Left/right Ctrl modifier bits.
const CTRL: u8 = 0x01 | 0x10;
/// Left/right Shift modifier bits.
const SHIFT: u8 = 0x02 | 0x20;
/// Left Alt / right Alt (AltGr) modifier bits.
const ALT: u8 = 0x04 | 0x40;

use super::layout::Layout;

/// Length of a boot keyboard report.
pub const REPORT_LEN: usize = 8;

/// A report that is not 8 bytes long.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("boot keyboard report must be {REPORT_LEN} bytes, got {0}")]
pub struct BadReport(pub usize);

/// Stateful decoder for one keyboard device.
#[derive(Debug, Clone, Default)]
pub struct KeyboardDecoder {
    prev: [u8; 6],
    /// Decimal code being typed with Alt + keypad digits.
    alt_code: Option<u32>,
    /// Overrides of the US layout.
    layout: Layout,
}

/// Right Alt (AltGr).
const ALTGR: u8 = 0x40;

impl KeyboardDecoder {
    /// New decoder with no keys held, US layout.
    pub fn new() -> Self {
        Self::default()
    }

    /// New decoder for a scanner set to another keyboard layout.
    pub fn with_layout(layout: Layout) -> Self {
        Self {
            layout,
            ..Self::default()
        }
    }

    /// Decode one report into the bytes it types.
    pub fn push_report(&mut self, report: &[u8]) -> Result<Vec<u8>, BadReport> {
        let report: &[u8; REPORT_LEN] = report.try_into().map_err(|_| BadReport(report.len()))?;
        let mods = report[0];
        let mut keys = [0u8; 6];
        keys.copy_from_slice(&report[2..]);
        if keys.iter().all(|&k| k == 0x01) {
            return Ok(Vec::new()); // phantom state / rollover error
        }
        let mut out = Vec::new();
        if mods & ALT == 0
            && let Some(code) = self.alt_code.take()
            && let Ok(b) = u8::try_from(code)
        {
            out.push(b);
        }
        for &k in keys
            .iter()
            .filter(|&&k| k > 0x03 && !self.prev.contains(&k))
        {
            let over = self.layout.get(k).filter(|_| mods & CTRL == 0);
            if mods & ALT != 0 {
                if let Some(d) = keypad_digit(k) {
                    let code = self.alt_code.unwrap_or(0);
                    self.alt_code = Some(code.saturating_mul(10).saturating_add(d).min(1000));
                } else if mods & ALT == ALTGR
                    && let Some(c) = over.and_then(|o| o.altgr.as_ref())
                {
                    out.extend_from_slice(c);
                }
                continue;
            }
            let shifted = mods & SHIFT != 0;
            let chars = over.and_then(|o| {
                if shifted {
                    o.shift.as_ref()
                } else {
                    o.plain.as_ref()
                }
            });
            if let Some(c) = chars {
                out.extend_from_slice(c);
            } else if let Some(b) = key_byte(k, mods) {
                out.push(b);
            }
        }
        self.prev = keys;
        Ok(out)
    }
}

fn keypad_digit(k: u8) -> Option<u32> {
    match k {
        0x59..=0x61 => Some(u32::from(k - 0x58)),
        0x62 => Some(0),
        _ => None,
    }
}

fn key_byte(k: u8, mods: u8) -> Option<u8> {
    let shift = mods & SHIFT != 0;
    if mods & CTRL != 0 {
        return match k {
            0x04..=0x1D => Some(k - 0x04 + 1),
            0x2F => Some(0x1B),
            0x31 => Some(0x1C),
            0x30 => Some(0x1D),
            _ => None,
        };
    }
    const DIGITS: &[u8; 10] = b"1234567890";
    const SHIFTED_DIGITS: &[u8; 10] = b"!@#$%^&*()";
    Some(match k {
        0x04..=0x1D => {
            let c = b'a' + (k - 0x04);
            if shift { c.to_ascii_uppercase() } else { c }
        }
        0x1E..=0x27 => {
            let i = usize::from(k - 0x1E);
            if shift { SHIFTED_DIGITS[i] } else { DIGITS[i] }
        }
        0x28 | 0x58 => b'\r',
        0x29 => 0x1B,
        0x2B => b'\t',
        0x2C => b' ',
        0x2D..=0x38 => {
            const PLAIN: &[u8; 12] = b"-=[]\\#;'`,./";
            const SHIFTED: &[u8; 12] = b"_+{}|~:\"~<>?";
            let i = usize::from(k - 0x2D);
            if shift { SHIFTED[i] } else { PLAIN[i] }
        }
        0x54 => b'/',
        0x55 => b'*',
        0x56 => b'-',
        0x57 => b'+',
        0x59..=0x62 => b'0' + (keypad_digit(k)? as u8),
        0x63 => b'.',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::framing::{Framer, FramerConfig, Suffix};

    const UP: [u8; 8] = [0; 8];

    fn key(mods: u8, k: u8) -> [u8; 8] {
        [mods, 0, k, 0, 0, 0, 0, 0]
    }

    fn decode(reports: &[[u8; 8]]) -> Vec<u8> {
        let mut d = KeyboardDecoder::new();
        reports
            .iter()
            .flat_map(|r| d.push_report(r).expect("8-byte report"))
            .collect()
    }

    #[test]
    fn notes_fixture_12_enter_and_gs() {
        // notes/devices.md §1.2 capture: "1", "2", Enter, then Ctrl+] as GS.
        let reports = [
            key(0, 0x1E),
            UP,
            key(0, 0x1F),
            UP,
            key(0, 0x28),
            UP,
            key(0x01, 0x30),
            UP,
        ];
        assert_eq!(decode(&reports), b"12\r\x1d");
    }

    #[test]
    fn shift_letters_symbols_and_held_keys() {
        let reports = [
            key(0x02, 0x04),                   // A
            key(0x02, 0x04),                   // still held: nothing
            UP,                                //
            key(0, 0x04),                      // a
            key(0, 0x04),                      // held
            UP,                                //
            key(0, 0x04),                      // a again after release
            [0x20, 0, 0x2D, 0x1E, 0, 0, 0, 0], // right shift: _ !
            UP,
            key(0, 0x2D), // -
            key(0, 0x37), // .
            key(0, 0x2C), // space
            key(0, 0x2B), // tab
            UP,
        ];
        assert_eq!(decode(&reports), b"Aaa_!-. \t");
    }

    #[test]
    fn alt_keypad_029_is_gs_and_keypad_digits() {
        let reports = [
            key(0, 0x59), // keypad 1
            UP,
            key(0x04, 0), // Alt down
            key(0x04, 0x62),
            key(0x04, 0),
            key(0x04, 0x5A),
            key(0x04, 0),
            key(0x04, 0x61),
            key(0x04, 0),
            UP,           // Alt released → 29
            key(0, 0x58), // keypad Enter
            UP,
        ];
        assert_eq!(decode(&reports), b"1\x1d\r");
    }

    #[test]
    fn rollover_and_bad_length() {
        let mut d = KeyboardDecoder::new();
        assert_eq!(d.push_report(&[0, 0, 1, 1, 1, 1, 1, 1]), Ok(Vec::new()));
        assert_eq!(d.push_report(&[0, 0, 0x04]), Err(BadReport(3)));
        assert_eq!(d.push_report(&key(0, 0x05)), Ok(b"b".to_vec()));
    }

    #[test]
    fn german_and_french_layouts() {
        use crate::devices::layout::Layout;
        let run = |layout: &str, reports: &[[u8; 8]]| {
            let mut d = KeyboardDecoder::with_layout(Layout::builtin(layout).unwrap());
            reports
                .iter()
                .flat_map(|r| d.push_report(r).unwrap())
                .collect::<Vec<u8>>()
        };
        // A QWERTZ scanner types "yz-" as keys 0x1D 0x1C 0x38; US would read "zy/".
        let qwertz = [key(0, 0x1D), UP, key(0, 0x1C), UP, key(0, 0x38), UP];
        assert_eq!(decode(&qwertz), b"zy/");
        assert_eq!(run("de", &qwertz), b"yz-");
        // AltGr+Q is '@' in German; Ctrl+] stays GS whatever the layout.
        assert_eq!(
            run("de", &[key(0x40, 0x14), UP, key(0x01, 0x30), UP]),
            b"@\x1d"
        );
        // AZERTY types digits with Shift: "12" is Shift+0x1E, Shift+0x1F; plain 0x1E is '&'.
        let azerty = [
            key(0x02, 0x1E),
            UP,
            key(0x02, 0x1F),
            UP,
            key(0, 0x1E),
            UP,
            key(0, 0x14),
            UP,
        ];
        assert_eq!(run("fr", &azerty), b"12&a");
        assert_eq!(decode(&azerty), b"!@1q");
    }

    #[test]
    fn decoded_wedge_stream_frames_into_scans() {
        // "]C1" + "01" GS "10AB" Enter, typed as a GS1-128 wedge scan.
        let mut reports = vec![
            key(0, 0x30),    // ]
            key(0x02, 0x06), // C
            UP,
            key(0, 0x1E), // 1
            UP,
            key(0, 0x27), // 0
            UP,
            key(0, 0x1E), // 1
            UP,
            key(0x10, 0x30), // RCtrl+] = GS
            UP,
            key(0, 0x1E),
            UP,
            key(0, 0x27),
            key(0x02, 0x04),
            key(0x02, 0x05),
            UP,
            key(0, 0x28),
            UP,
        ];
        reports.insert(1, UP);
        let bytes = decode(&reports);
        let mut f = Framer::new(FramerConfig::with_suffix(Suffix::Cr));
        assert_eq!(f.push(&bytes, 0), vec![b"]C101\x1d10AB".to_vec()]);
    }
}
