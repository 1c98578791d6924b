//! The PostgreSQL sink against a real server: tables equal the file outputs, exactly once after
//! `kill -9` at random moments, and no loss or duplicate across a 30 s database outage.

mod support {
    pub mod binary;
    pub mod events;
    pub mod postgres;
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::binary::shelfflow;
use support::postgres::{self as pg, psql, rows};
use support::{binary, events};

/// A deterministic stream of shelf events, as a JSONL file.
fn write_events(path: &Path, count: usize) {
    std::fs::write(path, events::jsonl(&events::shelf_events(count))).expect("write events");
}

fn scratch(name: &str) -> PathBuf {
    binary::scratch("postgres", name)
}

/// A pipeline with upsert tables (keyed, nullable key, windowed) and append histories.
fn write_pipeline(dir: &Path, events: &Path) -> PathBuf {
    let yaml = format!(
        r#"name: pg_sink_test
output_dir: {out}
sources:
  events:
    connector: file
    path: {events}
    schema: {{event_id: string, event_type: string, shelf_id: string, quantity: int, customer_id: string?, timestamp: timestamp}}
    event_time: timestamp
operators:
  stock:
    description: Net units and events per shelf.
    op: aggregate
    input: events
    group_by: [shelf_id]
    aggregates:
      net: "sum(CASE WHEN event_type = 'pickup' THEN -quantity ELSE quantity END)"
      events: count(*)
  negative:
    op: alert
    input: stock
    key: [shelf_id]
    when: net < 0
    clear_when: net >= 10
  per_minute:
    op: window
    input: events
    size: 1m
    aggregates:
      units: sum(quantity)
      events: count(*)
  by_customer:
    op: aggregate
    input: events
    group_by: [customer_id]
    aggregates:
      events: count(*)
sinks:
  stock_file:
    input: stock
    connector: file
  stock_db:
    input: stock
    connector: postgres
    schema: state
    table: stock
    comments: {{net: Units in minus units out.}}
  stock_changes_db:
    input: stock
    connector: postgres
    schema: ops
    table: stock_changes
    mode: append
  negative_history_db:
    input: negative.history
    connector: postgres
    schema: ops
    table: negative_history
    mode: append
  per_minute_db:
    input: per_minute
    connector: postgres
    schema: analytics
    table: per_minute
  by_customer_db:
    input: by_customer
    connector: postgres
    schema: analytics
    table: by_customer
"#,
        out = dir.join("out").display(),
        events = events.display()
    );
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, yaml).expect("write pipeline");
    path
}

const TABLES: [&str; 5] = [
    "state.stock",
    "ops.stock_changes",
    "ops.negative_history",
    "analytics.per_minute",
    "analytics.by_customer",
];

fn run(pipeline: &Path, url: &str) -> std::process::Output {
    let out = shelfflow()
        .args(["--quiet", "run"])
        .arg(pipeline)
        .env("DATABASE_URL", url)
        .output()
        .expect("shelfflow runs");
    assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Every table's rows, by table.
fn snapshot(url: &str) -> BTreeMap<&'static str, Vec<String>> {
    TABLES.iter().map(|t| (*t, rows(url, t))).collect()
}

