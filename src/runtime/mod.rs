//! Running a plan on timely workers, with a live progress line and a final summary.

mod build;
mod checks;
pub mod cluster;
mod control;
mod driver;
mod metrics;
mod outputs;
mod readers;
mod retention;
mod simulation;
mod sink;

pub use metrics::Metrics;
pub use retention::expire_after;
pub use simulation::DRAIN;

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shelfflow_connectors::ConnectorError;
use shelfflow_operators::value::format_timestamp;
use shelfflow_operators::Time;

use crate::planner::Plan;

/// How to run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Timely worker threads.
    pub workers: usize,
    /// No progress line and no summary.
    pub quiet: bool,
    /// Print the changes of this collection instead of writing the sinks.
    pub tap: Option<String>,
    /// Sinks that outlive this run (`--watch`): a redeploy writes only the difference.
    pub store: Option<Arc<SinkStore>>,
    /// Collections to keep live views of (`serve`), each written like a sink.
    pub observe: Option<Observe>,
    /// Run as one process of a timely cluster (`None`: this process alone).
    pub cluster: Option<cluster::Cluster>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("workers", &self.workers)
            .field("quiet", &self.quiet)
            .field("tap", &self.tap)
            .field("observe", &self.observe.as_ref().map(|o| &o.collections))
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

/// Opens the writer of an observed collection, given its name and schema.
pub type OpenView = dyn Fn(&str, &shelfflow_operators::Schema) -> Box<dyn shelfflow_connectors::SinkWriter>
    + Send
    + Sync;

/// Live views of collections: each observed collection gets an output of its own, named
/// `view:<collection>` in the run's [`SinkStore`] (whose kept rows are the view's current rows).
#[derive(Clone)]
pub struct Observe {
    /// The collections, by name.
    pub collections: Vec<String>,
    /// Opens each one's writer.
    pub open: Arc<OpenView>,
}

/// The output name of the live view of `collection`.
pub fn view_name(collection: &str) -> String {
    format!("view:{collection}")
}

/// The sinks of a `--watch` session, kept open across redeploys.
#[derive(Default)]
pub struct SinkStore {
    sinks: std::sync::Mutex<
        std::collections::HashMap<String, Arc<std::sync::Mutex<sink::StoredSink>>>,
    >,
}

impl std::fmt::Debug for SinkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SinkStore")
    }
}

impl SinkStore {
    /// The rows output `name` holds now, by key (for a redeploy still catching up, the rows
    /// written before it); `None` for an unknown output.
    pub fn rows(&self, name: &str) -> Option<Vec<shelfflow_operators::Row>> {
        let sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        let entry = sinks.get(name)?.lock().unwrap_or_else(|p| p.into_inner());
        Some(entry.state.values().cloned().collect())
    }

    /// The slot output of sink `name`: the kept writer when the sink is unchanged (the new run then
    /// catches up silently and writes only the difference), otherwise a freshly opened one.
    fn attach(
        &self,
        name: &str,
        signature: &str,
        open: impl FnOnce() -> Result<Box<dyn shelfflow_connectors::SinkWriter>, RunError>,
    ) -> Result<sink::SlotOutput, RunError> {
        let mut sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = sinks.get(name) {
            if entry.lock().unwrap_or_else(|p| p.into_inner()).signature == signature {
                let catch_up = Some(std::collections::BTreeMap::new());
                return Ok(sink::SlotOutput::Stored {
                    entry: entry.clone(),
                    catch_up,
                    last_time: 0,
                });
            }
        }
        let entry = Arc::new(std::sync::Mutex::new(sink::StoredSink {
            signature: signature.to_owned(),
            writer: open()?,
            state: std::collections::BTreeMap::new(),
        }));
        sinks.insert(name.to_owned(), entry.clone());
        Ok(sink::SlotOutput::Stored { entry, catch_up: None, last_time: 0 })
    }
}

/// A failure while running.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A source or sink failed.
    #[error("{component}")]
    Connector {
        /// The source or sink name.
        component: String,
        /// The cause.
        #[source]
        source: ConnectorError,
    },
    /// timely could not start or a worker panicked.
    #[error("dataflow: {0}")]
    Dataflow(String),
    /// The connection to another process of the cluster broke (it died, or its host did).
    #[error("lost process {process} of the cluster ({address}): {cause}; every process stops, restart them all to resume")]
    PeerLost {
        /// The process index.
        process: usize,
        /// Its address.
        address: String,
        /// timely's reason.
        cause: String,
    },
    /// Another process of the cluster failed.
    #[error("process {process} of the cluster failed: {failure}")]
    PeerFailed {
        /// The process index.
        process: usize,
        /// Its error.
        failure: String,
    },
    /// A `check` with `on_violation: fail` found a violation.
    #[error("check `{check}` failed: {violation}")]
    CheckFailed {
        /// The check operator.
        check: String,
        /// The first violation, as JSON.
        violation: String,
    },
}

