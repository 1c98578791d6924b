//! End-to-end runs of the shipped shelf-stock pipeline: results against an independent
//! recomputation, determinism across worker counts, and the inspection commands.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use chrono::DateTime;

const PIPELINE: &str = "pipelines/shelf_stock.yaml";
const EVENTS: &str = "data/sample/shelf_events.jsonl";
const SHELVES: &str = "data/sample/shelves.csv";
const SECOND: i64 = 1_000_000;

fn shelfflow(out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shelfflow"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).env("SHELFFLOW_OUT", out).arg("--quiet");
    cmd
}

fn run_pipeline(out: &Path, workers: usize) {
    let status = shelfflow(out)
        .args(["run", PIPELINE, "--workers", &workers.to_string()])
        .status()
        .expect("shelfflow runs");
    assert!(status.success(), "run with {workers} workers failed");
}

fn read(path: impl AsRef<Path>) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One shelf event as the pipeline's schema types it.
struct Event {
    id: String,
    kind: String,
    shelf: String,
    quantity: i64,
    micros: i64,
}

/// Decodes a line the way the schema says; `None` for what must be a dead letter.
fn decode(line: &str) -> Option<Event> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let text = |k: &str| v.get(k)?.as_str().map(str::to_owned);
    if !v.get("customer_id").is_none_or(|c| c.is_null() || c.is_string()) {
        return None;
    }
    Some(Event {
        id: text("event_id")?,
        kind: text("event_type")?,
        shelf: text("shelf_id")?,
        quantity: v.get("quantity")?.as_i64()?,
        micros: DateTime::parse_from_rfc3339(&text("timestamp")?).ok()?.timestamp_micros(),
    })
}

/// The expected final stock table and alert history, computed from scratch.
struct Expected {
    stock: BTreeMap<String, (String, i64, i64, i64)>,
    dead_letters: usize,
    alerts_opened: usize,
    alerts_open: usize,
}

fn recompute() -> Expected {
    let mut shelves: HashMap<String, (String, i64, i64)> = HashMap::new();
    for line in read(SHELVES).lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        shelves.insert(
            f[0].to_owned(),
            (f[1].to_owned(), f[2].parse().unwrap(), f[3].parse().unwrap()),
        );
    }
    // Watermark: largest event time seen minus 5 minutes; ticks of one second.
    let (mut max_seen, mut frontier, mut dead) = (i64::MIN, 0i64, 0usize);
    let mut accepted: BTreeMap<String, (i64, Event)> = BTreeMap::new();
    for line in read(EVENTS).lines().filter(|l| !l.trim().is_empty()) {
        let Some(event) = decode(line) else {
            dead += 1;
            continue;
        };
        let tick = (event.micros + SECOND - 1).div_euclid(SECOND) * SECOND;
        if tick < frontier {
            dead += 1;
            continue;
        }
        if event.micros > max_seen {
            max_seen = event.micros;
            frontier = frontier.max((max_seen - 300 * SECOND).div_euclid(SECOND) * SECOND);
        }
        // Duplicates by event id: the earliest copy counts.
        match accepted.get(&event.id) {
            Some((t, _)) if *t <= event.micros => {}
            _ => {
                accepted.insert(event.id.clone(), (event.micros, event));
            }
        }
    }
    // Net change per shelf and tick, in tick order.
    let mut by_shelf: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
    let mut last_at: HashMap<String, i64> = HashMap::new();
    for (_, e) in accepted.values() {
        let delta = if e.kind == "pickup" { -e.quantity } else { e.quantity };
        let tick = (e.micros + SECOND - 1).div_euclid(SECOND) * SECOND;
        *by_shelf.entry(e.shelf.clone()).or_default().entry(tick).or_default() += delta;
        let last = last_at.entry(e.shelf.clone()).or_insert(i64::MIN);
        *last = (*last).max(e.micros);
    }
    let mut expected =
        Expected { stock: BTreeMap::new(), dead_letters: dead, alerts_opened: 0, alerts_open: 0 };
    for (shelf, ticks) in by_shelf {
        let Some((category, maximum, initial)) = shelves.get(&shelf) else { continue };
        let mut stock = *initial;
        let mut open = false;
        for delta in ticks.values() {
            stock += delta;
            if !open && (stock as f64) < 0.3 * *maximum as f64 {
                open = true;
                expected.alerts_opened += 1;
            } else if open && (stock as f64) >= 0.5 * *maximum as f64 {
                open = false;
            }
        }
        expected.alerts_open += usize::from(open);
        expected.stock.insert(shelf.clone(), (category.clone(), stock, *maximum, last_at[&shelf]));
    }
    expected
}

