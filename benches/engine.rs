//! Engine benchmark: events/s, batch latency and peak memory of `shelfflow run` on 2M shelf
//! events, next to a hand-written loop doing the same work, measured in the same run. See
//! README.md here.
//!
//! Cases (`BENCH_CASES`, comma-separated; default all):
//! - `store`: store-shaped data (7 days of 13 open hours, lognormal shelf popularity, putbacks
//!   after pickups, restocks to capacity below 40 %), about 6 events per second of event time;
//! - `left`: the same with the shelf table on the left of a `kind: left` join;
//! - `workers2`: the store case on two workers;
//! - `uniform`: the older uniform data, 100 events on every second of event time.

#[path = "support/peak.rs"]
mod peak;
#[path = "support/shelf_events.rs"]
mod shelf_events;
use peak::measure;
use shelf_events::{ensure, generate_store, generate_uniform};

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(serde::Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    event_id: &'a str,
    #[serde(borrow)]
    event_type: &'a str,
    #[serde(borrow)]
    shelf_id: &'a str,
    quantity: i64,
    #[serde(borrow)]
    timestamp: &'a str,
}

/// The hand-written loop: parse, update stock per shelf, join the shelf table, apply the alert
/// rule (open at ≤ 30 % of capacity, resolve above), write the alert history as JSON lines and
/// the final shelf state as CSV. Prints `events opened`.
fn hand_loop(dir: &Path, out_dir: &Path) -> (usize, usize) {
    let mut shelves: HashMap<String, (String, i64, i64)> = HashMap::new();
    for line in std::fs::read_to_string(dir.join("shelves.csv")).expect("shelves").lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        shelves.insert(
            f[0].to_owned(),
            (f[1].to_owned(), f[2].parse().unwrap(), f[3].parse().unwrap()),
        );
    }
    std::fs::create_dir_all(out_dir).expect("out dir");
    let mut history =
        BufWriter::new(std::fs::File::create(out_dir.join("hand_alerts.jsonl")).expect("out"));
    let mut net: HashMap<String, (i64, Option<String>)> = HashMap::new();
    let (mut events, mut opened) = (0, 0);
    let file = std::fs::File::open(dir.join("shelf_events.jsonl")).expect("events");
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut line = String::new();
    while reader.read_line(&mut line).expect("read") > 0 {
        let Ok(e) = serde_json::from_str::<Event<'_>>(&line) else {
            line.clear();
            continue;
        };
        let Ok(_time) = chrono::DateTime::parse_from_rfc3339(e.timestamp) else { continue };
        events += 1;
        let delta = if e.event_type == "pickup" { -e.quantity } else { e.quantity };
        let entry = match net.get_mut(e.shelf_id) {
            Some(entry) => entry,
            None => net.entry(e.shelf_id.to_owned()).or_insert((0, None)),
        };
        entry.0 += delta;
        if let Some((_, max, initial)) = shelves.get(e.shelf_id) {
            let low = (initial + entry.0) as f64 <= 0.3 * *max as f64;
            match (&entry.1, low) {
                (None, true) => {
                    opened += 1;
                    entry.1 = Some(e.event_id.to_owned());
                    let _ = writeln!(
                        history,
                        r#"{{"op":"upsert","key":{{"alert_id":"{}"}},"row":{{"shelf_id":"{}","opened_at":"{}"}}}}"#,
                        e.event_id, e.shelf_id, e.timestamp
                    );
                }
                (Some(id), false) => {
                    let _ = writeln!(
                        history,
                        r#"{{"op":"upsert","key":{{"alert_id":"{id}"}},"row":{{"shelf_id":"{}","resolved_at":"{}"}}}}"#,
                        e.shelf_id, e.timestamp
                    );
                    entry.1 = None;
                }
                _ => {}
            }
        }
        line.clear();
    }
    history.flush().expect("flush");
    let mut state =
        BufWriter::new(std::fs::File::create(out_dir.join("hand_state.csv")).expect("out"));
    let _ = writeln!(state, "shelf_id,item_category,maximum_stock,stock,low");
    let sorted: BTreeMap<&String, &(i64, Option<String>)> = net.iter().collect();
    for (shelf, (change, _)) in sorted {
        if let Some((category, max, initial)) = shelves.get(shelf) {
            let stock = initial + change;
            let low = stock as f64 <= 0.3 * *max as f64;
            let _ = writeln!(state, "{shelf},{category},{max},{stock},{low}");
        }
    }
    state.flush().expect("flush");
    (events, opened)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Case {
    name: &'static str,
    about: &'static str,
    data: &'static str,
    pipeline: &'static str,
    workers: usize,
}

