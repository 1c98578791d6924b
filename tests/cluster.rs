//! One dataflow over several processes (timely's own cluster, on loopback): the same outputs,
//! byte for byte, whether the work runs on one process with one or two workers or on two
//! processes; a process that dies ends the others with a clear error; a cluster whose processes
//! run different pipelines refuses to start; a cluster killed mid-run and restarted writes
//! PostgreSQL exactly as an uninterrupted run does.

mod support {
    pub mod binary;
    pub mod events;
    #[allow(dead_code)] // this file uses part of it
    pub mod fluvio;
    #[allow(dead_code)] // this file uses part of it
    pub mod postgres;
    pub mod server;
}

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::binary::{files_under, scratch, shelfflow};
use support::postgres as pg;

/// Loopback addresses with ports free right now, one per process.
fn free_addresses(n: usize) -> Vec<String> {
    let listeners: Vec<_> =
        (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("bound").to_string()).collect()
}

/// A hosts file for `n` processes on loopback, in `dir`.
fn hosts_file(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("hosts.txt");
    std::fs::write(&path, free_addresses(n).join("\n") + "\n").expect("write the hosts file");
    path
}

/// Starts process `process` of a cluster on `hosts`, running `command`; its stderr goes to `log`.
fn spawn(mut command: Command, process: usize, hosts: &Path, log: &Path) -> Child {
    command
        .args(["--process", &process.to_string(), "--hosts"])
        .arg(hosts)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).expect("log")))
        .spawn()
        .expect("shelfflow starts")
}

/// Waits for `child` at most `limit`; `None` if it still runs (it is then killed).
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Runs `command(out_dir, workers)` on two processes of one worker each; process 0 writes into
/// `out`, process 1 is given a directory of its own, which must stay empty (only process 0
/// writes).
fn run_two_processes(dir: &Path, out: &Path, command: impl Fn(&Path, usize) -> Command) {
    let hosts = hosts_file(dir, 2);
    let elsewhere = dir.join("process1_out");
    let mut children: Vec<Child> = [out, elsewhere.as_path()]
        .iter()
        .enumerate()
        .map(|(i, out)| spawn(command(out, 1), i, &hosts, &dir.join(format!("process{i}.log"))))
        .collect();
    for (i, child) in children.iter_mut().enumerate() {
        let status = wait_at_most(child, Duration::from_secs(300));
        let log = std::fs::read_to_string(dir.join(format!("process{i}.log"))).unwrap_or_default();
        assert!(status.is_some_and(|s| s.success()), "process {i} failed: {status:?}\n{log}");
    }
    let written = if elsewhere.exists() { files_under(&elsewhere) } else { Default::default() };
    assert!(written.is_empty(), "process 1 wrote {:?}", written.keys().collect::<Vec<_>>());
}

/// Runs `command` to its end on one process.
fn run_one_process(mut command: Command) {
    let done: Output = command.output().expect("shelfflow runs");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
}

/// Asserts the runs wrote the same files with the same bytes.
fn assert_identical(runs: &[(&str, &Path)]) {
    let (first_name, first) = runs[0];
    let expected = files_under(first);
    assert!(expected.len() > 3, "{first_name} wrote only {:?}", expected.keys());
    for (name, dir) in &runs[1..] {
        let files = files_under(dir);
        assert_eq!(
            expected.keys().collect::<Vec<_>>(),
            files.keys().collect::<Vec<_>>(),
            "{name} wrote other files than {first_name}"
        );
        for (file, bytes) in &expected {
            assert!(bytes == &files[file], "{file} differs between {first_name} and {name}");
        }
    }
}

/// Stores in the chain of the equality tests.
const STORES: &str = "3";

