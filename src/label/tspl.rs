//! Renders a [`Label`] to TSPL/TSPL2 (TSC, Gprinter, HPRT, Xprinter).
//!
//! TSPL is line oriented: every command ends with CRLF, strings are in double quotes.
//! Injection safety (see `devices.md` §2.1/§2.4):
//! * control characters (CR, LF, …) in text become spaces, so user data can never
//!   end a command line;
//! * `"` inside a string is sent as `\["]` (the TSPL escape, Gprinter GP-2120T
//!   manual), so it cannot close the string;
//! * `\` is replaced by `/` in text ([`BACKSLASH_REPLACEMENT`]): `\[` starts TSPL
//!   escape sequences and whether a lone backslash is literal is not verified;
//! * barcode data must be printable ASCII without `"`, `\` and `!` (rejected, not
//!   escaped; [`super::model::is_barcode_byte`]), sent as `"128M"` with the encoder's
//!   plan spelled out ([`spell_code128`]);
//!   QR data must be in [`super::qr::is_safe_byte`] (`QRCODE x,y,M,<cell>,A,0,"…"`).
//!
//! ASCII text uses the printer's built-in bitmap fonts `"1"`–`"5"` (the largest whose
//! height fits `size`). Text with non-ASCII characters (Chinese) is rasterised on the
//! host with the given [`Font`] and sent as `BITMAP x,y,width_bytes,height,0,<raw>`;
//! the raw bytes follow the comma directly and are counted by the printer, so they
//! are not subject to line parsing. Polarity: TSC manuals describe a 0 bit as a
//! printed dot, the opposite of our [`Bitmap`](super::Bitmap); see
//! [`BITMAP_ZERO_IS_BLACK`].

use std::fmt::Write as _;

use super::code128::{self, CodeSet, Plan, Step};
use super::model::rasterise;
use super::model::{
    Element, Label, MAX_DOTS, RenderError, check_barcode128, check_pos, check_range, single_line,
};
use super::qr;
use super::text::Font;

/// Whether a 0 bit in TSPL `BITMAP` data prints black. TSC's TSPL manual describes
/// it that way, so the bitmap is inverted before sending. UNVERIFIED on every
/// model: if labels print as negatives, flip this constant.
pub const BITMAP_ZERO_IS_BLACK: bool = true;

/// What a backslash in text is replaced with (see the module docs).
pub const BACKSLASH_REPLACEMENT: char = '/';

/// Gap between labels, millimetres, in the `GAP` command.
pub const GAP_MM: u32 = 2;

/// Built-in font heights in dots: (font name, height) at 203 dpi and at 300 dpi,
/// smallest first (TSPL manual, `TEXT`).
const FONTS_203: [(&str, u32); 5] = [("1", 12), ("2", 20), ("3", 24), ("4", 32), ("5", 48)];
const FONTS_300: [(&str, u32); 5] = [("1", 20), ("2", 28), ("3", 32), ("4", 48), ("5", 64)];

/// The built-in font for a line height: the largest not taller than `size`.
fn font_for(size: u32, dpi: u32) -> &'static str {
    let table = if dpi >= 300 { &FONTS_300 } else { &FONTS_203 };
    table
        .iter()
        .rev()
        .find(|(_, h)| *h <= size)
        .map_or("1", |(name, _)| name)
}

/// The `"128M"` (manual subsets) content of `plan`: `!` and a three-digit control code
/// for the start code and every switch (`!104` start B, `!105` start C, `!099` CODE C,
/// `!100` CODE B, `!102` FNC1), set B characters as themselves, set C pairs as two
/// digits (TSPL manual, `BARCODE`, 128M). `"128"` would leave the subsets to the
/// firmware, whose choice the layout cannot know. The data holds no `!`, `"` or `\`
/// ([`super::model::is_barcode_byte`]).
pub fn spell_code128(plan: &Plan) -> String {
    let mut out = String::new();
    for step in plan.steps() {
        let _ = match step {
            Step::Start(CodeSet::B) => write!(out, "!104"),
            Step::Start(CodeSet::C) => write!(out, "!105"),
            Step::Switch(CodeSet::C) => write!(out, "!099"),
            Step::Switch(CodeSet::B) => write!(out, "!100"),
            Step::Fnc1 => write!(out, "!102"),
            Step::Char(b) => write!(out, "{}", char::from(b)),
            Step::Pair(v) => write!(out, "{v:02}"),
        };
    }
    out
}

