//! The printable command sheet: an A4 page of Code 128 barcodes that bench operators
//! scan to give the station commands, two columns of cells, each with the barcode,
//! the code in plain text under it, and the command's English and Chinese titles.
//!
//! Sizes are physical (millimetres converted at the page's dpi), so the sheet prints
//! the same at 203 and 300 dpi. Barcodes use modules of at least 3 px and about
//! 0.34 mm, bars at least 120 px and 12 mm tall, and quiet zones of
//! [`QUIET_ZONE_MODULES`](super::code128::QUIET_ZONE_MODULES) inside the cell padding. A sheet that cannot hold its
//! content legibly is an error, never a squeezed or clipped barcode.

use std::collections::HashSet;

use thiserror::Error;

use super::bitmap::{Bitmap, BitmapError, Rect};
use super::code128::{self, Code128Error};
use super::text::{Font, FontError};

/// One command on the sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetEntry {
    /// What the barcode encodes, e.g. `CMD-UNPACK` (printable ASCII only).
    pub code: String,
    /// English title, e.g. "Unpack parcel".
    pub title_en: String,
    /// Chinese title, e.g. "拆包".
    pub title_zh: String,
}

/// Why a sheet could not be rendered.
#[derive(Debug, Error)]
pub enum LabelError {
    /// No entries were given.
    #[error("the command sheet has no entries: pass at least one command")]
    NoEntries,
    /// More entries than one page holds.
    #[error(
        "{count} commands do not fit on one sheet (at most {max} at this page size): split \
         them over several sheets"
    )]
    TooManyEntries {
        /// Entries given.
        count: usize,
        /// What one page holds.
        max: usize,
    },
    /// Two entries share a code.
    #[error("command code {code:?} appears more than once on the sheet: remove the duplicate")]
    DuplicateCode {
        /// The repeated code.
        code: String,
    },
    /// A code cannot be encoded.
    #[error("command code {code:?} cannot be printed as a barcode: {source}")]
    Barcode {
        /// The entry's code.
        code: String,
        /// The encoder's error.
        #[source]
        source: Code128Error,
    },
    /// A code's barcode is too wide for a cell even with 3 px modules.
    #[error(
        "the barcode for {code:?} needs {needed_px} px but a cell has {available_px} px: \
         shorten the code"
    )]
    CodeTooWide {
        /// The entry's code.
        code: String,
        /// Width needed at the smallest module width, quiet zones included.
        needed_px: u64,
        /// Room in a cell.
        available_px: u32,
    },
    /// A text cannot be rendered (missing glyph, control character…).
    #[error("cannot render the {what} {text:?}: {source}")]
    Text {
        /// Which text: "sheet title", "English title of CMD-X", …
        what: String,
        /// The text.
        text: String,
        /// The font's error.
        #[source]
        source: FontError,
    },
    /// A text is too wide even at the smallest allowed size.
    #[error(
        "the {what} {text:?} is too long to fit {max_width_px} px even at reduced size: \
         shorten it"
    )]
    TextTooLong {
        /// Which text.
        what: String,
        /// The text.
        text: String,
        /// Room available.
        max_width_px: u32,
    },
    /// Drawing failed.
    #[error(transparent)]
    Bitmap(#[from] BitmapError),
}

/// A page size in pixels at a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize {
    /// Width in pixels.
    pub width_px: u32,
    /// Height in pixels.
    pub height_px: u32,
    /// Print resolution, dots per inch.
    pub dpi: u32,
}

impl PageSize {
    /// A4 portrait at 300 dpi: 2480 × 3508 px.
    pub const A4_300DPI: PageSize = PageSize::a4(300);
    /// A4 portrait at 203 dpi (thermal printers): 1678 × 2374 px.
    pub const A4_203DPI: PageSize = PageSize::a4(203);

    /// A4 portrait (210 × 297 mm) at `dpi`.
    pub const fn a4(dpi: u32) -> PageSize {
        PageSize {
            width_px: mm_to_px_const(210, dpi),
            height_px: mm_to_px_const(297, dpi),
            dpi,
        }
    }
}

