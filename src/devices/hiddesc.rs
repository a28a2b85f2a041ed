//! A small HID report-descriptor walker (short items only; long items are skipped). Pure.
//!
//! It answers the two questions the device layer asks of a descriptor (see
//! `notes/devices.md` §1.3):
//! - which top-level application collections an interface has ([`top_level_usages`]), so
//!   discovery can tell a HID POS scanner interface (usage page 0x8C) from the vendor
//!   interface (0xFF8C) or a keyboard (0x01/0x06);
//! - where each Input field sits in its report ([`input_fields`]): report id, bit offset
//!   (counted from the first byte after the report id), bit size and element count, with
//!   its usage page and usage. The HID POS layout is built from these in
//!   [`super::hidpos`].
//!
//! Usage semantics: a 1- or 2-byte Usage takes the Usage Page current when the Usage item
//! is read; a 4-byte Usage carries its page. In a Variable main item with fewer usages than
//! elements the last usage repeats (HID 1.11 §6.2.2.8); consecutive elements with the same
//! usage are merged into one field. Constant items are padding. Global items honour
//! Push/Pop.

/// Usage page of HID POS bar code scanners.
pub const PAGE_BARCODE: u16 = 0x8C;
/// Generic Desktop page.
pub const PAGE_GENERIC_DESKTOP: u16 = 0x01;
/// Generic Desktop / Keyboard.
pub const USAGE_KEYBOARD: u16 = 0x06;

/// The longest report the kernel's HID core takes (`HID_MAX_BUFFER_SIZE`, 16 KiB), in
/// bits. A field past it can never arrive, so a descriptor claiming one (a broken or
/// hostile device: Report Count 0xFFFFFFFF) is not believed: its elements are not walked
/// one by one (four billion of them would hang discovery) and its report length is capped.
pub const MAX_REPORT_BITS: u32 = 16_384 * 8;

/// One Input field of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Report id (`None` when the descriptor uses no report ids).
    pub report_id: Option<u8>,
    /// Usage page.
    pub page: u16,
    /// Usage id.
    pub usage: u16,
    /// Offset in bits from the first byte after the report id.
    pub bit_offset: u32,
    /// Bits per element.
    pub bit_size: u32,
    /// Number of elements (bytes of Decoded Data, for example).
    pub count: u32,
}

impl Field {
    /// The byte offset in a report as read from hidraw (with the report id byte), when the
    /// field is byte aligned.
    pub fn byte_offset(&self) -> Option<usize> {
        self.bit_offset
            .is_multiple_of(8)
            .then(|| (self.bit_offset / 8) as usize + usize::from(self.report_id.is_some()))
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Globals {
    page: u16,
    report_size: u32,
    report_count: u32,
    report_id: Option<u8>,
}

/// One short item: (type, tag, data as unsigned).
fn items(desc: &[u8]) -> impl Iterator<Item = (u8, u8, u32, usize)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            let prefix = *desc.get(i)?;
            if prefix == 0xFE {
                // Long item: size byte, tag byte, data.
                let size = usize::from(*desc.get(i + 1)?);
                i += 3 + size;
                continue;
            }
            let size = match prefix & 0x03 {
                3 => 4,
                n => usize::from(n),
            };
            let data = desc.get(i + 1..i + 1 + size)?;
            let value = data
                .iter()
                .rev()
                .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            i += 1 + size;
            return Some(((prefix >> 2) & 0x03, prefix >> 4, value, size));
        }
    })
}

