//! The simulated store inside the dataflow.
//!
//! The store is one operator on every worker, each simulating its share of the chain's stores
//! (a store's feedback is exchanged to the worker that simulates it). Its input is the pipeline's
//! feedback (restock plans, supplier orders, discounts), looped back through a timely feedback
//! edge that delays it by the store's `pick_delay`; its outputs are the four event streams.
//! Timely's progress tracking then tells the store exactly when it may move on: once the
//! feedback frontier passes `t`, every plan the pipeline made before `t − pick_delay` is known,
//! so the store can simulate up to `t` without missing a reaction. No threads wait on each
//! other, and the result is the same at any speed and with any number of workers or processes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use differential_dataflow::AsCollection;
use shelfflow_connectors::clock::{round_down, round_up};
use shelfflow_connectors::simulator::{Feedback, Speed, Stream as StoreStream, World};
use shelfflow_operators::value::Micros;
use shelfflow_operators::{Coll, Diff, Row, Time, Value};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::core::Partition;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;
use timely::dataflow::{Scope, Stream};

use super::metrics::Metrics;
use crate::planner::SimulationPlan;

/// A feedback change: `((feedback sink, row), time, diff)`.
pub type Fed = ((usize, Row), Time, Diff);

/// An event of the store: `((simulated input slot, row), time, diff)`.
type Emitted = ((usize, Row), Time, Diff);

/// The stores one worker simulates, all at the same clock.
struct Chain {
    worlds: Vec<World>,
    /// Feedback for stores this worker does not have (a `store_id` not in the chain).
    unknown: u64,
}

impl Chain {
    fn new(worlds: Vec<World>) -> Chain {
        Chain { worlds, unknown: 0 }
    }

    /// The stores' clock; `None` when this worker simulates none.
    fn now(&self) -> Option<Micros> {
        self.worlds.iter().map(World::now).min()
    }

    fn end(&self) -> Option<Micros> {
        self.worlds.iter().map(World::end).max()
    }

    fn next_event(&self) -> Option<Micros> {
        self.worlds.iter().filter_map(World::next_event).min()
    }

    /// Moves store `store` to `at`, then tells it `feedback`.
    fn feed(
        &mut self,
        store: i64,
        at: Micros,
        feedback: Feedback,
        emit: &mut dyn FnMut(StoreStream, Row),
    ) {
        // The worlds are in `store_id` order (see `stores_of`).
        match self.worlds.binary_search_by_key(&store, |w| w.config().store_id) {
            Ok(index) => {
                let world = &mut self.worlds[index];
                world.advance(at, emit);
                world.feed(feedback);
            }
            Err(_) => {
                self.unknown += 1;
                if self.unknown.is_power_of_two() {
                    tracing::warn!(
                        store,
                        count = self.unknown,
                        "feedback for a store not in the chain ignored"
                    );
                }
            }
        }
    }

    fn advance(&mut self, until: Micros, emit: &mut dyn FnMut(StoreStream, Row)) {
        for world in &mut self.worlds {
            world.advance(until, emit);
        }
    }
}

/// At most this much simulated time per activation, so memory stays bounded when nothing
/// holds the store back.
const CHUNK: Micros = 3_600_000_000;

/// After the last day, the store runs this much longer so shoppers finish their trips.
pub const DRAIN: Micros = 2 * 3_600_000_000;

/// The stores of a chain one worker simulates, in `store_id` order: those whose
/// `store_id % peers` is its index, the same rule that routes their feedback to it.
pub fn stores_of(worker: usize, peers: usize, stores: Vec<World>) -> Vec<World> {
    let mut mine: Vec<World> =
        stores.into_iter().filter(|w| store_worker(w.config().store_id, peers) == worker).collect();
    mine.sort_by_key(|w| w.config().store_id);
    mine
}

/// The worker (global index) that simulates a store: the exchange of its feedback.
fn store_worker(store_id: i64, peers: usize) -> usize {
    (route(store_id) % peers.max(1) as u64) as usize
}

/// The exchange hash of a store's feedback.
const fn route(store_id: i64) -> u64 {
    store_id as u64
}

