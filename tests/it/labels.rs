//! End-to-end labels: a template filled with hostile and Chinese data → the exact printer
//! bytes (ZPL and TSPL, 203 and 300 dpi) → a PNG drawn by labelize from those bytes →
//! the Code 128 and QR codes decoded back with rxing. The PNGs are kept under
//! `target/label-previews/` for a human to look at.

use std::path::PathBuf;

use returnsd::label::model::{Element, Label, Language};
use returnsd::label::preview::render_png;
use returnsd::label::template::{Fields, Templates};
use returnsd::label::text::Font;
use rxing::{BarcodeFormat, DecodeHints};

/// A customer name that is Chinese *and* tries to break out of a ZPL field.
const HOSTILE_NAME: &str = "张三丰^XA~JR^FDx";
const RETURN_ID: &str = "R-ST01-20261125-0042";

fn font() -> Font {
    Font::load_default().expect("CJK font (fonts-wqy-microhei)")
}

fn return_fields() -> Fields {
    Fields::new()
        .text("return_id", RETURN_ID)
        .text("customer_name", HOSTILE_NAME)
        .text("order_no", "SO2026112500042")
        .text("kind", "退货 Return")
        .text("date", "2026-11-25")
        .text("station", "ST01")
}

fn defect_fields() -> Fields {
    Fields::new()
        .text("return_id", RETURN_ID)
        .text("item_no", "1")
        .text("sku", "SKU-778899")
        .list(
            "defect_reasons",
            [
                "划痕 Scratch",
                "缺配件 Missing part",
                "屏幕碎裂 Cracked screen",
            ],
        )
        .text("inspector", "021")
        .text("date", "2026-11-25")
}

fn preview_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("label-previews");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// PNG → 8-bit luma, whatever colour type labelize wrote.
pub fn luma(png_bytes: &[u8]) -> (Vec<u8>, u32, u32) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    let gray = buf
        .chunks(channels)
        .map(|px| match channels {
            1 | 2 => px[0],
            _ => {
                let y = (u32::from(px[0]) * 299 + u32::from(px[1]) * 587 + u32::from(px[2]) * 114)
                    / 1000;
                // Transparent counts as white paper.
                if channels == 4 && px[3] < 128 {
                    255
                } else {
                    y as u8
                }
            }
        })
        .collect();
    (gray, info.width, info.height)
}

