//! The store domain end to end: reference data, then `shelfflow demo` (the closed-loop simulated
//! store and every store pipeline) over 28 simulated days of one store and 7 days of a chain of
//! three, checked against business invariants recomputed from the outputs per store and shelf
//! (never against snapshots of numbers), plus determinism.

mod support {
    pub mod binary;
}

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use serde_json::Value;

const SEED: &str = "42";

fn shelfflow() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shelfflow"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).arg("--quiet");
    cmd
}

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("store");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The reference data of a chain of `stores` into `dir`.
fn generate(stores: usize, dir: &Path) {
    let status = shelfflow()
        .args(["data", "generate", "--seed", SEED, "--stores", &stores.to_string(), "--out"])
        .arg(dir)
        .status()
        .expect("shelfflow runs");
    assert!(status.success(), "data generate failed");
}

/// Reference data of one store, generated once for every test of this file.
fn data_dir() -> &'static Path {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = scratch().join("data");
        generate(1, &dir);
        dir
    })
}

/// Reference data of a chain of three stores, generated once.
fn chain_data_dir() -> &'static Path {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = scratch().join("chain-data");
        generate(3, &dir);
        dir
    })
}

fn demo(days: u32, workers: usize, out: &Path) -> Value {
    demo_of(data_dir(), days, workers, out)
}

fn demo_of(data: &Path, days: u32, workers: usize, out: &Path) -> Value {
    let _ = std::fs::remove_dir_all(out);
    let summary = out.with_extension("summary.json");
    let status = shelfflow()
        .args(["demo", "--no-db", "--days", &days.to_string(), "--seed", SEED, "--workers"])
        .arg(workers.to_string())
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .arg("--summary-json")
        .arg(&summary)
        .status()
        .expect("shelfflow runs");
    assert!(status.success(), "demo failed");
    serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json")
}

/// A demo run the invariant tests check: its outputs, summary and reference data.
struct Run {
    out: PathBuf,
    summary: Value,
    data: &'static Path,
}

/// The 28-day run of one store shared by the invariant tests.
fn month() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let out = scratch().join("month");
        let summary = demo(28, 1, &out);
        Run { out, summary, data: data_dir() }
    })
}

/// The 7-day run of a chain of three stores on two workers (stores partitioned over them).
fn chain() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let out = scratch().join("chain");
        let summary = demo_of(chain_data_dir(), 7, 2, &out);
        Run { out, summary, data: chain_data_dir() }
    })
}

/// Both runs: every invariant holds for every store and shelf of each.
fn runs() -> [&'static Run; 2] {
    [month(), chain()]
}

/// A shelf of a store: `store/shelf` of a JSON row.
fn shelf_of(row: &Value) -> String {
    format!("{}/{}", int(&row["store_id"]), text(&row["shelf_id"]))
}

/// A shelf of a store: `store/shelf` of a CSV row.
fn csv_shelf(row: &HashMap<String, String>) -> String {
    format!("{}/{}", row["store_id"], row["shelf_id"])
}

/// One change of a JSONL changelog.
struct Change {
    upsert: bool,
    key: String,
    row: Value,
    time: i64,
}

fn micros(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text).expect("RFC 3339").timestamp_micros()
}

fn changelog(path: &Path) -> Vec<Change> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("JSON line");
            Change {
                upsert: v["op"] == "upsert",
                key: v["key"].to_string(),
                row: v["row"].clone(),
                time: micros(v["time"].as_str().expect("time")),
            }
        })
        .collect()
}

/// The state after each time: `(time, key → row)` snapshots are too big, so this calls `check`
/// with the rows changed at each time and the whole current state.
fn replay(changes: &[Change], mut check: impl FnMut(i64, &[&Change], &HashMap<String, Value>)) {
    let mut state: HashMap<String, Value> = HashMap::new();
    let mut i = 0;
    while i < changes.len() {
        let time = changes[i].time;
        let mut j = i;
        while j < changes.len() && changes[j].time == time {
            let c = &changes[j];
            if c.upsert {
                state.insert(c.key.clone(), c.row.clone());
            } else {
                state.remove(&c.key);
            }
            j += 1;
        }
        let at: Vec<&Change> = changes[i..j].iter().collect();
        check(time, &at, &state);
        i = j;
    }
}