/// Builds the store operator: every worker simulates its share of the chain's stores (`worlds`,
/// see [`stores_of`]), in lockstep up to the same times. Returns one collection per entry of
/// `sim.streams`, in that order; `probe` follows the store's progress on every worker.
pub fn simulate_store<'s>(
    scope: Scope<'s, Time>,
    sim: &SimulationPlan,
    tick: u64,
    worlds: Vec<World>,
    feedback: Stream<'s, Time, Vec<Fed>>,
    metrics: Arc<Metrics>,
    probe: &ProbeHandle<Time>,
) -> Vec<Coll<'s>> {
    let mut slot_of = [None; 4];
    for (slot, (_, stream, _)) in sim.streams.iter().enumerate() {
        slot_of[StoreStream::ALL.iter().position(|s| s == stream).expect("known stream")] =
            Some(slot);
    }
    let slot_of: Vec<Option<usize>> = slot_of.to_vec();
    let projections: Vec<Vec<usize>> = sim.streams.iter().map(|(_, _, p)| p.clone()).collect();
    let interpret: Vec<_> = sim.feedback.iter().map(|(_, f, p)| (f.clone(), p.clone())).collect();
    let store_columns: Vec<Option<usize>> = interpret.iter().map(|(_, p)| p.store).collect();
    let speed = sim.settings.speed();
    let slots = sim.streams.len() as u64;
    let to_store = move |((k, row), _, _): &Fed| {
        route(store_columns[*k].and_then(|c| row[c].as_int()).unwrap_or(1))
    };
    let events = feedback.unary_frontier::<CapacityContainerBuilder<Vec<Emitted>>, _, _, _>(
        Exchange::new(to_store),
        "SimulatedStore",
        move |capability, info| {
            let activator = scope.activator_for(info.address);
            let mut chain = Chain::new(worlds);
            // Held at the earliest time the stores may still emit at: their next scheduled
            // action or the earliest feedback not yet executed, so that while nothing is
            // scheduled (the night) the pipelines' frontier, and with it the feedback's, moves
            // on at once.
            let mut capability = chain.now().map(|now| {
                let mut cap = capability;
                cap.downgrade(&round_down(now as Time, tick));
                cap
            });
            let horizon = chain.end().map_or(0, |end| (end + DRAIN) as Time);
            let mut pending: Vec<(Time, usize, Diff, Row)> = Vec::new();
            let started = Instant::now();
            let start = chain.now().unwrap_or(0) as Time;
            move |(input, frontier), output| {
                let clock = chain.now().map_or(0, |now| round_down(now as Time, tick));
                input.for_each(|cap, data| {
                    let arrival = *cap.time();
                    // Feedback is executed at its arrival, or now if that has passed: keep a
                    // capability that early.
                    let due = arrival.max(clock);
                    if capability.as_ref().is_some_and(|held| due < *held.time()) {
                        let mut early = cap.retain(0);
                        early.downgrade(&due);
                        capability = Some(early);
                    }
                    pending.extend(data.drain(..).map(|((fb, row), _, d)| (arrival, fb, d, row)));
                });
                let (Some(now), Some(held)) = (chain.now(), capability.as_ref()) else {
                    return;
                };
                if metrics.stop.load(Ordering::Relaxed) {
                    capability = None;
                    return;
                }
                let now = now as Time;
                let known = frontier.frontier().first().copied().unwrap_or(Time::MAX);
                tracing::trace!(now, known, pending = pending.len(), "store activated");
                let mut target = known.min(horizon).min(now.saturating_add(CHUNK as Time));
                // Held back by the wall clock (a speed factor): look again in 20 ms.
                let mut paced = false;
                if let Speed::Factor(factor) = speed {
                    let allowed = start + (started.elapsed().as_micros() as f64 * factor) as Time;
                    if allowed < target {
                        target = allowed;
                        paced = true;
                        activator.activate_after(Duration::from_millis(20));
                    }
                }
                if target > now + tick {
                    target = round_down(target, tick);
                }
                if target <= now {
                    return;
                }
                if !pending.is_sorted() {
                    pending.sort();
                }
                let ready = pending.partition_point(|(arrival, ..)| *arrival < target);
                let floor = *held.time();
                let mut emitted = 0u64;
                let mut session = output.session(held);
                let mut emit = |stream: StoreStream, row: Row| {
                    let Some(slot) = slot_of[stream as usize] else { return };
                    let micros = match row[stream.time_index()] {
                        Value::Timestamp(t) => t.max(0) as u64,
                        _ => now,
                    };
                    let row: Row = projections[slot].iter().map(|&c| row[c].clone()).collect();
                    emitted += 1;
                    session.give(((slot, row), round_up(micros, tick).max(floor), 1));
                };
                for (arrival, fb, diff, row) in pending.drain(..ready) {
                    let (spec, columns) = &interpret[fb];
                    if let Some((store, feedback)) = spec.interpret(columns, &row, diff) {
                        chain.feed(store, arrival as Micros, feedback, &mut emit);
                    }
                }
                chain.advance(target as Micros, &mut emit);
                drop(session);
                metrics.events_in.fetch_add(emitted, Ordering::Relaxed);
                // The earliest time anything can still be emitted at.
                let next_scheduled =
                    chain.next_event().map_or(Time::MAX, |t| round_down(t.max(0) as Time, tick));
                let next_feedback = pending.first().map_or(Time::MAX, |(arrival, ..)| *arrival);
                let next = next_scheduled.min(next_feedback).max(target);
                if target >= horizon {
                    capability = None;
                } else {
                    capability.as_mut().expect("held").downgrade(&next.min(horizon));
                    // Not held back by the feedback frontier nor the clock (a chunk's end, or a
                    // clock that ran ahead while the dataflow was held back): go on at once.
                    if target < known && !paced {
                        activator.activate();
                    }
                }
            }
        },
    );
    events
        .probe_with(probe)
        .partition::<CapacityContainerBuilder<Vec<(Row, Time, Diff)>>, _, _>(
            slots,
            |((slot, row), time, diff)| (slot as u64, (row, time, diff)),
        )
        .into_iter()
        .map(|s| s.as_collection())
        .collect()
}
