//! One timely worker: builds the dataflow from the plan, reads the inputs it owns, and steps the
//! dataflow until every input is exhausted (or a stop is requested) and every sink is flushed.
//!
//! The worker's life is in three phases: [`run_worker`] opens the outputs and builds the dataflow,
//! a [`Feeder`] puts its inputs' batches in and lets the dataflow catch up after each, and the
//! report collects what the sinks committed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use differential_dataflow::input::{Input, InputSession};
use shelfflow_connectors::ReadStatus;
use shelfflow_operators::{dead_letter, Coll, Diff, Row, Time};
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Concatenate, ConnectLoop, Feedback};
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use super::metrics::Metrics;
use super::outputs::{open_sinks, Slots};
use super::readers::{advance_live_tables, send_dead_letters, start_readers, Fed, Owned, WorkerAt};
use super::sink::attach;
use super::{build, control, simulation, RunError, RunOptions};
use crate::planner::{InputRole, Plan};

/// How long a worker keeps stepping to let the dataflow catch up before reading more.
const CATCH_UP: Duration = Duration::from_millis(50);

/// What one worker hands back.
pub struct WorkerReport {
    /// Sink write errors (worker 0 only).
    pub errors: Vec<RunError>,
    /// Per sink (worker 0 only): the last time it has written every change of.
    pub written_until: Vec<(String, Option<Time>)>,
}

