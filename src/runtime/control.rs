//! What the processes of a cluster tell each other besides the pipeline's records: a stop and
//! why, the frontiers of the inputs each one reads (sources read elsewhere follow them, and the
//! simulated store paces the sources), the offsets it has read to (for the sinks' progress rows on
//! process 0), and, at the end, its counts for process 0's summary.
//!
//! It is a small timely dataflow of its own beside the pipeline's, built only when there are
//! several processes: messages go to the first worker of each other process, which applies them
//! to its process's [`Metrics`]. Its time only counts the batches of messages: each one closes an
//! epoch, which makes timely send it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shelfflow_operators::Time;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::core::input::Handle;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use super::metrics::{Counts, Metrics};
use super::RunError;
use crate::planner::Plan;

/// How often a worker tells the others how far its inputs are.
const EVERY: Duration = Duration::from_millis(10);

/// One message between processes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Message {
    /// Process `process` runs a pipeline of this shape (see [`shape`]).
    Hello { process: usize, shape: u64 },
    /// Process `process` stopped the run: on a failure (its text), a failed check (its time,
    /// name and violation), or a signal (neither).
    Stop { process: usize, failure: Option<String>, check: Option<(Time, String, String)> },
    /// Inputs' frontiers: `(input, share, frontier, caught up)`, `share` being the reading
    /// worker of a partitioned input's share.
    Frontiers(Vec<(usize, Option<usize>, Time, bool)>),
    /// Offsets reader `worker` of input `input` reached at frontiers (see
    /// `SourcePositions::since`).
    Positions { input: String, worker: usize, log: Vec<(Time, Vec<(String, i64)>)> },
    /// A process's counts, for process 0.
    Counts(Counts),
}

/// A message and the worker it goes to.
type Addressed = (usize, Message);

/// One worker's end of the control dataflow.
pub struct Link {
    /// This worker's index among all, the workers per process, and the processes.
    index: usize,
    workers: usize,
    processes: usize,
    /// `None` in a single process, and once closed.
    input: Option<Handle<u64, CapacityContainerBuilder<Vec<Addressed>>>>,
    probe: ProbeHandle<u64>,
    /// The inputs this worker tells about: `(input, share, name)`.
    watched: Vec<(usize, Option<usize>, String)>,
    /// What it last told of each, and of each reader's offsets.
    told: HashMap<(usize, Option<usize>), (Time, bool)>,
    /// Per input, the last `(frontier, offsets)` told: `SourcePositions::since` ends with it.
    positions_told: HashMap<usize, (Time, Vec<(String, i64)>)>,
    last: Option<Instant>,
}

impl Link {
    /// Builds the control dataflow on this worker (every worker builds it, first, when the
    /// run has several processes) for `workers` threads per process.
    pub fn connect(worker: &mut Worker, workers: usize, metrics: &Arc<Metrics>) -> Link {
        let (index, peers) = (worker.index(), worker.peers());
        let processes = peers / workers.max(1);
        let probe = ProbeHandle::new();
        let input = (processes > 1).then(|| {
            let metrics = metrics.clone();
            let probe = probe.clone();
            worker.dataflow::<u64, _, _>(move |scope| {
                let (input, messages) = scope.new_input::<Vec<Addressed>>();
                messages
                    .exchange(|(to, _)| *to as u64)
                    .inspect(move |(_, message)| apply(message, &metrics))
                    .probe_with(&probe);
                input
            })
        });
        let (told, positions_told) = (HashMap::new(), HashMap::new());
        Link {
            index,
            workers,
            processes,
            input,
            probe,
            watched: Vec::new(),
            told,
            positions_told,
            last: None,
        }
    }

    /// Waits until every other process has said which pipeline it runs: they must all build the
    /// same dataflow. An error when one runs another (a file edited on one host only, say).
    pub fn meet(
        &mut self,
        worker: &mut Worker,
        plan: &Plan,
        metrics: &Metrics,
    ) -> Result<(), RunError> {
        if self.input.is_none() {
            return Ok(());
        }
        let ours = shape(plan);
        if self.first_of_process() {
            self.tell(Message::Hello { process: self.process(), shape: ours });
        }
        let others = self.processes - 1;
        while metrics.hellos().len() < others {
            worker.step_or_park(Some(Duration::from_millis(1)));
        }
        match metrics.hellos().into_iter().find(|(_, theirs)| *theirs != ours) {
            Some((process, _)) => Err(RunError::Dataflow(format!(
                "process {process} of the cluster runs a different pipeline (its inputs, operators or \
                 sinks differ); every process must run the same files with the same settings"
            ))),
            None => Ok(()),
        }
    }

    /// Whether this worker is its process's first (the one other processes send to).
    fn first_of_process(&self) -> bool {
        self.index.is_multiple_of(self.workers.max(1))
    }

    /// This worker's process.
    fn process(&self) -> usize {
        self.index / self.workers.max(1)
    }

    /// Tells the other processes about these inputs from now on: `(input, share, name)`.
    pub fn watch(&mut self, inputs: Vec<(usize, Option<usize>, String)>) {
        self.watched = inputs;
    }

