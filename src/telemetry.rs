//! The station's Prometheus metrics: the latency histograms the engine and the edges
//! record into, and the text a scrape of `GET /metrics` answers (Prometheus text format
//! 0.0.4, encoded by `prometheus-client`).
//!
//! A leaf: it names nothing of the crate, and it is the one module that names
//! `prometheus_client`. The engine holds the one [`Telemetry`] (handed out with its handle,
//! like its statistics) and records scan latencies through [`Telemetry::scan_durable`] and
//! [`Telemetry::label_queued`]; the print worker, the HTTP server and the sync push record
//! theirs through the other methods. What the station *is* at scrape time (backlog, disk,
//! devices, the engine's counters) is not kept here: `http::metrics` reads it and adds it
//! to a [`Scrape`] as gauges and counters.
//!
//! Names follow Prometheus' conventions: base units (seconds, bytes), counters end in
//! `_total` and are typed `counter`, latencies are histograms (`_bucket`, `_sum`,
//! `_count`). No value is ever NaN: a figure that is not known (no central configured) is
//! left out, and its HELP says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of a scrape's answer.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Labels of one series: `(name, value)` pairs, in a fixed order.
pub type Labels = Vec<(&'static str, String)>;

/// Scan → durable, seconds: a group commit with `synchronous=FULL` takes 0.1–2 ms on a
/// healthy disk; the upper buckets catch slow fsyncs and a queue that backs up.
const SCAN_DURABLE: [f64; 13] = [
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Scan → label at the printer, seconds: two commits, CJK rendering and the send take a
/// few ms (`benches/devices.rs`: p99 under 5 ms); a printer that is offline makes it
/// seconds to minutes (the job waits in the queue).
const SCAN_LABEL: [f64; 14] = [
    0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// An HTTP request, seconds: reads take well under 10 ms, a login's argon2id check a few
/// hundred; `http.request_timeout_s` bounds the rest.
const HTTP_REQUEST: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// One push to the central, seconds: a batch of up to 1,000 events, gzipped, over the
/// warehouse's uplink.
const SYNC_PUSH: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Label jobs whose scan's arrival is remembered at most: a printer offline for a long
/// time must not grow the map without bound (jobs past it are not measured).
const MAX_WAITING_LABELS: usize = 4096;

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_REQUEST)
}

/// The station's latency histograms, shared by everything that records one.
#[derive(Debug)]
pub struct Telemetry {
    /// From the engine's handle taking a scan to its answer after the commit (stored scans
    /// only: a double read or a refusal for lack of storage writes nothing).
    scan_durable: Histogram,
    /// From the engine's handle taking a scan to the print worker having written the
    /// label's bytes to the printer (labels asked for by a scan: unpack, reprint by scan).
    scan_label: Histogram,
    /// Every request that matched a route, by route template, method and status.
    http: Family<Labels, Histogram, fn() -> Histogram>,
    /// Every push of a batch of events to the central (answered or not).
    sync_push: Histogram,
    /// Label jobs queued by a scan and not yet sent: job id → when the scan arrived.
    waiting_labels: Mutex<HashMap<i64, Instant>>,
    /// Push batches read from the journal while the previous one was in flight, and used.
    push_read_ahead: std::sync::atomic::AtomicU64,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            scan_durable: Histogram::new(SCAN_DURABLE),
            scan_label: Histogram::new(SCAN_LABEL),
            http: Family::new_with_constructor(http_histogram),
            sync_push: Histogram::new(SYNC_PUSH),
            waiting_labels: Mutex::new(HashMap::new()),
            push_read_ahead: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Telemetry {
    pub fn new() -> Arc<Telemetry> {
        Arc::new(Telemetry::default())
    }

    /// A scan was committed and answered `took` after it reached the engine's handle.
    pub fn scan_durable(&self, took: Duration) {
        self.scan_durable.observe(took.as_secs_f64());
    }

    /// The label job `job` was committed for a scan that reached the engine at `received`.
    pub fn label_queued(&self, job: i64, received: Instant) {
        let mut w = self
            .waiting_labels
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if w.len() < MAX_WAITING_LABELS {
            w.insert(job, received);
        }
    }

    /// The print worker wrote job `job`'s bytes to a printer: its scan → label latency, if
    /// a scan asked for it since the daemon started (a retry after that is not measured
    /// again).
    pub fn label_sent(&self, job: i64) {
        let received = (self.waiting_labels.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&job);
        if let Some(t) = received {
            self.scan_label.observe(t.elapsed().as_secs_f64());
        }
    }

    /// Job `job` will never be sent (it cannot be rendered): forget its scan.
    pub fn label_failed(&self, job: i64) {
        (self.waiting_labels.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&job);
    }

    /// An HTTP request to `route` (the router's template, e.g. `/api/v1/returns/{id}`,
    /// never the path as sent) answered `status` after `took`.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let method = match method {
            "GET" | "POST" | "PUT" | "DELETE" | "HEAD" => method,
            _ => "other",
        };
        let labels = vec![
            ("route", route.to_string()),
            ("method", method.to_string()),
            ("status", status.to_string()),
        ];
        self.http.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// One push request to the central took `took` (to its answer, or to its failure).
    pub fn sync_push(&self, took: Duration) {
        self.sync_push.observe(took.as_secs_f64());
    }

    /// The push sent a batch it had read while the previous one was in flight.
    pub fn push_read_ahead(&self) {
        self.push_read_ahead
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// A scrape: the histograms, to which the caller adds what the station is now.
    pub fn scrape(&self) -> Scrape {
        let mut registry = Registry::default();
        registry.register(
            "returnsd_sync_push_read_ahead_batches",
            "Push batches read from the journal while the previous batch was in flight, and sent",
            ConstCounter::new(
                self.push_read_ahead
                    .load(std::sync::atomic::Ordering::Relaxed),
            ),
        );
        registry.register(
            "returnsd_scan_durable_seconds",
            "Seconds from a scan reaching the engine to its answer after the commit (stored scans)",
            self.scan_durable.clone(),
        );
        registry.register(
            "returnsd_scan_label_seconds",
            "Seconds from a scan reaching the engine to its label's bytes written to a printer (labels asked for by a scan since the daemon started)",
            self.scan_label.clone(),
        );
        registry.register(
            "returnsd_http_request_duration_seconds",
            "Seconds to answer an HTTP request, by route template, method and status (the response head; an event stream's life is not counted)",
            self.http.clone(),
        );
        registry.register(
            "returnsd_sync_push_request_duration_seconds",
            "Seconds of one push request to the central, to its answer or its failure (none without a central)",
            self.sync_push.clone(),
        );
        Scrape { registry }
    }
}

/// One answer to `GET /metrics` being put together.
pub struct Scrape {
    registry: Registry,
}

/// prometheus-client ends every HELP text with a full stop.
fn help(text: &str) -> &str {
    text.strip_suffix('.').unwrap_or(text)
}

impl Scrape {
    /// A gauge without labels. Every figure the station shows is a whole number (seqs,
    /// bytes, seconds, milliseconds, 0/1 states), so a gauge cannot be NaN.
    pub fn gauge(&mut self, name: &str, help_text: &str, value: i64) {
        self.registry
            .register(name, help(help_text), ConstGauge::new(value));
    }

    /// A counter without labels; `name` is the series' name, ending in `_total`.
    pub fn counter(&mut self, name: &str, help_text: &str, value: u64) {
        // The encoder adds `_total` to a counter's name.
        let family = name.strip_suffix("_total").unwrap_or(name);
        debug_assert!(family != name, "a counter's name ends in _total: {name}");
        self.registry
            .register(family, help(help_text), ConstCounter::new(value));
    }

    /// A gauge with one series per label set (none at all is a family without samples).
    pub fn gauges(
        &mut self,
        name: &str,
        help_text: &str,
        series: impl IntoIterator<Item = (Labels, i64)>,
    ) {
        let family = Family::<Labels, Gauge>::default();
        for (labels, value) in series {
            family.get_or_create(&labels).set(value);
        }
        self.registry.register(name, help(help_text), family);
    }

    /// The text of the scrape.
    pub fn encode(self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; a metric that could not be encoded would be a
        // bug of the encoder, and the scrape is then cut short rather than lost.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counters are typed counter under their `_total` name, latencies are histograms,
    /// an HTTP route is its template and a scan's label is measured once.
    #[test]
    fn a_scrape_is_typed() {
        let t = Telemetry::new();
        t.scan_durable(Duration::from_millis(1));
        t.label_queued(7, Instant::now());
        t.label_sent(7);
        t.label_sent(7);
        t.http_request(
            "/api/v1/returns/{id}",
            "PATCH",
            200,
            Duration::from_millis(2),
        );
        let mut s = t.scrape();
        s.counter("returnsd_scans_total", "Scans received.", 4);
        s.gauge("returnsd_disk_used_bytes", "Bytes in use.", 42);
        s.gauges(
            "returnsd_device_up",
            "1 while up.",
            [(vec![("id", "printer:\"main\"".to_string())], 1)],
        );
        let text = s.encode();
        for line in [
            "# HELP returnsd_scans_total Scans received.\n",
            "# TYPE returnsd_scans_total counter\nreturnsd_scans_total 4\n",
            "# TYPE returnsd_disk_used_bytes gauge\nreturnsd_disk_used_bytes 42\n",
            "returnsd_device_up{id=\"printer:\\\"main\\\"\"} 1\n",
            "# TYPE returnsd_scan_durable_seconds histogram\n",
            "returnsd_scan_durable_seconds_count 1\n",
            "returnsd_scan_label_seconds_count 1\n",
            "returnsd_http_request_duration_seconds_count{route=\"/api/v1/returns/{id}\",method=\"other\",status=\"200\"} 1\n",
            "returnsd_sync_push_request_duration_seconds_count 0\n",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
        assert!(!text.contains("NaN"), "{text}");
    }
}
