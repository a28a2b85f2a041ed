//! Scan framing: turns the raw byte stream of a scanner (serial port, decoded keyboard
//! reports) into complete scans. Pure — no I/O, no clock reads; time is passed in.
//!
//! Rules (see `notes/devices.md` §1.5):
//! - A scan ends at the configured [`Suffix`]; the suffix is not part of the scan.
//!   - [`Suffix::Cr`]: CR ends a scan; an LF directly after that CR is swallowed (a scanner
//!     sending CRLF does not produce an LF-prefixed next scan).
//!   - [`Suffix::Lf`]: LF ends a scan; a CR directly before it is dropped.
//!   - [`Suffix::CrLf`]: only the pair CR LF ends a scan; a lone CR or LF is data (2D codes
//!     may contain them). A CR followed by silence (quiet gap) is treated as the terminator.
//!   - [`Suffix::None`]: a scan ends after the quiet gap (default [`DEFAULT_QUIET_GAP_MS`]).
//! - With a quiet gap configured, bytes followed by that much silence also end a scan
//!   (fallback for lost terminators); call [`Framer::flush_if_quiet`] from a timer.
//! - Empty scans are never emitted (double Enter, CRLF with `Cr`, …).
//! - Length guard: a scan that grows past `max_len` is emitted once as `max_len + 1`
//!   bytes (so the scan grammar refuses it as too long) and the rest of it is discarded
//!   until the next terminator or quiet gap. Memory stays bounded.
//! - An optional prefix is stripped from the start of each scan when present.

/// Default length guard (bytes). Larger than the grammar's limit, so an oversize scan is
/// refused by the grammar with "too long".
pub const DEFAULT_MAX_LEN: usize = 8 * 1024;

/// Quiet gap used with [`Suffix::None`] when none is configured (ms).
pub const DEFAULT_QUIET_GAP_MS: u64 = 100;

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// What ends a scan on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Suffix {
    /// Carriage return (the factory default of most scanners).
    #[default]
    Cr,
    /// Line feed.
    Lf,
    /// CR LF as one terminator.
    CrLf,
    /// No terminator: the quiet gap ends a scan.
    None,
}

/// Framing configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramerConfig {
    /// Terminator.
    pub suffix: Suffix,
    /// Inter-byte quiet gap that also ends a scan (ms). `None` = terminator only (but
    /// [`Suffix::None`] then uses [`DEFAULT_QUIET_GAP_MS`]).
    pub quiet_gap_ms: Option<u64>,
    /// Length guard (bytes, ≥ 1).
    pub max_len: usize,
    /// Prefix configured on the scanner, stripped when a scan starts with it.
    pub prefix: Option<Vec<u8>>,
}

impl Default for FramerConfig {
    fn default() -> Self {
        Self {
            suffix: Suffix::Cr,
            quiet_gap_ms: None,
            max_len: DEFAULT_MAX_LEN,
            prefix: None,
        }
    }
}

impl FramerConfig {
    /// Config with the given suffix and defaults otherwise.
    pub fn with_suffix(suffix: Suffix) -> Self {
        Self {
            suffix,
            ..Self::default()
        }
    }

    /// The quiet gap actually in effect.
    pub fn effective_gap_ms(&self) -> Option<u64> {
        match (self.quiet_gap_ms, self.suffix) {
            (Some(g), _) => Some(g),
            (None, Suffix::None) => Some(DEFAULT_QUIET_GAP_MS),
            (None, _) => None,
        }
    }
}

/// Incremental framer; feed it chunks as they are read.
#[derive(Debug, Clone)]
pub struct Framer {
    cfg: FramerConfig,
    gap_ms: Option<u64>,
    buf: Vec<u8>,
    /// Time of the last byte received (ms), if any.
    last_ms: Option<u64>,
    /// `Cr`: the previous byte was the terminating CR (swallow a following LF).
    after_cr: bool,
    /// `CrLf`: a CR was seen and we wait for the next byte to know what it is.
    pending_cr: bool,
    /// An oversize scan was emitted; drop bytes until the scan ends.
    discarding: bool,
}

impl Framer {
    /// New framer. A `max_len` of 0 is treated as 1.
    pub fn new(mut cfg: FramerConfig) -> Self {
        cfg.max_len = cfg.max_len.max(1);
        if cfg.prefix.as_ref().is_some_and(|p| p.is_empty()) {
            cfg.prefix = None;
        }
        let gap_ms = cfg.effective_gap_ms();
        Self {
            cfg,
            gap_ms,
            buf: Vec::new(),
            last_ms: None,
            after_cr: false,
            pending_cr: false,
            discarding: false,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &FramerConfig {
        &self.cfg
    }

    /// Whether bytes of an unfinished scan are buffered.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.pending_cr || self.discarding
    }

    /// Feed bytes received at `now_ms`; returns the scans they complete, in order.
    pub fn push(&mut self, bytes: &[u8], now_ms: u64) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if bytes.is_empty() {
            return out;
        }
        if let Some(scan) = self.flush_if_quiet(now_ms) {
            out.push(scan);
        }
        for &b in bytes {
            self.byte(b, &mut out);
        }
        self.last_ms = Some(now_ms);
        out
    }

