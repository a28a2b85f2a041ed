//! A year on the floor, for the benches: a station database built through the real engine
//! (`returnsd::engine::start`, the same inputs the scanners and the handheld send), one
//! simulated day after another on a clock the generator sets. Each day `PER_DAY` returns
//! of the three kinds go through the bench — a keeper's badge, the waybill, the kind, unpack,
//! one to three product scans, the visual check, the pending table (first check, with its
//! ledger entries and label job) — and the inspection of the returns received two days
//! before (good, or defect with a reason) with their put-away into a good bin or the
//! defect zone; the good units of returns put away three days before are restocked, and
//! every seventh day the week's defect units go back to the vendor on an RTV note. So the
//! database holds what a year leaves: mostly closed returns, a ledger, print jobs, RTV
//! notes (each closed a week later), the last days' open work — and every row but one was
//! written by the code under test: the label jobs, which the print worker (not run here)
//! would have sent and confirmed, are marked confirmed at the end.
//!
//! Built once per size and kept under `target/bench-data/` (a build takes minutes); a
//! marker file records what was built, so an interrupted build is not taken for a whole one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use returnsd::domain::ids::Badge;
use returnsd::domain::kind::Role;
use returnsd::engine::EngineHandle;

/// Returns received per simulated day (a busy bench).
pub const PER_DAY: usize = 420;
/// Benches scanning at once.
const BENCHES: usize = 16;
/// Valid EAN-13 codes of the products returned.
const PRODUCTS: [&str; 4] = [
    "6901234567892",
    "4006381333931",
    "6920202888883",
    "6935364070052",
];

/// What was built, as its marker file records it.
#[derive(Debug, Clone)]
pub struct Year {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub db: PathBuf,
    pub returns: usize,
    pub events: i64,
    pub open_returns: i64,
    pub db_bytes: u64,
    pub build_secs: f64,
}

/// The station config every year database is built (and later run) with: `state_dir`
/// under `dir`, no printer (label jobs wait in the queue), the three operators (PINs
/// 1111, 2222, 3333 for the API).
pub fn config_text(state_dir: &Path, extra: &str) -> String {
    let pin = |p: &str| returnsd::http::auth::hash_pin(p).expect("hash");
    format!(
        r#"[station]
id = "ST01"
timezone = "Asia/Shanghai"
language = "en"

[storage]
state_dir = "{}"
cap_mb = 20000

[scan]
double_read_window_ms = 0

[inspection]
defect_photo_required = false

[[zones.bins]]
code = "A01"
class = "good"

[[zones.bins]]
code = "A02"
class = "good"

[[zones.bins]]
code = "D01"
class = "defect"

[[operators]]
badge = "017"
name = "Keeper"
roles = ["keeper"]
pin_hash = "{}"

[[operators]]
badge = "021"
name = "Inspector"
roles = ["inspector"]
pin_hash = "{}"

[[operators]]
badge = "001"
name = "Supervisor"
roles = ["supervisor", "keeper"]
pin_hash = "{}"
{extra}
"#,
        state_dir.display(),
        pin("1111"),
        pin("2222"),
        pin("3333"),
    )
}

/// The year database of `returns` returns under `root` (built now if it is not there).
pub fn year(root: &Path, returns: usize) -> Year {
    let dir = root.join(format!("year-{returns}"));
    let marker = dir.join("built.json");
    if let Ok(text) = std::fs::read_to_string(&marker)
        && let Ok(v) = serde_json::from_str::<Value>(&text)
    {
        return from_marker(&dir, &v);
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("year dir");
    let t = Instant::now();
    let config = dir.join("station.toml");
    std::fs::write(&config, config_text(&dir.join("state"), "")).expect("config");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (events, open) = rt.block_on(build(&config, returns));
    drop(rt);
    let db = dir.join("state/returnsd.db");
    let c = rusqlite::Connection::open(&db).expect("reopen");
    // The print worker is not run here (no printer): the year's labels stand printed, as
    // a station's printer would have confirmed them — not a backlog of a year of jobs.
    c.execute(
        "UPDATE print_jobs SET state = 'confirmed', attempts = 1, sent_at = created_at,
                confirmed_at = created_at WHERE state = 'queued'",
        [],
    )
    .expect("labels printed");
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    drop(c);
    let v = json!({
        "returns": returns,
        "events": events,
        "open_returns": open,
        "db_bytes": std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0),
        "build_secs": t.elapsed().as_secs_f64(),
    });
    std::fs::write(&marker, v.to_string()).expect("marker");
    from_marker(&dir, &v)
}

