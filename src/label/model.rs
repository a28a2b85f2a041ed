//! A printer-language-independent label model, rendered to ZPL II by
//! [`super::zpl::render`] and to TSPL by [`super::tspl::render`].
//!
//! All coordinates and sizes are in printer dots at the label's `dpi`, origin at the
//! top-left corner. A [`Label`] only describes *what* goes where; escaping of user
//! data, the choice between printer fonts and host-rasterised bitmaps (for Chinese
//! text) and all validation happen in the renderers, which report problems as
//! [`RenderError`].
//!
//! [`Label::return_label`] builds the 60 × 40 mm return label stuck on every parcel
//! at the bench.

use thiserror::Error;

use super::bitmap::BitmapError;
use super::code128::{self, Code128Error, QUIET_ZONE_MODULES};
use super::text::FontError;

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
    /// Text with non-ASCII characters needs a font to be rasterised.
    #[error(
        "text {text:?} contains non-ASCII characters and must be rendered as a bitmap, but no \
         font was given: load one with Font::load_default() (fonts-wqy-microhei)"
    )]
    FontRequired {
        /// The text.
        text: String,
    },
    /// The font cannot render the text.
    #[error("cannot render text {text:?}: {source}")]
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
    let v = (u64::from(tenth_mm) * u64::from(dpi) + 127) / 254;
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Label {
    /// Return label width in millimetres.
    pub const RETURN_WIDTH_MM: u32 = 60;
    /// Return label height in millimetres.
    pub const RETURN_HEIGHT_MM: u32 = 40;

    /// Label width in dots.
    pub fn width_dots(&self) -> u32 {
        dots(self.width_mm * 10, self.dpi)
    }

    /// Label height in dots.
    pub fn height_dots(&self) -> u32 {
        dots(self.height_mm * 10, self.dpi)
    }

    /// The 60 × 40 mm return label: a border, the return kind (e.g. "退货 Return")
    /// as title, a Code 128 barcode of `return_id` with the id in plain text under
    /// it, then the customer name, `Order <order_no>` and `<date>  <station>`.
    ///
    /// Nothing is validated here (the renderers do): a `return_id` that is not
    /// printable ASCII makes rendering fail. The module width is the largest of
    /// 3, 2, 1 dots (3 only from 300 dpi) that keeps the barcode and its quiet zones
    /// inside the label.
    pub fn return_label(
        return_id: &str,
        customer_name: &str,
        order_no: &str,
        kind_zh_en: &str,
        date: &str,
        station: &str,
        dpi: u32,
    ) -> Label {
        let d = |tenth_mm: u32| dots(tenth_mm, dpi);
        let width = dots(Self::RETURN_WIDTH_MM * 10, dpi);
        let margin = d(20);
        let pattern_modules = code128::encode(return_id)
            .map(|p| code128::width_in_modules(&p))
            .unwrap_or(0);
        let max_module = if dpi >= 300 { 3 } else { 2 };
        let module = (1..=max_module)
            .rev()
            .find(|m| {
                let total = u64::from(pattern_modules + 2 * QUIET_ZONE_MODULES) * u64::from(*m);
                total <= u64::from(width.saturating_sub(2 * d(10)))
            })
            .unwrap_or(1);
        let barcode_w = pattern_modules * module;
        let barcode_x = width.saturating_sub(barcode_w) / 2;
        let text = |y: u32, size: u32, text: String| Element::Text {
            x: margin,
            y: d(y),
            size: d(size),
            text,
        };
        Label {
            width_mm: Self::RETURN_WIDTH_MM,
            height_mm: Self::RETURN_HEIGHT_MM,
            dpi,
            elements: vec![
                Element::Box {
                    x: d(10),
                    y: d(10),
                    w: width.saturating_sub(2 * d(10)),
                    h: dots(Self::RETURN_HEIGHT_MM * 10, dpi).saturating_sub(2 * d(10)),
                    thickness: d(3).max(2),
                },
                text(20, 40, kind_zh_en.to_owned()),
                Element::Barcode128 {
                    x: barcode_x,
                    y: d(70),
                    height: d(100),
                    module,
                    data: return_id.to_owned(),
                },
                text(180, 30, return_id.to_owned()),
                text(225, 40, customer_name.to_owned()),
                text(280, 30, format!("Order {order_no}")),
                text(325, 30, format!("{date}  {station}")),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dpi: u32) -> Label {
        Label::return_label(
            "R-20250101-0001",
            "张三",
            "SO123456",
            "退货 Return",
            "2025-01-01",
            "BENCH-3",
            dpi,
        )
    }

    #[test]
    fn return_label_dimensions_and_elements() {
        let l = sample(203);
        assert_eq!((l.width_mm, l.height_mm, l.dpi), (60, 40, 203));
        assert_eq!((l.width_dots(), l.height_dots()), (480, 320));
        assert_eq!(l.elements.len(), 7);
        let texts: Vec<&str> = l
            .elements
            .iter()
            .filter_map(|e| match e {
                Element::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            texts,
            [
                "退货 Return",
                "R-20250101-0001",
                "张三",
                "Order SO123456",
                "2025-01-01  BENCH-3"
            ]
        );
    }

    #[test]
    fn elements_stay_inside_the_label_and_barcode_has_quiet_zones() {
        for dpi in [203, 300] {
            let l = sample(dpi);
            let (w, h) = (l.width_dots(), l.height_dots());
            for e in &l.elements {
                match e {
                    Element::Text { x, y, size, .. } => {
                        assert!(*x < w && y + size <= h, "{e:?} at {dpi}");
                    }
                    Element::Box {
                        x, y, w: bw, h: bh, ..
                    } => assert!(x + bw <= w && y + bh <= h),
                    Element::Barcode128 {
                        x,
                        y,
                        height,
                        module,
                        data,
                    } => {
                        let p = code128::encode(data).unwrap();
                        let bw = code128::width_in_modules(&p) * module;
                        let quiet = QUIET_ZONE_MODULES * module;
                        assert!(*x >= quiet && x + bw + quiet <= w, "barcode at {dpi}");
                        assert!(y + height <= h);
                        assert_eq!(*module, if dpi >= 300 { 3 } else { 2 });
                    }
                }
            }
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(dots(254, 203), 203);
        assert_eq!(single_line("a\r\nb\tc"), "a  b c");
        assert!(check_range("x", 5, 1, 4).is_err());
        assert!(check_range("x", 4, 1, 4).is_ok());
    }
}

/// Shared test fixtures of the label renderers.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::sync::OnceLock;

    use super::Label;
    use crate::label::text::Font;

    /// A customer name that tries every way out of a field: ZPL commands, a TSPL quote, a
    /// line break and a second print command.
    pub const INJECTION: &str = "^XA~JR^FDx^FS~PS\\\"\r\nPRINT 9";

    pub fn font() -> &'static Font {
        static FONT: OnceLock<Font> = OnceLock::new();
        FONT.get_or_init(|| Font::load_default().expect("CJK font (fonts-wqy-microhei)"))
    }

    pub fn label(name: &str) -> Label {
        Label::return_label(
            "R-20250101-0001",
            name,
            "SO123456",
            "退货 Return",
            "2025-01-01",
            "BENCH-3",
            203,
        )
    }
}