    /// If a quiet gap is configured and has elapsed since the last byte, end the buffered
    /// scan and return it (if non-empty).
    pub fn flush_if_quiet(&mut self, now_ms: u64) -> Option<Vec<u8>> {
        let gap = self.gap_ms?;
        let last = self.last_ms?;
        if now_ms.saturating_sub(last) < gap || !self.has_partial() {
            return None;
        }
        self.after_cr = false;
        // A CR followed by silence was the terminator (CrLf scanner sending CR only).
        self.pending_cr = false;
        self.end()
    }

    /// Milliseconds until [`Framer::flush_if_quiet`] could emit, if anything is pending.
    pub fn quiet_deadline_ms(&self) -> Option<u64> {
        let gap = self.gap_ms?;
        let last = self.last_ms?;
        self.has_partial().then(|| last.saturating_add(gap))
    }

    fn byte(&mut self, b: u8, out: &mut Vec<Vec<u8>>) {
        match self.cfg.suffix {
            Suffix::Cr => {
                if b == CR {
                    self.after_cr = true;
                    out.extend(self.end());
                    return;
                }
                let swallow = b == LF && self.after_cr;
                self.after_cr = false;
                if !swallow {
                    self.data(b, out);
                }
            }
            Suffix::Lf => {
                if b == LF {
                    if !self.discarding && self.buf.last() == Some(&CR) {
                        self.buf.pop();
                    }
                    out.extend(self.end());
                } else {
                    self.data(b, out);
                }
            }
            Suffix::CrLf => {
                if self.pending_cr {
                    self.pending_cr = false;
                    if b == LF {
                        out.extend(self.end());
                        return;
                    }
                    self.data(CR, out);
                }
                if b == CR {
                    self.pending_cr = true;
                } else {
                    self.data(b, out);
                }
            }
            Suffix::None => self.data(b, out),
        }
    }

    fn data(&mut self, b: u8, out: &mut Vec<Vec<u8>>) {
        if self.discarding {
            return;
        }
        self.buf.push(b);
        if self.buf.len() > self.cfg.max_len {
            // Emit raw (no prefix stripping) so the grammar sees the real length.
            out.push(std::mem::take(&mut self.buf));
            self.discarding = true;
        }
    }

