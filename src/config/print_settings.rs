//! The print worker's and the label preview's settings, built from the config: printing
//! never reads `Config` (it owns its settings type; the config fills it in).

use super::Config;
use crate::labels::PrintSettings;

impl Config {
    /// What printing takes from this config: the database, the station, its time zone, the
    /// defect-reason labels by code, the printers.
    pub fn print_settings(&self) -> PrintSettings {
        let mut defect_labels = std::collections::BTreeMap::new();
        for d in &self.defect_reasons {
            defect_labels
                .entry(d.code.clone())
                .or_insert_with(|| (d.label_zh.clone(), d.label_en.clone()));
        }
        PrintSettings {
            database: self.storage.database.clone(),
            station: self.station.id.as_str().to_string(),
            timezone: self.station.timezone,
            defect_labels,
            printer: self.printer.clone(),
        }
    }
}
