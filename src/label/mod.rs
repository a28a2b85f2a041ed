//! Raster label toolkit: Code 128 barcodes, a 1-bit canvas, CJK text rendering and
//! the printable command sheet.
//!
//! Everything renders into a [`Bitmap`] (1 bit per pixel, 1 = black, rows MSB first),
//! which exports PNG for previews and sheets, and ZPL `^GFA` hex for label printers.
pub mod bitmap;
pub mod code128;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod model;
pub mod preview;
pub mod qr;
pub mod render;
pub mod sheet;
pub mod template;
pub mod text;
pub mod tspl;
pub mod zpl;

pub use bitmap::{Bitmap, BitmapError, Rect};
pub use code128::Code128Error;
pub use sheet::{LabelError, SheetEntry, render_command_sheet};
pub use text::{Font, FontError, default_font_paths};