/// Runs one worker to completion.
pub fn run_worker(
    worker: &mut Worker,
    plan: &Plan,
    options: &RunOptions,
    metrics: &Arc<Metrics>,
) -> Result<WorkerReport, RunError> {
    let leader = worker.index() == 0;
    // Several processes tell each other about stops, frontiers and counts through a dataflow of
    // their own, built first on every worker.
    let mut link = control::Link::connect(worker, options.workers.max(1), metrics);
    link.meet(worker, plan, metrics)?;
    // A failure to open an input or output stops the run, but this worker still builds and
    // drains its dataflow, so the other workers are never left waiting for it.
    let (slots, mut failure) = open_sinks(plan, options, metrics, leader);
    // Every worker simulates its share of the chain's stores, from the reference data it reads
    // now; the leader reports a failure to read it.
    let worlds = match &plan.simulation {
        Some(sim) => match open_stores(sim) {
            Ok(all) => simulation::stores_of(worker.index(), worker.peers(), all),
            Err(e) => {
                if leader {
                    failure.get_or_insert(e);
                }
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    if let Some(e) = &failure {
        metrics.fail(e.chain());
    }
    let probe = ProbeHandle::new();
    let store_probe = ProbeHandle::new();
    let pipeline = worker.next_dataflow_index();
    let store = (worlds, &store_probe);
    let (handles, late, dead) = build_dataflow(worker, plan, &slots, store, metrics, &probe);
    let sources: Arc<[usize]> =
        (0..plan.inputs.len()).filter(|&i| plan.inputs[i].role == InputRole::Source).collect();
    let worker_at =
        WorkerAt { index: worker.index(), peers: worker.peers(), local: options.workers.max(1) };
    let owned = start_readers(plan, handles, late, worker_at, &sources, metrics, &mut failure);
    link.watch(told_inputs(plan, &owned, leader));
    let simulated = plan.simulation.iter().flat_map(|s| s.streams.iter().map(|(i, _, _)| *i));
    let mut feeder = Feeder {
        owned,
        sources,
        simulated: simulated.collect(),
        store_probe,
        dead: Some(dead),
        in_flight: VecDeque::new(),
        latencies: Vec::new(),
        redeployed: false,
        failure,
        metrics,
        link,
    };
    feeder.run(worker, &probe, &slots, leader);
    feeder.drain(worker, &probe, pipeline);
    feeder.link.finish(worker, metrics);
    Ok(report(&slots, leader, feeder.failure))
}

/// The inputs whose progress this worker tells the other processes of a cluster: its shares of
/// partitioned inputs, and, on the leader, every other input (all read on process 0).
fn told_inputs(plan: &Plan, owned: &[Owned], leader: bool) -> Vec<(usize, Option<usize>, String)> {
    let shares = owned.iter().filter(|o| o.share.is_some());
    let mut told: Vec<_> = shares.map(|o| (o.index, o.share, o.name.clone())).collect();
    let unpartitioned = plan.inputs.iter().enumerate().filter(|(_, i)| !i.config.partitioned());
    told.extend(unpartitioned.filter(|_| leader).map(|(k, i)| (k, None, i.name.clone())));
    told
}

/// What the leader's sinks committed, and every error of the run (the first failure first).
fn report(slots: &Slots, leader: bool, failure: Option<RunError>) -> WorkerReport {
    let mut errors = Vec::new();
    let mut written_until = Vec::new();
    for (slot, _) in slots.iter().filter(|_| leader) {
        let mut slot = slot.borrow_mut();
        written_until.push((slot.name.clone(), slot.last_time));
        let result = match slot.error.take() {
            Some(e) => Err(e),
            None => slot.finish(),
        };
        if let Err(source) = result {
            errors.push(RunError::Connector { component: slot.name.clone(), source });
        }
    }
    if let Some(e) = failure {
        errors.insert(0, e);
    }
    WorkerReport { errors, written_until }
}

/// The worker's inputs while it reads them, and what it measures on the way.
struct Feeder<'a> {
    owned: Vec<Owned>,
    /// The pipeline's sources (by input index).
    sources: Arc<[usize]>,
    /// The inputs the simulated store produces.
    simulated: Vec<usize>,
    /// The simulated store's progress on every worker of every process.
    store_probe: ProbeHandle<Time>,
    /// The dead-letter input; it follows the slowest open input and closes with the last one.
    dead: Option<InputSession<Time, Row, Diff>>,
    /// Per batch fed and not yet through every sink: the time it completes and when it was read.
    in_flight: VecDeque<(Time, Instant)>,
    /// Batch latencies seen so far, in microseconds.
    latencies: Vec<u32>,
    /// A followed run has shown its sinks the difference of a redeploy.
    redeployed: bool,
    failure: Option<RunError>,
    metrics: &'a Arc<Metrics>,
    /// What this worker tells the other processes of a cluster.
    link: control::Link,
}

/// What the worker does next.
enum Next {
    /// Put this batch of the input at this index in.
    Feed(usize, Fed),
    /// Nothing is ready: step the dataflow, parking for at most this long.
    Step(Duration),
    /// Every input this worker reads has ended, or one failed.
    Done,
}

/// What one batch fed leaves the worker to wait for.
#[derive(Clone, Copy)]
struct Pending {
    /// The frontier of the slowest open input (`None`: all have ended).
    low: Option<Time>,
    /// The input had nothing new (a followed source between records).
    idle: bool,
}

impl Feeder<'_> {
    /// Feeds batches until every input has ended or a stop is requested.
    fn run(&mut self, worker: &mut Worker, probe: &ProbeHandle<Time>, slots: &Slots, leader: bool) {
        while !self.metrics.stopping() {
            self.link.pump(self.metrics);
            self.note_store_frontier();
            let dead = self.dead.as_mut();
            advance_live_tables(
                &mut self.owned,
                &self.sources,
                dead,
                self.metrics,
                &mut self.failure,
            );
            match self.next() {
                Next::Feed(k, fed) => {
                    let Some(fed) = self.feed(k, fed) else { break };
                    self.catch_up(worker, probe, fed);
                    if leader {
                        self.end_redeploy(probe, fed.low, slots);
                    }
                }
                Next::Step(park) => {
                    worker.step_or_park(Some(park));
                }
                Next::Done => break,
            }
        }
    }

    /// The simulated streams' frontier: the earliest time any worker's stores may still emit at.
    fn note_store_frontier(&self) {
        if self.simulated.is_empty() {
            return;
        }
        let at = self.store_probe.with_frontier(|f| f.first().copied().unwrap_or(Time::MAX));
        for &input in &self.simulated {
            self.metrics.frontiers[input].store(at, Ordering::Relaxed);
        }
    }

    fn fail(&mut self, e: RunError) {
        self.metrics.fail(e.chain());
        self.failure.get_or_insert(e);
    }

    /// The next batch to feed: reference tables first until they have loaded (they hold the
    /// frontier at 0), then the input furthest behind.
    fn next(&mut self) -> Next {
        let metrics = self.metrics;
        let caught_up = |o: &Owned| metrics.caught_up[o.index].load(Ordering::Relaxed);
        let mut order: Vec<usize> = (0..self.owned.len())
            .filter(|&k| {
                self.owned[k].handle.is_some() && !(self.owned[k].live && caught_up(&self.owned[k]))
            })
            .collect();
        if order.is_empty() {
            // Only live tables left here, which follow sources read elsewhere, or nothing.
            let open = self.owned.iter().any(|o| o.handle.is_some());
            return if open { Next::Step(Duration::from_millis(1)) } else { Next::Done };
        }
        order.sort_by_key(|&k| {
            let o = &self.owned[k];
            (o.role == InputRole::Source || caught_up(o), o.frontier)
        });
        // A source ahead of the simulated store waits for it: rows far ahead of the other inputs
        // (a calendar) would make joins with them compute every future time at once.
        let store_at = self.simulated.iter().map(|&i| metrics.frontiers[i].load(Ordering::Relaxed));
        let store_at = store_at.min().unwrap_or(u64::MAX);
        // Such a source is not behind: it has caught up with the store (which `/readyz` reads).
        order.retain(|&k| {
            let o = &self.owned[k];
            let ahead = o.role == InputRole::Source && o.frontier > store_at;
            if ahead && !caught_up(o) {
                metrics.set_caught_up(o.index, o.share);
            }
            !ahead
        });
        self.receive(&order)
    }

    /// Takes a batch from the first input of `order` that is not quiet, waiting for it briefly so
    /// inputs advance together, or else from a quiet one (idle past its timeout: a followed
    /// topic without records), which is drained but never waited for.
    fn receive(&mut self, order: &[usize]) -> Next {
        let waited = order.iter().copied().find(|&k| !self.owned[k].quiet);
        let quiet = order.iter().copied().filter(|&k| self.owned[k].quiet);
        let tries: Vec<(usize, bool)> =
            waited.map(|k| (k, true)).into_iter().chain(quiet.map(|k| (k, false))).collect();
        for (k, wait) in tries {
            let feed = &self.owned[k].feed;
            let received = if wait {
                feed.recv_timeout(Duration::from_millis(1))
                    .map_err(|e| e == RecvTimeoutError::Disconnected)
            } else {
                feed.try_recv().map_err(|e| e == TryRecvError::Disconnected)
            };
            match received {
                Ok(fed) => return Next::Feed(k, fed),
                Err(true) => {
                    let e = RunError::Dataflow(format!(
                        "the reader of `{}` stopped",
                        self.owned[k].name
                    ));
                    self.fail(e);
                    return Next::Done;
                }
                Err(false) => {}
            }
        }
        // Nothing ready: step the dataflow, parking briefly unless we just waited.
        Next::Step(if waited.is_some() { Duration::ZERO } else { Duration::from_millis(1) })
    }

    /// Puts one batch of input `k` into the dataflow and moves the input's frontier, and the
    /// dead letters', on. `None` when the batch was the reader's failure.
    fn feed(&mut self, k: usize, fed: Fed) -> Option<Pending> {
        let next = &mut self.owned[k];
        let (mut batch, status, frontier, read_at) = match fed {
            Fed::Batch { batch, status, frontier, read_at, quiet } => {
                next.quiet = quiet;
                (batch, status, frontier, read_at)
            }
            Fed::Failed(source) => {
                let e = RunError::Connector { component: next.name.clone(), source };
                self.fail(e);
                return None;
            }
        };
        let handle = next.handle.as_mut().expect("only open inputs are read");
        let rows = batch.rows.len() as u64;
        // A live table's changes happen now: at its current time, whatever the reader stamped.
        let now = *handle.time();
        for (row, time) in batch.retracted.drain(..) {
            handle.update_at(row, time.max(now), -1);
        }
        if let Some(late) = next.late.as_mut() {
            late.note(&batch.rows);
        }
        for (row, time) in batch.rows.drain(..) {
            handle.update_at(row, time.max(now), 1);
        }
        let metrics = self.metrics;
        let counter =
            if next.role == InputRole::Source { &metrics.events_in } else { &metrics.table_rows };
        counter.fetch_add(rows, Ordering::Relaxed);
        if !batch.dead.is_empty() {
            let dead_input = self.dead.as_mut().expect("open while inputs are");
            send_dead_letters(&next.name, &mut batch.dead, dead_input, metrics);
        }
        next.frontier = frontier;
        if status == ReadStatus::Finished {
            next.handle = None;
            next.late = None;
            metrics.set_frontier(next.index, next.share, u64::MAX);
        } else {
            if *handle.time() < frontier {
                handle.advance_to(frontier);
            }
            handle.flush();
            if let Some(late) = next.late.as_mut() {
                late.advance_to(frontier);
            }
            metrics.set_frontier(next.index, next.share, frontier);
        }
        if status != ReadStatus::More {
            metrics.set_caught_up(next.index, next.share);
        }
        let low = self.advance_dead_letters();
        if let (Some(low), true) = (low, rows > 0) {
            self.in_flight.push_back((low, read_at));
        }
        Some(Pending { low, idle: status == ReadStatus::Idle })
    }

    /// Moves the dead-letter input up to the slowest open input, or closes it when none is left;
    /// returns that input's frontier.
    fn advance_dead_letters(&mut self) -> Option<Time> {
        let low = self.owned.iter().filter(|o| o.handle.is_some()).map(|o| o.frontier).min();
        match (low, self.dead.as_mut()) {
            (Some(low), Some(dead)) => {
                if *dead.time() < low {
                    dead.advance_to(low);
                }
                dead.flush();
            }
            (None, _) => self.dead = None,
            _ => {}
        }
        low
    }

    /// Steps the dataflow until it has caught up with what was fed (or for a short while), so
    /// memory stays bounded, and records the latency of every batch that got through.
    fn catch_up(&mut self, worker: &mut Worker, probe: &ProbeHandle<Time>, fed: Pending) {
        let (wait, park) = match fed.idle {
            true => (Duration::from_millis(100), Some(Duration::from_millis(10))),
            false => (CATCH_UP, Some(Duration::ZERO)),
        };
        let deadline = Instant::now() + wait;
        loop {
            worker.step_or_park(park);
            while let Some((time, at)) = self.in_flight.front() {
                if probe.less_than(time) {
                    break;
                }
                self.latencies.push(micros(at.elapsed()));
                self.in_flight.pop_front();
            }
            let caught_up = fed.low.is_none_or(|low| !probe.less_than(&low));
            if caught_up || Instant::now() >= deadline || self.metrics.stopping() {
                return;
            }
        }
    }

    /// A redeployed dataflow that follows its inputs has recomputed everything available so far
    /// once every input has caught up: its sinks show the difference. (A finite run does this
    /// when it finishes.)
    fn end_redeploy(&mut self, probe: &ProbeHandle<Time>, low: Option<Time>, slots: &Slots) {
        let Some(low) = low else { return };
        if self.redeployed || probe.less_than(&low) || !self.metrics.all_caught_up() {
            return;
        }
        self.redeployed = true;
        for (slot, _) in slots {
            let mut slot = slot.borrow_mut();
            if let Err(e) = slot.end_catch_up() {
                self.metrics.fail(format_args!("sink `{}`: {e}", slot.name));
                slot.error.get_or_insert(e);
            }
        }
    }

    /// Closes the inputs and steps the dataflow until everything is through it, or, on a stop,
    /// drops what is still in flight: the sinks keep the times they completed.
    fn drain(&mut self, worker: &mut Worker, probe: &ProbeHandle<Time>, pipeline: usize) {
        self.owned.clear();
        self.dead = None;
        while !probe.done() && !self.metrics.stopping() {
            self.link.pump(self.metrics);
            self.note_store_frontier();
            worker.step_or_park(Some(Duration::from_millis(1)));
        }
        self.note_store_frontier();
        if !probe.done() {
            worker.drop_dataflow(pipeline);
        }
        let now = Instant::now();
        let left = self.in_flight.iter().map(|(_, at)| micros(now.duration_since(*at)));
        self.latencies.extend(left);
        self.metrics.record_latencies(&self.latencies);
    }
}

/// A duration in microseconds, saturating at `u32::MAX`.
fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

/// The input sessions of the dataflow (`None` for streams of the simulated store), the
/// late-arrival sessions of the sources whose late arrivals are read, and the dead letters'.
type Sessions = (Inputs, Inputs, InputSession<Time, Row, Diff>);

/// One optional input session per plan input.
type Inputs = Vec<Option<InputSession<Time, Row, Diff>>>;

/// Builds the worker's dataflow: an input per source and table (or the simulated store's
/// streams), the needed operators, a sink operator per slot, and the store's feedback loop.
fn build_dataflow(
    worker: &mut Worker,
    plan: &Plan,
    slots: &Slots,
    (worlds, store_probe): (Vec<shelfflow_connectors::simulator::World>, &ProbeHandle<Time>),
    metrics: &Arc<Metrics>,
    probe: &ProbeHandle<Time>,
) -> Sessions {
    worker.dataflow::<Time, _, _>(|scope| {
        let mut colls: HashMap<String, Coll<'_>> = HashMap::new();
        let mut handles = Vec::new();
        let simulated: Vec<usize> = plan
            .simulation
            .as_ref()
            .map(|sim| sim.streams.iter().map(|(i, _, _)| *i).collect())
            .unwrap_or_default();
        for (i, input) in plan.inputs.iter().enumerate() {
            if simulated.contains(&i) {
                handles.push(None);
                continue;
            }
            let (handle, coll) = scope.new_collection::<Row, Diff>();
            colls.insert(input.name.clone(), coll);
            handles.push(Some(handle));
        }
        // The store's feedback loop: the pipeline's plans, delayed by the pick delay.
        let mut feedback_loop = None;
        if let Some(sim) = &plan.simulation {
            let delay = (sim.settings.world_config().pick_delay.max(1) as u64).max(plan.tick);
            let (handle, fed) = if sim.feedback.is_empty() {
                (None, timely::dataflow::operators::generic::operator::empty(scope))
            } else {
                let (handle, fed) = scope.feedback::<Vec<simulation::Fed>>(delay);
                (Some(handle), fed)
            };
            feedback_loop = handle;
            let streams = simulation::simulate_store(
                scope,
                sim,
                plan.tick,
                worlds,
                fed,
                metrics.clone(),
                store_probe,
            );
            for ((i, _, _), coll) in sim.streams.iter().zip(streams) {
                colls.insert(plan.inputs[*i].name.clone(), coll);
            }
        }
        let roots = slots.iter().filter_map(|(_, input)| input.as_deref());
        let feedback = plan.simulation.iter().flat_map(|sim| sim.feedback.iter());
        let checked =
            super::checks::violation_outputs(plan).into_iter().map(|(_, output, _)| output);
        let roots: Vec<&str> = roots
            .chain(feedback.map(|(sink, _, _)| plan.sinks[*sink].input.as_str()))
            .chain(checked)
            .collect();
        // What each input read, before its retention retracts any of it.
        let read_rows: HashMap<String, Coll<'_>> = plan
            .inputs
            .iter()
            .filter(|i| is_read(plan, &roots, &crate::planner::line_count_of(&i.name)))
            .filter_map(|i| Some((i.name.clone(), colls.get(&i.name)?.clone())))
            .collect();
        for (input, retention) in plan.inputs.iter().filter_map(|i| Some((i, i.retention?))) {
            let after = shelfflow_connectors::clock::round_up(retention, plan.tick);
            if let Some(coll) = colls.remove(&input.name) {
                let expiring = super::retention::expire_after(coll, after, &input.name);
                colls.insert(input.name.clone(), expiring);
            }
        }
        let (dead_handle, dead) = scope.new_collection::<Row, Diff>();
        add_dead_letter_inputs(plan, &roots, &mut colls, &dead);
        for (input, rows) in read_rows {
            let rejected = dead_letters_from(&dead, &input);
            colls.insert(crate::planner::line_count_of(&input), count_lines(rows, rejected));
        }
        let late = add_late_arrival_inputs(scope, plan, &roots, &mut colls);
        let (colls, dead_rows) = build::build_operators(plan, colls, &roots);
        super::checks::watch_violations(plan, &colls, metrics, probe);
        let counter = metrics.clone();
        let dead = dead.concatenate(dead_rows.into_iter().map(move |rows| {
            let counter = counter.clone();
            rows.inspect(move |(row, _, diff)| {
                if *diff > 0 {
                    counter.count_dead_letter(dead_letter::kind_of(row), *diff as u64);
                }
            })
        }));
        for (slot, input) in slots {
            let mut coll = match input {
                Some(name) => colls[name].clone(),
                None => dead.clone(),
            };
            let name = slot.borrow().name.clone();
            let retention = plan.sinks.iter().find(|s| s.name == name).and_then(|s| s.retention);
            if let Some((after, column)) = retention {
                coll = super::retention::expire_rows(coll, after, column, plan.tick, &name);
            }
            attach(coll, slot.clone(), metrics.clone(), probe);
        }
        if let (Some(handle), Some(sim)) = (feedback_loop, &plan.simulation) {
            let fed = sim.feedback.iter().enumerate().map(|(k, (sink, _, _))| {
                colls[&plan.sinks[*sink].input]
                    .inner
                    .clone()
                    .map(move |(row, time, diff)| ((k, row), time, diff))
            });
            scope.concatenate(fed).connect_loop(handle);
        }
        (handles, late, dead_handle)
    })
}

/// Whether an output (`roots`) or an operator reads collection `name`.
fn is_read(plan: &Plan, roots: &[&str], name: &str) -> bool {
    roots.contains(&name) || plan.operators.iter().any(|o| o.inputs.iter().any(|i| i == name))
}

/// `<input>.line_count`: one row of the accepted `rows` and the `dead` letters counted so far
/// (none until the input has read anything).
fn count_lines<'s>(rows: Coll<'s>, dead: Coll<'s>) -> Coll<'s> {
    use shelfflow_operators::Value;
    let tagged = rows.map(|_| ((), 0u8)).concat(dead.map(|_| ((), 1u8)));
    tagged
        .reduce_named("LineCount", |_, counts: &[(&u8, Diff)], output: &mut Vec<(Row, Diff)>| {
            let (mut records, mut dead) = (0i64, 0i64);
            for (tag, count) in counts {
                match **tag {
                    0 => records += *count as i64,
                    _ => dead += *count as i64,
                }
            }
            let row = vec![Value::Int(records), Value::Int(dead), Value::Int(records + dead)];
            output.push((row, 1));
        })
        .map(|((), row)| row)
}

/// An input per source whose `<source>.late_arrivals` an operator or output reads; the others
/// get `None`.
fn add_late_arrival_inputs<'s>(
    scope: timely::dataflow::Scope<'s, Time>,
    plan: &Plan,
    roots: &[&str],
    colls: &mut HashMap<String, Coll<'s>>,
) -> Inputs {
    let read = |name: &str| is_read(plan, roots, name);
    let mut sessions = Vec::new();
    for input in &plan.inputs {
        let name = crate::planner::late_arrivals_of(&input.name);
        if input.role != InputRole::Source || !read(&name) {
            sessions.push(None);
            continue;
        }
        let (session, coll) = scope.new_collection::<Row, Diff>();
        colls.insert(name, coll);
        sessions.push(Some(session));
    }
    sessions
}