/// The four streams of the chain's stores over two days, recorded once from the simulator.
fn recording(dir: &Path, data: &Path) -> PathBuf {
    let recording = dir.join("recording");
    let done = shelfflow()
        .args(["--quiet", "simulate", "--days", "2", "--data"])
        .arg(data)
        .arg("--to")
        .arg(format!("jsonl:{}", recording.display()))
        .output()
        .expect("shelfflow runs");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    recording
}

/// The store pipelines over `recording` (and the reference `data`), writing files (no
/// PostgreSQL) into `out`.
fn replay(data: &Path, recording: &Path, out: &Path, workers: usize) -> Command {
    let mut command = shelfflow();
    command.args(["--quiet", "run"]);
    for file in ["store_ops", "warehouse", "foot_traffic", "sales"] {
        command.arg(format!("pipelines/{file}.yaml"));
    }
    command
        .args(["--config", "config/replay.yaml", "--workers", &workers.to_string()])
        .env("SHELFFLOW_OUT", out)
        .env("REPLAY_DIR", recording)
        .env("SHELFFLOW_DATA", data)
        .env("SIM_DAYS", "2")
        .env("SHELFFLOW_POSTGRES", "false");
    command
}

#[test]
fn store_pipelines_over_recorded_streams_give_identical_outputs_on_two_processes() {
    let dir = scratch("cluster", "replay");
    let data = reference_data(&dir, STORES);
    let recording = recording(&dir, &data);
    let (one, two, cluster) = (dir.join("1x1"), dir.join("1x2"), dir.join("2x1"));
    run_one_process(replay(&data, &recording, &one, 1));
    run_one_process(replay(&data, &recording, &two, 2));
    run_two_processes(&dir, &cluster, |out, workers| replay(&data, &recording, out, workers));
    assert_identical(&[("1 process x 1 worker", &one), ("1 x 2", &two), ("2 x 1", &cluster)]);
}

/// `demo` (the simulated store, closed loop, every store pipeline) over `days`, files only.
fn demo(data: &Path, out: &Path, workers: usize, days: u32, speed: &str) -> Command {
    let mut command = shelfflow();
    command
        .args(["--quiet", "demo", "--no-db", "--days", &days.to_string(), "--speed", speed])
        .args(["--workers", &workers.to_string(), "--data"])
        .arg(data)
        .arg("--out")
        .arg(out);
    command
}

/// The reference data of a chain of `stores`, generated into `dir`.
fn reference_data(dir: &Path, stores: &str) -> PathBuf {
    let data = dir.join("data");
    let done = shelfflow()
        .args(["--quiet", "data", "generate", "--stores", stores, "--out"])
        .arg(&data)
        .output()
        .expect("shelfflow runs");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    data
}

