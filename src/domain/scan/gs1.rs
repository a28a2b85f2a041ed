//! GS1 element strings: the application-identifier (AI) data carried by GS1-128,
//! GS1 DataMatrix/QR and DataBar symbols, in both the transmitted form
//! (`0109501101530003` `17261231` `10AB12` with GS between variable-length fields) and the
//! human-readable parenthesised form (`(01)09501101530003(17)261231(10)AB12`).
//!
//! Only the AIs a returns bench meets are known (listed on `lookup`); anything else is an
//! error rather than a guess, because a wrong AI length derails every field after it.

use crate::domain::ids::gs1_check_digit;

/// The group separator (ASCII 29), which stands for FNC1 between fields.
pub const GS: char = '\u{1D}';
const GS_BYTE: u8 = 0x1D;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// Digits only.
    Numeric,
    /// GS1 "character set 82" (printable ASCII minus space and a few symbols).
    Alphanumeric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    Fixed(usize),
    /// Up to this many characters, ended by GS or end of data.
    Variable(usize),
}

#[derive(Debug, Clone, Copy)]
struct AiSpec {
    /// How long the value is: fixed, or up to a maximum and ended by GS.
    length: Length,
    /// Which characters the value may hold.
    charset: Charset,
    /// Last digit is a GS1 mod-10 check digit.
    check_digit: bool,
    /// Value is a YYMMDD date (day `00` allowed: "end of month").
    date: bool,
}

const fn fixed_n(n: usize) -> AiSpec {
    AiSpec {
        length: Length::Fixed(n),
        charset: Charset::Numeric,
        check_digit: false,
        date: false,
    }
}

const fn checked_n(n: usize) -> AiSpec {
    AiSpec {
        check_digit: true,
        ..fixed_n(n)
    }
}

const DATE: AiSpec = AiSpec {
    date: true,
    ..fixed_n(6)
};

const fn var_n(max: usize) -> AiSpec {
    AiSpec {
        length: Length::Variable(max),
        ..fixed_n(0)
    }
}

const fn var_an(max: usize) -> AiSpec {
    AiSpec {
        length: Length::Variable(max),
        charset: Charset::Alphanumeric,
        check_digit: false,
        date: false,
    }
}

/// The AI at the start of `s` (ASCII) and its format: `(ai length, spec)`.
///
/// Known: 00 SSCC n18, 01 GTIN n14, 02 contained GTIN n14, 10 batch an..20,
/// 11/12/13/15/16/17 dates n6, 20 variant n2, 21 serial an..20, 22 an..20, 30 count n..8,
/// 37 count n..8, 240/241/250/251 an..30, 400/401/403 an..30, 31nn–36nn measures n6
/// (approximate: every 3[1-6]nn is accepted), 90 an..30, 91–99 company internal an..90.
fn lookup(s: &[u8]) -> Option<(usize, AiSpec)> {
    let d = |i: usize| s.get(i).copied().filter(u8::is_ascii_digit);
    let two = [d(0)?, d(1)?];
    let spec = match &two {
        b"00" => (2, checked_n(18)),
        b"01" | b"02" => (2, checked_n(14)),
        b"10" | b"21" | b"22" => (2, var_an(20)),
        b"11" | b"12" | b"13" | b"15" | b"16" | b"17" => (2, DATE),
        b"20" => (2, fixed_n(2)),
        b"30" | b"37" => (2, var_n(8)),
        b"24" | b"25" => match d(2)? {
            b'0' | b'1' => (3, var_an(30)),
            _ => return None,
        },
        b"40" => match d(2)? {
            b'0' | b'1' | b'3' => (3, var_an(30)),
            _ => return None,
        },
        [b'3', b'1'..=b'6'] => {
            d(2)?;
            d(3)?;
            (4, fixed_n(6))
        }
        b"90" => (2, var_an(30)),
        [b'9', _] => (2, var_an(90)),
        _ => return None,
    };
    Some(spec)
}

