//! Renders a [`Label`] to ZPL II (Zebra and compatibles).
//!
//! Injection safety (see `devices.md` §2.4): `^` and `~` are command prefixes even
//! inside field data and `~` commands act immediately, so user text is never
//! interpolated raw. Every text field is sent as `^FH_^FD…^FS` and every byte outside
//! [`is_safe_byte`] (ASCII letters, digits, space and `-.:/,()#+*`) is hex-escaped as
//! `_XX`; that covers `^`, `~`, `_`, `\`, `>`, control bytes and all non-ASCII. Control
//! characters are first turned into spaces (one line per text element).
//!
//! Text containing non-ASCII characters (Chinese) is not sent as text at all: it is
//! rasterised on the host with the given CJK [`Font`] and sent as `^GFA` ASCII hex
//! (works on every ZPL printer, needs no printer font). Without a font that is
//! [`RenderError::FontRequired`].
//!
//! Code 128 uses `^BY<module>^BCN,<height>,N,N,N` (mode N) with the encoder's
//! [`Plan`] spelled out in invocation codes ([`spell_code128`]), so the printer draws
//! exactly the symbols the layout was sized for (without them it would draw subset B
//! throughout, wider than planned). Barcode data is limited to
//! [`super::model::is_barcode_byte`] (no `^`, `~`, `>`): nothing in it needs `^FH`.
//!
//! QR codes use `^BQN,2,<module>` with `^FDMA,<data>^FS` (error correction M,
//! automatic mode). The data is restricted to bytes that need no escaping
//! ([`super::qr::validate`]), so there is no `^FH` on QR fields. A Zebra printer
//! draws a `^BQ` symbol [`QR_TOP_OFFSET`] dots below its `^FO` (the `^BY` bar height,
//! default 10; Labelary and labelize do the same), so the `^FO` is raised by that much.

use std::fmt::Write as _;

use super::code128::{CodeSet, Plan, Step};
use super::model::{
    Element, Label, RenderError, check_barcode128, check_pos, check_range, rasterise, single_line,
};
use super::qr;
use super::text::Font;

/// Largest `^FD` field, in bytes after escaping (ZPL II guide, `^FD`).
pub const MAX_FIELD_BYTES: usize = 3072;
/// Largest `^GFA` byte count (ZPL II guide, `^GF`).
pub const MAX_GRAPHIC_BYTES: usize = 99_999;
/// Largest coordinate / size ZPL accepts in `^FO`, `^GB`, `^BC`, `^A`.
pub use super::model::MAX_DOTS;

/// How far below its `^FO` a `^BQ` symbol starts: the default `^BY` height, which we
/// never change (`^BY` is only ever sent with its module width).
pub const QR_TOP_OFFSET: u32 = 10;

/// Bytes sent literally inside `^FH_` fields; everything else becomes `_XX`.
pub use super::model::is_literal_byte as is_safe_byte;

/// The `^BC` mode N field data of `plan`: its start code and code-set switches as
/// invocation codes (`>:` start B, `>;` start C, `>5` CODE C, `>6` CODE B, `>8` FNC1),
/// set B characters as themselves, set C pairs as two digits. The data holds no `>`
/// (checked: [`super::model::is_barcode_byte`]), so no other invocation can appear.
pub fn spell_code128(plan: &Plan) -> String {
    let mut out = String::new();
    for step in plan.steps() {
        match step {
            Step::Start(CodeSet::B) => out.push_str(">:"),
            Step::Start(CodeSet::C) => out.push_str(">;"),
            Step::Switch(CodeSet::C) => out.push_str(">5"),
            Step::Switch(CodeSet::B) => out.push_str(">6"),
            Step::Fnc1 => out.push_str(">8"),
            Step::Char(b) => out.push(char::from(b)),
            Step::Pair(v) => {
                let _ = write!(out, "{v:02}");
            }
        }
    }
    out
}

/// `^FH_^FD<escaped>^FS` for `value`.
fn field(value: &str) -> Result<String, RenderError> {
    let mut data = String::with_capacity(value.len() * 3);
    for &b in value.as_bytes() {
        if is_safe_byte(b) {
            data.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(data, "_{b:02X}");
        }
    }
    check_range(
        "ZPL field bytes",
        data.len() as u64,
        0,
        MAX_FIELD_BYTES as u64,
    )?;
    Ok(format!("^FH_^FD{data}^FS"))
}

