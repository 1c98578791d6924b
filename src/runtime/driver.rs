//! One timely worker: builds the dataflow from the plan, reads the inputs it owns, and steps the
//! dataflow until every input is exhausted (or a stop is requested) and every sink is flushed.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use differential_dataflow::input::{Input, InputSession};
use std::sync::mpsc;

use shelfflow_connectors::{
    CatchUp, ConnectorError, EventClock, ReadStatus, SourceBatch, SourceReader,
};
use shelfflow_operators::{Coll, Diff, Row, Time};
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Concatenate, ConnectLoop, Feedback};
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use super::metrics::Metrics;
use super::sink::{
    attach, dead_letter_row, dead_letter_schema, DeadLetterWriter, SinkSlot, SlotOutput, TapWriter,
};
use super::{build, simulation, RunError, RunOptions};
use crate::planner::{InputRole, Plan};

/// Records read from one input per call, between two looks at the dataflow. Small enough that
/// a batch's rows are still in cache when the next operator takes them (16 Ki cost 10-20 %).
const BATCH: usize = 1024;

/// How long a worker keeps stepping to let the dataflow catch up before reading more.
const CATCH_UP: Duration = Duration::from_millis(50);

/// Batches a reader thread has decoded, bounded so a fast reader cannot run far ahead.
const FEED_DEPTH: usize = 16;

/// An input this worker reads. Decoding runs on a reader thread of its own, so parsing and the
/// dataflow overlap; the input's records still arrive in file order.
struct Owned {
    index: usize,
    name: String,
    role: InputRole,
    handle: Option<InputSession<Time, Row, Diff>>,
    feed: mpsc::Receiver<Fed>,
    frontier: Time,
    /// `Some(worker)` for this worker's share of a partitioned input.
    share: Option<usize>,
    /// A table that keeps changing (a polled database table): once loaded, its frontier follows
    /// the sources' and its changes are stamped with it; it closes when every source has ended.
    live: bool,
    /// Its last batch said it has been quiet past its idle timeout (a followed topic without
    /// records): it is drained, never waited for.
    quiet: bool,
}

/// What a reader thread sends: one decoded batch, or the error that ended it.
enum Fed {
    Batch {
        batch: SourceBatch,
        status: ReadStatus,
        frontier: Time,
        read_at: Instant,
        /// The source has been quiet past its idle timeout (see [`SourceReader::idle`]).
        quiet: bool,
    },
    Failed(ConnectorError),
}

/// Which frontiers an idle input follows (see [`Metrics::idle_follow`]).
struct Follow {
    input: usize,
    share: Option<usize>,
    /// The pipeline's sources.
    sources: Arc<[usize]>,
}