impl RunError {
    /// The error with its causes, `: `-separated (what another process of a cluster reports).
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cause = e.source();
        }
        text
    }
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Rows read from sources.
    pub events_in: u64,
    /// Rows read from tables.
    pub table_rows: u64,
    /// Records sent to the dead-letter output.
    pub dead_letters: u64,
    /// Changes written per sink.
    pub changes: Vec<(String, u64)>,
    /// Violations per `check` operator (those still standing at the end).
    pub violations: Vec<(String, u64)>,
    /// Wall time.
    pub elapsed: Duration,
    /// Batch latency percentiles (p50, p99) in microseconds: from reading a batch of input
    /// records to every sink having written their results.
    pub latency: Option<(u32, u32)>,
    /// Stopped by a signal before the inputs ended: each sink has written every change up to
    /// the time given (none if it wrote nothing).
    pub stopped: Option<Vec<(String, Option<Time>)>>,
    /// In a cluster: this process and the number of processes. Process 0's counts are the
    /// cluster's; the others' are their own.
    pub process: Option<(usize, usize)>,
}

impl Summary {
    /// The summary as JSON, for scripts.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "events_in": self.events_in,
            "table_rows": self.table_rows,
            "dead_letters": self.dead_letters,
            "changes": self.changes.iter().map(|(sink, n)| serde_json::json!({"sink": sink, "changes": n})).collect::<Vec<_>>(),
            "violations": self.violations.iter().map(|(check, n)| serde_json::json!({"check": check, "violations": n})).collect::<Vec<_>>(),
            "elapsed_seconds": self.elapsed.as_secs_f64(),
            "events_per_second": self.events_per_second(),
            "batch_latency_p50_ms": self.latency.map(|(p50, _)| f64::from(p50) / 1e3),
            "batch_latency_p99_ms": self.latency.map(|(_, p99)| f64::from(p99) / 1e3),
            "process": self.process.map(|(i, _)| i),
            "processes": self.process.map(|(_, n)| n),
            "stopped": self.stopped.as_ref().map(|sinks| sinks.iter().map(|(sink, t)| serde_json::json!({"sink": sink, "written_until": t.map(|t| format_timestamp(t as i64))})).collect::<Vec<_>>()),
        })
    }

    /// Source events per second of wall time.
    pub fn events_per_second(&self) -> f64 {
        self.events_in as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.process {
            Some((0, n)) => writeln!(f, "process 0 of {n}: the whole cluster's counts")?,
            Some((i, n)) => {
                writeln!(f, "process {i} of {n}: this process's counts (process 0 has the total)")?
            }
            None => {}
        }
        writeln!(
            f,
            "events in     {:>12}   ({:.0} events/s)",
            self.events_in,
            self.events_per_second()
        )?;
        writeln!(f, "table rows    {:>12}", self.table_rows)?;
        writeln!(f, "dead letters  {:>12}", self.dead_letters)?;
        for (sink, n) in &self.changes {
            writeln!(f, "changes out   {n:>12}   {sink}")?;
        }
        for (check, n) in &self.violations {
            writeln!(f, "violations    {n:>12}   {check}")?;
        }
        if let Some((p50, p99)) = self.latency {
            writeln!(
                f,
                "batch latency p50 {:.1} ms, p99 {:.1} ms (read to written by every sink)",
                f64::from(p50) / 1e3,
                f64::from(p99) / 1e3
            )?;
        }
        match self.stopped.as_deref() {
            // Another process of a cluster: it writes no sink.
            Some([]) => writeln!(f, "stopped before the inputs ended")?,
            Some(sinks) => {
                writeln!(f, "stopped before the inputs ended; each sink holds whole timestamps:")?;
                for (sink, until) in sinks {
                    let until = until.map_or("nothing yet".to_owned(), |t| {
                        format!("every change up to {}", format_timestamp(t as i64))
                    });
                    writeln!(f, "  {sink:<28} {until}")?;
                }
            }
            None => {}
        }
        write!(f, "elapsed       {:>11.3}s", self.elapsed.as_secs_f64())
    }
}