fn from_marker(dir: &Path, v: &Value) -> Year {
    Year {
        dir: dir.to_path_buf(),
        config: dir.join("station.toml"),
        db: dir.join("state/returnsd.db"),
        returns: v["returns"].as_u64().unwrap_or(0) as usize,
        events: v["events"].as_i64().unwrap_or(0),
        open_returns: v["open_returns"].as_i64().unwrap_or(0),
        db_bytes: v["db_bytes"].as_u64().unwrap_or(0),
        build_secs: v["build_secs"].as_f64().unwrap_or(0.0),
    }
}

/// The simulated clock: the day's start plus a millisecond-per-read tick, so events keep
/// time order within the day.
#[derive(Clone)]
struct SimClock {
    ms: Arc<AtomicI64>,
}

impl SimClock {
    fn set_day(&self, day: NaiveDate) {
        let t = chrono_tz::Asia::Shanghai
            .from_local_datetime(&day.and_hms_opt(8, 30, 0).expect("time"))
            .single()
            .expect("local time");
        self.ms.store(t.timestamp_millis(), Ordering::SeqCst);
    }

    fn clock(&self) -> returnsd::engine::Clock {
        let ms = self.ms.clone();
        Arc::new(move || {
            let t = ms.fetch_add(40, Ordering::SeqCst);
            Utc.timestamp_millis_opt(t)
                .single()
                .unwrap_or_else(Utc::now)
        })
    }
}

async fn build(config: &Path, returns: usize) -> (i64, i64) {
    let cfg = Arc::new(returnsd::config::load(config).expect("config"));
    let sim = SimClock {
        ms: Arc::new(AtomicI64::new(0)),
    };
    let days = returns.div_ceil(PER_DAY);
    let first = Utc::now().date_naive() - chrono::Duration::days(days as i64 + 1);
    sim.set_day(first);
    let (engine, mut effects, join) =
        returnsd::engine::start(cfg.clone(), sim.clock()).expect("engine");
    // Label jobs and the rest are not run here: their effects are dropped.
    tokio::spawn(async move { while effects.recv().await.is_some() {} });
    let state_dir = cfg.storage.state_dir.clone();
    let mut received: Vec<Vec<(String, usize)>> = Vec::new();
    let mut put_away_good: Vec<Vec<String>> = Vec::new();
    let mut defects: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut n = 0usize;
    for d in 0..days {
        sim.set_day(first + chrono::Duration::days(d as i64));
        let today = PER_DAY.min(returns - n);
        received.push(receive_day(&engine, n, today).await);
        n += today;
        if d >= 2 {
            let (good, defect) = inspect_and_put_away(&engine, &state_dir, &received[d - 2]).await;
            put_away_good.push(good);
            defects.extend(defect);
        } else {
            put_away_good.push(Vec::new());
        }
        if d >= 3 {
            for id in std::mem::take(&mut put_away_good[d - 3]) {
                command(
                    &engine,
                    &state_dir,
                    "017",
                    "restock",
                    json!({"return_id": id}),
                )
                .await;
            }
        }
        if d % 7 == 6 && !defects.is_empty() {
            // Last week's notes were picked up by the vendor's carrier: closed.
            for note_no in std::mem::take(&mut notes) {
                command(
                    &engine,
                    &state_dir,
                    "001",
                    "rtv_close",
                    json!({"note_no": note_no, "waybill": "SF1999999999999", "note": "picked up"}),
                )
                .await;
            }
            let items = std::mem::take(&mut defects);
            for chunk in items.chunks(200) {
                let r = command(
                    &engine,
                    &state_dir,
                    "017",
                    "rtv",
                    json!({"vendor": "ACME Electronics", "items": chunk}),
                )
                .await;
                let no = r.params.iter().find(|(k, _)| k == "note_no");
                notes.push(no.expect("note number").1.clone());
            }
        }
    }
    let events = engine.stats.last_seq.load(Ordering::Relaxed) as i64;
    let open = engine.stats.held_returns.load(Ordering::Relaxed) as i64;
    engine.close().await;
    let _ = tokio::task::spawn_blocking(move || join.join()).await;
    (events, open)
}

