//! `retention` on a sink, against a recomputation: the output holds exactly the rows of the
//! unretained output whose `retention_by` time is within the retention of the collection's last
//! time, and its changelog removes each older row once (never a row that is not there).

mod support {
    pub mod binary;
}

use std::collections::BTreeMap;

use chrono::DateTime;
use support::binary::{scratch, shelfflow};

const MINUTE: i64 = 60;

fn seconds(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text).expect("a timestamp").timestamp()
}

#[test]
fn a_sink_keeps_the_rows_within_its_retention_and_deletes_the_others_once() {
    let out = scratch("retention", "sink");
    let done = shelfflow()
        .args(["--quiet", "run", "pipelines/examples/retention_sink.yaml", "--set"])
        .arg(format!("output_dir={}", out.display()))
        .output()
        .expect("shelfflow runs");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let read = |name: &str| std::fs::read_to_string(out.join(name)).expect("an output");

    // The oracle: every window, filtered by its start against the last event time.
    let events = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("pipelines/examples/data/shelf_events.jsonl"),
    )
    .unwrap();
    let last = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["timestamp"].as_str().map(seconds))
        .max()
        .unwrap();
    let all = read("all_minutes.csv");
    let (header, rows) = all.split_once('\n').unwrap();
    let kept: Vec<&str> = rows
        .lines()
        .filter(|row| seconds(row.split(',').next().unwrap()) + 2 * MINUTE > last)
        .collect();
    assert!(!kept.is_empty() && kept.len() < rows.lines().count(), "the example retains some rows");
    assert_eq!(read("recent_minutes.csv"), format!("{header}\n{}\n", kept.join("\n")));

    // The changelog: each removed window is deleted once, and its last state is the retained rows.
    let mut state: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut deleted = Vec::new();
    for line in read("recent_minutes_changes.jsonl").lines() {
        let change: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = change["key"]["window_start"].as_str().unwrap().to_owned();
        match change["op"].as_str() {
            Some("upsert") => {
                state.insert(key, change["row"].clone());
            }
            _ => {
                assert!(state.remove(&key).is_some(), "deleted a window that is not there: {key}");
                deleted.push(key);
            }
        }
    }
    let starts: Vec<&str> = kept.iter().map(|r| r.split(',').next().unwrap()).collect();
    assert_eq!(state.keys().map(String::as_str).collect::<Vec<_>>(), starts);
    assert_eq!(deleted.len(), rows.lines().count() - kept.len());
}
