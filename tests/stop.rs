//! A stop (SIGTERM) in the middle of a long run: the process ends promptly, every sink holds whole
//! timestamps only (its output is a prefix of an uninterrupted run's, cut at a timestamp), and the
//! summary says up to which time each sink is complete.

mod support {
    pub mod binary;
    pub mod events;
}

use std::path::Path;
use std::time::{Duration, Instant};

use support::binary::{scratch, shelfflow};

const PIPELINE: &str = "name: stop
tick: 1s
sources:
  shelf_events:
    connector: file
    path: EVENTS
    schema: {event_id: string, event_type: string, shelf_id: string, quantity: int, customer_id: string?, timestamp: timestamp}
    event_time: timestamp
operators:
  stock:
    op: aggregate
    input: shelf_events
    group_by: [shelf_id]
    aggregates:
      net: \"sum(CASE event_type WHEN 'pickup' THEN -quantity ELSE quantity END)\"
sinks:
  stock_changes:
    input: stock
    connector: file
    format: jsonl
";

fn run(dir: &Path, out: &str) -> std::process::Child {
    shelfflow()
        .args(["--quiet", "run"])
        .arg(dir.join("stop.yaml"))
        .arg("--set")
        .arg(format!("output_dir={}", dir.join(out).display()))
        .arg("--summary-json")
        .arg(dir.join(format!("{out}.json")))
        .spawn()
        .expect("shelfflow runs")
}

fn time_of(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).expect("json line");
    v["time"].as_str().expect("time").to_owned()
}

#[test]
fn sigterm_mid_run_leaves_whole_timestamps_and_says_up_to_when() {
    let dir = scratch("stop", "sigterm");
    let events = support::events::shelf_events(600_000);
    std::fs::write(dir.join("events.jsonl"), support::events::jsonl(&events)).expect("events");
    let yaml = PIPELINE.replace("EVENTS", &dir.join("events.jsonl").display().to_string());
    std::fs::write(dir.join("stop.yaml"), yaml).expect("pipeline");

    let full = run(&dir, "full").wait_with_output().expect("full run");
    assert!(full.status.success(), "uninterrupted run");
    let full_log = std::fs::read_to_string(dir.join("full/stock_changes.jsonl")).expect("log");

    let mut child = run(&dir, "stopped");
    let log = dir.join("stopped/stock_changes.jsonl");
    // Stop as soon as the first changes are written: far from the end of the input.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&log).map_or(true, |m| m.len() == 0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let signalled = Instant::now();
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().expect("stopped run");
    let stop_took = signalled.elapsed();
    assert!(status.success(), "a stopped run ends cleanly: {status:?}");
    assert!(stop_took < Duration::from_secs(10), "the stop took {stop_took:?}");

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("stopped.json")).expect("summary"))
            .expect("json");
    assert!(summary["events_in"].as_u64().unwrap() < 600_000, "stopped before the end: {summary}");
    let sinks = summary["stopped"].as_array().expect("the summary says the run was stopped");
    let until = sinks
        .iter()
        .find(|s| s["sink"] == "stock_changes")
        .and_then(|s| s["written_until"].as_str())
        .expect("the changelog's last complete time");

    // The stopped changelog is exactly the uninterrupted one up to and including `until`.
    let stopped_log = std::fs::read_to_string(&log).expect("log");
    let expected: Vec<&str> =
        full_log.lines().take_while(|l| time_of(l).as_str() <= until).collect();
    let got: Vec<&str> = stopped_log.lines().collect();
    assert!(!got.is_empty(), "something was written before the stop");
    assert!(got.len() < full_log.lines().count(), "the stop came before the end");
    assert_eq!(got, expected, "whole timestamps only, up to {until}");
}
