//! The device board: the live state of every configured scanner and printer, shared by the
//! device actors (which write it) and the views (control socket, `/metrics`, later the
//! kiosk's API and its live stream), which read it.
//!
//! Every state change is logged here, once, with structured fields (`device`, `kind`,
//! `state`, `detail`): an alarm state (`disconnected`, `fault`, `unknown`, `offline`) at
//! WARN, a recovery at INFO. Actors therefore never log their own transitions twice.
//! No customer data ever reaches the board (device paths, states and fault codes only).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// What a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Scanner,
    Printer,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Scanner => "scanner",
            DeviceKind::Printer => "printer",
        }
    }
}

/// A device's state, as operators read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Configured, not tried yet.
    Starting,
    /// A scanner whose port is open and read.
    Connected,
    /// A scanner that is not there or was unplugged; retried with backoff.
    Disconnected,
    /// A printer that answered its status query with no fault.
    Ok,
    /// A printer that answered with a fault (paper out, head open, …): see `faults`.
    Fault,
    /// A printer that took the job (or the connection) but did not answer its status
    /// query: not known to be fine.
    Unknown,
    /// A printer that cannot be reached (connection refused, device node gone).
    Offline,
    /// The actor has ended (daemon stopping).
    Stopped,
}

impl DeviceState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Starting => "starting",
            DeviceState::Connected => "connected",
            DeviceState::Disconnected => "disconnected",
            DeviceState::Ok => "ok",
            DeviceState::Fault => "fault",
            DeviceState::Unknown => "unknown",
            DeviceState::Offline => "offline",
            DeviceState::Stopped => "stopped",
        }
    }

    /// Whether an operator must be told (alarm banner, WARN log, metrics).
    pub fn is_alarm(self) -> bool {
        matches!(
            self,
            DeviceState::Disconnected
                | DeviceState::Fault
                | DeviceState::Unknown
                | DeviceState::Offline
        )
    }
}

/// One device's entry.
#[derive(Debug, Clone)]
pub struct DeviceEntry {
    /// Stable id, e.g. `scanner:bench-1:/dev/serial/by-id/…` or `printer:primary`.
    pub id: String,
    pub kind: DeviceKind,
    /// `serial`, `hidpos`, `keyboard`, `tcp`, `usb`, `directory`, …
    pub transport: String,
    /// Device path or network address.
    pub path: String,
    /// The bench a scanner feeds (None for printers).
    pub bench: Option<String>,
    pub state: DeviceState,
    /// Why (OS error text, "no answer to ~HS", …). Never customer data.
    pub detail: Option<String>,
    /// Printer fault codes (`paper_out`, `head_open`, …), translated by `i18n`.
    pub faults: Vec<String>,
    /// When the state last changed.
    pub since: DateTime<Utc>,
    /// Scans read (scanners) or jobs sent (printers) since start.
    pub count: u64,
}

impl DeviceEntry {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "kind": self.kind.as_str(),
            "transport": self.transport,
            "path": self.path,
            "bench": self.bench,
            "state": self.state.as_str(),
            "alarm": self.state.is_alarm(),
            "detail": self.detail,
            "faults": self.faults,
            "since": crate::format::fmt_time(self.since),
            "count": self.count,
        })
    }
}

/// The board. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct DeviceBoard {
    inner: Arc<Mutex<BTreeMap<String, DeviceEntry>>>,
    /// Bumped on every state change, for live views.
    changed: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for DeviceBoard {
    fn default() -> Self {
        DeviceBoard::new()
    }
}

