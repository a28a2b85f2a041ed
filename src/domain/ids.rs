//! The vocabulary newtypes of the returns domain — station, return id, item label, waybill,
//! operator badge, bin and GTIN — each parsed and validated once at the edge, so the rest of
//! the crate can hold them without re-checking.
//!
//! A SKU is not one of them: it is the seller's text as the feed accepts it (1 to 64
//! characters, spaces allowed), and for a product the manifest does not list the station
//! uses the barcode as read, which may be a GS1 element string with GS separators. No
//! rule stricter than "a string" holds for both, so SKUs stay `String`.
//!
//! Errors are machine-readable ([`IdError::code`] plus fields); human wording is produced
//! elsewhere from those.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// Why a string is not a valid identifier.
///
/// Positions (`at`) are 0-based character indices into the string that was parsed (the
/// whole string, including any prefix such as `R-` or `OP-`). Lengths are in characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdError {
    /// Nothing to parse.
    Empty,
    /// More characters than the identifier allows.
    TooLong { len: usize, max: usize },
    /// Fewer characters than the identifier requires.
    TooShort { len: usize, min: usize },
    /// A character outside the identifier's alphabet.
    BadChar { at: usize, ch: char },
    /// The printed prefix (`R-`, `OP-`, `Z-`, ...) is missing.
    MissingPrefix { expected: &'static str },
    /// A structural part is missing or empty (`station`, `date`, `number`, `item_no`, `zone`).
    MissingPart { part: &'static str },
    /// The `yyyymmdd` part is not eight digits or not a real calendar date.
    BadDate { text: String },
    /// A number part is not canonical (too few digits, leading zeros), zero where it must
    /// be ≥ 1, or does not fit in 32 bits. `part` is `number` or `item_no`.
    BadNumber { part: &'static str, text: String },
    /// A GTIN with a length other than 8, 12, 13 or 14 digits.
    BadLength { len: usize },
    /// The mod-10 check digit is wrong: `expected` is what the other digits imply.
    BadCheckDigit { expected: u8, found: u8 },
    /// A code from a closed, printed vocabulary (e.g. a `CMD-` command) that is not known.
    UnknownCode { text: String },
    /// A name the vocabulary keeps for itself (a bin called `GOOD` would be the good zone).
    Reserved { text: String },
}

impl IdError {
    /// Stable machine code, used as a translation key.
    pub fn code(&self) -> &'static str {
        match self {
            IdError::Empty => "id.empty",
            IdError::TooLong { .. } => "id.too_long",
            IdError::TooShort { .. } => "id.too_short",
            IdError::BadChar { .. } => "id.bad_char",
            IdError::MissingPrefix { .. } => "id.missing_prefix",
            IdError::MissingPart { .. } => "id.missing_part",
            IdError::BadDate { .. } => "id.bad_date",
            IdError::BadNumber { .. } => "id.bad_number",
            IdError::BadLength { .. } => "id.bad_length",
            IdError::BadCheckDigit { .. } => "id.bad_check_digit",
            IdError::UnknownCode { .. } => "id.unknown_code",
            IdError::Reserved { .. } => "id.reserved",
        }
    }
}

/// Machine form only: the code followed by its fields (`id.too_long len=70 max=64`).
impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())?;
        match self {
            IdError::Empty => Ok(()),
            IdError::TooLong { len, max } => write!(f, " len={len} max={max}"),
            IdError::TooShort { len, min } => write!(f, " len={len} min={min}"),
            IdError::BadChar { at, ch } => write!(f, " at={at} ch={ch:?}"),
            IdError::MissingPrefix { expected } => write!(f, " expected={expected:?}"),
            IdError::MissingPart { part } => write!(f, " part={part}"),
            IdError::BadDate { text } => write!(f, " text={text:?}"),
            IdError::BadNumber { part, text } => write!(f, " part={part} text={text:?}"),
            IdError::BadLength { len } => write!(f, " len={len}"),
            IdError::BadCheckDigit { expected, found } => {
                write!(f, " expected={expected} found={found}")
            }
            IdError::UnknownCode { text } | IdError::Reserved { text } => {
                write!(f, " text={text:?}")
            }
        }
    }
}

