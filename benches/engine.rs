//! Engine benchmark: events/s, batch latency and peak memory of `shelfflow run` on 2M shelf
//! events, next to a hand-written parse-and-update loop doing the same work. See README.md here.

#[path = "support/peak.rs"]
mod peak;
use peak::measure;

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

const SHELVES: usize = 1_100;
const EVENTS_PER_SECOND: u64 = 100;
const START: i64 = 1_767_250_800; // 2026-01-01T07:00:00Z

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
}

/// Writes the shelf table and `events` shelf events: customers pick up (1–3) and put back (1);
/// staff restock a shelf to 80 % soon after it drops below 30 %. 100 events per second of event
/// time.
fn generate(dir: &Path, events: usize) -> std::io::Result<()> {
    let marker = dir.join(format!("generated-{events}"));
    if marker.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng(42);
    let mut shelves = BufWriter::new(std::fs::File::create(dir.join("shelves.csv"))?);
    writeln!(shelves, "shelf_id,item_category,maximum_stock,initial_stock")?;
    let mut maximum = Vec::with_capacity(SHELVES);
    let mut stock = Vec::with_capacity(SHELVES);
    for i in 0..SHELVES {
        let max = 20 + rng.below(80) as i64;
        let initial = max * 6 / 10;
        writeln!(shelves, "SH{i:05},CAT{:02},{max},{initial}", i % 29)?;
        maximum.push(max);
        stock.push(initial);
    }
    shelves.flush()?;
    let mut out =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("shelf_events.jsonl"))?);
    for n in 0..events as u64 {
        let shelf = rng.below(SHELVES as u64) as usize;
        let (kind, quantity) = if stock[shelf] * 10 < maximum[shelf] * 3 && rng.below(4) == 0 {
            ("restock", (maximum[shelf] * 8 / 10 - stock[shelf]).max(1))
        } else if rng.below(10) < 8 && stock[shelf] > 0 {
            ("pickup", (1 + rng.below(3) as i64).min(stock[shelf]))
        } else {
            ("putback", 1)
        };
        stock[shelf] += if kind == "pickup" { -quantity } else { quantity };
        let seconds = START + (n / EVENTS_PER_SECOND) as i64;
        let time = chrono::DateTime::from_timestamp(seconds, 0)
            .expect("valid time")
            .format("%Y-%m-%dT%H:%M:%SZ");
        writeln!(
            out,
            r#"{{"event_id":"e{n}","event_type":"{kind}","shelf_id":"SH{shelf:05}","quantity":{quantity},"customer_id":"c{}","timestamp":"{time}"}}"#,
            rng.below(5_000)
        )?;
    }
    out.flush()?;
    std::fs::write(marker, b"")
}

#[derive(serde::Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    event_type: &'a str,
    #[serde(borrow)]
    shelf_id: &'a str,
    quantity: i64,
    #[serde(borrow)]
    timestamp: &'a str,
}

/// The hand-written loop: parse, update stock per shelf, join the shelf table, apply the alert
/// rule with hysteresis. Prints `events opened`.
fn hand_loop(dir: &Path) -> (usize, usize) {
    let mut shelves: HashMap<String, (i64, i64)> = HashMap::new();
    for line in std::fs::read_to_string(dir.join("shelves.csv")).expect("shelves").lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        shelves.insert(f[0].to_owned(), (f[2].parse().unwrap(), f[3].parse().unwrap()));
    }
    let mut net: HashMap<String, (i64, bool)> = HashMap::new();
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
            None => net.entry(e.shelf_id.to_owned()).or_insert((0, false)),
        };
        entry.0 += delta;
        if let Some((max, initial)) = shelves.get(e.shelf_id) {
            let stock = (initial + entry.0) as f64;
            if !entry.1 && stock < 0.3 * *max as f64 {
                entry.1 = true;
                opened += 1;
            } else if entry.1 && stock >= 0.5 * *max as f64 {
                entry.1 = false;
            }
        }
        line.clear();
    }
    (events, opened)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("target/bench-data");
    if std::env::var_os("BENCH_ROLE").is_some() {
        let (events, opened) = hand_loop(&data);
        println!("{events} {opened}");
        return;
    }
    let events = env_or("BENCH_EVENTS", 2_000_000);
    let runs = env_or("BENCH_RUNS", 3);
    let workers = env_or("BENCH_WORKERS", 1);
    eprintln!("generating {events} events over {SHELVES} shelves in {} ...", data.display());
    generate(&data, events).expect("generate benchmark data");
    // The events file must hold exactly `events` lines for the rates below.
    let file = std::fs::File::open(data.join("shelf_events.jsonl")).expect("events");
    let lines = std::io::BufReader::with_capacity(1 << 20, file).split(b'\n').count();
    assert_eq!(lines, events, "stale benchmark data: remove {}", data.display());

    let out = root.join("target/bench-out");
    let summary = out.join("summary.json");
    let (mut engine, mut hand) = (Vec::new(), Vec::new());
    let (mut engine_mem, mut hand_mem, mut p50, mut p99) = (0f64, 0f64, Vec::new(), Vec::new());
    for _ in 0..runs {
        let (secs, mem) = measure(
            Command::new(env!("CARGO_BIN_EXE_shelfflow"))
                .current_dir(&root)
                .env("BENCH_DATA", &data)
                .env("BENCH_OUT", &out)
                .args([
                    "--quiet",
                    "run",
                    "benches/shelf_events.yaml",
                    "--workers",
                    &workers.to_string(),
                    "--summary-json",
                ])
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
            Command::new(exe).env("BENCH_ROLE", "hand").stdout(std::process::Stdio::null()),
        );
        hand.push(events as f64 / secs);
        hand_mem = hand_mem.max(mem);
    }
    let (engine, hand) = (median(engine), median(hand));
    println!("shelfflow engine benchmark: {events} shelf events, {SHELVES} shelves, {runs} runs, {workers} worker(s)");
    println!(
        "  engine (whole process)   {:>10.0} events/s   peak RSS {engine_mem:>6.1} MiB",
        engine
    );
    println!("  hand-written loop        {:>10.0} events/s   peak RSS {hand_mem:>6.1} MiB", hand);
    println!("  engine / hand loop       {:>10.2}", engine / hand);
    println!("  batch latency            p50 {:.1} ms   p99 {:.1} ms", median(p50), median(p99));
}
