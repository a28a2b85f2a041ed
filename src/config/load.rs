//! Reading a config file: the raw TOML, the environment's overrides, and every section
//! validated by the type that owns it, into one [`Config`].

use std::path::{Path, PathBuf};

use super::ctx::{self, Ctx};
use super::raw::{self, RawConfig};
use super::{
    ConfigError, ConfigProblem, ControlConfig, DefectReasonDef, EngineConfig, HttpConfig,
    InspectionConfig, LocalOperator, LogConfig, ScanConfig, StationConfig, StorageConfig,
    SyncConfig, ZonesConfig, env,
};
use super::{inspection, operators, storage};
use crate::devices::scanner_config::{self, ScannerConfig};
use crate::labels::printer_config::{self, PrinterConfig};

/// The validated configuration: one field per TOML table.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, so `check-config` and errors at start can name it.
    pub file: PathBuf,
    /// `[station]`: the station's id, time zone and language.
    pub station: StationConfig,
    /// `[storage]`: the state directory, the database in it and the disk cap.
    pub storage: StorageConfig,
    /// `[control]`: the CLI's socket to the daemon.
    pub control: ControlConfig,
    /// `[engine]`: group commit and back-pressure.
    pub engine: EngineConfig,
    /// `[scan]`: the scan grammar's couriers and limits, the double-read window.
    pub scan: ScanConfig,
    /// `[inspection]`: the rules of the second inspection.
    pub inspection: InspectionConfig,
    /// `[zones]`: the good and defect bins.
    pub zones: ZonesConfig,
    /// `[[operators]]`: people known before the central's feed.
    pub operators: Vec<LocalOperator>,
    /// The built-in defect reasons with `[[defect_reasons]]` added or replacing them.
    pub defect_reasons: Vec<DefectReasonDef>,
    /// `[log]`: filter and format.
    pub log: LogConfig,
    /// `[http]`: the listener, TLS, sessions and limits.
    pub http: HttpConfig,
    /// `[sync]`: the central server.
    pub sync: SyncConfig,
    /// `[[scanners]]`: the barcode scanners to open.
    pub scanners: Vec<ScannerConfig>,
    /// `[printer]`: where label jobs go; `None` keeps them queued.
    pub printer: Option<PrinterConfig>,
}

/// Where the config file is looked for when `--config` is not given.
pub fn default_config_path() -> PathBuf {
    storage::systemd_dir("CONFIGURATION_DIRECTORY").map_or_else(
        || PathBuf::from("/etc/returnsd/station.toml"),
        |d| d.join("station.toml"),
    )
}

/// Load and validate a config file, with the process environment overlaid.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_with_env(path, &env)
}

/// Load and validate with an explicit environment (tests).
pub fn load_with_env(path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read(path)
        .map_err(|e| whole_file(&file, None, format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(text).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        whole_file(&file, None, format!("the file is not UTF-8 (byte {at})"))
    })?;
    parse(&text, &file, path, env)
}

/// A problem with the whole file (key `-`): it cannot be read or is not TOML.
fn whole_file(file: &str, line: Option<usize>, problem: String) -> ConfigError {
    ConfigError(vec![ConfigProblem {
        file: file.to_string(),
        key: "-".into(),
        line,
        problem,
    }])
}

/// Parse and validate config text; `file` names it in problems, `path` is where it is
/// (relative paths in it are relative to its directory).
pub fn parse(
    text: &str,
    file: &str,
    path: &Path,
    env: &[(String, String)],
) -> Result<Config, ConfigError> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| ctx::line_at(text, s.start));
        whole_file(file, line, format!("not valid TOML: {}", e.message()))
    })?;
    let mut ctx = Ctx::new(file, path, text);
    env::apply(&mut table, env, file, &mut ctx);
    let config = raw::read(table, &mut ctx).and_then(|raw| validate(&raw, path, &mut ctx));
    ctx.finish(config)
}

