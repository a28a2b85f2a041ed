//! `[storage]` and `[control]`: where the station keeps its state (database, photos,
//! control socket) and how much disk it may take.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ctx::Ctx;
use super::raw::{RawControl, RawStorage};

/// The validated `[storage]` table.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// The one directory the daemon writes (database, photos, spool, socket, lock): systemd
    /// grants it as `StateDirectory=`, so everything else can stay read-only.
    pub state_dir: PathBuf,
    /// The journal and projections (`state_dir/<database>`); a file name only, so the
    /// database can never land outside the state directory.
    pub database: PathBuf,
    /// Most bytes the database (with its WAL) and the photo store may use: at the cap the
    /// station refuses new work with an alarm instead of filling the disk and losing writes.
    pub cap_bytes: u64,
    /// Warn when usage passes this share of the cap (percent), while there is still time to
    /// act before work is refused.
    pub high_water_pct: u8,
    /// How often photos are measured and expired events pruned: the cap is only as good as
    /// the last measurement.
    pub maintenance_interval: Duration,
}

/// The validated `[control]` table.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// The Unix socket the CLI's operator commands (`scan`, `inspect`, …) reach the daemon
    /// through; kept in the state directory so only the station's group can use it.
    pub socket: PathBuf,
}

/// The first of a systemd directory list (`STATE_DIRECTORY=/a:/b` → `/a`), which is ours.
pub fn systemd_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(|d| PathBuf::from(d.to_string_lossy().split(':').next().unwrap_or("")))
}

impl RawStorage {
    /// Validate `[storage]`; `state_dir` falls back to `$STATE_DIRECTORY`, then
    /// `/var/lib/returnsd`.
    pub fn validate(&self, ctx: &mut Ctx) -> StorageConfig {
        let state_dir = self
            .state_dir
            .clone()
            .or_else(|| systemd_dir("STATE_DIRECTORY"))
            .unwrap_or_else(|| PathBuf::from("/var/lib/returnsd"));
        let state_dir = ctx.resolve(&state_dir);
        let database = self.database.as_deref().unwrap_or("returnsd.db");
        if database.is_empty() || database.contains('/') {
            ctx.bad(
                "storage.database",
                "must be a file name inside state_dir (no '/')",
            );
        }
        let cap_mb = ctx.within(
            "storage.cap_mb",
            self.cap_mb.unwrap_or(2048),
            16..=1_048_576,
            "must be 16 to 1048576 (MiB)",
        );
        let high_water_pct = ctx.within(
            "storage.high_water_pct",
            self.high_water_pct.unwrap_or(80),
            10..=99,
            "must be 10 to 99",
        );
        let maintenance_interval_s = ctx.within(
            "storage.maintenance_interval_s",
            self.maintenance_interval_s.unwrap_or(60),
            1..=3600,
            "must be 1 to 3600",
        );
        StorageConfig {
            database: state_dir.join(database),
            state_dir,
            cap_bytes: cap_mb.saturating_mul(1024 * 1024),
            high_water_pct,
            maintenance_interval: Duration::from_secs(maintenance_interval_s),
        }
    }
}

impl RawControl {
    /// Validate `[control]`; a relative socket is inside `state_dir`.
    pub fn validate(&self, state_dir: &Path, ctx: &mut Ctx) -> ControlConfig {
        let socket = self
            .socket
            .clone()
            .unwrap_or_else(|| PathBuf::from("returnsd.sock"));
        let socket = if socket.is_relative() {
            state_dir.join(socket)
        } else {
            socket
        };
        if socket.as_os_str().len() > 100 {
            ctx.bad(
                "control.socket",
                format!(
                    "{} is too long for a Unix socket path (at most ~100 bytes); set an absolute shorter path",
                    socket.display()
                ),
            );
        }
        ControlConfig { socket }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relative state_dir is beside the config file; the rest has its default.
    #[test]
    fn defaults() {
        let mut ctx = Ctx::test();
        let s = RawStorage {
            state_dir: Some("../state".into()),
            ..RawStorage::default()
        }
        .validate(&mut ctx);
        assert!(ctx.reported().is_empty());
        assert_eq!(s.state_dir, Path::new("/etc/returnsd/../state"));
        assert_eq!(s.database, Path::new("/etc/returnsd/../state/returnsd.db"));
        assert_eq!(s.cap_bytes, 2048 * 1024 * 1024);
        assert_eq!(s.high_water_pct, 80);
        assert_eq!(s.maintenance_interval, Duration::from_secs(60));
        let c = RawControl::default().validate(&s.state_dir, &mut ctx);
        assert_eq!(c.socket, Path::new("/etc/returnsd/../state/returnsd.sock"));
        let c = RawControl {
            socket: Some("/run/r.sock".into()),
        }
        .validate(&s.state_dir, &mut ctx);
        assert_eq!(c.socket, Path::new("/run/r.sock"));
        assert!(ctx.reported().is_empty());
    }

    /// Each bad value is reported with its key.
    #[test]
    fn bad_values() {
        let mut ctx = Ctx::test();
        let s = RawStorage {
            state_dir: Some("/s".into()),
            database: Some("db/x.db".into()),
            cap_mb: Some(15),
            high_water_pct: Some(100),
            maintenance_interval_s: Some(0),
        }
        .validate(&mut ctx);
        RawControl {
            socket: Some("s".repeat(100).into()),
        }
        .validate(&s.state_dir, &mut ctx);
        assert_eq!(
            ctx.reported(),
            [
                "storage.database: must be a file name inside state_dir (no '/')".to_string(),
                "storage.cap_mb: must be 16 to 1048576 (MiB)".into(),
                "storage.high_water_pct: must be 10 to 99".into(),
                "storage.maintenance_interval_s: must be 1 to 3600".into(),
                format!(
                    "control.socket: /s/{} is too long for a Unix socket path (at most ~100 bytes); set an absolute shorter path",
                    "s".repeat(100)
                ),
            ]
        );
    }
}