impl std::error::Error for IdError {}

/// Checks length (in chars) and alphabet; `offset` shifts reported positions so they refer
/// to the whole string the caller is parsing.
fn check_chars(
    s: &str,
    offset: usize,
    min: usize,
    max: usize,
    ok: impl Fn(char) -> bool,
) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    let len = s.chars().count();
    if len > max {
        return Err(IdError::TooLong { len, max });
    }
    if let Some((at, ch)) = s.chars().enumerate().find(|&(_, c)| !ok(c)) {
        return Err(IdError::BadChar {
            at: offset + at,
            ch,
        });
    }
    if len < min {
        return Err(IdError::TooShort { len, min });
    }
    Ok(())
}

/// Char index of byte offset `byte` in `s` (which must be a char boundary).
fn char_index(s: &str, byte: usize) -> usize {
    s.get(..byte).map_or(0, |p| p.chars().count())
}

/// The GS1 mod-10 check digit for `body` (all digits except the check digit).
/// `None` if `body` contains anything but ASCII digits.
pub fn gs1_check_digit(body: &str) -> Option<u8> {
    let mut sum: u32 = 0;
    for (i, b) in body.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = u32::from(b - b'0');
        sum += if i % 2 == 0 { d * 3 } else { d };
    }
    // `sum % 10` is < 10, so the result is a single digit.
    Some(((10 - sum % 10) % 10) as u8)
}

// ---------------------------------------------------------------------------------------

/// A returns bench (station): `[A-Za-z0-9_-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StationId(String);