#[test]
fn shelf_stock_matches_an_independent_recomputation() {
    let out = tempfile::tempdir().expect("temp dir");
    run_pipeline(out.path(), 1);
    let expected = recompute();

    let snapshot =
        std::fs::read_to_string(out.path().join("shelf_stock/stock.csv")).expect("stock snapshot");
    let mut lines = snapshot.lines();
    assert_eq!(
        lines.next(),
        Some("shelf_id,item_category,current_stock,maximum_stock,fill_pct,last_event_at")
    );
    let mut actual = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let last = DateTime::parse_from_rfc3339(f[5]).expect("timestamp").timestamp_micros();
        let stock: i64 = f[2].parse().unwrap();
        let maximum: i64 = f[3].parse().unwrap();
        let fill: f64 = f[4].parse().unwrap();
        assert!(
            (fill - (1000.0 * stock as f64 / maximum as f64).round() / 10.0).abs() < 1e-9,
            "{line}"
        );
        actual.insert(f[0].to_owned(), (f[1].to_owned(), stock, maximum, last));
    }
    assert_eq!(actual, expected.stock);

    let dead = std::fs::read_to_string(out.path().join("shelf_stock/dead_letter.jsonl"))
        .expect("dead letters");
    assert_eq!(dead.lines().count(), expected.dead_letters);
    assert!(
        dead.lines().any(|l| l.contains("\"reason\":\"late")),
        "late records are dead-lettered"
    );
    assert!(dead.lines().any(|l| l.contains("malformed JSON")));

    let history =
        std::fs::read_to_string(out.path().join("shelf_stock/alert_history.csv")).expect("history");
    let rows: Vec<&str> = history.lines().skip(1).collect();
    assert_eq!(rows.len(), expected.alerts_opened, "one history row per alert ever opened");
    let still_open = rows.iter().filter(|r| r.ends_with(',')).count();
    assert_eq!(still_open, expected.alerts_open, "alerts without resolved_at are the open ones");
    assert!(expected.alerts_opened > expected.alerts_open, "the sample resolves some alerts");
}

#[test]
fn outputs_are_identical_for_1_2_and_4_workers() {
    let runs: Vec<tempfile::TempDir> = [1, 2, 4]
        .into_iter()
        .map(|workers| {
            let out = tempfile::tempdir().expect("temp dir");
            run_pipeline(out.path(), workers);
            out
        })
        .collect();
    let files = [
        "stock_changelog.jsonl",
        "stock.csv",
        "open_alerts.jsonl",
        "alert_history.csv",
        "dead_letter.jsonl",
    ];
    for file in files {
        let first =
            std::fs::read(runs[0].path().join("shelf_stock").join(file)).expect("output exists");
        assert!(!first.is_empty(), "{file} is empty");
        for run in &runs[1..] {
            let other =
                std::fs::read(run.path().join("shelf_stock").join(file)).expect("output exists");
            assert!(first == other, "{file} differs between worker counts");
        }
    }
}

#[test]
fn tap_prints_the_changes_of_an_intermediate_collection() {
    let out = tempfile::tempdir().expect("temp dir");
    let output = shelfflow(out.path())
        .args(["tap", PIPELINE, "refill_alert.history"])
        .output()
        .expect("tap runs");
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let opened = stdout
        .lines()
        .filter(|l| l.contains("  +  ") && l.contains("\"resolved_at\":null"))
        .count();
    assert_eq!(opened, recompute().alerts_opened);
    assert!(!out.path().join("shelf_stock/stock.csv").exists(), "tap does not write the sinks");
}

#[test]
fn graph_prints_text_and_dot() {
    let out = tempfile::tempdir().expect("temp dir");
    let text = shelfflow(out.path()).args(["graph", PIPELINE]).output().expect("graph runs");
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("alert    refill_alert"), "{text}");
    let dot =
        shelfflow(out.path()).args(["graph", "--dot", PIPELINE]).output().expect("graph runs");
    let dot = String::from_utf8(dot.stdout).unwrap();
    assert!(dot.starts_with("digraph") && dot.contains("\"stock\" -> \"refill_alert\""), "{dot}");
}