/// Whole millimetres to pixels, rounded.
const fn mm_to_px_const(mm: u32, dpi: u32) -> u32 {
    ((mm as u64 * dpi as u64 * 10 + 127) / 254) as u32
}

/// Where everything of one entry was drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellLayout {
    /// The entry's code.
    pub code: String,
    /// The whole cell, border included.
    pub cell: Rect,
    /// The barcode, quiet zones included.
    pub barcode: Rect,
    /// Module width of the barcode, in pixels.
    pub module_width: u32,
    /// Line box of the code in plain text.
    pub code_text: Rect,
    /// Line box of the English title.
    pub title_en: Rect,
    /// Line box of the Chinese title.
    pub title_zh: Rect,
}

/// A rendered sheet with the position of every cell, for previews and tests.
#[derive(Debug, Clone)]
pub struct RenderedSheet {
    /// The page.
    pub bitmap: Bitmap,
    /// Line box of the English sheet title.
    pub title_en: Rect,
    /// Line box of the Chinese sheet title.
    pub title_zh: Rect,
    /// One per entry, in entry order (row by row, left column first).
    pub cells: Vec<CellLayout>,
}

/// All sizes of a sheet in pixels, derived from the dpi and a compaction factor.
#[derive(Debug, Clone, Copy)]
struct Metrics {
    margin: u32,
    header_en_px: u32,
    header_zh_px: u32,
    line_gap: u32,
    rule: u32,
    header_after: u32,
    cell_gap: u32,
    border: u32,
    pad: u32,
    module: u32,
    bar_h: u32,
    code_px: u32,
    en_px: u32,
    zh_px: u32,
}

/// Smallest module width ever used, in pixels.
const MIN_MODULE_PX: u32 = 3;
/// Texts too wide for their box are shrunk down to this fraction of their size.
const MIN_TEXT_SCALE: f32 = 0.6;
const COLUMNS: u32 = 2;
/// Compaction steps between the nominal layout (0) and the most compact one.
const COMPACT_STEPS: u32 = 10;

impl Metrics {
    /// Sizes at `dpi`, `step` of [`COMPACT_STEPS`] of the way from the roomy nominal
    /// layout to the compact one used when many entries must fit. Sizes are given in
    /// tenths of a millimetre as (nominal, compact).
    fn new(dpi: u32, step: u32) -> Metrics {
        let t = step.min(COMPACT_STEPS) as f32 / COMPACT_STEPS as f32;
        let px = |(nominal, compact): (u32, u32)| {
            let tenths = nominal as f32 + (compact as f32 - nominal as f32) * t;
            (tenths * dpi as f32 / 254.0).round() as u32
        };
        Metrics {
            margin: px((100, 80)),
            header_en_px: px((60, 45)),
            header_zh_px: px((75, 55)),
            line_gap: px((15, 8)).max(2),
            rule: px((5, 5)).max(2),
            header_after: px((40, 25)),
            cell_gap: px((10, 6)).max(2),
            border: px((3, 3)).max(1),
            pad: px((25, 10)).max(4),
            // 0.34 mm: 4 px at 300 dpi, 3 px at 203 dpi.
            module: (((34 * u64::from(dpi) + 1270) / 2540) as u32).max(MIN_MODULE_PX),
            // Never below 10.2 mm (120 px at 300 dpi).
            bar_h: px((120, 102)),
            code_px: px((40, 30)),
            en_px: px((40, 30)),
            zh_px: px((55, 40)),
        }
    }

    /// The roomiest layout at `page`'s dpi that fits `rows` rows of cells.
    fn fitting(page: PageSize, rows: u32) -> Option<Metrics> {
        (0..=COMPACT_STEPS)
            .map(|step| Metrics::new(page.dpi, step))
            .find(|m| m.rows_fitting(page) >= rows)
    }

    fn header_height(&self) -> u32 {
        self.header_en_px + self.line_gap + self.header_zh_px + self.line_gap + self.rule
    }

    fn cell_height(&self) -> u32 {
        2 * (self.pad + self.border)
            + self.bar_h
            + 3 * self.line_gap
            + self.code_px
            + self.en_px
            + self.zh_px
    }

