//! Build, then run until a shutdown passed in (mini-redis `run(listener, shutdown)`,
//! zero2prod `Application::build` then `run_until_stopped`): [`Daemon::build`] takes the
//! state directory's lock, starts the engine and every worker and binds the sockets, so a
//! start that can fail fails there, before anyone is told the daemon is ready;
//! [`Daemon::run_until`] waits for the shutdown future and stops in order. [`run`] is
//! `returnsd run`: build, `READY=1`, run until SIGTERM or SIGINT. Tests and benches build a
//! daemon in their own runtime and stop it with a future of their own.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::DaemonError;
use crate::board::DeviceBoard;
use crate::config::Config;
use crate::engine::{self, Clock, EngineHandle};
use crate::store::files::StateLock;
use crate::sync_status::SharedStatus;

/// Options of `returnsd run` beyond the config.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Read scans from standard input, one per line (a keyboard-wedge bench).
    pub scan_stdin: bool,
}

/// How long the workers together may take to finish their current step at stop; a worker
/// still busy then is aborted (none holds anything that is not on disk).
const WORKER_DEADLINE: Duration = Duration::from_secs(5);

/// How long the engine thread may take to commit what it was given after its input closed.
const ENGINE_DEADLINE: Duration = Duration::from_secs(10);

/// A daemon that has started: the engine runs, every worker runs, the control socket and
/// the HTTP listener are bound. It serves until [`Daemon::run_until`]'s shutdown resolves.
/// Dropped instead, its workers see their stop flag's sender gone and end, but nobody
/// waits for the engine to commit and the state directory is released at once: stop it
/// with `run_until`.
#[must_use = "a daemon stops in order only through run_until"]
pub struct Daemon {
    /// The validated config every worker shares (the control socket's path is removed at
    /// stop).
    cfg: Arc<Config>,
    /// The engine's input; closed at stop, so connections still open cannot keep it alive.
    engine: EngineHandle,
    /// The engine thread: joined last, once it has committed what it was given.
    engine_thread: std::thread::JoinHandle<()>,
    /// Set once at stop: every worker finishes its current step and returns.
    stop: watch::Sender<bool>,
    /// The workers awaited at stop (under [`WORKER_DEADLINE`]), in that order, each named
    /// for the log line that says it was aborted.
    workers: Vec<(&'static str, JoinHandle<()>)>,
    /// The HTTP listener's address (a port 0 in the config resolved), if one is configured.
    http_addr: Option<SocketAddr>,
    /// One daemon per state directory: held until the engine thread has ended.
    _lock: StateLock,
}

impl Daemon {
    /// Start everything, or fail naming what stopped the start (the state directory, its
    /// lock, the database, the control socket, `http.listen`, `http.tls`). Must be called
    /// inside a tokio runtime: the workers are spawned on it.
    pub async fn build(cfg: Config, opts: RunOptions, clock: Clock) -> Result<Daemon, DaemonError> {
        let cfg = Arc::new(cfg);
        // One daemon per state directory, before anything else is touched: a second one
        // would fight over the journal's seqs and take the scanners.
        let state_dir = &cfg.storage.state_dir;
        std::fs::create_dir_all(state_dir).map_err(|error| DaemonError::StateDir {
            path: state_dir.clone(),
            error,
        })?;
        let lock = StateLock::acquire(state_dir, "returnsd run").map_err(DaemonError::Locked)?;
        let (engine, effects, engine_thread) = engine::start(cfg.clone(), clock)?;
        let listener = crate::control::bind(&cfg.control.socket)
            .await
            .map_err(DaemonError::Control)?;
        let (stop, stop_rx) = watch::channel(false);
        let board = DeviceBoard::new();
        super::scanners::start(&cfg, &engine, &board, &stop_rx, opts.scan_stdin);
        let printer = tokio::spawn(crate::printing::run(
            cfg.print_settings(),
            engine.clone(),
            board.clone(),
            effects,
            stop_rx.clone(),
        ));
        let status = crate::sync_status::new_status();
        // Bound before READY, so a port in use stops the start with a clear message.
        let http = Http::start(&cfg, &engine, &status, &board, &stop_rx).await?;
        tokio::spawn(super::maintenance::maintenance(
            cfg.clone(),
            engine.clone(),
            cfg.storage.maintenance_interval,
            stop_rx.clone(),
        ));
        let (push, feed) = start_sync(&cfg, &engine, &status, &stop_rx);
        let watch = super::watchdog::Watch {
            cfg: cfg.clone(),
            engine: engine.clone(),
            board: board.clone(),
            sync: status.clone(),
            late: Default::default(),
        };
        let watchdog = tokio::spawn(super::watchdog::watchdog(watch.clone(), stop_rx.clone()));
        let notify_status = tokio::spawn(super::watchdog::status(watch, stop_rx.clone()));
        let reloader = super::reload::Reloader {
            cfg: cfg.clone(),
            engine: engine.clone(),
            api: http.api.clone(),
        };
        let reload = tokio::spawn(super::reload::on_sighup(reloader, stop_rx.clone()));
        let control = tokio::spawn(crate::control::serve(
            listener,
            control_ctx(&cfg, &engine, &http, status, board),
            stopped(&stop_rx),
        ));
        let mut workers = vec![
            ("control socket", control),
            ("push", push),
            ("feed", feed),
            ("print worker", printer),
            ("watchdog", watchdog),
            ("status", notify_status),
            ("reload", reload),
        ];
        workers.extend(http.task.map(|t| ("http", t)));
        tracing::info!(
            station = cfg.station.id.as_str(),
            epoch = &*engine.epoch,
            socket = %cfg.control.socket.display(),
            http = http.addr.map(tracing::field::display),
            database = %cfg.storage.database.display(),
            "returnsd ready"
        );
        Ok(Daemon {
            cfg,
            engine,
            engine_thread,
            stop,
            workers,
            http_addr: http.addr,
            _lock: lock,
        })
    }