#[test]
fn the_closed_loop_demo_of_three_stores_gives_identical_outputs_on_two_processes() {
    let dir = scratch("cluster", "demo");
    let data = reference_data(&dir, STORES);
    let (one, two, cluster) = (dir.join("1x1"), dir.join("1x2"), dir.join("2x1"));
    run_one_process(demo(&data, &one, 1, 2, "max"));
    run_one_process(demo(&data, &two, 2, 2, "max"));
    run_two_processes(&dir, &cluster, |out, workers| demo(&data, out, workers, 2, "max"));
    assert_identical(&[("1 process x 1 worker", &one), ("1 x 2", &two), ("2 x 1", &cluster)]);
    // Every store of the chain went through the pipelines.
    let state = std::fs::read_to_string(one.join("store_ops/shelf_state.jsonl")).expect("state");
    let seen: std::collections::BTreeSet<i64> = state
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON line"))
        .filter_map(|change| change["row"]["store_id"].as_i64())
        .collect();
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn a_killed_process_ends_the_other_with_a_clear_error_within_seconds() {
    let dir = scratch("cluster", "kill");
    let data = reference_data(&dir, "1");
    let hosts = hosts_file(&dir, 2);
    // A month of the store at 600x: far longer than the test.
    let logs = [dir.join("process0.log"), dir.join("process1.log")];
    let mut survivor = spawn(demo(&data, &dir.join("out0"), 1, 30, "600x"), 0, &hosts, &logs[0]);
    let mut victim = spawn(demo(&data, &dir.join("out1"), 1, 30, "600x"), 1, &hosts, &logs[1]);
    // Running together once process 0 has written its first outputs.
    let started = Instant::now();
    while !dir.join("out0").exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(survivor.try_wait().expect("wait").is_none(), "process 0 ended before the kill");
    victim.kill().expect("SIGKILL process 1");
    let _ = victim.wait();
    let killed_at = Instant::now();
    let status = wait_at_most(&mut survivor, Duration::from_secs(20));
    let log = std::fs::read_to_string(&logs[0]).unwrap_or_default();
    let status =
        status.unwrap_or_else(|| panic!("process 0 still runs 20 s after the kill:\n{log}"));
    assert!(!status.success(), "process 0 must fail: {log}");
    assert!(log.contains("lost process 1 of the cluster"), "no clear error:\n{log}");
    assert!(killed_at.elapsed() < Duration::from_secs(20));
}

#[test]
fn processes_running_different_pipelines_refuse_to_start() {
    let dir = scratch("cluster", "mismatch");
    let hosts = hosts_file(&dir, 2);
    let pipelines =
        ["pipelines/examples/retention_aggregate.yaml", "pipelines/examples/decimal.yaml"];
    let mut children: Vec<Child> = pipelines
        .iter()
        .enumerate()
        .map(|(i, pipeline)| {
            let mut command = shelfflow();
            command
                .args(["--quiet", "run", pipeline, "--set"])
                .arg(format!("output_dir={}", dir.join(format!("out{i}")).display()));
            spawn(command, i, &hosts, &dir.join(format!("process{i}.log")))
        })
        .collect();
    for (i, child) in children.iter_mut().enumerate() {
        let status = wait_at_most(child, Duration::from_secs(60));
        let log = std::fs::read_to_string(dir.join(format!("process{i}.log"))).unwrap_or_default();
        assert!(status.is_some_and(|s| !s.success()), "process {i} must fail:\n{log}");
        assert!(log.contains("runs a different pipeline"), "process {i}:\n{log}");
    }
}

/// Shelf events into PostgreSQL: an upsert table per shelf, a per-minute window and an append
/// changelog, reading `events`.
fn write_pg_pipeline(dir: &Path, events: &Path) -> PathBuf {
    let yaml = format!(
        r#"name: cluster_pg
output_dir: {out}
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
  per_minute:
    op: window
    input: events
    size: 1m
    aggregates:
      units: sum(quantity)
      events: count(*)
sinks:
  stock_db: {{input: stock, connector: postgres, schema: state, table: stock}}
  stock_changes_db: {{input: stock, connector: postgres, schema: ops, table: stock_changes, mode: append}}
  per_minute_db: {{input: per_minute, connector: postgres, schema: analytics, table: per_minute}}
"#,
        out = dir.join("out").display(),
        events = events.display()
    );
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, yaml).expect("write the pipeline");
    path
}

const PG_TABLES: [&str; 3] = ["state.stock", "ops.stock_changes", "analytics.per_minute"];

/// The pipeline into `url` on two processes. With `kill`, process 1 is killed (SIGKILL) as soon
/// as a sink has committed (the processes are connected and mid-run). Returns whether both ended
/// successfully.
fn run_pg_cluster(dir: &Path, pipeline: &Path, url: &str, kill: bool) -> bool {
    let hosts = hosts_file(dir, 2);
    let mut children: Vec<Child> = (0..2)
        .map(|i| {
            let mut command = shelfflow();
            command.args(["--quiet", "run"]).arg(pipeline).env("DATABASE_URL", url);
            spawn(command, i, &hosts, &dir.join(format!("pg_process{i}.log")))
        })
        .collect();
    if kill {
        let deadline = Instant::now() + Duration::from_secs(60);
        while pg::committed(url).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = children[1].kill();
    }
    let statuses: Vec<_> =
        children.iter_mut().map(|c| wait_at_most(c, Duration::from_secs(120))).collect();
    assert!(statuses.iter().all(Option::is_some), "a process hung after the kill");
    statuses.iter().all(|s| s.is_some_and(|s| s.success()))
}

