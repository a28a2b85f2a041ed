//! What the benchmarks that drive the real `returnsd` binary share beside the test kit
//! (`tests/kit/`, which they include as `kit`): percentiles and the `BENCH_JSON`
//! distribution form.

use std::time::Duration;

use serde_json::{Value, json};

/// (p50, p99, max) of samples in milliseconds (nearest rank).
pub fn pct(ms: &[f64]) -> (f64, f64, f64) {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.5), at(0.99), *v.last().unwrap_or(&f64::NAN))
}

/// `{n, p50_ms, p99_ms, max_ms}`, rounded to microseconds.
pub fn dist(ms: &[f64]) -> Value {
    let (p50, p99, max) = pct(ms);
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({"n": ms.len(), "p50_ms": r(p50), "p99_ms": r(p99), "max_ms": r(max)})
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