    /// The control socket the daemon answers on (`returnsd scan` and the other commands).
    pub fn control_socket(&self) -> &Path {
        &self.cfg.control.socket
    }

    /// The HTTP listener's address, if `http.listen` is set (port 0 resolved).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The engine's handle: submit scans and commands directly (benches), read its stats.
    pub fn engine(&self) -> &EngineHandle {
        &self.engine
    }

    /// Serve until `shutdown` resolves, then stop in order: the stop flag; the workers,
    /// under one shared deadline (a worker still busy then is aborted and named in the
    /// log); the engine's input; the control socket's file; the engine thread, once it has
    /// committed what it was given (or after [`ENGINE_DEADLINE`]: committed work is on
    /// disk either way). Then the state directory's lock is released.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
        shutdown.await;
        let Daemon {
            cfg,
            engine,
            engine_thread,
            stop,
            workers,
            _lock,
            ..
        } = self;
        stop.send_replace(true);
        let deadline = tokio::time::Instant::now() + WORKER_DEADLINE;
        for (name, mut task) in workers {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!(task = name, "still busy at the stop deadline; aborted");
                task.abort();
            }
        }
        // Connections that are still open (an idle HTTP keep-alive, a control client) hold
        // engine handles: close the engine's input instead of waiting for them; the engine
        // drains its queue and its thread ends.
        engine.close().await;
        drop(engine);
        let _ = std::fs::remove_file(&cfg.control.socket);
        let waited = tokio::task::spawn_blocking(move || engine_thread.join());
        match tokio::time::timeout(ENGINE_DEADLINE, waited).await {
            Ok(_) => tracing::info!("stopped cleanly"),
            Err(_) => {
                tracing::warn!("engine still busy after 10 s; exiting (committed work is on disk)")
            }
        }
        Ok(())
    }
}

/// `returnsd run`: build the daemon, tell systemd it is ready, run until SIGTERM or SIGINT
/// (telling systemd it is stopping).
pub async fn run(cfg: Config, opts: RunOptions, clock: Clock) -> Result<(), DaemonError> {
    // Before the build: the control socket answers from inside it, so a stop sent as soon
    // as the daemon answers a ping must find the handlers there (else SIGTERM kills it).
    let signal = shutdown_signal();
    let daemon = Daemon::build(cfg, opts, clock).await?;
    crate::systemd::notify("READY=1");
    daemon
        .run_until(async {
            signal.await;
            crate::systemd::notify("STOPPING=1");
        })
        .await
}

