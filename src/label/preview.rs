//! Label previews: the exact bytes sent to the printer (ZPL or TSPL), rendered to a PNG
//! by the labelize renderer, so a preview shows what the printer is told — not what
//! the model meant.
//!
//! labelize renders on a whole dots-per-millimetre grid: 203 dpi is 8 dots/mm
//! exactly, 300 dpi is drawn at 12 dots/mm (11.81 really). Coordinates are dots in
//! both, so a 300-dpi preview is about 1.6 % larger than the label with the extra
//! margin at the right and bottom; nothing moves relative to anything else.
//!
//! What labelize does with what we send (checked by the end-to-end label tests, which
//! decode the barcodes of the previews):
//! * ZPL `^GFA` (our Chinese text) and TSPL `BITMAP` (0 bits black, as TSC printers
//!   print) render as sent.
//! * ZPL `^BQ` symbols start [`QR_TOP_OFFSET`](super::zpl::QR_TOP_OFFSET) dots below
//!   their `^FO`, as on Zebra printers; our ZPL renderer raises the `^FO` by that much,
//!   so ZPL and TSPL put the QR code at the same place.
//! * TSPL `DIRECTION 0` (what we send) is drawn by labelize rotated by 180°, the
//!   way the label comes out of a TSC printer head first; previews turn that off
//!   (`enable_inverted_labels: false`) and show every label the way it reads on the
//!   parcel. Nothing else about the bytes changes.
//! * TSPL `"128M"` barcodes (ours: the subsets spelled out with `!` control codes) are
//!   read by labelize as automatic `"128"`, control codes printed as data. The preview
//!   draws them itself, from the control codes as a TSC printer reads them
//!   ([`tspl::manual_128_symbols`]), as a `BITMAP` at the barcode's place: the bars the
//!   printer draws, module for module.
//! * Printer-resident fonts are labelize's stand-ins (ZPL font 0, TSPL fonts 1–5), so
//!   ASCII text widths are close to, not exactly, a real printer's.

use std::io::Cursor;

use thiserror::Error;

use super::bitmap::Bitmap;
use super::code128;
use super::model::Language;
use super::tspl;

/// Why a preview could not be rendered.
#[derive(Debug, Error)]
pub enum PreviewError {
    /// The renderer could not parse the job.
    #[error("preview: cannot parse the {language:?} job: {message}")]
    Parse {
        /// The job's language.
        language: Language,
        /// labelize's message.
        message: String,
    },
    /// The job holds no label.
    #[error("preview: the {0:?} job holds no label")]
    Empty(Language),
    /// The renderer failed.
    #[error("preview: rendering failed: {0}")]
    Render(String),
    /// The resolution or label size is not usable.
    #[error("preview: {0}")]
    BadSize(String),
}

/// Renders the printer job `bytes` (in `language`, for a printer at `dpi`, on labels of
/// `width_mm` × `height_mm`) to a PNG. Only the job's first label is drawn.
///
/// # Errors
/// [`PreviewError::BadSize`] for a zero size or a resolution below 1 dot/mm;
/// [`PreviewError::Parse`] / [`PreviewError::Empty`] when labelize cannot read the job;
/// [`PreviewError::Render`] when drawing fails.
pub fn render_png(
    bytes: &[u8],
    language: Language,
    dpi: u32,
    width_mm: u32,
    height_mm: u32,
) -> Result<Vec<u8>, PreviewError> {
    let dpmm = i32::try_from((u64::from(dpi) * 10 + 127) / 254).unwrap_or(i32::MAX);
    if !(1..=48).contains(&dpmm) {
        return Err(PreviewError::BadSize(format!(
            "{dpi} dpi is not a label printer's resolution"
        )));
    }
    if width_mm == 0 || height_mm == 0 || width_mm > 1000 || height_mm > 1000 {
        return Err(PreviewError::BadSize(format!(
            "a {width_mm} × {height_mm} mm label is not printable"
        )));
    }
    let lz = match language {
        Language::Zpl => labelize::Language::Zpl,
        Language::Tspl => labelize::Language::Tspl,
    };
    let drawn;
    let bytes = if language == Language::Tspl {
        drawn = draw_manual_128(bytes)?;
        &drawn[..]
    } else {
        bytes
    };
    let labels = labelize::parse_labels(lz, bytes, dpmm).map_err(|e| PreviewError::Parse {
        language,
        message: e.to_string(),
    })?;
    let label = labels.first().ok_or(PreviewError::Empty(language))?;
    let options = labelize::DrawerOptions {
        label_width_mm: f64::from(width_mm),
        label_height_mm: f64::from(height_mm),
        dpmm,
        // Draw the label the way it reads: labelize would show TSPL `DIRECTION 0`
        // (ours) rotated by 180°, as the label leaves the printer.
        enable_inverted_labels: false,
        ..labelize::DrawerOptions::default()
    };
    let mut png = Cursor::new(Vec::new());
    labelize::Renderer::new()
        .draw_label_as_png(label, &mut png, options)
        .map_err(PreviewError::Render)?;
    Ok(png.into_inner())
}