/// Runs `plan` until every source is exhausted (or `metrics.stop` is set) and all outputs are
/// flushed.
pub fn run(
    plan: Arc<Plan>,
    options: RunOptions,
    metrics: Arc<Metrics>,
) -> Result<Summary, RunError> {
    let started = Instant::now();
    let workers = options.workers.max(1);
    tracing::info!(pipeline = %plan.name, workers, inputs = plan.inputs.len(), operators = plan.operators.len(), sinks = plan.sinks.len(), "starting dataflow");
    let process = options.cluster.as_ref().map(|c| (c.process, c.processes()));
    let addresses = options.cluster.as_ref().map(|c| c.addresses.clone()).unwrap_or_default();
    if process.is_some() {
        cluster::watch_peers();
    }
    let progress = (!options.quiet && std::io::stderr().is_terminal())
        .then(|| spawn_progress(metrics.clone()));
    let cluster = options.cluster.clone();
    let (plan_w, options_w, metrics_w) = (plan.clone(), options, metrics.clone());
    let guards = cluster::execute(workers, cluster.as_ref(), move |worker| {
        driver::run_worker(worker, &plan_w, &options_w, &metrics_w)
    })
    .map_err(RunError::Dataflow)?;
    // A lost peer makes timely's network threads panic, and their guard then panics on drop:
    // the peer's error below says what happened.
    let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || guards.join()));
    let mut errors = Vec::new();
    let mut written_until = Vec::new();
    for result in results.unwrap_or_default() {
        match result {
            Ok(Ok(report)) => {
                errors.extend(report.errors);
                written_until.extend(report.written_until);
            }
            Ok(Err(e)) => errors.push(e),
            // timely gives only the payload's type; the panic's message is on stderr already.
            Err(_) => errors.push(RunError::Dataflow(
                "a worker panicked (its message is printed above)".to_owned(),
            )),
        }
    }
    if let Some((bar, handle)) = progress {
        bar.finish_and_clear();
        let _ = handle.join();
    }
    if let Some((peer, cause)) = cluster::lost_peer() {
        let address = addresses.get(peer).cloned().unwrap_or_default();
        return Err(RunError::PeerLost { process: peer, address, cause });
    }
    let failed = metrics.failed_check.lock().map(|f| f.clone()).unwrap_or_default();
    if let Some((_, check, violation)) = failed {
        return Err(RunError::CheckFailed { check, violation });
    }
    if let Some(e) = errors.into_iter().next() {
        metrics.request_stop();
        return Err(e);
    }
    if let Some((process, Some(failure))) = metrics.stopped_by() {
        return Err(RunError::PeerFailed { process, failure });
    }
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    tracing::info!(pipeline = %plan.name, events = load(&metrics.events_in), dead_letters = load(&metrics.dead_letters), elapsed_ms = started.elapsed().as_millis() as u64, "dataflow finished");
    let latency = metrics.latency_percentile(50.0).zip(metrics.latency_percentile(99.0));
    Ok(Summary {
        events_in: load(&metrics.events_in),
        table_rows: load(&metrics.table_rows),
        dead_letters: load(&metrics.dead_letters),
        changes: plan
            .sinks
            .iter()
            .zip(&metrics.changes)
            .map(|(s, n)| (s.name.clone(), load(n)))
            .collect(),
        violations: metrics
            .violations
            .lock()
            .map(|v| v.iter().map(|(c, n)| (c.clone(), *n)).collect())
            .unwrap_or_default(),
        elapsed: started.elapsed(),
        latency,
        stopped: metrics.stopping().then_some(written_until),
        process,
    })
}

/// A spinner line on stderr: events, events/s, watermark, dead letters.
fn spawn_progress(metrics: Arc<Metrics>) -> (indicatif::ProgressBar, std::thread::JoinHandle<()>) {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .expect("valid template"),
    );
    let shown = bar.clone();
    let handle = std::thread::Builder::new()
        .name("progress".to_owned())
        .spawn(move || {
            let started = Instant::now();
            while !shown.is_finished() {
                let events = metrics.events_in.load(Ordering::Relaxed);
                let rate = events as f64 / started.elapsed().as_secs_f64().max(1e-3);
                let watermark =
                    metrics.watermark().map_or("-".to_owned(), |w| format_timestamp(w as i64));
                let dead = metrics.dead_letters.load(Ordering::Relaxed);
                shown.set_message(format!(
                    "{events} events  {rate:.0}/s  watermark {watermark}  dead letters {dead}"
                ));
                shown.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .expect("spawn progress thread");
    (bar, handle)
}
