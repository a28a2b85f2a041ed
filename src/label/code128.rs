//! Code 128 encoder (ISO/IEC 15417), pure: text in, bar/space widths out.
//!
//! Only code sets B and C are used: set B covers every printable ASCII character
//! (32–126) and set C packs digit pairs. The set sequence is chosen by dynamic
//! programming, so the symbol is as short as Code 128 (B/C) allows; ties are broken
//! the way ISO/IEC 15417 Annex E does it, so runs of four or more digits go in set C
//! and shorter runs stay in set B.
//!
//! The output of [`encode`] is a list of element widths in modules, starting with a
//! bar and alternating bar/space, ending with the stop pattern's final bar (the
//! 2-module termination bar). Quiet zones are *not* part of the pattern: whoever
//! renders it must leave [`QUIET_ZONE_MODULES`] of white on each side
//! (`Bitmap::draw_code128` does).
//!
//! GS1-128: [`encode_gs1`] prefixes the data with FNC1 and turns every ASCII GS
//! (`'\u{1d}'`) into an FNC1 separator; see its documentation.
//!
//! **One plan for the layout and the printer.** A label printer draws a Code 128 from
//! its own command, not from our pattern: ZPL `^BC` in mode N draws subset B unless the
//! field data says otherwise, TSPL `"128"` picks subsets by the firmware's own rules. So
//! the label renderers spell out the [`Plan`] (start code, code-set switches, characters
//! and digit pairs, see [`Plan::steps`]) in the printer's syntax, and the layout sizes
//! the barcode from the same plan's [`Plan::width_modules`]: the width the layout
//! reserves is the width the printer draws.
//!
//! **Module width.** A thermal label read by 1D laser scanners needs a narrow bar of at
//! least [`MIN_MODULE_UM`] (0.25 mm): [`min_module_dots`] is 2 dots at 203 dpi, 3 at
//! 300 dpi, 6 at 600 dpi.

use thiserror::Error;

/// Minimum quiet zone on each side of a symbol, in modules (ISO/IEC 15417 §4.4.3).
pub const QUIET_ZONE_MODULES: u32 = 10;

/// Narrowest bar (module) a label may print, in micrometres: 0.25 mm, what 1D laser
/// scanners need on thermal labels.
pub const MIN_MODULE_UM: u32 = 250;

