//! Text rendering (Latin and Chinese) into a [`Bitmap`] with a TrueType/OpenType font
//! or font collection (`.ttc`) loaded from disk at run time.
//!
//! Glyphs are rasterised anti-aliased by `ab_glyph` and thresholded to 1 bit: a pixel
//! is black when the glyph covers at least [`COVERAGE_THRESHOLD`] of it. A character
//! the font has no glyph for is an error ([`FontError::MissingGlyph`]), never a blank
//! or a tofu box, so a Latin-only font cannot silently print empty Chinese titles.
//! Each glyph is rasterised once per size and kept (a bounded cache shared by the font's
//! clones), and drawn on whole pixels.
//!
//! The station's fonts come from Debian packages: `fonts-wqy-microhei` (preferred,
//! small) or `fonts-noto-cjk`; see [`default_font_paths`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ab_glyph::{Font as _, FontArc, FontRef, GlyphId, PxScale, ScaleFont as _, point};
use thiserror::Error;

use super::bitmap::Bitmap;

/// A pixel is black when glyph coverage is at least this (0–1).
pub const COVERAGE_THRESHOLD: f32 = 0.5;

/// Smallest and largest text size accepted, in pixels (line height).
pub const TEXT_PX_RANGE: (f32, f32) = (4.0, 2000.0);

/// What to install when no font is found.
const INSTALL_HINT: &str = "install one with `apt-get install -y fonts-wqy-microhei` (it provides \
     /usr/share/fonts/truetype/wqy/wqy-microhei.ttc) or `fonts-noto-cjk`, or give the path of \
     another font that covers Chinese";

/// Font files tried by [`Font::load_default`], best first: WenQuanYi Micro Hei
/// (Debian `fonts-wqy-microhei`), Noto Sans CJK (`fonts-noto-cjk`; both the current
/// and the older install path), WenQuanYi Zen Hei (`fonts-wqy-zenhei`).
pub fn default_font_paths() -> &'static [&'static str] {
    &[
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    ]
}

/// Why a font could not be loaded or could not render some text.
#[derive(Debug, Error)]
pub enum FontError {
    /// The file could not be read.
    #[error("cannot read font file {}: {source}; {INSTALL_HINT}", path.display())]
    Read {
        /// The font path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a font, or the face index is out of range.
    #[error(
        "{} is not a usable TrueType/OpenType font or collection (face {index}): {reason}; \
         give the path of a .ttf, .otf or .ttc file",
        path.display()
    )]
    Parse {
        /// The font path.
        path: PathBuf,
        /// The face index in a collection (0 for a single font).
        index: u32,
        /// What the parser said.
        reason: String,
    },
    /// [`Font::load_first_available`] found nothing usable.
    #[error(
        "no usable font found; tried {}; {INSTALL_HINT}",
        describe_attempts(tried)
    )]
    NoneAvailable {
        /// Every path tried, with why it was not usable.
        tried: Vec<(PathBuf, String)>,
    },
    /// The font has no glyph for a character of the text. The message names the
    /// character's code point only: the text may be a customer's name, and this message
    /// reaches the log and the print queue.
    #[error(
        "font {} has no glyph for U+{code:04X}; use a font that covers it \
         (for Chinese: /usr/share/fonts/truetype/wqy/wqy-microhei.ttc from fonts-wqy-microhei) \
         or change the text",
        path.display(),
        code = u32::from(*ch)
    )]
    MissingGlyph {
        /// The character.
        ch: char,
        /// The text it appeared in.
        text: String,
        /// The font path.
        path: PathBuf,
    },
    /// Control characters (newline, tab, …) cannot be drawn on a single line (the message
    /// leaves the text out, as above).
    #[error(
        "a text contains control character U+{code:04X}; draw one line at a time and \
         remove tabs and other control characters",
        code = u32::from(*ch)
    )]
    ControlCharacter {
        /// The character.
        ch: char,
        /// The text it appeared in.
        text: String,
    },
    /// The requested text size is out of range.
    #[error(
        "text size {px} px is out of range: use {min}–{max} px",
        min = TEXT_PX_RANGE.0,
        max = TEXT_PX_RANGE.1
    )]
    InvalidSize {
        /// The requested size.
        px: f32,
    },
}

