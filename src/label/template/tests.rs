//! Tests of template loading, validation and filling.

use super::*;
use crate::label::code128::{self, QUIET_ZONE_MODULES};
use crate::label::model::Element;
use crate::label::qr;

const MINIMAL: &str = r#"
width_mm = 50
height_mm = 30
[fields]
id = "text"
reasons = "list"
[[elements]]
type = "text"
x = 2
y = 2
size = 3
text = "Id {id}"
[[elements]]
type = "lines"
x = 2
y = 6
size = 3
spacing = 3.5
max_lines = 3
text = "- {reasons}"
overflow = "+{more}"
[[elements]]
type = "code128"
x = 1
y = 18
w = 48
height = 8
module = 0.25
data = "{id}"
"#;

fn invalid(text: &str) -> (String, String) {
    match Template::parse("t", "t.toml", text) {
        Err(TemplateError::Invalid { file, key, problem }) => {
            assert_eq!(file, "t.toml");
            (key, problem)
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// Every built-in template for each field set a caller passes.
fn sample_fields(name: &str) -> Fields {
    match name {
        "return_label" => Fields::new()
            .text("return_id", "R-ST01-20261125-0042")
            .text("customer_name", "张三丰")
            .text("order_no", "SO2026112500042")
            .text("kind", "退货 Return")
            .text("date", "2026-11-25")
            .text("station", "ST01"),
        "defect_tag" => Fields::new()
            .text("return_id", "R-ST01-20261125-0042")
            .text("item_no", "1")
            .text("sku", "SKU-778899")
            .list("defect_reasons", ["划痕 Scratch", "缺配件 Missing part"])
            .text("inspector", "021")
            .text("date", "2026-11-25"),
        "rtv_note" => Fields::new()
            .text("note_no", "RTV-ST01-20261125-0001")
            .text("vendor", "深圳市某某电子有限公司")
            .text("item_count", "12")
            .text("date", "2026-11-25")
            .text("station", "ST01"),
        "command_label" => Fields::new()
            .text("code", "CMD-KIND-CUSTOMER")
            .text("title_zh", "客户退货")
            .text("title_en", "Customer return"),
        other => panic!("no sample for {other}"),
    }
}

#[test]
fn builtins_load_and_declare_their_fields() {
    let t = Templates::builtin().unwrap();
    let names: Vec<&str> = t.names().collect();
    assert_eq!(
        names,
        ["command_label", "defect_tag", "return_label", "rtv_note"]
    );
    let fields = |n: &str| -> Vec<String> { t.get(n).unwrap().fields().keys().cloned().collect() };
    assert_eq!(
        fields("return_label"),
        [
            "customer_name",
            "date",
            "kind",
            "order_no",
            "return_id",
            "station"
        ]
    );
    assert_eq!(
        fields("defect_tag"),
        [
            "date",
            "defect_reasons",
            "inspector",
            "item_no",
            "return_id",
            "sku"
        ]
    );
    assert_eq!(
        fields("rtv_note"),
        ["date", "item_count", "note_no", "station", "vendor"]
    );
    assert_eq!(fields("command_label"), ["code", "title_en", "title_zh"]);
}

/// Every element of every built-in, filled with realistic data, lies inside the label;
/// barcodes keep their quiet zones inside their space and use at least one dot per
/// module; the Code 128 stays above the QR code's square.
#[test]
fn builtins_fill_inside_the_label_with_quiet_zones() {
    let set = Templates::builtin().unwrap();
    for name in set.names() {
        for dpi in [203, 300] {
            let l = set.fill(name, &sample_fields(name), dpi).unwrap();
            let (w, h) = (l.width_dots(), l.height_dots());
            let qr_square = l.elements.iter().find_map(|e| match e {
                Element::Qr { x, y, module, data } => {
                    let n = qr::symbol_modules(data).unwrap() * module;
                    let q = qr::QUIET_ZONE_MODULES * module;
                    Some((x - q, y - q, x + n + q, y + n + q))
                }
                _ => None,
            });
            let (qx0, qy0, qx1, qy1) = qr_square.expect("every built-in has a QR code");
            assert!(qx1 <= w && qy1 <= h, "{name} {dpi}: QR outside");
            for e in &l.elements {
                match e {
                    Element::Text { x, y, size, .. } => {
                        assert!(*x < w && y + size <= h, "{name} {dpi}: {e:?}");
                        assert!(*x < qx0, "{name} {dpi}: {e:?} starts in the QR column");
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
                        let bars = code128::width_in_modules(&code128::encode(data).unwrap());
                        let quiet = QUIET_ZONE_MODULES * module;
                        assert!(
                            *x >= quiet && x + bars * module + quiet <= w,
                            "{name} {dpi}"
                        );
                        assert!(y + height <= h);
                        assert!(*module >= code128::min_module_dots(dpi), "{name} {dpi}");
                        assert!(y + height <= qy0, "{name} {dpi}: barcode over QR");
                    }
                    Element::Qr { module, .. } => assert!(*module >= 2, "{name} {dpi}"),
                }
            }
        }
    }
}

#[test]
fn fill_substitutes_and_truncates() {
    let t = Template::parse("t", "t.toml", MINIMAL).unwrap();
    let f = Fields::new()
        .text("id", "R-1")
        .list("reasons", ["a", "b", "c", "d"]);
    let l = t.fill(&f, 203).unwrap();
    let texts = texts_of(&l);
    assert_eq!(texts, ["Id R-1", "- a", "- b", "+2"]);
    let ys: Vec<u32> = l
        .elements
        .iter()
        .filter_map(|e| match e {
            Element::Text { y, .. } => Some(*y),
            _ => None,
        })
        .collect();
    assert_eq!(ys, [16, 48, 76, 104]);
    let three = Fields::new()
        .text("id", "R-1")
        .list("reasons", ["a", "b", "c"]);
    assert_eq!(t.fill(&three, 203).unwrap().elements.len(), 5);
    let none = Fields::new()
        .text("id", "R-1")
        .list("reasons", Vec::<String>::new());
    assert_eq!(t.fill(&none, 203).unwrap().elements.len(), 2);
}

#[test]
fn fill_errors_name_the_field() {
    let t = Template::parse("t", "t.toml", MINIMAL).unwrap();
    let e = t.fill(&Fields::new().text("id", "x"), 203).unwrap_err();
    assert!(
        matches!(&e, TemplateError::MissingField { field, .. } if field == "reasons"),
        "{e}"
    );
    let e = t
        .fill(&Fields::new().list("id", ["x"]).list("reasons", ["y"]), 203)
        .unwrap_err();
    assert!(
        matches!(&e, TemplateError::WrongKind { field, .. } if field == "id"),
        "{e}"
    );
    let long = "A".repeat(60);
    let e = t
        .fill(&Fields::new().text("id", long).list("reasons", ["y"]), 203)
        .unwrap_err();
    assert!(
        matches!(e, TemplateError::DoesNotFit { element: 2, .. }),
        "{e}"
    );
    let e = Templates::builtin().unwrap().get("nope").unwrap_err();
    assert!(e.to_string().contains("return_label"), "{e}");
}

#[test]
fn code128_module_shrinks_to_fit_and_centres() {
    let t = Template::parse(
        "t",
        "t.toml",
        &MINIMAL.replace("module = 0.25", "module = 0.5"),
    )
    .unwrap();
    for (id, dpi, module) in [
        ("R-1", 203, 4),
        ("R-1", 300, 6),
        ("R-ST01-0042", 203, 2),
        ("R-ST01-0042", 300, 3),
    ] {
        let l = t
            .fill(&Fields::new().text("id", id).list("reasons", ["y"]), dpi)
            .unwrap();
        let Some(Element::Barcode128 { x, module: m, .. }) = l.elements.last() else {
            panic!("{l:?}")
        };
        assert_eq!(*m, module, "{id} at {dpi}");
        let bars = code128::Plan::new(id).unwrap().width_modules() * m;
        let (left, right) = (
            crate::label::model::dots_um(1000, dpi),
            crate::label::model::dots_um(49_000, dpi),
        );
        assert!((x - left).abs_diff(right - (x + bars)) <= 1, "not centred");
    }
}

/// A code too long for its element at 0.25 mm per module is refused, naming the widths;
/// it is never printed with narrower bars. A template asking for narrower bars does not
/// load.
#[test]
fn code128_never_goes_below_a_quarter_millimetre() {
    let t = Template::parse("t", "t.toml", MINIMAL).unwrap();
    for dpi in [203, 300] {
        let fields = Fields::new()
            .text("id", "R-ST01-20261125-0042")
            .list("reasons", ["y"]);
        let e = t.fill(&fields, dpi).unwrap_err();
        let TemplateError::DoesNotFit {
            element: 2,
            problem,
            ..
        } = &e
        else {
            panic!("{e}")
        };
        let min = code128::min_module_dots(dpi);
        assert!(problem.contains("242 modules"), "{problem}");
        assert!(
            problem.contains(&format!("{} dots", 242 * min)),
            "{problem}"
        );
        assert!(problem.contains("0.25 mm"), "{problem}");
    }
    let (key, problem) = invalid(&MINIMAL.replace("module = 0.25", "module = 0.125"));
    assert_eq!(key, "elements[2].module");
    assert!(problem.contains("at least 0.25 mm"), "{problem}");
}

#[test]
fn unknown_keys_are_rejected_with_their_place() {
    let (key, problem) =
        invalid(&MINIMAL.replace("size = 3\ntext = \"Id", "colour = 1\nsize = 3\ntext = \"Id"));
    assert_eq!(key, "elements[0]");
    assert!(problem.contains("colour"), "{problem}");
    let (key, problem) = invalid(&format!("{MINIMAL}\nmargin = 1\n"));
    assert!(problem.contains("margin"), "{key}: {problem}");
    let (key, problem) = invalid(&MINIMAL.replace("type = \"code128\"", "type = \"ean13\""));
    assert_eq!(key, "elements[2].type");
    assert!(problem.contains("ean13"), "{problem}");
}

#[test]
fn placeholders_are_checked_against_the_fields() {
    let (key, problem) = invalid(&MINIMAL.replace("Id {id}", "Id {idd}"));
    assert_eq!(key, "elements[0].text");
    assert!(
        problem.contains("{idd}") && problem.contains("id, reasons"),
        "{problem}"
    );
    let (key, problem) = invalid(&MINIMAL.replace("Id {id}", "Id {reasons}"));
    assert_eq!(key, "elements[0].text");
    assert!(problem.contains("list"), "{problem}");
    let (key, _) = invalid(&MINIMAL.replace("- {reasons}", "- {id}"));
    assert_eq!(key, "elements[1].text");
    let (key, _) = invalid(&MINIMAL.replace("+{more}", "+{id}"));
    assert_eq!(key, "elements[1].overflow");
    let (key, _) = invalid(&MINIMAL.replace("data = \"{id}\"", "data = \"{reasons}\""));
    assert_eq!(key, "elements[2].data");
    let (key, _) = invalid(&MINIMAL.replace("Id {id}", "Id {id"));
    assert_eq!(key, "elements[0].text");
    let (key, _) = invalid(&MINIMAL.replace("id = \"text\"", "id = \"number\""));
    assert_eq!(key, "fields.id");
}

#[test]
fn geometry_is_checked() {
    let (key, problem) = invalid(&MINIMAL.replace("y = 18", "y = 25"));
    assert_eq!(key, "elements[2].y");
    assert!(problem.contains("30 mm"), "{problem}");
    let (key, _) = invalid(&MINIMAL.replace("w = 48", "w = 60"));
    assert_eq!(key, "elements[2].x");
    let (key, _) = invalid(&MINIMAL.replace("max_lines = 3", "max_lines = 8"));
    assert_eq!(key, "elements[1].y");
    let (key, _) = invalid(&MINIMAL.replace("spacing = 3.5", "spacing = 2"));
    assert_eq!(key, "elements[1].spacing");
    let (key, _) = invalid(&MINIMAL.replace("module = 0.25", "module = 0"));
    assert_eq!(key, "elements[2].module");
    let (key, _) = invalid(&MINIMAL.replace("width_mm = 50", "width_mm = 50.5"));
    assert_eq!(key, "width_mm");
    let (key, _) = invalid(&MINIMAL.replace("x = 2\ny = 2", "x = -2\ny = 2"));
    assert_eq!(key, "elements[0].x");
    let (key, _) = invalid("width_mm = [");
    assert_eq!(key, "-");
}

#[test]
fn a_directory_overrides_the_builtins() {
    let dir = tempfile::tempdir().unwrap();
    let mut own = BUILTIN[0].1.replace("Order {order_no}", "订单 {order_no}");
    std::fs::write(dir.path().join("return_label.toml"), &own).unwrap();
    std::fs::write(dir.path().join("shelf.toml"), MINIMAL).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a template").unwrap();
    let set = Templates::load(Some(dir.path())).unwrap();
    assert_eq!(set.names().count(), 5);
    let l = set
        .fill("return_label", &sample_fields("return_label"), 203)
        .unwrap();
    assert!(
        l.elements
            .iter()
            .any(|e| matches!(e, Element::Text { text, .. } if text == "订单 SO2026112500042"))
    );
    assert_eq!(
        Templates::load(None).unwrap(),
        *Templates::builtin().unwrap()
    );

    // An override may not take a field the station never gives.
    own = own.replace("station = \"text\"", "station = \"text\"\nphone = \"text\"");
    std::fs::write(dir.path().join("return_label.toml"), &own).unwrap();
    let e = Templates::load(Some(dir.path())).unwrap_err();
    assert!(
        matches!(&e, TemplateError::Invalid { key, .. } if key == "fields.phone"),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("return_label.toml") && msg.contains("phone"),
        "{msg}"
    );

    let e = Templates::load(Some(&dir.path().join("missing"))).unwrap_err();
    assert!(matches!(e, TemplateError::Io { .. }), "{e}");
}

#[test]
fn command_label_takes_a_sheet_entry() {
    let entry = crate::label::sheet::SheetEntry {
        code: "CMD-UNPACK".into(),
        title_en: "Unpack".into(),
        title_zh: "拆包".into(),
    };
    let l = Templates::builtin()
        .unwrap()
        .fill("command_label", &Fields::from(&entry), 203)
        .unwrap();
    assert!(
        l.elements
            .iter()
            .any(|e| matches!(e, Element::Qr { data, .. } if data == "CMD-UNPACK"))
    );
}

/// The texts of a label's text elements, in order.
fn texts_of(l: &crate::label::model::Label) -> Vec<&str> {
    l.elements
        .iter()
        .filter_map(|e| match e {
            Element::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The built-in return label: 100 × 50 mm, and its texts in order (kind as title, the
/// return id, the customer, `Order <no>`, date and station).
#[test]
fn the_builtin_return_label_says_what_a_keeper_reads() {
    let l = crate::label::fixtures::return_label("张三", 203);
    assert_eq!((l.width_mm, l.height_mm, l.dpi), (100, 50, 203));
    assert_eq!((l.width_dots(), l.height_dots()), (799, 400));
    let texts = texts_of(&l);
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

/// An unannounced parcel has no order: the label leaves the order line off instead of
/// printing "Order" with nothing after it; a line with one of its fields given stays.
#[test]
fn a_line_whose_fields_are_all_empty_is_left_off() {
    let fields = Fields::new()
        .text("return_id", "R-20250101-0001")
        .text("customer_name", "")
        .text("order_no", "")
        .text("kind", "退货 Return")
        .text("date", "2025-01-01")
        .text("station", "");
    let l = Templates::builtin()
        .and_then(|t| t.fill("return_label", &fields, 203))
        .unwrap();
    assert_eq!(
        texts_of(&l),
        ["退货 Return", "R-20250101-0001", "2025-01-01  "],
        "no order line, no empty name line; the date line keeps its given field"
    );
}