/// The narrowest module, in whole dots, at `dpi` that is at least [`MIN_MODULE_UM`] wide:
/// 2 at 203 dpi (0.250 mm), 3 at 300 dpi (0.254 mm), 6 at 600 dpi.
pub fn min_module_dots(dpi: u32) -> u32 {
    let um = u64::from(MIN_MODULE_UM) * u64::from(dpi);
    u32::try_from(um.div_ceil(25_400))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Longest data accepted, in characters. Longer symbols are impractical to scan and
/// this bound keeps encoding allocation-bounded.
pub const MAX_DATA_CHARS: usize = 80;

/// The GS1 field separator as it appears in input to [`encode_gs1`] and in the text a
/// scanner reports for a GS1-128 symbol.
pub const GS: char = '\u{1d}';

const CODE_C_FROM_B: u8 = 99;
const CODE_B_FROM_C: u8 = 100;
const FNC1: u8 = 102;
const START_B: u8 = 104;
const START_C: u8 = 105;
const STOP: u8 = 106;

/// Bar/space widths (in modules) of symbol values 0..=105, each summing to 11.
const PATTERNS: [[u8; 6]; 106] = [
    [2, 1, 2, 2, 2, 2],
    [2, 2, 2, 1, 2, 2],
    [2, 2, 2, 2, 2, 1],
    [1, 2, 1, 2, 2, 3],
    [1, 2, 1, 3, 2, 2],
    [1, 3, 1, 2, 2, 2],
    [1, 2, 2, 2, 1, 3],
    [1, 2, 2, 3, 1, 2],
    [1, 3, 2, 2, 1, 2],
    [2, 2, 1, 2, 1, 3],
    [2, 2, 1, 3, 1, 2],
    [2, 3, 1, 2, 1, 2],
    [1, 1, 2, 2, 3, 2],
    [1, 2, 2, 1, 3, 2],
    [1, 2, 2, 2, 3, 1],
    [1, 1, 3, 2, 2, 2],
    [1, 2, 3, 1, 2, 2],
    [1, 2, 3, 2, 2, 1],
    [2, 2, 3, 2, 1, 1],
    [2, 2, 1, 1, 3, 2],
    [2, 2, 1, 2, 3, 1],
    [2, 1, 3, 2, 1, 2],
    [2, 2, 3, 1, 1, 2],
    [3, 1, 2, 1, 3, 1],
    [3, 1, 1, 2, 2, 2],
    [3, 2, 1, 1, 2, 2],
    [3, 2, 1, 2, 2, 1],
    [3, 1, 2, 2, 1, 2],
    [3, 2, 2, 1, 1, 2],
    [3, 2, 2, 2, 1, 1],
    [2, 1, 2, 1, 2, 3],
    [2, 1, 2, 3, 2, 1],
    [2, 3, 2, 1, 2, 1],
    [1, 1, 1, 3, 2, 3],
    [1, 3, 1, 1, 2, 3],
    [1, 3, 1, 3, 2, 1],
    [1, 1, 2, 3, 1, 3],
    [1, 3, 2, 1, 1, 3],
    [1, 3, 2, 3, 1, 1],
    [2, 1, 1, 3, 1, 3],
    [2, 3, 1, 1, 1, 3],
    [2, 3, 1, 3, 1, 1],
    [1, 1, 2, 1, 3, 3],
    [1, 1, 2, 3, 3, 1],
    [1, 3, 2, 1, 3, 1],
    [1, 1, 3, 1, 2, 3],
    [1, 1, 3, 3, 2, 1],
    [1, 3, 3, 1, 2, 1],
    [3, 1, 3, 1, 2, 1],
    [2, 1, 1, 3, 3, 1],
    [2, 3, 1, 1, 3, 1],
    [2, 1, 3, 1, 1, 3],
    [2, 1, 3, 3, 1, 1],
    [2, 1, 3, 1, 3, 1],
    [3, 1, 1, 1, 2, 3],
    [3, 1, 1, 3, 2, 1],
    [3, 3, 1, 1, 2, 1],
    [3, 1, 2, 1, 1, 3],
    [3, 1, 2, 3, 1, 1],
    [3, 3, 2, 1, 1, 1],
    [3, 1, 4, 1, 1, 1],
    [2, 2, 1, 4, 1, 1],
    [4, 3, 1, 1, 1, 1],
    [1, 1, 1, 2, 2, 4],
    [1, 1, 1, 4, 2, 2],
    [1, 2, 1, 1, 2, 4],
    [1, 2, 1, 4, 2, 1],
    [1, 4, 1, 1, 2, 2],
    [1, 4, 1, 2, 2, 1],
    [1, 1, 2, 2, 1, 4],
    [1, 1, 2, 4, 1, 2],
    [1, 2, 2, 1, 1, 4],
    [1, 2, 2, 4, 1, 1],
    [1, 4, 2, 1, 1, 2],
    [1, 4, 2, 2, 1, 1],
    [2, 4, 1, 2, 1, 1],
    [2, 2, 1, 1, 1, 4],
    [4, 1, 3, 1, 1, 1],
    [2, 4, 1, 1, 1, 2],
    [1, 3, 4, 1, 1, 1],
    [1, 1, 1, 2, 4, 2],
    [1, 2, 1, 1, 4, 2],
    [1, 2, 1, 2, 4, 1],
    [1, 1, 4, 2, 1, 2],
    [1, 2, 4, 1, 1, 2],
    [1, 2, 4, 2, 1, 1],
    [4, 1, 1, 2, 1, 2],
    [4, 2, 1, 1, 1, 2],
    [4, 2, 1, 2, 1, 1],
    [2, 1, 2, 1, 4, 1],
    [2, 1, 4, 1, 2, 1],
    [4, 1, 2, 1, 2, 1],
    [1, 1, 1, 1, 4, 3],
    [1, 1, 1, 3, 4, 1],
    [1, 3, 1, 1, 4, 1],
    [1, 1, 4, 1, 1, 3],
    [1, 1, 4, 3, 1, 1],
    [4, 1, 1, 1, 1, 3],
    [4, 1, 1, 3, 1, 1],
    [1, 1, 3, 1, 4, 1],
    [1, 1, 4, 1, 3, 1],
    [3, 1, 1, 1, 4, 1],
    [4, 1, 1, 1, 3, 1],
    [2, 1, 1, 4, 1, 2],
    [2, 1, 1, 2, 1, 4],
    [2, 1, 1, 2, 3, 2],
];

/// The stop pattern including the 2-module termination bar (13 modules).
const STOP_PATTERN: [u8; 7] = [2, 3, 3, 1, 1, 1, 2];

/// Why data cannot be encoded as Code 128.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Code128Error {
    /// Nothing to encode.
    #[error("Code 128 data is empty: give the barcode at least one character")]
    Empty,
    /// A character outside printable ASCII (or a misplaced GS in GS1 data).
    #[error(
        "character {ch:?} (U+{code:04X}) at position {position} of {data:?} cannot be put in a \
         Code 128 barcode: use printable ASCII only (letters A-Z a-z, digits, space and \
         punctuation, codes 32-126){gs1_hint}",
        code = u32::from(*ch),
        gs1_hint = if *ch == GS { "; in GS1 data a GS separator may only stand between two fields" } else { "" }
    )]
    UnsupportedChar {
        /// The whole input, for the message.
        data: String,
        /// The offending character.
        ch: char,
        /// Its position, counted in characters from 0.
        position: usize,
    },
    /// More than [`MAX_DATA_CHARS`] characters.
    #[error(
        "Code 128 data is {len} characters long, more than the {max} this encoder accepts: \
         shorten the code"
    )]
    TooLong {
        /// Length of the input in characters.
        len: usize,
        /// The limit, [`MAX_DATA_CHARS`].
        max: usize,
    },
}

