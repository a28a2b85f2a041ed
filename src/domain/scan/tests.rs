//! Tests for the scan grammar: every class, every default courier, GS1 forms, rejections,
//! and property tests over arbitrary bytes.

use super::*;
use chrono::NaiveDate;
use proptest::prelude::*;

use crate::domain::ids::{BinCode, StationId};

fn grammar() -> ScanGrammar {
    ScanGrammar::new(&ScanGrammar::default_couriers(), DEFAULT_MAX_LEN).unwrap()
}

fn rid(s: &str) -> ReturnId {
    ReturnId::parse(s).unwrap()
}

fn product(code: &str) -> ScanClass {
    ScanClass::Product(ProductCode::from_gtin(Gtin::parse(code).unwrap()))
}

fn waybill(w: &str, courier: &str) -> ScanClass {
    ScanClass::Waybill {
        waybill: Waybill::parse(w).unwrap(),
        courier: courier.into(),
    }
}

fn ambiguous(code: &str, courier: &str) -> ScanClass {
    ScanClass::Ambiguous {
        waybill: Waybill::parse(code).unwrap(),
        courier: courier.into(),
        product: ProductCode::from_gtin(Gtin::parse(code).unwrap()),
    }
}

fn rejected(r: Rejection) -> ScanClass {
    ScanClass::Unrecognised(r)
}

fn bad_id(e: IdError) -> ScanClass {
    rejected(Rejection::BadId(e))
}

fn gs1_product(
    code: &str,
    gtin: Option<&str>,
    batch: Option<&str>,
    expiry: Option<&str>,
    serial: Option<&str>,
) -> ScanClass {
    ScanClass::Product(ProductCode {
        gtin: gtin.map(|g| Gtin::parse(g).unwrap()),
        code: code.into(),
        batch: batch.map(Into::into),
        expiry: expiry.map(Into::into),
        serial: serial.map(Into::into),
    })
}

fn check(g: &ScanGrammar, cases: &[(&[u8], ScanClass)]) {
    for (input, want) in cases {
        let got = g.classify(input);
        assert_eq!(
            &got.class,
            want,
            "input {:?} (text {:?})",
            String::from_utf8_lossy(input),
            got.text
        );
    }
}

#[test]
fn labels_badges_zones_commands() {
    // (raw scan, class): proves each printed-label class is recognised.
    check(
        &grammar(),
        &[
            (
                b"R-ST01-20261125-0042",
                ScanClass::ReturnId(rid("R-ST01-20261125-0042")),
            ),
            (
                b"R-bench-2-20261125-10001",
                ScanClass::ReturnId(rid("R-bench-2-20261125-10001")),
            ),
            (
                b"R-ST01-20261125-0042.2",
                ScanClass::Item(ItemRef {
                    return_id: rid("R-ST01-20261125-0042"),
                    item_no: 2,
                }),
            ),
            (
                b"OP-zhang_3",
                ScanClass::Badge(Badge::parse("zhang_3").unwrap()),
            ),
            (b"Z-PENDING", ScanClass::Zone(ZoneScan::Pending)),
            (b"Z-GOOD", ScanClass::Zone(ZoneScan::Good)),
            (b"Z-DEFECT", ScanClass::Zone(ZoneScan::Defect)),
            (
                b"z-a01-03",
                ScanClass::Zone(ZoneScan::Bin(BinCode::parse("A01-03").unwrap())),
            ),
            (b"CMD-DONE", ScanClass::Command(CommandCode::Done)),
            (
                b"CMD-VIS-MISSING",
                ScanClass::Command(CommandCode::VisualMissingParts),
            ),
            (b"cmd-card-no", ScanClass::Command(CommandCode::CardMissing)),
        ],
    );
}

#[test]
fn malformed_prefixed_codes_are_bad_ids() {
    // (raw scan, class): proves a malformed R-/OP-/Z-/CMD- code is rejected with its reason,
    // never guessed as something else.
    check(
        &grammar(),
        &[
            (
                b"R-ST01-20261325-0042",
                bad_id(IdError::BadDate {
                    text: "20261325".into(),
                }),
            ),
            (
                b"R-ST01-20261125-42",
                bad_id(IdError::BadNumber {
                    part: "number",
                    text: "42".into(),
                }),
            ),
            (b"R-ST01", bad_id(IdError::MissingPart { part: "number" })),
            (b"R-", bad_id(IdError::MissingPart { part: "number" })),
            (
                b"R-ST01-20261125-0042.0",
                bad_id(IdError::BadNumber {
                    part: "item_no",
                    text: "0".into(),
                }),
            ),
            (b"OP-", bad_id(IdError::MissingPart { part: "badge" })),
            (b"OP-zh-3", bad_id(IdError::BadChar { at: 5, ch: '-' })),
            (b"Z-", bad_id(IdError::MissingPart { part: "zone" })),
            (b"Z-A_1", bad_id(IdError::BadChar { at: 3, ch: '_' })),
            (
                b"CMD-FLY",
                bad_id(IdError::UnknownCode {
                    text: "CMD-FLY".into(),
                }),
            ),
            (
                b"CMD-DONE\x1d",
                bad_id(IdError::UnknownCode {
                    text: "CMD-DONE\u{1d}".into(),
                }),
            ),
        ],
    );
}

