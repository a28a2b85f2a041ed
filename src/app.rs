//! The daemon: builds the engine and its edges from a validated config, runs until SIGTERM
//! or SIGINT, then stops accepting input, lets the engine commit what it was given, and
//! exits. A missing device never stops it; a damaged database stops it before it starts.

use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::config::Config;
use crate::engine::{self, Clock, EngineHandle};
use crate::i18n::{Lang, message};

/// Options of `returnsd run` beyond the config.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Read scans from standard input, one per line (a keyboard-wedge bench).
    pub scan_stdin: bool,
}

/// Tell systemd we are ready (Type=notify); a no-op elsewhere.
fn sd_notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sock = match std::os::unix::net::UnixDatagram::unbound() {
        Ok(s) => s,
        Err(_) => return,
    };
    let p = path.to_string_lossy().to_string();
    let r = if let Some(abs) = p.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abs.as_bytes())
            .and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
    } else {
        sock.send_to(state.as_bytes(), &p)
    };
    if let Err(e) = r {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
    }
}

/// Housekeeping every `every`: measure the photo store, prune acknowledged events past the
/// retention period (more eagerly while the disk is over its high-water mark), alarm on
/// the high-water mark.
async fn maintenance(
    cfg: Arc<Config>,
    engine: EngineHandle,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use std::sync::atomic::Ordering;
    let mut high = false;
    loop {
        let dir = cfg.storage.state_dir.clone();
        let db = cfg.storage.database.clone();
        let retention = cfg.sync.retention;
        let pruned = tokio::task::spawn_blocking(move || {
            // A photo goes only when it is past retention and no event still waiting for
            // the central references it (its upload is due before that event's push).
            let conn = crate::store::open_reader(&db).ok()?;
            let acked = crate::store::acked_through(&conn).ok()?;
            let cutoff = std::time::SystemTime::now().checked_sub(retention)?;
            let mut referenced =
                |sha: &str| crate::store::photo_referenced_after(&conn, acked, sha).unwrap_or(true);
            Some(crate::photos::prune(&dir, cutoff, &mut referenced))
        })
        .await;
        if let Ok(Some((files, bytes))) = pruned
            && files > 0
        {
            tracing::info!(files, bytes, "pruned photos past retention");
        }
        let dir = cfg.storage.state_dir.clone();
        if let Ok(bytes) = tokio::task::spawn_blocking(move || crate::photos::usage(&dir)).await {
            engine.stats.photo_bytes.store(bytes, Ordering::Relaxed);
        }
        for _ in 0..50 {
            match engine.prune().await {
                Ok(0) => break,
                Ok(n) => tracing::info!(pruned = n, "pruned acknowledged events past retention"),
                Err(e) => {
                    tracing::warn!(error = %e, "prune failed");
                    break;
                }
            }
        }
        let used = engine.stats.disk_used.load(Ordering::Relaxed);
        let mark = cfg.storage.cap_bytes / 100 * u64::from(cfg.storage.high_water_pct);
        if used >= mark && !high {
            tracing::warn!(
                used,
                cap = cfg.storage.cap_bytes,
                "disk usage above the high-water mark"
            );
        }
        high = used >= mark;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn stdin_scans(engine: EngineHandle, bench: String, lang: Lang) {
    let mut lines = BufReader::new(tokio::io::stdin()).split(b'\n');
    while let Ok(Some(line)) = lines.next_segment().await {
        let r = engine.scan(&bench, line).await;
        let params: Vec<(&str, String)> = r
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        println!(
            "{} {}",
            if r.ok { "OK " } else { "ERR" },
            message(lang, &r.code, &params)
        );
    }
}

/// Start one scanner actor, its status bridge to the board and its counting forwarder.
fn spawn_scanner(
    sc: &crate::devices::scanner_config::ScannerConfig,
    board: &crate::board::DeviceBoard,
    scan_tx: &tokio::sync::mpsc::Sender<(String, Vec<u8>)>,
    stop_rx: &tokio::sync::watch::Receiver<bool>,
) {
    use crate::board::{DeviceKind, DeviceState};
    use crate::devices::scanner_config::ScannerConfig;
    use crate::devices::serial::ScannerStatus;
    let (status_tx, mut status_rx) = tokio::sync::watch::channel(ScannerStatus::Starting);
    let label = sc.label();
    let id = format!("scanner:{}:{}", sc.bench(), label);
    board.register(
        &id,
        DeviceKind::Scanner,
        sc.transport(),
        &label,
        Some(sc.bench()),
    );
    {
        let board = board.clone();
        let id = id.clone();
        tokio::spawn(async move {
            while status_rx.changed().await.is_ok() {
                let s = status_rx.borrow().clone();
                let (state, detail) = match s {
                    ScannerStatus::Starting => (DeviceState::Starting, None),
                    ScannerStatus::Connected => (DeviceState::Connected, None),
                    ScannerStatus::Disconnected { reason, .. } => {
                        (DeviceState::Disconnected, Some(reason))
                    }
                    ScannerStatus::Stopped => (DeviceState::Stopped, None),
                };
                board.set(&id, state, detail, Vec::new());
            }
        });
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, Vec<u8>)>(64);
    {
        let board = board.clone();
        let out = scan_tx.clone();
        tokio::spawn(async move {
            while let Some(scan) = rx.recv().await {
                board.count(&id);
                if out.send(scan).await.is_err() {
                    break;
                }
            }
        });
    }
    match sc {
        ScannerConfig::Serial(c) => {
            tokio::spawn(crate::devices::serial::run_serial_scanner(
                c.clone(),
                tx,
                status_tx,
                stop_rx.clone(),
            ));
        }
        ScannerConfig::Hid(c) => {
            tokio::spawn(crate::devices::hid::run_hid_scanner(
                c.clone(),
                tx,
                status_tx,
                stop_rx.clone(),
            ));
        }
    }
}

/// Run the daemon until a stop signal.
pub async fn run(cfg: Config, opts: RunOptions, clock: Clock) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    // One daemon per state directory, before anything else is touched: a second one
    // would fight over the journal's seqs and take the scanners.
    std::fs::create_dir_all(&cfg.storage.state_dir).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot create the state directory: {e}",
            cfg.storage.state_dir.display()
        )
    })?;
    let _lock = crate::store::files::StateLock::acquire(&cfg.storage.state_dir, "returnsd run")?;
    let (engine, effects, join) = engine::start(cfg.clone(), clock)?;
    let listener = crate::control::bind(&cfg.control.socket)
        .await
        .map_err(anyhow::Error::msg)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Scanners (serial, HID POS, keyboard wedge): each an actor that owns its device and
    // reconnects; a missing scanner is a board state, never fatal. Each actor's scans pass
    // through a small forwarder that counts them on the board.
    let (scan_tx, mut scan_rx) = tokio::sync::mpsc::channel::<(String, Vec<u8>)>(1024);
    let board = crate::board::DeviceBoard::new();
    for sc in &cfg.scanners {
        spawn_scanner(sc, &board, &scan_tx, &stop_rx);
    }
    drop(scan_tx);
    let printer = tokio::spawn(crate::printing::run(
        cfg.print_settings(),
        engine.clone(),
        board.clone(),
        effects,
        stop_rx.clone(),
    ));
    {
        let engine = engine.clone();
        let lang = Lang::parse(&cfg.station.language);
        tokio::spawn(async move {
            while let Some((bench, bytes)) = scan_rx.recv().await {
                let r = engine.scan(&bench, bytes).await;
                let params: Vec<(&str, String)> = r
                    .params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                tracing::info!(%bench, ok = r.ok, stored = r.stored, code = %r.code, feedback = %message(lang, &r.code, &params), "scan");
            }
        });
    }
    let stopped = |rx: &tokio::sync::watch::Receiver<bool>| {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    // The station's HTTP listener (pull endpoints); bound before READY so a port in use
    // stops the start with a clear message.
    let status = crate::sync_status::new_status();
    let mut http_addr = None;
    let mut http_task = None;
    let mut tls_fingerprint = None;
    if let Some(addr) = cfg.http.listen {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("http.listen {addr}: cannot listen: {e}"))?;
        http_addr = l.local_addr().ok();
        let tls =
            crate::http::tls::setup(&cfg, http_addr.unwrap_or(addr)).map_err(anyhow::Error::msg)?;
        if let Some(t) = &tls {
            tracing::info!(
                fingerprint = %t.fingerprint,
                cert = %t.cert_path.display(),
                "HTTPS: certificate SHA-256 fingerprint (compare it when pairing a handheld)"
            );
        }
        tls_fingerprint = tls.as_ref().map(|t| t.fingerprint.clone());
        let state = crate::http::HttpState {
            cfg: cfg.clone(),
            engine: engine.clone(),
            reader: Default::default(),
            sync: status.clone(),
            board: board.clone(),
            api: Arc::new(crate::http::ApiState::new(&cfg, stop_rx.clone())),
            tls,
        };
        http_task = Some(tokio::spawn(crate::http::serve(
            l,
            state,
            stopped(&stop_rx),
        )));
    }
    tokio::spawn(maintenance(
        cfg.clone(),
        engine.clone(),
        cfg.storage.maintenance_interval,
        stop_rx.clone(),
    ));
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
        network_up.clone(),
        stop_rx.clone(),
    ));
    let info = json!({
        "station": cfg.station.id.as_str(),
        "epoch": &*engine.epoch,
        "database": cfg.storage.database.display().to_string(),
        "http": http_addr.map(|a| a.to_string()),
        "tls_fingerprint": tls_fingerprint,
    });
    let server = tokio::spawn(crate::control::serve(
        listener,
        crate::control::ControlCtx {
            engine: engine.clone(),
            default_bench: cfg.scan.default_bench.clone(),
            info,
            sync: status,
            database: cfg.storage.database.clone(),
            cap_bytes: cfg.storage.cap_bytes,
            high_water_pct: cfg.storage.high_water_pct,
            state_dir: cfg.storage.state_dir.clone(),
            board: board.clone(),
        },
        stopped(&stop_rx),
    ));
    if opts.scan_stdin {
        tokio::spawn(stdin_scans(
            engine.clone(),
            cfg.scan.default_bench.clone(),
            Lang::parse(&cfg.station.language),
        ));
    }
    tracing::info!(
        station = cfg.station.id.as_str(),
        epoch = &*engine.epoch,
        socket = %cfg.control.socket.display(),
        http = ?http_addr,
        database = %cfg.storage.database.display(),
        "returnsd ready"
    );
    sd_notify("READY=1");
    shutdown_signal().await;
    sd_notify("STOPPING=1");
    let _ = stop_tx.send(true);
    // Workers finish their current step; none holds anything that is not on disk.
    // One shared deadline; a worker still busy then is aborted (and named in the log).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut tasks = vec![
        ("control socket", server),
        ("push", push),
        ("feed", feed),
        ("print worker", printer),
    ];
    if let Some(t) = http_task {
        tasks.push(("http", t));
    }
    for (name, mut task) in tasks {
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            tracing::warn!(task = name, "still busy at the stop deadline; aborted");
            task.abort();
        }
    }
    drop(stop_rx);
    // Connections that are still open (an idle HTTP keep-alive, a control client) hold
    // engine handles: close the engine's input instead of waiting for them.
    engine.close().await;
    drop(engine);
    // Connections still open hold engine handles; give them a moment to finish, then the
    // engine drains its queue and its thread ends.
    let _ = std::fs::remove_file(&cfg.control.socket);
    let waited = tokio::task::spawn_blocking(move || join.join());
    match tokio::time::timeout(std::time::Duration::from_secs(10), waited).await {
        Ok(_) => tracing::info!("stopped cleanly"),
        Err(_) => {
            tracing::warn!("engine still busy after 10 s; exiting (committed work is on disk)")
        }
    }
    Ok(())
}