#[test]
fn a_cluster_killed_mid_run_and_restarted_equals_an_uninterrupted_run_in_postgres() {
    let Some(server) = pg::shared() else { return };
    let dir = scratch("cluster", "postgres");
    let events = dir.join("events.jsonl");
    std::fs::write(&events, support::events::jsonl(&support::events::shelf_events(400_000)))
        .expect("write events");
    let pipeline = write_pg_pipeline(&dir, &events);

    let reference = server.database("cluster_pg_reference");
    let done = shelfflow()
        .args(["--quiet", "run"])
        .arg(&pipeline)
        .env("DATABASE_URL", &reference)
        .output()
        .expect("shelfflow runs");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let complete = pg::committed(&reference);

    // Kill process 1 after the first commit; again on a fresh database should the run have
    // ended first (a kill after the last commit would prove nothing).
    let mut landed = None;
    for attempt in 0..3 {
        let url = server.database(&format!("cluster_pg_{attempt}"));
        let failed = !run_pg_cluster(&dir, &pipeline, &url, true);
        let progress = pg::committed(&url);
        let behind = complete.iter().any(|(sink, f)| progress.get(sink) != Some(f));
        if failed && !progress.is_empty() && behind {
            landed = Some(url);
            break;
        }
    }
    let url = landed.expect("no kill landed in the middle of a run: the test proved nothing");
    let log = std::fs::read_to_string(dir.join("pg_process0.log")).unwrap_or_default();
    assert!(log.contains("lost process 1 of the cluster"), "process 0 said:\n{log}");
    assert!(run_pg_cluster(&dir, &pipeline, &url, false), "the restarted cluster failed");
    for table in PG_TABLES {
        let (expected, actual) = (pg::rows(&reference, table), pg::rows(&url, table));
        pg::assert_same_rows(&expected, &actual, &format!("after the restart: {table}"));
    }
}

#[test]
fn a_process_whose_peer_never_starts_gives_up_with_a_clear_error() {
    let dir = scratch("cluster", "alone");
    let hosts = hosts_file(&dir, 2);
    let mut command = shelfflow();
    command.args(["--quiet", "run", "pipelines/examples/decimal.yaml", "--connect-timeout", "1s"]);
    command.arg("--set").arg(format!("output_dir={}", dir.join("out").display()));
    let log = dir.join("process0.log");
    let mut alone = spawn(command, 0, &hosts, &log);
    let status = wait_at_most(&mut alone, Duration::from_secs(30));
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.is_some_and(|s| !s.success()), "it must give up and fail:\n{log}");
    assert!(
        log.contains("process 1 (127.0.0.1:") && log.contains("did not connect within 1s"),
        "{log}"
    );
    assert!(!dir.join("out").exists(), "nothing is written before the cluster is there");
}