#[test]
fn default_couriers_each_recognised() {
    // (raw scan, class): proves every default courier shape, case folding, and the
    // GTIN-vs-courier rules (Ambiguous / bad check digit becomes a waybill).
    check(
        &grammar(),
        &[
            (b"SF1234567890123", waybill("SF1234567890123", "SF")),
            (b"sf1234567890123", waybill("SF1234567890123", "SF")),
            (b"YT1234567890123", waybill("YT1234567890123", "YTO")),
            (b"EA123456789CN", waybill("EA123456789CN", "EMS")),
            (b"JDVA12345678901", waybill("JDVA12345678901", "JD")),
            (b"jdx000123456789", waybill("JDX000123456789", "JD")),
            // STO: 12-digit 77… with a bad UPC check digit → plain waybill.
            (b"773012345678", waybill("773012345678", "STO")),
            // STO: same shape with a valid UPC check digit → Ambiguous.
            (b"773012345673", ambiguous("773012345673", "STO")),
            (b"4681234567890", waybill("4681234567890", "STO")),
            // ZTO: 12-digit 7… (bad UPC check), valid-check one, and a 15-digit one.
            (b"731234567890", waybill("731234567890", "ZTO")),
            (b"731234567891", ambiguous("731234567891", "ZTO")),
            (b"731234567890123", waybill("731234567890123", "ZTO")),
            // Yunda: 13-digit 4… with a bad EAN check, valid-check one, 15-digit one.
            (b"4312345678901", waybill("4312345678901", "Yunda")),
            (b"4312345678902", ambiguous("4312345678902", "Yunda")),
            (b"431234567890123", waybill("431234567890123", "Yunda")),
            // EMS domestic shape is shadowed by Yunda in the default order.
            (b"1100123456781", waybill("1100123456781", "Yunda")),
        ],
    );
    // EMS domestic is recognised when it is the only numeric shape configured.
    let ems_only = ScanGrammar::new(&[CourierPattern::new("EMS", "1[0-9]{12}")], 64).unwrap();
    check(
        &ems_only,
        &[(b"1100123456781", waybill("1100123456781", "EMS"))],
    );
}

#[test]
fn numeric_product_codes() {
    // (raw scan, class): proves EAN-8/UPC-A/EAN-13/GTIN-14 check digits and the EAN/UPC
    // symbology overriding courier overlap.
    check(
        &grammar(),
        &[
            (b"6901234567892", product("6901234567892")),
            (b"96385074", product("96385074")),
            (b"036000291452", product("036000291452")),
            (b"10614141000415", product("10614141000415")),
            // German EAN-13 (400…) overlaps Yunda's 13-digit 4… shape.
            (b"4006381333931", ambiguous("4006381333931", "Yunda")),
            // …but an EAN-13 symbology id says it is a retail barcode.
            (b"]E04006381333931", product("4006381333931")),
            (b"]E496385074", product("96385074")),
            (
                b"6901234567890",
                rejected(Rejection::BadCheckDigit {
                    code: "6901234567890".into(),
                    expected: 2,
                    found: 0,
                }),
            ),
            (
                b"96385075",
                rejected(Rejection::BadCheckDigit {
                    code: "96385075".into(),
                    expected: 4,
                    found: 5,
                }),
            ),
            // Bad check digit under an EAN symbology is never a waybill.
            (
                b"]E04312345678901",
                rejected(Rejection::BadCheckDigit {
                    code: "4312345678901".into(),
                    expected: 2,
                    found: 1,
                }),
            ),
        ],
    );
}