/// Starts the thread that reads and decodes one input. For a table (`unique_key` given), a row
/// whose key was already read is a dead letter: a table has one row per key.
fn spawn_reader(
    name: &str,
    mut reader: Box<dyn SourceReader>,
    mut clock: EventClock,
    unique_key: Option<Vec<usize>>,
    metrics: Arc<Metrics>,
    worker: usize,
    follow: Follow,
) -> Result<mpsc::Receiver<Fed>, RunError> {
    let (send, feed) = mpsc::sync_channel(FEED_DEPTH);
    let table = name.to_owned();
    let mut seen: std::collections::HashSet<Row> = std::collections::HashSet::new();
    let mut rows_read = 0usize;
    std::thread::Builder::new()
        .name(format!("read:{name}"))
        .spawn(move || loop {
            let mut batch = SourceBatch::default();
            let result = reader.read(BATCH, &mut clock, &mut batch);
            let quiet = matches!(result, Ok(ReadStatus::Idle)) && reader.idle();
            if quiet {
                // Nothing arrives: follow the other sources instead of holding them back.
                if let Some(to) = metrics.idle_follow(follow.input, follow.share, &follow.sources) {
                    clock.advance_to(to);
                }
            }
            metrics.positions.record(&table, worker, clock.frontier(), &batch.positions);
            if let (Some(key), Ok(_)) = (&unique_key, &result) {
                // A row deleted (or replaced) frees its key.
                for (row, _) in &batch.retracted {
                    seen.remove(&key.iter().map(|&c| row[c].clone()).collect::<Row>());
                }
                let rows = std::mem::take(&mut batch.rows);
                for (row, time) in rows {
                    rows_read += 1;
                    if seen.insert(key.iter().map(|&c| row[c].clone()).collect()) {
                        batch.rows.push((row, time));
                    } else {
                        let raw = serde_json::Value::Array(
                            row.iter().map(shelfflow_operators::Value::to_json).collect(),
                        )
                        .to_string();
                        let position = format!("{table}: row {rows_read}");
                        batch.dead.push(shelfflow_connectors::DeadLetter {
                            position,
                            reason: "duplicate key in table".to_owned(),
                            raw,
                            time,
                        });
                    }
                }
            }
            let fed = match result {
                Ok(status) => Fed::Batch {
                    batch,
                    status,
                    frontier: clock.frontier(),
                    read_at: Instant::now(),
                    quiet,
                },
                Err(e) => Fed::Failed(e),
            };
            let last =
                !matches!(fed, Fed::Batch { status: ReadStatus::More | ReadStatus::Idle, .. });
            if last {
                tracing::debug!(input = %table, frontier = clock.frontier(), "reader finished");
            }
            let idle = matches!(fed, Fed::Batch { status: ReadStatus::Idle, .. });
            if send.send(fed).is_err() || last || metrics.stopping() {
                return;
            }
            if idle {
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .map_err(|e| RunError::Dataflow(format!("cannot start the reader of `{name}`: {e}")))?;
    Ok(feed)
}

/// Applies every change a loaded live table's reader has sent so far, at the table's current
/// time (its changes happen "now" for the streams), without waiting for more.
fn apply_live_changes(
    table: &mut Owned,
    mut dead_input: Option<&mut InputSession<Time, Row, Diff>>,
    metrics: &Metrics,
) -> Result<(), RunError> {
    let Some(handle) = table.handle.as_mut() else { return Ok(()) };
    loop {
        match table.feed.try_recv() {
            Ok(Fed::Batch { mut batch, .. }) => {
                let now = *handle.time();
                let changes = (batch.rows.len() + batch.retracted.len()) as u64;
                for (row, _) in batch.retracted.drain(..) {
                    handle.update_at(row, now, -1);
                }
                for (row, _) in batch.rows.drain(..) {
                    handle.update_at(row, now, 1);
                }
                metrics.table_rows.fetch_add(changes, Ordering::Relaxed);
                if let Some(dead) = dead_input.as_deref_mut() {
                    send_dead_letters(&table.name, &mut batch.dead, dead, metrics);
                }
                handle.flush();
            }
            Ok(Fed::Failed(source)) => {
                return Err(RunError::Connector { component: table.name.clone(), source });
            }
            Err(_) => return Ok(()),
        }
    }
}

/// Counts `letters` and moves them into the dead-letter collection, each at its own time or the
/// collection's current one, whichever is later.
fn send_dead_letters(
    source: &str,
    letters: &mut Vec<shelfflow_connectors::DeadLetter>,
    dead: &mut InputSession<Time, Row, Diff>,
    metrics: &Metrics,
) {
    metrics.count_dead_letters(letters);
    for letter in letters.drain(..) {
        let time = letter.time.max(*dead.time());
        dead.update_at(dead_letter_row(source, letter), time, 1);
    }
}

/// Microseconds since the epoch now.
fn wall_clock() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_micros() as u64)
}

/// Live tables, once loaded, follow the slowest source (on any worker): their changes so far
/// are applied at their current time and their frontier moves up to the sources'. They close
/// when every source has ended.
fn advance_live_tables(
    owned: &mut [Owned],
    sources: &[usize],
    mut dead_input: Option<&mut InputSession<Time, Row, Diff>>,
    metrics: &Metrics,
    failure: &mut Option<RunError>,
) {
    let follow = shelfflow_connectors::clock::live_table_frontier(
        sources.iter().map(|&i| metrics.frontiers[i].load(Ordering::Relaxed)),
    );
    for table in owned.iter_mut().filter(|o| o.live && o.handle.is_some()) {
        if !metrics.caught_up[table.index].load(Ordering::Relaxed) {
            continue;
        }
        if let Err(e) = apply_live_changes(table, dead_input.as_deref_mut(), metrics) {
            failure.get_or_insert(e);
            metrics.request_stop();
        }
        if follow <= table.frontier {
            continue;
        }
        if follow == Time::MAX {
            table.handle = None;
            metrics.set_frontier(table.index, table.share, Time::MAX);
            continue;
        }
        table.frontier = follow;
        let handle = table.handle.as_mut().expect("open");
        handle.advance_to(follow);
        handle.flush();
        metrics.set_frontier(table.index, table.share, follow);
    }
}

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
    let index = worker.index();
    let peers = worker.peers();
    let leader = index == 0;
    // A failure to open an input or output stops the run, but this worker still builds and
    // drains its dataflow, so the other workers are never left waiting for it.
    let (slots, mut failure) = open_sinks(plan, options, metrics, leader);
    if failure.is_some() {
        metrics.request_stop();
    }
    let probe = ProbeHandle::new();

    // The simulated store runs on the leader, from the reference data it reads now.
    let world = match (&plan.simulation, leader) {
        (Some(sim), true) => match open_world(sim) {
            Ok(world) => Some(world),
            Err(e) => {
                failure.get_or_insert(e);
                metrics.request_stop();
                None
            }
        },
        _ => None,
    };
    let (handles, dead_handle) = build_dataflow(worker, plan, &slots, world, metrics, &probe);

    let sources: Arc<[usize]> =
        (0..plan.inputs.len()).filter(|&i| plan.inputs[i].role == InputRole::Source).collect();
    let mut owned = start_readers(plan, handles, (index, peers), &sources, metrics, &mut failure);

    let simulated: Vec<usize> = plan
        .simulation
        .as_ref()
        .map(|sim| sim.streams.iter().map(|(i, _, _)| *i).collect())
        .unwrap_or_default();
    let mut dead_handle = Some(dead_handle);
    let mut in_flight: VecDeque<(Time, Instant)> = VecDeque::new();
    let mut latencies = Vec::new();
    let mut redeployed = false;
    while !metrics.stopping() {
        advance_live_tables(&mut owned, &sources, dead_handle.as_mut(), metrics, &mut failure);
        // Reference tables first until they have loaded (they hold the frontier at 0), then the
        // input furthest behind.
        let loaded_live = |o: &Owned| o.live && metrics.caught_up[o.index].load(Ordering::Relaxed);
        let mut order: Vec<usize> = (0..owned.len())
            .filter(|&k| owned[k].handle.is_some() && !loaded_live(&owned[k]))
            .collect();
        if order.is_empty() {
            if owned.iter().any(|o| o.handle.is_some()) {
                // Only live tables left here: they follow sources read elsewhere.
                worker.step_or_park(Some(Duration::from_millis(1)));
                continue;
            }
            break;
        }
        order.sort_by_key(|&k| {
            let o = &owned[k];
            (
                o.role == InputRole::Source || metrics.caught_up[o.index].load(Ordering::Relaxed),
                o.frontier,
            )
        });
        // A source ahead of the simulated store waits for it: rows far ahead of the other inputs
        // (a calendar) would make joins with them compute every future time at once.
        let store_at = simulated
            .iter()
            .map(|&i| metrics.frontiers[i].load(Ordering::Relaxed))
            .min()
            .unwrap_or(u64::MAX);
        order.retain(|&k| owned[k].role != InputRole::Source || owned[k].frontier <= store_at);
        // The input furthest behind, waited for briefly, so inputs advance together; quiet
        // inputs (idle past their timeout: a followed topic without records) are not waited
        // for, only drained, so they never hold back the others.
        let mut ready = None;
        let mut disconnected = None;
        let waited = order.iter().find(|&&k| !owned[k].quiet).copied();
        if let Some(k) = waited {
            match owned[k].feed.recv_timeout(Duration::from_millis(1)) {
                Ok(fed) => ready = Some((k, fed)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => disconnected = Some(k),
            }
        }
        for &k in order.iter().filter(|&&k| owned[k].quiet) {
            if ready.is_some() || disconnected.is_some() {
                break;
            }
            match owned[k].feed.try_recv() {
                Ok(fed) => ready = Some((k, fed)),
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => disconnected = Some(k),
            }
        }
        if let Some(k) = disconnected {
            let e = RunError::Dataflow(format!("the reader of `{}` stopped", owned[k].name));
            failure.get_or_insert(e);
            metrics.request_stop();
            break;
        }
        let Some((k, fed)) = ready else {
            // Nothing ready: step the dataflow, parking briefly unless we just waited.
            let park = if waited.is_some() { Duration::ZERO } else { Duration::from_millis(1) };
            worker.step_or_park(Some(park));
            continue;
        };
        let next = &mut owned[k];
        let (mut batch, status, frontier, read_at) = match fed {
            Fed::Batch { batch, status, frontier, read_at, quiet } => {
                next.quiet = quiet;
                (batch, status, frontier, read_at)
            }
            Fed::Failed(source) => {
                failure.get_or_insert(RunError::Connector { component: next.name.clone(), source });
                metrics.request_stop();
                break;
            }
        };
        let handle = next.handle.as_mut().expect("filtered on open handles");
        let rows = batch.rows.len() as u64;
        // A live table's changes happen now: at its current time, whatever the reader stamped.
        let now = *handle.time();
        for (row, time) in batch.retracted.drain(..) {
            handle.update_at(row, time.max(now), -1);
        }
        for (row, time) in batch.rows.drain(..) {
            handle.update_at(row, time.max(now), 1);
        }
        let counter =
            if next.role == InputRole::Source { &metrics.events_in } else { &metrics.table_rows };
        counter.fetch_add(rows, Ordering::Relaxed);
        if !batch.dead.is_empty() {
            let dead_input = dead_handle.as_mut().expect("open while inputs are");
            send_dead_letters(&next.name, &mut batch.dead, dead_input, metrics);
        }
        next.frontier = frontier;
        if status == ReadStatus::Finished {
            next.handle = None;
            metrics.set_frontier(next.index, next.share, u64::MAX);
        } else {
            if *handle.time() < frontier {
                handle.advance_to(frontier);
            }
            handle.flush();
            metrics.set_frontier(next.index, next.share, frontier);
        }
        let idle = status == ReadStatus::Idle;
        if status != ReadStatus::More {
            metrics.set_caught_up(next.index, next.share);
        }

        // The dead-letter input follows the slowest open input; it closes with the last one.
        let low = owned.iter().filter(|o| o.handle.is_some()).map(|o| o.frontier).min();
        match (low, dead_handle.as_mut()) {
            (Some(low), Some(dead_input)) => {
                if *dead_input.time() < low {
                    dead_input.advance_to(low);
                }
                dead_input.flush();
                if rows > 0 {
                    in_flight.push_back((low, read_at));
                }
            }
            (None, _) => dead_handle = None,
            _ => {}
        }

        // Let the dataflow catch up before taking more, so memory stays bounded.
        let deadline = Instant::now() + if idle { Duration::from_millis(100) } else { CATCH_UP };
        loop {
            worker.step_or_park(if idle {
                Some(Duration::from_millis(10))
            } else {
                Some(Duration::ZERO)
            });
            while let Some((time, at)) = in_flight.front() {
                if probe.less_than(time) {
                    break;
                }
                latencies.push(at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                in_flight.pop_front();
            }
            let caught_up = low.is_none_or(|low| !probe.less_than(&low));
            if low.is_some() && caught_up && !redeployed && leader && metrics.all_caught_up() {
                // A redeployed dataflow that follows its inputs has recomputed everything available
                // so far: show the difference. (A finite run does this when it finishes.)
                redeployed = true;
                for (slot, _) in &slots {
                    let mut slot = slot.borrow_mut();
                    if let Err(e) = slot.end_catch_up() {
                        slot.error.get_or_insert(e);
                        metrics.request_stop();
                    }
                }
            }
            if caught_up || Instant::now() >= deadline || metrics.stopping() {
                break;
            }
        }
    }
    drop(owned);
    drop(dead_handle);
    while !probe.done() && !metrics.stopping() {
        worker.step_or_park(Some(Duration::from_millis(1)));
    }
    if !probe.done() {
        // A stop: what is still in flight is left, and the sinks keep the times they completed.
        for dataflow in worker.installed_dataflows() {
            worker.drop_dataflow(dataflow);
        }
    }
    let now = Instant::now();
    latencies.extend(
        in_flight
            .iter()
            .map(|(_, at)| now.duration_since(*at).as_micros().min(u128::from(u32::MAX)) as u32),
    );
    metrics.record_latencies(&latencies);

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
    Ok(WorkerReport { errors, written_until })
}

/// The input sessions of the dataflow (`None` for streams of the simulated store) and of its
/// dead letters.
type Sessions = (Vec<Option<InputSession<Time, Row, Diff>>>, InputSession<Time, Row, Diff>);

/// Builds the worker's dataflow: an input per source and table (or the simulated store's
/// streams), the needed operators, a sink operator per slot, and the store's feedback loop.
fn build_dataflow(
    worker: &mut Worker,
    plan: &Plan,
    slots: &[(Rc<RefCell<SinkSlot>>, Option<String>)],
    world: Option<shelfflow_connectors::simulator::World>,
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
            let streams =
                simulation::simulate_store(scope, sim, plan.tick, world, fed, metrics.clone());
            for ((i, _, _), coll) in sim.streams.iter().zip(streams) {
                colls.insert(plan.inputs[*i].name.clone(), coll);
            }
        }
        for (input, retention) in plan.inputs.iter().filter_map(|i| Some((i, i.retention?))) {
            let after = shelfflow_connectors::clock::round_up(retention, plan.tick);
            if let Some(coll) = colls.remove(&input.name) {
                let expiring = super::retention::expire_after(coll, after, &input.name);
                colls.insert(input.name.clone(), expiring);
            }
        }
        let (dead_handle, dead) = scope.new_collection::<Row, Diff>();
        let roots = slots.iter().filter_map(|(_, input)| input.as_deref());
        let feedback = plan.simulation.iter().flat_map(|sim| sim.feedback.iter());
        let roots: Vec<&str> =
            roots.chain(feedback.map(|(sink, _, _)| plan.sinks[*sink].input.as_str())).collect();
        add_dead_letter_inputs(plan, &roots, &mut colls, &dead);
        let (colls, dead_rows) = build::build_operators(plan, colls, &roots);
        let counter = metrics.clone();
        let dead = dead.concatenate(dead_rows.into_iter().map(move |rows| {
            let counter = counter.clone();
            rows.inspect(move |(row, _, diff)| {
                if *diff > 0 {
                    let reason = row[2].as_str().unwrap_or_default();
                    counter
                        .count_dead_letter(shelfflow_connectors::reason_kind(reason), *diff as u64);
                }
            })
        }));
        for (slot, input) in slots {
            let coll = match input {
                Some(name) => colls[name].clone(),
                None => dead.clone(),
            };
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
        (handles, dead_handle)
    })
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
    let read = |name: &str| {
        roots.contains(&name) || plan.operators.iter().any(|o| o.inputs.iter().any(|i| i == name))
    };
    colls.insert(crate::planner::DEAD_LETTERS.to_owned(), dead.clone());
    for input in &plan.inputs {
        let name = crate::planner::dead_letters_of(&input.name);
        if read(&name) {
            let source = shelfflow_operators::value::Value::str(&input.name);
            colls.insert(name, dead.clone().filter(move |row| row[0] == source));
        }
    }
}