    fn grid_top(&self) -> u32 {
        self.margin + self.header_height() + self.header_after
    }

    fn rows_fitting(&self, page: PageSize) -> u32 {
        let avail = page.height_px.saturating_sub(self.grid_top() + self.margin) + self.cell_gap;
        avail / (self.cell_height() + self.cell_gap)
    }

    fn cell_width(&self, page: PageSize) -> u32 {
        page.width_px
            .saturating_sub(2 * self.margin + (COLUMNS - 1) * self.cell_gap)
            / COLUMNS
    }
}

/// How many entries one sheet of `page` holds (20 on A4 at 203 or 300 dpi).
pub fn sheet_capacity(page: PageSize) -> usize {
    let m = Metrics::new(page.dpi, COMPACT_STEPS);
    (m.rows_fitting(page) * COLUMNS) as usize
}

/// Renders the command sheet on A4 at 300 dpi (2480 × 3508 px, dpi recorded in the
/// PNG).
///
/// # Errors
/// See [`LabelError`]: no or too many entries, duplicate codes, codes that are not
/// printable ASCII or too long, texts the font cannot render or that are too long.
pub fn render_command_sheet(
    title_en: &str,
    title_zh: &str,
    entries: &[SheetEntry],
    font: &Font,
) -> Result<Bitmap, LabelError> {
    render_command_sheet_with(PageSize::A4_300DPI, title_en, title_zh, entries, font)
        .map(|sheet| sheet.bitmap)
}

/// Renders the command sheet on any page size and returns the cell positions too.
///
/// # Errors
/// As [`render_command_sheet`].
pub fn render_command_sheet_with(
    page: PageSize,
    title_en: &str,
    title_zh: &str,
    entries: &[SheetEntry],
    font: &Font,
) -> Result<RenderedSheet, LabelError> {
    if entries.is_empty() {
        return Err(LabelError::NoEntries);
    }
    let rows = (entries.len() as u32).div_ceil(COLUMNS);
    let m = Metrics::fitting(page, rows).ok_or(LabelError::TooManyEntries {
        count: entries.len(),
        max: sheet_capacity(page),
    })?;
    let mut seen = HashSet::new();
    for e in entries {
        if !seen.insert(e.code.as_str()) {
            return Err(LabelError::DuplicateCode {
                code: e.code.clone(),
            });
        }
    }

    let mut bitmap = Bitmap::new(page.width_px, page.height_px)?.with_dpi(page.dpi);
    let content_w = page.width_px.saturating_sub(2 * m.margin);

    // Header: English title, Chinese title, a rule.
    let mut y = m.margin;
    let header_en = Rect {
        x: m.margin,
        y,
        w: content_w,
        h: m.header_en_px,
    };
    draw_centered(
        &mut bitmap,
        font,
        header_en,
        title_en,
        "sheet title (English)",
    )?;
    y += m.header_en_px + m.line_gap;
    let header_zh = Rect {
        x: m.margin,
        y,
        w: content_w,
        h: m.header_zh_px,
    };
    draw_centered(
        &mut bitmap,
        font,
        header_zh,
        title_zh,
        "sheet title (Chinese)",
    )?;
    y += m.header_zh_px + m.line_gap;
    bitmap.fill_rect(m.margin, y, content_w, m.rule, true);

    // Grid.
    let cell_w = m.cell_width(page);
    let cell_h = m.cell_height();
    let inner_w = cell_w.saturating_sub(2 * (m.border + m.pad));
    let mut cells = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let (col, row) = (i as u32 % COLUMNS, i as u32 / COLUMNS);
        let cell = Rect {
            x: m.margin + col * (cell_w + m.cell_gap),
            y: m.grid_top() + row * (cell_h + m.cell_gap),
            w: cell_w,
            h: cell_h,
        };
        cells.push(draw_cell(&mut bitmap, font, &m, cell, inner_w, entry)?);
    }
    Ok(RenderedSheet {
        bitmap,
        title_en: header_en,
        title_zh: header_zh,
        cells,
    })
}

