//! The scan grammar: turns any byte string a barcode scanner sends into exactly one
//! [`ScanClass`] — a return label, item label, courier waybill, product barcode (plain
//! EAN/UPC or GS1 element string), zone label, command code, operator badge — or a
//! [`Rejection`] saying precisely why not. Pure and total: it never panics.
//!
//! Classification order (first that applies wins):
//! 1. the raw length is checked against `max_len`; trailing CR/LF/spaces and leading spaces
//!    are stripped; an AIM symbology prefix (`]C1`, `]E0`, …) is split off;
//! 2. empty, invalid UTF-8 and control characters (other than GS) are rejected;
//! 3. `CMD-…` commands, `OP-…` badges, `Z-…` zones, `R-….n` item labels, `R-…` return ids —
//!    a string with one of these prefixes that is malformed is rejected with the id error;
//! 4. GS1 element strings (GS1 AIM prefix, a GS anywhere, `(nn)` parenthesised form, or
//!    `01` + check-valid GTIN-14 and ≥ 16 chars);
//! 5. 8/12/13/14-digit numbers: valid GTINs are products, or `Ambiguous` when a courier
//!    pattern also matches; a bad check digit is a waybill if a courier matches, else
//!    `BadCheckDigit`. Under an EAN/UPC symbology (`]E…`) couriers are not considered;
//! 6. courier patterns; else `Unknown`.
//!
//! Offsets in rejections (`at`) are byte offsets into the raw input.

pub mod aim;
pub mod codes;
pub mod courier;
pub mod gs1;
pub mod text;

pub use aim::Symbology;
pub use codes::{CommandCode, ZoneScan};
pub use courier::{CourierPattern, GrammarError};

use crate::domain::ids::{Badge, Gtin, IdError, ItemRef, ReturnId, Waybill};

/// The default maximum raw scan length, in bytes.
pub const DEFAULT_MAX_LEN: usize = 4096;

/// One classified scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Printable form of the payload (after stripping line ends, spaces and the AIM
    /// prefix): control characters as `<GS>` etc., invalid bytes as `\xNN`, at most
    /// 200 characters.
    pub text: String,
    /// The AIM symbology identifier, when the scanner sent one.
    pub symbology: Option<Symbology>,
    /// What the scan is: the only thing the state machine decides on.
    pub class: ScanClass,
}

/// What a scan is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanClass {
    ReturnId(ReturnId),
    Item(ItemRef),
    Waybill {
        waybill: Waybill,
        courier: String,
    },
    Product(ProductCode),
    /// numeric code that is both a valid GTIN and matches a courier pattern: the caller resolves from context
    Ambiguous {
        waybill: Waybill,
        courier: String,
        product: ProductCode,
    },
    Zone(ZoneScan),
    Command(CommandCode),
    Badge(Badge),
    Unrecognised(Rejection),
}

impl ScanClass {
    /// Stable snake_case name of the class (`return_id`, `item`, `waybill`, `product`,
    /// `ambiguous`, `zone`, `command`, `badge`, `unrecognised`).
    pub fn kind(&self) -> &'static str {
        match self {
            ScanClass::ReturnId(_) => "return_id",
            ScanClass::Item(_) => "item",
            ScanClass::Waybill { .. } => "waybill",
            ScanClass::Product(_) => "product",
            ScanClass::Ambiguous { .. } => "ambiguous",
            ScanClass::Zone(_) => "zone",
            ScanClass::Command(_) => "command",
            ScanClass::Badge(_) => "badge",
            ScanClass::Unrecognised(_) => "unrecognised",
        }
    }
}

/// A product barcode as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductCode {
    /// The GTIN: the code itself for EAN/UPC, AI (01) for GS1 element strings.
    pub gtin: Option<Gtin>,
    /// The digits, or the GS1 element string as read (GS separators included).
    pub code: String,
    /// AI (10) batch/lot.
    pub batch: Option<String>,
    /// AI (17) expiry, YYMMDD.
    pub expiry: Option<String>,
    /// AI (21) serial number.
    pub serial: Option<String>,
}

impl ProductCode {
    /// A plain GTIN product code (no GS1 attributes); `code` is its display form.
    pub fn from_gtin(gtin: Gtin) -> ProductCode {
        ProductCode {
            code: gtin.display_form(),
            gtin: Some(gtin),
            batch: None,
            expiry: None,
            serial: None,
        }
    }

    fn from_gs1(code: &str, es: &gs1::ElementString) -> ProductCode {
        let owned = |ai: &str| es.get(ai).map(str::to_owned);
        ProductCode {
            gtin: es.get("01").and_then(|g| Gtin::parse(g).ok()),
            code: code.to_owned(),
            batch: owned("10"),
            expiry: owned("17"),
            serial: owned("21"),
        }
    }

    /// Does `barcode` (e.g. an order line's barcode) denote this product? GTIN equality
    /// when both are GTINs (`barcode` may be a plain EAN/UPC/GTIN-14 or a GS1 element
    /// string with (01)), else exact string equality with `code`.
    pub fn matches_barcode(&self, barcode: &str) -> bool {
        let barcode = barcode.trim();
        if let (Some(mine), Some(theirs)) = (&self.gtin, gtin_of(barcode)) {
            return *mine == theirs;
        }
        self.code == barcode
    }
}

