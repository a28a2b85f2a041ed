//! A 1-bit canvas for labels and sheets.
//!
//! Pixels are packed row by row, `ceil(width / 8)` bytes per row, most significant bit
//! first, 1 = black (printed) and 0 = white; padding bits at the end of a row are
//! always 0. That is exactly the layout of ZPL `^GFA` data, so [`Bitmap::as_bytes`]
//! and [`Bitmap::to_zpl_gfa_hex`] need no conversion. (TSPL `BITMAP` data is usually
//! described with the opposite polarity, 0 = printed dot: verify on the printer and
//! invert the bytes if so.)
//!
//! Drawing is clipped to the canvas, except [`Bitmap::draw_code128`], which refuses
//! to draw a barcode that does not fit rather than print a clipped, unreadable one.

use std::fmt::Write as _;

use thiserror::Error;

use super::code128::{self, QUIET_ZONE_MODULES};

/// Largest width or height accepted by [`Bitmap::new`], in pixels (A3 at 600 dpi is
/// about 7016 × 9921).
pub const MAX_DIMENSION: u32 = 16_384;

/// Why a bitmap operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BitmapError {
    /// Zero or oversized canvas.
    #[error("cannot make a {width}×{height} px bitmap: both sides must be between 1 and {max} px")]
    InvalidSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
        /// [`MAX_DIMENSION`].
        max: u32,
    },
    /// A barcode (with its quiet zones) would not fit the canvas.
    #[error(
        "a {w}×{h} px barcode (with quiet zones) at ({x}, {y}) does not fit the {width}×{height} \
         px canvas: use a smaller module width or bar height, a shorter code, or a larger canvas"
    )]
    DoesNotFit {
        /// Left edge of the quiet zone.
        x: u32,
        /// Top edge.
        y: u32,
        /// Width needed, including quiet zones.
        w: u64,
        /// Height needed.
        h: u32,
        /// Canvas width.
        width: u32,
        /// Canvas height.
        height: u32,
    },
    /// The barcode parameters are unusable.
    #[error("cannot draw barcode: {0}")]
    InvalidBarcode(&'static str),
    /// The PNG encoder failed (it only does on parameters a valid bitmap never has).
    #[error("PNG encoding of a {width}×{height} px bitmap failed: {reason}")]
    Png {
        /// Canvas width.
        width: u32,
        /// Canvas height.
        height: u32,
        /// The encoder's message.
        reason: String,
    },
}

/// An axis-aligned pixel rectangle: top-left corner and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// A 1-bit canvas; see the module documentation for the memory layout.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: u32,
    height: u32,
    stride: usize,
    bits: Vec<u8>,
    dpi: Option<u32>,
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bitmap")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("dpi", &self.dpi)
            .finish_non_exhaustive()
    }
}