/// The dead letters of the inputs as collections operators and sinks read (`dead_letters`, and
/// `<input>.dead_letters` for each input that has a reader). The operators' own dead letters
/// (rows an expression rejected) are not in them: an operator reading them would read itself.
fn add_dead_letter_inputs<'s>(
    plan: &Plan,
    roots: &[&str],
    colls: &mut HashMap<String, Coll<'s>>,
    dead: &Coll<'s>,
) {
    let read = |name: &str| is_read(plan, roots, name);
    colls.insert(crate::planner::DEAD_LETTERS.to_owned(), dead.clone());
    for input in &plan.inputs {
        let name = crate::planner::dead_letters_of(&input.name);
        if read(&name) {
            colls.insert(name, dead_letters_from(dead, &input.name));
        }
    }
}

/// The dead letters of input `input` among the inputs' `dead` letters.
fn dead_letters_from<'s>(dead: &Coll<'s>, input: &str) -> Coll<'s> {
    let source = shelfflow_operators::value::Value::str(input);
    dead.clone().filter(move |row| dead_letter::source_of(row) == &source)
}

/// Every store of the chain at its start, from the reference data in the settings' directory.
fn open_stores(
    sim: &crate::planner::SimulationPlan,
) -> Result<Vec<shelfflow_connectors::simulator::World>, RunError> {
    let dir = sim.settings.data_dir();
    let chain = shelfflow_connectors::simulator::parquet::read_chain(&dir)
        .map_err(|source| RunError::Connector { component: "simulator".to_owned(), source })?;
    let config = sim.settings.world_config();
    Ok(chain
        .into_iter()
        .map(|store| {
            let config = config.for_store(&store.profile);
            shelfflow_connectors::simulator::World::new(config, store.reference)
        })
        .collect())
}
