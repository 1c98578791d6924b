//! The pipelines a `serve` process runs: deploy, redeploy, restart and delete, each pipeline on
//! threads of its own, so a failing one never takes the others or the server down.
//!
//! Every pipeline keeps its sinks in a [`SinkStore`] across redeploys, with the semantics of
//! `run --watch`: a redeployed dataflow recomputes silently, and each sink then receives only the
//! difference between its old results and the new ones. The same store holds the live views of the
//! collections the API serves.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use shelfflow_operators::value::format_timestamp;
use shelfflow_operators::Row;

use super::views::Views;
use crate::planner::{Difference, InputRole, Plan};
use crate::runtime::{self, view_name, Metrics, Observe, RunOptions, SinkStore, Summary};
use crate::spec::{Diagnostics, Document, Override};

/// What every deployment shares.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--config` and `--set` overrides, applied to each pipeline that has their parent path.
    pub overrides: Vec<Override>,
    /// Timely worker threads per pipeline.
    pub workers: usize,
    /// Collections to keep live views of besides every sink's input (the dashboard's).
    pub observe: Vec<String>,
    /// Run as one process of a timely cluster: the pipelines are one dataflow over every
    /// process, deployed when the processes start (a redeploy restarts them all).
    pub cluster: Option<crate::runtime::cluster::Cluster>,
}

/// How a pipeline's current run stands.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Running.
    Running,
    /// Its finite sources are exhausted and its sinks flushed.
    Finished(Box<Summary>),
    /// Stopped by a request (delete, restart, shutdown).
    Stopped,
    /// It failed; the message says why.
    Failed(String),
}

impl Outcome {
    /// `running`, `finished`, `stopped` or `failed`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Finished(_) => "finished",
            Outcome::Stopped => "stopped",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// Where a deployment's definition comes from.
#[derive(Debug, Clone)]
pub enum Definition {
    /// A file, read again on restart.
    File(PathBuf),
    /// A YAML body sent to the API.
    Body(String),
    /// Several files run as one dataflow (`demo --serve`), read again on restart.
    Merged(Vec<PathBuf>),
}

/// One deployed pipeline.
struct Deployed {
    definition: Definition,
    plan: Arc<Plan>,
    generation: u64,
    observed: Vec<String>,
    run: Run,
    store: Arc<SinkStore>,
    views: Arc<Views>,
}

/// One run of a deployment.
struct Run {
    metrics: Arc<Metrics>,
    outcome: Arc<Mutex<Outcome>>,
    handle: Option<JoinHandle<()>>,
    started: Instant,
}

impl Run {
    /// Asks the run to stop and waits until its sinks have committed what is complete.
    fn retire(mut self) {
        self.metrics.request_stop();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Why a deploy was refused.
#[derive(Debug)]
pub enum DeployError {
    /// The definition is invalid; nothing changed.
    Invalid(Diagnostics),
    /// No such pipeline.
    NotFound(String),
    /// A thread could not start.
    Start(String),
    /// A pipeline of a cluster cannot be redeployed from one process.
    Cluster,
}

impl std::fmt::Display for DeployError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeployError::Invalid(diagnostics) => write!(f, "{diagnostics}"),
            DeployError::NotFound(name) => write!(f, "error: no pipeline `{name}`"),
            DeployError::Start(message) => write!(f, "error: cannot start the pipeline: {message}"),
            DeployError::Cluster => write!(f, "error: {CLUSTER_REDEPLOY}"),
        }
    }
}

/// Why a cluster's pipelines are not redeployed through the API.
pub const CLUSTER_REDEPLOY: &str =
    "this process is one of a timely cluster: its pipelines are one \
     dataflow over every process, deployed when they start; edit the pipelines and restart every \
     process to redeploy";