/// `column → value` rows of a CSV snapshot written by a file sink.
fn csv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> =
        lines.next().unwrap_or_default().split(',').map(str::to_owned).collect();
    lines
        .map(|line| header.iter().cloned().zip(line.split(',').map(str::to_owned)).collect())
        .collect()
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("expected an integer, found {v}"))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("expected a string, found {v}"))
}

#[test]
fn generated_reference_data_has_the_domain_sizes() {
    let data = data_dir();
    let chain = shelfflow_connectors::simulator::parquet::read_chain(data).expect("reads back");
    assert_eq!(chain.len(), 1, "one store by default");
    let reference = &chain[0].reference;
    assert_eq!(reference.shelves.len(), 1142);
    let categories: HashSet<&str> =
        reference.shelves.iter().map(|s| s.item_category.as_str()).collect();
    assert_eq!(categories.len(), 29);
    assert_eq!(reference.weekly_discounts.len(), 9360);
    // ~1,830 store and ~2,250 warehouse batches in the old system's generator.
    assert!((1700..2000).contains(&reference.store_batches.len()));
    assert!((2100..2400).contains(&reference.warehouse_batches.len()));
    for shelf in &reference.shelves {
        let store: i64 = reference
            .store_batches
            .iter()
            .filter(|b| b.shelf_id == shelf.shelf_id)
            .map(|b| b.quantity)
            .sum();
        assert_eq!(store, shelf.store_stock, "{}: store batches sum to stock", shelf.shelf_id);
        assert_eq!(shelf.warehouse_capacity % shelf.standard_batch_size, 0);
    }
    // Batch dates follow the simulation start, not the wall clock.
    assert!(reference
        .store_batches
        .iter()
        .all(|b| b.received_date <= reference.start_date && b.expiry_date > reference.start_date));
    // The history panel: counted by a pipeline, through the engine.
    let out = scratch().join("history_count");
    let pipeline = out.join("count.yaml");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        &pipeline,
        format!(
            "tables:\n  history:\n    connector: file\n    path: {}\n    schema: {{shelf_id: string, \
             feature_date: date, sales_qty: int}}\n    key: [shelf_id, feature_date]\noperators:\n  \
             rows:\n    op: aggregate\n    input: history\n    aggregates:\n      rows: count(*)\n      \
             shelves: count(DISTINCT shelf_id)\n      days: count(DISTINCT feature_date)\nsinks:\n  \
             rows:\n    input: rows\n    connector: file\n    path: {}\n",
            data.join("history.parquet").display(),
            out.join("rows.csv").display()
        ),
    )
    .unwrap();
    let status = shelfflow().arg("run").arg(&pipeline).status().expect("runs");
    assert!(status.success());
    let rows = csv(&out.join("rows.csv"));
    assert_eq!(rows[0]["rows"], "416830");
    assert_eq!(rows[0]["shelves"], "1142");
    assert_eq!(rows[0]["days"], "365");
}

#[test]
fn stock_stays_within_zero_and_capacity_and_batches_sum_to_stock() {
    for run in runs() {
        stock_within_capacity_and_batches_sum_to_stock(&run.out);
    }
}

