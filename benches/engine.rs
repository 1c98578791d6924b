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
use peak::measure;

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::cmp::Reverse;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

const STORE_SHELVES: usize = 1_142;
const UNIFORM_SHELVES: usize = 1_100;
const START: i64 = 1_767_250_800; // 2026-01-01T07:00:00Z
const OPEN_SECONDS: i64 = 13 * 3_600;
const DAY: i64 = 86_400;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A small deterministic generator (xorshift64*), so the data is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn rfc3339(seconds: i64) -> impl std::fmt::Display {
    chrono::DateTime::from_timestamp(seconds, 0).expect("valid time").format("%Y-%m-%dT%H:%M:%SZ")
}

fn write_event(
    out: &mut impl Write,
    n: u64,
    kind: &str,
    shelf: usize,
    quantity: i64,
    customer: u64,
    seconds: i64,
) -> std::io::Result<()> {
    writeln!(
        out,
        r#"{{"event_id":"e{n}","event_type":"{kind}","shelf_id":"SH{shelf:05}","quantity":{quantity},"customer_id":"c{customer}","timestamp":"{}"}}"#,
        rfc3339(seconds)
    )
}

fn write_shelves(dir: &Path, maximum: &[i64], initial: &[i64]) -> std::io::Result<()> {
    let mut shelves = BufWriter::new(std::fs::File::create(dir.join("shelves.csv"))?);
    writeln!(shelves, "shelf_id,item_category,maximum_stock,initial_stock")?;
    for (i, (max, init)) in maximum.iter().zip(initial).enumerate() {
        writeln!(shelves, "SH{i:05},CAT{:02},{max},{init}", i % 29)?;
    }
    shelves.flush()
}

/// What happens later to a shelf: a putback after a pickup, or a restock by the staff.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Scheduled {
    at: i64,
    seq: u64,
    shelf: usize,
    /// Putback quantity; 0 for a restock (to capacity, whatever the stock is then).
    quantity: i64,
}

/// The next open second at or after `t` (the store is open 07:00–20:00).
fn open_at(t: i64) -> i64 {
    let into = (t - START).rem_euclid(DAY);
    if into < OPEN_SECONDS {
        t
    } else {
        t - into + DAY
    }
}

/// Store-shaped shelf events: customers arrive through 13 open hours a day and pick up 1–8
/// units from a shelf chosen by lognormal popularity; about one pickup in eight is followed by a
/// putback of part of it within two minutes; a shelf below 40 % of capacity is restocked to
/// capacity 5–30 minutes later. Nights are empty.
fn generate_store(dir: &Path, events: usize) -> std::io::Result<()> {
    let mut rng = Rng(42);
    let maximum: Vec<i64> = (0..STORE_SHELVES).map(|_| 20 + rng.below(100) as i64).collect();
    let mut stock = maximum.clone();
    write_shelves(dir, &maximum, &stock)?;
    let weights: Vec<f64> = (0..STORE_SHELVES).map(|_| (1.1 * rng.normal()).exp()).collect();
    let total: f64 = weights.iter().sum();
    let cumulative: Vec<f64> = weights
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w / total;
            Some(*acc)
        })
        .collect();
    // Pickups are ~85 % of all events; space them to fill 7 open days.
    let pickups_per_second = events as f64 * 0.855 / (7 * OPEN_SECONDS) as f64;
    let mut out =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("shelf_events.jsonl"))?);
    let mut later: BinaryHeap<Reverse<Scheduled>> = BinaryHeap::new();
    let mut restocking = vec![false; STORE_SHELVES];
    let (mut written, mut seq, mut clock) = (0u64, 0u64, START as f64);
    while written < events as u64 {
        clock += -rng.unit().ln() / pickups_per_second;
        let now = open_at(clock as i64);
        clock = clock.max(now as f64);
        while later.peek().is_some_and(|Reverse(s)| s.at <= now) && written < events as u64 {
            let Reverse(s) = later.pop().expect("peeked");
            let (kind, quantity) = if s.quantity == 0 {
                restocking[s.shelf] = false;
                ("restock", maximum[s.shelf] - stock[s.shelf])
            } else {
                ("putback", s.quantity.min(maximum[s.shelf] - stock[s.shelf]))
            };
            if quantity > 0 {
                stock[s.shelf] += quantity;
                write_event(&mut out, written, kind, s.shelf, quantity, rng.below(5_000), s.at)?;
                written += 1;
            }
        }
        if written >= events as u64 {
            break;
        }
        let pick = rng.unit();
        let shelf = cumulative.partition_point(|&c| c < pick).min(STORE_SHELVES - 1);
        let wanted = if rng.below(5) == 0 { 1 + rng.below(8) } else { 1 + rng.below(3) } as i64;
        let quantity = wanted.min(stock[shelf]);
        if quantity == 0 {
            continue; // an empty shelf: lost demand, no event
        }
        stock[shelf] -= quantity;
        let customer = rng.below(5_000);
        write_event(&mut out, written, "pickup", shelf, quantity, customer, now)?;
        written += 1;
        seq += 1;
        if rng.below(8) == 0 {
            let back = 1 + rng.below(quantity as u64) as i64;
            let at = open_at(now + 5 + rng.below(115) as i64);
            later.push(Reverse(Scheduled { at, seq, shelf, quantity: back }));
        }
        if !restocking[shelf] && stock[shelf] * 10 < maximum[shelf] * 4 {
            restocking[shelf] = true;
            let at = open_at(now + 300 + rng.below(1_500) as i64);
            later.push(Reverse(Scheduled { at, seq, shelf, quantity: 0 }));
        }
    }
    out.flush()
}

