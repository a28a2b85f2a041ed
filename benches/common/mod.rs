//! What the benchmarks share beside the test kit (`tests/kit/`, which the benches that
//! drive the real binary include as `kit`): percentiles and the `BENCH_JSON` distribution
//! form, and what they report about the machine (CPU, the filesystem under the bench
//! directory, what one fsync costs there, CPU time from /proc).

// Each bench includes all of it and uses a part.
#![allow(dead_code)]

pub mod history;
pub mod year;

use std::path::Path;
use std::time::{Duration, Instant};

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
    json!({"n": ms.len(), "p50_ms": round3(p50), "p99_ms": round3(p99), "max_ms": round3(max)})
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Rounded to thousandths (microseconds, for milliseconds).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

// ---- the machine ---------------------------------------------------------------------

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The mount holding `path` (longest mount-point prefix in /proc/mounts):
/// (mount point, device, fs type, options).
pub fn mount_of(path: &Path) -> Option<(String, String, String, String)> {
    let canon = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let unescape = |s: &str| {
        s.replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\012", "\n")
            .replace("\\134", "\\")
    };
    let mut best: Option<(String, String, String, String)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 4 {
            continue;
        }
        let mp = unescape(f[1]);
        if canon.starts_with(&mp) && best.as_ref().is_none_or(|b| mp.len() >= b.0.len()) {
            best = Some((mp, f[0].to_string(), f[2].to_string(), f[3].to_string()));
        }
    }
    best
}

/// `n` times a 4 KiB overwrite + sync on a plain file in `dir`, after 20 unrecorded: what
/// one durable commit costs at least on this disk. `full` picks fsync (which also writes
/// the file's mtime change) over fdatasync (what the bundled SQLite calls: the repository's
/// `.cargo/config.toml` builds it with HAVE_FDATASYNC).
pub fn fsync_probe(dir: &Path, full: bool, n: usize) -> Vec<Duration> {
    use std::os::unix::fs::FileExt;
    const WARMUP: usize = 20;
    let path = dir.join("fsync-probe.bin");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .expect("create fsync probe file");
    let block = vec![0xA5u8; 4096];
    // Pre-write 1 MiB and sync it, then overwrite in place: like a reused WAL, no
    // file-size change to flush.
    const SLOTS: u64 = 256;
    for i in 0..SLOTS {
        f.write_at(&block, i * 4096).expect("probe prealloc");
    }
    f.sync_all().expect("probe sync");
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + WARMUP {
        let t = Instant::now();
        f.write_at(&block, (i as u64 % SLOTS) * 4096)
            .expect("probe write");
        if full {
            f.sync_all().expect("probe fsync");
        } else {
            f.sync_data().expect("probe fdatasync");
        }
        if i >= WARMUP {
            samples.push(t.elapsed());
        }
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    samples
}

/// Host CPU ticks (busy, total) from /proc/stat.
pub fn host_cpu() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let f = |i: usize| v.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let busy = f(0) + f(1) + f(2) + f(5) + f(6) + f(7);
    (busy, busy + f(3) + f(4))
}

/// utime + stime of a /proc stat file (a process's or a thread's), in clock ticks, with
/// its name.
pub fn proc_stat(path: &Path) -> Option<(String, u64)> {
    let s = std::fs::read_to_string(path).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    let f: Vec<&str> = s[close + 1..].split_whitespace().collect();
    // After ')': state(0) ppid(1) … utime(11) stime(12).
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    Some((comm, ut + st))
}
