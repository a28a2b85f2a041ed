//! systemd's notify protocol (`Type=notify`, `sd_notify(3)`): one datagram to the socket
//! `$NOTIFY_SOCKET` names (a path, or an abstract name after `@`). A no-op when the daemon
//! was not started by systemd. It knows nothing of the rest of the crate.

/// Send `state` (`READY=1`, `STOPPING=1`, …) to the service manager; a failure is logged,
/// never fatal (the daemon works the same without systemd).
pub fn notify(state: &str) {
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

/// The watchdog interval the service manager asked for (`WatchdogSec=`, passed as
/// `$WATCHDOG_USEC`), when it is meant for this process (`$WATCHDOG_PID`, if set, is ours).
pub fn watchdog_interval() -> Option<std::time::Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| std::time::Duration::from_micros(usec))
}
