//! Pipelines built on pipelines (`connector: pipeline`): a source bound to another pipeline's
//! collection when both run, empty (with a warning) alone, and clear errors for a column that does
//! not fit and for pipelines that read each other in a cycle.

mod support {
    pub mod binary;
}

use std::path::Path;

use support::binary::{scratch, shelfflow};

/// Units picked per shelf from the sample events (a changing aggregate).
const TOTALS: &str = r#"name: totals
tick: 1m
sources:
  shelf_events:
    connector: file
    path: data/sample/shelf_events.jsonl
    schema: {event_id: string, event_type: string, shelf_id: string, quantity: int, timestamp: timestamp}
    event_time: timestamp
operators:
  picked:
    op: aggregate
    input: shelf_events
    group_by: [shelf_id]
    aggregates:
      units: sum(quantity)
      events: count(*)
sinks:
  picked_csv: {input: picked, connector: file, path: OUT/picked.csv}
"#;

/// Reads `picked` (two of its three columns, in another order) and keeps the busy shelves.
const BUSY: &str = r#"name: busy
tick: 1m
tables:
  totals:
    connector: pipeline
    collection: picked
    schema: {units: int, shelf_id: string}
    key: [shelf_id]
operators:
  busy:
    op: filter
    input: totals
    where: units >= 3
sinks:
  busy_csv: {input: busy, connector: file, path: OUT/busy.csv}
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text.replace("OUT", &dir.display().to_string())).unwrap();
    path.display().to_string()
}

fn run(files: &[&str]) -> std::process::Output {
    shelfflow().arg("run").args(files).output().unwrap()
}

#[test]
fn a_pipeline_source_reads_the_collection_of_a_pipeline_run_alongside() {
    let dir = scratch("compose", "bound");
    let (totals, busy) = (write(&dir, "totals.yaml", TOTALS), write(&dir, "busy.yaml", BUSY));
    // Listed before the pipeline it reads: the operators are ordered by what they read.
    let both = run(&[&busy, &totals]);
    assert!(both.status.success(), "{}", String::from_utf8_lossy(&both.stderr));
    let picked = std::fs::read_to_string(dir.join("picked.csv")).unwrap();
    let busy_rows = std::fs::read_to_string(dir.join("busy.csv")).unwrap();
    let mut expected = vec!["units,shelf_id".to_owned()];
    for line in picked.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[1].parse::<i64>().unwrap() >= 3 {
            expected.push(format!("{},{}", cells[1], cells[0]));
        }
    }
    assert!(expected.len() > 1, "the sample has busy shelves: {picked}");
    let mut got: Vec<String> = busy_rows.lines().map(str::to_owned).collect();
    got[1..].sort();
    expected[1..].sort();
    assert_eq!(got, expected, "the filter over the bound aggregate");

    // Alone, the source is empty and says so.
    let alone = run(&[&busy]);
    assert!(alone.status.success());
    let stderr = String::from_utf8_lossy(&alone.stderr);
    assert!(stderr.contains("`totals` reads collection `picked`"), "{stderr}");
    assert!(stderr.contains("stays empty"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("busy.csv")).unwrap().trim(), "units,shelf_id");
}

#[test]
fn a_column_that_does_not_fit_and_a_cycle_are_errors() {
    let dir = scratch("compose", "errors");
    let totals = write(&dir, "totals.yaml", TOTALS);
    let mistyped = write(&dir, "busy.yaml", &BUSY.replace("units: int", "units: float"));
    let out = run(&[&totals, &mistyped]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("source `totals` (collection `picked`)"), "{stderr}");
    assert!(stderr.contains("`units` is int in the collection, declared float"), "{stderr}");

    let unknown = write(&dir, "busy.yaml", &BUSY.replace("units: int", "units: int, ghost: int"));
    let stderr = String::from_utf8_lossy(&run(&[&totals, &unknown]).stderr).into_owned();
    assert!(stderr.contains("has no column `ghost`"), "{stderr}");

    // totals reads busy's output and busy reads totals': a cycle.
    let looped = TOTALS.replace(
        "sources:\n",
        "tables:\n  back:\n    connector: pipeline\n    collection: busy\n    schema: {shelf_id: string}\n    key: [shelf_id]\nsources:\n",
    );
    let looped = looped.replace(
        "  picked:\n    op: aggregate\n    input: shelf_events",
        "  known:\n    op: join\n    left: shelf_events\n    right: back\n    on: [shelf_id]\n  picked:\n    op: aggregate\n    input: known",
    );
    let cyclic = write(&dir, "totals.yaml", &looped);
    let busy = write(&dir, "busy.yaml", BUSY);
    let out = run(&[&cyclic, &busy]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in a cycle through"), "{stderr}");
}