/// One thing to encode: a printable ASCII byte or an FNC1 function character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(u8),
    Fnc1,
}

impl Token {
    fn digit(self) -> Option<u8> {
        match self {
            Token::Char(b) if b.is_ascii_digit() => Some(b - b'0'),
            _ => None,
        }
    }

    /// Its value in code set B.
    fn value_b(self) -> u8 {
        match self {
            Token::Char(b) => b - 32,
            Token::Fnc1 => FNC1,
        }
    }
}

/// A code set of the plan (this encoder uses B and C only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSet {
    /// Printable ASCII, one character per symbol.
    B,
    /// Digit pairs 00–99, two digits per symbol.
    C,
}

/// One step of a [`Plan`], in the order a printer command spells it. The check value
/// and the stop pattern are not steps: every printer adds them itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The start code (always the first step, and only there).
    Start(CodeSet),
    /// A code-set switch (CODE C from B, CODE B from C).
    Switch(CodeSet),
    /// One printable ASCII character in set B.
    Char(u8),
    /// Two digits in set C, as their value 0–99.
    Pair(u8),
    /// The FNC1 function character.
    Fnc1,
}

/// The symbols of one Code 128 barcode: the single source of its printed width (for
/// the layout) and of the steps a printer command spells (for the renderers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Start code and data symbols (code-set switches included); no check, no stop.
    symbols: Vec<u8>,
}

impl Plan {
    /// The shortest B/C plan for printable ASCII `data` (see the module docs).
    ///
    /// # Errors
    /// As [`encode`].
    pub fn new(data: &str) -> Result<Plan, Code128Error> {
        Ok(Plan {
            symbols: plan(&tokenize(data, false)?),
        })
    }

    /// The steps in order: the start code, then characters, digit pairs and switches.
    pub fn steps(&self) -> Vec<Step> {
        let mut set = if self.symbols.first() == Some(&START_C) {
            CodeSet::C
        } else {
            CodeSet::B
        };
        let mut steps = Vec::with_capacity(self.symbols.len());
        steps.push(Step::Start(set));
        for &v in self.symbols.iter().skip(1) {
            let step = match (set, v) {
                (_, FNC1) => Step::Fnc1,
                (CodeSet::B, CODE_C_FROM_B) => Step::Switch(CodeSet::C),
                (CodeSet::C, CODE_B_FROM_C) => Step::Switch(CodeSet::B),
                (CodeSet::B, v) => Step::Char(v + 32),
                (CodeSet::C, v) => Step::Pair(v),
            };
            if let Step::Switch(to) = step {
                set = to;
            }
            steps.push(step);
        }
        steps
    }

    /// Every symbol value: start, data, check value, stop (106).
    pub fn symbols(&self) -> Vec<u8> {
        with_check_and_stop(self.symbols.clone())
    }

    /// Element widths in modules, as [`encode`] returns them.
    pub fn widths(&self) -> Vec<u8> {
        widths_of(&self.symbols())
    }

    /// Width of the bars in modules, quiet zones not included: 11 per symbol and 13 for
    /// the stop pattern.
    pub fn width_modules(&self) -> u32 {
        width_in_modules(&self.widths())
    }