/// One AI and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1Element {
    /// The application identifier: what the value means (`01` GTIN, `10` batch, …).
    pub ai: String,
    /// The value as read.
    pub value: String,
}

/// A parsed element string, in the order the fields were read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElementString {
    /// The fields in the order read, so the string can be shown as scanned.
    pub elements: Vec<Gs1Element>,
}

impl ElementString {
    /// The value of `ai`, if present.
    pub fn get(&self, ai: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|e| e.ai == ai)
            .map(|e| e.value.as_str())
    }
}

/// Why an element string does not parse. [`Gs1Error::reason`] gives a machine token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gs1Error {
    /// Contains non-ASCII characters.
    NotAscii,
    /// No fields at all.
    NoElements,
    /// The digits at a field start are not a known AI (`at`: up to four chars found there).
    UnknownAi { at: String },
    /// A fixed-length field is cut short (by GS or end of data).
    Truncated { ai: String },
    /// A fixed-length field in parenthesised form is longer than its length.
    Overlong { ai: String },
    /// A variable-length field is empty.
    EmptyValue { ai: String },
    /// A variable-length field exceeds its maximum.
    TooLong { ai: String },
    /// A character outside the field's character set.
    BadChar { ai: String },
    /// A date field that is not YYMMDD.
    BadDate { ai: String },
    /// A check-digit field (00, 01, 02) with a wrong check digit.
    BadCheckDigit {
        ai: String,
        value: String,
        expected: u8,
        found: u8,
    },
    /// The same AI twice.
    Duplicate { ai: String },
    /// Parenthesised form that is not `(digits)value…`.
    BadBracket,
}

impl Gs1Error {
    /// Machine token: `kind` or `kind:ai`, e.g. `unknown_ai:99`, `truncated:17`.
    pub fn reason(&self) -> String {
        match self {
            Gs1Error::NotAscii => "not_ascii".to_owned(),
            Gs1Error::NoElements => "no_elements".to_owned(),
            Gs1Error::BadBracket => "bad_bracket".to_owned(),
            Gs1Error::UnknownAi { at } => format!("unknown_ai:{at}"),
            Gs1Error::Truncated { ai } => format!("truncated:{ai}"),
            Gs1Error::Overlong { ai } => format!("overlong:{ai}"),
            Gs1Error::EmptyValue { ai } => format!("empty_value:{ai}"),
            Gs1Error::TooLong { ai } => format!("too_long:{ai}"),
            Gs1Error::BadChar { ai } => format!("bad_char:{ai}"),
            Gs1Error::BadDate { ai } => format!("bad_date:{ai}"),
            Gs1Error::BadCheckDigit { ai, .. } => format!("bad_check_digit:{ai}"),
            Gs1Error::Duplicate { ai } => format!("duplicate_ai:{ai}"),
        }
    }
}

/// GS1 character set 82.
fn is_cset82(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!\"%&'()*+,-./:;<=>?_".contains(&b)
}

fn validate(ai: &str, spec: AiSpec, value: &str) -> Result<(), Gs1Error> {
    let ai_owned = || ai.to_owned();
    match spec.length {
        Length::Fixed(n) if value.len() < n => {
            return Err(Gs1Error::Truncated { ai: ai_owned() });
        }
        Length::Fixed(n) if value.len() > n => {
            return Err(Gs1Error::Overlong { ai: ai_owned() });
        }
        Length::Variable(_) if value.is_empty() => {
            return Err(Gs1Error::EmptyValue { ai: ai_owned() });
        }
        Length::Variable(max) if value.len() > max => {
            return Err(Gs1Error::TooLong { ai: ai_owned() });
        }
        _ => {}
    }
    let charset_ok = match spec.charset {
        Charset::Numeric => value.bytes().all(|b| b.is_ascii_digit()),
        Charset::Alphanumeric => value.bytes().all(is_cset82),
    };
    if !charset_ok {
        return Err(Gs1Error::BadChar { ai: ai_owned() });
    }
    if spec.check_digit {
        let (body, check) = value.split_at(value.len().saturating_sub(1));
        let found = check.bytes().next().map_or(0, |b| b - b'0');
        let expected = gs1_check_digit(body).unwrap_or(u8::MAX);
        if expected != found {
            return Err(Gs1Error::BadCheckDigit {
                ai: ai_owned(),
                value: value.to_owned(),
                expected,
                found,
            });
        }
    }
    if spec.date {
        let num = |r: std::ops::Range<usize>| value.get(r).and_then(|p| p.parse::<u32>().ok());
        let ok = matches!((num(2..4), num(4..6)), (Some(1..=12), Some(0..=31)));
        if !ok {
            return Err(Gs1Error::BadDate { ai: ai_owned() });
        }
    }
    Ok(())
}