fn stock_within_capacity_and_batches_sum_to_stock(out: &Path) {
    let shelf_state = changelog(&out.join("store_ops/shelf_state.jsonl"));
    let batches = changelog(&out.join("store_ops/shelf_batch_state.jsonl"));
    assert!(shelf_state.len() > 10_000, "a month of stock changes");
    for c in shelf_state.iter().filter(|c| c.upsert) {
        let stock = int(&c.row["current_stock"]);
        let capacity = int(&c.row["maximum_stock"]);
        assert!((0..=capacity).contains(&stock), "shelf stock {stock} outside 0..={capacity}");
    }
    for c in changelog(&out.join("warehouse/wh_state.jsonl")).iter().filter(|c| c.upsert) {
        let stock = int(&c.row["wh_current_stock"]);
        let capacity = int(&c.row["maximum_stock"]);
        assert!((0..=capacity).contains(&stock), "warehouse stock {stock} outside 0..={capacity}");
    }
    // At every timestamp, each shelf's batch quantities sum to its stock.
    let mut stock_at: BTreeMap<i64, HashMap<String, i64>> = BTreeMap::new();
    replay(&shelf_state, |time, changed, _| {
        let entry = stock_at.entry(time).or_default();
        for c in changed.iter().filter(|c| c.upsert) {
            entry.insert(shelf_of(&c.row), int(&c.row["current_stock"]));
        }
    });
    let mut stock: HashMap<String, i64> = HashMap::new();
    let mut sums: HashMap<String, i64> = HashMap::new();
    let mut batch_qty: HashMap<String, i64> = HashMap::new();
    let mut times = stock_at.keys().copied().collect::<Vec<_>>();
    times.extend(batches.iter().map(|c| c.time));
    times.sort_unstable();
    times.dedup();
    let mut b = 0;
    let mut checked = 0;
    for time in times {
        let mut touched = HashSet::new();
        while b < batches.len() && batches[b].time == time {
            let c = &batches[b];
            let shelf = shelf_of(&c.row);
            // An upsert replaces the batch's previous quantity; a delete removes it.
            let previous = batch_qty.remove(&c.key).unwrap_or(0);
            let q = if c.upsert { int(&c.row["quantity"]) } else { 0 };
            if c.upsert {
                batch_qty.insert(c.key.clone(), q);
            }
            *sums.entry(shelf.clone()).or_default() += q - previous;
            touched.insert(shelf);
            b += 1;
        }
        if let Some(changed) = stock_at.get(&time) {
            for (shelf, s) in changed {
                stock.insert(shelf.clone(), *s);
                touched.insert(shelf.clone());
            }
        }
        for shelf in touched {
            let s = stock.get(&shelf).copied().unwrap_or(0);
            assert_eq!(sums.get(&shelf).copied().unwrap_or(0), s, "{shelf} at {time}");
            checked += 1;
        }
    }
    assert!(checked > 10_000);
}

/// The state a changelog ends in: `key → row`.
fn final_state(changes: &[Change]) -> HashMap<String, Value> {
    let mut state = HashMap::new();
    for c in changes {
        if c.upsert {
            state.insert(c.key.clone(), c.row.clone());
        } else {
            state.remove(&c.key);
        }
    }
    state
}

#[test]
fn every_unit_is_accounted_for() {
    for run in runs() {
        every_unit_of_every_store_is_accounted_for(run);
    }
}

