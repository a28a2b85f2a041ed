//! Barcodes by the printer's rules: every shipped template (`config/labels/*.toml`),
//! filled with the longest realistic data, rendered for ZPL and TSPL printers at 203 and
//! 300 dpi. Each Code 128 is measured twice:
//!
//! * from the printer command itself: the `^BY`/`^BC`/`^FD` (ZPL) or `BARCODE …"128M"`
//!   (TSPL) parameters read here the way the printer reads them — invocation or `!`
//!   codes, set B characters, set C digit pairs — into bar widths in dots;
//! * from the preview of the job bytes (labelize draws the ZPL itself; TSPL `128M` is
//!   drawn from its control codes): the dark runs across the middle of the bars.
//!
//! Both must agree; the narrowest bar must be at least 0.25 mm (2 dots at 203 dpi, 3 at
//! 300), the bars and a quiet zone of 10 modules on each side must lie inside the box the
//! template gives the barcode, and the preview must decode to the data.

use std::path::Path;

use returnsd::label::code128::{self, QUIET_ZONE_MODULES};
use returnsd::label::model::{Element, Label, Language};
use returnsd::label::preview::render_png;
use returnsd::label::template::{Fields, Templates};
use returnsd::label::text::Font;
use rxing::BarcodeFormat;

use super::labels::{decode, luma};

/// The longest return id a realistic station prints: an 8-character station id, a full
/// date and a 4-digit daily number.
const LONG_RETURN_ID: &str = "R-BENCH-12-20261231-9999";

/// The longest data each shipped template's Code 128 carries, and the fields around it
/// (a 20-character waybill-like order number, long Chinese names).
fn long_fields(template: &str) -> (Fields, String) {
    match template {
        "return_label" => (
            Fields::new()
                .text("return_id", LONG_RETURN_ID)
                .text("customer_name", "欧阳娜娜娜娜娜娜娜娜娜娜娜")
                .text("order_no", "SF1234567890123456789")
                .text("kind", "退货 Return")
                .text("date", "2026-12-31")
                .text("station", "BENCH-12"),
            LONG_RETURN_ID.to_owned(),
        ),
        "defect_tag" => (
            Fields::new()
                .text("return_id", LONG_RETURN_ID)
                .text("item_no", "12")
                .text("sku", "SKU-7788990011223344")
                .list("defect_reasons", ["划痕 Scratch", "缺配件 Missing part"])
                .text("inspector", "021")
                .text("date", "2026-12-31"),
            format!("{LONG_RETURN_ID}.12"),
        ),
        "rtv_note" => (
            Fields::new()
                .text("note_no", "RTV-BENCH-12-20261231-0001")
                .text("vendor", "深圳市某某电子有限公司")
                .text("item_count", "12")
                .text("date", "2026-12-31")
                .text("station", "BENCH-12"),
            "RTV-BENCH-12-20261231-0001".to_owned(),
        ),
        "command_label" => (
            Fields::new()
                .text("code", "CMD-KIND-CUSTOMER")
                .text("title_zh", "客户退货")
                .text("title_en", "Customer return"),
            "CMD-KIND-CUSTOMER".to_owned(),
        ),
        other => panic!("{other}.toml is shipped: give it long data here"),
    }
}

/// The box a template gives its Code 128, in millimetres: (x, w).
fn code128_box_mm(template_file: &Path) -> (f64, f64) {
    let text = std::fs::read_to_string(template_file).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let elements = doc["elements"].as_array().unwrap();
    let e = elements
        .iter()
        .find(|e| e["type"].as_str() == Some("code128"))
        .unwrap_or_else(|| panic!("{template_file:?} has no code128"));
    let mm = |k: &str| e[k].as_float().or(e[k].as_integer().map(|i| i as f64));
    (mm("x").unwrap(), mm("w").unwrap())
}

fn dots(mm: f64, dpi: u32) -> u32 {
    (mm * f64::from(dpi) / 25.4).round() as u32
}

/// A barcode as the printer command describes it.
#[derive(Debug)]
struct Commanded {
    x: u32,
    y: u32,
    height: u32,
    module: u32,
    /// Element widths in modules: bar, space, …, as the printer reads the data.
    widths: Vec<u8>,
}

impl Commanded {
    fn width_dots(&self) -> u32 {
        code128::width_in_modules(&self.widths) * self.module
    }

    fn narrowest_bar_dots(&self) -> u32 {
        let narrowest = self.widths.iter().step_by(2).min().unwrap();
        u32::from(*narrowest) * self.module
    }
}

/// Symbol values → start, data, check value and stop → element widths.
fn finish(mut symbols: Vec<u8>) -> Vec<u8> {
    let check = code128::check_value(&symbols);
    symbols.extend([check, 106]);
    code128::widths_of_symbols(&symbols)
}

