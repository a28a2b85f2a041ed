//! Location metadata out of uploaded photos, before they are stored and hashed. A handheld's
//! camera writes where the picture was taken; the station keeps no location.
//!
//! - **JPEG**: in the EXIF segment (APP1 `Exif`), the GPS IFD is emptied in place — its
//!   entries and every value they point to are zeroed and its entry count set to 0 — so
//!   the rest of EXIF (orientation, timestamps) stays valid; XMP segments (APP1
//!   `http://ns.adobe.com/…`, which may repeat the location) are dropped whole.
//! - **PNG**: `eXIf` and text chunks (`tEXt`, `zTXt`, `iTXt`, where XMP lives) are dropped.
//! - **WebP**: `EXIF` and `XMP ` chunks are dropped and the VP8X flags and RIFF size fixed.
//!
//! Pixels are never touched. A file whose structure is broken is refused, not passed on.

/// The bytes without location metadata, or why the image is malformed.
pub fn strip_location(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        webp(bytes)
    } else {
        Err("not a JPEG, PNG or WebP image".into())
    }
}

fn jpeg(b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..2]);
    let mut i = 2;
    loop {
        if i + 2 > b.len() || b[i] != 0xFF {
            return Err("JPEG: broken segment structure".into());
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        // Start of scan or end of image: the rest is entropy-coded data, copied as is.
        if marker == 0xDA || marker == 0xD9 {
            out.extend_from_slice(&b[i..]);
            return Ok(out);
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            out.extend_from_slice(&b[i..i + 2]);
            i += 2;
            continue;
        }
        if i + 4 > b.len() {
            return Err("JPEG: truncated segment".into());
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        let end = i + 2 + len;
        if len < 2 || end > b.len() {
            return Err("JPEG: segment runs past the end".into());
        }
        let payload = &b[i + 4..end];
        if marker == 0xE1 && payload.starts_with(b"Exif\0\0") {
            let mut seg = b[i..end].to_vec();
            if !scrub_gps_settled(&mut seg[10..]) {
                return Err("JPEG: EXIF GPS directories overlap each other".into());
            }
            out.extend_from_slice(&seg);
        } else if marker == 0xE1 && payload.starts_with(b"http://ns.adobe.com/") {
            // XMP: dropped.
        } else {
            out.extend_from_slice(&b[i..end]);
        }
        i = end;
    }
}

/// Byte-order-aware reads and writes inside a TIFF block, all bounds-checked.
struct Tiff<'a> {
    b: &'a mut [u8],
    le: bool,
}

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<usize> {
        let s = self.b.get(at..at.checked_add(2)?)?;
        let v = if self.le {
            u16::from_le_bytes([s[0], s[1]])
        } else {
            u16::from_be_bytes([s[0], s[1]])
        };
        Some(usize::from(v))
    }
    fn u32(&self, at: usize) -> Option<usize> {
        let s = self.b.get(at..at.checked_add(4)?)?;
        let a = [s[0], s[1], s[2], s[3]];
        let v = if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        };
        usize::try_from(v).ok()
    }
    fn zero(&mut self, from: usize, len: usize) {
        if let Some(end) = from.checked_add(len)
            && let Some(s) = self.b.get_mut(from..end)
        {
            s.fill(0);
        }
    }
}

fn type_size(t: usize) -> usize {
    match t {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 => 4,
        5 | 10 | 12 => 8,
        _ => 0,
    }
}

/// Passes of [`scrub_gps`] a block may take to settle before it is refused.
const SCRUB_PASSES: usize = 4;

/// [`scrub_gps`] until a pass changes nothing; false when it has not settled after
/// [`SCRUB_PASSES`]. In a malformed block a GPS IFD can overlap IFD0 or another GPS IFD,
/// so emptying one changes what the next reading finds (another pointer, other entries):
/// one pass would leave a file that a second pass changes again. A camera's EXIF settles
/// in one pass.
fn scrub_gps_settled(tiff: &mut [u8]) -> bool {
    for _ in 0..SCRUB_PASSES {
        let before = tiff.to_vec();
        scrub_gps(tiff);
        if *tiff == *before {
            return true;
        }
    }
    false
}

/// Empty the GPS IFD of a TIFF block (the EXIF payload after `Exif\0\0`).
fn scrub_gps(tiff: &mut [u8]) {
    let le = match tiff.get(0..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return,
    };
    let mut t = Tiff { b: tiff, le };
    let Some(ifd0) = t.u32(4) else { return };
    let Some(n) = t.u16(ifd0) else { return };
    // Every GPS pointer, not only the last: a file with two keeps none of either.
    let gps_ifds: Vec<usize> = (0..n)
        .map(|k| ifd0 + 2 + 12 * k)
        .filter(|&e| t.u16(e) == Some(0x8825))
        .filter_map(|e| t.u32(e + 8))
        .collect();
    for gps in gps_ifds {
        scrub_ifd(&mut t, gps);
    }
}