/// Renders `label` as one ZPL II format, `^XA` … `^XZ`.
///
/// # Errors
/// [`RenderError::FontRequired`] for non-ASCII text without `font`;
/// [`RenderError::Text`] if the font cannot render it; [`RenderError::Barcode`] for
/// barcode data that is not printable ASCII (or empty / too long);
/// [`RenderError::OutOfRange`] for coordinates, sizes or fields beyond ZPL limits.
pub fn render(label: &Label, font: Option<&Font>) -> Result<Vec<u8>, RenderError> {
    let mut out = String::from("^XA\n^CI28\n");
    let _ = writeln!(
        out,
        "^PW{}\n^LL{}\n^LH0,0",
        label.width_dots(),
        label.height_dots()
    );
    for element in &label.elements {
        match element {
            Element::Text { x, y, size, text } => {
                check_pos(*x, *y)?;
                let text = single_line(text);
                if text.trim().is_empty() {
                    continue;
                }
                if text.is_ascii() {
                    check_range("text size", (*size).into(), 10, MAX_DOTS)?;
                    let _ = writeln!(out, "^FO{x},{y}^A0N,{size},{size}{}", field(&text)?);
                } else {
                    let font =
                        font.ok_or_else(|| RenderError::FontRequired { text: text.clone() })?;
                    let bmp = rasterise(font, &text, *size)?;
                    check_range(
                        "^GFA bytes",
                        bmp.as_bytes().len() as u64,
                        1,
                        MAX_GRAPHIC_BYTES as u64,
                    )?;
                    let _ = writeln!(out, "^FO{x},{y}{}^FS", bmp.to_zpl_gfa());
                }
            }
            Element::Barcode128 {
                x,
                y,
                height,
                module,
                data,
            } => {
                let plan = check_barcode128(*x, *y, *height, *module, data, label.dpi)?;
                let _ = writeln!(
                    out,
                    "^FO{x},{y}^BY{module}^BCN,{height},N,N,N^FD{}^FS",
                    spell_code128(&plan)
                );
            }
            Element::Qr { x, y, module, data } => {
                check_pos(*x, *y)?;
                check_range(
                    "QR top (needs room for the ^BQ offset)",
                    (*y).into(),
                    QR_TOP_OFFSET.into(),
                    MAX_DOTS,
                )?;
                check_range("QR module", (*module).into(), 1, 10)?;
                qr::validate(data, "ZPL")?;
                let fo_y = y - QR_TOP_OFFSET;
                let _ = writeln!(out, "^FO{x},{fo_y}^BQN,2,{module}^FDMA,{data}^FS");
            }
            Element::Box {
                x,
                y,
                w,
                h,
                thickness,
            } => {
                check_pos(*x, *y)?;
                check_range("box thickness", (*thickness).into(), 1, MAX_DOTS)?;
                check_range("box width", (*w).into(), (*thickness).into(), MAX_DOTS)?;
                check_range("box height", (*h).into(), (*thickness).into(), MAX_DOTS)?;
                let _ = writeln!(out, "^FO{x},{y}^GB{w},{h},{thickness}^FS");
            }
        }
    }
    out.push_str("^XZ\n");
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    use crate::label::fixtures::{INJECTION, font, label};

    fn render_str(l: &Label) -> String {
        String::from_utf8(render(l, Some(font())).unwrap()).unwrap()
    }

    /// The invariants every rendered label must keep, whatever the user data: one
    /// format, no `~` command, `fields` hex-escaped fields, and QR fields (`^BQ`, not
    /// escaped) carrying only safe bytes after their `MA,` header.
    fn assert_safe(zpl: &str, fields: usize) {
        assert!(zpl.starts_with("^XA\n"), "{zpl}");
        assert!(zpl.ends_with("^XZ\n"), "{zpl}");
        assert_eq!(zpl.matches("^XA").count(), 1, "{zpl}");
        assert_eq!(zpl.matches("^XZ").count(), 1, "{zpl}");
        assert!(!zpl.contains('~'), "{zpl}");
        assert!(zpl.is_ascii());
        let qrs = zpl.matches("^BQN,2,").count();
        let barcodes = zpl.matches("^BCN,").count();
        assert_eq!(zpl.matches("^FD").count(), fields + qrs, "{zpl}");
        assert_eq!(zpl.matches("^FH_^FD").count(), fields - barcodes, "{zpl}");
        for line in zpl.lines() {
            assert!(line.starts_with('^'), "{line:?}");
            if let Some((_, rest)) = line.split_once("^BCN,") {
                // Mode N, the plan spelled in invocation codes, no escapes, one field.
                let (_, data) = rest.split_once(",N,N,N^FD").expect("^BC header");
                let data = data.strip_suffix("^FS").expect("barcode field end");
                assert!(!data.contains('^') && !data.contains('~'), "{line:?}");
                assert!(data.starts_with(">:") || data.starts_with(">;"), "{line:?}");
            }
            if let Some((_, rest)) = line.split_once("^BQN,2,") {
                let (_, data) = rest.split_once("^FDMA,").expect("QR header");
                let data = data.strip_suffix("^FS").expect("QR field end");
                assert!(data.bytes().all(qr::is_safe_byte), "{line:?}");
            }
        }
    }

    #[test]
    fn structure_of_return_label() {
        let zpl = render_str(&label("Li Lei"));
        let lines: Vec<&str> = zpl.lines().collect();
        assert_eq!(
            &lines[..6],
            [
                "^XA",
                "^CI28",
                "^PW799",
                "^LL400",
                "^LH0,0",
                "^FO8,8^GB783,384,2^FS"
            ]
        );
        assert!(lines[6].starts_with("^FO16,16^GFA,"), "{}", lines[6]);
        assert_eq!(
            &lines[7..],
            [
                // Start B, CODE C before 20250101, CODE B before "-", CODE C before 0001:
                // the plan the layout measured, at 2 dots (0.25 mm) per module.
                "^FO232,52^BY2^BCN,96,N,N,N^FD>:R->520250101>6->50001^FS",
                "^FO16,156^A0N,24,24^FH_^FDR-20250101-0001^FS",
                "^FO16,200^A0N,36,36^FH_^FDLi Lei^FS",
                "^FO16,256^A0N,20,20^FH_^FDOrder SO123456^FS",
                "^FO16,296^A0N,24,24^FH_^FD2025-01-01  BENCH-3^FS",
                // The QR symbol starts at y = 300, QR_TOP_OFFSET below its ^FO.
                "^FO703,290^BQN,2,3^FDMA,R-20250101-0001^FS",
                "^XZ",
            ]
        );
        assert_safe(&zpl, 5);
    }

    #[test]
    fn escaping() {
        assert_eq!(field("a^b~c_d").unwrap(), "^FH_^FDa_5Eb_7Ec_5Fd^FS");
        assert_eq!(field("é").unwrap(), "^FH_^FD_C3_A9^FS");
        assert!(field(&"^".repeat(2000)).is_err());
    }

    #[test]
    fn injection_in_ascii_name_is_escaped() {
        let zpl = render_str(&label(INJECTION));
        assert_safe(&zpl, 5);
        assert!(!zpl.contains("~JR") && !zpl.contains("^FDx"));
        assert!(zpl.contains("^FH_^FD_5EXA_7EJR_5EFDx_5EFS_7EPS_5C_22  PRINT 9^FS"));
    }

    #[test]
    fn injection_with_chinese_name_goes_to_bitmap() {
        let name = format!("{INJECTION}张三丰");
        let zpl = render_str(&label(&name));
        assert!(zpl.contains("^FO16,200^GFA,"), "{zpl}");
        // Title and name are bitmaps; id, order and date lines and the barcode are fields.
        assert_safe(&zpl, 4);
        assert_eq!(zpl.matches("^GFA,").count(), 2);
        assert!(!zpl.contains("~JR") && !zpl.contains("^FDx") && !zpl.contains("PRINT"));
    }

    #[test]
    fn chinese_without_font_is_an_error() {
        let err = render(&label("张三丰"), None).unwrap_err();
        assert!(matches!(err, RenderError::FontRequired { .. }), "{err}");
    }

    #[test]
    fn bad_barcode_data_is_rejected() {
        let mut l = label("x");
        for bad in ["", "退货", "A\u{7}B"] {
            l.elements[2] = Element::Barcode128 {
                x: 0,
                y: 0,
                height: 50,
                module: 2,
                data: bad.to_owned(),
            };
            assert!(matches!(
                render(&l, Some(font())),
                Err(RenderError::Barcode { .. })
            ));
        }
        // A `>` would be an invocation, a `^` a command: refused, not escaped.
        for bad in ["R>5", "R^XA", "R~JA"] {
            l.elements[2] = Element::Barcode128 {
                x: 0,
                y: 0,
                height: 50,
                module: 2,
                data: bad.to_owned(),
            };
            let err = render(&l, Some(font())).unwrap_err();
            assert!(
                matches!(err, RenderError::UnsafeBarcodeChar { .. }),
                "{err}"
            );
        }
        // One dot per module is 0.125 mm at 203 dpi: never sent.
        l.elements[2] = Element::Barcode128 {
            x: 0,
            y: 0,
            height: 50,
            module: 1,
            data: "R-1".into(),
        };
        let err = render(&l, Some(font())).unwrap_err();
        assert!(
            matches!(err, RenderError::OutOfRange { min: 2, .. }),
            "{err}"
        );
    }

    /// Decodes the `^GFA` of the name line and checks it really has ink.
    #[test]
    fn gfa_bitmap_of_chinese_name_has_black_pixels() {
        let zpl = render_str(&label("张三丰"));
        let line = zpl
            .lines()
            .find(|l| l.starts_with("^FO16,200^GFA,"))
            .expect("name bitmap line");
        let body = line
            .strip_prefix("^FO16,200^GFA,")
            .and_then(|s| s.strip_suffix("^FS"))
            .unwrap();
        let parts: Vec<&str> = body.splitn(4, ',').collect();
        let total: usize = parts[0].parse().unwrap();
        assert_eq!(parts[1], parts[0]);
        let row_bytes: usize = parts[2].parse().unwrap();
        let hex = parts[3];
        assert_eq!(hex.len(), total * 2);
        assert_eq!(total % row_bytes, 0);
        let bytes: Vec<u8> = (0..total)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let black: u32 = bytes.iter().map(|b| b.count_ones()).sum();
        let pixels = (total * 8) as u32;
        assert!(black > 50, "only {black} black pixels");
        assert!(black < pixels / 2, "{black} of {pixels} black: inverted?");
        // Three glyphs side by side: ink in each third of the width.
        let width = row_bytes * 8;
        let rows = total / row_bytes;
        for third in 0..3 {
            let ink = (0..rows).any(|r| {
                (third * width / 3..(third + 1) * width / 3)
                    .any(|x| bytes[r * row_bytes + x / 8] & (0x80 >> (x % 8)) != 0)
            });
            assert!(ink, "no ink in third {third}");
        }
    }

    #[test]
    fn qr_is_native_and_raised_by_the_bq_offset() {
        let l = Label {
            width_mm: 60,
            height_mm: 40,
            dpi: 203,
            elements: vec![Element::Qr {
                x: 300,
                y: 200,
                module: 4,
                data: "R-ST01-20261125-0042.1".into(),
            }],
        };
        let zpl = render_str(&l);
        assert!(
            zpl.contains("^FO300,190^BQN,2,4^FDMA,R-ST01-20261125-0042.1^FS\n"),
            "{zpl}"
        );
        assert_safe(&zpl, 0);
        let mut high = l.clone();
        high.elements[0] = Element::Qr {
            x: 0,
            y: 5,
            module: 4,
            data: "A".into(),
        };
        assert!(matches!(
            render(&high, None),
            Err(RenderError::OutOfRange { .. })
        ));
    }

    proptest! {
        /// Any QR data either renders as one safe `^BQ` field or is refused; it never
        /// reaches the printer escaped into something else.
        #[test]
        fn any_qr_data_is_safe_or_refused(
            data in crate::label::fixtures::qr_data()
        ) {
            let mut l = label("x");
            l.elements.push(Element::Qr { x: 300, y: 200, module: 3, data: data.clone() });
            match render(&l, Some(font())) {
                Ok(bytes) => {
                    let zpl = String::from_utf8(bytes).unwrap();
                    assert_safe(&zpl, 5);
                    prop_assert_eq!(zpl.matches("^BQN,2,").count(), 2);
                    prop_assert!(!data.is_empty() && data.bytes().all(qr::is_safe_byte));
                }
                Err(e) => prop_assert!(
                    matches!(e, RenderError::UnsafeBarcodeChar { .. } | RenderError::QrLength { .. }),
                    "{}", e
                ),
            }
        }

        #[test]
        fn any_customer_name_keeps_the_format_intact(
            name in prop_oneof![any::<String>(), "[\\^~_\"\\\\\r\n>a-zA-Z0-9 张三丰退货]{0,40}"]
        ) {
            let l = label(&name);
            match render(&l, Some(font())) {
                Ok(bytes) => {
                    let zpl = String::from_utf8(bytes).unwrap();
                    let line = single_line(&name);
                    let name_is_field = line.is_ascii() && !line.trim().is_empty();
                    let fields = 4 + usize::from(name_is_field);
                    assert_safe(&zpl, fields);
                }
                Err(e) => {
                    // Only a glyph the font lacks may stop a label.
                    prop_assert!(!name.is_ascii());
                    prop_assert!(matches!(e, RenderError::Text { .. }), "{}", e);
                }
            }
        }

        #[test]
        fn any_ascii_name_renders_without_font(name in "[ -~\\r\\n\\t]{0,60}") {
            let mut l = label(&name);
            l.elements[1] = Element::Text { x: 16, y: 16, size: 32, text: "RETURN".into() };
            let zpl = String::from_utf8(render(&l, None).unwrap()).unwrap();
            assert_safe(&zpl, 5 + usize::from(!single_line(&name).trim().is_empty()));
        }
    }
}