    /// Sends `message` to the first worker of every other process.
    fn tell(&mut self, message: Message) {
        let (ours, workers, processes) = (self.process(), self.workers, self.processes);
        let Some(input) = self.input.as_mut() else { return };
        for process in (0..processes).filter(|p| *p != ours) {
            input.send((process * workers, message.clone()));
        }
        // The exchange sends what it buffered when the epoch closes.
        let next = *input.time() + 1;
        input.advance_to(next);
    }

    /// Tells the others what changed here: a stop at once, frontiers and offsets every few
    /// milliseconds.
    pub fn pump(&mut self, metrics: &Metrics) {
        if self.input.is_none() {
            return;
        }
        if metrics.stopping() && !metrics.stop_told.swap(true, Ordering::SeqCst) {
            let check = metrics.failed_check.lock().ok().and_then(|c| c.clone());
            let failure = metrics.failure();
            self.tell(Message::Stop { process: self.process(), failure, check });
        }
        if self.last.is_some_and(|at| at.elapsed() < EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        self.tell_frontiers(metrics);
        if self.process() != 0 {
            self.tell_positions(metrics);
        }
    }

    fn tell_frontiers(&mut self, metrics: &Metrics) {
        let mut changed = Vec::new();
        for (input, share, _) in &self.watched {
            let now = match share {
                None => Some((
                    metrics.frontiers[*input].load(Ordering::Relaxed),
                    metrics.caught_up[*input].load(Ordering::Relaxed),
                )),
                Some(worker) => metrics.share(*input, *worker),
            };
            let Some(now) = now else { continue };
            if self.told.insert((*input, *share), now) != Some(now) {
                changed.push((*input, *share, now.0, now.1));
            }
        }
        if !changed.is_empty() {
            self.tell(Message::Frontiers(changed));
        }
    }

    fn tell_positions(&mut self, metrics: &Metrics) {
        let index = self.index;
        let mut messages = Vec::new();
        for (input, _, name) in &self.watched {
            let told = self.positions_told.get(input);
            let log = metrics.positions.since(name, index, told.map(|(frontier, _)| *frontier));
            let Some(last) = log.last().cloned() else { continue };
            if log.len() == 1 && told == Some(&last) {
                continue; // nothing new: only the entry told last time
            }
            self.positions_told.insert(*input, last);
            messages.push(Message::Positions { input: name.clone(), worker: index, log });
        }
        for message in messages {
            self.tell(message);
        }
    }

    /// Ends this worker's part once the pipeline's dataflow is done here: the first worker of
    /// each process other than 0 sends its process's counts once every worker of the process is
    /// done, then every worker steps until all processes have closed theirs.
    pub fn finish(&mut self, worker: &mut Worker, metrics: &Metrics) {
        metrics.drained.fetch_add(1, Ordering::SeqCst);
        if self.input.is_none() {
            return;
        }
        let first = self.first_of_process();
        while first && metrics.drained.load(Ordering::SeqCst) < self.workers {
            worker.step_or_park(Some(Duration::from_millis(1)));
        }
        self.last = None;
        self.pump(metrics);
        if first && self.process() != 0 {
            if let Some(input) = self.input.as_mut() {
                input.send((0, Message::Counts(metrics.counts())));
            }
        }
        self.input = None;
        while !self.probe.done() {
            worker.step_or_park(Some(Duration::from_millis(1)));
        }
    }
}

/// Applies a message from another process to this process's counters.
fn apply(message: &Message, metrics: &Metrics) {
    match message {
        Message::Hello { process, shape } => metrics.hello(*process, *shape),
        Message::Stop { process, failure, check } => {
            // Marks the stop as told first, so it is not echoed back.
            metrics.stop_from(*process, failure.clone());
            if let Some((time, name, violation)) = check {
                metrics.fail_check(*time, name, violation.clone());
            }
        }
        Message::Frontiers(updates) => {
            for (input, share, frontier, caught_up) in updates {
                metrics.set_frontier(*input, *share, *frontier);
                if *caught_up {
                    metrics.set_caught_up(*input, *share);
                }
            }
        }
        Message::Positions { input, worker, log } => {
            for (frontier, offsets) in log {
                metrics.positions.record(input, *worker, *frontier, offsets);
            }
        }
        Message::Counts(counts) => metrics.absorb(counts),
    }
}

/// A fingerprint of the dataflow `plan` builds: its collections with their schemas, its
/// operators and sinks with what they read, its simulated streams. Where sinks write (a URL, a
/// directory) is not part of it: processes may differ there.
fn shape(plan: &Plan) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    plan.tick.hash(&mut hasher);
    for input in &plan.inputs {
        (&input.name, format!("{:?}", input.role), input.config.partitioned()).hash(&mut hasher);
    }
    for (name, schema) in &plan.collections {
        (name, format!("{schema:?}")).hash(&mut hasher);
    }
    for op in &plan.operators {
        (&op.name, op.kind, &op.inputs, &op.outputs).hash(&mut hasher);
    }
    for sink in &plan.sinks {
        (&sink.name, &sink.input, sink.retention).hash(&mut hasher);
    }
    let streams = plan.simulation.iter().flat_map(|s| s.streams.iter().map(|(i, _, _)| *i));
    streams.collect::<Vec<_>>().hash(&mut hasher);
    hasher.finish()
}
