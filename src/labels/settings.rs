//! What the print worker and the label preview take from the station's configuration. The
//! config builds it (`Config::print_settings`), the caller hands it in: printing reads no
//! config (its own `[printer]` table's type, `printer_config.rs`, is named by the config,
//! never the other way).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::printer_config::PrinterConfig;

/// Everything printing needs besides its handles.
#[derive(Debug, Clone)]
pub struct PrintSettings {
    /// The station database: the queue, and the data each label shows.
    pub database: PathBuf,
    /// The station id, printed on return labels and RTV notes.
    pub station: String,
    /// Labels show the station's local dates.
    pub timezone: chrono_tz::Tz,
    /// The config's defect-reason labels (zh-CN, en) by code, built-in and
    /// `[[defect_reasons]]`: a defect tag shows these for reasons the feed does not label.
    pub defect_labels: BTreeMap<String, (String, String)>,
    /// None: no printer configured; jobs stay queued until one is.
    pub printer: Option<PrinterConfig>,
}
