//! `shelfflow test`: tests of a user's pipeline with state and time.
//!
//! A test file names a pipeline and lists cases. Each case replaces some of the pipeline's inputs
//! with inline records, runs the pipeline to the end with every sink off, and compares named
//! collections with the rows (or the changes) it expects at given event times or at the end. The
//! collections are read as the runtime commits them, time by time, so a test sees what a sink
//! would have written: alerts opened and resolved, retractions, late records in the dead letters.
//!
//! The file is parsed strictly; cases run in order, each in a scratch directory of its own.

mod expect;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use shelfflow_connectors::{Change, ConnectorError, SinkWriter};
use shelfflow_operators::{Row, Schema, Time};

use crate::runtime::{Observe, RunOptions};
use crate::spec::{Document, Override};

pub use expect::{Expectation, Outcome};

/// A JSON object: one record or one expected row.
pub type Object = serde_json::Map<String, serde_json::Value>;

/// A test file (`pipelines/tests/*.yaml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The pipeline under test, relative to the test file.
    pub pipeline: PathBuf,
    /// Overrides of the pipeline's keys for every case, as with `--set` (`tick: 1m`).
    #[serde(default)]
    pub set: BTreeMap<String, serde_yaml_ng::Value>,
    /// The cases, run in order.
    pub tests: Vec<TestCase>,
}

/// One case: inputs replaced by inline records, and what the collections must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case shows, printed with its result.
    pub name: String,
    /// Records by source or table name, read in this order as JSON lines (event times included).
    /// An input named here reads only these records (`[]`: none); the others keep their own
    /// connector.
    #[serde(default)]
    pub inputs: BTreeMap<String, Vec<Object>>,
    /// What must hold after the run.
    pub expect: Vec<Expectation>,
}

/// What one case came to.
#[derive(Debug)]
pub struct CaseReport {
    pub name: String,
    /// Per failed expectation: what it is and the difference.
    pub failures: Vec<(String, String)>,
}

/// Why a test file could not be run (exit code 2), as opposed to a failed expectation.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("{file}: {message}")]
    Invalid { file: String, message: String, hint: Option<String> },
    #[error("{0}")]
    Pipeline(String),
    #[error("{file}: case `{case}`: the run failed: {message}")]
    Run { file: String, case: String, message: String },
}

impl TestError {
    fn invalid(file: &Path, message: impl Into<String>, hint: Option<String>) -> TestError {
        TestError::Invalid { file: file.display().to_string(), message: message.into(), hint }
    }

    /// The hint to print under the error, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            TestError::Invalid { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }
}

/// The test files under `path` (a file, or every `*.yaml` in a directory and its
/// subdirectories), sorted.
pub fn find_files(path: &Path) -> Result<Vec<PathBuf>, TestError> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_owned()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            TestError::invalid(
                &dir,
                format!("cannot read: {e}"),
                Some("give a test file or a directory of them".into()),
            )
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a test file strictly: an unknown key or a wrong type is an error at its line.
pub fn read_file(path: &Path) -> Result<TestFile, TestError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| TestError::invalid(path, format!("cannot read: {e}"), None))?;
    let hint = "a test file has `pipeline`, optional `set`, and `tests`, each with `name`, `inputs` and `expect` (see pipelines/README.md, Testing pipelines)";
    serde_yaml_ng::from_str(&text).map_err(|e| {
        let at = e.location().map_or(String::new(), |l| format!("{}:{}: ", l.line(), l.column()));
        TestError::Invalid {
            file: format!("{}:{at}", path.display()).trim_end_matches(": ").to_owned(),
            message: e.to_string(),
            hint: Some(hint.to_owned()),
        }
    })
}

/// Runs every case of `file`, read from `path`.
pub fn run_file(path: &Path, file: &TestFile) -> Result<Vec<CaseReport>, TestError> {
    let pipeline = path.parent().unwrap_or(Path::new(".")).join(&file.pipeline);
    let mut reports = Vec::new();
    for (n, case) in file.tests.iter().enumerate() {
        let scratch =
            std::env::temp_dir().join(format!("shelfflow-test-{}-{n}", std::process::id()));
        let result = run_case(path, &pipeline, file, case, &scratch);
        let _ = std::fs::remove_dir_all(&scratch);
        reports.push(result?);
    }
    Ok(reports)
}

/// Runs one case in `scratch`: its inputs replaced, every sink off, the expected collections
/// recorded as the runtime commits them, then compared.
fn run_case(
    path: &Path,
    pipeline: &Path,
    file: &TestFile,
    case: &TestCase,
    scratch: &Path,
) -> Result<CaseReport, TestError> {
    let pipeline_error = |d: crate::spec::Diagnostics| TestError::Pipeline(d.to_string());
    let raw = Document::read(pipeline).map_err(pipeline_error)?;
    let overrides = case_overrides(path, pipeline, &raw, file, case, scratch)?;
    let doc = Document::parse(pipeline, &raw, &overrides).map_err(pipeline_error)?;
    let mut plan = crate::plan_document(&doc).map_err(pipeline_error)?;
    for (k, expectation) in case.expect.iter().enumerate() {
        expectation.check(&plan).map_err(|(message, hint)| {
            TestError::invalid(path, format!("case `{}`: expect[{k}]: {message}", case.name), hint)
        })?;
    }
    let mut collections: Vec<String> = case.expect.iter().map(|e| e.collection.clone()).collect();
    collections.sort();
    collections.dedup();
    let keep: Vec<&str> = collections.iter().map(String::as_str).collect();
    plan.retain_read_outputs(&keep);
    let plan = Arc::new(plan);
    let recorded = record(&plan, collections).map_err(|e| TestError::Run {
        file: path.display().to_string(),
        case: case.name.clone(),
        message: format!("{e:#}"),
    })?;
    let mut failures = Vec::new();
    for (k, expectation) in case.expect.iter().enumerate() {
        let schema = &plan.collections[&expectation.collection];
        let changes = recorded.get(&expectation.collection).map_or(&[][..], Vec::as_slice);
        if let Outcome::Failed(difference) = expectation.evaluate(schema, changes, plan.tick) {
            failures.push((format!("expect[{k}]: {}", expectation.describe()), difference));
        }
    }
    Ok(CaseReport { name: case.name.clone(), failures })
}