#[test]
fn tables_hold_what_the_file_changelog_says_and_a_rerun_adds_nothing() {
    let Some(server) = pg::shared() else { return };
    let dir = scratch("equal");
    write_events(&dir.join("events.jsonl"), 20_000);
    let pipeline = write_pipeline(&dir, &dir.join("events.jsonl"));
    let url = server.database("pg_equal");
    run(&pipeline, &url);

    // The changelog file, replayed: the final state and every change.
    let changelog = std::fs::read_to_string(dir.join("out/stock_file.jsonl")).unwrap();
    let mut state: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut changes: Vec<(String, i64, i64, String)> = Vec::new();
    let mut last_time = String::new();
    for line in changelog.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let row = &v["row"];
        let shelf = row["shelf_id"].as_str().unwrap().to_owned();
        let (net, events) = (row["net"].as_i64().unwrap(), row["events"].as_i64().unwrap());
        let op = v["op"].as_str().unwrap().to_owned();
        if op == "upsert" {
            state.insert(shelf.clone(), (net, events));
        } else {
            state.remove(&shelf);
        }
        changes.push((shelf, net, events, op));
        last_time = v["time"].as_str().unwrap().to_owned();
    }
    assert!(state.len() == 200 && changes.len() > 10_000, "a real workload");

    let table: BTreeMap<String, (i64, i64)> =
        psql(&url, "SELECT shelf_id, net, events FROM state.stock")
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                (f[0].to_owned(), (f[1].parse().unwrap(), f[2].parse().unwrap()))
            })
            .collect();
    assert_eq!(table, state, "upsert table = final state of the changelog");

    let mut appended: Vec<(String, i64, i64, String)> =
        psql(&url, "SELECT shelf_id, net, events, change_op FROM ops.stock_changes")
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                (f[0].to_owned(), f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].to_owned())
            })
            .collect();
    appended.sort();
    changes.sort();
    assert_eq!(appended, changes, "append table = every change of the changelog");

    // The schema came from the pipeline: key, comments, progress in the same database.
    assert_eq!(
        psql(&url, "SELECT obj_description('state.stock'::regclass)"),
        "Net units and events per shelf."
    );
    assert_eq!(
        psql(&url, "SELECT col_description('state.stock'::regclass, 2)"),
        "Units in minus units out."
    );
    assert_eq!(
        psql(&url, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'state.stock'::regclass AND contype = 'p'"),
        "PRIMARY KEY (shelf_id)"
    );
    let frontier = psql(
        &url,
        "SELECT to_char(frontier_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM shelfflow_progress WHERE sink = 'stock_db'",
    );
    assert_eq!(
        frontier,
        last_time.split('.').next().unwrap().trim_end_matches('Z').to_owned() + "Z"
    );
    // customer_id is NULL for refills: a NULL key is one row.
    assert_eq!(
        psql(&url, "SELECT count(*) FROM analytics.by_customer WHERE customer_id IS NULL"),
        "1"
    );

    // Running again changes nothing: every time is already committed.
    let before = snapshot(&url);
    run(&pipeline, &url);
    assert_eq!(snapshot(&url), before, "a rerun writes nothing twice");
}

#[test]
fn kill_9_at_random_moments_then_restart_equals_an_uninterrupted_run() {
    let Some(server) = pg::shared() else { return };
    let dir = scratch("kill");
    write_events(&dir.join("events.jsonl"), 600_000);
    let pipeline = write_pipeline(&dir, &dir.join("events.jsonl"));

    let reference = server.database("pg_kill_reference");
    let started = Instant::now();
    run(&pipeline, &reference);
    let duration = started.elapsed();
    let expected = snapshot(&reference);
    let complete = pg::committed(&reference);

    let url = server.database("pg_kill");
    let command = || {
        let mut cmd = shelfflow();
        cmd.args(["--quiet", "run"]).arg(&pipeline);
        cmd
    };
    let partial = pg::kill_at_seeded_moments(command, &url, duration, 6, &complete);
    run(&pipeline, &url);
    assert!(partial >= 1, "no kill landed in the middle of a run: the test proved nothing");
    let actual = snapshot(&url);
    for table in TABLES {
        pg::assert_same_rows(&expected[table], &actual[table], &format!("after kills: {table}"));
    }
}

/// Shelf events from the simulated store, slowed down so a database outage happens mid-run.
fn write_simulated_pipeline(dir: &Path, data: &Path, speed: &str) -> PathBuf {
    let yaml = format!(
        r#"name: pg_outage_test
tick: 1m
output_dir: {out}
sources:
  shelf_events:
    connector: simulator
    stream: shelf_events
    data: {data}
    seed: 7
    start: 2026-01-01
    days: 1
    speed: {speed}
    schema:
      event_id: string
      event_type: string
      shelf_id: string
      customer_id: string?
      batch_code: string?
      expiry_date: date?
      quantity: int
      delta_weight: float
      plan_id: string?
      timestamp: timestamp
    event_time: timestamp
operators:
  stock:
    op: aggregate
    input: shelf_events
    group_by: [shelf_id]
    aggregates:
      moved: "sum(CASE WHEN event_type IN ('pickup', 'removal') THEN -quantity ELSE quantity END)"
      events: count(*)
  per_minute:
    op: window
    input: shelf_events
    size: 1m
    group_by: [event_type]
    aggregates:
      events: count(*)
sinks:
  stock_db:
    input: stock
    connector: postgres
    schema: state
    buffer: 16
    max_backoff: 2s
  per_minute_db:
    input: per_minute
    connector: postgres
    schema: ops
    mode: append
    buffer: 16
    max_backoff: 2s
"#,
        out = dir.join("out").display(),
        data = data.display(),
    );
    let path = dir.join(format!("pipeline-{speed}.yaml"));
    std::fs::write(&path, yaml).expect("write pipeline");
    path
}

