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

/// Runs `pipelines/examples/<example>.yaml` into a scratch directory, which it returns.
fn run_example(example: &str) -> std::path::PathBuf {
    let out = scratch("retention", example);
    let done = shelfflow()
        .args(["--quiet", "run", &format!("pipelines/examples/{example}.yaml"), "--set"])
        .arg(format!("output_dir={}", out.display()))
        .output()
        .expect("shelfflow runs");
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    out
}

#[test]
fn a_sink_keeps_the_rows_within_its_retention_and_deletes_the_others_once() {
    let out = run_example("retention_sink");
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

/// The accepted events of the example data: every line the run did not dead-letter, as
/// (shelf, quantity, event time in seconds).
fn accepted_events(dead_letters: &str) -> Vec<(String, i64, i64)> {
    let path = "pipelines/examples/data/shelf_events.jsonl";
    let dead: Vec<String> = dead_letters
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["position"].to_string())
        .collect();
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap();
    text.lines()
        .enumerate()
        .filter(|(n, _)| !dead.contains(&format!("\"{path}:{}\"", n + 1)))
        .map(|(_, line)| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let shelf = v["shelf_id"].as_str().unwrap().to_owned();
            (shelf, v["quantity"].as_i64().unwrap(), seconds(v["timestamp"].as_str().unwrap()))
        })
        .collect()
}

/// `shelf_id,events,units` rows of `events` grouped by shelf, sorted by shelf.
fn per_shelf<'a>(events: impl Iterator<Item = &'a (String, i64, i64)>) -> String {
    let mut groups: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (shelf, quantity, _) in events {
        let group = groups.entry(shelf).or_default();
        group.0 += 1;
        group.1 += quantity;
    }
    let rows: String = groups.iter().map(|(s, (n, u))| format!("{s},{n},{u}\n")).collect();
    format!("shelf_id,events,units\n{rows}")
}

#[test]
fn an_aggregate_forgets_input_rows_older_than_its_retention_and_another_keeps_them() {
    let out = run_example("retention_aggregate");
    let read = |name: &str| std::fs::read_to_string(out.join(name)).expect("an output");

    // The oracle: a from-scratch grouping of the events each aggregate should still count.
    let events = accepted_events(&read("dead_letter.jsonl"));
    let last = events.iter().map(|e| e.2).max().unwrap();
    let recent = per_shelf(events.iter().filter(|e| e.2 + 2 * MINUTE > last));
    let recent_minutes =
        per_shelf(events.iter().filter(|e| e.2 - e.2.rem_euclid(MINUTE) + 2 * MINUTE > last));
    assert_eq!(read("all_time_csv.csv"), per_shelf(events.iter()));
    assert_eq!(read("recent_csv.csv"), recent);
    assert_eq!(read("recent_minutes_csv.csv"), recent_minutes);
    assert_ne!(recent, recent_minutes, "the two retentions differ on this data");
    assert!(recent.lines().count() < per_shelf(events.iter()).lines().count(), "a group is gone");

    // A group whose last row expired is deleted from the changelog at that row's time + 2m.
    let changes = read("recent_changes.jsonl");
    let deletes: Vec<serde_json::Value> = changes
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|c| c["op"] == "delete")
        .collect();
    let gone: Vec<&str> = deletes.iter().map(|c| c["key"]["shelf_id"].as_str().unwrap()).collect();
    assert_eq!(gone, ["S2", "S3"]);
    assert_eq!(deletes[1]["time"], "2026-01-01T08:03:10Z", "S3's only event was at 08:01:10");
}
