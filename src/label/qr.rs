//! What a QR element may carry and how big its symbol gets, without encoding it: the
//! printers encode QR codes natively (ZPL `^BQ`, TSPL `QRCODE`), the station only has to
//! keep the data safe and reserve enough room.
//!
//! **Safe data.** QR data is restricted to the bytes that need no escaping in either
//! printer language ([`is_safe_byte`]: letters, digits, space and `-.:/,()#+*`). The
//! codes we put in QR symbols (return ids, item labels, RTV notes, command codes) are
//! all of that form, so the ZPL field needs no `^FH` (whose interplay with `^BQ` is
//! not documented) and the TSPL string needs no quoting; anything else is
//! [`RenderError::UnsafeBarcodeChar`], never escaped into something else.
//!
//! **Size.** The printers pick the QR version themselves (automatic mode, error
//! correction M). [`symbol_modules`] is an upper bound of what they pick: the smallest
//! version whose capacity holds the data in alphanumeric mode (if every byte is in the
//! QR alphanumeric set) or byte mode. A mixed-mode encoder only ever needs less.

use super::model::RenderError;

/// Light modules required around the symbol (ISO/IEC 18004).
pub const QUIET_ZONE_MODULES: u32 = 4;

/// Longest data accepted (version 10-M in byte mode): a label holds nothing bigger.
pub const MAX_DATA_BYTES: usize = 213;

/// Capacity at error correction M, versions 1..=10, alphanumeric mode.
const ALNUM_M: [usize; 10] = [20, 38, 61, 90, 122, 154, 178, 221, 262, 311];
/// Capacity at error correction M, versions 1..=10, byte mode.
const BYTE_M: [usize; 10] = [14, 26, 42, 62, 84, 106, 122, 152, 180, 213];

/// Bytes a QR element may carry (the ZPL safe set: nothing to escape in any language).
pub fn is_safe_byte(b: u8) -> bool {
    super::model::is_literal_byte(b)
}

/// Whether `b` is in the QR alphanumeric set (`0-9 A-Z space $%*+-./:`).
fn is_alphanumeric(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_uppercase() || b" $%*+-./:".contains(&b)
}

/// Checks that `data` can be sent as QR data in any printer language.
///
/// # Errors
/// [`RenderError::UnsafeBarcodeChar`] for a byte outside [`is_safe_byte`];
/// [`RenderError::QrLength`] for empty or over-long data.
pub fn validate(data: &str, language: &'static str) -> Result<(), RenderError> {
    if let Some(ch) = data
        .chars()
        .find(|c| !c.is_ascii() || !is_safe_byte(*c as u8))
    {
        return Err(RenderError::UnsafeBarcodeChar {
            data: data.to_owned(),
            ch,
            language,
        });
    }
    if data.is_empty() || data.len() > MAX_DATA_BYTES {
        return Err(RenderError::QrLength {
            data: data.to_owned(),
            max: MAX_DATA_BYTES,
        });
    }
    Ok(())
}

/// Side of the symbol in modules (quiet zone excluded), an upper bound of what a
/// printer in automatic mode produces; `None` when the data is longer than version 10.
pub fn symbol_modules(data: &str) -> Option<u32> {
    let table = if data.bytes().all(is_alphanumeric) {
        &ALNUM_M
    } else {
        &BYTE_M
    };
    let version = table.iter().position(|&cap| data.len() <= cap)? + 1;
    u32::try_from(17 + 4 * version).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_capacity_tables() {
        assert_eq!(symbol_modules("R-ST01-20261125-0042"), Some(21));
        assert_eq!(symbol_modules("R-ST01-20261125-0042.1"), Some(25));
        assert_eq!(symbol_modules("r-st01-2026"), Some(21));
        assert_eq!(symbol_modules("r-st01-2026112"), Some(21));
        assert_eq!(symbol_modules("r-st01-20261125"), Some(25));
        assert_eq!(symbol_modules(&"A".repeat(311)), Some(57));
        assert_eq!(symbol_modules(&"A".repeat(312)), None);
    }

    #[test]
    fn only_safe_data_is_accepted() {
        assert!(validate("R-ST01-20261125-0042.1", "ZPL").is_ok());
        for bad in [
            "a^b", "a~b", "a_b", "a\"b", "a\\b", "a>b", "a|b", "张", "a\rb",
        ] {
            assert!(
                matches!(
                    validate(bad, "ZPL"),
                    Err(RenderError::UnsafeBarcodeChar { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            validate("", "TSPL"),
            Err(RenderError::QrLength { .. })
        ));
        assert!(validate(&"A".repeat(MAX_DATA_BYTES + 1), "TSPL").is_err());
    }
}