const CASES: [Case; 4] = [
    Case {
        name: "store",
        about: "store-shaped data, lookup join, 1 worker",
        data: "store",
        pipeline: "benches/shelf_events.yaml",
        workers: 1,
    },
    Case {
        name: "left",
        about: "store-shaped data, table on the left of a left join, 1 worker",
        data: "store",
        pipeline: "benches/shelf_events_left.yaml",
        workers: 1,
    },
    Case {
        name: "workers2",
        about: "store-shaped data, lookup join, 2 workers",
        data: "store",
        pipeline: "benches/shelf_events.yaml",
        workers: 2,
    },
    Case {
        name: "uniform",
        about: "uniform data (100 events per second of event time), lookup join, 1 worker",
        data: "uniform",
        pipeline: "benches/shelf_events.yaml",
        workers: 1,
    },
];

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data_root = root.join("target/bench-data/engine");
    let out = root.join("target/bench-out/engine");
    if let Some(dir) = std::env::var_os("BENCH_HAND") {
        let (events, opened) = hand_loop(Path::new(&dir), &out);
        println!("{events} {opened}");
        return;
    }
    let events = env_or("BENCH_EVENTS", 2_000_000);
    let runs = env_or("BENCH_RUNS", 3);
    let wanted: Option<Vec<String>> =
        std::env::var("BENCH_CASES").ok().map(|c| c.split(',').map(str::to_owned).collect());
    ensure(&data_root.join("store"), events, generate_store);
    ensure(&data_root.join("uniform"), events, generate_uniform);

    println!("shelfflow engine benchmark: {events} shelf events, {runs} runs per case, medians");
    println!(
        "{:<10} {:>12} {:>10} {:>10} {:>10} {:>12} {:>10} {:>7}",
        "case", "events/s", "p50 ms", "p99 ms", "RSS MiB", "hand ev/s", "hand MiB", "ratio"
    );
    let summary = out.join("summary.json");
    for case in
        CASES.iter().filter(|c| wanted.as_ref().is_none_or(|w| w.iter().any(|n| n == c.name)))
    {
        let data = data_root.join(case.data);
        let (mut engine, mut hand, mut p50, mut p99) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut engine_mem, mut hand_mem) = (0f64, 0f64);
        for _ in 0..runs {
            let (secs, mem) = measure(
                Command::new(env!("CARGO_BIN_EXE_shelfflow"))
                    .current_dir(&root)
                    .env("BENCH_DATA", &data)
                    .env("BENCH_OUT", out.join(case.name))
                    .args(["--quiet", "run", case.pipeline, "--workers"])
                    .arg(case.workers.to_string())
                    .arg("--summary-json")
                    .arg(&summary),
            );
            let s: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary"))
                    .expect("json");
            assert_eq!(s["events_in"].as_u64(), Some(events as u64), "every event was read");
            engine.push(events as f64 / secs);
            engine_mem = engine_mem.max(mem);
            p50.push(s["batch_latency_p50_ms"].as_f64().unwrap_or(f64::NAN));
            p99.push(s["batch_latency_p99_ms"].as_f64().unwrap_or(f64::NAN));
            let exe = std::env::current_exe().expect("bench exe");
            let (secs, mem) = measure(
                Command::new(exe).env("BENCH_HAND", &data).stdout(std::process::Stdio::null()),
            );
            hand.push(events as f64 / secs);
            hand_mem = hand_mem.max(mem);
        }
        let (engine, hand) = (median(engine), median(hand));
        println!(
            "{:<10} {engine:>12.0} {:>10.1} {:>10.1} {engine_mem:>10.1} {hand:>12.0} {hand_mem:>10.1} {:>7.3}",
            case.name,
            median(p50),
            median(p99),
            engine / hand
        );
        println!("           ({})", case.about);
    }
}
