//! A printer-language-independent label model, rendered to ZPL II by
//! [`super::zpl::render`] and to TSPL by [`super::tspl::render`].
//!
//! All coordinates and sizes are in printer dots at the label's `dpi`, origin at the
//! top-left corner. A [`Label`] only describes *what* goes where; escaping of user
//! data, the choice between printer fonts and host-rasterised bitmaps (for Chinese
//! text) and all validation happen in the renderers, which report problems as
//! [`RenderError`].
//!
//! The layouts themselves live in label templates ([`super::template`]);
//! [`Label::return_label`] fills the built-in return label.

use thiserror::Error;

use super::bitmap::{Bitmap, BitmapError};
use super::code128::{Code128Error, Plan};
use super::text::{Font, FontError};

/// One thing printed on a label. Units are dots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// One line of text; `(x, y)` is the top-left of the line box and `size` its
    /// height. Text with non-ASCII characters is rasterised on the host.
    Text {
        /// Left edge.
        x: u32,
        /// Top edge.
        y: u32,
        /// Line height.
        size: u32,
        /// The text (any Unicode; control characters print as spaces).
        text: String,
    },
    /// A Code 128 barcode without human-readable line; `(x, y)` is the top-left of
    /// the first bar, quiet zones must be left around it by the layout.
    Barcode128 {
        /// Left edge of the first bar.
        x: u32,
        /// Top edge of the bars.
        y: u32,
        /// Bar height.
        height: u32,
        /// Narrow bar (module) width.
        module: u32,
        /// The data, printable ASCII only.
        data: String,
    },
    /// A QR code (model 2, error correction M); `(x, y)` is the top-left of the first
    /// module. The layout must leave a quiet zone of
    /// [`QR_QUIET_ZONE_MODULES`](super::qr::QUIET_ZONE_MODULES) modules around it.
    Qr {
        /// Left edge of the symbol.
        x: u32,
        /// Top edge of the symbol.
        y: u32,
        /// Module (cell) size in dots, 1..=10.
        module: u32,
        /// The data: only bytes in [`super::qr::is_safe_byte`] (letters, digits,
        /// space and `-.:/,()#+*`), so no printer language needs to escape it.
        data: String,
    },
    /// A rectangle outline.
    Box {
        /// Left edge.
        x: u32,
        /// Top edge.
        y: u32,
        /// Outer width.
        w: u32,
        /// Outer height.
        h: u32,
        /// Line thickness.
        thickness: u32,
    },
}

/// A label: physical size, resolution and elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Label width in millimetres.
    pub width_mm: u32,
    /// Label height in millimetres.
    pub height_mm: u32,
    /// Print resolution, dots per inch (203 or 300 on the bench printers).
    pub dpi: u32,
    /// What is printed, in drawing order.
    pub elements: Vec<Element>,
}

/// Why a label cannot be rendered to a printer language.
#[derive(Debug, Error)]
pub enum RenderError {
    /// Text with non-ASCII characters needs a font to be rasterised. The messages here
    /// give a text's length, never the text: it may be a customer's name, and they reach
    /// the log and the print queue.
    #[error(
        "a text of {} characters contains non-ASCII characters and must be rendered as a \
         bitmap, but no font was given: load one with Font::load_default() \
         (fonts-wqy-microhei)",
        text.chars().count()
    )]
    FontRequired {
        /// The text.
        text: String,
    },
    /// The font cannot render the text.
    #[error("cannot render a text of {} characters: {source}", text.chars().count())]
    Text {
        /// The text.
        text: String,
        /// The font's error.
        #[source]
        source: FontError,
    },
    /// Barcode data is not encodable (empty, too long, outside printable ASCII).
    #[error("cannot print {data:?} as a Code 128 barcode: {source}")]
    Barcode {
        /// The data.
        data: String,
        /// The encoder's error.
        #[source]
        source: Code128Error,
    },
    /// Barcode data contains a character the printer language cannot carry safely.
    #[error(
        "barcode data {data:?} contains {ch:?}, which cannot be sent safely in {language}: \
         remove it"
    )]
    UnsafeBarcodeChar {
        /// The data.
        data: String,
        /// The character.
        ch: char,
        /// "ZPL" or "TSPL".
        language: &'static str,
    },
    /// QR data is empty or too long for the symbol sizes a label holds.
    #[error("cannot print {data:?} as a QR code: it must be 1..={max} characters long")]
    QrLength {
        /// The data.
        data: String,
        /// Longest data accepted.
        max: usize,
    },
    /// A number is outside what the printer language accepts.
    #[error("{what} = {value} is out of range {min}..={max}")]
    OutOfRange {
        /// Which parameter.
        what: &'static str,
        /// The value.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// Creating the text bitmap failed.
    #[error(transparent)]
    Bitmap(#[from] BitmapError),
}

/// Checks `min <= value <= max`.
pub(crate) fn check_range(
    what: &'static str,
    value: u64,
    min: u64,
    max: u64,
) -> Result<(), RenderError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(RenderError::OutOfRange {
            what,
            value,
            min,
            max,
        })
    }
}