fn every_unit_of_every_store_is_accounted_for(run: &Run) {
    let (out, summary) = (&run.out, &run.summary);
    let chain = shelfflow_connectors::simulator::parquet::read_chain(run.data).expect("reference");
    let mut balance: HashMap<String, i64> = HashMap::new();
    for store in &chain {
        for s in &store.reference.shelves {
            let key = format!("{}/{}", store.profile.store_id, s.shelf_id);
            balance.insert(key, s.store_stock + s.warehouse_stock);
        }
    }
    let moved = |path: &str| {
        let mut units: HashMap<(String, String), i64> = HashMap::new();
        for row in csv(&out.join(path)) {
            units.insert(
                (csv_shelf(&row), row["event_type"].clone()),
                row["units"].parse().unwrap(),
            );
        }
        units
    };
    let shelf = moved("store_ops/shelf_movements.csv");
    let wh = moved("warehouse/wh_movements.csv");
    let units = |m: &HashMap<(String, String), i64>, id: &str, kind: &str| {
        m.get(&(id.to_owned(), kind.to_owned())).copied().unwrap_or(0)
    };
    let sold: HashMap<String, i64> = csv(&out.join("sales/product_totals.csv"))
        .into_iter()
        .map(|r| (csv_shelf(&r), r["units"].parse().unwrap()))
        .collect();
    let store_final = final_state(&changelog(&out.join("store_ops/shelf_state.jsonl")));
    let wh_final = final_state(&changelog(&out.join("warehouse/wh_state.jsonl")));
    let final_of = |state: &HashMap<String, Value>, column: &str| -> HashMap<String, i64> {
        state.values().map(|r| (shelf_of(r), int(&r[column]))).collect()
    };
    let store_final = final_of(&store_final, "current_stock");
    let wh_final = final_of(&wh_final, "wh_current_stock");
    let (mut delivered, mut removed, mut total_sold) = (0, 0, 0);
    for (id, initial) in balance.iter_mut() {
        let picked = units(&shelf, id, "pickup") - units(&shelf, id, "putback");
        let sold = sold.get(id).copied().unwrap_or(0);
        // Every customer has left by the end: what was picked and not put back was paid for.
        assert_eq!(picked, sold, "{id}: units picked vs paid");
        let in_transit = units(&wh, id, "wh_out") - units(&shelf, id, "refill");
        assert!(in_transit >= 0);
        let removals = units(&shelf, id, "removal") + units(&wh, id, "wh_removal");
        let expected = *initial + units(&wh, id, "wh_in") - sold - removals;
        let actual = store_final.get(id).copied().unwrap_or(0)
            + wh_final.get(id).copied().unwrap_or(0)
            + in_transit;
        assert_eq!(actual, expected, "{id}: initial + delivered - sold - removed");
        delivered += units(&wh, id, "wh_in");
        removed += removals;
        total_sold += sold;
    }
    // The loop really ran: plans, orders, deliveries, discounts and removals all happened, in
    // every store.
    let kpis = &summary["kpis"];
    assert!(delivered > 0 && removed > 0 && total_sold > 0);
    for store in &chain {
        let figures = &summary["store_kpis"][store.profile.store_id.to_string()];
        for kpi in ["restock_plans.delivered", "supplier_orders.delivered", "units.sold"] {
            let value = figures[kpi].as_f64().unwrap_or(0.0);
            assert!(value > 50.0, "store {}: {kpi} = {value}", store.profile.store_id);
        }
    }
    assert!(kpis["restock_plans.delivered"].as_f64().unwrap() > 100.0);
    assert!(kpis["supplier_orders.delivered"].as_f64().unwrap() > 100.0);
    assert!(kpis["alerts.near_expiry_discount.opened"].as_f64().unwrap() > 0.0);
    assert!(kpis["units.sold.discounted"].as_f64().unwrap() > 0.0);
    assert!(kpis["units.expired.store"].as_f64().unwrap() > 0.0);
}

#[test]
fn alerts_resolve_when_their_condition_clears() {
    for run in runs() {
        refill_alerts_follow_the_stock(&run.out);
    }
}

fn refill_alerts_follow_the_stock(out: &Path) {
    let shelf_state = changelog(&out.join("store_ops/shelf_state.jsonl"));
    // Stock level per shelf over time.
    let mut history: HashMap<String, Vec<(i64, i64, i64)>> = HashMap::new();
    for c in shelf_state.iter().filter(|c| c.upsert) {
        history.entry(shelf_of(&c.row)).or_default().push((
            c.time,
            int(&c.row["current_stock"]),
            int(&c.row["maximum_stock"]),
        ));
    }
    let level_at = |shelf: &str, time: i64| {
        let levels = &history[shelf];
        let i = levels.partition_point(|(t, _, _)| *t <= time);
        levels[i - 1]
    };
    let low = |stock: i64, capacity: i64| stock * 100 < 30 * capacity || stock < 1;
    let alerts = final_state(&changelog(&out.join("store_ops/store_alerts.jsonl")));
    let end = shelf_state.last().unwrap().time;
    let mut resolved = 0;
    for row in alerts.values().filter(|r| r["alert"] == "refill_request") {
        let shelf = &shelf_of(row);
        let opened = micros(text(&row["opened_at"]));
        let (_, stock, capacity) = level_at(shelf, opened);
        assert!(low(stock, capacity), "{shelf}: opened while low");
        match row["resolved_at"].as_str() {
            Some(at) => {
                let (_, stock, capacity) = level_at(shelf, micros(at));
                assert!(!low(stock, capacity), "{shelf}: resolved once restocked");
                resolved += 1;
            }
            None => {
                let (_, stock, capacity) = level_at(shelf, end);
                assert!(low(stock, capacity), "{shelf}: still open only while still low");
            }
        }
    }
    assert!(resolved > 100);
}