impl Bitmap {
    /// An all-white canvas.
    ///
    /// # Errors
    /// [`BitmapError::InvalidSize`] if a side is 0 or larger than [`MAX_DIMENSION`].
    pub fn new(width: u32, height: u32) -> Result<Bitmap, BitmapError> {
        if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
            return Err(BitmapError::InvalidSize {
                width,
                height,
                max: MAX_DIMENSION,
            });
        }
        let stride = (width as usize).div_ceil(8);
        Ok(Bitmap {
            width,
            height,
            stride,
            bits: vec![0; stride * height as usize],
            dpi: None,
        })
    }

    /// Records the intended print resolution; [`Bitmap::to_png`] then writes it into
    /// the PNG so the image prints at its true size.
    #[must_use]
    pub fn with_dpi(mut self, dpi: u32) -> Bitmap {
        self.dpi = (dpi > 0).then_some(dpi);
        self
    }

    /// The print resolution set by [`Bitmap::with_dpi`].
    pub fn dpi(&self) -> Option<u32> {
        self.dpi
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Bytes per row: `ceil(width / 8)`.
    pub fn row_bytes(&self) -> usize {
        self.stride
    }

    /// All rows, packed (see the module documentation).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }

    /// Row `y`, packed, or `None` below the canvas.
    pub fn row(&self, y: u32) -> Option<&[u8]> {
        let start = (y as usize).checked_mul(self.stride)?;
        self.bits.get(start..start + self.stride)
    }

    fn index(&self, x: u32, y: u32) -> Option<(usize, u8)> {
        (x < self.width && y < self.height)
            .then(|| (y as usize * self.stride + x as usize / 8, 0x80u8 >> (x % 8)))
    }

    /// Whether pixel (`x`, `y`) is black; `false` outside the canvas.
    pub fn get(&self, x: u32, y: u32) -> bool {
        self.index(x, y)
            .is_some_and(|(i, mask)| self.bits[i] & mask != 0)
    }

    /// Sets pixel (`x`, `y`) black or white; ignored outside the canvas.
    pub fn set(&mut self, x: u32, y: u32, black: bool) {
        if let Some((i, mask)) = self.index(x, y) {
            if black {
                self.bits[i] |= mask;
            } else {
                self.bits[i] &= !mask;
            }
        }
    }

    /// Fills a rectangle black or white, clipped to the canvas.
    pub fn fill_rect(&mut self, x: u32, y: u32, w: u32, h: u32, black: bool) {
        let x_end = x.saturating_add(w).min(self.width);
        let y_end = y.saturating_add(h).min(self.height);
        if x >= x_end || y >= y_end {
            return;
        }
        for row in y..y_end {
            let base = row as usize * self.stride;
            let mut col = x;
            while col < x_end {
                let byte = base + col as usize / 8;
                let bit = col % 8;
                let n = (8 - bit).min(x_end - col);
                // `n` bits starting at `bit`, MSB first.
                let mask = ((0xFFu16 << (8 - n)) as u8) >> bit;
                if black {
                    self.bits[byte] |= mask;
                } else {
                    self.bits[byte] &= !mask;
                }
                col += n;
            }
        }
    }

    /// Draws a rectangle outline `thickness` pixels wide, inside the given box.
    pub fn stroke_rect(&mut self, x: u32, y: u32, w: u32, h: u32, thickness: u32) {
        let t = thickness.min(w).min(h);
        self.fill_rect(x, y, w, t, true);
        self.fill_rect(x, y.saturating_add(h - t), w, t, true);
        self.fill_rect(x, y, t, h, true);
        self.fill_rect(x.saturating_add(w - t), y, t, h, true);
    }

    /// Width in pixels that [`Bitmap::draw_code128`] needs for `pattern`, quiet zones
    /// included.
    pub fn code128_width(module_width: u32, pattern: &[u8]) -> u64 {
        u64::from(code128::width_in_modules(pattern) + 2 * QUIET_ZONE_MODULES)
            * u64::from(module_width)
    }

    /// Draws a Code 128 `pattern` (from [`code128::encode`]) with its quiet zones.
    ///
    /// (`x`, `y`) is the top-left corner of the left quiet zone; the whole box of
    /// [`Bitmap::code128_width`] × `height` pixels is cleared to white first and the
    /// first bar starts [`QUIET_ZONE_MODULES`] modules to the right of `x`. Returns the
    /// width drawn, quiet zones included.
    ///
    /// # Errors
    /// [`BitmapError::DoesNotFit`] if the box is not wholly on the canvas (nothing is
    /// drawn), [`BitmapError::InvalidBarcode`] for a zero module width or height, or
    /// an empty pattern or one with a zero width element.
    pub fn draw_code128(
        &mut self,
        x: u32,
        y: u32,
        module_width: u32,
        height: u32,
        pattern: &[u8],
    ) -> Result<u32, BitmapError> {
        if module_width == 0 || height == 0 {
            return Err(BitmapError::InvalidBarcode(
                "module width and bar height must be at least 1 px",
            ));
        }
        if pattern.is_empty() || pattern.contains(&0) {
            return Err(BitmapError::InvalidBarcode(
                "the pattern must be non-empty bar/space widths of at least 1 module, as \
                 returned by code128::encode",
            ));
        }
        let total = Self::code128_width(module_width, pattern);
        let fits = u64::from(x) + total <= u64::from(self.width)
            && u64::from(y) + u64::from(height) <= u64::from(self.height);
        let total_px =
            u32::try_from(total)
                .ok()
                .filter(|_| fits)
                .ok_or(BitmapError::DoesNotFit {
                    x,
                    y,
                    w: total,
                    h: height,
                    width: self.width,
                    height: self.height,
                })?;
        self.fill_rect(x, y, total_px, height, false);
        let mut cursor = x + QUIET_ZONE_MODULES * module_width;
        for (i, &w) in pattern.iter().enumerate() {
            let px = u32::from(w) * module_width;
            if i % 2 == 0 {
                self.fill_rect(cursor, y, px, height, true);
            }
            cursor += px;
        }
        Ok(total_px)
    }

    /// Number of black pixels in the rectangle, clipped to the canvas.
    pub fn count_black_in(&self, x: u32, y: u32, w: u32, h: u32) -> u64 {
        let x_end = x.saturating_add(w).min(self.width);
        let y_end = y.saturating_add(h).min(self.height);
        let mut n = 0u64;
        for row in y..y_end {
            for col in x..x_end {
                n += u64::from(self.get(col, row));
            }
        }
        n
    }

    /// Number of black pixels on the whole canvas.
    pub fn count_black(&self) -> u64 {
        self.bits.iter().map(|b| u64::from(b.count_ones())).sum()
    }

    /// One byte per pixel, row-major, 0 = black and 255 = white (8-bit grayscale).
    pub fn to_gray8(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.width as usize * self.height as usize);
        for y in 0..self.height {
            for x in 0..self.width {
                out.push(if self.get(x, y) { 0 } else { 255 });
            }
        }
        out
    }

    /// Encodes the canvas as a 1-bit grayscale PNG, with a pHYs chunk if a dpi was
    /// set by [`Bitmap::with_dpi`] so that it prints at its true size.
    ///
    /// # Errors
    /// [`BitmapError::Png`] if the `png` encoder fails, which it only does on
    /// parameters a valid `Bitmap` never has.
    pub fn to_png(&self) -> Result<Vec<u8>, BitmapError> {
        let png_err = |e: png::EncodingError| BitmapError::Png {
            width: self.width,
            height: self.height,
            reason: e.to_string(),
        };
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        encoder.set_compression(png::Compression::Balanced);
        if let Some(dpi) = self.dpi {
            // Pixels per metre, rounded.
            let ppm = ((u64::from(dpi) * 10_000 + 127) / 254) as u32;
            encoder.set_pixel_dims(Some(png::PixelDimensions {
                xppu: ppm,
                yppu: ppm,
                unit: png::Unit::Meter,
            }));
        }
        // PNG 1-bit grayscale is 1 = white; row padding bits are ignored by readers.
        let inverted: Vec<u8> = self.bits.iter().map(|b| !b).collect();
        let mut writer = encoder.write_header().map_err(png_err)?;
        writer.write_image_data(&inverted).map_err(png_err)?;
        writer.finish().map_err(png_err)?;
        Ok(out)
    }

    /// The packed rows as uppercase hex, two digits per byte, rows concatenated with
    /// no separators: the data field of ZPL `^GFA` (see [`Bitmap::to_zpl_gfa`]).
    pub fn to_zpl_gfa_hex(&self) -> String {
        let mut s = String::with_capacity(self.bits.len() * 2);
        for b in &self.bits {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02X}");
        }
        s
    }

    /// A complete ZPL `^GFA,total,total,row_bytes,hex` command for this bitmap
    /// (uncompressed ASCII hex), to be placed after a `^FO` in a label format.
    pub fn to_zpl_gfa(&self) -> String {
        let total = self.bits.len();
        format!(
            "^GFA,{total},{total},{},{}",
            self.stride,
            self.to_zpl_gfa_hex()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_sizes() {
        assert!(matches!(
            Bitmap::new(0, 10),
            Err(BitmapError::InvalidSize { .. })
        ));
        assert!(Bitmap::new(10, MAX_DIMENSION + 1).is_err());
        let err = Bitmap::new(10, 0).unwrap_err().to_string();
        assert!(err.contains("10×0"), "{err}");
    }

    #[test]
    fn packs_msb_first_one_is_black() {
        let mut b = Bitmap::new(10, 2).unwrap();
        assert_eq!(b.row_bytes(), 2);
        b.set(0, 0, true);
        b.set(9, 1, true);
        assert_eq!(b.as_bytes(), &[0x80, 0x00, 0x00, 0x40]);
        assert_eq!(b.row(1), Some(&[0x00, 0x40][..]));
        assert_eq!(b.row(2), None);
        assert!(b.get(0, 0) && b.get(9, 1) && !b.get(1, 0));
        b.set(0, 0, false);
        assert!(!b.get(0, 0));
        // Outside: ignored, reads as white.
        b.set(10, 0, true);
        b.set(0, 2, true);
        assert!(!b.get(10, 0));
        assert_eq!(b.count_black(), 1);
    }

    #[test]
    fn fill_rect_clips_and_keeps_padding_white() {
        let mut b = Bitmap::new(13, 3).unwrap();
        b.fill_rect(0, 0, 100, 100, true);
        assert_eq!(b.as_bytes(), &[0xFF, 0xF8, 0xFF, 0xF8, 0xFF, 0xF8]);
        assert_eq!(b.count_black(), 39);
        b.fill_rect(3, 1, 7, 1, false);
        assert_eq!(b.row(1), Some(&[0xE0, 0x38][..]));
        b.fill_rect(50, 50, 3, 3, false);
        b.fill_rect(2, 0, 0, 3, false);
        assert_eq!(b.count_black(), 32);
        assert_eq!(b.count_black_in(0, 1, 13, 1), 6);
    }

    #[test]
    fn zpl_hex_and_command() {
        let mut b = Bitmap::new(12, 2).unwrap();
        b.fill_rect(0, 0, 4, 1, true);
        b.set(11, 1, true);
        assert_eq!(b.to_zpl_gfa_hex(), "F0000010");
        assert_eq!(b.to_zpl_gfa(), "^GFA,4,4,2,F0000010");
    }

    fn decode_png(png_bytes: &[u8]) -> (png::OutputInfo, Option<png::PixelDimensions>, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let dims = reader.info().pixel_dims;
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, dims, buf)
    }

    #[test]
    fn png_round_trips_pixels_and_dpi() {
        let mut b = Bitmap::new(21, 5).unwrap().with_dpi(300);
        b.fill_rect(1, 1, 19, 3, true);
        b.set(20, 4, true);
        let (info, dims, gray) = decode_png(&b.to_png().unwrap());
        let dims = dims.unwrap();
        assert_eq!((dims.xppu, dims.unit), (11811, png::Unit::Meter));
        assert_eq!((info.width, info.height), (21, 5));
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(gray, b.to_gray8());
        assert_eq!(gray[0], 255);
        assert_eq!(gray[21 + 1], 0);
        // No dpi, no pHYs.
        let plain = Bitmap::new(3, 3).unwrap();
        assert!(decode_png(&plain.to_png().unwrap()).1.is_none());
    }

    #[test]
    fn draws_code128_with_quiet_zones() {
        let pattern = code128::encode("OP-017").unwrap();
        let mw = 3;
        let need = Bitmap::code128_width(mw, &pattern);
        assert_eq!(
            need,
            u64::from(code128::width_in_modules(&pattern) + 20) * 3
        );
        let mut b = Bitmap::new(need as u32 + 10, 50).unwrap();
        b.fill_rect(0, 0, b.width(), 50, true);
        let drawn = b.draw_code128(5, 10, mw, 30, &pattern).unwrap();
        assert_eq!(u64::from(drawn), need);
        // Quiet zones are white, the first bar starts right after.
        let qz = QUIET_ZONE_MODULES * mw;
        assert_eq!(b.count_black_in(5, 10, qz, 30), 0);
        assert_eq!(b.count_black_in(5 + drawn - qz, 10, qz, 30), 0);
        assert!(b.get(5 + qz, 10) && b.get(5 + qz, 39));
        // Read the runs back along a scanline and compare with the pattern.
        let mut runs = Vec::new();
        let (mut x, end) = (5 + qz, 5 + drawn - qz);
        while x < end {
            let color = b.get(x, 20);
            let start = x;
            while x < end && b.get(x, 20) == color {
                x += 1;
            }
            runs.push(((x - start) / mw) as u8);
        }
        assert_eq!(runs, pattern);
    }

    #[test]
    fn refuses_barcodes_that_do_not_fit() {
        let pattern = code128::encode("CMD-UNPACK").unwrap();
        let mut b = Bitmap::new(300, 100).unwrap();
        let err = b.draw_code128(0, 0, 3, 50, &pattern).unwrap_err();
        assert!(matches!(err, BitmapError::DoesNotFit { .. }), "{err}");
        assert_eq!(b.count_black(), 0);
        assert!(b.draw_code128(0, 60, 1, 50, &pattern).is_err());
        assert!(matches!(
            b.draw_code128(0, 0, 0, 50, &pattern),
            Err(BitmapError::InvalidBarcode(_))
        ));
        assert!(b.draw_code128(0, 0, 1, 50, &[]).is_err());
        assert!(b.draw_code128(0, 0, 1, 50, &[1, 0, 1]).is_err());
        assert!(b.draw_code128(u32::MAX, 0, 1, 50, &pattern).is_err());
    }
}