/// Starts a reader thread for every input this worker reads (its own inputs, and its share of
/// partitioned ones), paired with the input's session. A reader that cannot start is recorded
/// in `failure` and stops the run.
fn start_readers(
    plan: &Plan,
    handles: Vec<Option<InputSession<Time, Row, Diff>>>,
    (index, peers): (usize, usize),
    sources: &Arc<[usize]>,
    metrics: &Arc<Metrics>,
    failure: &mut Option<RunError>,
) -> Vec<Owned> {
    let mut owned = Vec::new();
    for (i, handle) in handles.into_iter().enumerate() {
        let Some(handle) = handle else {
            metrics.caught_up[i].store(true, Ordering::Relaxed);
            continue; // a stream of the simulated store
        };
        let input = &plan.inputs[i];
        let share = input.config.partitioned().then_some(index);
        if share.is_none() && i % peers != index {
            continue; // dropping the handle closes this worker's share of the input
        }
        let opened = match share {
            Some(_) => input.config.open_share(&input.schema, index, peers),
            None => input.config.open(&input.schema).map(Some),
        };
        let reader = match opened {
            Ok(Some(reader)) => reader,
            Ok(None) => continue, // no partition for this worker
            Err(source) => {
                failure
                    .get_or_insert(RunError::Connector { component: input.name.clone(), source });
                metrics.request_stop();
                continue;
            }
        };
        tracing::debug!(worker = index, input = %input.name, origin = %input.config.describe(), "reading");
        let clock =
            EventClock::new(input.schema.event_time, plan.tick, input.lateness).with_catch_up(
                plan.catch_up.map(|(tick, lag)| CatchUp { tick, lag, now: wall_clock() }),
            );
        let unique_key =
            (input.role == InputRole::Table).then(|| input.schema.key.clone().unwrap_or_default());
        let follow = Follow { input: i, share, sources: sources.clone() };
        let feed = match spawn_reader(
            &input.name,
            reader,
            clock,
            unique_key,
            metrics.clone(),
            index,
            follow,
        ) {
            Ok(feed) => feed,
            Err(e) => {
                failure.get_or_insert(e);
                metrics.request_stop();
                continue;
            }
        };
        if share.is_some() {
            metrics.set_frontier(i, share, 0); // holds the input's frontier until it reads
        }
        owned.push(Owned {
            index: i,
            name: input.name.clone(),
            role: input.role,
            handle: Some(handle),
            feed,
            frontier: 0,
            share,
            live: input.role == InputRole::Table && !input.config.is_finite(),
            quiet: false,
        });
    }
    for (i, frontier) in metrics.frontiers.iter().enumerate() {
        let config = &plan.inputs[i].config;
        if i % peers == index && config.simulation().is_none() && !config.partitioned() {
            frontier.store(0, Ordering::Relaxed);
        }
    }

    owned
}