/// The walk: calls `on_main(kind_tag, flags, globals, usages)` for every main item.
fn walk(desc: &[u8], mut on_main: impl FnMut(u8, u32, &Globals, &[(u16, u16)], usize)) {
    let mut g = Globals::default();
    let mut stack: Vec<Globals> = Vec::new();
    let mut usages: Vec<(u16, u16)> = Vec::new();
    let mut usage_min: Option<(u16, u16)> = None;
    let mut depth = 0usize;
    for (kind, tag, value, size) in items(desc) {
        match kind {
            0 => {
                if tag == 0x0C {
                    depth = depth.saturating_sub(1);
                }
                on_main(tag, value, &g, &usages, depth);
                if tag == 0x0A {
                    depth += 1;
                }
                usages.clear();
                usage_min = None;
            }
            1 => match tag {
                0x0 => g.page = value as u16,
                0x7 => g.report_size = value,
                0x8 => g.report_id = Some(value as u8),
                0x9 => g.report_count = value,
                0xA => stack.push(g),
                0xB => g = stack.pop().unwrap_or(g),
                _ => {}
            },
            2 => {
                let full = |v: u32| {
                    if size == 4 {
                        ((v >> 16) as u16, v as u16)
                    } else {
                        (g.page, v as u16)
                    }
                };
                match tag {
                    0x0 => usages.push(full(value)),
                    0x1 => usage_min = Some(full(value)),
                    0x2 => {
                        if let Some((page, lo)) = usage_min.take() {
                            let hi = full(value).1;
                            // Bounded: a hostile descriptor cannot make us allocate much.
                            for u in lo..=hi.min(lo.saturating_add(255)) {
                                usages.push((page, u));
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// The (usage page, usage) of each top-level application collection, in order.
pub fn top_level_usages(desc: &[u8]) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    walk(desc, |tag, flags, _g, usages, depth| {
        if tag == 0x0A
            && depth == 0
            && flags & 0xFF == 0x01
            && let Some(&u) = usages.first()
        {
            out.push(u);
        }
    });
    out
}

/// Every Input field with a usage, in descriptor order.
pub fn input_fields(desc: &[u8]) -> Vec<Field> {
    use std::collections::BTreeMap;
    let mut offsets: BTreeMap<Option<u8>, u32> = BTreeMap::new();
    let mut out = Vec::new();
    walk(desc, |tag, flags, g, usages, _depth| {
        if tag != 0x08 {
            return;
        }
        let offset = offsets.entry(g.report_id).or_insert(0);
        let start = *offset;
        let total = g.report_size.saturating_mul(g.report_count);
        *offset = offset.saturating_add(total);
        let constant = flags & 0x01 != 0;
        let variable = flags & 0x02 != 0;
        let buffered = flags & 0x100 != 0;
        if constant || usages.is_empty() {
            return;
        }
        let size = u64::from(g.report_size);
        let fits = |from: u64, bits: u64| from + bits <= u64::from(MAX_REPORT_BITS);
        if !variable || buffered || usages.len() == 1 {
            // An array, a buffered-bytes run, or one usage over every element: one field.
            if !fits(start.into(), size * u64::from(g.report_count)) {
                return;
            }
            out.push(Field {
                report_id: g.report_id,
                page: usages[0].0,
                usage: usages[0].1,
                bit_offset: start,
                bit_size: g.report_size,
                count: g.report_count,
            });
            return;
        }
        for i in 0..g.report_count.min(MAX_REPORT_BITS) {
            let (page, usage) = usages[(i as usize).min(usages.len() - 1)];
            let from = u64::from(start) + u64::from(i) * size;
            if !fits(from, size) {
                break;
            }
            // Within MAX_REPORT_BITS, so it fits a u32.
            let bit_offset = from as u32;
            match out.last_mut() {
                Some(f)
                    if f.report_id == g.report_id
                        && f.page == page
                        && f.usage == usage
                        && u64::from(f.bit_offset) + u64::from(f.bit_size) * u64::from(f.count)
                            == from
                        && f.bit_size == g.report_size =>
                {
                    f.count += 1;
                }
                _ => out.push(Field {
                    report_id: g.report_id,
                    page,
                    usage,
                    bit_offset,
                    bit_size: g.report_size,
                    count: 1,
                }),
            }
        }
    });
    out
}

/// Length in bytes of each input report (with its report-id byte), by report id.
pub fn input_report_len(desc: &[u8], report_id: Option<u8>) -> usize {
    let mut bits = 0u32;
    walk(desc, |tag, _flags, g, _usages, _| {
        if tag == 0x08 && g.report_id == report_id {
            bits = bits.saturating_add(g.report_size.saturating_mul(g.report_count));
        }
    });
    (bits.min(MAX_REPORT_BITS) as usize).div_ceil(8) + usize::from(report_id.is_some())
}

/// Parses a descriptor written as hex bytes separated by white space (test fixtures,
/// `returnsd devices` debugging).
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Generic HID POS layout (notes §1.3.2, tessaro-os `DESCRIPTOR`).
    pub const GENERIC: &str = "05 8C 09 02 A1 01 85 02 15 00 26 FF 00 75 08 95 01 09 FB 81 02 09 FC 81 02 09 FD 81 02 \
        95 38 09 FE 82 02 01 75 01 95 01 25 01 09 FF 81 02 75 07 81 03 C0";
    /// Honeywell-style "counted" layout (notes §1.3.2, tessaro-os `COUNTED`).
    pub const COUNTED: &str = "05 8C 09 02 A1 01 85 02 09 12 A1 02 15 00 26 FF 00 75 08 95 01 05 01 09 3B 81 02 95 03 05 8C \
        09 FB 09 FC 09 FD 81 02 95 38 09 FE 82 02 01 25 01 75 01 95 01 09 FF 81 02 75 07 81 03 C0 C0";
    /// A boot keyboard (notes §1.2, MagTek prefix) completed with LEDs and the key array.
    pub const KEYBOARD: &str = "05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 03 \
        95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 03 95 06 75 08 15 00 25 65 05 07 19 00 29 65 81 00 C0";

    fn find(fields: &[Field], page: u16, usage: u16) -> Field {
        fields
            .iter()
            .find(|f| f.page == page && f.usage == usage)
            .cloned()
            .unwrap_or_else(|| panic!("no field {page:#x}:{usage:#x} in {fields:#?}"))
    }

    /// Regression (fuzz/regressions/hiddesc/huge-report-count): Report Count 0xFFFFFFFF
    /// of 0xFFFF-bit elements with two usages overflowed the bit offsets (a panic in debug
    /// builds, wrapped offsets in release) and walked four billion elements. Now the
    /// elements past the largest report the kernel takes are not believed.
    #[test]
    fn huge_report_count_neither_overflows_nor_hangs() {
        let desc = from_hex("05 8C 09 FE 09 FF 76 FF FF 97 FF FF FF FF 81 02").unwrap();
        let fields = input_fields(&desc);
        let len = input_report_len(&desc, None);
        assert_eq!(len, MAX_REPORT_BITS as usize / 8);
        for f in &fields {
            let end = u64::from(f.bit_offset) + u64::from(f.bit_size) * u64::from(f.count);
            assert!(end <= len as u64 * 8, "{f:?}");
        }
    }

    #[test]
    fn generic_descriptor_fields_by_bit_offset() {
        let d = from_hex(GENERIC).unwrap();
        assert_eq!(top_level_usages(&d), vec![(0x8C, 0x02)]);
        let f = input_fields(&d);
        assert_eq!(find(&f, 0x8C, 0xFB).bit_offset, 0);
        assert_eq!(find(&f, 0x8C, 0xFD).bit_offset, 16);
        let data = find(&f, 0x8C, 0xFE);
        assert_eq!((data.bit_offset, data.bit_size, data.count), (24, 8, 56));
        assert_eq!(data.byte_offset(), Some(4));
        let cont = find(&f, 0x8C, 0xFF);
        assert_eq!((cont.bit_offset, cont.bit_size), (24 + 448, 1));
        assert_eq!(input_report_len(&d, Some(2)), 1 + 3 + 56 + 1);
    }

    #[test]
    fn counted_descriptor_has_byte_count_and_nested_collection() {
        let d = from_hex(COUNTED).unwrap();
        assert_eq!(top_level_usages(&d), vec![(0x8C, 0x02)]);
        let f = input_fields(&d);
        let count = find(&f, 0x01, 0x3B);
        assert_eq!((count.report_id, count.byte_offset()), (Some(2), Some(1)));
        assert_eq!(find(&f, 0x8C, 0xFB).byte_offset(), Some(2));
        assert_eq!(find(&f, 0x8C, 0xFC).byte_offset(), Some(3));
        assert_eq!(find(&f, 0x8C, 0xFE).byte_offset(), Some(5));
        assert_eq!(find(&f, 0x8C, 0xFF).bit_offset, 8 + 24 + 448);
    }

    #[test]
    fn keyboard_descriptor_is_a_keyboard_and_truncated_input_is_safe() {
        let d = from_hex(KEYBOARD).unwrap();
        assert_eq!(
            top_level_usages(&d),
            vec![(PAGE_GENERIC_DESKTOP, USAGE_KEYBOARD)]
        );
        assert_eq!(input_report_len(&d, None), 8);
        // Truncated and garbage descriptors never panic.
        for n in 0..d.len() {
            let _ = input_fields(&d[..n]);
            let _ = top_level_usages(&d[..n]);
        }
        assert!(input_fields(&[0xFE, 0xFF, 0x00]).is_empty());
    }
}