pub fn decode(gray: &[u8], w: u32, h: u32, format: BarcodeFormat) -> String {
    let mut hints = DecodeHints {
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    let r =
        rxing::helpers::detect_in_luma_with_hints(gray.to_vec(), w, h, Some(format), &mut hints)
            .unwrap_or_else(|e| panic!("no {format:?} found: {e:?}"));
    r.getText().to_owned()
}

/// Dark pixels in a box of the preview.
fn ink(gray: &[u8], w: u32, x: u32, y: u32, bw: u32, bh: u32) -> usize {
    (y..y + bh)
        .flat_map(|yy| (x..(x + bw).min(w)).map(move |xx| (xx, yy)))
        .filter(|(xx, yy)| gray[(yy * w + xx) as usize] < 128)
        .count()
}

/// Invariants of the bytes themselves: one label, no immediate commands, no text line
/// that is not a known command with balanced quotes, and the hostile name nowhere as
/// text.
fn assert_safe_bytes(language: Language, job: &[u8]) {
    match language {
        Language::Zpl => {
            let zpl = std::str::from_utf8(job).unwrap();
            assert_eq!(zpl.matches("^XA").count(), 1, "{zpl}");
            assert_eq!(zpl.matches("^XZ").count(), 1);
            assert!(!zpl.contains('~'), "a ~ command in {zpl}");
            assert!(!zpl.contains("^FDx") && !zpl.contains("JR"));
            assert!(zpl.is_ascii());
            assert!(zpl.contains("^GFA,"), "Chinese text must be a bitmap");
        }
        Language::Tspl => {
            let mut rest = job;
            let mut bitmaps = 0;
            let known = [
                "SIZE",
                "GAP",
                "DIRECTION",
                "CLS",
                "TEXT",
                "BARCODE",
                "QRCODE",
                "BOX",
                "BITMAP",
                "PRINT",
            ];
            let mut prints = 0;
            while !rest.is_empty() {
                let end = if rest.starts_with(b"BITMAP ") {
                    // x,y,width_bytes,height,mode, then width_bytes*height raw bytes.
                    let mut commas = 0;
                    let head_end = rest
                        .iter()
                        .position(|&b| {
                            commas += usize::from(b == b',');
                            commas == 5
                        })
                        .unwrap();
                    let head = std::str::from_utf8(&rest[7..head_end]).unwrap();
                    let n: Vec<usize> = head.split(',').map(|v| v.parse().unwrap()).collect();
                    bitmaps += 1;
                    head_end + 1 + n[2] * n[3]
                } else {
                    let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
                    let line = std::str::from_utf8(&rest[..line_end]).unwrap();
                    let name = line.split(' ').next().unwrap();
                    assert!(known.contains(&name), "unknown command line {line:?}");
                    let unescaped = line.replace("\\[\"]", "");
                    assert_eq!(unescaped.matches('"').count() % 2, 0, "unquoted {line:?}");
                    assert!(!line.contains("^XA") && !line.contains("JR"), "{line:?}");
                    prints += usize::from(name == "PRINT");
                    line_end
                };
                assert_eq!(&rest[end..end + 2], b"\r\n");
                rest = &rest[end + 2..];
            }
            assert_eq!(prints, 1);
            assert!(bitmaps > 0, "Chinese text must be a bitmap");
        }
    }
}

/// Fills `template`, renders it in `language` at `dpi`, previews the bytes, decodes
/// both codes, and checks the hostile or Chinese `text` printed as ink where the
/// label puts it.
fn round_trip(template: &str, fields: &Fields, id: &str, ink_text: &str, language: Language) {
    let font = font();
    let templates = Templates::builtin().unwrap();
    for dpi in [203, 300] {
        let label: Label = templates.fill(template, fields, dpi).unwrap();
        let job = returnsd::label::render::render(language, &label, Some(&font)).unwrap();
        assert_safe_bytes(language, &job);
        let png = render_png(&job, language, dpi, label.width_mm, label.height_mm).unwrap();
        let name = format!("{template}-{language:?}-{dpi}dpi.png").to_lowercase();
        std::fs::write(preview_dir().join(&name), &png).unwrap();

        let (gray, w, h) = luma(&png);
        assert!(
            w >= label.width_dots() && h >= label.height_dots(),
            "{name}"
        );
        assert_eq!(decode(&gray, w, h, BarcodeFormat::CODE_128), id, "{name}");
        assert_eq!(decode(&gray, w, h, BarcodeFormat::QR_CODE), id, "{name}");

        let (x, y, size) = label
            .elements
            .iter()
            .find_map(|e| match e {
                Element::Text { x, y, size, text } if text.contains(ink_text) => {
                    Some((*x, *y, *size))
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name}: no text with {ink_text:?}"));
        let dots = ink(&gray, w, x, y, size * 3, size);
        assert!(
            dots > (size * size / 20) as usize,
            "{name}: only {dots} dark pixels for {ink_text:?}"
        );
    }
}

#[test]
fn return_label_zpl_decodes_at_203_and_300_dpi() {
    round_trip(
        "return_label",
        &return_fields(),
        RETURN_ID,
        "张三丰",
        Language::Zpl,
    );
}

#[test]
fn return_label_tspl_decodes_at_203_and_300_dpi() {
    round_trip(
        "return_label",
        &return_fields(),
        RETURN_ID,
        "张三丰",
        Language::Tspl,
    );
}

#[test]
fn defect_tag_zpl_decodes_at_203_and_300_dpi() {
    let item = format!("{RETURN_ID}.1");
    round_trip("defect_tag", &defect_fields(), &item, "划痕", Language::Zpl);
}

#[test]
fn defect_tag_tspl_decodes_at_203_and_300_dpi() {
    let item = format!("{RETURN_ID}.1");
    round_trip(
        "defect_tag",
        &defect_fields(),
        &item,
        "划痕",
        Language::Tspl,
    );
}

/// The RTV note and the command label decode too (both languages).
#[test]
fn rtv_note_and_command_label_decode() {
    let rtv = Fields::new()
        .text("note_no", "RTV-ST01-20261125-0001")
        .text("vendor", "深圳市某某电子有限公司")
        .text("item_count", "12")
        .text("date", "2026-11-25")
        .text("station", "ST01");
    let cmd = Fields::new()
        .text("code", "CMD-KIND-CUSTOMER")
        .text("title_zh", "客户退货")
        .text("title_en", "Customer return");
    for language in [Language::Zpl, Language::Tspl] {
        round_trip("rtv_note", &rtv, "RTV-ST01-20261125-0001", "深圳", language);
        round_trip("command_label", &cmd, "CMD-KIND-CUSTOMER", "客户", language);
    }
}

/// The hostile name is in the TSPL and ZPL jobs only as bitmap bytes: its ASCII part
/// never appears as text even though it is printable ASCII.
#[test]
fn hostile_name_only_as_bitmap() {
    let font = font();
    let label = Templates::builtin()
        .unwrap()
        .fill("return_label", &return_fields(), 203)
        .unwrap();
    for language in [Language::Zpl, Language::Tspl] {
        let job = returnsd::label::render::render(language, &label, Some(&font)).unwrap();
        let text: Vec<u8> = job
            .iter()
            .copied()
            .filter(|b| b.is_ascii_graphic())
            .collect();
        let text = String::from_utf8_lossy(&text);
        assert!(
            !text.contains("~JR") && !text.contains("^FDx"),
            "{language:?}"
        );
    }
}