#[test]
fn at_most_one_open_restock_plan_per_shelf() {
    for run in runs() {
        at_most_one_open_plan_per_store_and_shelf(&run.out);
    }
}

fn at_most_one_open_plan_per_store_and_shelf(out: &Path) {
    let plans = changelog(&out.join("store_ops/restock_plans.jsonl"));
    assert!(!plans.is_empty());
    // Open plans per shelf, kept up to date change by change and checked after each time.
    let mut rows: HashMap<&str, &Value> = HashMap::new();
    let mut open: HashMap<String, i64> = HashMap::new();
    for (i, c) in plans.iter().enumerate() {
        let is_open = |row: &Value| row["status"] != "delivered";
        if let Some(old) = rows.remove(c.key.as_str()) {
            if is_open(old) {
                *open.entry(shelf_of(old)).or_default() -= 1;
            }
        }
        if c.upsert {
            if is_open(&c.row) {
                *open.entry(shelf_of(&c.row)).or_default() += 1;
            }
            rows.insert(c.key.as_str(), &c.row);
        }
        let end_of_time = plans.get(i + 1).is_none_or(|next| next.time != c.time);
        if end_of_time {
            if let Some((shelf, n)) = open.iter().find(|(_, n)| **n > 1) {
                panic!("{shelf} has {n} open plans at {}", c.time);
            }
        }
    }
}

#[test]
fn orders_at_cutoffs_and_deliveries_at_delivery_slots_in_whole_batches() {
    for run in runs() {
        orders_follow_the_supplier_schedule(&run.out);
    }
}

fn orders_follow_the_supplier_schedule(out: &Path) {
    let orders = final_state(&changelog(&out.join("warehouse/supplier_orders.jsonl")));
    assert!(orders.len() > 100);
    let at = |v: &Value| DateTime::<Utc>::from_timestamp_micros(micros(text(v))).unwrap();
    for row in orders.values() {
        let cutoff = at(&row["cutoff_at"]);
        assert!(matches!(cutoff.weekday(), Weekday::Sun | Weekday::Tue | Weekday::Thu));
        assert_eq!((cutoff.hour(), cutoff.minute()), (12, 0));
        let delivery = at(&row["delivery_at"]);
        assert!(matches!(delivery.weekday(), Weekday::Mon | Weekday::Wed | Weekday::Fri));
        assert_eq!((delivery.hour(), delivery.minute()), (8, 0));
        assert_eq!(int(&row["quantity"]) % int(&row["batch_size"]), 0, "whole batches");
        assert!(int(&row["quantity"]) > 0);
    }
    let receipts = changelog(&out.join("warehouse/supplier_receipts.jsonl"));
    assert!(!receipts.is_empty());
    for c in receipts.iter().filter(|c| c.upsert) {
        let t = at(&c.row["timestamp"]);
        assert!(matches!(t.weekday(), Weekday::Mon | Weekday::Wed | Weekday::Fri));
        assert_eq!((t.hour(), t.minute()), (8, 0));
        let order = orders
            .values()
            .find(|o| o["order_id"] == c.row["order_id"])
            .expect("a receipt for a known order");
        assert_eq!(c.row["quantity"], order["quantity"]);
    }
    // One order per shelf per cutoff.
    let mut seen = HashSet::new();
    for row in orders.values() {
        assert!(seen.insert((shelf_of(row), text(&row["cutoff_at"]).to_owned())));
    }
}

#[test]
fn same_seed_gives_byte_identical_outputs_with_any_worker_count() {
    let a = scratch().join("det_a");
    let b = scratch().join("det_b");
    demo(3, 1, &a);
    demo(3, 2, &b);
    let (a, b) = (support::binary::files_under(&a), support::binary::files_under(&b));
    assert!(a.len() > 20, "every pipeline wrote its outputs");
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs between 1 and 2 workers");
    }
}