#[test]
fn set_overrides_a_source_path_and_a_missing_file_is_a_clean_error() {
    let out = tempfile::tempdir().expect("temp dir");
    let output = shelfflow(out.path())
        .args(["run", PIPELINE, "--set", "sources.shelf_events.path=data/sample/missing.jsonl"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("shelf_events") && stderr.contains("missing.jsonl"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Runs `pipeline` with `sets` (`path=value`) into `out`; returns the files it wrote.
fn run_with(pipeline: &str, out: &Path, sets: &[&str]) -> BTreeMap<String, String> {
    let mut cmd = shelfflow(out);
    cmd.args(["run", pipeline, "--set", &format!("output_dir={}", out.display())]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    let status = cmd.status().expect("shelfflow runs");
    assert!(status.success(), "{pipeline} {sets:?} failed");
    std::fs::read_dir(out)
        .expect("output dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), read(&p)))
        .collect()
}

/// The `time` of every line of a JSONL changelog.
fn change_times(changelog: &str) -> Vec<i64> {
    changelog
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            DateTime::parse_from_rfc3339(v["time"].as_str().expect("time")).unwrap().timestamp()
        })
        .collect()
}

#[test]
fn catch_up_coarse_gives_the_same_final_state_with_coarser_changes() {
    const EXAMPLE: &str = "pipelines/examples/catch_up.yaml";
    let (a, b) = (tempfile::tempdir().expect("temp"), tempfile::tempdir().expect("temp"));
    let exact = run_with(EXAMPLE, a.path(), &["catch_up=exact"]);
    let coarse = run_with(EXAMPLE, b.path(), &[]);
    assert_eq!(exact["movement_csv.csv"], coarse["movement_csv.csv"], "final states differ");
    assert!(exact["movement_csv.csv"].lines().count() > 2, "the snapshot has shelves");
    let (fine, minute) = (
        change_times(&exact["movement_changes.jsonl"]),
        change_times(&coarse["movement_changes.jsonl"]),
    );
    assert!(fine.iter().any(|t| t % 60 != 0), "exact timing has changes within a minute");
    assert!(minute.iter().all(|t| t % 60 == 0), "history is timed on the minute: {minute:?}");
    assert!(
        minute.len() < fine.len(),
        "coarse history has fewer changes ({} vs {})",
        minute.len(),
        fine.len()
    );
}

#[test]
fn set_changes_top_level_keys_such_as_the_tick() {
    let out = tempfile::tempdir().expect("temp dir");
    let files = run_with(PIPELINE, out.path(), &["tick=1h"]);
    let changelog = files
        .iter()
        .find(|(name, _)| name.ends_with(".jsonl") && !name.starts_with("dead"))
        .expect("a changelog");
    let times = change_times(changelog.1);
    assert!(
        !times.is_empty() && times.iter().all(|t| t % 3_600 == 0),
        "every change on the hour: {times:?}"
    );
    let bad = shelfflow(out.path())
        .args(["validate", PIPELINE, "--set", "catch_up=sometimes"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2), "an invalid top-level value is a config error");
}

#[test]
fn integer_overflow_and_fractional_ints_are_dead_letters_never_wrong_numbers() {
    let out = tempfile::tempdir().expect("temp dir");
    let files = run_with("pipelines/examples/overflow.yaml", out.path(), &[]);
    let priced: Vec<&str> = files["priced_csv.csv"].lines().collect();
    assert_eq!(
        priced,
        [
            "line_id,sku,units,unit_price_micros,at,total_micros,list_micros,total",
            "l1,APPLE,3,2500000,2026-01-01T08:00:00Z,7500000,2500000,7.50",
            "l6,KIWI,12,350000,2026-01-01T08:00:05Z,4200000,350000,4.20",
        ]
    );
    let letters: Vec<serde_json::Value> = files["dead_letter.jsonl"]
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let reasons: Vec<(&str, &str, &str)> = letters
        .iter()
        .map(|l| {
            let text = |k: &str| l[k].as_str().expect("text field");
            (text("source"), text("position"), text("reason"))
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "order_lines",
                "pipelines/examples/data/order_lines.jsonl:2",
                "field `units`: expected int, found number 2.0"
            ),
            (
                "order_lines",
                "pipelines/examples/data/order_lines.jsonl:4",
                "field `units`: expected int, found number 2.5"
            ),
            (
                "priced",
                "fields.total_micros",
                "integer overflow in `units * unit_price_micros` (operator `*`)"
            ),
            (
                "priced",
                "fields.list_micros",
                "integer overflow in `abs(unit_price_micros)` (operator `abs`)"
            ),
        ]
    );
    let raw: serde_json::Value =
        serde_json::from_str(letters[2]["raw"].as_str().expect("raw")).expect("raw is json");
    assert_eq!(raw["units"], serde_json::json!(4_611_686_018_427_387_904_i64), "the input row");
}

#[test]
fn medians_percentiles_and_formatted_labels() {
    let out = tempfile::tempdir().expect("temp dir");
    let files = run_with("pipelines/examples/statistics.yaml", out.path(), &[]);
    let rows: Vec<&str> = files["per_shelf_csv.csv"].lines().collect();
    assert_eq!(
        rows,
        [
            "shelf_id,pickups,median_units,p90_units,typical_units,spread,label,spread_text,code,bar",
            "S1,3,4.0,4.8,4,1.247219128924647,\"S1    3 pickups, median   4.0, p90 4.80\",1.247,S1-0004,###",
            "S2,2,3.5,5.5,1,2.5,\"S2    2 pickups, median   3.5, p90 5.50\",2.500,S2-0001,##",
            "S3,1,3.0,3.0,3,0.0,\"S3    1 pickups, median   3.0, p90 3.00\",0.000,S3-0003,#",
            "S4,1,1.0,1.0,1,0.0,\"S4    1 pickups, median   1.0, p90 1.00\",0.000,S4-0001,#",
        ]
    );
}

#[test]
fn json_sinks_write_one_document_an_object_for_a_single_row() {
    let out = tempfile::tempdir().expect("temp dir");
    let files = run_with("pipelines/examples/json.yaml", out.path(), &[]);
    let totals: serde_json::Value = serde_json::from_str(&files["totals.json"]).expect("json");
    assert_eq!(totals, serde_json::json!({"events": 11, "customers": 5, "units": 27}));
    let shelves: serde_json::Value =
        serde_json::from_str(&files["per_shelf_json.json"]).expect("json");
    let ids: Vec<&str> = shelves
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| r["shelf_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["S1", "S2", "S3", "S4"], "sorted by key");
    assert_eq!(shelves[0]["last_seen"], "2026-01-01T08:04:00Z");
    assert!(!files.keys().any(|name| name.ends_with(".tmp")), "temporary files are renamed");
}

#[test]
fn a_join_on_no_columns_pairs_every_row_with_the_one_total_and_follows_it() {
    let out = tempfile::tempdir().expect("temp dir");
    let files = run_with("pipelines/examples/share.yaml", out.path(), &[]);
    let rows: Vec<&str> = files["shares_csv.csv"].lines().collect();
    assert_eq!(
        rows,
        [
            "shelf_id,units,all_units,share,percent",
            "S1,11,22,0.5,50.0%",
            "S2,7,22,0.318,31.8%",
            "S3,3,22,0.136,13.6%",
            "S4,1,22,0.045,4.5%",
        ]
    );
    // S3's first pickup changes the total: every shelf's share changes at that time.
    let at_s3: Vec<serde_json::Value> = files["share_changes.jsonl"]
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|c| c["time"] == "2026-01-01T08:01:10Z" && c["op"] == "upsert")
        .collect();
    let shelves: Vec<&str> = at_s3.iter().map(|c| c["key"]["shelf_id"].as_str().unwrap()).collect();
    assert_eq!(shelves, ["S1", "S2", "S3"]);
    assert!(at_s3.iter().all(|c| c["row"]["all_units"] == 6));
    let bad = shelfflow(out.path())
        .args([
            "validate",
            "pipelines/examples/share.yaml",
            "--set",
            "operators.with_total.right=per_shelf",
        ])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2), "a right side of many rows is a config error");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`on: []` joins every left row"));
}

#[test]
fn dead_letters_are_a_collection_that_operators_count() {
    let out = tempfile::tempdir().expect("temp dir");
    let files = run_with("pipelines/examples/quality.yaml", out.path(), &[]);
    // From scratch: a record is good when it parses and its quantity is an integer.
    let events = read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/examples/data/shelf_events.jsonl"),
    );
    let good = events
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["quantity"].is_i64())
        })
        .count();
    let bad = events.lines().count() - good;
    assert!(bad > 0, "the sample has bad records");
    let counts: serde_json::Value = serde_json::from_str(&files["counts.json"]).expect("json");
    assert_eq!(counts, serde_json::json!({"good": good, "bad": bad}));
    assert_eq!(files["dead_letter.jsonl"].lines().count(), bad, "the file holds the same records");
    let by_reason = &files["bad_by_reason.csv"];
    assert!(by_reason.contains("expected int, found string"), "{by_reason}");
    let totals: serde_json::Value = serde_json::from_str(&files["line_count.json"]).expect("json");
    let lines = events.lines().count();
    assert_eq!(totals, serde_json::json!({"records": good, "dead_letters": bad, "lines": lines}));
}

