//! ZPL printer status: the `~HS` host-status answer parsed into what an operator must know
//! (paper out, paused, head open, ribbon out, buffer full, temperature). Three
//! `<STX>…<ETX>` strings of comma-separated fields (ZPL II programming guide, `~HS`). A
//! printer that does not answer is `Unknown`, never `Ok` — Zebra printers stay silent on
//! exactly the faults that matter (media out, head open).

/// What a printer said about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZplStatus {
    pub paper_out: bool,
    pub paused: bool,
    pub buffer_full: bool,
    pub under_temperature: bool,
    pub over_temperature: bool,
    pub head_open: bool,
    pub ribbon_out: bool,
    /// Formats waiting in the receive buffer.
    pub formats_in_buffer: u32,
}

impl ZplStatus {
    /// Faults that stop printing, as stable codes (for alarms and translations).
    pub fn faults(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.paper_out {
            v.push("paper_out");
        }
        if self.ribbon_out {
            v.push("ribbon_out");
        }
        if self.head_open {
            v.push("head_open");
        }
        if self.paused {
            v.push("paused");
        }
        if self.buffer_full {
            v.push("buffer_full");
        }
        if self.over_temperature {
            v.push("over_temperature");
        }
        if self.under_temperature {
            v.push("under_temperature");
        }
        v
    }
}

/// Parse a `~HS` answer. `None` when it is incomplete or malformed (treat as unknown).
pub fn parse_hs(bytes: &[u8]) -> Option<ZplStatus> {
    let text = std::str::from_utf8(bytes).ok()?;
    let strings: Vec<&str> = text
        .split('\u{2}')
        .filter_map(|chunk| chunk.split('\u{3}').next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if strings.len() < 2 {
        return None;
    }
    let s1: Vec<&str> = strings[0].split(',').collect();
    let s2: Vec<&str> = strings[1].split(',').collect();
    if s1.len() < 12 || s2.len() < 11 {
        return None;
    }
    let flag = |f: &str| -> Option<bool> {
        match f.trim() {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        }
    };
    Some(ZplStatus {
        paper_out: flag(s1[1])?,
        paused: flag(s1[2])?,
        formats_in_buffer: s1[4].trim().parse().ok()?,
        buffer_full: flag(s1[5])?,
        under_temperature: flag(s1[10])?,
        over_temperature: flag(s1[11])?,
        head_open: flag(s2[2])?,
        ribbon_out: flag(s2[3])?,
    })
}

/// Whether `bytes` already hold a complete `~HS` answer (three ETX-terminated strings).
pub fn hs_complete(bytes: &[u8]) -> bool {
    bytes.iter().filter(|b| **b == 3).count() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The captured sample (Ladder99): paper out, paused, ribbon out.
    #[test]
    fn parses_the_captured_sample() {
        let s = b"\x02030,1,1,1225,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,1,1,2,6,0,00000100,1,000\x03\r\n\x021234,0\x03\r\n";
        assert!(hs_complete(s));
        let st = parse_hs(s).unwrap();
        assert!(st.paper_out && st.paused && st.ribbon_out && !st.head_open);
        assert_eq!(st.faults(), vec!["paper_out", "ribbon_out", "paused"]);
    }

    /// A healthy printer has no faults; a head-open printer says so.
    #[test]
    fn healthy_and_head_open() {
        let ok = b"\x02030,0,0,1225,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";
        assert_eq!(parse_hs(ok).unwrap().faults(), Vec::<&str>::new());
        let open = b"\x02030,0,0,1225,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,1,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";
        assert_eq!(parse_hs(open).unwrap().faults(), vec!["head_open"]);
    }

    /// Truncated or garbled answers are unknown, never "ok".
    #[test]
    fn garbage_is_unknown() {
        assert_eq!(parse_hs(b""), None);
        assert_eq!(parse_hs(b"\x02030,1,1\x03"), None);
        assert_eq!(
            parse_hs(
                b"\x02030,x,1,1225,000,0,0,0,000,0,0,0\x03\x02001,0,0,1,1,2,6,0,00000100,1,000\x03"
            ),
            None
        );
        assert!(!hs_complete(b"\x02a\x03\x02b\x03"));
    }
}