#[test]
fn gs1_element_strings() {
    // (raw scan, class): proves GS1 with/without AIM prefix, with GS separators, the bare
    // `01…` form, the parenthesised form, and GS1 errors.
    let full = Some("09501101530003");
    check(
        &grammar(),
        &[
            (
                b"]C1010950110153000317261231\x1d10AB12",
                gs1_product(
                    "010950110153000317261231\u{1d}10AB12",
                    full,
                    Some("AB12"),
                    Some("261231"),
                    None,
                ),
            ),
            (
                b"]d2010950110153000310LOT7\x1d21SN42\x1d17270101",
                gs1_product(
                    "010950110153000310LOT7\u{1d}21SN42\u{1d}17270101",
                    full,
                    Some("LOT7"),
                    Some("270101"),
                    Some("SN42"),
                ),
            ),
            (
                b"]Q30109501101530003",
                gs1_product("0109501101530003", full, None, None, None),
            ),
            // No AIM prefix, but a GS separator.
            (
                b"010950110153000317261231\x1d10AB12\r\n",
                gs1_product(
                    "010950110153000317261231\u{1d}10AB12",
                    full,
                    Some("AB12"),
                    Some("261231"),
                    None,
                ),
            ),
            // No prefix, no GS: `01` + valid GTIN-14, ≥ 16 chars.
            (
                b"01095011015300031726123110AB12",
                gs1_product(
                    "01095011015300031726123110AB12",
                    full,
                    Some("AB12"),
                    Some("261231"),
                    None,
                ),
            ),
            (
                b"(01)09501101530003(17)261231(10)AB12",
                gs1_product(
                    "(01)09501101530003(17)261231(10)AB12",
                    full,
                    Some("AB12"),
                    Some("261231"),
                    None,
                ),
            ),
            // SSCC only: a GS1 string without (01) is a product code without a GTIN.
            (
                b"]C100106141411234567897",
                gs1_product("00106141411234567897", None, None, None, None),
            ),
            (
                b"]C10109501101530004",
                rejected(Rejection::BadCheckDigit {
                    code: "09501101530004".into(),
                    expected: 3,
                    found: 4,
                }),
            ),
            (
                b"]C1010950110153000317261",
                rejected(Rejection::BadGs1 {
                    reason: "truncated:17".into(),
                }),
            ),
            (
                b"]C188ABC",
                rejected(Rejection::BadGs1 {
                    reason: "unknown_ai:88AB".into(),
                }),
            ),
            (
                b"0109501101530003\x1d88X",
                rejected(Rejection::BadGs1 {
                    reason: "unknown_ai:88X".into(),
                }),
            ),
            (
                b"(01)09501101530003(17)261299",
                rejected(Rejection::BadGs1 {
                    reason: "bad_date:17".into(),
                }),
            ),
        ],
    );
}

#[test]
fn rejections() {
    // (raw scan, class): proves empty, too-long, invalid UTF-8, control chars and unknown.
    let long_ok = vec![b'A'; DEFAULT_MAX_LEN];
    let too_long = vec![b'A'; DEFAULT_MAX_LEN + 1];
    let mut long_crlf = vec![b'7'; DEFAULT_MAX_LEN - 1];
    long_crlf.extend_from_slice(b"\r\n");
    check(
        &grammar(),
        &[
            (b"", rejected(Rejection::Empty)),
            (b"\r\n", rejected(Rejection::Empty)),
            (b"   \n\r\r\n", rejected(Rejection::Empty)),
            (b"]C1", rejected(Rejection::Empty)),
            (&long_ok, rejected(Rejection::Unknown)),
            (
                &too_long,
                rejected(Rejection::TooLong {
                    len: DEFAULT_MAX_LEN + 1,
                    max: DEFAULT_MAX_LEN,
                }),
            ),
            // The limit applies to the raw bytes, before stripping.
            (
                &long_crlf,
                rejected(Rejection::TooLong {
                    len: DEFAULT_MAX_LEN + 1,
                    max: DEFAULT_MAX_LEN,
                }),
            ),
            (b"SF12\xff34", rejected(Rejection::InvalidUtf8 { at: 4 })),
            (b"  \xc3", rejected(Rejection::InvalidUtf8 { at: 2 })),
            (b"]C0\xfe\xff", rejected(Rejection::InvalidUtf8 { at: 3 })),
            (
                b"\x00\x01\x02",
                rejected(Rejection::ControlChar { byte: 0, at: 0 }),
            ),
            (
                b"SF123\t4567890123",
                rejected(Rejection::ControlChar { byte: 9, at: 5 }),
            ),
            (
                b"SF1234\r567890123",
                rejected(Rejection::ControlChar { byte: 13, at: 6 }),
            ),
            (
                b"\nSF1234567890123",
                rejected(Rejection::ControlChar { byte: 10, at: 0 }),
            ),
            (
                "A\u{85}B".as_bytes(),
                rejected(Rejection::ControlChar { byte: 0x85, at: 1 }),
            ),
            (
                b"\x1b[A",
                rejected(Rejection::ControlChar { byte: 0x1b, at: 0 }),
            ),
            (b"HELLO-WORLD", rejected(Rejection::Unknown)),
            (b"ABC123", rejected(Rejection::Unknown)),
            (b"12345", rejected(Rejection::Unknown)),
            (b"]", rejected(Rejection::Unknown)),
            ("退货".as_bytes(), rejected(Rejection::Unknown)),
        ],
    );
}

