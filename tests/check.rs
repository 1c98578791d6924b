//! The `check` operator end to end: violations as a collection and in the summary, the same
//! whatever the worker count, and `on_violation: fail` ending the run with the violation named.

mod support {
    pub mod binary;
}

use support::binary::{scratch, shelfflow};

const EXAMPLE: &str = "pipelines/examples/check.yaml";

fn run(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    shelfflow()
        .args(["--quiet", "run", EXAMPLE, "--set"])
        .arg(format!("output_dir={}", out.display()))
        .arg("--summary-json")
        .arg(out.join("summary.json"))
        .args(extra)
        .output()
        .expect("shelfflow runs")
}

#[test]
fn violations_are_rows_counted_in_the_summary_whatever_the_worker_count() {
    let mut outputs = Vec::new();
    for workers in ["1", "2"] {
        let out = scratch("check", &format!("workers-{workers}"));
        let done = run(&out, &["--workers", workers]);
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(
            summary["violations"],
            serde_json::json!([
                {"check": "arrival_quality", "violations": 2},
                {"check": "event_quality", "violations": 4}
            ])
        );
        outputs.push(std::fs::read_to_string(out.join("violations.csv")).unwrap());
        let late = std::fs::read_to_string(out.join("late_arrivals.csv")).unwrap();
        // `max_lateness,"{""event_id"":""l3""}",55s,...`: the id is the fourth `""`-separated part.
        let late_ids: Vec<&str> =
            late.lines().skip(1).filter_map(|l| l.split("\"\"").nth(3)).collect();
        assert_eq!(late_ids, ["l3", "l4"], "{late}");
    }
    assert_eq!(outputs[0], outputs[1], "violations differ between 1 and 2 workers");
    let rules: Vec<&str> =
        outputs[0].lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(
        rules,
        ["matches(shelf_id)", "not_null(customer_id)", "range(quantity)", "unique_by(event_id)"]
    );
}

#[test]
fn a_failing_check_stops_the_run_with_the_violation() {
    let out = scratch("check", "fail");
    let done = run(&out, &["--set", "operators.event_quality.on_violation=fail"]);
    assert_eq!(done.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(stderr.contains("check `event_quality` failed: {\"rule\":"), "{stderr}");
}
