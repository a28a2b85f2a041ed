//! Station configuration. A file is parsed as TOML, overlaid with `RETURNSD__SECTION__KEY`
//! environment variables (`env.rs`), read into the raw types (`raw.rs`: unknown keys
//! refused) and validated section by section into [`Config`], which cannot be invalid.
//! Every problem of a file is found in one run and named `file:line: key: problem`
//! (`ctx.rs`). `config/station.example.toml` documents every key.
//!
//! One module per TOML table (or small group) owns its validated type and the function that
//! validates it: `station`, `storage` (+ `[control]`), `engine`, `scan`, `inspection`
//! (+ `[[defect_reasons]]`), `zones`, `operators`, `log`, `http` (+ `tls`), `sync`.
//! `[[scanners]]` and `[printer]` belong to the devices and printing code that use them
//! (`devices::scanner_config`, `labels::printer_config`); this module only calls their
//! validation.
//!
//! Architecture invariant: `config` depends on the settings it reads, never the other way:
//! no module that owns a settings type names `crate::config`.

mod ctx;
mod engine;
mod env;
mod http;
mod inspection;
mod load;
mod log;
mod operators;
mod print_settings;
mod problem;
mod raw;
mod scan;
mod station;
mod storage;
mod sync;
mod tls;
mod zones;

pub use engine::EngineConfig;
pub use http::HttpConfig;
pub use inspection::{DefectReasonDef, InspectionConfig, builtin_defect_reasons};
pub use load::{Config, default_config_path, load, load_with_env, parse};
pub use log::LogConfig;
pub use operators::{LiveOperators, LocalOperator};
pub use problem::{ConfigError, ConfigProblem};
pub use scan::ScanConfig;
pub use station::StationConfig;
pub use storage::{ControlConfig, StorageConfig};
pub use sync::{Secret, SyncConfig};
pub use tls::TlsMode;
pub use zones::ZonesConfig;