#[test]
fn retention_retracts_records_older_than_the_bound_and_keeps_the_last_stretch() {
    // From scratch: a record counts at the end when its time plus 2 minutes is after the
    // largest event time; the rest has been retracted.
    let events = read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/examples/data/shelf_events.jsonl"),
    );
    let parsed: Vec<(String, i64, i64)> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["quantity"].is_i64())
        .map(|v| {
            let at =
                DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap()).unwrap().timestamp();
            (v["shelf_id"].as_str().unwrap().to_owned(), at, v["quantity"].as_i64().unwrap())
        })
        .collect();
    let last = parsed.iter().map(|(_, at, _)| *at).max().expect("events");
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (shelf, at, quantity) in &parsed {
        if at + 120 > last {
            let entry = expected.entry(shelf.clone()).or_default();
            entry.0 += 1;
            entry.1 += quantity;
        }
    }
    let mut csv = String::from("shelf_id,events,units\n");
    for (shelf, (events, units)) in &expected {
        csv.push_str(&format!("{shelf},{events},{units}\n"));
    }
    let one = tempfile::tempdir().expect("temp dir");
    let files = run_with("pipelines/examples/retention.yaml", one.path(), &[]);
    assert_eq!(files["recent_csv.csv"], csv);
    assert!(
        files["recent_changes.jsonl"].contains("\"op\":\"delete\""),
        "expired groups are deleted"
    );
    // The same with two workers.
    let two = tempfile::tempdir().expect("temp dir");
    let mut cmd = shelfflow(two.path());
    cmd.args(["run", "pipelines/examples/retention.yaml", "--workers", "2", "--set"])
        .arg(format!("output_dir={}", two.path().display()));
    assert!(cmd.status().expect("runs").success());
    for name in ["recent_csv.csv", "recent_changes.jsonl"] {
        assert_eq!(read(two.path().join(name)), files[name], "{name} differs on two workers");
    }
}

