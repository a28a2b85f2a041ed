//! `systemctl reload returnsd` (SIGHUP): read the config file again, without a restart and
//! without dropping a scan (nothing stops; the engine keeps its queue).
//!
//! - `[[operators]]` take effect at once: a new badge works at the next scan and login; a
//!   removed operator, or one whose roles, PIN or name changed, has every API session
//!   ended (a new login picks up the change).
//! - Every other section is read as the daemon started with it; a changed one is named in
//!   the log as taking effect only after `systemctl restart returnsd`.
//! - A file with problems changes nothing: the daemon logs every problem
//!   (`file:line: key: problem`) and keeps running on what it had.

use std::sync::Arc;

use tokio::sync::watch;

use crate::config::Config;
use crate::engine::EngineHandle;
use crate::http::ApiState;

/// What a reload needs: the config the daemon started with, the engine (its live
/// operators, and the writer that ends API sessions), the API's sessions.
pub(super) struct Reloader {
    pub cfg: Arc<Config>,
    pub engine: EngineHandle,
    pub api: Option<Arc<ApiState>>,
}

/// Reload at every SIGHUP, until `stop`.
pub(super) async fn on_sighup(r: Reloader, mut stop: watch::Receiver<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: reload by restarting");
        return;
    };
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = hup.recv() => r.reload().await,
            _ = &mut stopped => return,
        }
    }
}

impl Reloader {
    async fn reload(&self) {
        crate::systemd::notify("RELOADING=1");
        let file = self.cfg.file.clone();
        let loaded = tokio::task::spawn_blocking(move || crate::config::load(&file)).await;
        let new = match loaded {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::error!(
                    file = %self.cfg.file.display(),
                    "reload refused, nothing changed (the daemon runs on what it had): {e}"
                );
                crate::systemd::notify("READY=1");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "reload failed; nothing changed");
                crate::systemd::notify("READY=1");
                return;
            }
        };
        let changed = self.engine.operators.replace(new.operators.clone());
        let writes = match &self.api {
            Some(api) => api.auth.end_sessions_of(&changed),
            None => Vec::new(),
        };
        let ended = writes.len();
        // Their bench logins end too (contract 1.1 § 6.5).
        if let Some(r) = self.engine.end_bench_sessions(&changed).await
            && !r.stored
            && r.code != "bench_sessions_ended"
        {
            tracing::error!(code = %r.code, "bench logins of changed operators not ended");
        }
        if !writes.is_empty()
            && let Err(e) = self.engine.auth(writes).await
        {
            // Ended in memory at once; the rows go at the next successful write or expire.
            tracing::error!(error = %e, "ended API sessions not removed from the database");
        }
        tracing::info!(
            operators = new.operators.len(),
            changed = %changed.join(" "),
            sessions_ended = ended,
            "config reloaded: [[operators]] in effect"
        );
        let later = needs_restart(&self.cfg, &new);
        if !later.is_empty() {
            tracing::warn!(
                sections = %later.join(", "),
                "changed in the config file, in effect only after `systemctl restart returnsd`"
            );
        }
        crate::systemd::notify("READY=1");
    }
}

/// The sections (other than `[[operators]]`) that differ between the running config and
/// the file just read. Compared through their `Debug` form, in which secrets are redacted:
/// a changed token is not named here (it, too, takes a restart).
fn needs_restart(running: &Config, new: &Config) -> Vec<&'static str> {
    let d = |v: &dyn std::fmt::Debug| format!("{v:?}");
    let sections: [(&'static str, String, String); 13] = [
        ("[station]", d(&running.station), d(&new.station)),
        ("[storage]", d(&running.storage), d(&new.storage)),
        ("[control]", d(&running.control), d(&new.control)),
        ("[engine]", d(&running.engine), d(&new.engine)),
        ("[scan]", d(&running.scan), d(&new.scan)),
        ("[inspection]", d(&running.inspection), d(&new.inspection)),
        ("[zones]", d(&running.zones), d(&new.zones)),
        (
            "[[defect_reasons]]",
            d(&running.defect_reasons),
            d(&new.defect_reasons),
        ),
        ("[log]", d(&running.log), d(&new.log)),
        ("[http]", d(&running.http), d(&new.http)),
        ("[sync]", d(&running.sync), d(&new.sync)),
        ("[[scanners]]", d(&running.scanners), d(&new.scanners)),
        ("[printer]", d(&running.printer), d(&new.printer)),
    ];
    sections
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, ..)| name)
        .collect()
}