    /// Width in dots at `module` dots per module, with a quiet zone of
    /// [`QUIET_ZONE_MODULES`] on each side.
    pub fn footprint_dots(&self, module: u32) -> u64 {
        u64::from(self.width_modules() + 2 * QUIET_ZONE_MODULES) * u64::from(module)
    }
}

/// Element widths (bar, space, …) of a complete symbol list: start, data, check value
/// and stop, e.g. as a printer command spells them out.
pub fn widths_of_symbols(symbols: &[u8]) -> Vec<u8> {
    widths_of(symbols)
}

/// The mod-103 check value of a start code followed by data symbols.
pub fn check_value(symbols: &[u8]) -> u8 {
    checksum(symbols)
}

/// Encodes printable ASCII (32–126) as a Code 128 symbol.
///
/// Returns element widths in modules: bar, space, bar, …, ending with the stop
/// pattern's termination bar (`6 × symbols + 7` elements). Quiet zones are not
/// included; see [`QUIET_ZONE_MODULES`].
///
/// # Errors
/// [`Code128Error::Empty`], [`Code128Error::TooLong`], or
/// [`Code128Error::UnsupportedChar`] for anything outside ASCII 32–126 (control
/// characters, non-ASCII such as Chinese text).
pub fn encode(data: &str) -> Result<Vec<u8>, Code128Error> {
    Ok(Plan::new(data)?.widths())
}

/// Encodes a GS1-128 symbol: FNC1 in first position, then `element_string`.
///
/// `element_string` is the GS1 element string without parentheses around the AIs,
/// e.g. `"0109501101530003" + "\u{1d}" + "10AB-12"`. Every ASCII GS (`'\u{1d}'`, see
/// [`GS`]) is encoded as an FNC1 field separator, which is what GS1 requires after a
/// variable-length field that is not last. AIs and their lengths are not validated.
/// A scanner set up for GS1 reports the leading FNC1 as the `]C1` symbology
/// identifier and every separator FNC1 as GS, i.e. `"]C1"` + `element_string`; one
/// not set up for GS1 drops all FNC1s.
///
/// # Errors
/// As [`encode`]; a GS at the start, at the end or next to another GS is rejected as
/// [`Code128Error::UnsupportedChar`].
pub fn encode_gs1(element_string: &str) -> Result<Vec<u8>, Code128Error> {
    Ok(widths_of(&gs1_symbol_values(element_string)?))
}

/// The symbol values of [`encode`]'s symbol: start, data and code-set switches,
/// mod-103 check value, stop (106).
///
/// # Errors
/// As [`encode`].
pub fn symbol_values(data: &str) -> Result<Vec<u8>, Code128Error> {
    Ok(Plan::new(data)?.symbols())
}

/// The symbol values of [`encode_gs1`]'s symbol.
///
/// # Errors
/// As [`encode_gs1`].
pub fn gs1_symbol_values(element_string: &str) -> Result<Vec<u8>, Code128Error> {
    let mut tokens = vec![Token::Fnc1];
    tokens.extend(tokenize(element_string, true)?);
    Ok(with_check_and_stop(plan(&tokens)))
}

/// Total width of an [`encode`] pattern in modules (without quiet zones).
pub fn width_in_modules(pattern: &[u8]) -> u32 {
    pattern.iter().map(|&w| u32::from(w)).sum()
}

fn tokenize(data: &str, gs1: bool) -> Result<Vec<Token>, Code128Error> {
    let len = data.chars().count();
    if len == 0 {
        return Err(Code128Error::Empty);
    }
    if len > MAX_DATA_CHARS {
        return Err(Code128Error::TooLong {
            len,
            max: MAX_DATA_CHARS,
        });
    }
    let reject = |ch: char, position: usize| Code128Error::UnsupportedChar {
        data: data.to_owned(),
        ch,
        position,
    };
    let mut tokens = Vec::with_capacity(len);
    for (position, ch) in data.chars().enumerate() {
        let token = match ch {
            ' '..='~' => Token::Char(ch as u8),
            GS if gs1 => {
                let misplaced =
                    position == 0 || position + 1 == len || tokens.last() == Some(&Token::Fnc1);
                if misplaced {
                    return Err(reject(ch, position));
                }
                Token::Fnc1
            }
            _ => return Err(reject(ch, position)),
        };
        tokens.push(token);
    }
    Ok(tokens)
}

