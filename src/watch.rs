//! `shelfflow run --watch`: revalidate on every save. An invalid edit is reported and the running
//! pipeline keeps running untouched; a valid edit replaces the running dataflow, and every sink
//! then receives only the difference between its old results and the new ones.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use notify::Watcher;

use crate::planner::Plan;
use crate::runtime::{self, Metrics, RunOptions, SinkStore, Summary};
use crate::spec::Override;

/// The deployment whose counters `/metrics` serves.
#[derive(Default)]
struct Serving(Mutex<Option<(Arc<Metrics>, Arc<Plan>)>>);

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Serving")
    }
}

impl crate::serve::prometheus::Runs for Serving {
    fn each_run(&self, f: &mut dyn FnMut(&str, &Plan, &Metrics)) {
        if let Some((metrics, plan)) = self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            f(&plan.name, plan, metrics);
        }
    }
}

/// What wakes the watch loop.
enum Wake {
    /// The pipeline file changed.
    Edited,
    /// Ctrl-C or SIGTERM.
    Stop,
}

/// The running dataflow.
struct Deployment {
    generation: u64,
    metrics: Arc<Metrics>,
    handle: JoinHandle<()>,
}

impl Deployment {
    /// Stops the dataflow and waits for its sinks to flush.
    fn retire(self) {
        self.metrics.request_stop();
        if self.handle.join().is_err() {
            eprintln!("error: generation {} panicked", self.generation);
        }
    }
}

/// Runs one generation and reports how it ended: `done` once its finite sources are exhausted,
/// `stopped` when replaced or interrupted.
fn deploy(
    generation: u64,
    plan: Arc<Plan>,
    options: RunOptions,
    metrics: Arc<Metrics>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(format!("deploy-{generation}")).spawn(move || {
        let quiet = options.quiet;
        let result: Result<Summary, runtime::RunError> =
            runtime::run(plan, options, metrics.clone());
        let ended = if metrics.stopping() { "stopped" } else { "done" };
        match result {
            Ok(summary) if !quiet => eprintln!("generation {generation}: {ended}\n{summary}"),
            Ok(_) => {}
            Err(e) => eprintln!("error: generation {generation}: {e}"),
        }
    })
}

/// Runs `file`, redeploying on every valid save, until interrupted.
pub fn run_watching(
    file: &Path,
    overrides: &[Override],
    options: RunOptions,
    metrics_addr: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let (wake, woken) = mpsc::channel();
    let target: PathBuf =
        std::fs::canonicalize(file).with_context(|| format!("cannot watch {}", file.display()))?;
    let on_edit = wake.clone();
    let watched = target.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if event.paths.iter().any(|p| p == &watched)
                && !matches!(event.kind, notify::EventKind::Access(_))
            {
                let _ = on_edit.send(Wake::Edited);
            }
        }
    })?;
    // Editors often replace the file, so watch its directory.
    let dir = target.parent().unwrap_or(Path::new("."));
    watcher.watch(dir, notify::RecursiveMode::NonRecursive)?;
    let on_signal = wake;
    crate::ctrlc_handler(move || {
        let _ = on_signal.send(Wake::Stop);
    })?;

    let serving = Arc::new(Serving::default());
    if let Some(addr) = metrics_addr {
        crate::serve::serve_metrics(addr, serving.clone())?;
    }
    let store = Arc::new(SinkStore::default());
    let options = RunOptions { store: Some(store), ..options };
    let quiet = options.quiet;
    let mut current: Option<Deployment> = None;
    let mut generation = 0;
    loop {
        match crate::load_plan(file, overrides) {
            Ok(plan) => {
                if let Some(old) = current.take() {
                    old.retire();
                }
                generation += 1;
                let plan = Arc::new(plan);
                let metrics = Arc::new(Metrics::new(plan.inputs.len(), plan.sinks.len()));
                *serving.0.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((metrics.clone(), plan.clone()));
                tracing::info!(generation, pipeline = %plan.name, definition = %plan.definition_hash, "deploying");
                if !quiet {
                    eprintln!(
                        "generation {generation}: running {} ({} operators, {} sinks)",
                        plan.name,
                        plan.operators.len(),
                        plan.sinks.len()
                    );
                }
                let handle = deploy(generation, plan, options.clone(), metrics.clone())?;
                current = Some(Deployment { generation, metrics, handle });
            }
            Err(diagnostics) => {
                tracing::warn!(
                    generation,
                    errors = diagnostics.0.len(),
                    "invalid edit; keeping the running generation"
                );
                eprintln!("{diagnostics}");
                if current.is_some() {
                    eprintln!("the edit is invalid; generation {generation} keeps running");
                }
            }
        }
        // Wait for the next save; editors write in bursts, so settle first.
        match woken.recv() {
            Ok(Wake::Edited) => {
                std::thread::sleep(Duration::from_millis(200));
                let mut stop = false;
                while let Ok(w) = woken.try_recv() {
                    stop |= matches!(w, Wake::Stop);
                }
                if stop {
                    break;
                }
            }
            Ok(Wake::Stop) | Err(_) => break,
        }
    }
    if let Some(old) = current.take() {
        old.retire();
    }
    Ok(ExitCode::SUCCESS)
}