#[test]
fn a_served_cluster_is_ready_on_every_process_and_refuses_redeploys() {
    let dir = scratch("cluster", "serve");
    let data = reference_data(&dir, STORES);
    let hosts = hosts_file(&dir, 2);
    let serve = |process: usize| {
        let mut command = shelfflow();
        command
            .args(["--quiet", "demo", "--serve", "--no-db", "--days", "30", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(dir.join(format!("out{process}")))
            .args(["--process", &process.to_string(), "--hosts"])
            .arg(&hosts);
        support::server::Server::start(command, &dir.join(format!("serve{process}.log")))
    };
    let (mut first, mut second) = (serve(0), serve(1));
    // Each process answers its own /readyz: ready once the inputs read on process 0 are loaded.
    for server in [&first, &second] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (code, ready) = server.get("/readyz");
            if (code, ready["ready"].as_bool()) == (200, Some(true)) {
                break;
            }
            assert_eq!((code, ready["ready"].as_bool()), (503, Some(false)), "{ready}");
            assert!(Instant::now() < deadline, "{} never ready", server.url);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let (code, list) = first.get("/api/pipelines");
    assert_eq!(code, 200, "{list}");
    let name = list["pipelines"][0]["name"].as_str().expect("a pipeline").to_owned();
    assert_eq!(list["pipelines"][0]["status"], "running", "{list}");
    // A redeploy through one process would leave the others on the old dataflow: refused.
    let url = format!("{}/api/pipelines/{name}", second.url);
    let (code, body) = support::server::json(ureq::put(&url).send_string("name: x\nsources: {}\n"));
    assert_eq!(code, 409, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("restart every process")), "{body}");
    // Stopping one process stops the other, which exits as `run` does (an orchestrator then
    // restarts them together).
    assert!(first.stop(), "process 0 stops cleanly");
    let status = second.wait_exit(Duration::from_secs(20)).expect("process 1 exits by itself");
    assert!(status.success(), "stopped by its peer, not failed: {status}");
}

/// The four store pipelines over the chain's topics (read to their end), files only, `workers`
/// per process, into `out`.
fn from_topics(
    data: &Path,
    fluvio: &support::fluvio::Cluster,
    out: &Path,
    workers: usize,
) -> Command {
    let mut command = shelfflow();
    command.args(["--quiet", "run"]);
    for file in ["store_ops", "warehouse", "foot_traffic", "sales"] {
        command.arg(format!("pipelines/{file}.yaml"));
    }
    command.args(["--config", "config/fluvio.yaml", "--workers", &workers.to_string()]);
    for source in ["shelf_events", "pos_transactions", "foot_traffic", "wh_events"] {
        command.args(["--set", &format!("sources.{source}.stop_at_end=true")]);
    }
    for sink in [
        "fluvio_shelf_state",
        "fluvio_store_alerts",
        "fluvio_restock_plans",
        "fluvio_supplier_orders",
        "plans_to_staff",
        "discounts_to_shelves",
        "orders_to_suppliers",
    ] {
        command.args(["--set", &format!("sinks.{sink}.enabled=false")]);
    }
    command
        .env("SHELFFLOW_OUT", out)
        .env("SHELFFLOW_DATA", data)
        .env("SIM_DAYS", "1")
        .env("SHELFFLOW_POSTGRES", "false")
        .env("FLV_PROFILE_PATH", fluvio.profile_path());
    command
}

#[test]
fn on_a_fluvio_cluster_partitioned_topics_of_three_stores_give_identical_outputs_on_two_processes()
{
    let Some(fluvio) = support::fluvio::start() else { return };
    let dir = scratch("cluster", "fluvio");
    let data = reference_data(&dir, STORES);
    // The chain's four streams, one day, on topics of two partitions each.
    let published = shelfflow()
        .args(["--quiet", "simulate", "--days", "1", "--data"])
        .arg(&data)
        .args(["--to", "fluvio", "--endpoint", &fluvio.endpoint, "--partitions", "2"])
        .output()
        .expect("shelfflow runs");
    assert!(published.status.success(), "{}", String::from_utf8_lossy(&published.stderr));
    let (one, two, cluster) = (dir.join("1x1"), dir.join("1x2"), dir.join("2x1"));
    run_one_process(from_topics(&data, &fluvio, &one, 1));
    run_one_process(from_topics(&data, &fluvio, &two, 2));
    run_two_processes(&dir, &cluster, |out, workers| from_topics(&data, &fluvio, out, workers));
    assert_identical(&[("1 process x 1 worker", &one), ("1 x 2", &two), ("2 x 1", &cluster)]);
}
