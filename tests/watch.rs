//! `run --watch`: an invalid edit leaves the running pipeline alone; a valid edit redeploys and
//! every sink receives exactly the difference between the old and the new results.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PIPELINE: &str = "pipelines/shelf_stock.yaml";

/// The pipeline with its outputs redirected into `out`.
fn pipeline_text(out: &Path) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(PIPELINE))
        .expect("pipeline");
    text.replace("${SHELFFLOW_OUT:-out}", &out.display().to_string())
}

struct Watching(Child);

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(log: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {needle:?}; log:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Folds a JSONL changelog into the final rows by key.
fn replay(changelog: &Path) -> BTreeMap<String, String> {
    let mut state = BTreeMap::new();
    for line in std::fs::read_to_string(changelog).expect("changelog").lines() {
        let change: serde_json::Value = serde_json::from_str(line).expect("json line");
        let key = change["key"].to_string();
        match change["op"].as_str() {
            Some("upsert") => {
                state.insert(key, change["row"].to_string());
            }
            Some("delete") => {
                assert!(state.remove(&key).is_some(), "delete of a key that is not there: {line}");
            }
            other => panic!("unexpected op {other:?}"),
        }
    }
    state
}

#[test]
fn redeploy_writes_only_the_difference_and_invalid_edits_change_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("pipeline.yaml");
    let out = dir.path().join("out");
    std::fs::write(&file, pipeline_text(&out)).expect("write pipeline");
    let log = dir.path().join("stderr.log");
    let child = Command::new(env!("CARGO_BIN_EXE_shelfflow"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--watch"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("shelfflow starts");
    let _guard = Watching(child);
    wait_for(&log, "generation 1: done");
    let stock_log = out.join("shelf_stock/stock_changelog.jsonl");
    let alerts_log = out.join("shelf_stock/open_alerts.jsonl");
    let stock_before = std::fs::read_to_string(&stock_log).expect("stock changelog");
    let alerts_before = std::fs::read_to_string(&alerts_log).expect("alerts changelog");

    // An invalid edit is reported; nothing is redeployed or written.
    let text = pipeline_text(&out);
    std::fs::write(
        &file,
        text.replace("current_stock < 0.3 * maximum_stock", "current_stock < 0.3 * maximum_stok"),
    )
    .unwrap();
    let logged = wait_for(&log, "the edit is invalid; generation 1 keeps running");
    assert!(logged.contains("unknown column `maximum_stok`"), "{logged}");
    assert_eq!(std::fs::read_to_string(&alerts_log).unwrap(), alerts_before);

    // A valid edit: a higher refill threshold.
    let edited =
        text.replace("current_stock < 0.3 * maximum_stock", "current_stock < 0.4 * maximum_stock");
    std::fs::write(&file, &edited).unwrap();
    wait_for(&log, "generation 2: done");
    assert_eq!(
        std::fs::read_to_string(&stock_log).unwrap(),
        stock_before,
        "stock did not change: no new lines"
    );
    let alerts_after = std::fs::read_to_string(&alerts_log).unwrap();
    let appended = &alerts_after[alerts_before.len()..];
    assert!(!appended.is_empty(), "the threshold change opens alerts");
    let times: std::collections::BTreeSet<String> = appended
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["time"].to_string())
        .collect();
    assert_eq!(times.len(), 1, "the difference is one batch at the latest time");

    // The changelog now replays to exactly what a fresh run of the edited pipeline gives.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh_out = fresh_dir.path().join("out");
    let fresh_file = fresh_dir.path().join("pipeline.yaml");
    std::fs::write(
        &fresh_file,
        edited.replace(&out.display().to_string(), &fresh_out.display().to_string()),
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_shelfflow"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet"])
        .arg(&fresh_file)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(replay(&alerts_log), replay(&fresh_out.join("shelf_stock/open_alerts.jsonl")));
    assert_eq!(replay(&stock_log), replay(&fresh_out.join("shelf_stock/stock_changelog.jsonl")));
}