/// One scan, which must be accepted.
async fn scan(engine: &EngineHandle, bench: &str, code: &str) -> returnsd::engine::Reply {
    let r = engine.scan(bench, code.as_bytes().to_vec()).await;
    assert!(r.ok, "{bench} {code}: {} {:?}", r.code, r.params);
    r
}

/// The day's returns through the benches, `BENCHES` at once; their ids and unit counts.
async fn receive_day(engine: &EngineHandle, from: usize, count: usize) -> Vec<(String, usize)> {
    let mut tasks = Vec::new();
    for b in 0..BENCHES {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let bench = format!("bench-{:02}", b + 1);
            scan(&engine, &bench, "OP-017").await;
            let mut ids = Vec::new();
            for i in (b..count).step_by(BENCHES) {
                let n = from + i;
                let waybill = format!("SF{:013}", 1_500_000_000_000u64 + n as u64);
                let r = scan(&engine, &bench, &waybill).await;
                ids.push((r.return_id.clone().expect("return id"), 1 + n % 3));
                let kind = ["CMD-KIND-CUSTOMER", "CMD-KIND-CARRIER", "CMD-KIND-REFUSED"][n % 3];
                scan(&engine, &bench, kind).await;
                scan(&engine, &bench, "CMD-UNPACK").await;
                for k in 0..(1 + n % 3) {
                    scan(&engine, &bench, PRODUCTS[(n + k) % 4]).await;
                }
                scan(&engine, &bench, "CMD-VIS-OK").await;
                scan(&engine, &bench, "Z-PENDING").await;
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.expect("bench task"));
    }
    ids
}

/// An operator command through the engine (as the control socket builds it); it must
/// be accepted.
async fn command(
    engine: &EngineHandle,
    state_dir: &Path,
    badge: &str,
    op: &str,
    mut req: Value,
) -> returnsd::engine::Reply {
    req["badge"] = json!(badge);
    let who = Badge::parse(badge).expect("badge");
    let cmd = returnsd::commands::build(op, &req, &who, state_dir).expect("command");
    let role = match badge {
        "021" => Role::Inspector,
        "001" => Role::Supervisor,
        _ => Role::Keeper,
    };
    let r = engine.command(who, Some(role), cmd).await;
    assert!(r.ok, "{op} {req}: {} {:?}", r.code, r.params);
    r
}

/// Grade every unit of `ids` (one return in seven defect) and put them away; the good
/// returns and the defect units (`<return id>.<n>`).
async fn inspect_and_put_away(
    engine: &EngineHandle,
    state_dir: &Path,
    ids: &[(String, usize)],
) -> (Vec<String>, Vec<String>) {
    let mut good = Vec::new();
    let mut defect = Vec::new();
    let mut tasks = Vec::new();
    for (chunk_no, chunk) in ids.chunks(ids.len().div_ceil(4).max(1)).enumerate() {
        let engine = engine.clone();
        let state_dir = state_dir.to_path_buf();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for (i, (id, units)) in chunk.iter().enumerate() {
                let is_defect = (i + chunk_no) % 7 == 3;
                let (grade, zone) = if is_defect {
                    ("defect", "Z-DEFECT")
                } else {
                    ("good", ["A01", "A02"][i % 2])
                };
                let mut req = json!({"return_id": id, "grade": grade});
                if is_defect {
                    req["defect_reasons"] = json!(["damaged_casing"]);
                }
                command(&engine, &state_dir, "021", "inspect", req).await;
                command(
                    &engine,
                    &state_dir,
                    "021",
                    "put_away",
                    json!({"return_id": id, "zone": zone}),
                )
                .await;
                out.push((id.clone(), *units, is_defect));
            }
            out
        }));
    }
    for t in tasks {
        for (id, units, is_defect) in t.await.expect("inspect task") {
            if is_defect {
                defect.extend((1..=units).map(|u| format!("{id}.{u}")));
            } else {
                good.push(id);
            }
        }
    }
    (good, defect)
}

/// When the year's first day was (for reports).
pub fn first_day(y: &Year) -> Option<DateTime<Utc>> {
    let c = rusqlite::Connection::open(&y.db).ok()?;
    let t: String = c
        .query_row("SELECT MIN(received_at) FROM returns", [], |r| r.get(0))
        .ok()?;
    DateTime::parse_from_rfc3339(&t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
