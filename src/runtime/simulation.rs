//! The simulated store inside the dataflow.
//!
//! The store is one operator on worker 0. Its input is the pipeline's feedback (restock plans,
//! supplier orders, discounts), looped back through a timely feedback edge that delays it by the
//! store's `pick_delay`; its outputs are the four event streams. Timely's progress tracking then
//! tells the store exactly when it may move on: once the feedback frontier passes `t`, every plan
//! the pipeline made before `t − pick_delay` is known, so the store can simulate up to `t`
//! without missing a reaction. No threads wait on each other, and the result is the same at any
//! speed and with any number of workers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use differential_dataflow::AsCollection;
use shelfflow_connectors::clock::{round_down, round_up};
use shelfflow_connectors::simulator::{Speed, Stream as StoreStream, World};
use shelfflow_operators::value::Micros;
use shelfflow_operators::{Coll, Diff, Row, Time, Value};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::core::Partition;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::{Scope, Stream};

use super::metrics::Metrics;
use crate::planner::SimulationPlan;

/// A feedback change: `((feedback sink, row), time, diff)`.
pub type Fed = ((usize, Row), Time, Diff);

/// An event of the store: `((simulated input slot, row), time, diff)`.
type Emitted = ((usize, Row), Time, Diff);

/// At most this much simulated time per activation, so memory stays bounded when nothing
/// holds the store back.
const CHUNK: Micros = 3_600_000_000;

/// After the last day, the store runs this much longer so shoppers finish their trips.
pub const DRAIN: Micros = 2 * 3_600_000_000;

/// Builds the store operator. `world` is `Some` on the worker that runs the store. Returns one
/// collection per entry of `sim.streams`, in that order.
pub fn simulate_store<'s>(
    scope: Scope<'s, Time>,
    sim: &SimulationPlan,
    tick: u64,
    world: Option<World>,
    feedback: Stream<'s, Time, Vec<Fed>>,
    metrics: Arc<Metrics>,
) -> Vec<Coll<'s>> {
    let mut slot_of = [None; 4];
    for (slot, (_, stream, _)) in sim.streams.iter().enumerate() {
        slot_of[StoreStream::ALL.iter().position(|s| s == stream).expect("known stream")] =
            Some(slot);
    }
    let slot_of: Vec<Option<usize>> = slot_of.to_vec();
    let projections: Vec<Vec<usize>> = sim.streams.iter().map(|(_, _, p)| p.clone()).collect();
    let inputs: Vec<usize> = sim.streams.iter().map(|(i, _, _)| *i).collect();
    let interpret: Vec<_> = sim.feedback.iter().map(|(_, f, p)| (f.clone(), p.clone())).collect();
    let speed = sim.settings.speed();
    let slots = sim.streams.len() as u64;
    let events = feedback.unary_frontier::<CapacityContainerBuilder<Vec<Emitted>>, _, _, _>(
        Exchange::new(|_: &Fed| 0),
        "SimulatedStore",
        move |capability, info| {
            let activator = scope.activator_for(info.address);
            let mut world = world;
            // Held at the earliest time the store may still emit at: its next scheduled action
            // or the earliest feedback not yet executed, so that while nothing is scheduled
            // (the night) the pipelines' frontier, and with it the feedback's, moves on at once.
            let mut capability = world.as_ref().map(|w| {
                let mut cap = capability;
                cap.downgrade(&round_down(w.now() as Time, tick));
                cap
            });
            let horizon = world.as_ref().map_or(0, |w| (w.end() + DRAIN) as Time);
            let mut pending: Vec<(Time, usize, Diff, Row)> = Vec::new();
            let started = Instant::now();
            let start = world.as_ref().map_or(0, |w| w.now() as Time);
            // The store starts at its first day: sources of older records (a history) read on
            // while the store waits for the pipelines' feedback on them.
            if world.is_some() {
                for &input in &inputs {
                    metrics.frontiers[input].store(round_down(start, tick), Ordering::Relaxed);
                }
            }
            move |(input, frontier), output| {
                let clock = world.as_ref().map_or(0, |w| round_down(w.now() as Time, tick));
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
                let (Some(world), Some(held)) = (world.as_mut(), capability.as_ref()) else {
                    return;
                };
                if metrics.stop.load(Ordering::Relaxed) {
                    capability = None;
                    return;
                }
                let now = world.now() as Time;
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
                    world.advance(arrival as Micros, &mut emit);
                    let (spec, positions) = &interpret[fb];
                    if let Some(feedback) = spec.interpret(positions, &row, diff) {
                        world.feed(feedback);
                    }
                }
                world.advance(target as Micros, &mut emit);
                drop(session);
                metrics.events_in.fetch_add(emitted, Ordering::Relaxed);
                // The earliest time anything can still be emitted at.
                let next_scheduled =
                    world.next_event().map_or(Time::MAX, |t| round_down(t.max(0) as Time, tick));
                let next_feedback = pending.first().map_or(Time::MAX, |(arrival, ..)| *arrival);
                let next = next_scheduled.min(next_feedback).max(target);
                for &input in &inputs {
                    metrics.frontiers[input].store(next.min(horizon), Ordering::Relaxed);
                }
                if target >= horizon {
                    capability = None;
                    for &input in &inputs {
                        metrics.frontiers[input].store(u64::MAX, Ordering::Relaxed);
                    }
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
        .partition::<CapacityContainerBuilder<Vec<(Row, Time, Diff)>>, _, _>(
            slots,
            |((slot, row), time, diff)| (slot as u64, (row, time, diff)),
        )
        .into_iter()
        .map(|s| s.as_collection())
        .collect()
}
