//! `returnsd commands --out sheet.png` writes a sheet whose every barcode scans back to the
//! station's own command and zone codes, and those codes drive the bench.

use std::process::Command;

use returnsd::label::sheet::{PageSize, render_command_sheet_with};
use returnsd::label::text::Font;

use crate::support::BIN;

fn png_to_gray(png_bytes: &[u8]) -> (Vec<u8>, u32, u32) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (buf, info.width, info.height)
}

/// Every code on the printed sheet decodes (independent decoder) to a code the grammar
/// classifies as the command or zone it is titled with.
#[test]
fn command_sheet_scans_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sheet.png");
    let run = Command::new(BIN)
        .args(["commands", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (gray, w, h) = png_to_gray(&std::fs::read(&out).unwrap());
    assert_eq!((w, h), (2480, 3508), "A4 at 300 dpi");

    // The layout is deterministic: render it again to learn where each cell is.
    let font = Font::load_default().unwrap();
    let entries = returnsd::sheet::entries();
    let layout = render_command_sheet_with(PageSize::A4_300DPI, "t", "t", &entries, &font).unwrap();
    let grammar = returnsd::domain::scan::ScanGrammar::new(
        &returnsd::domain::scan::ScanGrammar::default_couriers(),
        4096,
    )
    .unwrap();
    assert_eq!(layout.cells.len(), entries.len());
    for (cell, e) in layout.cells.iter().zip(&entries) {
        let r = cell.cell;
        let mut pixels = Vec::with_capacity((r.w * r.h) as usize);
        for y in r.y..r.y + r.h {
            let start = (y * w + r.x) as usize;
            pixels.extend_from_slice(&gray[start..start + r.w as usize]);
        }
        let got =
            rxing::helpers::detect_in_luma(pixels, r.w, r.h, Some(rxing::BarcodeFormat::CODE_128))
                .unwrap_or_else(|err| panic!("{} did not decode: {err:?}", e.code));
        assert_eq!(got.getText(), e.code);
        let class = grammar.classify(got.getText().as_bytes()).class;
        assert!(
            matches!(
                class,
                returnsd::domain::scan::ScanClass::Command(_)
                    | returnsd::domain::scan::ScanClass::Zone(_)
            ),
            "{} is a command or zone code: {class:?}",
            e.code
        );
    }
}