#[test]
fn line_count_stands_alone_without_a_reader_of_the_dead_letters() {
    let out = tempfile::tempdir().expect("temp dir");
    let pipeline = out.path().join("line_count.yaml");
    let text = format!(
        "name: lc\nsources:\n  shelf_events:\n    connector: file\n    path: pipelines/examples/data/shelf_events.jsonl\n    schema: {{event_id: string, event_type: string, shelf_id: string, quantity: int, customer_id: string?, timestamp: timestamp}}\n    event_time: timestamp\nsinks:\n  totals:\n    input: shelf_events.line_count\n    connector: file\n    path: {}/totals.json\n    single: true\n",
        out.path().display()
    );
    std::fs::write(&pipeline, text).expect("pipeline");
    let done = shelfflow(out.path()).arg("run").arg(&pipeline).output().expect("runs");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let totals: serde_json::Value =
        serde_json::from_str(&read(out.path().join("totals.json"))).expect("json");
    assert_eq!(totals, serde_json::json!({"records": 11, "dead_letters": 1, "lines": 12}));
}

/// The decimal example's report, recomputed with Python's `decimal` module from the data file:
/// prices rounded half up to cents (a price with more than 6 whole digits, or not a number, is
/// left out), line totals rounded half up to cents, exact sums, averages to 6 decimals.
const DECIMAL_ORACLE: &str = r#"
import json, sys
from decimal import Decimal, ROUND_HALF_UP, ROUND_HALF_EVEN, InvalidOperation
cent, micro = Decimal("0.01"), Decimal("0.000001")
groups = {}
for line in open(sys.argv[1]):
    r = json.loads(line, parse_float=str, parse_int=str)
    try:
        price = Decimal(str(r["unit_price"])).quantize(cent, ROUND_HALF_UP)
    except InvalidOperation:
        continue
    if abs(price) >= Decimal(10) ** 6:
        continue
    discount = Decimal(str(r["discount"])).quantize(cent, ROUND_HALF_UP)
    total = (int(r["quantity"]) * price * (1 - discount)).quantize(cent, ROUND_HALF_UP)
    g = groups.setdefault(r["category"], [0, Decimal(0), Decimal(0), price])
    g[0] += 1; g[1] += total; g[2] += price; g[3] = max(g[3], price)