/// Resolves at the first SIGTERM (systemd's stop) or SIGINT (Ctrl-C). The handlers are
/// installed when this is called, not when it is first polled.
fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        let (Ok(mut term), Ok(mut int)) = (term, int) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
        }
    }
}

/// Resolves once the stop flag is set (or its sender is gone).
fn stopped(rx: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// The station's HTTP listener, when `http.listen` is set.
struct Http {
    addr: Option<SocketAddr>,
    /// The certificate's SHA-256 fingerprint with `http.tls` (for `ping`).
    tls_fingerprint: Option<String>,
    task: Option<JoinHandle<()>>,
    /// The operator API's sessions (a reload ends those of changed operators).
    api: Option<Arc<crate::http::ApiState>>,
}

impl Http {
    /// Bind `http.listen`, set up its TLS, and serve until the stop flag.
    async fn start(
        cfg: &Arc<Config>,
        engine: &EngineHandle,
        status: &SharedStatus,
        board: &DeviceBoard,
        stop_rx: &watch::Receiver<bool>,
    ) -> Result<Http, DaemonError> {
        let Some(addr) = cfg.http.listen else {
            return Ok(Http {
                addr: None,
                tls_fingerprint: None,
                task: None,
                api: None,
            });
        };
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|error| DaemonError::HttpListen { addr, error })?;
        let bound = l.local_addr().ok();
        let tls = crate::http::tls::setup(cfg, bound.unwrap_or(addr)).map_err(DaemonError::Tls)?;
        if let Some(t) = &tls {
            tracing::info!(
                fingerprint = %t.fingerprint,
                cert = %t.cert_path.display(),
                "HTTPS: certificate SHA-256 fingerprint (compare it when pairing a handheld)"
            );
        }
        let tls_fingerprint = tls.as_ref().map(|t| t.fingerprint.clone());
        let api = Arc::new(crate::http::ApiState::new(cfg, stop_rx.clone()));
        let state = crate::http::HttpState {
            cfg: cfg.clone(),
            engine: engine.clone(),
            reader: crate::store::SharedReader::new(&cfg.storage.database),
            sync: status.clone(),
            board: board.clone(),
            api: api.clone(),
            tls,
        };
        let task = tokio::spawn(crate::http::serve(l, state, stopped(stop_rx)));
        Ok(Http {
            addr: bound,
            tls_fingerprint,
            task: Some(task),
            api: Some(api),
        })
    }
}

/// The central sync's two workers (push, feed); idle when no central is configured.
fn start_sync(
    cfg: &Arc<Config>,
    engine: &EngineHandle,
    status: &SharedStatus,
    stop_rx: &watch::Receiver<bool>,
) -> (JoinHandle<()>, JoinHandle<()>) {
    let network_up = Arc::new(tokio::sync::Notify::new());
    let push = tokio::spawn(crate::sync::push::run(
        cfg.clone(),
        engine.clone(),
        status.clone(),
        network_up.clone(),
        stop_rx.clone(),
    ));
    let feed = tokio::spawn(crate::sync::feed::run(
        cfg.clone(),
        engine.clone(),
        status.clone(),
        network_up,
        stop_rx.clone(),
    ));
    (push, feed)
}

/// What the control socket reaches, with the facts `ping` tells.
fn control_ctx(
    cfg: &Config,
    engine: &EngineHandle,
    http: &Http,
    sync: SharedStatus,
    board: DeviceBoard,
) -> crate::control::ControlCtx {
    let info: Value = json!({
        "station": cfg.station.id.as_str(),
        "epoch": &*engine.epoch,
        "database": cfg.storage.database.display().to_string(),
        "http": http.addr.map(|a| a.to_string()),
        "tls_fingerprint": http.tls_fingerprint,
    });
    crate::control::ControlCtx {
        engine: engine.clone(),
        default_bench: cfg.scan.default_bench.clone(),
        info,
        sync,
        database: cfg.storage.database.clone(),
        cap_bytes: cfg.storage.cap_bytes,
        high_water_pct: cfg.storage.high_water_pct,
        state_dir: cfg.storage.state_dir.clone(),
        board,
    }
}