#[test]
fn a_30_second_outage_loses_and_duplicates_nothing() {
    let Some(shared) = pg::shared() else { return };
    let Some(own) = pg::start("pg-outage") else { return };
    let dir = scratch("outage");
    let data = dir.join("data");
    let status = shelfflow()
        .args(["--quiet", "data", "generate", "--seed", "7", "--out"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(status.success());

    let reference = shared.database("pg_outage_reference");
    run(&write_simulated_pipeline(&dir, &data, "max"), &reference);
    let tables = ["state.stock_db", "ops.per_minute_db"];
    let expected: Vec<Vec<String>> = tables.iter().map(|t| rows(&reference, t)).collect();
    assert!(expected[1].len() > 1000);

    let url = own.database("pg_outage");
    let pipeline = write_simulated_pipeline(&dir, &data, "2400x");
    let child = shelfflow()
        .arg("run")
        .arg(&pipeline)
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shelfflow starts");
    // Wait for the first commits, then take the database away for 30 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    while psql(&url, "SELECT count(*) FROM pg_tables WHERE tablename = 'shelfflow_progress'") != "1"
        || psql(&url, "SELECT count(*) FROM shelfflow_progress") != "2"
    {
        assert!(Instant::now() < deadline, "no commit within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let before = psql(&url, "SELECT max(frontier_at) FROM shelfflow_progress");
    own.pause();
    std::thread::sleep(Duration::from_secs(30));
    own.resume();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run failed: {log}");
    assert!(log.contains("retrying"), "the sink never saw the outage:\n{log}");
    let after = psql(&url, "SELECT min(frontier_at) FROM shelfflow_progress");
    println!("outage from {before} (simulated), finished at {after}");
    for (table, expected) in tables.iter().zip(&expected) {
        let actual = rows(&url, table);
        assert_eq!(actual.len(), expected.len(), "{table}: row count");
        assert!(&actual == expected, "{table}: rows differ from the run without outage");
    }
}

#[test]
fn the_demo_writes_every_store_table_and_the_bi_views() {
    let Some(server) = pg::shared() else { return };
    let dir = scratch("demo");
    let url = server.database("pg_demo");
    let out = shelfflow()
        .args(["--quiet", "demo", "--days", "2", "--data"])
        .arg(dir.join("data"))
        .arg("--out")
        .arg(dir.join("out"))
        .env("DATABASE_URL", &url)
        .output()
        .expect("shelfflow runs");
    assert!(out.status.success(), "demo failed: {}", String::from_utf8_lossy(&out.stderr));
    let count = |sql: &str| -> i64 { psql(&url, sql).parse().unwrap() };
    for schema in ["ref", "config", "state", "ops", "analytics"] {
        let tables =
            count(&format!("SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}'"));
        assert!(tables > 0, "no tables in schema {schema}");
    }
    // The shelf table agrees with the shelf-state changelog the same run wrote.
    let stock = changelog_stock(&dir.join("out/store_ops/shelf_state.jsonl"));
    assert_eq!(table_stock(&url), stock);
    for view in
        ["v_shelf_status", "v_open_alerts", "v_supplier_orders", "v_daily_kpis", "v_data_freshness"]
    {
        assert!(count(&format!("SELECT count(*) FROM analytics.{view}")) > 0, "{view} is empty");
    }
    assert_eq!(
        count("SELECT count(*) FROM analytics.v_shelf_status"),
        stock.len() as i64,
        "one row per shelf"
    );
    // Money is NUMERIC, and holds exactly the digits the CSV of the same run holds.
    let ty = psql(
        &url,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = 'analytics.product_sales'::regclass AND attname = 'revenue'",
    );
    assert_eq!(ty, "numeric(28,2)");
    let csv = std::fs::read_to_string(dir.join("out/sales/product_totals.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (shelf, revenue) = (column("shelf_id"), column("revenue"));
    let mut from_csv: Vec<String> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            format!("{}|{}", cells[shelf], cells[revenue])
        })
        .collect();
    from_csv.sort();
    let from_table = psql(
        &url,
        "SELECT shelf_id || '|' || revenue::text FROM analytics.product_sales ORDER BY 1",
    );
    assert!(!from_csv.is_empty());
    assert_eq!(from_table.lines().collect::<Vec<_>>(), from_csv);
}

#[test]
fn a_chain_of_stores_is_compared_per_store_and_day_in_the_bi_views() {
    let Some(server) = pg::shared() else { return };
    let dir = scratch("chain");
    let url = server.database("pg_chain");
    let summary = dir.join("summary.json");
    let out = shelfflow()
        .args(["--quiet", "demo", "--stores", "2", "--days", "2", "--data"])
        .arg(dir.join("data"))
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--summary-json")
        .arg(&summary)
        .env("DATABASE_URL", &url)
        .output()
        .expect("shelfflow runs");
    assert!(out.status.success(), "demo failed: {}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(
        psql(&url, "SELECT string_agg(store_id::text, ',' ORDER BY store_id) FROM ref.stores"),
        "1,2"
    );
    // One row per store and day, whose sums are the store's figures of the demo's summary (the
    // KPIs are computed by other operators than the per-day tables the view reads).
    let days = psql(
        &url,
        "SELECT store_id, count(*), count(DISTINCT day) FROM analytics.v_store_comparison \
         GROUP BY 1 ORDER BY 1",
    );
    for line in days.lines() {
        let cells: Vec<&str> = line.split('|').collect();
        assert_eq!(cells[1], cells[2], "one row per store and day: {line}");
        assert!(cells[1].parse::<i64>().unwrap() >= 2, "{line}");
    }
    for store in ["1", "2"] {
        let kpis = &summary["store_kpis"][store];
        let view = psql(
            &url,
            &format!(
                "SELECT sum(revenue_eur), sum(units_sold), sum(stockout_minutes) \
                 FROM analytics.v_store_comparison WHERE store_id = {store}"
            ),
        );
        let cells: Vec<f64> = view.split('|').map(|c| c.parse().unwrap()).collect();
        assert_eq!(cells[0], kpis["revenue"].as_f64().unwrap(), "store {store} revenue");
        assert_eq!(cells[1], kpis["units.sold"].as_f64().unwrap(), "store {store} units");
        assert_eq!(
            cells[2],
            kpis["stockout.minutes"].as_f64().unwrap(),
            "store {store} stock-outs"
        );
        let hourly = psql(
            &url,
            &format!(
                "SELECT sum(revenue_eur) FROM analytics.v_hourly_sales WHERE store_id = {store}"
            ),
        );
        assert_eq!(hourly.parse::<f64>().unwrap(), cells[0], "store {store} hourly revenue");
    }
    let (one, two) =
        (&summary["store_kpis"]["1"]["revenue"], &summary["store_kpis"]["2"]["revenue"]);
    assert_ne!(one, two, "the stores differ");
}

/// Each shelf's stock at the end of a `shelf_state` changelog.
fn changelog_stock(path: &Path) -> BTreeMap<String, i64> {
    let changelog = std::fs::read_to_string(path).expect("the shelf-state changelog");
    let mut stock = BTreeMap::new();
    for line in changelog.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let shelf = v["row"]["shelf_id"].as_str().unwrap().to_owned();
        if v["op"] == "upsert" {
            stock.insert(shelf, v["row"]["current_stock"].as_i64().unwrap());
        } else {
            stock.remove(&shelf);
        }
    }
    stock
}

/// Each shelf's stock in `state.shelf_status`.
fn table_stock(url: &str) -> BTreeMap<String, i64> {
    psql(url, "SELECT shelf_id, current_stock FROM state.shelf_status")
        .lines()
        .map(|l| {
            let (id, n) = l.split_once('|').unwrap();
            (id.to_owned(), n.parse().unwrap())
        })
        .collect()
}

#[test]
fn a_recording_replayed_with_the_replay_config_fills_the_store_tables() {
    let Some(server) = pg::shared() else { return };
    let dir = scratch("replay");
    let url = server.database("pg_replay");
    let data = dir.join("data");
    let recording = dir.join("recording");
    let ok = |out: std::process::Output, what: &str| {
        assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    ok(
        shelfflow().args(["--quiet", "data", "generate", "--out"]).arg(&data).output().unwrap(),
        "generate",
    );
    let simulate = shelfflow()
        .args(["--quiet", "simulate", "--days", "1", "--data"])
        .arg(&data)
        .arg("--to")
        .arg(format!("jsonl:{}", recording.display()))
        .output()
        .unwrap();
    ok(simulate, "simulate");
    let recorded: usize = ["shelf_events", "pos_transactions", "foot_traffic", "wh_events"]
        .iter()
        .map(|s| {
            std::fs::read_to_string(recording.join(format!("{s}.jsonl"))).unwrap().lines().count()
        })
        .sum();
    // One record that fits the schema but breaks a rule of the stream: a data-quality violation.
    let shelf_events = recording.join("shelf_events.jsonl");
    let text = std::fs::read_to_string(&shelf_events).unwrap();
    let mut odd: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    odd["event_id"] = Value::from("odd-1");
    odd["event_type"] = Value::from("teleport");
    std::fs::write(&shelf_events, format!("{odd}\n{text}")).unwrap();
    let summary = dir.join("summary.json");
    let pipelines =
        ["store_ops", "warehouse", "foot_traffic", "sales"].map(|p| format!("pipelines/{p}.yaml"));
    let replay = shelfflow()
        .args(["--quiet", "run"])
        .args(&pipelines)
        .args(["--config", "config/replay.yaml", "--summary-json"])
        .arg(&summary)
        .env("REPLAY_DIR", &recording)
        .env("SIM_DAYS", "1")
        .env("SHELFFLOW_DATA", &data)
        .env("SHELFFLOW_OUT", dir.join("out"))
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    ok(replay, "the replay");
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    // Every recorded event is read, next to the calendar's records, and none is rejected.
    let events_in = summary["events_in"].as_u64().unwrap() as usize;
    assert!(events_in >= recorded, "{events_in} events read of {recorded} recorded");
    assert_eq!(summary["dead_letters"].as_u64(), Some(0), "dead letters in a clean recording");
    assert!(recorded > 1_000, "a store day has more than {recorded} events");
    let stock = changelog_stock(&dir.join("out/store_ops/shelf_state.jsonl"));
    assert_eq!(
        stock.len(),
        psql(&url, "SELECT count(*) FROM ref.shelves").parse::<usize>().unwrap()
    );
    assert_eq!(table_stock(&url), stock);
    // The odd record is in ops.data_quality, counted in the summary and in the BI view.
    assert_eq!(
        psql(&url, "SELECT stream, rule, key, value FROM ops.data_quality"),
        r#"shelf_events|in(event_type)|{"store_id":1,"event_id":"odd-1"}|teleport"#
    );
    let checks = summary["violations"].as_array().unwrap();
    let counted: Vec<(&str, u64)> = checks
        .iter()
        .map(|c| (c["check"].as_str().unwrap(), c["violations"].as_u64().unwrap()))
        .collect();
    assert_eq!(counted, [("shelf_event_checks", 1), ("wh_event_checks", 0)]);
    let views = std::fs::read_to_string("deploy/postgres/views.sql").unwrap();
    psql(&url, &views);
    assert_eq!(
        psql(&url, "SELECT stream, rule, violations FROM analytics.v_data_quality"),
        "shelf_events|in(event_type)|1"
    );
}

#[test]
fn a_reference_table_read_from_postgres_gives_the_same_results_as_from_a_file() {
    let Some(server) = pg::shared() else { return };
    let dir = scratch("table");
    let url = server.database("pg_table");
    psql(
        &url,
        "CREATE SCHEMA config;
         CREATE TABLE config.shelves (shelf_id text PRIMARY KEY, item_category text,
                                      maximum_stock integer, initial_stock bigint);",
    );
    // The same rows as pipelines/examples/data/shelves.csv.
    let csv = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/examples/data/shelves.csv"),
    )
    .unwrap();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        psql(
            &url,
            &format!(
                "INSERT INTO config.shelves VALUES ('{}', '{}', {}, {})",
                f[0], f[1], f[2], f[3]
            ),
        );
    }
    let original = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/examples/alert.yaml"),
    )
    .unwrap();
    let from_file = original.replace("out/examples/alert", &dir.join("file").display().to_string());
    let from_db = from_file
        .replace(&dir.join("file").display().to_string(), &dir.join("db").display().to_string())
        .replace(
            "    connector: file\n    path: pipelines/examples/data/shelves.csv\n",
            "    connector: postgres\n    table: config.shelves\n",
        );
    assert!(from_db.contains("table: config.shelves"), "the example still reads shelves.csv");
    for (name, yaml) in [("file", &from_file), ("db", &from_db)] {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        run(&path, &url);
    }
    for file in ["refill_alert_changes.jsonl", "refill_alert_history_changes.jsonl"] {
        let a = std::fs::read_to_string(dir.join("file").join(file)).unwrap();
        let b = std::fs::read_to_string(dir.join("db").join(file)).unwrap();
        assert!(!a.is_empty());
        assert_eq!(a, b, "{file}");
    }
}

#[test]
fn a_threshold_changed_in_postgres_opens_and_resolves_an_alert_while_running() {
    let Some(server) = pg::shared() else { return };
    let dir = scratch("live");
    let url = server.database("pg_live");
    psql(
        &url,
        "CREATE SCHEMA config;
         CREATE TABLE config.thresholds (shelf_id text PRIMARY KEY, threshold bigint NOT NULL);
         INSERT INTO config.thresholds VALUES ('S1', 5), ('S2', 5);",
    );
    let events = dir.join("events.jsonl");
    let event = |i: u64, shelf: &str, quantity: i64| {
        let ts = chrono::DateTime::from_timestamp(1_767_254_400 + i as i64, 0).unwrap();
        format!(
            "{{\"event_id\":\"e{i}\",\"shelf_id\":\"{shelf}\",\"quantity\":{quantity},\"timestamp\":\"{}\"}}\n",
            ts.format("%Y-%m-%dT%H:%M:%SZ")
        )
    };
    std::fs::write(&events, event(0, "S1", 8) + &event(1, "S2", 9)).unwrap();
    let alerts = dir.join("alerts.jsonl");
    let yaml = format!(
        r#"name: pg_live_test
sources:
  events:
    connector: file
    path: {events}
    follow: true
    schema: {{event_id: string, shelf_id: string, quantity: int, timestamp: timestamp}}
    event_time: timestamp
tables:
  thresholds:
    connector: postgres
    table: config.thresholds
    poll: 200ms
    schema: {{shelf_id: string, threshold: int}}
    key: [shelf_id]
operators:
  stock:
    op: aggregate
    input: events
    group_by: [shelf_id]
    aggregates:
      units: sum(quantity)
  with_threshold:
    op: join
    left: stock
    right: thresholds
    on: [shelf_id]
  low_stock:
    op: alert
    input: with_threshold
    key: [shelf_id]
    when: units < threshold
sinks:
  alerts:
    input: low_stock
    connector: file
    path: {alerts}
"#,
        events = events.display(),
        alerts = alerts.display()
    );
    let pipeline = dir.join("pipeline.yaml");
    std::fs::write(&pipeline, yaml).unwrap();
    // Two workers: the table is read on the one that reads no source.
    let mut child = shelfflow()
        .args(["--quiet", "run", "--workers", "2"])
        .arg(&pipeline)
        .env("DATABASE_URL", &url)
        .spawn()
        .expect("shelfflow starts");
    // The stream goes on (another shelf), so event time advances and each change closes.
    let mut next = 2u64;
    let mut tick = |n: u64| {
        for _ in 0..n {
            let mut file = std::fs::OpenOptions::new().append(true).open(&events).unwrap();
            std::io::Write::write_all(&mut file, event(next, "S9", 1).as_bytes()).unwrap();
            next += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let alert_lines = || -> Vec<String> {
        std::fs::read_to_string(&alerts)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"S1\""))
            .map(str::to_owned)
            .collect()
    };
    tick(20);
    assert!(alert_lines().is_empty(), "8 units, threshold 5: no alert yet");

    psql(&url, "UPDATE config.thresholds SET threshold = 10 WHERE shelf_id = 'S1'");
    let deadline = Instant::now() + Duration::from_secs(20);
    while alert_lines().is_empty() {
        assert!(Instant::now() < deadline, "raising the threshold opened no alert within 20 s");
        tick(1);
    }
    assert!(alert_lines()[0].starts_with("{\"op\":\"upsert\""), "{:?}", alert_lines());

    psql(&url, "UPDATE config.thresholds SET threshold = 5 WHERE shelf_id = 'S1'");
    let deadline = Instant::now() + Duration::from_secs(20);
    while alert_lines().len() < 2 {
        assert!(Instant::now() < deadline, "lowering the threshold resolved nothing within 20 s");
        tick(1);
    }
    assert!(alert_lines()[1].starts_with("{\"op\":\"delete\""), "{:?}", alert_lines());
    // S2 never crossed its threshold.
    let all = std::fs::read_to_string(&alerts).unwrap();
    assert!(!all.contains("\"S2\""), "{all}");

    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert!(child.wait().unwrap().success(), "the run stops cleanly");
}