/// Empty one IFD: its entries, the values they point to, and its entry count.
fn scrub_ifd(t: &mut Tiff<'_>, ifd: usize) {
    let Some(n) = t.u16(ifd) else { return };
    for k in 0..n {
        let e = ifd + 2 + 12 * k;
        let (Some(ty), Some(count)) = (t.u16(e + 2), t.u32(e + 4)) else {
            break;
        };
        let size = type_size(ty).saturating_mul(count);
        if size > 4
            && let Some(off) = t.u32(e + 8)
        {
            t.zero(off, size);
        }
        t.zero(e, 12);
    }
    // No entries; the next-IFD link that now follows the count reads as 0 (none).
    t.zero(ifd, 2);
}

fn png(b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = b[..8].to_vec();
    let mut i = 8;
    while i < b.len() {
        let head = b.get(i..i + 8).ok_or("PNG: truncated chunk")?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let ty = &head[4..8];
        let end = i
            .checked_add(12)
            .and_then(|x| x.checked_add(len))
            .filter(|e| *e <= b.len())
            .ok_or("PNG: chunk runs past the end")?;
        if !matches!(ty, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt") {
            out.extend_from_slice(&b[i..end]);
        }
        i = end;
        if ty == b"IEND" {
            return Ok(out);
        }
    }
    Err("PNG: no IEND chunk".into())
}