print("category,lines,revenue,avg_price,top_price,avg_price_cents")
for c in sorted(groups):
    n, revenue, prices, top = groups[c]
    avg = (prices / n).quantize(micro, ROUND_HALF_UP)
    print(f"{c},{n},{revenue},{avg},{top},{avg.quantize(cent, ROUND_HALF_EVEN)}")
"#;

#[test]
fn decimals_are_exact_in_every_output_and_match_a_python_decimal_recomputation() {
    let out = tempfile::tempdir().expect("temp dir");
    let parquet = out.path().join("parquet/report.parquet");
    let parquet_path = format!("sinks.report_parquet.path={}", parquet.display());
    let files = run_with("pipelines/examples/decimal.yaml", out.path(), &[&parquet_path]);
    let python = Command::new("python3")
        .args(["-c", DECIMAL_ORACLE, "pipelines/examples/data/sale_lines.jsonl"])
        .output();
    let Ok(python) = python else {
        println!("skipped: python3 is not available for the decimal recomputation");
        return;
    };
    assert!(python.status.success(), "{}", String::from_utf8_lossy(&python.stderr));
    let expected = String::from_utf8(python.stdout).expect("utf-8");
    // The CSV without its label column (text made by format()).
    let csv: Vec<String> = files["report_csv.csv"]
        .lines()
        .map(|l| l.rsplit_once(',').expect("a label").0.to_owned())
        .collect();
    assert_eq!(csv, expected.lines().collect::<Vec<_>>());
    assert!(
        files["report_csv.csv"].contains("BAKERY    49.08 EUR"),
        "format('%8.2f') of a decimal"
    );

    // JSON writes the same digits as numbers: a changelog line and the document.
    let last = files["report_changes.jsonl"].lines().last().expect("changes").to_owned();
    assert!(last.contains(r#""revenue":49.08,"avg_price":5.350000,"top_price":10.00"#), "{last}");
    assert!(files["report_json.json"].contains(r#""top_price": 10.00,"#));
    let document: serde_json::Value = serde_json::from_str(&files["report_json.json"]).unwrap();
    assert_eq!(document.as_array().map(Vec::len), Some(3));

    // Rows that do not fit, or are not numbers, are dead letters with the reason.
    let dead = &files["dead_letter.jsonl"];
    assert!(dead.contains(r#"expected decimal(8,2), found number 1234567.891"#), "{dead}");
    assert!(dead.contains(r#"expected decimal(8,2), found string \"two\""#), "{dead}");

    // The Parquet file holds decimal columns: read back through a Parquet source, they give
    // the same text.
    let reread = out.path().join("reread.yaml");
    std::fs::write(
        &reread,
        format!(
            "name: reread\noutput_dir: {}\ntables:\n  report:\n    connector: file\n    path: {}\n    \
             schema: {{category: string, lines: int, revenue: \"decimal(28,2)\", avg_price: \"decimal(14,6)\", top_price: \"decimal(8,2)\"}}\n    \
             key: [category]\nsinks:\n  again:\n    input: report\n    connector: file\n    format: csv\n",
            out.path().join("again").display(),
            parquet.display()
        ),
    )
    .unwrap();
    let status = shelfflow(out.path()).args(["run"]).arg(&reread).status().unwrap();
    assert!(status.success());
    let again = read(out.path().join("again/again.csv"));
    let wanted: Vec<String> =
        csv.iter().map(|l| l.rsplit_once(',').expect("cents").0.to_owned()).collect();
    assert_eq!(again.lines().collect::<Vec<_>>(), wanted);
}