/// Opens the writers (on the leader only) and pairs each with the collection it writes; `None`
/// stands for the dead-letter collection. A writer that cannot be opened is left out, and the
/// first such failure is returned next to the slots.
#[allow(clippy::type_complexity)]
fn open_sinks(
    plan: &Plan,
    options: &RunOptions,
    metrics: &Metrics,
    leader: bool,
) -> (Vec<(Rc<RefCell<SinkSlot>>, Option<String>)>, Option<RunError>) {
    let slot = |name: &str, shape: (Vec<usize>, usize, bool), output, counter| {
        Rc::new(RefCell::new(SinkSlot::new(name, shape, output, counter)))
    };
    if let Some(tapped) = &options.tap {
        let schema = plan.collections[tapped].clone();
        let key = schema.key_or_all();
        let width = schema.len();
        let output = leader.then(|| SlotOutput::Writer(Box::new(TapWriter::new(schema))));
        return (
            vec![(slot(tapped, (key, width, false), output, None), Some(tapped.clone()))],
            None,
        );
    }
    let mut outputs: Vec<Output> = plan
        .sinks
        .iter()
        .enumerate()
        .filter(|(_, sink)| sink.config.feedback().is_none())
        .map(|(i, sink)| Output {
            name: sink.name.clone(),
            key: sink.context.key.clone(),
            width: sink.context.schema.len(),
            target: Target::Sink(i),
            input: Some(sink.input.clone()),
            signature: format!(
                "{}|{:?}|{:?}",
                sink.config.describe(&sink.context),
                sink.context.schema.fields,
                sink.context.key
            ),
        })
        .collect();
    let dead_key: Vec<usize> = (0..dead_letter_schema().len()).collect();
    outputs.push(Output {
        name: "dead_letter".to_owned(),
        width: dead_key.len(),
        key: dead_key,
        target: Target::DeadLetters,
        input: None,
        signature: plan.dead_letter_path.display().to_string(),
    });
    let observed = options.observe.iter().flat_map(|o| o.collections.iter());
    for collection in observed.filter(|c| plan.collections.contains_key(*c)) {
        let schema = &plan.collections[collection];
        let key = schema.key_or_all();
        outputs.push(Output {
            name: super::view_name(collection),
            signature: format!("view|{:?}|{key:?}", schema.fields),
            key,
            width: schema.len(),
            target: Target::View(collection.clone()),
            input: Some(collection.clone()),
        });
    }
    let open = |target: &Target| -> Result<Box<dyn shelfflow_connectors::SinkWriter>, RunError> {
        match target {
            Target::Sink(i) => {
                let sink = &plan.sinks[*i];
                let mut context = sink.context.clone();
                context.positions = metrics.positions.clone();
                sink.config
                    .open(&context)
                    .map_err(|source| RunError::Connector { component: sink.name.clone(), source })
            }
            Target::DeadLetters => open_dead_letters(plan, metrics),
            Target::View(collection) => {
                let observe = options.observe.as_ref().expect("views come from `observe`");
                Ok((observe.open)(collection, &plan.collections[collection]))
            }
        }
    };
    let mut slots = Vec::new();
    let mut failure = None;
    for Output { name, key, width, target, input, signature } in outputs {
        let output = match (leader, &options.store) {
            (false, _) => Ok(None),
            (true, None) => open(&target).map(|w| Some(SlotOutput::Writer(w))),
            (true, Some(store)) => store.attach(&name, &signature, || open(&target)).map(Some),
        };
        // The sink's key is the collection's own (or all its columns): one row per key.
        let one_row_per_key = match &target {
            Target::Sink(i) => {
                let context = &plan.sinks[*i].context;
                context.key == context.schema.key_or_all()
            }
            Target::DeadLetters | Target::View(_) => false,
        };
        let counter = match target {
            Target::Sink(i) => Some(i),
            Target::DeadLetters | Target::View(_) => None,
        };
        let output = output.unwrap_or_else(|e| {
            failure.get_or_insert(e);
            None
        });
        slots.push((slot(&name, (key, width, one_row_per_key), output, counter), input));
    }
    (slots, failure)
}

