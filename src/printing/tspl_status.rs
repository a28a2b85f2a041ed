//! TSPL printer status: the answer to `<ESC>!?` (bytes `1B 21 3F`), one status byte
//! (TSC / Gprinter programming manuals, "Status polling commands"): bit 0 head opened,
//! bit 1 paper jam, bit 2 out of paper, bit 3 out of ribbon, bit 4 pause, bit 5 printing,
//! bit 6 cover opened, bit 7 temperature out of range; `0x00` is ready. A printer that does
//! not answer is unknown, never ok (many TSPL printers answer only on RS-232).

/// The status query.
pub const QUERY: &[u8] = b"\x1b!?";

/// What the status byte says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsplStatus(pub u8);

impl TsplStatus {
    /// Faults that stop printing, as the same stable codes the ZPL status uses.
    pub fn faults(self) -> Vec<&'static str> {
        const BITS: [(u8, &str); 7] = [
            (0x01, "head_open"),
            (0x02, "paper_jam"),
            (0x04, "paper_out"),
            (0x08, "ribbon_out"),
            (0x10, "paused"),
            (0x40, "cover_open"),
            (0x80, "over_temperature"),
        ];
        BITS.iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, code)| *code)
            .collect()
    }

    /// Still printing (a job is in progress).
    pub fn printing(self) -> bool {
        self.0 & 0x20 != 0
    }

    /// Ready: no fault, nothing printing.
    pub fn idle(self) -> bool {
        self.0 == 0
    }
}

/// The status from the bytes read after a query: the last byte (a printer may have sent
/// an earlier answer late). `None` when nothing came.
pub fn parse(bytes: &[u8]) -> Option<TsplStatus> {
    bytes.last().map(|b| TsplStatus(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each bit maps to its fault; 0x20 alone is "printing", not a fault.
    #[test]
    fn bits_to_faults() {
        assert!(TsplStatus(0).idle());
        assert!(TsplStatus(0).faults().is_empty());
        assert_eq!(TsplStatus(0x04).faults(), vec!["paper_out"]);
        assert_eq!(TsplStatus(0x41).faults(), vec!["head_open", "cover_open"]);
        let p = TsplStatus(0x20);
        assert!(p.printing() && p.faults().is_empty() && !p.idle());
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"\x20\x00"), Some(TsplStatus(0)));
    }
}