/// The older uniform data: 100 events on every second, shelves chosen uniformly; customers
/// pick up (1–3) and put back (1); staff restock a shelf to 80 % soon after it drops below 30 %.
fn generate_uniform(dir: &Path, events: usize) -> std::io::Result<()> {
    let mut rng = Rng(42);
    let mut maximum = Vec::with_capacity(UNIFORM_SHELVES);
    let mut stock = Vec::with_capacity(UNIFORM_SHELVES);
    for _ in 0..UNIFORM_SHELVES {
        let max = 20 + rng.below(80) as i64;
        maximum.push(max);
        stock.push(max * 6 / 10);
    }
    write_shelves(dir, &maximum, &stock)?;
    let mut out =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("shelf_events.jsonl"))?);
    for n in 0..events as u64 {
        let shelf = rng.below(UNIFORM_SHELVES as u64) as usize;
        let (kind, quantity) = if stock[shelf] * 10 < maximum[shelf] * 3 && rng.below(4) == 0 {
            ("restock", (maximum[shelf] * 8 / 10 - stock[shelf]).max(1))
        } else if rng.below(10) < 8 && stock[shelf] > 0 {
            ("pickup", (1 + rng.below(3) as i64).min(stock[shelf]))
        } else {
            ("putback", 1)
        };
        stock[shelf] += if kind == "pickup" { -quantity } else { quantity };
        write_event(&mut out, n, kind, shelf, quantity, rng.below(5_000), START + (n / 100) as i64)?;
    }
    out.flush()
}

/// Generates a data set once (a marker file records the event count).
fn ensure(dir: &Path, events: usize, generate: fn(&Path, usize) -> std::io::Result<()>) {
    let marker = dir.join(format!("generated-{events}"));
    if marker.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("bench data dir");
    eprintln!("generating {events} events in {} ...", dir.display());
    generate(dir, events).expect("generate benchmark data");
    std::fs::write(marker, b"").expect("marker");
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
    let mut state = BufWriter::new(std::fs::File::create(out_dir.join("hand_state.csv")).expect("out"));
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
    for case in CASES.iter().filter(|c| wanted.as_ref().is_none_or(|w| w.iter().any(|n| n == c.name))) {
        let data = data_root.join(case.data);
        let (mut engine, mut hand, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
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