fn draw_cell(
    bitmap: &mut Bitmap,
    font: &Font,
    m: &Metrics,
    cell: Rect,
    inner_w: u32,
    entry: &SheetEntry,
) -> Result<CellLayout, LabelError> {
    let pattern = code128::encode(&entry.code).map_err(|source| LabelError::Barcode {
        code: entry.code.clone(),
        source,
    })?;
    // The largest module width up to the nominal one that fits the cell.
    let module_width = (MIN_MODULE_PX..=m.module.max(MIN_MODULE_PX))
        .rev()
        .find(|&mw| Bitmap::code128_width(mw, &pattern) <= u64::from(inner_w))
        .ok_or_else(|| LabelError::CodeTooWide {
            code: entry.code.clone(),
            needed_px: Bitmap::code128_width(MIN_MODULE_PX, &pattern),
            available_px: inner_w,
        })?;
    let barcode_w = Bitmap::code128_width(module_width, &pattern) as u32;
    let inner_x = cell.x + m.border + m.pad;
    let mut y = cell.y + m.border + m.pad;

    bitmap.stroke_rect(cell.x, cell.y, cell.w, cell.h, m.border);
    let barcode = Rect {
        x: inner_x + (inner_w - barcode_w) / 2,
        y,
        w: barcode_w,
        h: m.bar_h,
    };
    bitmap.draw_code128(barcode.x, barcode.y, module_width, barcode.h, &pattern)?;
    y += m.bar_h + m.line_gap;

    let mut line = |px: u32, text: &str, what: String| -> Result<Rect, LabelError> {
        let rect = Rect {
            x: inner_x,
            y,
            w: inner_w,
            h: px,
        };
        draw_centered(bitmap, font, rect, text, &what)?;
        y += px + m.line_gap;
        Ok(rect)
    };
    let code_text = line(
        m.code_px,
        &entry.code,
        format!("code text of {}", entry.code),
    )?;
    let title_en = line(
        m.en_px,
        &entry.title_en,
        format!("English title of {}", entry.code),
    )?;
    let title_zh = line(
        m.zh_px,
        &entry.title_zh,
        format!("Chinese title of {}", entry.code),
    )?;
    Ok(CellLayout {
        code: entry.code.clone(),
        cell,
        barcode,
        module_width,
        code_text,
        title_en,
        title_zh,
    })
}