/// The symbol values (start, data, check, stop) a printer draws for `"128M"` content
/// `data`: the reading of the control codes [`spell_code128`] writes, for previews
/// (labelize reads `128M` as automatic `128` and would print the codes as text).
/// `None` for content that does not start with a start code or has an unknown code.
pub fn manual_128_symbols(data: &str) -> Option<Vec<u8>> {
    let bytes = data.as_bytes();
    let mut symbols: Vec<u8> = Vec::new();
    let mut set_c = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'!' {
            let code: u8 = std::str::from_utf8(bytes.get(i + 1..i + 4)?)
                .ok()?
                .parse()
                .ok()?;
            match (symbols.is_empty(), code) {
                (true, 104 | 105) => set_c = code == 105,
                (false, 99 | 100) => set_c = code == 99,
                (false, 102) => {}
                _ => return None,
            }
            symbols.push(code);
            i += 4;
        } else if symbols.is_empty() {
            return None;
        } else if set_c {
            let pair = std::str::from_utf8(bytes.get(i..i + 2)?).ok()?;
            symbols.push(
                pair.parse()
                    .ok()
                    .filter(|_| pair.bytes().all(|b| b.is_ascii_digit()))?,
            );
            i += 2;
        } else {
            symbols.push(bytes[i].checked_sub(32).filter(|v| *v < 95)?);
            i += 1;
        }
    }
    let check = code128::check_value(&symbols);
    symbols.extend([check, 106]);
    Some(symbols)
}

/// A quoted TSPL string for printable ASCII `text` (already single-line).
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\[\"]"),
            '\\' => out.push(BACKSLASH_REPLACEMENT),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders `label` as a TSPL job ending in `PRINT 1`.
