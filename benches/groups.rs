//! Large groups and group statistics: the cost of a change must not grow with its group.
//!
//! `cargo bench --bench groups` runs, each as its own `shelfflow run` process, with a
//! hand-written loop doing the same computation measured in the same run:
//! - one group (no `group_by`) over 1,000,000 store-shaped shelf events at tick 1 s, with
//!   `count(*)`, `max`, `count(DISTINCT event_id)`, `stddev_pop`, `first` (each on its own);
//! - `top_k`: the 20 lowest of 1,000 stock levels under a 150,000-record change feed, and the
//!   same pipeline without the `top_k`;
//! - a z-score of each (store, hour) revenue against its store's mean and population σ over all
//!   its hours: 200,000 sales events, 10 stores × 336 hours, at tick 1 s and with
//!   `catch_up: coarse`.

#[path = "support/peak.rs"]
mod peak;
#[path = "support/shelf_events.rs"]
mod shelf_events;
use peak::measure;
use shelf_events::{ensure, generate_store, rfc3339, Rng, START};

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

const SHELF_SCHEMA: &str = "{event_id: string, event_type: string, shelf_id: string, quantity: int, customer_id: string?, timestamp: timestamp}";

/// A one-group aggregate over the shelf events.
fn one_group(aggregate: &str, events: &Path) -> String {
    format!(
        "name: group\ntick: 1s\nsources:\n  e:\n    connector: file\n    path: {}\n    schema: {SHELF_SCHEMA}\n    event_time: timestamp\n    allowed_lateness: 10s\noperators:\n  g:\n    op: aggregate\n    input: e\n    aggregates:\n      v: \"{aggregate}\"\nsinks:\n  g:\n    input: g\n    connector: file\n    format: csv\n",
        events.display()
    )
}

/// Levels of 1,000 items fed by a change feed; with `k`, the `k` lowest.
fn levels(feed: &Path, k: Option<usize>) -> String {
    let mut yaml = format!(
        "name: levels\ntick: 1s\nsources:\n  feed:\n    connector: file\n    path: {}\n    schema: {{item: string, level: int, at: timestamp}}\n    event_time: at\noperators:\n  level:\n    op: aggregate\n    input: feed\n    group_by: [item]\n    aggregates:\n      level: last(level)\n",
        feed.display()
    );
    match k {
        Some(k) => yaml.push_str(&format!("  lowest:\n    op: top_k\n    input: level\n    order_by: [level]\n    k: {k}\nsinks:\n  out:\n    input: lowest\n    connector: file\n    format: jsonl\n")),
        None => yaml.push_str("sinks:\n  out:\n    input: level\n    connector: file\n    format: jsonl\n"),
    }
    yaml
}

/// Hourly revenue per store, its z-score against the store's hours.
fn zscore(sales: &Path, catch_up: bool) -> String {
    let mode = if catch_up { "catch_up: coarse\ncatch_up_tick: 1h\n" } else { "" };
    format!(
        "name: zscore\ntick: 1s\n{mode}sources:\n  sales:\n    connector: file\n    path: {}\n    schema: {{store: string, amount: float, at: timestamp}}\n    event_time: at\noperators:\n  timed:\n    op: map\n    input: sales\n    fields:\n      hour: \"date_trunc('hour', at)\"\n  hourly:\n    op: aggregate\n    input: timed\n    group_by: [store, hour]\n    aggregates:\n      revenue: sum(amount)\n  stats:\n    op: aggregate\n    input: hourly\n    group_by: [store]\n    aggregates:\n      mean: avg(revenue)\n      sigma: stddev_pop(revenue)\n  joined:\n    op: join\n    left: hourly\n    right: stats\n    on: [store]\n  scored:\n    op: map\n    input: joined\n    fields:\n      z: \"CASE WHEN sigma > 0 THEN (revenue - mean) / sigma ELSE 0.0 END\"\n    select: [store, hour, revenue, z]\nsinks:\n  scores:\n    input: scored\n    connector: file\n    format: csv\n",
        sales.display()
    )
}

/// 150,000 level changes over 1,000 items, one every second.
fn write_feed(path: &Path) -> std::io::Result<()> {
    let mut rng = Rng(7);
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    for n in 0..150_000i64 {
        let item = rng.below(1_000);
        writeln!(
            out,
            r#"{{"item":"I{item:04}","level":{},"at":"{}"}}"#,
            rng.below(500),
            rfc3339(START + n)
        )?;
    }
    out.flush()
}

/// 200,000 sales over 14 days (336 hours) in 10 stores, hour taken from the sale time.
fn write_sales(path: &Path) -> std::io::Result<()> {
    let mut rng = Rng(11);
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let span = 336 * 3_600;
    let mut at: Vec<i64> = (0..200_000).map(|_| rng.below(span as u64) as i64).collect();
    at.sort_unstable();
    for t in at {
        let store = rng.below(10);
        let cents = 100 + rng.below(5_000);
        writeln!(
            out,
            r#"{{"store":"S{store}","amount":{}.{:02},"at":"{}"}}"#,
            cents / 100,
            cents % 100,
            rfc3339(START + t)
        )?;
    }
    out.flush()
}

#[derive(serde::Deserialize)]
struct ShelfEvent<'a> {
    #[serde(borrow)]
    event_id: &'a str,
    quantity: i64,
}

#[derive(serde::Deserialize)]
struct Level<'a> {
    #[serde(borrow)]
    item: &'a str,
    level: i64,
}

#[derive(serde::Deserialize)]
struct Sale<'a> {
    #[serde(borrow)]
    store: &'a str,
    amount: f64,
    #[serde(borrow)]
    at: &'a str,
}