/// One output of a run: a sink, the dead letters, or a live view of a collection.
struct Output {
    name: String,
    key: Vec<usize>,
    width: usize,
    target: Target,
    /// The collection it writes (`None`: the dead letters).
    input: Option<String>,
    /// What must stay the same for a redeploy to keep the open writer.
    signature: String,
}

/// What an output writes to.
enum Target {
    /// The plan's sink of this index.
    Sink(usize),
    /// The dead-letter file (and topic).
    DeadLetters,
    /// The live view of this collection.
    View(String),
}

/// The dead-letter writer: the JSONL file, and the Fluvio topic when one is configured.
fn open_dead_letters(
    plan: &Plan,
    metrics: &Metrics,
) -> Result<Box<dyn shelfflow_connectors::SinkWriter>, RunError> {
    let failed = |source| RunError::Connector { component: "dead_letter".to_owned(), source };
    let file = DeadLetterWriter::create(&plan.dead_letter_path).map_err(failed)?;
    let Some(topic) = &plan.dead_letter_topic else { return Ok(Box::new(file)) };
    let context = shelfflow_connectors::SinkContext {
        pipeline: plan.name.clone(),
        sink: "dead_letter".to_owned(),
        key: vec![0],
        output_dir: plan.dead_letter_path.clone(),
        description: None,
        definition_hash: plan.definition_hash.clone(),
        positions: metrics.positions.clone(),
        schema: dead_letter_schema(),
    };
    let fluvio =
        shelfflow_connectors::fluvio::FluvioWriter::open(topic, &context, false).map_err(failed)?;
    Ok(Box::new(super::sink::TeeWriter(vec![Box::new(file), Box::new(fluvio)])))
}

/// The simulated store at its start, from the reference data in the settings' directory.
fn open_world(
    sim: &crate::planner::SimulationPlan,
) -> Result<shelfflow_connectors::simulator::World, RunError> {
    let dir = sim.settings.data_dir();
    let reference = shelfflow_connectors::simulator::parquet::read_reference(&dir)
        .map_err(|source| RunError::Connector { component: "simulator".to_owned(), source })?;
    Ok(shelfflow_connectors::simulator::World::new(sim.settings.world_config(), reference))
}