/// Draws `text` centred in `rect` (whose height is the nominal text size), shrinking
/// it down to [`MIN_TEXT_SCALE`] if it is too wide.
fn draw_centered(
    bitmap: &mut Bitmap,
    font: &Font,
    rect: Rect,
    text: &str,
    what: &str,
) -> Result<(), LabelError> {
    let text_err = |source| LabelError::Text {
        what: what.to_owned(),
        text: text.to_owned(),
        source,
    };
    let nominal = rect.h as f32;
    let measured = font.measure(text, nominal).map_err(text_err)?;
    let px = if measured.width <= rect.w {
        nominal
    } else {
        // Width scales linearly with size; step down a little for rounding.
        let scaled = (nominal * rect.w as f32 / measured.width as f32 - 0.5).floor();
        if scaled < nominal * MIN_TEXT_SCALE {
            return Err(LabelError::TextTooLong {
                what: what.to_owned(),
                text: text.to_owned(),
                max_width_px: rect.w,
            });
        }
        scaled
    };
    let fitted = font.measure(text, px).map_err(text_err)?;
    if fitted.width > rect.w {
        return Err(LabelError::TextTooLong {
            what: what.to_owned(),
            text: text.to_owned(),
            max_width_px: rect.w,
        });
    }
    let x = rect.x + (rect.w - fitted.width) / 2;
    let y = rect.y + rect.h.saturating_sub(fitted.height) / 2;
    font.draw_text(bitmap, x as i32, y as i32, px, text)
        .map_err(text_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::code128::QUIET_ZONE_MODULES;
    use crate::label::text::tests::test_font;
    use rxing::BarcodeFormat;

    fn entry(code: &str, en: &str, zh: &str) -> SheetEntry {
        SheetEntry {
            code: code.to_owned(),
            title_en: en.to_owned(),
            title_zh: zh.to_owned(),
        }
    }

    fn station_entries() -> Vec<SheetEntry> {
        vec![
            entry("CMD-UNPACK", "Unpack parcel", "拆包"),
            entry("CMD-VOID", "Void last scan", "作废上一次扫描"),
            entry("OP-017", "Operator 017", "操作员 017"),
            entry("Z-GOOD", "Grade: good, back to stock", "良品，回库"),
            entry("Z-DAMAGED", "Grade: damaged", "残次品"),
            entry("LOC-20240517", "Shelf 2024-05-17", "货架 20240517"),
            entry("cmd-lower_case", "Lower case & symbols", "小写和符号"),
        ]
    }

    /// A full sheet like the station's: every command, the zones, a few operators.
    fn full_sheet_entries() -> Vec<SheetEntry> {
        let mut v = station_entries();
        for (code, en, zh) in [
            ("CMD-DONE", "Done", "完成"),
            ("CMD-REPRINT", "Reprint label", "重打标签"),
            ("CMD-CANCEL", "Cancel", "取消"),
            ("CMD-LOGOUT", "Log out", "退出登录"),
            ("CMD-KIND-CUSTOMER", "Customer return", "自退件"),
            ("CMD-KIND-CARRIER", "Carrier return", "在途退件"),
            ("CMD-KIND-REFUSED", "Refused at delivery", "拒收件"),
            ("CMD-VIS-MISSING", "Parts missing", "缺少配件"),
            ("CMD-CARD-YES", "Warranty card present", "有保修卡"),
            ("CMD-CARD-NO", "Warranty card missing", "无保修卡"),
            ("Z-PENDING", "Zone: pending", "待处理区"),
            ("Z-DEFECT", "Zone: defect", "残次区"),
            ("OP-101", "Operator 101", "操作员 101"),
        ] {
            v.push(entry(code, en, zh));
        }
        v
    }

    /// Decodes the PNG with the `png` crate into 8-bit gray (0 = black).
    fn png_to_gray(png_bytes: &[u8]) -> (Vec<u8>, u32, u32) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (buf, info.width, info.height)
    }

    fn crop(gray: &[u8], width: u32, r: Rect) -> Vec<u8> {
        let mut out = Vec::with_capacity((r.w * r.h) as usize);
        for y in r.y..r.y + r.h {
            let start = (y * width + r.x) as usize;
            out.extend_from_slice(&gray[start..start + r.w as usize]);
        }
        out
    }

    /// Renders, writes PNG, reads it back and decodes every cell with rxing.
    fn assert_sheet_decodes(page: PageSize, entries: &[SheetEntry], name: &str) {
        let font = test_font();
        let sheet =
            render_command_sheet_with(page, "Returns bench commands", "退货台命令", entries, &font)
                .unwrap();
        assert_eq!(sheet.cells.len(), entries.len());
        let png_bytes = sheet.bitmap.to_png().unwrap();
        if let Some(dir) = std::env::var_os("RETURNSD_LABEL_PREVIEW_DIR") {
            let path = std::path::Path::new(&dir).join(format!("{name}-{}dpi.png", page.dpi));
            std::fs::write(&path, &png_bytes).unwrap();
        }
        let (gray, width, height) = png_to_gray(&png_bytes);
        assert_eq!((width, height), (page.width_px, page.height_px));

        for (cell, e) in sheet.cells.iter().zip(entries) {
            assert_eq!(cell.code, e.code);
            // The whole cell (border, texts and all) goes to the decoder.
            let pixels = crop(&gray, width, cell.cell);
            let result = rxing::helpers::detect_in_luma(
                pixels,
                cell.cell.w,
                cell.cell.h,
                Some(BarcodeFormat::CODE_128),
            )
            .unwrap_or_else(|err| panic!("{} did not decode: {err:?}", e.code));
            assert_eq!(result.getText(), e.code);
            assert_eq!(*result.getBarcodeFormat(), BarcodeFormat::CODE_128);
        }
    }

    #[test]
    fn every_code_decodes_back_from_the_png_at_300_dpi() {
        assert_sheet_decodes(PageSize::A4_300DPI, &station_entries(), "short-sheet");
        assert_sheet_decodes(PageSize::A4_300DPI, &full_sheet_entries(), "full-sheet");
    }

    #[test]
    fn every_code_decodes_back_from_the_png_at_203_dpi() {
        assert_sheet_decodes(PageSize::A4_203DPI, &station_entries(), "short-sheet");
        assert_sheet_decodes(PageSize::A4_203DPI, &full_sheet_entries(), "full-sheet");
    }

    #[test]
    fn a4_300_dpi_page_and_scannable_geometry() {
        let font = test_font();
        let bmp = render_command_sheet("Commands", "命令", &station_entries(), &font).unwrap();
        assert_eq!(
            (bmp.width(), bmp.height(), bmp.dpi()),
            (2480, 3508, Some(300))
        );
        assert_eq!(
            PageSize::A4_203DPI,
            PageSize {
                width_px: 1678,
                height_px: 2374,
                dpi: 203
            }
        );

        let layouts = [PageSize::A4_300DPI, PageSize::A4_203DPI]
            .into_iter()
            .flat_map(|page| [(page, station_entries()), (page, full_sheet_entries())]);
        for (page, entries) in layouts {
            let sheet =
                render_command_sheet_with(page, "Commands", "命令", &entries, &font).unwrap();
            let bmp = &sheet.bitmap;
            for c in &sheet.cells {
                assert!(c.module_width >= 3, "{c:?}");
                if page.dpi == 300 {
                    assert!(c.module_width >= 4, "{c:?}");
                }
                // At least 10 mm tall; at least 120 px at 300 dpi.
                assert!(c.barcode.h as f32 * 25.4 / page.dpi as f32 >= 10.0, "{c:?}");
                if page.dpi == 300 {
                    assert!(c.barcode.h >= 120, "{c:?}");
                }
                // Quiet zones: at least 10 modules of white on both sides, bar height.
                let qz = QUIET_ZONE_MODULES * c.module_width;
                let b = c.barcode;
                assert_eq!(bmp.count_black_in(b.x, b.y, qz, b.h), 0, "{c:?}");
                assert_eq!(bmp.count_black_in(b.x + b.w - qz, b.y, qz, b.h), 0, "{c:?}");
                // Bars start right after the left quiet zone and end before the right.
                assert!(bmp.get(b.x + qz, b.y) && bmp.get(b.x + b.w - qz - 1, b.y + b.h - 1));
                // Everything stays inside the cell and the cell inside the page.
                for r in [c.barcode, c.code_text, c.title_en, c.title_zh] {
                    assert!(r.x >= c.cell.x && r.x + r.w <= c.cell.x + c.cell.w, "{c:?}");
                    assert!(r.y >= c.cell.y && r.y + r.h <= c.cell.y + c.cell.h, "{c:?}");
                }
                assert!(c.cell.x + c.cell.w <= page.width_px);
                assert!(c.cell.y + c.cell.h <= page.height_px);
            }
            // Two columns.
            assert_eq!(sheet.cells[0].cell.y, sheet.cells[1].cell.y);
            assert!(sheet.cells[1].cell.x > sheet.cells[0].cell.x);
            assert!(sheet.cells[2].cell.y > sheet.cells[0].cell.y);
        }
        // The station's 14 commands and 3 zones fit, with room to spare.
        assert_eq!(sheet_capacity(PageSize::A4_300DPI), 20);
        assert_eq!(sheet_capacity(PageSize::A4_203DPI), 20);
        assert_eq!(full_sheet_entries().len(), 20);
    }

    #[test]
    fn chinese_titles_put_ink_in_their_boxes() {
        let font = test_font();
        let entries = station_entries();
        let sheet = render_command_sheet_with(
            PageSize::A4_300DPI,
            "Commands",
            "退货台命令",
            &entries,
            &font,
        )
        .unwrap();
        let bmp = &sheet.bitmap;
        let ink = |r: Rect| bmp.count_black_in(r.x, r.y, r.w, r.h);
        // "退货台命令": five dense characters of about 88 px.
        assert!(
            ink(sheet.title_zh) > 5 * 400,
            "header: {}",
            ink(sheet.title_zh)
        );
        for (c, e) in sheet.cells.iter().zip(&entries) {
            let han = e.title_zh.chars().filter(|ch| !ch.is_ascii()).count() as u64;
            assert!(
                ink(c.title_zh) > han * 200,
                "{}: {} px of ink",
                e.code,
                ink(c.title_zh)
            );
            assert!(ink(c.title_en) > 200, "{}", e.code);
            assert!(ink(c.code_text) > 200, "{}", e.code);
        }
    }

    #[test]
    fn unsupported_barcode_character_is_an_error_not_a_panic() {
        let font = test_font();
        for code in ["CMD-拆包", "CMD\tX", "ÉCHO", ""] {
            let err = render_command_sheet(
                "Commands",
                "命令",
                &[entry("CMD-OK", "Ok", "好"), entry(code, "Bad", "坏")],
                &font,
            )
            .unwrap_err();
            assert!(matches!(err, LabelError::Barcode { .. }), "{code:?}: {err}");
            assert!(err.to_string().contains(&format!("{code:?}")), "{err}");
        }
    }

    #[test]
    fn rejects_sheets_that_cannot_be_laid_out() {
        let font = test_font();
        let render = |entries: &[SheetEntry]| render_command_sheet("C", "命令", entries, &font);
        assert!(matches!(render(&[]), Err(LabelError::NoEntries)));

        let many: Vec<_> = (0..=sheet_capacity(PageSize::A4_300DPI))
            .map(|i| entry(&format!("OP-{i:03}"), "Operator", "操作员"))
            .collect();
        let err = render(&many).unwrap_err();
        assert!(matches!(err, LabelError::TooManyEntries { .. }), "{err}");
        assert!(err.to_string().contains("split"), "{err}");
        // Exactly the capacity fits.
        assert!(render(&many[1..]).is_ok());

        let dup = [entry("Z-GOOD", "a", "甲"), entry("Z-GOOD", "b", "乙")];
        assert!(matches!(
            render(&dup),
            Err(LabelError::DuplicateCode { .. })
        ));

        let long = entry(&"X".repeat(40), "Long", "长");
        let err = render(&[long]).unwrap_err();
        assert!(matches!(err, LabelError::CodeTooWide { .. }), "{err}");

        let wordy = entry("CMD-X", &"Very long title ".repeat(8), "长");
        assert!(matches!(
            render(&[wordy]),
            Err(LabelError::TextTooLong { .. })
        ));

        let a_bit_long = entry(
            "CMD-X",
            "Return to supplier and notify the shop",
            "退回供应商",
        );
        assert!(render(&[a_bit_long]).is_ok(), "shrunk to fit");

        let glyphless = entry("CMD-X", "Ok", "好\u{10FFFD}");
        let err = render(&[glyphless]).unwrap_err();
        assert!(matches!(err, LabelError::Text { .. }), "{err}");
        assert!(err.to_string().contains("Chinese title of CMD-X"), "{err}");
    }

    #[test]
    fn degenerate_pages_are_errors_not_panics() {
        let font = test_font();
        let one = [entry("CMD-UNPACK", "Unpack", "拆包")];
        for page in [
            PageSize {
                width_px: 100,
                height_px: 100,
                dpi: 300,
            },
            PageSize {
                width_px: 2480,
                height_px: 3508,
                dpi: 0,
            },
            PageSize {
                width_px: 0,
                height_px: 0,
                dpi: 300,
            },
            PageSize::a4(100_000),
            PageSize::a4(72),
        ] {
            let result = render_command_sheet_with(page, "C", "命令", &one, &font);
            assert!(result.is_err(), "{page:?} should not fit");
        }
        // A 600 dpi A4 is fine and its barcodes are at least as wide.
        let sheet = render_command_sheet_with(PageSize::a4(600), "C", "命令", &one, &font).unwrap();
        assert!(sheet.cells[0].module_width >= 8);
    }
}