/// `^FOx,y^BYm^BCN,h,N,N,N^FD…^FS`, read as a Zebra reads `^BC` mode N field data.
fn read_zpl(job: &str) -> Commanded {
    let line = job.lines().find(|l| l.contains("^BC")).expect("a ^BC line");
    let nums = |s: &str| -> Vec<u32> { s.split(',').map(|n| n.parse().unwrap()).collect() };
    let (fo, rest) = line.strip_prefix("^FO").unwrap().split_once("^BY").unwrap();
    let (module, rest) = rest.split_once("^BCN,").unwrap();
    let (height, rest) = rest.split_once(",N,N,N^FD").expect("mode N, no text line");
    let data = rest.strip_suffix("^FS").unwrap().as_bytes();
    let mut symbols = Vec::new();
    let mut set_c = false;
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'>' {
            let v = match data[i + 1] {
                b':' => 104,
                b';' => 105,
                b'5' => 99,
                b'6' => 100,
                b'8' => 102,
                other => panic!("unexpected invocation >{}", char::from(other)),
            };
            if v != 102 {
                set_c = v == 105 || v == 99;
            }
            symbols.push(v);
            i += 2;
        } else {
            assert!(!symbols.is_empty(), "no start code before data: {line}");
            if set_c {
                let pair = std::str::from_utf8(&data[i..i + 2]).unwrap();
                symbols.push(pair.parse().unwrap());
                i += 2;
            } else {
                symbols.push(data[i] - 32);
                i += 1;
            }
        }
    }
    let fo = nums(fo);
    Commanded {
        x: fo[0],
        y: fo[1],
        height: height.parse().unwrap(),
        module: module.parse().unwrap(),
        widths: finish(symbols),
    }
}

/// `BARCODE x,y,"128M",h,0,0,narrow,wide,"…"`, read as a TSC printer reads manual
/// Code 128 (`!` and a three-digit code: start, switch, FNC1).
fn read_tspl(job: &[u8]) -> Commanded {
    let text = String::from_utf8_lossy(job);
    let line = text
        .split("\r\n")
        .find(|l| l.starts_with("BARCODE "))
        .expect("a BARCODE line");
    let (head, data) = line["BARCODE ".len()..].split_once(",\"128M\",").unwrap();
    let (params, content) = data.split_once(",\"").unwrap();
    let content = content.strip_suffix('"').unwrap().as_bytes();
    let p: Vec<u32> = params.split(',').map(|n| n.parse().unwrap()).collect();
    let xy: Vec<u32> = head.split(',').map(|n| n.parse().unwrap()).collect();
    assert_eq!(p[3], p[4], "narrow = wide for Code 128: {line}");
    let mut symbols = Vec::new();
    let mut set_c = false;
    let mut i = 0;
    while i < content.len() {
        if content[i] == b'!' {
            let v: u8 = std::str::from_utf8(&content[i + 1..i + 4])
                .unwrap()
                .parse()
                .unwrap();
            if v != 102 {
                set_c = v == 105 || v == 99;
            }
            symbols.push(v);
            i += 4;
        } else if set_c {
            let pair = std::str::from_utf8(&content[i..i + 2]).unwrap();
            symbols.push(pair.parse().unwrap());
            i += 2;
        } else {
            symbols.push(content[i] - 32);
            i += 1;
        }
    }
    Commanded {
        x: xy[0],
        y: xy[1],
        height: p[0],
        module: p[3],
        widths: finish(symbols),
    }
}

/// Dark runs `(start, length)` of row `y` between `x0` and `x1` of the preview.
fn dark_runs(gray: &[u8], w: u32, y: u32, x0: u32, x1: u32) -> Vec<(u32, u32)> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for x in x0..x1.min(w) {
        if gray[(y * w + x) as usize] >= 128 {
            continue;
        }
        match runs.last_mut() {
            Some((start, len)) if *start + *len == x => *len += 1,
            _ => runs.push((x, 1)),
        }
    }
    runs
}