/// Validate every section; `None` when one cannot be built (its problem is in `ctx`).
fn validate(raw: &RawConfig, path: &Path, ctx: &mut Ctx) -> Option<Config> {
    let station = raw.station.validate(ctx);
    let storage = raw.storage.validate(ctx);
    let control = raw.control.validate(&storage.state_dir, ctx);
    let engine = raw.engine.validate(ctx);
    let scan = raw.scan.validate(ctx);
    let inspection = raw.inspection.validate(ctx);
    let zones = raw.zones.validate(ctx);
    let operators = operators::operators(&raw.operators, ctx);
    let defect_reasons = inspection::defect_reasons(&raw.defect_reasons, ctx);
    let log = raw.log.validate(ctx);
    let http = raw.http.validate(ctx);
    let sync = raw.sync.validate(ctx);
    let scanners = raw
        .scanners
        .iter()
        .enumerate()
        .filter_map(|(i, s)| scanner_config::validate(i, s, &scan.default_bench, &mut ctx.sink()))
        .collect();
    let base = ctx.base().to_path_buf();
    let printer = raw.printer.as_ref().map(|p| {
        let id = station.as_ref().map(|s| s.id.as_str());
        printer_config::validate(p, &storage.state_dir, &base, id, &mut ctx.sink())
    });
    Some(Config {
        file: path.to_path_buf(),
        station: station?,
        storage,
        control,
        engine,
        scan,
        inspection,
        zones,
        operators,
        defect_reasons,
        log,
        http,
        sync,
        scanners,
        printer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin_defect_reasons;

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn check(text: &str, vars: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        parse(
            text,
            "s.toml",
            Path::new("/etc/returnsd/s.toml"),
            &env(vars),
        )
        .map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    /// The example config is valid and lands in the sections it names.
    #[test]
    fn example_config_is_valid() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/station.example.toml"
        ));
        let c = load_with_env(path, &[]).unwrap();
        assert_eq!(c.station.id.as_str(), "ST01");
        assert!(c.storage.database.ends_with("state/returnsd.db"));
        assert!(c.control.socket.ends_with("state/returnsd.sock"));
        assert_eq!(c.scan.double_read_window_ms, 800);
        assert_eq!(c.engine.group_commit_max, 512);
        assert_eq!(c.zones.bins.len(), 2);
        assert_eq!(c.operators.len(), 3);
        assert_eq!(c.http.listen, "127.0.0.1:8470".parse().ok());
        assert_eq!(c.log.level, "info");
        let p = c.printer.unwrap();
        assert!(p.primary.transport.location().ends_with("state/labels"));
    }

    /// Only `[station] id` is required; everything else has its default.
    #[test]
    fn smallest_config() {
        let c = check(
            "[station]\nid = \"ST01\"\n[storage]\nstate_dir = \"st\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.storage.state_dir, Path::new("/etc/returnsd/st"));
        assert_eq!(
            c.control.socket,
            Path::new("/etc/returnsd/st/returnsd.sock")
        );
        assert!(c.scanners.is_empty() && c.printer.is_none());
        assert_eq!(c.defect_reasons.len(), builtin_defect_reasons().len());
        assert!(!c.log.json && c.inspection.two_person_check);
    }

    /// One run finds every problem — unknown keys, wrong types, bad values, missing keys,
    /// bad variables — each on the line of its key, in file order.
    #[test]
    fn every_problem_in_one_run() {
        let text = "[station]\nid = \"ST 01\"\ncolour = \"blue\"\n\n[scan]\nspeed = 3\n\
                    double_read_window_ms = \"fast\"\nmax_len = 5\n\n[[operators]]\nbadge = \"9\"\n\
                    roles = [\"boss\"]\n[[scanners]]\nbench = \"b1\"\n[printer]\npath = \"x\"\n";
        let problems = check(
            text,
            &[("RETURNSD__LOG__LEVEL", "["), ("RETURNSD__X____Y", "1")],
        )
        .unwrap_err();
        assert_eq!(
            problems,
            [
                "s.toml:2: station.id: \"ST 01\" is not a station id: use 1 to 64 of A-Z a-z 0-9 _ -",
                "s.toml:3: station.colour: unknown field `colour`, expected one of `id`, `timezone`, `language`",
                "s.toml:6: scan.speed: unknown field `speed`, expected one of `double_read_window_ms`, `max_len`, `replace_default_couriers`, `couriers`, `default_bench`",
                "s.toml:7: scan.double_read_window_ms: invalid type: string \"fast\", expected u64",
                "s.toml:8: scan.max_len: must be 16 to 65536 bytes",
                "s.toml:10: operators[0].name: missing field `name`",
                "s.toml:12: operators[0].roles[0]: \"boss\": use keeper, inspector or supervisor",
                "s.toml:12: operators[0].roles: needs at least one role",
                "s.toml:13: scanners[0].path: is missing: use the scanner's /dev/serial/by-id/… path (`returnsd devices` lists them)",
                "s.toml:15: printer.kind: missing field `kind`",
                "environment (s.toml): RETURNSD__X____Y: empty key segment",
                "environment (s.toml): log.level: \"[\" is not a log filter (e.g. info, debug, returnsd=debug)",
            ]
        );
    }

    /// A variable sets any key, typed as TOML; the file's own value is overridden.
    #[test]
    fn environment_overrides_the_file() {
        let text = "[station]\nid = \"ST01\"\n[scan]\nmax_len = 64\n";
        let c = check(
            text,
            &[
                ("RETURNSD__STATION__ID", "ST02"),
                ("RETURNSD__SCAN__MAX_LEN", "128"),
                ("RETURNSD__HTTP__LISTEN", ""),
            ],
        )
        .unwrap();
        assert_eq!(
            (c.station.id.as_str(), c.scan.max_len, c.http.listen),
            ("ST02", 128, None)
        );
        let e = check(text, &[("RETURNSD__SCAN__MAX_LEN", "5")]).unwrap_err();
        assert_eq!(
            e,
            ["environment (s.toml): scan.max_len: must be 16 to 65536 bytes"]
        );
    }

    /// A file that is not TOML, or cannot be read, is one problem with the whole file.
    #[test]
    fn unreadable_files() {
        let e = check("[station]\nid = \"ST01\"\n[scan\n", &[]).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("s.toml:3: -: not valid TOML: "), "{e:?}");
        let e = load_with_env(Path::new("/nonexistent/s.toml"), &[]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/s.toml: -: cannot read the file: "),
            "{e}"
        );
        let e = check("[storage]\nstate_dir = \"/tmp\"\n", &[]).unwrap_err();
        assert_eq!(e, ["s.toml: station.id: missing field `id`"]);
    }
}