impl StationId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<StationId, IdError> {
        Self::parse_at(s, 0)
    }

    fn parse_at(s: &str, offset: usize) -> Result<StationId, IdError> {
        check_chars(s, offset, 1, Self::MAX_LEN, |c| {
            c.is_ascii_alphanumeric() || c == '_' || c == '-'
        })?;
        Ok(StationId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for StationId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------

/// A return's id, printed on its label as `R-<station>-<yyyymmdd>-<n>` with `n`
/// zero-padded to at least four digits, e.g. `R-ST01-20261125-0042`.
///
/// Only the canonical form parses (`0042`, not `42` or `00042`), so `as_str` is always
/// exactly what was printed. Ordering is by station, then date, then number.
/// Dates outside years 0000–9999 cannot be printed in eight digits; [`ReturnId::new`]
/// still builds an id for them, but it will not parse back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReturnId {
    /// The station that received the return: ids from two stations never collide.
    station: StationId,
    /// The local day of receipt: numbering restarts each day.
    date: NaiveDate,
    /// The return's number within its station and day.
    number: u32,
    /// The printed form, kept so `as_str` never reformats (it is what the label shows).
    text: String,
}

impl ReturnId {
    pub const PREFIX: &'static str = "R-";
    /// `R-` + station + `-` + date + `-` + up to ten digits.
    pub const MAX_LEN: usize = 2 + StationId::MAX_LEN + 1 + 8 + 1 + 10;

    pub fn new(station: &StationId, date: NaiveDate, number: u32) -> ReturnId {
        let text = format!(
            "R-{}-{:04}{:02}{:02}-{:04}",
            station,
            date.year(),
            date.month(),
            date.day(),
            number
        );
        ReturnId {
            station: station.clone(),
            date,
            number,
            text,
        }
    }

    /// Parses the printed form; the station may itself contain `-`, so the date and
    /// number are taken from the right.
    pub fn parse(s: &str) -> Result<ReturnId, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        let len = s.chars().count();
        if len > Self::MAX_LEN {
            return Err(IdError::TooLong {
                len,
                max: Self::MAX_LEN,
            });
        }
        let Some(body) = s.strip_prefix(Self::PREFIX) else {
            return Err(IdError::MissingPrefix {
                expected: Self::PREFIX,
            });
        };
        let Some((rest, number_text)) = body.rsplit_once('-') else {
            return Err(IdError::MissingPart { part: "number" });
        };
        let number_at = Self::PREFIX.len() + rest.len() + 1;
        let number = parse_number(s, number_text, number_at, "number", 4)?;
        let Some((station_text, date_text)) = rest.rsplit_once('-') else {
            return Err(IdError::MissingPart { part: "date" });
        };
        let date = parse_date(date_text)?;
        if station_text.is_empty() {
            return Err(IdError::MissingPart { part: "station" });
        }
        let station = StationId::parse_at(station_text, Self::PREFIX.len())?;
        Ok(ReturnId {
            station,
            date,
            number,
            text: s.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn station(&self) -> &StationId {
        &self.station
    }

    pub fn date(&self) -> NaiveDate {
        self.date
    }

    pub fn number(&self) -> u32 {
        self.number
    }
}

/// Parses a canonical decimal number part: digits only, at least `min_digits` digits,
/// no leading zeros beyond that padding, fits in `u32`. `at` is the byte offset of
/// `text` inside `whole` (for error positions).
fn parse_number(
    whole: &str,
    text: &str,
    at: usize,
    part: &'static str,
    min_digits: usize,
) -> Result<u32, IdError> {
    if text.is_empty() {
        return Err(IdError::MissingPart { part });
    }
    if let Some((i, ch)) = text.char_indices().find(|&(_, c)| !c.is_ascii_digit()) {
        return Err(IdError::BadChar {
            at: char_index(whole, at + i),
            ch,
        });
    }
    let bad = || IdError::BadNumber {
        part,
        text: text.to_owned(),
    };
    let n: u32 = text.parse().map_err(|_| bad())?;
    if format!("{n:0min_digits$}") != text {
        return Err(bad());
    }
    Ok(n)
}

fn parse_date(text: &str) -> Result<NaiveDate, IdError> {
    let bad = || IdError::BadDate {
        text: text.to_owned(),
    };
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (y, md) = text.split_at(4);
    let (m, d) = md.split_at(2);
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return Err(bad());
    };
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(bad)
}

impl fmt::Display for ReturnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for ReturnId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------

/// The label of one unit inside a return: `<return id>.<item_no>`, e.g.
/// `R-ST01-20261125-0042.2`. `item_no` starts at 1 and is printed without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemRef {
    /// The return the unit belongs to.
    pub return_id: ReturnId,
    /// The unit's number within it (from 1).
    pub item_no: u32,
}

impl ItemRef {
    pub fn parse(s: &str) -> Result<ItemRef, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        let Some((rid, item_text)) = s.rsplit_once('.') else {
            return Err(IdError::MissingPart { part: "item_no" });
        };
        let return_id = ReturnId::parse(rid)?;
        let item_no = parse_number(s, item_text, rid.len() + 1, "item_no", 1)?;
        if item_no == 0 {
            return Err(IdError::BadNumber {
                part: "item_no",
                text: item_text.to_owned(),
            });
        }
        Ok(ItemRef { return_id, item_no })
    }
}

impl fmt::Display for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.return_id, self.item_no)
    }
}

impl FromStr for ItemRef {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------

/// A courier tracking number: `[A-Za-z0-9]{6,40}`, stored uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Waybill(String);

impl Waybill {
    pub const MIN_LEN: usize = 6;
    pub const MAX_LEN: usize = 40;