/// The GTIN a barcode string denotes, if any: a plain GTIN or a GS1 string's (01).
fn gtin_of(barcode: &str) -> Option<Gtin> {
    if let Ok(g) = Gtin::parse(barcode) {
        return Some(g);
    }
    let es = if gs1::starts_with_bracketed_ai(barcode) {
        gs1::parse_bracketed(barcode).ok()?
    } else if barcode.contains(gs1::GS) || looks_like_bare_gs1(barcode) {
        gs1::parse_raw(barcode).ok()?
    } else {
        return None;
    };
    es.get("01").and_then(|g| Gtin::parse(g).ok())
}

/// Why a scan was not recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Nothing left after stripping line ends, spaces and the AIM prefix.
    Empty,
    /// The raw scan (before stripping) is longer than the grammar's `max_len` bytes.
    TooLong { len: usize, max: usize },
    /// Not UTF-8; `at` is the byte offset of the first bad byte in the raw scan.
    InvalidUtf8 { at: usize },
    /// A control character other than GS; `byte` is its code point (C0, DEL or C1),
    /// `at` its byte offset in the raw scan.
    ControlChar { byte: u8, at: usize },
    /// A GTIN-length number (or GS1 00/01/02 field) with a wrong mod-10 check digit.
    BadCheckDigit {
        code: String,
        expected: u8,
        found: u8,
    },
    /// A malformed GS1 element string; `reason` is a machine token such as
    /// `unknown_ai:99` or `truncated:17` (see [`gs1::Gs1Error::reason`]).
    BadGs1 { reason: String },
    /// Starts like a return id, item label, badge, zone or command, but is malformed.
    BadId(IdError),
    /// Matches nothing.
    Unknown,
}

impl Rejection {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Empty => "scan.empty",
            Rejection::TooLong { .. } => "scan.too_long",
            Rejection::InvalidUtf8 { .. } => "scan.invalid_utf8",
            Rejection::ControlChar { .. } => "scan.control_char",
            Rejection::BadCheckDigit { .. } => "scan.bad_check_digit",
            Rejection::BadGs1 { .. } => "scan.bad_gs1",
            Rejection::BadId(_) => "scan.bad_id",
            Rejection::Unknown => "scan.unknown",
        }
    }
}

impl From<gs1::Gs1Error> for Rejection {
    fn from(e: gs1::Gs1Error) -> Rejection {
        match e {
            gs1::Gs1Error::BadCheckDigit {
                value,
                expected,
                found,
                ..
            } => Rejection::BadCheckDigit {
                code: value,
                expected,
                found,
            },
            other => Rejection::BadGs1 {
                reason: other.reason(),
            },
        }
    }
}

/// The compiled scan grammar.
#[derive(Debug, Clone)]
pub struct ScanGrammar {
    /// Waybill shapes, compiled once, tried in order: the first match names the courier.
    couriers: Vec<courier::Courier>,
    /// The longest raw scan accepted, in bytes: a runaway scanner cannot flood the station.
    max_len: usize,
}

impl ScanGrammar {
    /// Compiles the courier patterns (anchored, case-insensitive). `max_len` is the longest
    /// raw scan accepted, in bytes (≥ 1; [`DEFAULT_MAX_LEN`] is a sensible value).
    pub fn new(couriers: &[CourierPattern], max_len: usize) -> Result<ScanGrammar, GrammarError> {
        if max_len == 0 {
            return Err(GrammarError::ZeroMaxLen);
        }
        Ok(ScanGrammar {
            couriers: courier::compile(couriers)?,
            max_len,
        })
    }