/// The overrides that run `pipeline` (whose text is `raw`) for `case`: the file's `set`, each
/// named input read from a JSONL file of its records in `scratch`, every sink off, and the
/// outputs in `scratch`.
fn case_overrides(
    path: &Path,
    pipeline: &Path,
    raw: &str,
    file: &TestFile,
    case: &TestCase,
    scratch: &Path,
) -> Result<Vec<Override>, TestError> {
    let mut overrides: Vec<Override> = file
        .set
        .iter()
        .map(|(key, value)| Override {
            path: key.clone(),
            value: serde_yaml_ng::to_string(value).unwrap_or_default().trim_end().to_owned(),
            optional: false,
        })
        .collect();
    let bare = Document::parse(pipeline, raw, &overrides)
        .map_err(|d| TestError::Pipeline(d.to_string()))?;
    let names = |section: &str| -> Vec<String> {
        bare.value
            .get(section)
            .and_then(serde_yaml_ng::Value::as_mapping)
            .map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let (sources, tables, sinks) = (names("sources"), names("tables"), names("sinks"));
    std::fs::create_dir_all(scratch)
        .map_err(|e| TestError::invalid(scratch, format!("cannot create: {e}"), None))?;
    let mut put = |path: String, value: String| {
        overrides.push(Override { path, value, optional: false });
    };
    for (input, records) in &case.inputs {
        let section = match (sources.contains(input), tables.contains(input)) {
            (true, _) => "sources",
            (_, true) => "tables",
            _ => {
                let known: Vec<&str> = sources.iter().chain(&tables).map(String::as_str).collect();
                let message = format!(
                    "case `{}`: `inputs.{input}`: the pipeline has no source or table `{input}`",
                    case.name
                );
                let hint = Some(format!("inputs: {}", known.join(", ")));
                return Err(TestError::invalid(path, message, hint));
            }
        };
        let file = scratch.join(format!("{input}.jsonl"));
        let lines: String =
            records.iter().map(|r| format!("{}\n", serde_json::Value::Object(r.clone()))).collect();
        std::fs::write(&file, lines)
            .map_err(|e| TestError::invalid(&file, format!("cannot write: {e}"), None))?;
        put(format!("{section}.{input}.connector"), "file".to_owned());
        put(format!("{section}.{input}.path"), file.display().to_string());
        put(format!("{section}.{input}.format"), "jsonl".to_owned());
        if section == "sources" {
            put(format!("{section}.{input}.follow"), "false".to_owned());
        }
    }
    for sink in &sinks {
        put(format!("sinks.{sink}.enabled"), "false".to_owned());
    }
    put("output_dir".to_owned(), scratch.join("out").display().to_string());
    put("dead_letter.path".to_owned(), scratch.join("dead_letter.jsonl").display().to_string());
    Ok(overrides)
}

/// Runs `plan` on one worker and returns every change committed to each of `collections`.
fn record(
    plan: &Arc<crate::planner::Plan>,
    collections: Vec<String>,
) -> anyhow::Result<BTreeMap<String, Vec<Committed>>> {
    let recorded: Recorded = Arc::default();
    let into = recorded.clone();
    let observe = Observe {
        collections,
        open: Arc::new(move |collection: &str, _: &Schema| {
            Box::new(Recorder { collection: collection.to_owned(), into: into.clone() })
                as Box<dyn SinkWriter>
        }),
    };
    let options = RunOptions {
        workers: 1,
        quiet: true,
        tap: None,
        store: None,
        observe: Some(observe),
        cluster: None,
    };
    crate::run_plan(plan.clone(), options)?;
    let recorded = std::mem::take(&mut *recorded.lock().expect("not poisoned"));
    Ok(recorded)
}

/// A committed change of a collection: its time, whether the key now has the row or no longer
/// has it, and the row.
pub type Committed = (Time, bool, Row);

/// The changes of each observed collection, in commit order.
type Recorded = Arc<Mutex<BTreeMap<String, Vec<Committed>>>>;

/// Keeps every change the runtime commits to one observed collection.
struct Recorder {
    collection: String,
    into: Recorded,
}

impl SinkWriter for Recorder {
    fn write(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        let mut recorded = self.into.lock().expect("not poisoned");
        let log = recorded.entry(self.collection.clone()).or_default();
        for change in changes {
            let upsert = change.op == shelfflow_connectors::ChangeOp::Upsert;
            log.push((time, upsert, change.row.to_vec()));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}
