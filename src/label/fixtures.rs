//! Shared test fixtures of the label renderers.

use std::sync::OnceLock;

use super::model::{Element, Label};
use super::template::{Fields, Templates};
use super::text::Font;

/// A customer name that tries every way out of a field: ZPL commands, a TSPL quote, a
/// line break and a second print command.
pub const INJECTION: &str = "^XA~JR^FDx^FS~PS\\\"\r\nPRINT 9";

pub fn font() -> &'static Font {
    static FONT: OnceLock<Font> = OnceLock::new();
    FONT.get_or_init(|| Font::load_default().expect("CJK font (fonts-wqy-microhei)"))
}

/// The built-in return label filled in at `dpi`.
pub fn return_label(customer_name: &str, dpi: u32) -> Label {
    let fields = Fields::new()
        .text("return_id", "R-20250101-0001")
        .text("customer_name", customer_name)
        .text("order_no", "SO123456")
        .text("kind", "退货 Return")
        .text("date", "2025-01-01")
        .text("station", "BENCH-3");
    Templates::builtin()
        .and_then(|t| t.fill("return_label", &fields, dpi))
        .expect("the built-in return label fills")
}

/// The built-in return label at 203 dpi with `name` as the customer name, put in whole
/// (the template would cut it at its `max_width`) so the renderers see every hostile byte.
pub fn label(name: &str) -> Label {
    // Filled with a stand-in, so the name's line is there even for an empty name (an
    // empty field's line is left off by the template).
    let mut l = return_label("NAME", 203);
    match &mut l.elements[NAME] {
        Element::Text { text, .. } => *text = name.to_owned(),
        other => panic!("element {NAME} of the return label is {other:?}, not the name"),
    }
    l
}

/// Index of the customer name in the return label's elements.
pub const NAME: usize = 4;

/// QR data a renderer must render safely or refuse: anything, the bytes that break out of a
/// field in either language, and the safe set itself.
pub fn qr_data() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        any::<String>(),
        "[\\^~_\"\\\\\r\n>|,a-zA-Z0-9 张-]{0,40}",
        "[A-Za-z0-9 .:/+*#(),-]{1,40}",
    ]
}