#[test]
fn line_endings_spaces_and_aim_are_stripped() {
    // Proves CR/LF/space trimming, AIM symbology capture, and the printable text.
    let g = grammar();
    let cases: &[(&[u8], &str, Option<&str>, &str)] = &[
        (b"SF1234567890123\r\n", "SF1234567890123", None, "waybill"),
        (
            b"SF1234567890123\n\r\r\n",
            "SF1234567890123",
            None,
            "waybill",
        ),
        (
            b"  R-ST01-20261125-0042 \r\n",
            "R-ST01-20261125-0042",
            None,
            "return_id",
        ),
        (
            b"]C0SF1234567890123\r",
            "SF1234567890123",
            Some("]C0"),
            "waybill",
        ),
        (
            b"]C1010950110153000317261231\x1d10AB12\r\n",
            "010950110153000317261231<GS>10AB12",
            Some("]C1"),
            "product",
        ),
        (b"SF12\xff", "SF12\\xFF", None, "unrecognised"),
    ];
    for (input, text, sym, kind) in cases {
        let scan = g.classify(input);
        assert_eq!(scan.text, *text, "{input:?}");
        assert_eq!(
            scan.symbology.map(|s| s.to_string()).as_deref(),
            *sym,
            "{input:?}"
        );
        assert_eq!(scan.class.kind(), *kind, "{input:?}");
    }
}

#[test]
fn product_code_matches_barcode() {
    // (scanned, order-line barcode, match?): proves GTIN equality across forms, else exact text.
    let g = grammar();
    let cases: &[(&[u8], &str, bool)] = &[
        (b"6901234567892", "06901234567892", true),
        (b"6901234567892", "6901234567892", true),
        (b"6901234567892", "(01)06901234567892", true),
        (b"]C10106901234567892", "6901234567892", true),
        (b"]C10106901234567892\x1d10B1", "6901234567892", true),
        (b"(01)06901234567892(10)B1", "0106901234567892", true),
        (b"6901234567892", "4006381333931", false),
        (b"6901234567892", "690123456789", false),
        (b"]C100106141411234567897", "00106141411234567897", true),
        (b"]C100106141411234567897", "106141411234567897", false),
    ];
    for (scanned, barcode, want) in cases {
        let class = g.classify(scanned).class;
        let p = match class {
            ScanClass::Product(p) | ScanClass::Ambiguous { product: p, .. } => p,
            other => panic!("{scanned:?} is not a product: {other:?}"),
        };
        assert_eq!(
            p.matches_barcode(barcode),
            *want,
            "{scanned:?} vs {barcode:?}"
        );
    }
}