/// Plans the start code and data symbols (no check value, no stop) with the fewest
/// symbols, preferring Annex E's choices on ties.
fn plan(tokens: &[Token]) -> Vec<u8> {
    const INF: u32 = u32::MAX / 4;
    let n = tokens.len();
    // cost_b[i] / cost_c[i]: fewest symbols for tokens[i..] when currently in set B / C.
    // stay_b[i] / stay_c[i]: the same but with the first token consumed in that set.
    let mut cost_b = vec![0u32; n + 1];
    let mut cost_c = vec![0u32; n + 1];
    let mut stay_b = vec![INF; n + 1];
    let mut stay_c = vec![INF; n + 1];
    for i in (0..n).rev() {
        stay_b[i] = 1 + cost_b[i + 1];
        stay_c[i] = match (tokens[i], tokens.get(i + 1)) {
            (Token::Fnc1, _) => 1 + cost_c[i + 1],
            (a, Some(&b)) if a.digit().is_some() && b.digit().is_some() => 1 + cost_c[i + 2],
            _ => INF,
        };
        cost_b[i] = stay_b[i].min(1 + stay_c[i]);
        cost_c[i] = stay_c[i].min(1 + stay_b[i]);
    }
    let digit_run = |i: usize| {
        tokens[i..]
            .iter()
            .take_while(|t| t.digit().is_some())
            .count()
    };
    // Enter (or start in) set C on a tie only for a run of at least four digits.
    let prefer_c =
        |i: usize| stay_c[i] < stay_b[i] || (stay_c[i] == stay_b[i] && digit_run(i) >= 4);

    let mut out = Vec::with_capacity(n + 4);
    let mut in_c = prefer_c(0);
    out.push(if in_c { START_C } else { START_B });
    let mut i = 0;
    while i < n {
        if in_c {
            if stay_c[i] <= 1 + stay_b[i] {
                match tokens[i] {
                    Token::Fnc1 => {
                        out.push(FNC1);
                        i += 1;
                    }
                    first => {
                        let hi = first.digit().unwrap_or(0);
                        let lo = tokens.get(i + 1).and_then(|t| t.digit()).unwrap_or(0);
                        out.push(hi * 10 + lo);
                        i += 2;
                    }
                }
            } else {
                out.push(CODE_B_FROM_C);
                in_c = false;
            }
        } else if 1 + stay_c[i] < stay_b[i] || (1 + stay_c[i] == stay_b[i] && digit_run(i) >= 4) {
            out.push(CODE_C_FROM_B);
            in_c = true;
        } else {
            out.push(tokens[i].value_b());
            i += 1;
        }
    }
    out
}

/// Mod-103 check value of `symbols` = start code followed by the data symbols.
fn checksum(symbols: &[u8]) -> u8 {
    let sum = symbols
        .iter()
        .enumerate()
        .map(|(i, &v)| u64::from(v) * (i.max(1) as u64))
        .sum::<u64>();
    (sum % 103) as u8
}

fn with_check_and_stop(mut symbols: Vec<u8>) -> Vec<u8> {
    let check = checksum(&symbols);
    symbols.push(check);
    symbols.push(STOP);
    symbols
}