/// One template in one language at one dpi: measured and decoded. Returns the
/// figures for the report line.
fn measure(template: &str, language: Language, dpi: u32, font: &Font) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/labels")
        .join(format!("{template}.toml"));
    let (fields, data) = long_fields(template);
    let label: Label = Templates::builtin()
        .unwrap()
        .fill(template, &fields, dpi)
        .unwrap_or_else(|e| panic!("{template} at {dpi} dpi: {e}"));
    let job = returnsd::label::render::render(language, &label, Some(font)).unwrap();
    let bc = match language {
        Language::Zpl => read_zpl(std::str::from_utf8(&job).unwrap()),
        Language::Tspl => read_tspl(&job),
    };
    let name = format!("{template} {language:?} {dpi} dpi");

    // The command: narrow bar ≥ 0.25 mm, bars and quiet zones inside the box.
    let (box_x, box_w) = code128_box_mm(&file);
    let (x0, x1) = (dots(box_x, dpi), dots(box_x + box_w, dpi));
    let min = code128::min_module_dots(dpi);
    assert!(bc.narrowest_bar_dots() >= min, "{name}: {bc:?}");
    assert!(
        f64::from(bc.narrowest_bar_dots()) * 25.4 / f64::from(dpi) >= 0.25,
        "{name}"
    );
    let quiet = QUIET_ZONE_MODULES * bc.module;
    assert!(bc.x >= x0 + quiet, "{name}: left quiet zone leaves the box");
    assert!(
        bc.x + bc.width_dots() + quiet <= x1,
        "{name}: {} + {} + {quiet} > {x1}: the barcode leaves its box",
        bc.x,
        bc.width_dots()
    );
    // The layout's plan is what the command spells out.
    let plan = code128::Plan::new(&data).unwrap();
    assert_eq!(bc.widths, plan.widths(), "{name}");

    // The preview of the same bytes: the bars drawn where and as wide as the command says.
    let png = render_png(&job, language, dpi, label.width_mm, label.height_mm).unwrap();
    let (gray, w, h) = luma(&png);
    // labelize centres a 300-dpi label (1181 dots) on its 12 dots/mm canvas (1200):
    // measure from the label's own border, where the template's box outline is. Across
    // the quiet zones and the bars, the only ink must be the bars.
    let border = label
        .elements
        .iter()
        .find_map(|e| match e {
            Element::Box { x, .. } => Some(*x),
            _ => None,
        })
        .expect("a border");
    let middle = bc.y + bc.height / 2;
    let shift = dark_runs(&gray, w, middle, 0, w)[0].0 - border;
    let (from, to) = (bc.x - quiet, bc.x + bc.width_dots() + quiet);
    let runs: Vec<(u32, u32)> = dark_runs(&gray, w, middle, from + shift, to + shift)
        .into_iter()
        .map(|(x, len)| (x - shift, len))
        .collect();
    let (first, last) = (runs.first().unwrap(), runs.last().unwrap());
    assert_eq!(first.0, bc.x, "{name}: first bar");
    assert_eq!(
        last.0 + last.1 - first.0,
        bc.width_dots(),
        "{name}: drawn width"
    );
    let drawn_narrowest = runs.iter().map(|r| r.1).min().unwrap();
    assert_eq!(
        drawn_narrowest,
        bc.narrowest_bar_dots(),
        "{name}: drawn bar"
    );
    let bars: u32 = bc.widths.iter().step_by(2).map(|&b| u32::from(b)).sum();
    let drawn_ink: u32 = runs.iter().map(|r| r.1).sum();
    assert_eq!(drawn_ink, bars * bc.module, "{name}: ink across the bars");
    assert_eq!(decode(&gray, w, h, BarcodeFormat::CODE_128), data, "{name}");

    let mm = |d: u32| f64::from(d) * 25.4 / f64::from(dpi);
    format!(
        "{name}: {data:?} narrowest bar {} dots ({:.3} mm), width with quiet zones {} dots \
         ({:.1} mm) in a box of {} dots ({:.1} mm)",
        bc.narrowest_bar_dots(),
        mm(bc.narrowest_bar_dots()),
        bc.width_dots() + 2 * quiet,
        mm(bc.width_dots() + 2 * quiet),
        x1 - x0,
        mm(x1 - x0),
    )
}

/// Every shipped template, both printer languages, 203 and 300 dpi, the longest data.
#[test]
fn every_shipped_barcode_is_wide_enough_fits_its_box_and_decodes() {
    let font = Font::load_default().expect("CJK font (fonts-wqy-microhei)");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/labels");
    let mut shipped: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let stem = p.file_stem()?.to_str()?.to_owned();
            (p.extension()? == "toml").then_some(stem)
        })
        .collect();
    shipped.sort();
    assert_eq!(
        shipped.len(),
        Templates::builtin().unwrap().names().count(),
        "{shipped:?}"
    );
    let mut report = Vec::new();
    for template in &shipped {
        for language in [Language::Zpl, Language::Tspl] {
            for dpi in [203, 300] {
                report.push(measure(template, language, dpi, &font));
            }
        }
    }
    // The figures, for the README and a human (cargo test -- --nocapture).
    println!("{}", report.join("\n"));
}

/// A station id long enough that its item labels cannot fit at 0.25 mm is refused when
/// the label is filled, naming the widths — never printed with narrower bars.
#[test]
fn an_id_too_long_for_the_box_is_refused_not_shrunk() {
    let long = "R-WAREHOUSE-NORTH-BENCH-12-20261231-9999";
    let fields = long_fields("defect_tag").0.text("return_id", long);
    for dpi in [203, 300] {
        let e = Templates::builtin()
            .unwrap()
            .fill("defect_tag", &fields, dpi)
            .unwrap_err()
            .to_string();
        assert!(e.contains("defect_tag") && e.contains("0.25 mm"), "{e}");
        assert!(e.contains("widen the element"), "{e}");
    }
}