fn push(out: &mut ElementString, ai: &str, value: &str) -> Result<(), Gs1Error> {
    if out.get(ai).is_some() {
        return Err(Gs1Error::Duplicate { ai: ai.to_owned() });
    }
    out.elements.push(Gs1Element {
        ai: ai.to_owned(),
        value: value.to_owned(),
    });
    Ok(())
}

/// Parses the transmitted form: fields back to back, variable-length ones ended by GS.
/// A leading GS (FNC1 in first position) and stray GS between fields are accepted.
pub fn parse_raw(s: &str) -> Result<ElementString, Gs1Error> {
    if !s.is_ascii() {
        return Err(Gs1Error::NotAscii);
    }
    let b = s.as_bytes();
    let mut out = ElementString::default();
    let mut i = 0;
    while i < b.len() {
        if b[i] == GS_BYTE {
            i += 1;
            continue;
        }
        let rest = &b[i..];
        let Some((ai_len, spec)) = lookup(rest) else {
            let end = (i + 4).min(b.len());
            return Err(Gs1Error::UnknownAi {
                at: s.get(i..end).unwrap_or_default().replace(GS, "<GS>"),
            });
        };
        let ai = s.get(i..i + ai_len).unwrap_or_default();
        i += ai_len;
        let field_end = b[i..]
            .iter()
            .position(|&c| c == GS_BYTE)
            .map_or(b.len(), |p| i + p);
        let end = match spec.length {
            Length::Fixed(n) => (i + n).min(field_end),
            Length::Variable(_) => field_end,
        };
        let value = s.get(i..end).unwrap_or_default();
        validate(ai, spec, value)?;
        push(&mut out, ai, value)?;
        i = end;
    }
    if out.elements.is_empty() {
        return Err(Gs1Error::NoElements);
    }
    Ok(out)
}

/// True when `s` begins `(` + 2–4 digits + `)`: the start of a parenthesised AI.
pub fn starts_with_bracketed_ai(s: &str) -> bool {
    bracketed_ai_len(s.as_bytes()).is_some()
}

/// Length of the `(nn)` at the start of `b`, if it is one.
fn bracketed_ai_len(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&b'(') {
        return None;
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    ((2..=4).contains(&digits) && b.get(1 + digits) == Some(&b')')).then_some(digits + 2)
}

