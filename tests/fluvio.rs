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
    pub mod binary;
    pub mod events;
    pub mod fluvio;
    pub mod postgres;
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::binary::{scratch, shelfflow};
use support::events;
use support::fluvio::{self as fl, Cluster};
use support::postgres::{self as pg, psql, rows};

/// `count` deterministic shelf events as `(shelf key, JSON line)`, with one malformed record in
/// the middle.
fn events(count: usize) -> Vec<(String, String)> {
    let mut out = events::shelf_events(count);
    let shelf = out[count / 2].0.clone();
    out.insert(count / 2 + 1, (shelf, r#"{"event_id":"bad","quantity":"two"}"#.to_owned()));
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
    schema: {{event_id: string, event_type: string, shelf_id: string, quantity: int, customer_id: string?, timestamp: timestamp}}
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
    std::fs::write(dir.join("events.jsonl"), events::jsonl(&records)).unwrap();
    cluster.create_topic(topic, partitions);
    cluster.produce(topic, &records);
    let stored = cluster.consume_all(topic).len();
    assert_eq!(stored, records.len(), "records on {topic} after producing");
    records.len()
}

#[test]
fn on_a_fluvio_cluster_a_topic_gives_the_same_tables_and_changelogs_as_the_jsonl_file_with_any_worker_count(
) {
    let Some(cluster) = fl::start() else { return };
    let Some(server) = pg::shared() else { return };
    let dir = scratch("fluvio", "equal");
    let pipeline = write_pipeline(&dir, &cluster.endpoint);
    let total = publish(&cluster, &dir, "shelf-events-equal", 3, 60_000);

    let reference = server.database("fl_equal_file");
    run(&pipeline, &reference, &[]);
    let expected = snapshot(&reference);
    let expected_changelog = std::fs::read_to_string(dir.join("out/stock_file.jsonl")).unwrap();
    assert!(expected["state.stock"].len() >= 150, "the pipeline computed too little");

    // Two workers with small fetches: many fetches cut a batch, which the Fluvio client would
    // otherwise skip the rest of.
    for (workers, fetch) in [("1", "8388608"), ("2", "20000")] {
        let url = server.database(&format!("fl_equal_topic_{workers}"));
        let mut args = from_topic(&cluster.endpoint, "shelf-events-equal");
        args.extend(["--workers".to_owned(), workers.to_owned()]);
        args.extend(["--set".to_owned(), format!("sources.events.max_fetch_bytes={fetch}")]);
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
    match cluster.cli(&[
        "consume",
        "stock-changes",
        "-B",
        "-d",
        "-k",
        "-p",
        "0",
        "--maxbytes",
        "268435456",
    ]) {
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
fn on_a_fluvio_cluster_kill_9_and_a_restart_from_fluvio_lose_and_duplicate_nothing() {
    let Some(cluster) = fl::start() else { return };
    let Some(server) = pg::shared() else { return };
    let dir = scratch("fluvio", "kill");
    let pipeline = write_pipeline(&dir, &cluster.endpoint);
    publish(&cluster, &dir, "shelf-events-kill", 2, 300_000);
    let args = from_topic(&cluster.endpoint, "shelf-events-kill");

    let reference = server.database("fl_kill_reference");
    let started = Instant::now();
    run(&pipeline, &reference, &args);
    let duration = started.elapsed();
    let expected = snapshot(&reference);
    let complete = pg::committed(&reference);

    let url = server.database("fl_kill");
    let command = || {
        let mut cmd = shelfflow();
        cmd.args(["--quiet", "run"]).arg(&pipeline).args(&args);
        cmd
    };
    let partial = pg::kill_at_seeded_moments(command, &url, duration, 4, &complete);
    run(&pipeline, &url, &args);
    assert!(partial >= 1, "no kill landed in the middle of a run: the test proved nothing");
    let actual = snapshot(&url);
    for table in TABLES {
        pg::assert_same_rows(&expected[table], &actual[table], &format!("after kills: {table}"));
    }
}

#[test]
fn on_a_fluvio_cluster_the_simulated_store_through_fluvio_gives_the_store_pipeline_the_same_results_as_jsonl(
) {
    let Some(cluster) = fl::start() else { return };
    let Some(server) = pg::shared() else { return };
    let dir = scratch("fluvio", "store");
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
            .env("SIM_DAYS", "1")
            // The cluster of every Fluvio source and sink, the feedback to the store included.
            .env("FLV_PROFILE_PATH", cluster.profile_path());
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
    let from_topics =
        streams.iter().map(|(source, _)| format!("sources.{source}.stop_at_end=true")).collect();
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

#[test]
fn on_a_fluvio_cluster_plans_published_to_fluvio_are_executed_by_the_simulated_store_closed_loop() {
    let Some(cluster) = fl::start() else { return };
    let Some(server) = pg::shared() else { return };
    let dir = scratch("fluvio", "loop");
    let data = dir.join("data");
    let out = shelfflow()
        .args(["--quiet", "data", "generate", "--out"])
        .arg(&data)
        .output()
        .expect("shelfflow runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The pipeline opens its sources at once: the topics must exist before the store starts.
    for topic in ["shelf-events", "pos-transactions", "foot-traffic", "wh-events"] {
        cluster.create_topic(topic, 2);
    }
    cluster.create_topic("store-feedback", 1);

    // The store pipeline follows the topics and publishes its plans and discounts to
    // `store-feedback`; the cluster is the current profile of FLV_PROFILE_PATH, as for the CLI.
    let url = server.database("fl_loop");
    let mut pipeline = shelfflow()
        .args(["--quiet", "run", "pipelines/store_ops.yaml", "--config", "config/fluvio.yaml"])
        .env("FLV_PROFILE_PATH", cluster.profile_path())
        .env("DATABASE_URL", &url)
        .env("SHELFFLOW_DATA", &data)
        .env("SHELFFLOW_OUT", dir.join("out"))
        .env("SIM_DAYS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("shelfflow runs");
    // One simulated day in about 20 s: fast, but slow enough for the pipeline to keep up.
    let store = shelfflow()
        .args(["simulate", "--days", "1", "--speed", "5000x", "--to", "fluvio", "--feedback"])
        .arg("--data")
        .arg(&data)
        .env("FLV_PROFILE_PATH", cluster.profile_path())
        .output()
        .expect("shelfflow runs");
    // SIGTERM: the pipeline stops gracefully, committing what it has.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pipeline.id() as libc::pid_t, libc::SIGTERM) };
    let status = pipeline.wait().unwrap();
    let mut errors = String::new();
    std::io::Read::read_to_string(pipeline.stderr.as_mut().unwrap(), &mut errors).unwrap();
    assert!(status.success(), "the pipeline failed: {errors}");
    let summary = String::from_utf8_lossy(&store.stderr);
    assert!(store.status.success(), "{summary}");

    // Restock plans went out through Fluvio, and came back as picks in the warehouse: the store
    // emits `wh_out` only when staff execute a plan.
    let feedback = cluster.consume_all("store-feedback");
    let plans = feedback.iter().filter(|(_, _, v)| v.contains(r#""kind":"restock_plan""#)).count();
    assert!(plans > 0, "no restock plan on store-feedback: {feedback:?}");
    let picks = cluster
        .consume_all("wh-events")
        .iter()
        .filter(|(_, _, v)| v.contains(r#""event_type":"wh_out""#))
        .count();
    assert!(picks > 0, "the store executed no plan; it said: {summary}");
    assert!(summary.contains("the store executed"), "{summary}");
    println!("{plans} restock plans published, {picks} warehouse picks; {}", summary.trim());
}