    /// Ends the current scan; `None` when it is empty or was an oversize remainder.
    fn end(&mut self) -> Option<Vec<u8>> {
        let was_discarding = std::mem::replace(&mut self.discarding, false);
        let mut scan = std::mem::take(&mut self.buf);
        if was_discarding {
            return None;
        }
        if let Some(prefix) = &self.cfg.prefix
            && scan.starts_with(prefix)
        {
            scan.drain(..prefix.len());
        }
        (!scan.is_empty()).then_some(scan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framer(suffix: Suffix) -> Framer {
        Framer::new(FramerConfig::with_suffix(suffix))
    }

    fn all(f: &mut Framer, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        chunks.iter().flat_map(|c| f.push(c, 0)).collect()
    }

    fn v(items: &[&[u8]]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.to_vec()).collect()
    }

    #[test]
    fn cr_split_and_multiple_per_chunk() {
        let mut f = framer(Suffix::Cr);
        let got = all(&mut f, &[b"AB", b"C1\rDE", b"F\rGH\r", b"\r", b"I"]);
        assert_eq!(got, v(&[b"ABC1", b"DEF", b"GH"]));
        assert!(f.has_partial());
    }

    #[test]
    fn cr_swallows_lf_after_cr_but_not_elsewhere() {
        let mut f = framer(Suffix::Cr);
        let got = all(&mut f, &[b"A\r", b"\nB\r\n\r\n", b"C\nD\r"]);
        assert_eq!(got, v(&[b"A", b"B", b"C\nD"]));
    }

    #[test]
    fn lf_drops_trailing_cr() {
        let mut f = framer(Suffix::Lf);
        let got = all(&mut f, &[b"A\r", b"\nB\rC\n\n"]);
        assert_eq!(got, v(&[b"A", b"B\rC"]));
    }

    #[test]
    fn crlf_pair_split_across_chunks_and_lone_cr_lf_are_data() {
        let mut f = framer(Suffix::CrLf);
        let got = all(
            &mut f,
            &[b"ABC123\r", b"\nR-ST01-20261125-0001\r\n", b"X\rY\nZ\r\r\n"],
        );
        assert_eq!(got, v(&[b"ABC123", b"R-ST01-20261125-0001", b"X\rY\nZ\r"]));
        assert!(!f.has_partial());
    }

    #[test]
    fn crlf_trailing_enter_never_yields_empty_scan() {
        let mut f = framer(Suffix::CrLf);
        let got = all(&mut f, &[b"\r\nA\r\n\r\n", b"\r", b"\n"]);
        assert_eq!(got, v(&[b"A"]));
    }

    #[test]
    fn crlf_cr_then_silence_is_terminator() {
        let mut f = Framer::new(FramerConfig {
            suffix: Suffix::CrLf,
            quiet_gap_ms: Some(50),
            ..FramerConfig::default()
        });
        assert!(f.push(b"A1\r", 1000).is_empty());
        assert_eq!(f.flush_if_quiet(1049), None);
        assert_eq!(f.flush_if_quiet(1050), Some(b"A1".to_vec()));
        assert_eq!(f.flush_if_quiet(2000), None);
    }

    #[test]
    fn none_suffix_ends_on_quiet_gap() {
        let mut f = framer(Suffix::None);
        assert!(f.push(b"AB", 0).is_empty());
        assert!(f.push(b"C", 30).is_empty());
        assert_eq!(f.quiet_deadline_ms(), Some(30 + DEFAULT_QUIET_GAP_MS));
        assert_eq!(f.flush_if_quiet(129), None);
        assert_eq!(f.flush_if_quiet(130), Some(b"ABC".to_vec()));
        assert_eq!(f.quiet_deadline_ms(), None);
        // A gap between pushes also ends the previous scan inside push().
        assert!(f.push(b"D", 500).is_empty());
        assert_eq!(f.push(b"E", 700), v(&[b"D"]));
        assert_eq!(f.flush_if_quiet(800), Some(b"E".to_vec()));
    }

    #[test]
    fn gap_fallback_with_terminator() {
        let mut f = Framer::new(FramerConfig {
            suffix: Suffix::Cr,
            quiet_gap_ms: Some(100),
            ..FramerConfig::default()
        });
        // Lost terminator: the gap ends "LOST"; the next scan is unaffected.
        assert!(f.push(b"LOST", 0).is_empty());
        assert_eq!(f.push(b"OK\r", 200), v(&[b"LOST", b"OK"]));
    }

    #[test]
    fn oversize_is_emitted_once_and_rest_discarded() {
        let mut f = Framer::new(FramerConfig {
            max_len: 8,
            ..FramerConfig::default()
        });
        let got = all(&mut f, &[b"12345", b"678", b"9ABCDEF", b"GHI\rOK\r"]);
        assert_eq!(got, v(&[b"123456789", b"OK"]));
        // Exactly max_len is fine.
        assert_eq!(all(&mut f, &[b"12345678\r"]), v(&[b"12345678"]));
    }

    #[test]
    fn default_guard_bounds_memory() {
        let mut f = framer(Suffix::Cr);
        let junk = vec![b'Z'; 100_000];
        let got = f.push(&junk, 0);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), DEFAULT_MAX_LEN + 1);
        assert!(f.buf.capacity() <= 2 * (DEFAULT_MAX_LEN + 1));
        assert_eq!(f.push(b"\rNEXT\r", 0), v(&[b"NEXT"]));
    }

    #[test]
    fn prefix_is_stripped_when_present() {
        let mut f = Framer::new(FramerConfig {
            prefix: Some(b"@@".to_vec()),
            ..FramerConfig::default()
        });
        let got = all(&mut f, &[b"@", b"@A1\rB2\r@@\r"]);
        assert_eq!(got, v(&[b"A1", b"B2"]));
    }

    fn code() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                b'0'..=b'9',
                b'A'..=b'Z',
                b'a'..=b'z',
                Just(b'-'),
                Just(0x1d)
            ],
            1..40,
        )
    }

    fn split(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([stream.len()]) {
            chunks.push(stream[start..p].to_vec());
            start = p;
        }
        chunks
    }

    proptest! {
        #[test]
        fn any_split_of_cr_terminated_codes_yields_the_codes(
            codes in proptest::collection::vec(code(), 0..12),
            cuts in proptest::collection::vec(any::<usize>(), 0..30),
        ) {
            let stream: Vec<u8> = codes.iter().flat_map(|c| c.iter().copied().chain([CR])).collect();
            let mut f = framer(Suffix::Cr);
            let got: Vec<Vec<u8>> = split(&stream, &cuts)
                .iter()
                .enumerate()
                .flat_map(|(i, c)| f.push(c, i as u64))
                .collect();
            prop_assert_eq!(got, codes);
            prop_assert!(!f.has_partial());
        }

        #[test]
        fn any_split_of_crlf_terminated_codes_yields_the_codes(
            codes in proptest::collection::vec(code(), 0..12),
            cuts in proptest::collection::vec(any::<usize>(), 0..30),
        ) {
            let stream: Vec<u8> =
                codes.iter().flat_map(|c| c.iter().copied().chain([CR, LF])).collect();
            for suffix in [Suffix::CrLf, Suffix::Cr, Suffix::Lf] {
                let mut f = framer(suffix);
                let got: Vec<Vec<u8>> =
                    split(&stream, &cuts).iter().flat_map(|c| f.push(c, 0)).collect();
                prop_assert_eq!(&got, &codes);
            }
        }
    }
}