/// The TSPL job with every `BARCODE …,"128M",…` line replaced by a `BITMAP` of its bars
/// (see the module docs); every other byte as it was.
fn draw_manual_128(job: &[u8]) -> Result<Vec<u8>, PreviewError> {
    let bad = |what: &str| PreviewError::Parse {
        language: Language::Tspl,
        message: what.to_owned(),
    };
    let mut out = Vec::with_capacity(job.len());
    let mut rest = job;
    while !rest.is_empty() {
        let end = if rest.starts_with(b"BITMAP ") {
            // x,y,width_bytes,height,mode, then width_bytes × height raw bytes.
            let head_end = rest
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b',')
                .nth(4)
                .map(|(i, _)| i)
                .ok_or_else(|| bad("BITMAP header"))?;
            let head = std::str::from_utf8(&rest[7..head_end]).map_err(|_| bad("BITMAP"))?;
            let n: Vec<usize> = head.split(',').filter_map(|v| v.parse().ok()).collect();
            let len = n.get(2).zip(n.get(3)).map(|(w, h)| w * h);
            (head_end + 1 + len.ok_or_else(|| bad("BITMAP size"))?).min(rest.len())
        } else {
            rest.windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or(rest.len())
        };
        let (command, tail) = rest.split_at(end);
        match std::str::from_utf8(command)
            .ok()
            .and_then(manual_128_bitmap)
        {
            Some(bitmap) => out.extend(bitmap?),
            None => out.extend_from_slice(command),
        }
        rest = tail;
        let crlf = rest.len().min(2);
        out.extend_from_slice(&rest[..crlf]);
        rest = &rest[crlf..];
    }
    Ok(out)
}

/// `BARCODE x,y,"128M",height,0,0,narrow,wide,"content"` as a `BITMAP` command (without
/// its CRLF); `None` for any other command.
fn manual_128_bitmap(line: &str) -> Option<Result<Vec<u8>, PreviewError>> {
    let args = line.strip_prefix("BARCODE ")?;
    let (head, content) = args.split_once(",\"128M\",")?;
    let (x, y) = head.split_once(',')?;
    let mut params = content.splitn(5, ',');
    let num = |v: Option<&str>| v.and_then(|v| v.trim().parse::<u32>().ok());
    let height = num(params.next());
    let (_readable, _rotation) = (params.next(), params.next());
    let narrow = num(params.next());
    let data = params.next()?.split_once(",\"")?.1.strip_suffix('"')?;
    let symbols = tspl::manual_128_symbols(data)?;
    let widths = code128::widths_of_symbols(&symbols);
    let (height, narrow) = (height?, narrow?);
    let mut bmp = match Bitmap::new(code128::width_in_modules(&widths) * narrow, height) {
        Ok(b) => b,
        Err(e) => return Some(Err(PreviewError::Render(e.to_string()))),
    };
    let mut at = 0;
    for (i, w) in widths.iter().map(|&w| u32::from(w) * narrow).enumerate() {
        if i % 2 == 0 {
            bmp.fill_rect(at, 0, w, height, true);
        }
        at += w;
    }
    let mut cmd = format!("BITMAP {x},{y},{},{height},0,", bmp.row_bytes()).into_bytes();
    if tspl::BITMAP_ZERO_IS_BLACK {
        cmd.extend(bmp.as_bytes().iter().map(|b| !b));
    } else {
        cmd.extend_from_slice(bmp.as_bytes());
    }
    Some(Ok(cmd))
}