    /// SF, YTO, ZTO, STO, Yunda, JD, EMS — see [`courier::default_couriers`].
    pub fn default_couriers() -> Vec<CourierPattern> {
        courier::default_couriers()
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The configured courier names, in match order.
    pub fn courier_names(&self) -> impl Iterator<Item = &str> {
        self.couriers.iter().map(|c| c.name.as_str())
    }

    /// The first courier whose pattern matches `s`, with `s` as a waybill.
    pub fn match_courier(&self, s: &str) -> Option<(Waybill, &str)> {
        let waybill = Waybill::parse(s).ok()?;
        let courier = self
            .couriers
            .iter()
            .find(|c| c.regex.is_match(waybill.as_str()))?;
        Some((waybill, courier.name.as_str()))
    }

    /// Classifies one raw scan. Total: every input yields a `Scan`.
    pub fn classify(&self, raw: &[u8]) -> Scan {
        let (start, trimmed) = trim(raw);
        let (symbology, payload) = Symbology::split_prefix(trimmed);
        let payload_at = start + (trimmed.len() - payload.len());
        let class = self.classify_payload(raw.len(), payload, payload_at, symbology);
        Scan {
            text: text::printable(payload),
            symbology,
            class,
        }
    }

    fn classify_payload(
        &self,
        raw_len: usize,
        payload: &[u8],
        payload_at: usize,
        symbology: Option<Symbology>,
    ) -> ScanClass {
        let reject = ScanClass::Unrecognised;
        if raw_len > self.max_len {
            return reject(Rejection::TooLong {
                len: raw_len,
                max: self.max_len,
            });
        }
        if payload.is_empty() {
            return reject(Rejection::Empty);
        }
        let s = match std::str::from_utf8(payload) {
            Ok(s) => s,
            Err(e) => {
                return reject(Rejection::InvalidUtf8 {
                    at: payload_at + e.valid_up_to(),
                });
            }
        };
        if let Some((i, c)) = s
            .char_indices()
            .find(|&(_, c)| c.is_control() && c != gs1::GS)
        {
            return reject(Rejection::ControlChar {
                byte: u8::try_from(u32::from(c)).unwrap_or(u8::MAX),
                at: payload_at + i,
            });
        }
        self.classify_text(s, symbology)
    }

    fn classify_text(&self, s: &str, symbology: Option<Symbology>) -> ScanClass {
        let bad_id = |e: IdError| ScanClass::Unrecognised(Rejection::BadId(e));
        if has_prefix_ignore_case(s, CommandCode::PREFIX) {
            return match CommandCode::parse(s) {
                Some(c) => ScanClass::Command(c),
                None => bad_id(IdError::UnknownCode {
                    text: s.to_ascii_uppercase(),
                }),
            };
        }
        if s.starts_with(Badge::PREFIX) {
            return Badge::from_scan(s).map_or_else(bad_id, ScanClass::Badge);
        }
        if has_prefix_ignore_case(s, ZoneScan::PREFIX) {
            return ZoneScan::parse(s).map_or_else(bad_id, ScanClass::Zone);
        }
        if s.starts_with(ReturnId::PREFIX) {
            return if s.contains('.') {
                ItemRef::parse(s).map_or_else(bad_id, ScanClass::Item)
            } else {
                ReturnId::parse(s).map_or_else(bad_id, ScanClass::ReturnId)
            };
        }
        if let Some(gs1) = classify_gs1(s, symbology) {
            return gs1;
        }
        let product_only = symbology.is_some_and(Symbology::is_ean_upc);
        let courier = || {
            if product_only {
                None
            } else {
                self.match_courier(s)
            }
        };
        if s.bytes().all(|b| b.is_ascii_digit()) && Gtin::LENGTHS.contains(&s.len()) {
            return match (Gtin::parse(s), courier()) {
                (Ok(gtin), None) => ScanClass::Product(ProductCode::from_gtin(gtin)),
                (Ok(gtin), Some((waybill, courier))) => ScanClass::Ambiguous {
                    waybill,
                    courier: courier.to_owned(),
                    product: ProductCode::from_gtin(gtin),
                },
                (Err(_), Some((waybill, courier))) => ScanClass::Waybill {
                    waybill,
                    courier: courier.to_owned(),
                },
                (Err(IdError::BadCheckDigit { expected, found }), None) => {
                    ScanClass::Unrecognised(Rejection::BadCheckDigit {
                        code: s.to_owned(),
                        expected,
                        found,
                    })
                }
                (Err(e), None) => bad_id(e),
            };
        }
        match courier() {
            Some((waybill, courier)) => ScanClass::Waybill {
                waybill,
                courier: courier.to_owned(),
            },
            None => ScanClass::Unrecognised(Rejection::Unknown),
        }
    }
}

/// GS1 element strings, when `s` looks like one (see the module doc); `None` otherwise.
fn classify_gs1(s: &str, symbology: Option<Symbology>) -> Option<ScanClass> {
    let parsed = if gs1::starts_with_bracketed_ai(s) {
        gs1::parse_bracketed(s)
    } else if symbology.is_some_and(Symbology::is_gs1)
        || s.contains(gs1::GS)
        || looks_like_bare_gs1(s)
    {
        gs1::parse_raw(s)
    } else {
        return None;
    };
    Some(match parsed {
        Ok(es) => ScanClass::Product(ProductCode::from_gs1(s, &es)),
        Err(e) => ScanClass::Unrecognised(e.into()),
    })
}

/// `01` + a check-valid GTIN-14, at least 16 characters: a GS1 string sent without AIM prefix.
fn looks_like_bare_gs1(s: &str) -> bool {
    s.len() >= 16 && s.starts_with("01") && s.get(2..16).is_some_and(|g| Gtin::parse(g).is_ok())
}

fn has_prefix_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Strips trailing CR/LF/space (any mix) and leading spaces; returns the start offset too.
fn trim(raw: &[u8]) -> (usize, &[u8]) {
    let end = raw
        .iter()
        .rposition(|b| !matches!(b, b'\r' | b'\n' | b' '))
        .map_or(0, |p| p + 1);
    let body = &raw[..end];
    let start = body.iter().position(|&b| b != b' ').unwrap_or(end);
    (start, &body[start..])
}

#[cfg(test)]
mod tests;