impl DeviceBoard {
    pub fn new() -> DeviceBoard {
        DeviceBoard {
            inner: Arc::new(Mutex::new(BTreeMap::new())),
            changed: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, DeviceEntry>) -> T) -> T {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// Add a device in state `starting` (or keep it if it is already there).
    pub fn register(
        &self,
        id: &str,
        kind: DeviceKind,
        transport: &str,
        path: &str,
        bench: Option<&str>,
    ) {
        self.with(|m| {
            m.entry(id.to_string()).or_insert_with(|| DeviceEntry {
                id: id.to_string(),
                kind,
                transport: transport.to_string(),
                path: path.to_string(),
                bench: bench.map(str::to_string),
                state: DeviceState::Starting,
                detail: None,
                faults: Vec::new(),
                since: Utc::now(),
                count: 0,
            });
        });
        self.changed.send_modify(|n| *n += 1);
    }

    /// Set a device's state, detail and faults; logs the change when anything changed.
    /// Unknown ids are ignored (a device must be registered first).
    pub fn set(&self, id: &str, state: DeviceState, detail: Option<String>, faults: Vec<String>) {
        let changed = self.with(|m| {
            let e = m.get_mut(id)?;
            if e.state == state && e.detail == detail && e.faults == faults {
                return None;
            }
            let was = e.state;
            if e.state != state {
                e.since = Utc::now();
            }
            e.state = state;
            e.detail = detail.clone();
            e.faults = faults.clone();
            Some((was, e.kind, e.path.clone()))
        });
        let Some((was, kind, path)) = changed else {
            return;
        };
        let detail = detail.as_deref().unwrap_or("");
        if state.is_alarm() {
            tracing::warn!(device = id, kind = kind.as_str(), %path, was = was.as_str(), state = state.as_str(), detail, faults = %faults.join(","), "DEVICE ALARM");
        } else {
            tracing::info!(device = id, kind = kind.as_str(), %path, was = was.as_str(), state = state.as_str(), detail, "device state");
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// Count one scan read or one job sent.
    pub fn count(&self, id: &str) {
        self.with(|m| {
            if let Some(e) = m.get_mut(id) {
                e.count += 1;
            }
        });
    }

    /// One device's entry.
    pub fn get(&self, id: &str) -> Option<DeviceEntry> {
        self.with(|m| m.get(id).cloned())
    }

    /// Every device, ordered by id.
    pub fn snapshot(&self) -> Vec<DeviceEntry> {
        self.with(|m| m.values().cloned().collect())
    }

    pub fn to_json(&self) -> Value {
        Value::Array(self.snapshot().iter().map(DeviceEntry::to_json).collect())
    }

    /// A receiver that wakes on every change.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

/// A device's state in `lang`, with its faults: "故障: 缺纸, 已暂停".
pub fn state_text(d: &Value, lang: crate::i18n::Lang) -> String {
    use crate::i18n::message;
    let state = message(
        lang,
        &format!("device.state.{}", d["state"].as_str().unwrap_or("")),
        &[],
    );
    let faults: Vec<String> = d["faults"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|f| message(lang, &format!("printer.fault.{f}"), &[]))
                .collect()
        })
        .unwrap_or_default();
    if faults.is_empty() {
        state
    } else {
        format!("{state}: {}", faults.join(", "))
    }
}

/// The board as an operator reads it, in `lang`: one line per device.
pub fn board_text(devices: &[Value], lang: crate::i18n::Lang) -> String {
    use crate::i18n::message;
    use std::fmt::Write;
    if devices.is_empty() {
        return format!("{}\n", message(lang, "devices.none", &[]));
    }
    let mut out = String::new();
    for d in devices {
        let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
        let state = state_text(d, lang);
        let _ = writeln!(
            out,
            "{} {:<12} {:<9} {:<10} {:<40} {} {}{}",
            if d["alarm"] == true { "!!" } else { "  " },
            message(lang, &format!("device.kind.{}", s("kind")), &[]),
            s("transport"),
            d["bench"].as_str().unwrap_or("-"),
            s("path"),
            state,
            d["detail"]
                .as_str()
                .map(|x| format!("({x}) "))
                .unwrap_or_default(),
            s("since")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every state, kind and fault code the board can show has both translations.
    #[test]
    fn every_board_word_is_translated() {
        use crate::i18n::codes;
        let known: Vec<&str> = codes().collect();
        let states = [
            DeviceState::Starting,
            DeviceState::Connected,
            DeviceState::Disconnected,
            DeviceState::Ok,
            DeviceState::Fault,
            DeviceState::Unknown,
            DeviceState::Offline,
            DeviceState::Stopped,
        ];
        let mut want: Vec<String> = states
            .iter()
            .map(|s| format!("device.state.{}", s.as_str()))
            .collect();
        want.extend(
            [DeviceKind::Scanner, DeviceKind::Printer]
                .iter()
                .map(|k| format!("device.kind.{}", k.as_str())),
        );
        want.push("printer.fault.directory_missing".into());
        want.push("devices.none".into());
        for w in &want {
            assert!(known.contains(&w.as_str()), "{w} has no translation");
        }
    }

    #[test]
    fn set_changes_state_and_counts_versions() {
        let b = DeviceBoard::new();
        let rx = b.subscribe();
        b.register(
            "printer:primary",
            DeviceKind::Printer,
            "tcp",
            "127.0.0.1:9100",
            None,
        );
        b.set(
            "printer:primary",
            DeviceState::Fault,
            None,
            vec!["paper_out".into()],
        );
        let e = b.get("printer:primary").unwrap();
        assert_eq!(e.state, DeviceState::Fault);
        assert_eq!(e.faults, vec!["paper_out".to_string()]);
        assert!(e.to_json()["alarm"].as_bool().unwrap());
        assert_eq!(*rx.borrow(), 2);
        // The same state again is not a change.
        b.set(
            "printer:primary",
            DeviceState::Fault,
            None,
            vec!["paper_out".into()],
        );
        assert_eq!(*rx.borrow(), 2);
    }

    #[test]
    fn unregistered_devices_are_ignored() {
        let b = DeviceBoard::new();
        b.set("nope", DeviceState::Ok, None, vec![]);
        assert!(b.snapshot().is_empty());
    }
}