#[test]
fn grammar_construction_errors() {
    // Proves ScanGrammar::new reports the bad pattern by index/name, and rejects max_len 0.
    let err = ScanGrammar::new(
        &[
            CourierPattern::new("OK", "OK[0-9]{6}"),
            CourierPattern::new("Broken", "(["),
        ],
        100,
    )
    .unwrap_err();
    match &err {
        GrammarError::BadPattern { index, name, .. } => {
            assert_eq!((*index, name.as_str()), (1, "Broken"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.code(), "grammar.bad_pattern");
    assert_eq!(
        ScanGrammar::new(&[], 0).unwrap_err(),
        GrammarError::ZeroMaxLen
    );
    let g = grammar();
    assert_eq!(g.max_len(), DEFAULT_MAX_LEN);
    assert_eq!(
        g.courier_names().collect::<Vec<_>>(),
        ["SF", "YTO", "EMS", "JD", "STO", "ZTO", "Yunda", "EMS"]
    );
}

#[test]
fn custom_courier_patterns_are_anchored_and_case_insensitive() {
    // Proves a configured pattern matches whole waybills only, in any case.
    let g = ScanGrammar::new(&[CourierPattern::new("Best", "bx[0-9]{8}")], 64).unwrap();
    check(
        &g,
        &[
            (b"BX12345678", waybill("BX12345678", "Best")),
            (b"bx12345678", waybill("BX12345678", "Best")),
            (b"BX123456789", rejected(Rejection::Unknown)),
            (b"ABX12345678", rejected(Rejection::Unknown)),
        ],
    );
}

#[test]
fn rejection_codes_are_stable_and_unique() {
    // Proves each rejection has its own `scan.*` code.
    let all = [
        Rejection::Empty,
        Rejection::TooLong { len: 2, max: 1 },
        Rejection::InvalidUtf8 { at: 0 },
        Rejection::ControlChar { byte: 0, at: 0 },
        Rejection::BadCheckDigit {
            code: String::new(),
            expected: 0,
            found: 1,
        },
        Rejection::BadGs1 {
            reason: String::new(),
        },
        Rejection::BadId(IdError::Empty),
        Rejection::Unknown,
    ];
    let mut codes: Vec<&str> = all.iter().map(Rejection::code).collect();
    assert!(codes.iter().all(|c| c.starts_with("scan.")));
    assert_eq!(
        Rejection::TooLong { len: 2, max: 1 }.code(),
        "scan.too_long"
    );
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
}

#[test]
fn command_codes_classify_round_trip() {
    // Proves every CommandCode::ALL code scans back as that command.
    let g = grammar();
    for c in CommandCode::ALL {
        assert_eq!(g.classify(c.code().as_bytes()).class, ScanClass::Command(c));
    }
}

/// Scans that start like something meaningful, then go anywhere.
fn near_miss() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop::sample::select(vec![
        "",
        "CMD-",
        "OP-",
        "Z-",
        "R-",
        "R-ST01-20261125-",
        "]C1",
        "]E0",
        "]d2",
        "(01)",
        "(",
        "01",
        "0109501101530003",
        "SF",
        "JD",
        "\u{1d}",
        "  ",
        "\r\n",
    ]);
    let tail = prop_oneof![
        "[ -~\u{1d}]{0,40}".prop_map(String::into_bytes),
        "\\PC{0,40}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    (prefix, tail).prop_map(|(p, t)| {
        let mut v = p.as_bytes().to_vec();
        v.extend(t);
        v
    })
}

fn assert_text_ok(scan: &Scan) -> Result<(), TestCaseError> {
    prop_assert!(scan.text.chars().count() <= text::MAX_TEXT_CHARS);
    prop_assert!(!scan.text.chars().any(char::is_control), "{:?}", scan.text);
    Ok(())
}

proptest! {
    // Proves classify never panics on arbitrary bytes and `text` stays short and printable.
    #[test]
    fn classify_total_on_arbitrary_bytes(raw in prop::collection::vec(any::<u8>(), 0..600)) {
        let scan = grammar().classify(&raw);
        assert_text_ok(&scan)?;
        let small = ScanGrammar::new(&ScanGrammar::default_couriers(), 16).unwrap();
        assert_text_ok(&small.classify(&raw))?;
    }

    // Proves the same for inputs that start like real codes and then go wrong.
    #[test]
    fn classify_total_on_near_misses(raw in near_miss()) {
        assert_text_ok(&grammar().classify(&raw))?;
    }

    // Proves every printed return-id and item label scans back as itself.
    #[test]
    fn printed_labels_classify_back(
        station in "[A-Za-z0-9_-]{1,64}",
        days in 1i32..=3_652_059,
        n in any::<u32>(),
        item_no in 1u32..,
        crlf in prop::sample::select(vec!["", "\r", "\n", "\r\n"]),
    ) {
        let g = grammar();
        let st = StationId::parse(&station).unwrap();
        let d = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
        let id = ReturnId::new(&st, d, n);
        let scanned = g.classify(format!("{id}{crlf}").as_bytes());
        prop_assert_eq!(scanned.class, ScanClass::ReturnId(id.clone()));
        let item = ItemRef { return_id: id, item_no };
        let scanned = g.classify(format!("{item}{crlf}").as_bytes());
        prop_assert_eq!(scanned.class, ScanClass::Item(item));
    }

    // Proves every valid EAN-13 is a product or Ambiguous (never rejected).
    #[test]
    fn valid_ean13_is_a_product(body in "[0-9]{12}") {
        let code = format!("{body}{}", crate::domain::ids::gs1_check_digit(&body).unwrap());
        let class = grammar().classify(code.as_bytes()).class;
        prop_assert!(matches!(class, ScanClass::Product(_) | ScanClass::Ambiguous { .. }), "{:?}", class);
    }
}
