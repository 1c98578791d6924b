//! Golden tests of validation errors: every `tests/config/error-*.yaml` must fail validation
//! with exit code 2 and exactly the message in its `.expected` file. `UPDATE_GOLDEN=1` rewrites
//! the expected files (review the diff before committing).

use std::path::{Path, PathBuf};
use std::process::Command;

fn shelfflow() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shelfflow"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/config exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("error-")))
        .collect();
    files.sort();
    files
}

#[test]
fn every_error_fixture_gives_its_exact_message_and_exit_code_2() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let fixtures = fixtures();
    assert!(fixtures.len() >= 12, "the error classes are all covered");
    let mut failures = Vec::new();
    for file in fixtures {
        let relative = file.strip_prefix(env!("CARGO_MANIFEST_DIR")).expect("inside the crate");
        let output = shelfflow().arg("validate").arg(relative).output().expect("shelfflow runs");
        assert_eq!(output.status.code(), Some(2), "{}: exit code", relative.display());
        let stderr = String::from_utf8(output.stderr).expect("utf-8 diagnostics");
        assert!(!stderr.contains("panicked"), "{}: {stderr}", relative.display());
        let expected_path = file.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &stderr).expect("write golden file");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!("missing {} (run with UPDATE_GOLDEN=1)", expected_path.display())
        });
        if stderr != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n--- actual\n{stderr}",
                relative.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn shipped_pipelines_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("pipelines/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let output = shelfflow().arg("validate").arg(&path).output().expect("shelfflow runs");
            if path.ends_with("demand_forecast.yaml") {
                // It reads a trained model, which a fresh clone does not have: validation says
                // how to make one (tests/forecast.rs validates and runs it with a model). A model
                // directory that surely holds none stands in for the fresh clone's.
                let output = shelfflow()
                    .arg("validate")
                    .arg(&path)
                    .env("MODEL_DIR", "target/no-models/demand")
                    .output()
                    .expect("shelfflow runs");
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert_eq!(output.status.code(), Some(2), "{stderr}");
                let hint = "`shelfflow model train --out target/no-models --name demand`";
                assert!(stderr.contains(hint), "{stderr}");
                count += 1;
                continue;
            }
            assert!(
                output.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            count += 1;
        }
    }
    assert!(count > 0);
}

#[test]
fn sinks_that_no_source_feeds_get_a_located_warning_and_exit_0() {
    let output = shelfflow()
        .args(["validate", "tests/config/warning-tables-only.yaml"])
        .output()
        .expect("shelfflow runs");
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8(output.stderr).expect("utf-8 diagnostics");
    assert_eq!(
        stderr,
        "warning: tests/config/warning-tables-only.yaml:14:1: sinks: no sink reads anything that a source feeds\n 14 | sinks:\n    | ^\n  hint: a sink of tables alone is written once and never changes; read a source, or an operator over one\n\n"
    );
}