/// Parses the human-readable form `(01)09501101530003(17)261231(10)AB12`.
/// A value runs to the next `(nn)` or the end.
pub fn parse_bracketed(s: &str) -> Result<ElementString, Gs1Error> {
    if !s.is_ascii() {
        return Err(Gs1Error::NotAscii);
    }
    let b = s.as_bytes();
    let mut out = ElementString::default();
    let mut i = 0;
    while i < b.len() {
        let head = bracketed_ai_len(&b[i..]).ok_or(Gs1Error::BadBracket)?;
        let ai = s.get(i + 1..i + head - 1).unwrap_or_default();
        let spec = match lookup(ai.as_bytes()) {
            Some((len, spec)) if len == ai.len() => spec,
            _ => return Err(Gs1Error::UnknownAi { at: ai.to_owned() }),
        };
        i += head;
        let mut end = i;
        while end < b.len() && bracketed_ai_len(&b[end..]).is_none() {
            end += 1;
        }
        let value = s.get(i..end).unwrap_or_default();
        validate(ai, spec, value)?;
        push(&mut out, ai, value)?;
        i = end;
    }
    if out.elements.is_empty() {
        return Err(Gs1Error::NoElements);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected fields `(ai, value)`, or the expected error reason.
    type Want = Result<&'static [(&'static str, &'static str)], &'static str>;

    fn fields(es: &ElementString) -> Vec<(&str, &str)> {
        es.elements
            .iter()
            .map(|e| (e.ai.as_str(), e.value.as_str()))
            .collect()
    }

    #[test]
    fn parse_raw_table() {
        // (input, fields or reason): proves fixed/variable lengths, GS handling and errors.
        let cases: &[(&str, Want)] = &[
            (
                "010950110153000317261231\u{1d}10AB12",
                Ok(&[("01", "09501101530003"), ("17", "261231"), ("10", "AB12")]),
            ),
            ("\u{1d}0109501101530003", Ok(&[("01", "09501101530003")])),
            (
                "010950110153000310LOT-7\u{1d}21SN0001\u{1d}17261200",
                Ok(&[
                    ("01", "09501101530003"),
                    ("10", "LOT-7"),
                    ("21", "SN0001"),
                    ("17", "261200"),
                ]),
            ),
            (
                "00106141411234567897\u{1d}3103000750\u{1d}400PO123\u{1d}",
                Ok(&[
                    ("00", "106141411234567897"),
                    ("3103", "000750"),
                    ("400", "PO123"),
                ]),
            ),
            (
                "0210614141000415371234\u{1d}240X1\u{1d}250Y\u{1d}30 7",
                Err("bad_char:30"),
            ),
            ("0109501101530004", Err("bad_check_digit:01")),
            ("01095011015300", Err("truncated:01")),
            ("0109501101530003171231", Err("truncated:17")),
            ("010950110153000317261331", Err("bad_date:17")),
            ("0109501101530003\u{1d}88XYZ", Err("unknown_ai:88XY")),
            ("0109501101530003", Ok(&[("01", "09501101530003")])),
            ("10ABCDEFGHIJKLMNOPQRSTU", Err("too_long:10")),
            ("10\u{1d}21X", Err("empty_value:10")),
            ("10A\u{1d}10B", Err("duplicate_ai:10")),
            ("\u{1d}", Err("no_elements")),
            ("10批次", Err("not_ascii")),
            ("1", Err("unknown_ai:1")),
        ];
        for (input, want) in cases {
            let got = parse_raw(input);
            match (got, want) {
                (Ok(es), Ok(w)) => assert_eq!(fields(&es), *w, "{input:?}"),
                (Err(e), Err(w)) => assert_eq!(e.reason(), *w, "{input:?}"),
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn parse_bracketed_table() {
        // (input, fields or reason): proves the human-readable form and its errors.
        let cases: &[(&str, Want)] = &[
            (
                "(01)09501101530003(17)261231(10)AB12",
                Ok(&[("01", "09501101530003"), ("17", "261231"), ("10", "AB12")]),
            ),
            (
                "(01)09501101530003(21)A(B)",
                Ok(&[("01", "09501101530003"), ("21", "A(B)")]),
            ),
            ("(3103)000750", Ok(&[("3103", "000750")])),
            ("(01)0950110153000", Err("truncated:01")),
            ("(01)095011015300031", Err("overlong:01")),
            ("(310)000750", Err("unknown_ai:310")),
            ("(01)09501101530003x(10)A", Err("overlong:01")),
            ("(10)", Err("empty_value:10")),
            ("01(10)A", Err("bad_bracket")),
        ];
        for (input, want) in cases {
            let got = parse_bracketed(input);
            match (got, want) {
                (Ok(es), Ok(w)) => assert_eq!(fields(&es), *w, "{input:?}"),
                (Err(e), Err(w)) => assert_eq!(e.reason(), *w, "{input:?}"),
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
