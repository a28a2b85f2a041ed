//! `returnsd commands --out sheet.png` writes a sheet whose every barcode scans back to the
//! station's own command and zone codes, and those codes drive the bench; with `--badges`
//! and `--bins` the configured operators' badges and bins' labels, on as many pages as
//! they take, scan back as those badges and bins.

use std::path::PathBuf;
use std::process::Command;

use returnsd::domain::ids::{Badge, BinCode};
use returnsd::domain::scan::{ScanClass, ScanGrammar, ZoneScan};
use returnsd::label::sheet::{PageSize, SheetEntry, render_command_sheet_with};
use returnsd::label::text::Font;

use crate::support::{BIN, Station};

fn png_to_gray(png_bytes: &[u8]) -> (Vec<u8>, u32, u32) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (buf, info.width, info.height)
}

/// Decode every cell of the sheet page `png` laid out for `entries`, each with an
/// independent decoder: the texts, in cell order.
fn decode_page(png: &std::path::Path, entries: &[SheetEntry]) -> Vec<String> {
    let (gray, w, h) = png_to_gray(&std::fs::read(png).unwrap());
    assert_eq!((w, h), (2480, 3508), "{}: A4 at 300 dpi", png.display());
    // The layout is deterministic: render it again to learn where each cell is.
    let font = Font::load_default().unwrap();
    let layout = render_command_sheet_with(PageSize::A4_300DPI, "t", "t", entries, &font).unwrap();
    assert_eq!(layout.cells.len(), entries.len());
    layout
        .cells
        .iter()
        .zip(entries)
        .map(|(cell, e)| {
            let r = cell.cell;
            let mut pixels = Vec::with_capacity((r.w * r.h) as usize);
            for y in r.y..r.y + r.h {
                let start = (y * w + r.x) as usize;
                pixels.extend_from_slice(&gray[start..start + r.w as usize]);
            }
            rxing::helpers::detect_in_luma(pixels, r.w, r.h, Some(rxing::BarcodeFormat::CODE_128))
                .unwrap_or_else(|err| panic!("{} did not decode: {err:?}", e.code))
                .getText()
                .to_string()
        })
        .collect()
}

fn grammar() -> ScanGrammar {
    ScanGrammar::new(&ScanGrammar::default_couriers(), 4096).unwrap()
}

/// Run `returnsd commands` with `args` writing `out`; the files it says it wrote.
fn commands(st: Option<&Station>, out: &std::path::Path, args: &[&str]) -> Vec<PathBuf> {
    let mut cmd = Command::new(BIN);
    if let Some(st) = st {
        cmd.arg("--config").arg(&st.config);
    }
    let run = cmd
        .arg("commands")
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|l| PathBuf::from(l.strip_suffix(": sheet written").expect(l)))
        .collect()
}

/// Every code on the printed sheet decodes (independent decoder) to a code the grammar
/// classifies as the command or zone it is titled with.
#[test]
fn command_sheet_scans_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sheet.png");
    assert_eq!(commands(None, &out, &[]), std::slice::from_ref(&out));
    let entries = returnsd::sheet::entries();
    let grammar = grammar();
    for (got, e) in decode_page(&out, &entries).iter().zip(&entries) {
        assert_eq!(got, &e.code);
        let class = grammar.classify(got.as_bytes()).class;
        assert!(
            matches!(class, ScanClass::Command(_) | ScanClass::Zone(_)),
            "{} is a command or zone code: {class:?}",
            e.code
        );
    }
}

/// `--badges` prints a badge per configured operator — 23 of them, more than a page
/// holds, so on two pages — and `--bins` a label per configured bin: every code on every
/// page decodes, and the bench reads it as that operator's badge or that bin.
#[test]
fn badge_and_bin_sheets_scan_back_as_badges_and_bins() {
    let mut extra = String::from(
        "\n[[zones.bins]]\ncode = \"D-07\"\nclass = \"defect\"\n\n[[zones.bins]]\ncode = \"R3-S2-LONG-BIN16\"\nclass = \"good\"\n",
    );
    for i in 0..20 {
        extra.push_str(&format!(
            "\n[[operators]]\nbadge = \"zhang_{i}\"\nname = \"W{i}\"\nroles = [\"inspector\", \"keeper\"]\n"
        ));
    }
    let st = Station::new(&extra);
    let grammar = grammar();

    let out = st.dir.path().join("badges.png");
    let files = commands(Some(&st), &out, &["--badges"]);
    assert_eq!(files, [out.clone(), st.dir.path().join("badges-2.png")]);
    let mut badges = Vec::new();
    for file in &files {
        badges.extend(decode_page(file, &page_entries(&files, file, &st)));
    }
    let mut want: Vec<String> = ["017", "021", "001"].map(String::from).to_vec();
    want.extend((0..20).map(|i| format!("zhang_{i}")));
    for (got, badge) in badges.iter().zip(&want) {
        assert_eq!(got, &format!("OP-{badge}"));
        assert_eq!(
            grammar.classify(got.as_bytes()).class,
            ScanClass::Badge(Badge::parse(badge).unwrap()),
            "{got}"
        );
    }
    assert_eq!(badges.len(), want.len());

    let out = st.dir.path().join("bins.png");
    let files = commands(Some(&st), &out, &["--bins"]);
    assert_eq!(files, std::slice::from_ref(&out));
    let bins = decode_page(&out, &page_entries(&files, &out, &st));
    assert_eq!(bins, ["Z-A01", "Z-D-07", "Z-R3-S2-LONG-BIN16"]);
    for got in &bins {
        let bin = BinCode::parse(&got[2..]).unwrap();
        assert_eq!(
            grammar.classify(got.as_bytes()).class,
            ScanClass::Zone(ZoneScan::Bin(bin)),
            "{got}"
        );
    }
}

/// The entries the CLI laid out on `file` (one of `files`): the sheet the station's
/// config gives, cut into pages as the CLI cuts it.
fn page_entries(files: &[PathBuf], file: &std::path::Path, st: &Station) -> Vec<SheetEntry> {
    let cfg = returnsd::config::load(&st.config).unwrap();
    let sheet = if file.to_string_lossy().contains("badges") {
        returnsd::sheet::Sheet::badges(
            cfg.operators
                .iter()
                .map(|o| (o.badge.as_str(), o.roles.clone())),
        )
        .unwrap()
    } else {
        returnsd::sheet::Sheet::Bins(cfg.zones.bins.clone())
    };
    let pages = returnsd::sheet::pages(&sheet).unwrap();
    assert_eq!(pages.len(), files.len(), "one file per page");
    let n = files.iter().position(|f| f == file).unwrap();
    pages[n].2.clone()
}