/// What a deploy did, or would do (`dry_run`).
#[derive(Debug, serde::Serialize)]
pub struct Deployment {
    /// The pipeline.
    pub name: String,
    /// Its generation: 1 on the first deploy, one more on each redeploy.
    pub generation: u64,
    /// The hash of its effective definition.
    pub definition: String,
    /// The difference from the version that was running (`None`: nothing was).
    pub difference: Option<Difference>,
    /// Only validated, not deployed.
    pub dry_run: bool,
}

/// The pipelines of one `serve` process.
pub struct Registry {
    settings: Settings,
    pipelines: Mutex<BTreeMap<String, Deployed>>,
}

impl Registry {
    /// An empty registry.
    pub fn new(settings: Settings) -> Registry {
        Registry { settings, pipelines: Mutex::new(BTreeMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Deployed>> {
        self.pipelines.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads, validates and deploys a definition (`name`: the name a body must have); with
    /// `dry_run`, only reports what a deploy would change.
    pub fn apply(
        &self,
        name: Option<&str>,
        definition: Definition,
        dry_run: bool,
    ) -> Result<Deployment, DeployError> {
        // Every process of a cluster must start the same dataflow at once: one deploy, at start.
        if !dry_run && self.settings.cluster.is_some() && !self.lock().is_empty() {
            return Err(DeployError::Cluster);
        }
        let plan = self.load(name, &definition).map_err(DeployError::Invalid)?;
        self.deploy(plan, definition, dry_run)
    }

    /// Loads and validates a definition (no effects). A body must name the pipeline it is
    /// deployed as.
    fn load(&self, name: Option<&str>, definition: &Definition) -> Result<Plan, Diagnostics> {
        let (file, raw) = match definition {
            Definition::Merged(files) => return self.load_merged(files),
            Definition::File(path) => (path.clone(), Document::read(path)?),
            Definition::Body(yaml) => {
                (PathBuf::from(format!("{}.yaml", name.unwrap_or("pipeline"))), yaml.clone())
            }
        };
        let (doc, _) = Document::parse_applicable(&file, &raw, &self.settings.overrides)?;
        let plan = crate::plan_document(&doc)?;
        if let Some(name) = name.filter(|n| *n != plan.name) {
            return Err(Diagnostics(vec![crate::spec::Diagnostic {
                file: file.display().to_string(),
                position: None,
                path: "name".to_owned(),
                message: format!("the body defines pipeline `{}`, deployed as `{name}`", plan.name),
                hint: Some(format!(
                    "set `name: {name}`, or PUT it to /api/pipelines/{}",
                    plan.name
                )),
                line_text: None,
            }]));
        }
        Ok(plan)
    }

    /// Loads several files as one dataflow, as `run` does with several files.
    fn load_merged(&self, files: &[PathBuf]) -> Result<Plan, Diagnostics> {
        crate::load_plans(files, &self.settings.overrides).map_err(|message| {
            Diagnostics(vec![crate::spec::Diagnostic {
                file: files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
                position: None,
                path: String::new(),
                message,
                hint: None,
                line_text: None,
            }])
        })
    }

    /// Deploys `plan` as a new pipeline or in place of the running one of its name.
    fn deploy(
        &self,
        plan: Plan,
        definition: Definition,
        dry_run: bool,
    ) -> Result<Deployment, DeployError> {
        let name = plan.name.clone();
        let (previous, generation, store, views) = {
            let pipelines = self.lock();
            match pipelines.get(&name) {
                Some(old) => (
                    Some(crate::planner::difference(&old.plan, &plan)),
                    old.generation + 1,
                    old.store.clone(),
                    old.views.clone(),
                ),
                None => (None, 1, Arc::default(), Arc::default()),
            }
        };
        let deployment = Deployment {
            name: name.clone(),
            generation,
            definition: plan.definition_hash.clone(),
            difference: previous,
            dry_run,
        };
        if dry_run {
            return Ok(deployment);
        }
        self.stop_run(&name);
        let mut plan = plan;
        let observed = self.observed(&plan);
        let keep: Vec<&str> = observed.iter().map(String::as_str).collect();
        plan.retain_read_outputs(&keep);
        let plan = Arc::new(plan);
        let run = self.start(&plan, &observed, &store, &views)?;
        tracing::info!(pipeline = %name, generation, definition = %plan.definition_hash, "deployed");
        let deployed = Deployed { definition, plan, generation, observed, run, store, views };
        if let Some(old) = self.lock().insert(name, deployed) {
            old.run.retire();
        }
        Ok(deployment)
    }

    /// Restarts a pipeline from its definition (a file is read again).
    pub fn restart(&self, name: &str) -> Result<Deployment, DeployError> {
        let definition = self
            .lock()
            .get(name)
            .map(|d| d.definition.clone())
            .ok_or_else(|| DeployError::NotFound(name.to_owned()))?;
        let named = matches!(definition, Definition::Body(_)).then_some(name);
        self.apply(named, definition, false)
    }

    /// Stops a pipeline and forgets it; its sinks commit what is complete first.
    pub fn delete(&self, name: &str) -> Result<(), DeployError> {
        let deployed =
            self.lock().remove(name).ok_or_else(|| DeployError::NotFound(name.to_owned()))?;
        deployed.run.retire();
        tracing::info!(pipeline = %name, "deleted");
        Ok(())
    }

    /// Stops every pipeline (shutdown).
    pub fn stop_all(&self) {
        let names: Vec<String> = self.lock().keys().cloned().collect();
        for name in names {
            self.stop_run(&name);
        }
    }

    /// Stops the current run of `name`, if any, keeping its entry and sinks.
    fn stop_run(&self, name: &str) {
        let (metrics, handle) = {
            let mut pipelines = self.lock();
            let Some(deployed) = pipelines.get_mut(name) else { return };
            (deployed.run.metrics.clone(), deployed.run.handle.take())
        };
        metrics.request_stop();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// The collections `plan` keeps live views of: every sink's input, and the configured ones it
    /// has.
    fn observed(&self, plan: &Plan) -> Vec<String> {
        let mut observed: Vec<String> = plan.sinks.iter().map(|s| s.input.clone()).collect();
        observed.extend(
            self.settings.observe.iter().filter(|c| plan.collections.contains_key(*c)).cloned(),
        );
        observed.sort();
        observed.dedup();
        observed
    }

    /// Starts a run of `plan` on a thread of its own.
    fn start(
        &self,
        plan: &Arc<Plan>,
        observed: &[String],
        store: &Arc<SinkStore>,
        views: &Arc<Views>,
    ) -> Result<Run, DeployError> {
        let metrics = Arc::new(Metrics::new(plan.inputs.len(), plan.sinks.len()));
        let outcome = Arc::new(Mutex::new(Outcome::Running));
        let writers = views.clone();
        let options = RunOptions {
            workers: self.settings.workers.max(1),
            quiet: true,
            tap: None,
            store: Some(store.clone()),
            observe: Some(Observe {
                collections: observed.to_vec(),
                open: Arc::new(move |collection, schema| writers.writer(collection, schema)),
            }),
            cluster: self.settings.cluster.clone(),
        };
        let (plan, run_metrics, ended) = (plan.clone(), metrics.clone(), outcome.clone());
        let handle = std::thread::Builder::new()
            .name(format!("pipeline:{}", plan.name))
            .spawn(move || {
                let name = plan.name.clone();
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    runtime::run(plan, options, run_metrics.clone())
                }));
                let outcome = match result {
                    Ok(Ok(_)) if run_metrics.stopping() => Outcome::Stopped,
                    Ok(Ok(summary)) => Outcome::Finished(Box::new(summary)),
                    Ok(Err(e)) => Outcome::Failed(error_chain(&e)),
                    Err(_) => Outcome::Failed("the dataflow panicked".to_owned()),
                };
                match &outcome {
                    Outcome::Failed(message) => {
                        tracing::error!(pipeline = %name, error = %message, "pipeline failed")
                    }
                    other => {
                        tracing::info!(pipeline = %name, status = other.label(), "pipeline ended")
                    }
                }
                *ended.lock().unwrap_or_else(|p| p.into_inner()) = outcome;
            })
            .map_err(|e| DeployError::Start(e.to_string()))?;
        Ok(Run { metrics, outcome, handle: Some(handle), started: Instant::now() })
    }

    /// Names of the deployed pipelines.
    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// On a cluster, how its dataflow ended if it failed or was stopped (by another process):
    /// `Some(Err(reason))` or `Some(Ok(()))`; `None` while it runs or once it has finished, and
    /// always for one process.
    pub fn cluster_ended(&self) -> Option<Result<(), String>> {
        self.settings.cluster.as_ref()?;
        self.lock().values().find_map(|d| {
            match &*d.run.outcome.lock().unwrap_or_else(|p| p.into_inner()) {
                Outcome::Failed(reason) => Some(Err(reason.clone())),
                Outcome::Stopped => Some(Ok(())),
                Outcome::Running | Outcome::Finished(_) => None,
            }
        })
    }

    /// The status of every pipeline, as the API shows it.
    pub fn statuses(&self) -> Vec<serde_json::Value> {
        self.lock().values().map(status).collect()
    }

    /// The status of pipeline `name`.
    pub fn status(&self, name: &str) -> Option<serde_json::Value> {
        self.lock().get(name).map(status)
    }

    /// The plan of pipeline `name`.
    pub fn plan(&self, name: &str) -> Option<Arc<Plan>> {
        self.lock().get(name).map(|d| d.plan.clone())
    }

    /// Whether every running pipeline has caught up with its sources.
    pub fn ready(&self) -> bool {
        self.lock().values().all(|d| {
            let running = matches!(
                *d.run.outcome.lock().unwrap_or_else(|p| p.into_inner()),
                Outcome::Running
            );
            !running || d.run.metrics.all_caught_up()
        })
    }

    /// The current rows of an observed collection and its schema.
    pub fn rows(
        &self,
        name: &str,
        collection: &str,
    ) -> Result<(shelfflow_operators::Schema, Vec<Row>), Lookup> {
        let pipelines = self.lock();
        let deployed = pipelines.get(name).ok_or(Lookup::Pipeline)?;
        let schema = observed_schema(deployed, collection)?;
        let rows = deployed.store.rows(&view_name(collection)).unwrap_or_default();
        Ok((schema, rows))
    }

    /// A subscription to the changes of an observed collection.
    pub fn subscribe(
        &self,
        name: &str,
        collection: &str,
    ) -> Result<tokio::sync::broadcast::Receiver<Arc<str>>, Lookup> {
        let pipelines = self.lock();
        let deployed = pipelines.get(name).ok_or(Lookup::Pipeline)?;
        observed_schema(deployed, collection)?;
        Ok(deployed.views.channel(collection).subscribe())
    }
}

/// Why a collection lookup failed.
#[derive(Debug)]
pub enum Lookup {
    /// No such pipeline.
    Pipeline,
    /// The pipeline has no such collection.
    Collection,
    /// The collection exists but has no live view; these do.
    NotObserved(Vec<String>),
}

fn observed_schema(
    deployed: &Deployed,
    collection: &str,
) -> Result<shelfflow_operators::Schema, Lookup> {
    let schema = deployed.plan.collections.get(collection).ok_or(Lookup::Collection)?;
    if !deployed.observed.iter().any(|c| c == collection) {
        return Err(Lookup::NotObserved(deployed.observed.clone()));
    }
    Ok(schema.clone())
}

/// An error with its causes, one after the other.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn timestamp(time: u64) -> serde_json::Value {
    match time {
        u64::MAX => "finished".into(),
        t => format_timestamp(t as i64).into(),
    }
}

/// The furthest event time any open source of `plan` has completed: the pipeline's "now" (the
/// simulated time, for the simulated store).
fn furthest_source(plan: &Plan, metrics: &Metrics) -> Option<u64> {
    let sources = plan.inputs.iter().enumerate().filter(|(_, i)| i.role == InputRole::Source);
    sources
        .map(|(i, _)| metrics.frontiers[i].load(Ordering::Relaxed))
        .filter(|&f| f != u64::MAX)
        .max()
}

/// Per input: its frontier, whether it has caught up, how far it is behind the wall clock and
/// the pipeline's furthest source, and its offsets.
fn input_statuses(plan: &Plan, metrics: &Metrics) -> Vec<serde_json::Value> {
    let now = chrono::Utc::now().timestamp_micros().max(0) as u64;
    let furthest = furthest_source(plan, metrics);
    let offsets = metrics.positions.current();
    let seconds = |later: u64, earlier: u64| later.saturating_sub(earlier) as f64 / 1e6;
    plan.inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let frontier = metrics.frontiers[i].load(Ordering::Relaxed);
            let open = frontier != u64::MAX;
            serde_json::json!({
                "name": input.name,
                "kind": if input.role == InputRole::Source { "source" } else { "table" },
                "frontier": timestamp(frontier),
                "caught_up": metrics.caught_up[i].load(Ordering::Relaxed),
                "lag_seconds": open.then(|| seconds(now, frontier)),
                "behind_seconds": furthest.filter(|_| open).map(|f| seconds(f, frontier)),
                "offsets": offsets.as_ref().and_then(|o| o.get(&input.name)).cloned(),
            })
        })
        .collect()
}