/// A single printable line: control characters (CR, LF, tab, …) become spaces so a
/// text element can never span lines or carry line-oriented commands.
pub(crate) fn single_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Converts tenths of a millimetre to dots at `dpi`, rounded to nearest.
fn dots(tenth_mm: u32, dpi: u32) -> u32 {
    dots_um(tenth_mm.saturating_mul(100), dpi)
}

/// Converts micrometres to dots at `dpi`, rounded to nearest.
pub(crate) fn dots_um(um: u32, dpi: u32) -> u32 {
    let v = (u64::from(um) * u64::from(dpi) + 12_700) / 25_400;
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Label {
    /// Label width in dots.
    pub fn width_dots(&self) -> u32 {
        dots(self.width_mm * 10, self.dpi)
    }

    /// Label height in dots.
    pub fn height_dots(&self) -> u32 {
        dots(self.height_mm * 10, self.dpi)
    }
}

/// Largest coordinate or size in dots either language takes (ZPL's limit in `^FO`, `^GB`,
/// `^BC`, `^A`; generous for TSPL, which documents none).
pub const MAX_DOTS: u64 = 32_000;

/// A position on the label within [`MAX_DOTS`].
pub(crate) fn check_pos(x: u32, y: u32) -> Result<(), RenderError> {
    check_range("x", x.into(), 0, MAX_DOTS)?;
    check_range("y", y.into(), 0, MAX_DOTS)
}

/// Bytes Code 128 data on a label may hold: printable ASCII except `^ ~ > ! " \`, the
/// bytes a printer language reads as a command or an escape inside barcode data (ZPL's
/// command prefixes and the `^BC` invocation prefix `>`; TSPL's quote, its escape and
/// the `128M` control prefix `!`). They are refused, never escaped.
pub fn is_barcode_byte(b: u8) -> bool {
    (b' '..=b'~').contains(&b) && !b"^~>!\"\\".contains(&b)
}

/// What both renderers check of a Code 128 element before writing it: its place and
/// height, a module of at least [`min_module_dots`](super::code128::min_module_dots) at
/// `dpi` (a narrower bar does not scan: never printed), data of [`is_barcode_byte`]s;
/// and the plan the command spells out, the same one the layout sized the element by.
pub(crate) fn check_barcode128(
    x: u32,
    y: u32,
    height: u32,
    module: u32,
    data: &str,
    dpi: u32,
) -> Result<Plan, RenderError> {
    check_pos(x, y)?;
    check_range("barcode height", height.into(), 1, MAX_DOTS)?;
    let min = super::code128::min_module_dots(dpi);
    check_range("barcode module (dots)", module.into(), min.into(), 20)?;
    let plan = Plan::new(data).map_err(|source| RenderError::Barcode {
        data: data.to_owned(),
        source,
    })?;
    if let Some(b) = data.bytes().find(|&b| !is_barcode_byte(b)) {
        return Err(RenderError::UnsafeBarcodeChar {
            data: data.to_owned(),
            ch: char::from(b),
            language: "a label printer's barcode",
        });
    }
    Ok(plan)
}

/// Bytes every printer language here takes literally (ZPL inside `^FH_` fields, TSPL
/// inside quotes, QR data); everything else is escaped or refused.
pub fn is_literal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" -.:/,()#+*".contains(&b)
}

/// Rasterises one line of `text` with `font` at `px` dots line height (text the printer's
/// own fonts cannot draw, such as Chinese, is sent as a bitmap).
pub(crate) fn rasterise(font: &Font, text: &str, px: u32) -> Result<Bitmap, RenderError> {
    let err = |source| RenderError::Text {
        text: text.to_owned(),
        source,
    };
    let m = font.measure(text, px as f32).map_err(err)?;
    let mut bmp = Bitmap::new(m.width.max(1), m.height.max(1))?;
    font.draw_text(&mut bmp, 0, 0, px as f32, text)
        .map_err(err)?;
    Ok(bmp)
}

/// A label printer language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// ZPL II (Zebra and compatibles).
    Zpl,
    /// TSPL/TSPL2 (TSC, Gprinter, HPRT, Xprinter).
    Tspl,
}

impl Language {
    /// `"zpl"` or `"tspl"` (the config's `printer.language`), case-insensitive.
    pub fn parse(name: &str) -> Option<Language> {
        match name.to_ascii_lowercase().as_str() {
            "zpl" => Some(Language::Zpl),
            "tspl" => Some(Language::Tspl),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(dots(254, 203), 203);
        assert_eq!(dots_um(250, 203), 2);
        assert_eq!(dots_um(250, 300), 3);
        assert_eq!(single_line("a\r\nb\tc"), "a  b c");
        assert!(check_range("x", 5, 1, 4).is_err());
        assert!(check_range("x", 4, 1, 4).is_ok());
        assert_eq!(Language::parse("TSPL"), Some(Language::Tspl));
        assert_eq!(Language::parse("epl"), None);
    }
}