fn widths_of(symbols: &[u8]) -> Vec<u8> {
    let mut widths = Vec::with_capacity(symbols.len() * 6 + 1);
    for &v in symbols {
        if v == STOP {
            widths.extend_from_slice(&STOP_PATTERN);
        } else if let Some(p) = PATTERNS.get(usize::from(v)) {
            widths.extend_from_slice(p);
        }
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn modules_string(widths: &[u8]) -> String {
        widths
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let c = if i % 2 == 0 { '1' } else { '0' };
                std::iter::repeat_n(c, usize::from(w)).collect::<String>()
            })
            .collect()
    }

    #[test]
    fn pattern_table_is_well_formed() {
        let mut seen = HashSet::new();
        for (v, p) in PATTERNS.iter().enumerate() {
            let total: u8 = p.iter().sum();
            assert_eq!(total, 11, "value {v}");
            let bars: u8 = p.iter().step_by(2).sum();
            assert_eq!(bars % 2, 0, "value {v}: bar modules must be even");
            assert!(p.iter().all(|&w| (1..=4).contains(&w)), "value {v}");
            assert!(seen.insert(*p), "value {v} duplicates another pattern");
        }
        assert_eq!(STOP_PATTERN.iter().sum::<u8>(), 13);
    }

    #[test]
    fn published_start_and_stop_patterns() {
        // barcodeisland.com: Start-A/B/C and Stop + termination bar.
        let s = |v: u8| modules_string(&PATTERNS[usize::from(v)]);
        assert_eq!(s(103), "11010000100");
        assert_eq!(s(START_B), "11010010000");
        assert_eq!(s(START_C), "11010011100");
        assert_eq!(modules_string(&STOP_PATTERN), "1100011101011");
    }

    #[test]
    fn published_checksums() {
        // Wikipedia "PJJ123C" in set A: 54.
        assert_eq!(checksum(&[103, 48, 42, 42, 17, 18, 19, 35]), 54);
        // barcodeisland "HI345678": Start A, H, I, Code C, 34, 56, 78: 67.
        assert_eq!(checksum(&[103, 40, 41, 99, 34, 56, 78]), 67);
        // barcoderesource "ABCDEF" in set A: 42.
        assert_eq!(checksum(&[103, 33, 34, 35, 36, 37, 38]), 42);
    }

    #[test]
    fn published_full_encodings() {
        // barcoderesource: "abcdef" in set B has check 97; "345678" in set C has check 73.
        assert_eq!(
            symbol_values("abcdef").unwrap(),
            vec![104, 65, 66, 67, 68, 69, 70, 97, 106]
        );
        assert_eq!(
            symbol_values("345678").unwrap(),
            vec![105, 34, 56, 78, 73, 106]
        );
    }

    #[test]
    fn cmd_unpack_hand_computed() {
        // Values in set B: C=35 M=45 D=36 -=13 U=53 N=46 P=48 A=33 C=35 K=43.
        // 104 + 35·1 + 45·2 + 36·3 + 13·4 + 53·5 + 46·6 + 48·7 + 33·8 + 35·9 + 43·10
        // = 2275 = 22·103 + 9, so the check value is 9.
        let symbols = symbol_values("CMD-UNPACK").unwrap();
        assert_eq!(
            symbols,
            vec![104, 35, 45, 36, 13, 53, 46, 48, 33, 35, 43, 9, 106]
        );
        let pattern = encode("CMD-UNPACK").unwrap();
        assert_eq!(pattern.len(), 12 * 6 + 7);
        assert_eq!(width_in_modules(&pattern), 12 * 11 + 13);
        let modules = modules_string(&pattern);
        assert!(modules.starts_with("11010010000")); // Start B
        // Start B, then 'C' (35) = 131321.
        assert!(modules.starts_with(
            "11010010000\
                                     10001000110"
        ));
        // Check value 9 = 221213, then Stop + termination bar.
        assert!(modules.ends_with(
            "11001001000\
                                   1100011101011"
        ));
    }

    #[test]
    fn plan_steps_spell_the_symbols() {
        let plan = Plan::new("R-ST01-20261125-0042").unwrap();
        let mut expected = vec![Step::Start(CodeSet::B)];
        expected.extend(b"R-ST01-".iter().map(|&b| Step::Char(b)));
        expected.push(Step::Switch(CodeSet::C));
        expected.extend([20, 26, 11, 25].map(Step::Pair));
        expected.extend([Step::Switch(CodeSet::B), Step::Char(b'-')]);
        expected.push(Step::Switch(CodeSet::C));
        expected.extend([0, 42].map(Step::Pair));
        assert_eq!(plan.steps(), expected);
        // Start, 17 data symbols, check, stop: 20 × 11 + 2 modules.
        assert_eq!(plan.width_modules(), 20 * 11 + 2);
        assert_eq!(plan.footprint_dots(2), (20 * 11 + 2 + 20) * 2);
        assert_eq!(plan.widths(), encode("R-ST01-20261125-0042").unwrap());
        let symbols = plan.symbols();
        assert_eq!(widths_of_symbols(&symbols), plan.widths());
        assert_eq!(
            check_value(&symbols[..symbols.len() - 2]),
            symbols[symbols.len() - 2]
        );
        let c = Plan::new("1234").unwrap();
        assert_eq!(
            c.steps(),
            [Step::Start(CodeSet::C), Step::Pair(12), Step::Pair(34)]
        );
    }

    #[test]
    fn minimum_module_is_a_quarter_millimetre() {
        assert_eq!(min_module_dots(203), 2);
        assert_eq!(min_module_dots(300), 3);
        assert_eq!(min_module_dots(600), 6);
        for dpi in [152u32, 203, 300, 600] {
            let m = min_module_dots(dpi);
            assert!(u64::from(m) * 25_400 >= u64::from(MIN_MODULE_UM) * u64::from(dpi));
            assert!(u64::from(m - 1) * 25_400 < u64::from(MIN_MODULE_UM) * u64::from(dpi));
        }
    }

    #[test]
    fn op_017_stays_in_set_b() {
        // 104 + 47 + 96 + 39 + 64 + 85 + 138 = 573 = 5·103 + 58.
        assert_eq!(
            symbol_values("OP-017").unwrap(),
            vec![104, 47, 48, 13, 16, 17, 23, 58, 106]
        );
    }

    #[test]
    fn code_set_choice() {
        let data_symbols = |s: &str| {
            let v = symbol_values(s).unwrap();
            v[..v.len() - 2].to_vec()
        };
        assert_eq!(data_symbols("1234"), vec![START_C, 12, 34]);
        assert_eq!(data_symbols("12"), vec![START_C, 12]);
        assert_eq!(data_symbols("123"), vec![START_B, 17, 18, 19]);
        assert_eq!(data_symbols("12345"), vec![START_C, 12, 34, 100, 21]);
        assert_eq!(data_symbols("123X"), vec![START_B, 17, 18, 19, 56]);
        // Runs of four or more digits inside the data switch to set C …
        assert_eq!(
            data_symbols("A1234B"),
            vec![START_B, 33, 99, 12, 34, 100, 34]
        );
        // … an odd run keeps its first digit in set B (Annex E rule 3b) …
        assert_eq!(data_symbols("X12345"), vec![START_B, 56, 17, 99, 23, 45]);
        // … and short runs stay in set B.
        assert_eq!(data_symbols("A12B"), vec![START_B, 33, 17, 18, 34]);
        assert_eq!(data_symbols("A12"), vec![START_B, 33, 17, 18]);
    }

    /// Fewest symbols by brute force over every B/C choice, for tiny inputs.
    fn brute_force_len(tokens: &[Token], in_c: bool) -> u32 {
        if tokens.is_empty() {
            return 0;
        }
        let switch = 1 + brute_force_len_stay(tokens, !in_c);
        switch.min(brute_force_len_stay(tokens, in_c))
    }

    fn brute_force_len_stay(tokens: &[Token], in_c: bool) -> u32 {
        if in_c {
            match tokens {
                [Token::Fnc1, rest @ ..] => 1 + brute_force_len(rest, true),
                [a, b, rest @ ..] if a.digit().is_some() && b.digit().is_some() => {
                    1 + brute_force_len(rest, true)
                }
                _ => u32::MAX / 4,
            }
        } else {
            1 + brute_force_len(&tokens[1..], false)
        }
    }

    proptest::proptest! {
        #[test]
        fn plan_is_optimal(data in "[0-9A]{1,10}") {
            let tokens = tokenize(&data, false).unwrap();
            let best = 1 + brute_force_len_stay(&tokens, false).min(brute_force_len_stay(&tokens, true));
            let planned = plan(&tokens);
            proptest::prop_assert_eq!(planned.len() as u32, best);
        }

        /// The steps spell the data back, start first, with a switch before every
        /// change of code set.
        #[test]
        fn plan_steps_spell_the_data(data in "([ -~]|[0-9]{2,9}){1,12}") {
            proptest::prop_assume!(data.chars().count() <= MAX_DATA_CHARS);
            let steps = Plan::new(&data).unwrap().steps();
            let mut text = String::new();
            for (i, step) in steps.iter().enumerate() {
                match *step {
                    Step::Start(_) => proptest::prop_assert_eq!(i, 0),
                    Step::Switch(_) | Step::Fnc1 => {}
                    Step::Char(b) => text.push(char::from(b)),
                    Step::Pair(v) => text.push_str(&format!("{v:02}")),
                }
            }
            proptest::prop_assert_eq!(text, data);
        }

        #[test]
        fn any_printable_ascii_encodes(data in "[ -~]{1,40}") {
            let pattern = encode(&data).unwrap();
            let symbols = symbol_values(&data).unwrap();
            proptest::prop_assert_eq!(pattern.len(), (symbols.len() - 1) * 6 + 7);
            proptest::prop_assert_eq!(
                checksum(&symbols[..symbols.len() - 2]),
                symbols[symbols.len() - 2]
            );
        }
    }

    #[test]
    fn rejects_unsupported_characters() {
        for (data, ch, position) in [
            ("CMD-拆包", '拆', 4),
            ("tab\there", '\t', 3),
            ("é", 'é', 0),
            ("A\u{1d}B", GS, 1),
            ("DEL\u{7f}", '\u{7f}', 3),
        ] {
            let err = encode(data).unwrap_err();
            assert_eq!(
                err,
                Code128Error::UnsupportedChar {
                    data: data.to_owned(),
                    ch,
                    position
                },
                "{data:?}"
            );
            assert!(err.to_string().contains("printable ASCII"), "{err}");
        }
        assert_eq!(encode(""), Err(Code128Error::Empty));
        let long = "A".repeat(MAX_DATA_CHARS + 1);
        assert!(matches!(encode(&long), Err(Code128Error::TooLong { .. })));
        assert!(encode(&"A".repeat(MAX_DATA_CHARS)).is_ok());
    }

    /// Draws `pattern` and decodes it with rxing, an independent Code 128 reader.
    fn rxing_decode(pattern: &[u8]) -> String {
        rxing_decode_with(pattern, &mut rxing::DecodeHints::default())
    }

    fn rxing_decode_with(pattern: &[u8], hints: &mut rxing::DecodeHints) -> String {
        // One row of 2-pixel modules between quiet zones, repeated 40 times (drawn here,
        // not with the canvas, so this module's tests name no other label module).
        let mut row = vec![255u8; 2 * QUIET_ZONE_MODULES as usize];
        for (i, &w) in pattern.iter().enumerate() {
            let shade = if i % 2 == 0 { 0 } else { 255 };
            row.extend(std::iter::repeat_n(shade, 2 * usize::from(w)));
        }
        row.extend(std::iter::repeat_n(255u8, 2 * QUIET_ZONE_MODULES as usize));
        let width = row.len() as u32;
        let luma: Vec<u8> = row.iter().copied().cycle().take(row.len() * 40).collect();
        let result = rxing::helpers::detect_in_luma_with_hints(
            luma,
            width,
            40,
            Some(rxing::BarcodeFormat::CODE_128),
            hints,
        )
        .unwrap_or_else(|e| panic!("rxing could not read {pattern:?}: {e:?}"));
        result.getText().to_owned()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        #[test]
        fn rxing_reads_back_what_was_encoded(data in "([ -~]|[0-9]{2,9}){1,12}") {
            proptest::prop_assume!(data.chars().count() <= MAX_DATA_CHARS);
            proptest::prop_assert_eq!(rxing_decode(&encode(&data).unwrap()), data);
        }
    }

    #[test]
    fn rxing_reads_every_set_b_and_set_c_value() {
        let printable: String = (' '..='~').collect();
        assert_eq!(
            rxing_decode(&encode(&printable[..48]).unwrap()),
            &printable[..48]
        );
        assert_eq!(
            rxing_decode(&encode(&printable[48..]).unwrap()),
            &printable[48..]
        );
        let pairs: String = (0..100).map(|n| format!("{n:02}")).collect();
        for quarter in pairs.as_bytes().chunks(50) {
            let quarter = std::str::from_utf8(quarter).unwrap();
            assert_eq!(rxing_decode(&encode(quarter).unwrap()), quarter);
        }
    }

    #[test]
    fn rxing_reads_gs1_with_gs_separators() {
        let data = "0109501101530003\u{1d}10AB-12\u{1d}211234";
        let mut gs1 = rxing::DecodeHints {
            AssumeGs1: Some(true),
            ..Default::default()
        };
        let text = rxing_decode_with(&encode_gs1(data).unwrap(), &mut gs1);
        assert_eq!(text, format!("]C1{data}"));
        // A reader not set up for GS1 drops every FNC1.
        assert_eq!(
            rxing_decode(&encode_gs1(data).unwrap()),
            data.replace(GS, "")
        );
    }

    #[test]
    fn gs1_puts_fnc1_first_and_as_separator() {
        // (01)09501101530003 (10)AB then (21)1234: FNC1 stays inside set C.
        let v = gs1_symbol_values("0109501101530003\u{1d}10AB\u{1d}211234").unwrap();
        assert_eq!(&v[..10], &[START_C, FNC1, 1, 9, 50, 11, 1, 53, 0, 3]);
        // Leading FNC1 plus one per separator (set C values are 0–99, so 102 is FNC1).
        assert_eq!(v.iter().filter(|&&s| s == FNC1).count(), 3);
        for bad in ["\u{1d}01", "01\u{1d}", "10A\u{1d}\u{1d}21B", ""] {
            assert!(encode_gs1(bad).is_err(), "{bad:?}");
        }
    }
}