/// Per sink: its destination, changes written and the time it has committed.
fn sink_statuses(plan: &Plan, metrics: &Metrics) -> Vec<serde_json::Value> {
    plan.sinks
        .iter()
        .enumerate()
        .map(|(i, sink)| {
            serde_json::json!({
                "name": sink.name,
                "input": sink.input,
                "destination": sink.config.describe(&sink.context),
                "changes": metrics.changes[i].load(Ordering::Relaxed),
                "committed_until": metrics.committed_until(i).map(timestamp),
            })
        })
        .collect()
}

/// A deployment's status, as `GET /api/pipelines` shows it.
fn status(deployed: &Deployed) -> serde_json::Value {
    let plan = &deployed.plan;
    let run = &deployed.run;
    let metrics = &run.metrics;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let outcome = run.outcome.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let elapsed = run.started.elapsed().as_secs_f64();
    let kinds = metrics.dead_letter_kinds.lock().map(|k| k.clone()).unwrap_or_default();
    let events = load(&metrics.events_in);
    serde_json::json!({
        "name": plan.name,
        "description": plan.description,
        "status": outcome.label(),
        "error": match &outcome { Outcome::Failed(m) => Some(m.clone()), _ => None },
        "summary": match &outcome { Outcome::Finished(summary) => Some(summary.to_json()), _ => None },
        "generation": deployed.generation,
        "definition": plan.definition_hash,
        "file": match &deployed.definition {
            Definition::File(p) => Some(p.display().to_string()),
            Definition::Merged(files) => Some(files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")),
            Definition::Body(_) => None,
        },
        "running_seconds": elapsed,
        "events_in": events,
        "events_per_second": events as f64 / elapsed.max(1e-3),
        "dead_letters": load(&metrics.dead_letters),
        "dead_letters_by_reason": kinds,
        "violations": metrics.violations.lock().map(|v| v.clone()).unwrap_or_default(),
        "watermark": metrics.watermark().map(timestamp),
        "event_time": furthest_source(plan, metrics).map(timestamp),
        "caught_up": metrics.all_caught_up(),
        "sources": input_statuses(plan, metrics),
        "sinks": sink_statuses(plan, metrics),
        "collections": deployed.observed,
    })
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("pipelines", &self.names()).finish()
    }
}

impl super::prometheus::Runs for Registry {
    fn each_run(&self, f: &mut dyn FnMut(&str, &Plan, &Metrics)) {
        for (name, deployed) in self.lock().iter() {
            f(name, &deployed.plan, &deployed.run.metrics);
        }
    }
}