/// The hand-written loops, one per kind of case (run as `BENCH_HAND=<case> <file>`): borrowed
/// parses and hash maps, the floor the engine is measured against.
fn hand(case: &str, file: &Path) -> u64 {
    let mut reader =
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(file).expect("data"));
    let mut line = String::new();
    let mut n = 0u64;
    let mut next = |line: &mut String| {
        line.clear();
        reader.read_line(line).expect("read") > 0
    };
    match case {
        "group" => {
            // count, max, distinct ids and a running σ, in one pass.
            let (mut max, mut sum, mut squares) = (i64::MIN, 0i64, 0i64);
            let mut ids: HashSet<String> = HashSet::new();
            while next(&mut line) {
                let e: ShelfEvent<'_> = serde_json::from_str(&line).expect("json");
                max = max.max(e.quantity);
                sum += e.quantity;
                squares += e.quantity * e.quantity;
                ids.insert(e.event_id.to_owned());
                n += 1;
            }
            std::hint::black_box((max, sum, squares, ids.len()));
        }
        "levels" => {
            let mut level: HashMap<String, i64> = HashMap::new();
            while next(&mut line) {
                let l: Level<'_> = serde_json::from_str(&line).expect("json");
                match level.get_mut(l.item) {
                    Some(v) => *v = l.level,
                    None => {
                        level.insert(l.item.to_owned(), l.level);
                    }
                }
                n += 1;
            }
            let mut lowest: Vec<i64> = level.values().copied().collect();
            lowest.sort_unstable();
            std::hint::black_box(&lowest[..20.min(lowest.len())]);
        }
        _ => {
            let mut hourly: HashMap<(String, i64), f64> = HashMap::new();
            while next(&mut line) {
                let sale: Sale<'_> = serde_json::from_str(&line).expect("json");
                let at = chrono::DateTime::parse_from_rfc3339(sale.at).expect("time");
                *hourly.entry((sale.store.to_owned(), at.timestamp() / 3_600)).or_default() +=
                    sale.amount;
                n += 1;
            }
            let mut stats: HashMap<&str, (f64, f64, f64)> = HashMap::new();
            for ((store, _), r) in &hourly {
                let s = stats.entry(store).or_default();
                *s = (s.0 + 1.0, s.1 + r, s.2 + r * r);
            }
            std::hint::black_box(stats.len());
        }
    }
    n
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("target/bench-data/groups");
    let out = root.join("target/bench-out/groups");
    if let (Ok(case), Some(file)) = (std::env::var("BENCH_HAND"), std::env::args().nth(1)) {
        println!("{}", hand(&case, Path::new(&file)));
        return;
    }
    std::fs::create_dir_all(&out).expect("out dir");
    let store = root.join("target/bench-data/engine/store");
    ensure(&store, 2_000_000, generate_store);
    let million = data.join("million.jsonl");
    if !million.exists() {
        std::fs::create_dir_all(&data).expect("data dir");
        // Streamed, so this process stays small: a child's peak memory counts from its fork.
        let events = std::fs::File::open(store.join("shelf_events.jsonl")).expect("events");
        let mut out = BufWriter::new(std::fs::File::create(&million).expect("write"));
        for line in std::io::BufReader::new(events).lines().take(1_000_000) {
            writeln!(out, "{}", line.expect("line")).expect("write");
        }
        out.flush().expect("write");
        write_feed(&data.join("feed.jsonl")).expect("feed");
        write_sales(&data.join("sales.jsonl")).expect("sales");
    }
    let (feed, sales) = (data.join("feed.jsonl"), data.join("sales.jsonl"));
    let cases: Vec<(String, String, &str, &Path, u64)> = vec![
        ("count(*)".into(), one_group("count(*)", &million), "group", &million, 1_000_000),
        ("max".into(), one_group("max(quantity)", &million), "group", &million, 1_000_000),
        (
            "count distinct".into(),
            one_group("count(DISTINCT event_id)", &million),
            "group",
            &million,
            1_000_000,
        ),
        (
            "stddev_pop".into(),
            one_group("stddev_pop(quantity)", &million),
            "group",
            &million,
            1_000_000,
        ),
        ("first".into(), one_group("first(shelf_id)", &million), "group", &million, 1_000_000),
        ("levels".into(), levels(&feed, None), "levels", &feed, 150_000),
        ("levels+top_k".into(), levels(&feed, Some(20)), "levels", &feed, 150_000),
        ("z-score 1s".into(), zscore(&sales, false), "zscore", &sales, 200_000),
        ("z-score coarse".into(), zscore(&sales, true), "zscore", &sales, 200_000),
    ];
    println!("shelfflow groups benchmark (1 worker; hand loop measured in the same run)");
    println!(
        "{:<16} {:>9} {:>12} {:>9} {:>9} {:>7}",
        "case", "seconds", "events/s", "RSS MiB", "hand s", "ratio"
    );
    for (name, yaml, kind, input, events) in cases {
        let pipeline = out.join(format!("{}.yaml", name.replace([' ', '(', ')', '*', '+'], "_")));
        std::fs::write(&pipeline, yaml).expect("pipeline");
        let (secs, mem) = measure(
            Command::new(env!("CARGO_BIN_EXE_shelfflow"))
                .current_dir(&root)
                .args(["--quiet", "run"])
                .arg(&pipeline)
                .arg("--set")
                .arg(format!("output_dir={}", out.join("runs").display())),
        );
        let exe = std::env::current_exe().expect("bench exe");
        let (hand_secs, _) = measure(
            Command::new(exe)
                .env("BENCH_HAND", kind)
                .arg(input)
                .stdout(std::process::Stdio::null()),
        );
        println!(
            "{name:<16} {secs:>9.2} {:>12.0} {mem:>9.1} {hand_secs:>9.2} {:>7.3}",
            events as f64 / secs,
            hand_secs / secs
        );
    }
}