///
/// # Errors
/// [`RenderError::FontRequired`] for non-ASCII text without `font`;
/// [`RenderError::Text`] if the font cannot render it; [`RenderError::Barcode`] /
/// [`RenderError::UnsafeBarcodeChar`] for bad barcode data;
/// [`RenderError::OutOfRange`] for absurd coordinates or sizes.
pub fn render(label: &Label, font: Option<&Font>) -> Result<Vec<u8>, RenderError> {
    let mut out: Vec<u8> = Vec::new();
    let line = |out: &mut Vec<u8>, s: &str| {
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    line(
        &mut out,
        &format!("SIZE {} mm,{} mm", label.width_mm, label.height_mm),
    );
    line(&mut out, &format!("GAP {GAP_MM} mm,0 mm"));
    line(&mut out, "DIRECTION 0");
    line(&mut out, "CLS");
    for element in &label.elements {
        match element {
            Element::Text { x, y, size, text } => {
                check_pos(*x, *y)?;
                let text = single_line(text);
                if text.trim().is_empty() {
                    continue;
                }
                if text.is_ascii() {
                    let f = font_for(*size, label.dpi);
                    line(
                        &mut out,
                        &format!("TEXT {x},{y},\"{f}\",0,1,1,{}", quote(&text)),
                    );
                } else {
                    let font =
                        font.ok_or_else(|| RenderError::FontRequired { text: text.clone() })?;
                    let bmp = rasterise(font, &text, *size)?;
                    let mut header = String::new();
                    let _ = write!(
                        header,
                        "BITMAP {x},{y},{},{},0,",
                        bmp.row_bytes(),
                        bmp.height()
                    );
                    out.extend_from_slice(header.as_bytes());
                    if BITMAP_ZERO_IS_BLACK {
                        out.extend(bmp.as_bytes().iter().map(|b| !b));
                    } else {
                        out.extend_from_slice(bmp.as_bytes());
                    }
                    out.extend_from_slice(b"\r\n");
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
                let spelled = spell_code128(&plan);
                line(
                    &mut out,
                    &format!(
                        "BARCODE {x},{y},\"128M\",{height},0,0,{module},{module},\"{spelled}\""
                    ),
                );
            }
            Element::Qr { x, y, module, data } => {
                check_pos(*x, *y)?;
                check_range("QR module", (*module).into(), 1, 10)?;
                qr::validate(data, "TSPL")?;
                // Error correction M, cell width, automatic mode, no rotation. The data
                // is validated to need no quoting.
                line(
                    &mut out,
                    &format!("QRCODE {x},{y},M,{module},A,0,\"{data}\""),
                );
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
                check_range("box width", (*w).into(), 1, MAX_DOTS)?;
                check_range("box height", (*h).into(), 1, MAX_DOTS)?;
                let (x_end, y_end) = (x + w - 1, y + h - 1);
                line(
                    &mut out,
                    &format!("BOX {x},{y},{x_end},{y_end},{thickness}"),
                );
            }
        }
    }
    line(&mut out, "PRINT 1");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    use crate::label::fixtures::{INJECTION, font, label};

    /// A parsed command: its text line, and the raw payload for `BITMAP`.
    #[derive(Debug)]
    struct Cmd {
        line: String,
        payload: Vec<u8>,
    }

    /// Splits a TSPL job into commands the way a printer does: CRLF-terminated
    /// lines, except that `BITMAP` is followed by `width_bytes * height` raw bytes.
    fn parse(mut job: &[u8]) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        while !job.is_empty() {
            if job.starts_with(b"BITMAP ") {
                let mut commas = 0;
                let end = job
                    .iter()
                    .position(|&b| {
                        commas += usize::from(b == b',');
                        commas == 5
                    })
                    .unwrap();
                let head = std::str::from_utf8(&job[..end]).unwrap().to_owned();
                let nums: Vec<usize> = head["BITMAP ".len()..]
                    .split(',')
                    .map(|n| n.parse().unwrap())
                    .collect();
                let len = nums[2] * nums[3];
                let payload = job[end + 1..end + 1 + len].to_vec();
                assert_eq!(&job[end + 1 + len..end + 3 + len], b"\r\n");
                job = &job[end + 3 + len..];
                cmds.push(Cmd {
                    line: head,
                    payload,
                });
            } else {
                let end = job.windows(2).position(|w| w == b"\r\n").unwrap();
                let line = std::str::from_utf8(&job[..end]).unwrap().to_owned();
                assert!(!line.contains('\r') && !line.contains('\n'));
                job = &job[end + 2..];
                cmds.push(Cmd {
                    line,
                    payload: Vec::new(),
                });
            }
        }
        cmds
    }

    /// Invariants: known commands only, one `PRINT` at the end, balanced strings.
    fn assert_safe(job: &[u8]) -> Vec<Cmd> {
        let cmds = parse(job);
        let names = [
            "SIZE",
            "GAP",
            "DIRECTION",
            "CLS",
            "TEXT",
            "BARCODE",
            "BOX",
            "BITMAP",
            "QRCODE",
            "PRINT",
        ];
        for c in &cmds {
            let name = c.line.split(' ').next().unwrap();
            assert!(names.contains(&name), "{:?}", c.line);
            // Outside strings there are no quotes; every `\["]` is inside one.
            let unescaped = c.line.replace("\\[\"]", "");
            assert_eq!(unescaped.matches('"').count() % 2, 0, "{:?}", c.line);
        }
        let prints: Vec<&Cmd> = cmds
            .iter()
            .filter(|c| c.line.starts_with("PRINT"))
            .collect();
        assert_eq!(prints.len(), 1);
        assert_eq!(cmds.last().unwrap().line, "PRINT 1");
        cmds
    }

    #[test]
    fn structure_of_return_label() {
        let job = render(&label("Li Lei"), Some(font())).unwrap();
        let cmds = assert_safe(&job);
        let lines: Vec<&str> = cmds.iter().map(|c| c.line.as_str()).collect();
        assert_eq!(
            &lines[..5],
            [
                "SIZE 100 mm,50 mm",
                "GAP 2 mm,0 mm",
                "DIRECTION 0",
                "CLS",
                "BOX 8,8,790,391,2"
            ]
        );
        assert!(lines[5].starts_with("BITMAP 16,16,"), "{}", lines[5]);
        assert_eq!(
            &lines[6..],
            [
                // 128M with the plan spelled out: start B, CODE C, CODE B, CODE C.
                "BARCODE 232,52,\"128M\",96,0,0,2,2,\"!104R-!09920250101!100-!0990001\"",
                "TEXT 16,156,\"3\",0,1,1,\"R-20250101-0001\"",
                "TEXT 16,200,\"4\",0,1,1,\"Li Lei\"",
                "TEXT 16,256,\"2\",0,1,1,\"Order SO123456\"",
                "TEXT 16,296,\"3\",0,1,1,\"2025-01-01  BENCH-3\"",
                "QRCODE 703,300,M,3,A,0,\"R-20250101-0001\"",
                "PRINT 1",
            ]
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c"), "\"a\\[\"]b/c\"");
        assert_eq!(font_for(5, 203), "1");
        assert_eq!(font_for(40, 203), "4");
        assert_eq!(font_for(40, 300), "3");
    }

    #[test]
    fn injection_in_names() {
        for name in [INJECTION.to_owned(), format!("{INJECTION}张三丰")] {
            let job = render(&label(&name), Some(font())).unwrap();
            let cmds = assert_safe(&job);
            assert!(!cmds.iter().any(|c| c.line.starts_with("PRINT 9")));
        }
        let job = render(&label(INJECTION), Some(font())).unwrap();
        let cmds = parse(&job);
        assert!(
            cmds.iter()
                .any(|c| c.line == "TEXT 16,200,\"4\",0,1,1,\"^XA~JR^FDx^FS~PS/\\[\"]  PRINT 9\"")
        );
    }

    #[test]
    fn chinese_bitmap_is_inverted_and_has_ink() {
        let job = render(&label("张三丰"), Some(font())).unwrap();
        let cmds = assert_safe(&job);
        let name = cmds
            .iter()
            .find(|c| c.line.starts_with("BITMAP 16,200,"))
            .unwrap();
        let black: u32 = name
            .payload
            .iter()
            .map(|b| {
                if BITMAP_ZERO_IS_BLACK {
                    b.count_zeros()
                } else {
                    b.count_ones()
                }
            })
            .sum();
        let total = (name.payload.len() * 8) as u32;
        assert!(black > 50 && black < total / 2, "{black} of {total}");
    }

    #[test]
    fn errors() {
        assert!(matches!(
            render(&label("张三丰"), None),
            Err(RenderError::FontRequired { .. })
        ));
        let mut l = label("x");
        l.elements[2] = Element::Barcode128 {
            x: 0,
            y: 0,
            height: 50,
            module: 2,
            data: "A\"B".into(),
        };
        assert!(matches!(
            render(&l, Some(font())),
            Err(RenderError::UnsafeBarcodeChar { ch: '"', .. })
        ));
        l.elements[2] = Element::Barcode128 {
            x: 0,
            y: 0,
            height: 50,
            module: 2,
            data: "退货".into(),
        };
        assert!(matches!(
            render(&l, Some(font())),
            Err(RenderError::Barcode { .. })
        ));
    }

    #[test]
    fn qr_is_native() {
        let job = render(&label("x"), Some(font())).unwrap();
        let cmds = assert_safe(&job);
        let qr: Vec<&str> = cmds
            .iter()
            .map(|c| c.line.as_str())
            .filter(|l| l.starts_with("QRCODE "))
            .collect();
        assert_eq!(qr.len(), 1);
        assert!(qr[0].ends_with(",M,3,A,0,\"R-20250101-0001\""), "{}", qr[0]);
        let mut l = label("x");
        l.elements.push(Element::Qr {
            x: 10,
            y: 10,
            module: 3,
            data: "A\"B".into(),
        });
        assert!(matches!(
            render(&l, Some(font())),
            Err(RenderError::UnsafeBarcodeChar { ch: '"', .. })
        ));
    }

    proptest! {
        /// Any QR data either renders as one quoted, unescaped `QRCODE` string of safe
        /// bytes or is refused.
        #[test]
        fn any_qr_data_is_safe_or_refused(
            data in crate::label::fixtures::qr_data()
        ) {
            let mut l = label("x");
            l.elements.push(Element::Qr { x: 300, y: 200, module: 3, data: data.clone() });
            match render(&l, Some(font())) {
                Ok(job) => {
                    let cmds = assert_safe(&job);
                    let expected = format!("QRCODE 300,200,M,3,A,0,\"{data}\"");
                    prop_assert!(cmds.iter().any(|c| c.line == expected));
                    prop_assert!(data.bytes().all(qr::is_safe_byte));
                }
                Err(e) => prop_assert!(
                    matches!(e, RenderError::UnsafeBarcodeChar { .. } | RenderError::QrLength { .. }),
                    "{}", e
                ),
            }
        }

        /// What a printer reads back from the 128M content is the plan's symbols, and
        /// data with a byte either language would read as a command is refused.
        #[test]
        fn manual_128_reads_back_the_plan(data in "([ -~]|[0-9]{2,9}){1,12}") {
            prop_assume!(data.chars().count() <= code128::MAX_DATA_CHARS);
            let mut l = label("x");
            l.elements[2] = Element::Barcode128 { x: 200, y: 50, height: 50, module: 2, data: data.clone() };
            match render(&l, Some(font())) {
                Ok(_) => {
                    prop_assert!(data.bytes().all(super::super::model::is_barcode_byte));
                    let plan = Plan::new(&data).unwrap();
                    prop_assert_eq!(manual_128_symbols(&spell_code128(&plan)), Some(plan.symbols()));
                }
                Err(e) => {
                    prop_assert!(matches!(e, RenderError::UnsafeBarcodeChar { .. }), "{}", e);
                    prop_assert!(data.bytes().any(|b| b"^~>!\"\\".contains(&b)));
                }
            }
        }

        #[test]
        fn any_customer_name_keeps_one_print(
            name in prop_oneof![any::<String>(), "[\\^~_\"\\\\\r\n>a-zA-Z0-9 张三丰退货]{0,40}"]
        ) {
            match render(&label(&name), Some(font())) {
                Ok(job) => { assert_safe(&job); }
                Err(e) => {
                    prop_assert!(!name.is_ascii());
                    prop_assert!(matches!(e, RenderError::Text { .. }), "{}", e);
                }
            }
        }
    }
}