    pub fn parse(s: &str) -> Result<Waybill, IdError> {
        check_chars(s, 0, Self::MIN_LEN, Self::MAX_LEN, |c| {
            c.is_ascii_alphanumeric()
        })?;
        Ok(Waybill(s.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Waybill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Waybill {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------

/// An operator badge id `[A-Za-z0-9_]{1,32}`; badges are printed as `OP-<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Badge(String);

impl Badge {
    pub const PREFIX: &'static str = "OP-";
    pub const MAX_LEN: usize = 32;

    /// Parses a bare id (no `OP-`).
    pub fn parse(s: &str) -> Result<Badge, IdError> {
        Self::parse_at(s, 0)
    }

    /// Parses the scanned form, which must carry the `OP-` prefix.
    pub fn from_scan(s: &str) -> Result<Badge, IdError> {
        let Some(id) = s.strip_prefix(Self::PREFIX) else {
            return Err(IdError::MissingPrefix {
                expected: Self::PREFIX,
            });
        };
        if id.is_empty() {
            return Err(IdError::MissingPart { part: "badge" });
        }
        Self::parse_at(id, Self::PREFIX.len())
    }

    fn parse_at(s: &str, offset: usize) -> Result<Badge, IdError> {
        check_chars(s, offset, 1, Self::MAX_LEN, |c| {
            c.is_ascii_alphanumeric() || c == '_'
        })?;
        Ok(Badge(s.to_owned()))
    }

    /// The bare id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The printed/scanned form, `OP-<id>`.
    pub fn scan_form(&self) -> String {
        format!("{}{}", Self::PREFIX, self.0)
    }
}

/// The bare id.
impl fmt::Display for Badge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Badge {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------

/// A bin (a shelf position in the good or defect zone): `[A-Z0-9-]{1,16}`, and not one of
/// the fixed zones' names, since it is scanned as `Z-<code>` beside `Z-PENDING`, `Z-GOOD`
/// and `Z-DEFECT`. Bins are configured (`[[zones.bins]]`) or added by a supervisor; both
/// parse here, and so does the bin of a scanned zone label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BinCode(String);

impl BinCode {
    pub const MAX_LEN: usize = 16;
    /// The fixed zones' names, which no bin may take.
    pub const RESERVED: [&'static str; 3] = ["PENDING", "GOOD", "DEFECT"];
    /// The rule in words, for messages that tell a person what to type.
    pub const RULE: &'static str = "1 to 16 of A-Z 0-9 - (not PENDING, GOOD or DEFECT)";

    pub fn parse(s: &str) -> Result<BinCode, IdError> {
        Self::parse_at(s, 0)
    }

    /// Parses a code that starts at character `offset` of a longer string (a zone label),
    /// so error positions refer to the whole string.
    pub fn parse_at(s: &str, offset: usize) -> Result<BinCode, IdError> {
        check_chars(s, offset, 1, Self::MAX_LEN, |c| {
            c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'
        })?;
        if Self::RESERVED.contains(&s) {
            return Err(IdError::Reserved { text: s.to_owned() });
        }
        Ok(BinCode(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BinCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for BinCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------

/// A GS1 trade item number (EAN-8, UPC-A, EAN-13 or GTIN-14) with a valid check digit.
///
/// Identity (`Eq`, `Hash`, `Ord`) is the 14-digit form, so EAN-13 `6901234567892` equals
/// GTIN-14 `06901234567892`; the original length is kept only for display.
#[derive(Debug, Clone)]
pub struct Gtin {
    /// The 14-digit form: the identity, so an EAN-13 and its GTIN-14 compare equal.
    gtin14: String,
    /// The length it was read in, to display it as printed on the product.
    len: usize,
}

impl Gtin {
    pub const LENGTHS: [usize; 4] = [8, 12, 13, 14];

    pub fn parse(s: &str) -> Result<Gtin, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if let Some((at, ch)) = s.chars().enumerate().find(|&(_, c)| !c.is_ascii_digit()) {
            return Err(IdError::BadChar { at, ch });
        }
        let len = s.len();
        if !Self::LENGTHS.contains(&len) {
            return Err(IdError::BadLength { len });
        }
        let (body, check) = s.split_at(len - 1);
        let found = check.as_bytes().first().map_or(0, |b| b - b'0');
        let expected = gs1_check_digit(body).unwrap_or(u8::MAX);
        if expected != found {
            return Err(IdError::BadCheckDigit { expected, found });
        }
        Ok(Gtin {
            gtin14: format!("{s:0>14}"),
            len,
        })
    }

    /// The normalised 14-digit form.
    pub fn as_gtin14(&self) -> &str {
        &self.gtin14
    }

    /// The form it was read in: 8, 12, 13 or 14 digits.
    pub fn display_form(&self) -> String {
        self.display_str().to_owned()
    }

    fn display_str(&self) -> &str {
        self.gtin14
            .get(14usize.saturating_sub(self.len)..)
            .unwrap_or(&self.gtin14)
    }

    /// Length of the form it was read in (8, 12, 13 or 14).
    pub fn original_len(&self) -> usize {
        self.len
    }

    /// True when `barcode` (surrounding whitespace ignored) is a GTIN with the same
    /// 14-digit form.
    pub fn matches_barcode(&self, barcode: &str) -> bool {
        Gtin::parse(barcode.trim()).is_ok_and(|g| g == *self)
    }
}

impl PartialEq for Gtin {
    fn eq(&self, other: &Self) -> bool {
        self.gtin14 == other.gtin14
    }
}

impl Eq for Gtin {}

impl Hash for Gtin {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.gtin14.hash(state);
    }
}

impl PartialOrd for Gtin {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Gtin {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.gtin14.cmp(&other.gtin14)
    }
}

/// The display form (original length).
impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_str())
    }
}

impl FromStr for Gtin {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn station_ids() {
        // (input, expected result): proves the alphabet and length bounds.
        let cases: &[(&str, Result<&str, IdError>)] = &[
            ("ST01", Ok("ST01")),
            ("bench-3_a", Ok("bench-3_a")),
            ("", Err(IdError::Empty)),
            ("ST 01", Err(IdError::BadChar { at: 2, ch: ' ' })),
            ("工位1", Err(IdError::BadChar { at: 0, ch: '工' })),
            (&"a".repeat(65), Err(IdError::TooLong { len: 65, max: 64 })),
        ];
        for (input, want) in cases {
            let got = StationId::parse(input);
            assert_eq!(
                got.as_ref().map(StationId::as_str).map_err(Clone::clone),
                want.clone(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn return_id_parse_table() {
        // (input, expected): proves parsing from the right, canonical numbers and real dates.
        let ok = |st: &str, d: NaiveDate, n: u32| Ok((st.to_owned(), d, n));
        type Parsed = Result<(String, NaiveDate, u32), IdError>;
        let cases: Vec<(&str, Parsed)> = vec![
            ("R-ST01-20261125-0042", ok("ST01", date(2026, 11, 25), 42)),
            ("R-A-B-20240229-12345", ok("A-B", date(2024, 2, 29), 12345)),
            ("R-X-20261125-0000", ok("X", date(2026, 11, 25), 0)),
            (
                "R-X-20261125-4294967295",
                ok("X", date(2026, 11, 25), u32::MAX),
            ),
            ("", Err(IdError::Empty)),
            (
                "X-ST01-20261125-0042",
                Err(IdError::MissingPrefix { expected: "R-" }),
            ),
            ("R-ST01", Err(IdError::MissingPart { part: "number" })),
            ("R-ST01-0042", Err(IdError::MissingPart { part: "date" })),
            (
                "R-ST01-20261125-",
                Err(IdError::MissingPart { part: "number" }),
            ),
            (
                "R--20261125-0042",
                Err(IdError::MissingPart { part: "station" }),
            ),
            (
                "R-ST01-20261125-42",
                Err(IdError::BadNumber {
                    part: "number",
                    text: "42".into(),
                }),
            ),
            (
                "R-ST01-20261125-00042",
                Err(IdError::BadNumber {
                    part: "number",
                    text: "00042".into(),
                }),
            ),
            (
                "R-ST01-20261125-4294967296",
                Err(IdError::BadNumber {
                    part: "number",
                    text: "4294967296".into(),
                }),
            ),
            (
                "R-ST01-20261125-00a2",
                Err(IdError::BadChar { at: 18, ch: 'a' }),
            ),
            (
                "R-ST01-20250229-0042",
                Err(IdError::BadDate {
                    text: "20250229".into(),
                }),
            ),
            (
                "R-ST01-2026112-0042",
                Err(IdError::BadDate {
                    text: "2026112".into(),
                }),
            ),
            (
                "R-ST 01-20261125-0042",
                Err(IdError::BadChar { at: 4, ch: ' ' }),
            ),
        ];
        for (input, want) in cases {
            let got = ReturnId::parse(input)
                .map(|r| (r.station().as_str().to_owned(), r.date(), r.number()));
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn return_id_new_formats_and_orders() {
        // Proves the printed form pads to four digits and ordering is numeric, not textual.
        let st = StationId::parse("ST01").unwrap();
        let a = ReturnId::new(&st, date(2026, 11, 25), 42);
        assert_eq!(a.as_str(), "R-ST01-20261125-0042");
        assert_eq!(a.to_string(), "R-ST01-20261125-0042");
        let b = ReturnId::new(&st, date(2026, 11, 25), 10_000);
        assert_eq!(b.as_str(), "R-ST01-20261125-10000");
        assert!(a < b);
        assert_eq!(ReturnId::parse(b.as_str()).unwrap(), b);
    }

    #[test]
    fn item_refs() {
        // (input, expected): proves item labels need a valid return id and item_no ≥ 1.
        let cases: Vec<(&str, Result<u32, IdError>)> = vec![
            ("R-ST01-20261125-0042.2", Ok(2)),
            ("R-ST01-20261125-0042.120", Ok(120)),
            (
                "R-ST01-20261125-0042.0",
                Err(IdError::BadNumber {
                    part: "item_no",
                    text: "0".into(),
                }),
            ),
            (
                "R-ST01-20261125-0042.02",
                Err(IdError::BadNumber {
                    part: "item_no",
                    text: "02".into(),
                }),
            ),
            (
                "R-ST01-20261125-0042.",
                Err(IdError::MissingPart { part: "item_no" }),
            ),
            (
                "R-ST01-20261125-0042.x",
                Err(IdError::BadChar { at: 21, ch: 'x' }),
            ),
            (
                "R-ST01-20261125-0042",
                Err(IdError::MissingPart { part: "item_no" }),
            ),
            (
                "R-ST01-20261325-0042.1",
                Err(IdError::BadDate {
                    text: "20261325".into(),
                }),
            ),
        ];
        for (input, want) in cases {
            let got = ItemRef::parse(input).map(|i| i.item_no);
            assert_eq!(got, want, "{input:?}");
        }
        let item = ItemRef::parse("R-ST01-20261125-0042.2").unwrap();
        assert_eq!(item.to_string(), "R-ST01-20261125-0042.2");
        assert_eq!(item.return_id.as_str(), "R-ST01-20261125-0042");
    }

    #[test]
    fn waybills() {
        // (input, expected): proves alphabet, 6..=40 length and uppercase normalisation.
        let cases: &[(&str, Result<&str, IdError>)] = &[
            ("sf1234567890123", Ok("SF1234567890123")),
            ("773012345678", Ok("773012345678")),
            ("ABC12", Err(IdError::TooShort { len: 5, min: 6 })),
            ("", Err(IdError::Empty)),
            ("SF-123456", Err(IdError::BadChar { at: 2, ch: '-' })),
            (&"1".repeat(41), Err(IdError::TooLong { len: 41, max: 40 })),
        ];
        for (input, want) in cases {
            let got = Waybill::parse(input);
            assert_eq!(
                got.as_ref().map(Waybill::as_str).map_err(Clone::clone),
                want.clone(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn badges() {
        // (input, via from_scan?, expected): proves the OP- prefix rule and bare-id alphabet.
        let cases: &[(&str, bool, Result<&str, IdError>)] = &[
            ("OP-zhang_3", true, Ok("zhang_3")),
            ("zhang_3", false, Ok("zhang_3")),
            (
                "zhang_3",
                true,
                Err(IdError::MissingPrefix { expected: "OP-" }),
            ),
            ("OP-", true, Err(IdError::MissingPart { part: "badge" })),
            ("OP-zh-3", true, Err(IdError::BadChar { at: 5, ch: '-' })),
            ("OP-x", false, Err(IdError::BadChar { at: 2, ch: '-' })),
            (
                &"a".repeat(33),
                false,
                Err(IdError::TooLong { len: 33, max: 32 }),
            ),
        ];
        for (input, scan, want) in cases {
            let got = if *scan {
                Badge::from_scan(input)
            } else {
                Badge::parse(input)
            };
            assert_eq!(
                got.as_ref().map(Badge::as_str).map_err(Clone::clone),
                want.clone(),
                "{input:?}"
            );
        }
        assert_eq!(Badge::parse("w1").unwrap().scan_form(), "OP-w1");
    }

    #[test]
    fn bin_codes() {
        // (input, expected): proves the alphabet (uppercase only), the length and the
        // reserved names of bin codes.
        let cases: &[(&str, Result<(), IdError>)] = &[
            ("A01", Ok(())),
            ("D-09", Ok(())),
            ("---", Ok(())),
            ("ABCDEFGHIJKLMNOP", Ok(())),
            ("", Err(IdError::Empty)),
            ("a01", Err(IdError::BadChar { at: 0, ch: 'a' })),
            ("A/01", Err(IdError::BadChar { at: 1, ch: '/' })),
            ("A01 ", Err(IdError::BadChar { at: 3, ch: ' ' })),
            (
                "ABCDEFGHIJKLMNOPQ",
                Err(IdError::TooLong { len: 17, max: 16 }),
            ),
            (
                "GOOD",
                Err(IdError::Reserved {
                    text: "GOOD".into(),
                }),
            ),
            (
                "PENDING",
                Err(IdError::Reserved {
                    text: "PENDING".into(),
                }),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(BinCode::parse(input).map(|_| ()), *want, "{input:?}");
        }
        assert_eq!(
            BinCode::parse_at("A/", 2),
            Err(IdError::BadChar { at: 3, ch: '/' })
        );
        assert_eq!(BinCode::parse("D01").unwrap().to_string(), "D01");
    }

    #[test]
    fn gtin_check_digits() {
        // (input, expected 14-digit form or error): proves mod-10 check digits for each length.
        let cases: &[(&str, Result<&str, IdError>)] = &[
            ("4006381333931", Ok("04006381333931")),
            ("6901234567892", Ok("06901234567892")),
            ("96385074", Ok("00000096385074")),
            ("036000291452", Ok("00036000291452")),
            ("10614141000415", Ok("10614141000415")),
            (
                "4006381333932",
                Err(IdError::BadCheckDigit {
                    expected: 1,
                    found: 2,
                }),
            ),
            (
                "6901234567890",
                Err(IdError::BadCheckDigit {
                    expected: 2,
                    found: 0,
                }),
            ),
            ("69012345678", Err(IdError::BadLength { len: 11 })),
            ("69012x4567892", Err(IdError::BadChar { at: 5, ch: 'x' })),
            ("", Err(IdError::Empty)),
        ];
        for (input, want) in cases {
            let got = Gtin::parse(input);
            assert_eq!(
                got.as_ref().map(Gtin::as_gtin14).map_err(Clone::clone),
                want.clone(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn gtin_identity_and_display() {
        // Proves equality is by GTIN-14 while display keeps the original length.
        let ean = Gtin::parse("6901234567892").unwrap();
        let g14 = Gtin::parse("06901234567892").unwrap();
        assert_eq!(ean, g14);
        assert_eq!(ean.display_form(), "6901234567892");
        assert_eq!(g14.display_form(), "06901234567892");
        assert_eq!(Gtin::parse("96385074").unwrap().display_form(), "96385074");
        assert!(ean.matches_barcode("06901234567892"));
        assert!(g14.matches_barcode(" 6901234567892\r\n"));
        assert!(!ean.matches_barcode("4006381333931"));
        assert!(!ean.matches_barcode("6901234567890"));
    }

    #[test]
    fn error_codes_are_stable() {
        // Proves each error reason has its own machine code and Display starts with it.
        let errs = [
            IdError::Empty,
            IdError::TooLong { len: 2, max: 1 },
            IdError::TooShort { len: 1, min: 2 },
            IdError::BadChar { at: 0, ch: 'x' },
            IdError::MissingPrefix { expected: "R-" },
            IdError::MissingPart { part: "date" },
            IdError::BadDate { text: "x".into() },
            IdError::BadNumber {
                part: "number",
                text: "x".into(),
            },
            IdError::BadLength { len: 3 },
            IdError::BadCheckDigit {
                expected: 1,
                found: 2,
            },
            IdError::UnknownCode { text: "x".into() },
        ];
        let mut codes: Vec<&str> = errs.iter().map(IdError::code).collect();
        for (e, c) in errs.iter().zip(&codes) {
            assert!(c.starts_with("id."));
            assert!(e.to_string().starts_with(c));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errs.len());
        assert_eq!(
            IdError::BadCheckDigit {
                expected: 1,
                found: 2
            }
            .code(),
            "id.bad_check_digit"
        );
    }

    proptest! {
        // Proves every ReturnId::new (years 0000–9999) round-trips through parse.
        #[test]
        fn return_id_round_trips(
            station in "[A-Za-z0-9_-]{1,64}",
            days in 1i32..=3_652_059, // 0001-01-01 ..= 9999-12-31
            n in any::<u32>(),
        ) {
            let st = StationId::parse(&station).unwrap();
            let d = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
            let id = ReturnId::new(&st, d, n);
            let back = ReturnId::parse(id.as_str()).unwrap();
            prop_assert_eq!(back.station(), &st);
            prop_assert_eq!(back.date(), d);
            prop_assert_eq!(back.number(), n);
            prop_assert_eq!(&back, &id);
        }

        // Proves every ItemRef (item_no ≥ 1) round-trips through Display and parse.
        #[test]
        fn item_ref_round_trips(
            station in "[A-Za-z0-9_-]{1,64}",
            days in 700_000i32..800_000,
            n in any::<u32>(),
            item_no in 1u32..,
        ) {
            let st = StationId::parse(&station).unwrap();
            let d = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
            let item = ItemRef { return_id: ReturnId::new(&st, d, n), item_no };
            let back = ItemRef::parse(&item.to_string()).unwrap();
            prop_assert_eq!(back, item);
        }

        // Proves any body + computed check digit is a GTIN of that length, equal to its GTIN-14.
        #[test]
        fn gtin_with_computed_check_digit_parses(body in "[0-9]{7}|[0-9]{11,13}") {
            let check = gs1_check_digit(&body).unwrap();
            let code = format!("{body}{check}");
            let g = Gtin::parse(&code).unwrap();
            prop_assert_eq!(g.display_form(), code);
            prop_assert!(g.matches_barcode(g.as_gtin14()));
        }

        // Proves the id parsers never panic on arbitrary text.
        #[test]
        fn parsers_never_panic(s in "\\PC{0,100}") {
            let _ = StationId::parse(&s);
            let _ = ReturnId::parse(&s);
            let _ = ItemRef::parse(&s);
            let _ = Waybill::parse(&s);
            let _ = Badge::parse(&s);
            let _ = Badge::from_scan(&s);
            let _ = BinCode::parse(&s);
            let _ = Gtin::parse(&s);
        }
    }
}