fn describe_attempts(tried: &[(PathBuf, String)]) -> String {
    if tried.is_empty() {
        return "no paths (the list of font paths is empty)".to_owned();
    }
    tried
        .iter()
        .map(|(p, why)| format!("{} ({why})", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Size of a line of text, in whole pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextMetrics {
    /// Advance width of the whole line.
    pub width: u32,
    /// Line height (ascent + descent, without line gap); about the requested size.
    pub height: u32,
    /// Distance from the top of the line box to the baseline.
    pub ascent: u32,
}

/// A loaded font face, cheap to clone and shareable between threads.
#[derive(Clone)]
pub struct Font {
    inner: FontArc,
    path: Arc<Path>,
    face_index: u32,
    family: Option<String>,
    /// Glyphs already rasterised, shared by every clone: a bench prints the same few
    /// hundred characters all day, so each is outlined and rasterised once.
    glyphs: Arc<std::sync::Mutex<GlyphCache>>,
}

/// Most glyphs kept (a few hundred bytes each at label sizes); when full the cache starts
/// again, so its memory stays bounded whatever is printed.
const GLYPH_CACHE_MAX: usize = 2048;

/// A glyph at one size, rasterised and thresholded: its black pixels, as offsets from the
/// pen position on the baseline.
struct GlyphMask {
    left: i32,
    top: i32,
    width: u32,
    /// Row-major, one bit a pixel (`width` bits a row, rounded up to bytes).
    bits: Vec<u8>,
}

impl GlyphMask {
    fn row_bytes(width: u32) -> usize {
        width.div_ceil(8) as usize
    }
}

#[derive(Default)]
struct GlyphCache {
    /// Keyed by glyph id and the size's bits.
    masks: std::collections::HashMap<(u16, u32), Arc<GlyphMask>>,
}

impl fmt::Debug for Font {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Font")
            .field("path", &self.path)
            .field("face_index", &self.face_index)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

/// A glyph placed on a line: its id and pen x offset from the line start.
type Placed = (GlyphId, f32);

impl Font {
    /// Loads a font file. For a collection (`.ttc`) the Simplified Chinese face is
    /// chosen if its family name says so (e.g. "Noto Sans CJK SC"), else face 0.
    ///
    /// # Errors
    /// [`FontError::Read`] or [`FontError::Parse`], naming the path.
    pub fn load(path: impl AsRef<Path>) -> Result<Font, FontError> {
        let path = path.as_ref();
        let data = read(path)?;
        let index = preferred_face(data);
        Self::from_data(path, data, index)
    }

    /// Loads face `index` of a font collection (0 for a plain `.ttf`/`.otf`).
    ///
    /// # Errors
    /// As [`Font::load`]; an index past the end of the collection is a
    /// [`FontError::Parse`].
    pub fn load_face(path: impl AsRef<Path>, index: u32) -> Result<Font, FontError> {
        let path = path.as_ref();
        Self::from_data(path, read(path)?, index)
    }

    /// Loads the first of `paths` that is a usable font.
    ///
    /// # Errors
    /// [`FontError::NoneAvailable`] listing every path tried and why it failed.
    pub fn load_first_available(paths: &[PathBuf]) -> Result<Font, FontError> {
        let mut tried = Vec::with_capacity(paths.len());
        for path in paths {
            match Self::load(path) {
                Ok(font) => return Ok(font),
                Err(FontError::Read { source, .. }) => {
                    tried.push((path.clone(), source.to_string()))
                }
                Err(FontError::Parse { reason, .. }) => tried.push((path.clone(), reason)),
                Err(other) => tried.push((path.clone(), other.to_string())),
            }
        }
        Err(FontError::NoneAvailable { tried })
    }

    /// Loads the first available of [`default_font_paths`].
    ///
    /// # Errors
    /// As [`Font::load_first_available`].
    pub fn load_default() -> Result<Font, FontError> {
        let paths: Vec<PathBuf> = default_font_paths().iter().map(PathBuf::from).collect();
        Self::load_first_available(&paths)
    }

    fn from_data(path: &Path, data: &'static [u8], index: u32) -> Result<Font, FontError> {
        let family = ttf_parser::Face::parse(data, index)
            .ok()
            .and_then(|face| family_name(&face));
        let inner =
            FontRef::try_from_slice_and_index(data, index).map_err(|e| FontError::Parse {
                path: path.to_owned(),
                index,
                reason: e.to_string(),
            })?;
        Ok(Font {
            inner: FontArc::new(inner),
            path: Arc::from(path),
            face_index: index,
            family,
            glyphs: Arc::default(),
        })
    }

    /// The file this font was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The face index within the file.
    pub fn face_index(&self) -> u32 {
        self.face_index
    }

    /// The family name, e.g. "WenQuanYi Micro Hei", if the font has a readable one.
    pub fn family(&self) -> Option<&str> {
        self.family.as_deref()
    }

    /// Whether the font has a glyph for `ch`.
    pub fn has_glyph(&self, ch: char) -> bool {
        self.inner.glyph_id(ch).0 != 0
    }

    /// Measures one line of `text` at `px` pixels line height.
    ///
    /// # Errors
    /// [`FontError::MissingGlyph`], [`FontError::ControlCharacter`] or
    /// [`FontError::InvalidSize`].
    pub fn measure(&self, text: &str, px: f32) -> Result<TextMetrics, FontError> {
        let (_, metrics) = self.layout(text, px)?;
        Ok(metrics)
    }

    /// Draws one line of `text` in black with the top-left of its line box at
    /// (`x`, `y`); the baseline is `ascent` pixels below `y`. Pixels off the canvas
    /// are clipped. Nothing is drawn if the text cannot be rendered completely.
    ///
    /// # Errors
    /// As [`Font::measure`].
    pub fn draw_text(
        &self,
        bitmap: &mut Bitmap,
        x: i32,
        y: i32,
        px: f32,
        text: &str,
    ) -> Result<TextMetrics, FontError> {
        let (glyphs, metrics) = self.layout(text, px)?;
        let scale = PxScale::from(px);
        // Glyphs are placed on whole pixels (the pen rounded), so one rasterised mask
        // serves every place a glyph is drawn at this size.
        let baseline = (y as f32 + self.inner.as_scaled(scale).ascent()).round() as i64;
        for (id, pen_x) in glyphs {
            let Some(mask) = self.mask(id, px) else {
                continue; // e.g. a space: nothing to draw
            };
            let left = (x as f32 + pen_x).round() as i64 + i64::from(mask.left);
            let top = baseline + i64::from(mask.top);
            let row = GlyphMask::row_bytes(mask.width);
            for (dy, bits) in mask.bits.chunks(row.max(1)).enumerate() {
                for dx in 0..mask.width {
                    if bits[(dx / 8) as usize] & (0x80 >> (dx % 8)) == 0 {
                        continue;
                    }
                    let (px_x, px_y) = (left + i64::from(dx), top + dy as i64);
                    if let (Ok(cx), Ok(cy)) = (u32::try_from(px_x), u32::try_from(px_y)) {
                        bitmap.set(cx, cy, true);
                    }
                }
            }
        }
        Ok(metrics)
    }

    /// Glyph `id` at `px`, rasterised once (at the origin, on the baseline) and kept; None
    /// for a glyph with no outline.
    fn mask(&self, id: GlyphId, px: f32) -> Option<Arc<GlyphMask>> {
        let key = (id.0, px.to_bits());
        let mut cache = self.glyphs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = cache.masks.get(&key) {
            return Some(m.clone());
        }
        let glyph = id.with_scale_and_position(PxScale::from(px), point(0.0, 0.0));
        let outlined = self.inner.outline_glyph(glyph)?;
        let bounds = outlined.px_bounds();
        let width = bounds.width().max(0.0) as u32;
        let height = bounds.height().max(0.0) as u32;
        let row = GlyphMask::row_bytes(width);
        let mut bits = vec![0u8; row * height as usize];
        outlined.draw(|dx, dy, coverage| {
            if coverage >= COVERAGE_THRESHOLD && dx < width && dy < height {
                bits[dy as usize * row + (dx / 8) as usize] |= 0x80 >> (dx % 8);
            }
        });
        let mask = Arc::new(GlyphMask {
            left: bounds.min.x as i32,
            top: bounds.min.y as i32,
            width,
            bits,
        });
        if cache.masks.len() >= GLYPH_CACHE_MAX {
            cache.masks.clear();
        }
        cache.masks.insert(key, mask.clone());
        Some(mask)
    }

    fn layout(&self, text: &str, px: f32) -> Result<(Vec<Placed>, TextMetrics), FontError> {
        if !(px.is_finite() && (TEXT_PX_RANGE.0..=TEXT_PX_RANGE.1).contains(&px)) {
            return Err(FontError::InvalidSize { px });
        }
        let scaled = self.inner.as_scaled(PxScale::from(px));
        let mut placed = Vec::with_capacity(text.len());
        let mut pen = 0.0f32;
        let mut prev: Option<GlyphId> = None;
        for ch in text.chars() {
            if ch.is_control() {
                return Err(FontError::ControlCharacter {
                    ch,
                    text: text.to_owned(),
                });
            }
            let id = self.inner.glyph_id(ch);
            if id.0 == 0 {
                if ch.is_whitespace() {
                    // A font without a glyph for this space: advance by a quarter em.
                    pen += px / 4.0;
                    prev = None;
                    continue;
                }
                return Err(FontError::MissingGlyph {
                    ch,
                    text: text.to_owned(),
                    path: self.path.to_path_buf(),
                });
            }
            if let Some(p) = prev {
                pen += scaled.kern(p, id);
            }
            placed.push((id, pen));
            pen += scaled.h_advance(id);
            prev = Some(id);
        }
        let ascent = scaled.ascent().ceil().max(0.0);
        let height = (scaled.ascent() - scaled.descent()).ceil().max(1.0);
        let metrics = TextMetrics {
            width: pen.ceil().max(0.0) as u32,
            height: height as u32,
            ascent: ascent as u32,
        };
        Ok((placed, metrics))
    }
}

/// The font file's bytes, memory-mapped once per path and kept for the life of the
/// process: the 5 MB CJK font is not copied into the heap, and only the pages of the
/// glyphs drawn are ever read in (and the kernel may drop them again under pressure).
fn read(path: &Path) -> Result<&'static [u8], FontError> {
    static MAPPED: std::sync::Mutex<std::collections::BTreeMap<PathBuf, &'static [u8]>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    let err = |source| FontError::Read {
        path: path.to_owned(),
        source,
    };
    let mut mapped = MAPPED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(bytes) = mapped.get(path) {
        return Ok(bytes);
    }
    let file = std::fs::File::open(path).map_err(err)?;
    // SAFETY: font files are installed, read-only system files; a package upgrade
    // replaces one by a new file (the mapping keeps the old one). Only a file cut short
    // in place while mapped could fault, as it would for any reader of a mapped file.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(err)?;
    let bytes: &'static [u8] = Box::leak(Box::new(map));
    mapped.insert(path.to_owned(), bytes);
    Ok(bytes)
}

/// Face to use from a collection: the first whose family name marks it Simplified
/// Chinese ("SC"), else 0.
fn preferred_face(data: &[u8]) -> u32 {
    let count = ttf_parser::fonts_in_collection(data).unwrap_or(1).min(64);
    (0..count)
        .find(|&i| {
            ttf_parser::Face::parse(data, i)
                .ok()
                .and_then(|face| family_name(&face))
                .is_some_and(|name| name.split_whitespace().any(|word| word == "SC"))
        })
        .unwrap_or(0)
}

/// The family name, preferring the typographic family and US English.
fn family_name(face: &ttf_parser::Face<'_>) -> Option<String> {
    use ttf_parser::name_id::{FAMILY, TYPOGRAPHIC_FAMILY};
    let mut best: Option<(u8, String)> = None;
    for name in face.names() {
        let rank_id = match name.name_id {
            TYPOGRAPHIC_FAMILY => 2,
            FAMILY => 0,
            _ => continue,
        };
        let Some(s) = name.to_string() else { continue };
        let english = u8::from(name.language() == ttf_parser::Language::English_UnitedStates);
        let rank = rank_id + english;
        if best.as_ref().is_none_or(|(r, _)| rank > *r) {
            best = Some((rank, s));
        }
    }
    best.map(|(_, s)| s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The station font for tests. Fails (never skips) with what to install.
    pub(crate) fn test_font() -> Font {
        match Font::load_default() {
            Ok(font) => font,
            Err(e) => panic!(
                "label tests need a CJK font: run `apt-get install -y fonts-wqy-microhei` \
                 (CI must install it too). {e}"
            ),
        }
    }

    #[test]
    fn missing_file_error_names_the_path() {
        let err = Font::load("/nonexistent/fonts/nope.ttc").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, FontError::Read { .. }));
        assert!(msg.contains("/nonexistent/fonts/nope.ttc"), "{msg}");
        assert!(msg.contains("fonts-wqy-microhei"), "{msg}");
    }

    #[test]
    fn garbage_file_is_a_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-font.ttf");
        std::fs::write(&path, b"definitely not a font").unwrap();
        let err = Font::load(&path).unwrap_err();
        assert!(matches!(err, FontError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("not-a-font.ttf"), "{err}");
    }

    #[test]
    fn load_first_available_lists_every_path_tried() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.ttf");
        std::fs::write(&junk, [0u8; 64]).unwrap();
        let paths = vec![PathBuf::from("/nonexistent/a.ttc"), junk.clone()];
        let err = Font::load_first_available(&paths).unwrap_err();
        let msg = err.to_string();
        let FontError::NoneAvailable { tried } = &err else {
            panic!("expected NoneAvailable, got {err}")
        };
        assert_eq!(tried.len(), 2);
        assert!(msg.contains("/nonexistent/a.ttc"), "{msg}");
        assert!(msg.contains(&junk.display().to_string()), "{msg}");
        assert!(
            msg.contains("apt-get install -y fonts-wqy-microhei"),
            "{msg}"
        );
        let empty = Font::load_first_available(&[]).unwrap_err().to_string();
        assert!(empty.contains("empty"), "{empty}");
        // A good font after bad ones is found.
        let mut with_good = paths;
        with_good.push(test_font().path().to_path_buf());
        assert!(Font::load_first_available(&with_good).is_ok());
    }

    #[test]
    fn default_font_covers_latin_and_chinese() {
        let font = test_font();
        for ch in "CMD-UNPACK 退货拆包作废良品操作员".chars() {
            assert!(font.has_glyph(ch), "{ch:?} missing in {font:?}");
        }
        assert!(font.family().is_some(), "{font:?}");
    }

    #[test]
    fn renders_chinese_into_black_pixels() {
        let font = test_font();
        let mut bmp = Bitmap::new(400, 100).unwrap();
        let m = font.draw_text(&mut bmp, 10, 10, 48.0, "退货拆包").unwrap();
        assert!(m.width > 4 * 40 && m.width < 4 * 56, "{m:?}");
        assert!((46..=52).contains(&m.height), "{m:?}");
        let ink = bmp.count_black_in(10, 10, m.width, m.height);
        // Dense CJK strokes: well over 5% of the box is ink, and none of it elsewhere.
        assert!(ink > u64::from(m.width * m.height) / 20, "ink {ink}");
        assert_eq!(bmp.count_black(), ink);
        // Each character lands in its own quarter of the line.
        let quarter = m.width / 4;
        for i in 0..4 {
            assert!(bmp.count_black_in(10 + i * quarter, 10, quarter, m.height) > 100);
        }
    }

    /// A glyph is rasterised once per size and reused: the same text drawn again (by a
    /// clone too, as the print worker's copies are) gives the same pixels, moved with its
    /// position; the cache holds one mask per glyph and size and stays bounded.
    #[test]
    fn glyphs_are_rasterised_once_and_reused() {
        let font = Font::load_default().unwrap();
        let clone = font.clone();
        let mut a = Bitmap::new(300, 60).unwrap();
        let mut b = Bitmap::new(300, 60).unwrap();
        font.draw_text(&mut a, 10, 5, 32.0, "欧阳娜娜欧").unwrap();
        clone.draw_text(&mut b, 17, 8, 32.0, "欧阳娜娜欧").unwrap();
        assert!(a.count_black() > 200);
        assert_eq!(a.count_black(), b.count_black());
        for y in 0..50 {
            for x in 0..280 {
                assert_eq!(a.get(x, y), b.get(x + 7, y + 3), "pixel {x},{y}");
            }
        }
        let cached = |f: &Font| f.glyphs.lock().unwrap().masks.len();
        assert_eq!(cached(&font), 3, "欧 阳 娜 at 32 px, each once");
        font.draw_text(&mut a, 0, 0, 24.0, "欧").unwrap();
        assert_eq!(cached(&clone), 4, "another size is another mask");
        let many: String = ('\u{4e00}'..).take(GLYPH_CACHE_MAX + 10).collect();
        for chunk in many.chars().collect::<Vec<_>>().chunks(100) {
            let line: String = chunk.iter().collect();
            let mut wide = Bitmap::new(4000, 20).unwrap();
            font.draw_text(&mut wide, 0, 0, 12.0, &line).unwrap();
        }
        assert!(cached(&font) <= GLYPH_CACHE_MAX);
    }

    #[test]
    fn clips_text_partly_off_canvas() {
        let font = test_font();
        let mut bmp = Bitmap::new(60, 30).unwrap();
        font.draw_text(&mut bmp, -20, -10, 40.0, "拆包 OK").unwrap();
        assert!(bmp.count_black() > 0);
    }

    #[test]
    fn missing_glyph_and_control_characters_are_errors() {
        let font = test_font();
        let mut bmp = Bitmap::new(200, 60).unwrap();
        let err = font
            .draw_text(&mut bmp, 0, 0, 30.0, "OK \u{10FFFD}")
            .unwrap_err();
        assert!(
            matches!(
                err,
                FontError::MissingGlyph {
                    ch: '\u{10FFFD}',
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(&font.path().display().to_string()));
        assert_eq!(bmp.count_black(), 0, "nothing drawn on error");
        assert!(matches!(
            font.measure("a\nb", 30.0),
            Err(FontError::ControlCharacter { ch: '\n', .. })
        ));
        assert!(matches!(
            font.measure("a", f32::NAN),
            Err(FontError::InvalidSize { .. })
        ));
        assert!(font.measure("a", 0.5).is_err());
    }

    #[test]
    fn measure_matches_draw() {
        let font = test_font();
        let mut bmp = Bitmap::new(600, 80).unwrap();
        let measured = font.measure("Unpack 拆包", 40.0).unwrap();
        let drawn = font.draw_text(&mut bmp, 0, 0, 40.0, "Unpack 拆包").unwrap();
        assert_eq!(measured, drawn);
        let rightmost = (0..bmp.width())
            .rev()
            .find(|&x| bmp.count_black_in(x, 0, 1, 80) > 0)
            .unwrap();
        assert!(
            rightmost <= measured.width + 2,
            "{rightmost} vs {measured:?}"
        );
    }
}