fn webp(b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = b[..12].to_vec();
    let mut i = 12;
    while i < b.len() {
        let head = b.get(i..i + 8).ok_or("WebP: truncated chunk")?;
        let fourcc = [head[0], head[1], head[2], head[3]];
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let end = i
            .checked_add(8)
            .and_then(|x| x.checked_add(len + (len & 1)))
            .filter(|e| *e <= b.len())
            .ok_or("WebP: chunk runs past the end")?;
        match &fourcc {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => {
                let at = out.len();
                out.extend_from_slice(&b[i..end]);
                if let Some(flags) = out.get_mut(at + 8) {
                    *flags &= !(0x08 | 0x04);
                }
            }
            _ => out.extend_from_slice(&b[i..end]),
        }
        i = end;
    }
    let size = u32::try_from(out.len() - 8).map_err(|_| "WebP: too large")?;
    out[4..8].copy_from_slice(&size.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian EXIF block: IFD0 with one GPS pointer; the GPS IFD with a latitude
    /// (3 rationals, stored out of line) and a latitude ref ("N", inline).
    fn exif_with_gps() -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(b"II*\0");
        t.extend_from_slice(&8u32.to_le_bytes()); // IFD0 at 8
        t.extend_from_slice(&1u16.to_le_bytes()); // one entry
        t.extend_from_slice(&0x8825u16.to_le_bytes());
        t.extend_from_slice(&4u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&26u32.to_le_bytes()); // GPS IFD at 26
        t.extend_from_slice(&0u32.to_le_bytes()); // no next IFD (offset 22..26)
        t.extend_from_slice(&2u16.to_le_bytes()); // GPS: two entries (26)
        t.extend_from_slice(&1u16.to_le_bytes()); // GPSLatitudeRef, ASCII, 2, "N\0"
        t.extend_from_slice(&2u16.to_le_bytes());
        t.extend_from_slice(&2u32.to_le_bytes());
        t.extend_from_slice(b"N\0\0\0");
        t.extend_from_slice(&2u16.to_le_bytes()); // GPSLatitude, RATIONAL, 3, at 56
        t.extend_from_slice(&5u16.to_le_bytes());
        t.extend_from_slice(&3u32.to_le_bytes());
        t.extend_from_slice(&56u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes()); // next IFD
        for v in [31u32, 1, 14, 1, 4242, 100] {
            t.extend_from_slice(&v.to_le_bytes());
        }
        t
    }

    fn jpeg_with(exif: &[u8], xmp: &[u8]) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(exif);
        j.extend_from_slice(&[0xFF, 0xE1]);
        j.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        j.extend_from_slice(&app1);
        j.extend_from_slice(&[0xFF, 0xE1]);
        j.extend_from_slice(&((xmp.len() + 2) as u16).to_be_bytes());
        j.extend_from_slice(xmp);
        j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02, 1, 2, 3, 0xFF, 0xD9]);
        j
    }

    /// The GPS values and entries are gone, the EXIF segment keeps its size, XMP is
    /// dropped, and the scan data is untouched.
    #[test]
    fn jpeg_loses_gps_and_xmp() {
        let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta exif:GPSLatitude='31,14N'/>";
        let j = jpeg_with(&exif_with_gps(), xmp);
        let out = strip_location(&j).unwrap();
        assert_eq!(out.len(), j.len() - (xmp.len() + 4));
        assert!(!out.windows(4).any(|w| w == 4242u32.to_le_bytes()));
        assert!(!out.windows(2).any(|w| w == b"N\0"));
        assert!(!out.windows(11).any(|w| w == b"GPSLatitude"));
        assert!(out.ends_with(&[0xFF, 0xDA, 0x00, 0x02, 1, 2, 3, 0xFF, 0xD9]));
        // Idempotent.
        assert_eq!(strip_location(&out).unwrap(), out);
    }

    /// PNG metadata chunks are dropped; image chunks stay in order.
    #[test]
    fn png_loses_exif_and_text() {
        let chunk = |ty: &[u8], data: &[u8]| {
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            c.extend_from_slice(ty);
            c.extend_from_slice(data);
            c.extend_from_slice(&[0, 0, 0, 0]);
            c
        };
        let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
        p.extend(chunk(b"IHDR", &[0; 13]));
        p.extend(chunk(b"eXIf", &exif_with_gps()));
        p.extend(chunk(b"iTXt", b"XML:com.adobe.xmp\0GPS"));
        p.extend(chunk(b"IDAT", &[9; 10]));
        p.extend(chunk(b"IEND", &[]));
        let out = strip_location(&p).unwrap();
        let mut want = b"\x89PNG\r\n\x1a\n".to_vec();
        want.extend(chunk(b"IHDR", &[0; 13]));
        want.extend(chunk(b"IDAT", &[9; 10]));
        want.extend(chunk(b"IEND", &[]));
        assert_eq!(out, want);
    }

    /// WebP EXIF/XMP chunks are dropped, their VP8X flags cleared, the RIFF size fixed.
    #[test]
    fn webp_loses_exif_and_xmp() {
        let chunk = |ty: &[u8], data: &[u8]| {
            let mut c = ty.to_vec();
            c.extend_from_slice(&(data.len() as u32).to_le_bytes());
            c.extend_from_slice(data);
            if data.len() % 2 == 1 {
                c.push(0);
            }
            c
        };
        let mut body = b"WEBP".to_vec();
        body.extend(chunk(b"VP8X", &[0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        body.extend(chunk(b"VP8L", &[1, 2, 3]));
        body.extend(chunk(b"EXIF", &exif_with_gps()));
        body.extend(chunk(b"XMP ", b"<gps/>"));
        let mut w = b"RIFF".to_vec();
        w.extend_from_slice(&(body.len() as u32).to_le_bytes());
        w.extend(body);
        let out = strip_location(&w).unwrap();
        assert_eq!(out[20], 0, "VP8X flags");
        assert!(!out.windows(4).any(|x| x == b"EXIF" || x == b"XMP "));
        assert_eq!(
            u32::from_le_bytes([out[4], out[5], out[6], out[7]]) as usize,
            out.len() - 8
        );
    }

    /// An input of `fuzz/regressions/photometa/`.
    fn regression(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/photometa")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Regression (fuzz/regressions/photometa/two-gps-pointers.jpg): IFD0 with two GPS
    /// pointers had only the last GPS IFD emptied; the first kept its latitude.
    #[test]
    fn two_gps_pointers_are_both_emptied() {
        let jpeg = regression("two-gps-pointers.jpg");
        let out = strip_location(&jpeg).unwrap();
        // The TIFF block starts after SOI, the APP1 header and `Exif\0\0` (2+4+6 bytes);
        // its GPS IFDs are at 38 and 56, each now with no entry and no "N" left.
        let tiff = &out[12..];
        assert_eq!(&tiff[38..40], &[0, 0]);
        assert_eq!(&tiff[56..58], &[0, 0]);
        assert!(!tiff[38..].contains(&b'N'), "{tiff:?}");
    }

    /// Regression (fuzz/regressions/photometa/gps-ifd-overlapping-ifd0.jpg, found by the
    /// `photometa` fuzzer): a GPS IFD lying inside IFD0's entries was emptied in one pass,
    /// which exposed more to empty; stripping the output again changed it again, so the
    /// stored photo was not what a second strip would store.
    #[test]
    fn gps_ifd_overlapping_ifd0_strips_to_a_fixed_point() {
        let jpeg = regression("gps-ifd-overlapping-ifd0.jpg");
        let out = strip_location(&jpeg).unwrap();
        assert_eq!(strip_location(&out), Ok(out.clone()), "strips to itself");
        assert!(
            out.len() == jpeg.len() && out != jpeg,
            "GPS emptied in place"
        );
    }

    /// Broken files are refused, never passed through.
    #[test]
    fn malformed_images_are_refused() {
        assert!(strip_location(b"\xFF\xD8\xFF\xE1\xFF\xFF").is_err());
        assert!(strip_location(b"\x89PNG\r\n\x1a\n\0\0\0\x05IHDR").is_err());
        assert!(strip_location(b"GIF89a").is_err());
    }
}
