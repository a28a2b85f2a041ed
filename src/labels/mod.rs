//! What a print job prints, below the edges: the printers' settings (`printer_config`,
//! `profiles`, `settings` — named by the config, which validates them), a label's fields
//! from the station's data (`data`), the job's bytes in the printer's language (`render`),
//! and previews and the queue as text (`view`). The print worker (`printing`, the edge that
//! owns the printers) sends what this renders; the API and the CLI preview it; none of them
//! names another.

pub mod data;
mod error;
pub mod printer_config;
pub mod profiles;
mod render;
mod settings;
pub mod view;

pub use error::PrintError;
pub use render::{load_font, render_job};
pub use settings::PrintSettings;
