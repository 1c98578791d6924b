//! `shelfflow test`: the shipped pipelines' tests pass, a wrong expectation fails with a diff and
//! exit code 1, and an invalid test file is a located error with exit code 2.

mod support {
    pub mod binary;
}

use std::path::Path;

use support::binary::{scratch, shelfflow};

fn run_tests(paths: &[&Path]) -> (i32, String, String) {
    let out = shelfflow().arg("test").args(paths).output().expect("shelfflow runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// A test file of `pipelines/shelf_stock.yaml` in `dir`, with `expect` as its one expectation.
fn write_test(dir: &Path, expect: &str) -> std::path::PathBuf {
    let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/shelf_stock.yaml");
    let file = dir.join("stock.yaml");
    let text = format!(
        "pipeline: {}\ntests:\n  - name: two pickups\n    inputs:\n      shelves:\n        - {{shelf_id: S1, item_category: WINES, maximum_stock: 40, initial_stock: 20}}\n      shelf_events:\n        - {{event_id: e1, event_type: pickup, shelf_id: S1, quantity: 4, timestamp: \"2026-01-01T08:00:00Z\"}}\n        - {{event_id: e2, event_type: pickup, shelf_id: S1, quantity: 5, timestamp: \"2026-01-01T08:00:10Z\"}}\n    expect:\n{expect}",
        pipeline.display()
    );
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn the_shipped_pipelines_pass_their_tests() {
    let (code, stdout, stderr) = run_tests(&[Path::new("pipelines/tests")]);
    assert_eq!(code, 0, "shelfflow test pipelines/tests failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" failed") && stdout.contains(", 0 failed"), "{stdout}");
    assert!(!stdout.contains("0 cases"), "no test case ran: {stdout}");
}

#[test]
fn a_wrong_expectation_fails_with_the_difference() {
    let dir = scratch("pipeline_tests", "wrong");
    let at_first = "      - collection: stock\n        at: 2026-01-01T08:00:00Z\n        rows:\n          - {shelf_id: S1, current_stock: 16}\n";
    let wrong_end =
        "      - collection: stock\n        rows:\n          - {shelf_id: S1, current_stock: 12}\n";
    let right = write_test(&dir, at_first);
    let (code, stdout, _) = run_tests(&[&right]);
    assert_eq!(code, 0, "{stdout}");
    let wrong = write_test(&dir, &format!("{at_first}{wrong_end}"));
    let (code, stdout, _) = run_tests(&[&wrong]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAIL  two pickups"), "{stdout}");
    assert!(stdout.contains("expect[1]: rows of `stock` at the end"), "{stdout}");
    assert!(
        stdout.contains(r#"- expected, not found: {"shelf_id":"S1","current_stock":12}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"+ found, not expected: {"shelf_id":"S1","current_stock":11}"#),
        "{stdout}"
    );
}

#[test]
fn an_invalid_test_file_is_a_located_error() {
    let dir = scratch("pipeline_tests", "invalid");
    let unknown_column = write_test(
        &dir,
        "      - collection: stock\n        rows:\n          - {shelf, current_stock: 12}\n",
    );
    let (code, _, stderr) = run_tests(&[&unknown_column]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("expect[0]: `stock` has no column `shelf`"), "{stderr}");
    assert!(stderr.contains("hint: columns: shelf_id,"), "{stderr}");
    let typo = dir.join("typo.yaml");
    std::fs::write(&typo, "pipeline: x.yaml\ntests:\n  - name: t\n    expected: []\n").unwrap();
    let (code, _, stderr) = run_tests(&[&typo]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("typo.yaml:4:5") && stderr.contains("unknown field `expected`"),
        "{stderr}"
    );
}
