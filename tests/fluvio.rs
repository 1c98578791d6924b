//! The Fluvio connector against a real local cluster (see `support/fluvio.rs`) and a real
//! PostgreSQL server: a topic gives the same tables and changelogs as the same records in a JSONL
//! file, with any worker count; `kill -9` and a restart lose and duplicate nothing; the simulated
//! store published to Fluvio gives the store pipeline the same results as its JSONL files; the
//! changelog topics are readable by a plain Fluvio consumer.
//!
//! Without Fluvio installed every test prints `skipped: Fluvio not installed (looked in PATH and
//! ~/.fluvio/bin)` and returns.

#[allow(dead_code)] // shared helpers: each test binary uses a part of them
mod support {
    pub mod fluvio;
    pub mod postgres;
}

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use support::fluvio::{self as fl, Cluster};
use support::postgres::{self as pg, psql, rows};

fn shelfflow() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shelfflow"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fluvio").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// `count` deterministic shelf events as `(shelf key, JSON line)`, with one malformed record in
/// the middle.
fn events(count: usize) -> Vec<(String, String)> {
    let mut state: u64 = 0x5eed;
    let mut next = move |n: u64| {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let start = 1_767_254_400_000i64; // 2026-01-01T08:00:00Z in ms
    let mut out = Vec::with_capacity(count + 1);
    for i in 0..count {
        let (kind, quantity) = match next(100) {
            0..60 => ("pickup", 1 + next(3)),
            60..75 => ("putback", 1),
            _ => ("refill", 5 + next(10)),
        };
        let shelf = format!("S{:03}", next(200));
        let ts = chrono::DateTime::from_timestamp_millis(start + (i as i64) * 50)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ");
        out.push((
            shelf.clone(),
            format!(
                r#"{{"event_id":"e{i}","event_type":"{kind}","shelf_id":"{shelf}","quantity":{quantity},"timestamp":"{ts}"}}"#
            ),
        ));
        if i == count / 2 {
            out.push((shelf, r#"{"event_id":"bad","quantity":"two"}"#.to_owned()));
        }
    }
    out
}

/// A pipeline reading `events` from a JSONL file, with upsert, window and append tables, a
/// file changelog and a Fluvio changelog. `--set` switches the source to Fluvio.
fn write_pipeline(dir: &Path, endpoint: &str) -> PathBuf {
    let yaml = format!(
        r#"name: fluvio_test
output_dir: {out}
dead_letter:
  fluvio: {{endpoint: "{endpoint}"}}
sources:
  events:
    connector: file
    path: {events}
    schema: {{event_id: string, event_type: string, shelf_id: string, quantity: int, timestamp: timestamp}}
    event_time: timestamp
operators:
  stock:
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
sinks:
  stock_file:
    input: stock
    connector: file
  stock_db:
    input: stock
    connector: postgres
    schema: state
    table: stock
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
  stock_topic:
    input: stock
    connector: fluvio
    endpoint: "{endpoint}"
    topic: stock-changes
    partitions: 2
"#,
        out = dir.join("out").display(),
        events = dir.join("events.jsonl").display(),
    );
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, yaml).expect("write pipeline");
    path
}

const TABLES: [&str; 3] = ["state.stock", "ops.negative_history", "analytics.per_minute"];

/// The overrides that read `events` from `topic` to its end.
fn from_topic(endpoint: &str, topic: &str) -> Vec<String> {
    [
        "sources.events.connector=fluvio".to_owned(),
        format!("sources.events.topic={topic}"),
        format!("sources.events.endpoint={endpoint}"),
        "sources.events.stop_at_end=true".to_owned(),
    ]
    .into_iter()
    .flat_map(|set| ["--set".to_owned(), set])
    .collect()
}

fn run(pipeline: &Path, url: &str, args: &[String]) -> std::process::Output {
    let out = shelfflow()
        .args(["--quiet", "run"])
        .arg(pipeline)
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("shelfflow runs");
    assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn snapshot(url: &str) -> BTreeMap<&'static str, Vec<String>> {
    TABLES.iter().map(|t| (*t, rows(url, t))).collect()
}

/// Produces the events to a fresh topic (`partitions` partitions) and writes them to the JSONL
/// file the pipeline reads by default.
fn publish(cluster: &Cluster, dir: &Path, topic: &str, partitions: u32, count: usize) -> usize {
    let records = events(count);
    let mut text = String::new();
    for (_, line) in &records {
        writeln!(text, "{line}").unwrap();
    }
    std::fs::write(dir.join("events.jsonl"), text).unwrap();
    cluster.create_topic(topic, partitions);
    cluster.produce(topic, &records);
    let stored = cluster.consume_all(topic).len();
    assert_eq!(stored, records.len(), "records on {topic} after producing");
    records.len()
}

#[test]
fn a_topic_gives_the_same_tables_and_changelogs_as_the_jsonl_file_with_any_worker_count() {
    let Some(cluster) = fl::start() else { return };
    let Some(server) = pg::shared() else { return };
    let dir = scratch("equal");
    let pipeline = write_pipeline(&dir, &cluster.endpoint);
    let total = publish(&cluster, &dir, "shelf-events-equal", 3, 60_000);

    let reference = server.database("fl_equal_file");
    run(&pipeline, &reference, &[]);
    let expected = snapshot(&reference);
    let expected_changelog = std::fs::read_to_string(dir.join("out/stock_file.jsonl")).unwrap();
    assert!(expected["state.stock"].len() >= 150, "the pipeline computed too little");

    for workers in ["1", "2"] {
        let url = server.database(&format!("fl_equal_topic_{workers}"));
        let mut args = from_topic(&cluster.endpoint, "shelf-events-equal");
        args.extend(["--workers".to_owned(), workers.to_owned()]);
        run(&pipeline, &url, &args);
        let actual = snapshot(&url);
        for table in TABLES {
            let what = format!("{workers} worker(s): {table}");
            pg::assert_same_rows(&expected[table], &actual[table], &what);
        }
        let changelog = std::fs::read_to_string(dir.join("out/stock_file.jsonl")).unwrap();
        assert!(changelog == expected_changelog, "{workers} worker(s): changelog differs");

        // The progress row names how far the committed output reaches into each partition.
        let positions = psql(
            &url,
            "SELECT source_positions::text FROM shelfflow_progress WHERE sink = 'stock_db'",
        );
        let positions: serde_json::Value = serde_json::from_str(&positions).unwrap();
        let read: i64 = positions["events"]
            .as_object()
            .expect("offsets of the events source")
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum();
        assert_eq!(read, total as i64, "{workers} worker(s): offsets {positions}");

        // The malformed record is a dead letter naming topic, partition and offset, in the
        // file and on the dead-letter topic.
        let dead = std::fs::read_to_string(dir.join("out/dead_letter.jsonl")).unwrap();
        assert_eq!(dead.lines().count(), 1, "{dead}");
        assert!(dead.contains("shelf-events-equal/"), "{dead}");
        assert!(dead.contains('@'), "{dead}");
    }
    let dlq = cluster.consume_all("fluvio-test-dlq");
    assert_eq!(dlq.len(), 3, "one dead letter per run: {dlq:?}");
    assert!(dlq.iter().all(|(_, key, value)| key == "events" && value.contains("two")), "{dlq:?}");

    // A plain consumer reads the changelog topic: one record per change of each of the three
    // runs, keyed by shelf, value {op, key, row, time}; a key always lands in one partition.
    let changes = cluster.consume_all("stock-changes");
    assert_eq!(changes.len(), 3 * expected_changelog.lines().count());
    let mut partition_of: BTreeMap<&str, u32> = BTreeMap::new();
    for (partition, key, value) in &changes {
        let record: serde_json::Value = serde_json::from_str(value).unwrap();
        assert_eq!(record["key"]["shelf_id"], key.as_str(), "{value}");
        assert!(record["op"] == "upsert" || record["op"] == "delete", "{value}");
        assert!(record["time"].is_string() && record["row"]["net"].is_i64(), "{value}");
        assert_eq!(*partition_of.entry(key).or_insert(*partition), *partition, "{key}");
    }
    // And so does the Fluvio CLI, when installed.
    match cluster.cli(&["consume", "stock-changes", "-B", "-d", "-k", "-p", "0", "--maxbytes", "268435456"]) {
        Some(out) => {
            assert!(
                out.status.success(),
                "fluvio consume: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.lines().any(|l| l.contains(r#""op":"upsert""#)), "{text}");
        }
        None => println!("skipped: the fluvio CLI check (CLI not installed)"),
    }
}

#[test]
fn kill_9_and_a_restart_from_fluvio_lose_and_duplicate_nothing() {
    let Some(cluster) = fl::start() else { return };
    let Some(server) = pg::shared() else { return };
    let dir = scratch("kill");
    let pipeline = write_pipeline(&dir, &cluster.endpoint);
    publish(&cluster, &dir, "shelf-events-kill", 2, 300_000);
    let args = from_topic(&cluster.endpoint, "shelf-events-kill");

    let reference = server.database("fl_kill_reference");
    let started = Instant::now();
    run(&pipeline, &reference, &args);
    let duration = started.elapsed();
    let expected = snapshot(&reference);
    let final_frontier = psql(&reference, "SELECT max(frontier) FROM shelfflow_progress");

    let url = server.database("fl_kill");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut partial = 0;
    for attempt in 0..4 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = duration.mul_f64(0.2 + 0.7 * (seed % 1000) as f64 / 1000.0);
        let mut child = shelfflow()
            .args(["--quiet", "run"])
            .arg(&pipeline)
            .args(&args)
            .env("DATABASE_URL", &url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("shelfflow starts");
        std::thread::sleep(at);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let exists = psql(&url, "SELECT to_regclass('public.shelfflow_progress') IS NOT NULL");
        let progress = if exists == "t" {
            psql(&url, "SELECT coalesce(min(frontier)::text, 'none') FROM shelfflow_progress")
        } else {
            "none".to_owned()
        };
        println!("attempt {attempt}: killed after {at:?} ({status}), committed up to {progress}");
        if progress != "none" && progress != final_frontier {
            partial += 1;
        }
    }
    run(&pipeline, &url, &args);
    assert!(partial >= 1, "no kill landed in the middle of a run: the test proved nothing");
    let actual = snapshot(&url);
    for table in TABLES {
        pg::assert_same_rows(&expected[table], &actual[table], &format!("after kills: {table}"));
    }
}

#[test]
fn the_simulated_store_through_fluvio_gives_the_store_pipeline_the_same_results_as_jsonl() {
    let Some(cluster) = fl::start() else { return };
    let Some(server) = pg::shared() else { return };
    let dir = scratch("store");
    let data = dir.join("data");
    let quiet = |mut cmd: Command| {
        let out = cmd.output().expect("shelfflow runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let mut generate = shelfflow();
    generate.args(["--quiet", "data", "generate", "--out"]).arg(&data);
    quiet(generate);
    for to in [format!("jsonl:{}", dir.join("sim").display()), "fluvio".to_owned()] {
        let mut simulate = shelfflow();
        simulate.args(["--quiet", "simulate", "--days", "1", "--data"]).arg(&data).args([
            "--to",
            &to,
            "--endpoint",
            &cluster.endpoint,
            "--partitions",
            "2",
        ]);
        quiet(simulate);
    }
    let run_store = |name: &str, sets: Vec<String>| {
        let url = server.database(name);
        let out_dir = dir.join(name);
        let mut cmd = shelfflow();
        cmd.args(["--quiet", "run", "pipelines/store_ops.yaml", "--config", "config/fluvio.yaml"])
            .args(sets.iter().flat_map(|s| ["--set", s.as_str()]))
            .env("DATABASE_URL", &url)
            .env("SHELFFLOW_DATA", &data)
            .env("SHELFFLOW_OUT", &out_dir)
            .env("SIM_DAYS", "1");
        quiet(cmd);
        (url, out_dir)
    };
    let streams = [("shelf_events", "shelf-events"), ("wh_events", "wh-events")];
    let from_files = streams
        .iter()
        .flat_map(|(source, _)| {
            [
                format!("sources.{source}.connector=file"),
                format!("sources.{source}.path={}/{source}.jsonl", dir.join("sim").display()),
            ]
        })
        .chain(["sinks.fluvio_shelf_state.enabled=false".to_owned()])
        .chain(["sinks.fluvio_store_alerts.enabled=false".to_owned()])
        .chain(["sinks.fluvio_restock_plans.enabled=false".to_owned()])
        .collect();
    let from_topics = streams
        .iter()
        .flat_map(|(source, _)| {
            [
                format!("sources.{source}.endpoint={}", cluster.endpoint),
                format!("sources.{source}.stop_at_end=true"),
            ]
        })
        .chain(
            ["fluvio_shelf_state", "fluvio_store_alerts", "fluvio_restock_plans"]
                .map(|s| format!("sinks.{s}.endpoint={}", cluster.endpoint)),
        )
        .collect();
    let (file_url, file_out) = run_store("fl_store_files", from_files);
    let (topic_url, topic_out) = run_store("fl_store_topics", from_topics);
    for table in
        ["state.shelf_status", "ops.store_alerts", "state.restock_plans", "state.shelf_batches"]
    {
        let (a, b) = (rows(&file_url, table), rows(&topic_url, table));
        assert!(!a.is_empty(), "{table} is empty");
        pg::assert_same_rows(&a, &b, &format!("{table} from Fluvio topics vs JSONL files"));
    }
    let state =
        |out: &Path| std::fs::read_to_string(out.join("store_ops/shelf_state.jsonl")).unwrap();
    assert!(state(&file_out) == state(&topic_out), "shelf_state changelog differs");
    // The state and alert changelogs are on their topics for `fluvio consume`.
    let shelf_state = cluster.consume_all("shelf-state");
    assert_eq!(shelf_state.len(), state(&topic_out).lines().count());
    assert!(!cluster.consume_all("store-alerts").is_empty());
}
