//! What both workers' loops share: both clocks read once per machine input, the jitter
//! source, starting (settings and the central's client), and the one wait (a deadline, the
//! network coming back, a new event, shutdown).

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Notify, broadcast, watch};

use super::client::Central;
use super::retry::{Now, Wait, Wake};
use super::settings::WorkerSettings;
use crate::config::Config;
use crate::engine::Committed;
use crate::sync_status::{SharedStatus, SyncStatus, update};

/// Both clocks, read once for a machine input. Tokio's clock, so that a test that pauses
/// time moves the machines' deadlines with it.
pub fn now() -> Now {
    Now {
        mono: tokio::time::Instant::now().into_std(),
        wall: Utc::now(),
    }
}

/// A jitter draw from the OS RNG (a v4 UUID keeps the dependency tree small).
pub fn os_jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0
}

/// What a worker starts with: its settings, read once, and the central's client. None when
/// no central is configured (the worker stays `disabled`) or the client cannot be built
/// (`cannot_start` puts the operator's text in the worker's status).
pub(super) fn start(
    cfg: &Config,
    status: &SharedStatus,
    cannot_start: fn(&mut SyncStatus, String),
) -> Option<(WorkerSettings, Central)> {
    let settings = WorkerSettings::from_config(cfg);
    match Central::connect(settings.central.as_ref()?) {
        Ok(c) => Some((settings, c)),
        Err(e) => {
            tracing::error!(error = %e, "sync cannot start");
            update(status, |s| cannot_start(s, e.to_string()));
            None
        }
    }
}

/// What can end a worker's wait: the daemon stopping, another worker reaching the central
/// after a failure, the engine committing events.
pub(super) struct Signals {
    network_up: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    /// Commit notices (the push only); None once the engine is gone.
    events: Option<broadcast::Receiver<Committed>>,
}

impl Signals {
    pub(super) fn new(
        network_up: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
        events: Option<broadcast::Receiver<Committed>>,
    ) -> Signals {
        Signals {
            network_up,
            shutdown,
            events,
        }
    }

    pub(super) fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Tell the other workers the central answers again.
    pub(super) fn network_back(&self) {
        self.network_up.notify_waiters();
    }

    /// Sleep until `w.until`, cut short as `w.wake` allows; false when the daemon stops.
    pub(super) async fn wait(&mut self, w: Wait) -> bool {
        let Signals {
            network_up,
            shutdown,
            events,
        } = self;
        let closed = {
            let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(w.until));
            let network = async {
                match w.wake {
                    Wake::NetworkUp => network_up.notified().await,
                    Wake::NewEvents | Wake::PhotoLost => std::future::pending().await,
                }
            };
            let commit = async {
                match (w.wake, events.as_mut()) {
                    (Wake::NewEvents, Some(rx)) => rx.recv().await.err(),
                    (Wake::PhotoLost, Some(rx)) => loop {
                        match rx.recv().await {
                            Ok(c) if c.ty != "photo.lost" => continue,
                            // A missed notice may have been the one: look again.
                            Ok(_) | Err(RecvError::Lagged(_)) => break None,
                            Err(e) => break Some(e),
                        }
                    },
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => None,
                _ = network => None,
                e = commit => e,
                r = shutdown.changed() => match r {
                    Ok(()) => None,
                    // The daemon is gone without saying so: stop.
                    Err(_) => return false,
                },
            }
        };
        if matches!(closed, Some(RecvError::Closed)) {
            *events = None;
        }
        !self.stopping()
    }

    /// Until the daemon stops.
    pub(super) async fn stopped(&mut self) {
        let _ = self.shutdown.wait_for(|s| *s).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The machines and their vocabulary name no I/O crate, no database or engine, and
    /// never read the clock or the RNG (their tests may). Their status vocabulary,
    /// `crate::sync_status`, is held to the same by the arch test's `PURE` table.
    #[test]
    fn machines_are_pure() {
        let files = [
            ("retry.rs", include_str!("retry.rs")),
            ("push/machine.rs", include_str!("push/machine.rs")),
            ("feed/machine.rs", include_str!("feed/machine.rs")),
        ];
        let forbidden = [
            "tokio",
            "reqwest",
            "rusqlite",
            "crate::store",
            "crate::engine",
            "crate::config",
            "std::fs",
            "std::net",
            "Utc::now",
            "Instant::now",
            "SystemTime",
            "uuid",
        ];
        for (name, text) in files {
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (n, line) in code.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in forbidden {
                    assert!(
                        !code.contains(word),
                        "sync/{name}:{}: a machine must not use {word}: {line}",
                        n + 1
                    );
                }
            }
        }
    }

    /// A network wait ends at its deadline or when another worker reports the network
    /// back; an idle wait ends on a commit notice and ignores the network; a stop ends any
    /// wait with false. Paused time: no real sleeping.
    #[tokio::test(start_paused = true)]
    async fn waits_end_at_their_deadline_or_their_wake_up() {
        let (stop_tx, stop_rx) = watch::channel(false);
        let up = Arc::new(Notify::new());
        let (commits, rx) = broadcast::channel(4);
        let mut s = Signals::new(up.clone(), stop_rx, Some(rx));
        let secs = Duration::from_secs;
        let in_2s = |f: Box<dyn FnOnce() + Send>| {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                f();
            })
        };

        let t = now();
        assert!(s.wait(Wait::network(t, secs(30))).await);
        assert_eq!(now().mono - t.mono, secs(30), "the deadline");

        let t = now();
        let u = up.clone();
        in_2s(Box::new(move || u.notify_waiters()));
        assert!(s.wait(Wait::network(t, secs(30))).await);
        assert_eq!(now().mono - t.mono, secs(2), "network back");

        let t = now();
        let idle = Wait {
            until: t.mono + secs(5),
            wake: Wake::NewEvents,
        };
        let u = up.clone();
        in_2s(Box::new(move || u.notify_waiters()));
        assert!(s.wait(idle).await);
        assert_eq!(
            now().mono - t.mono,
            secs(5),
            "the network does not end an idle wait"
        );

        let t = now();
        let idle = Wait {
            until: t.mono + secs(5),
            wake: Wake::NewEvents,
        };
        in_2s(Box::new(move || {
            let _ = commits.send(Committed {
                seq: 1,
                ty: "scan.recorded",
                return_id: None,
            });
        }));
        assert!(s.wait(idle).await);
        assert_eq!(now().mono - t.mono, secs(2), "a commit");

        let t = now();
        in_2s(Box::new(move || {
            let _ = stop_tx.send(true);
        }));
        assert!(!s.wait(Wait::network(t, secs(30))).await, "stopping");
        assert_eq!(now().mono - t.mono, secs(2));
        assert!(s.stopping());
    }
}
