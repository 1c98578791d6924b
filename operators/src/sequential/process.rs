use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use differential_dataflow::AsCollection;
use rustc_hash::{FxHashMap, FxHasher};
use timely::communication::Pull;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, ParallelizationContract, Pipeline};
use timely::dataflow::channels::Message;
use timely::dataflow::operators::generic::{InputHandleCore, Operator};
use timely::dataflow::operators::vec::{Broadcast, Map, Partition, ToStream};
use timely::dataflow::operators::{Capability, Concatenate};
use timely::dataflow::StreamVec;

use crate::plan::{Coll, Diff, Time};
use crate::value::{Row, Value};

/// How the core reads one keyed input.
#[derive(Debug, Clone)]
pub struct KeyedInput {
    /// Key column positions in this input; every keyed input lists the same key, in order.
    pub key: Vec<usize>,
    /// Column ordering the updates of one key within one time (before the whole row).
    pub order_by: Option<usize>,
    /// A signed number column: among updates with equal `order_by` values, those moving a
    /// positive amount (value × difference > 0) come first, so a receipt and an issue at the
    /// same instant are booked receipt first.
    pub inflows_first: Option<usize>,
}

impl KeyedInput {
    /// An input keyed by `key`, with no order within a time beyond the core's own.
    pub fn by(key: Vec<usize>) -> KeyedInput {
        KeyedInput { key, order_by: None, inflows_first: None }
    }

    fn key_slice<'r>(&self, row: &'r [Value]) -> Cow<'r, [Value]> {
        match self.key.as_slice() {
            [c] => Cow::Borrowed(std::slice::from_ref(&row[*c])),
            _ => Cow::Owned(self.key.iter().map(|&c| row[c].clone()).collect()),
        }
    }

    /// A hash of the key values of `row`: equal for equal keys whatever the input.
    fn key_hash(&self, row: &[Value]) -> u64 {
        let mut h = FxHasher::default();
        for &c in &self.key {
            row[c].hash(&mut h);
        }
        h.finish()
    }

    fn order_value<'r>(&self, row: &'r [Value]) -> &'r Value {
        const NULL: &Value = &Value::Null;
        self.order_by.map_or(NULL, |c| &row[c])
    }

    /// 0 for an inflow (see [`Self::inflows_first`]), 1 otherwise.
    fn flow_rank(&self, row: &[Value], diff: Diff) -> u8 {
        let Some(c) = self.inflows_first else { return 0 };
        let positive = match &row[c] {
            Value::Int(v) => *v > 0,
            Value::Float(v) => *v > 0.0,
            _ => return 1,
        };
        u8::from(positive != (diff > 0))
    }
}

/// What an operator does with the updates of one key. The core owns the keys and their states;
/// the operator owns what a state means.
///
/// At each closed time the core consolidates the time's updates (a row added and retracted
/// within one time is never seen) and calls, for every key: [`update`](Self::update) for each
/// keyed update (ordered by the input's `order_by` value, then inflows first when the input names
/// an `inflows_first` column, then input, positive differences first, then the whole row),
/// [`trigger`](Self::trigger) for each broadcast update (ordered by input, then positive first,
/// then row) on every key the worker holds, [`finish`](Self::finish) once, and then compares [`render`](Self::render) with what it rendered last time and emits the
/// difference at that time. Rows passed to [`Step::emit`] are emitted as they are.
pub trait SequentialLogic: Send + Sync + 'static {
    /// One key's state.
    type State: 'static;

    /// Whether the state after a time's updates is the same in whatever order they are applied
    /// (sums, multisets, "the current row"). The core then applies them as they came, without
    /// consolidating and sorting each time's updates first.
    const COMMUTATIVE: bool = false;

    /// The state of a key seen for the first time.
    fn start(&self, key: &[Value]) -> Self::State;

    /// Applies one update of keyed input `input` (`diff` may be any non-zero multiplicity).
    /// The row is the operator's to keep.
    fn update(
        &self,
        state: &mut Self::State,
        step: &mut Step<'_>,
        input: usize,
        row: Row,
        diff: Diff,
    );

    /// Applies one update of broadcast input `input` to a key that exists at this time.
    fn trigger(
        &self,
        _state: &mut Self::State,
        _step: &mut Step<'_>,
        _input: usize,
        _row: &Row,
        _diff: Diff,
    ) {
    }

    /// Called once per touched key after its updates and triggers of the time.
    fn finish(&self, _state: &mut Self::State, _step: &mut Step<'_>) {}

    /// Whether the key's rows may differ from what it rendered last (after `finish`). `false`
    /// skips rendering and diffing: for operators that know a change left their rows alone.
    fn changed(&self, _state: &mut Self::State) -> bool {
        true
    }

    /// The key's current rows as `(output port, row)`; the core emits their changes.
    fn render(&self, state: &Self::State, key: &[Value], rows: &mut Vec<(usize, Row)>);

    /// Whether the state holds nothing worth keeping (the key is forgotten once it also renders
    /// no rows).
    fn is_idle(&self, state: &Self::State) -> bool;
}

/// The context of one call: the key, the time being processed, and a sink for rows emitted
/// as events (side outputs, and rows the operator no longer renders but keeps in the output).
pub struct Step<'a> {
    /// The key's values.
    pub key: &'a [Value],
    /// The closed time being processed.
    pub time: Time,
    events: &'a mut Vec<(usize, Row, Diff)>,
}

impl Step<'_> {
    /// Emits `row` with `diff` on output `port` at this time, independently of rendering.
    pub fn emit(&mut self, port: usize, row: Row, diff: Diff) {
        self.events.push((port, row, diff));
    }
}

/// Adds `diff` to the multiplicity of `key` in a state's multiset, forgetting it at zero.
pub(crate) fn add_multiplicity<K: Ord>(map: &mut BTreeMap<K, i64>, key: K, diff: i64) {
    use std::collections::btree_map::Entry;
    match map.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert(diff);
        }
        Entry::Occupied(mut slot) => {
            *slot.get_mut() += diff;
            if *slot.get() == 0 {
                slot.remove();
            }
        }
    }
}

/// An update tagged with its input (or output) index.
type Tagged = ((usize, Row), Time, Diff);

/// Processes the updates of each key in time order with `logic` and returns `ports` output
/// collections.
///
/// `keyed[i]` is read as described by `inputs[i]` and routed to a worker by the hash of its key
/// values, so every update of a key, whatever its input, meets the key's state on one worker.
/// `broadcast` inputs (schedules, calendar triggers) reach every worker and, at their time, every
/// key the worker holds after that time's keyed updates. A time is processed once every input
/// has passed it, so a key's history and its outputs do not depend on how many workers run it
/// or in which order updates arrive.
pub fn process_sequentially<'s, L: SequentialLogic>(
    name: &str,
    keyed: &[Coll<'s>],
    broadcast: &[Coll<'s>],
    inputs: Arc<[KeyedInput]>,
    logic: Arc<L>,
    ports: usize,
) -> Vec<Coll<'s>> {
    assert_eq!(keyed.len(), inputs.len(), "one `KeyedInput` per keyed collection");
    let scope = keyed[0].inner.scope();
    let tag = |colls: &[Coll<'s>]| {
        let streams: Vec<StreamVec<'s, Time, Tagged>> = colls
            .iter()
            .enumerate()
            .map(|(i, coll)| {
                coll.inner.clone().map(move |(row, time, diff)| ((i, row), time, diff))
            })
            .collect();
        scope.concatenate(streams)
    };
    let keyed_stream = tag(keyed);
    let broadcast_stream =
        if broadcast.is_empty() { Vec::<Tagged>::new().to_stream(scope) } else { tag(broadcast) };
    let tagged = if scope.peers() == 1 {
        // One worker owns every key: no need to hash rows just to route them to itself.
        sequential_stream(name, keyed_stream, broadcast_stream, Pipeline, inputs, logic)
    } else {
        let route = inputs.clone();
        let exchange = Exchange::new(move |((i, row), _, _): &Tagged| route[*i].key_hash(row));
        sequential_stream(name, keyed_stream, broadcast_stream.broadcast(), exchange, inputs, logic)
    };
    tagged
        .partition(ports as u64, |((port, row), time, diff)| (port as u64, (row, time, diff)))
        .into_iter()
        .map(|stream| stream.as_collection())
        .collect()
}

/// [`process_sequentially`] over one input keyed by `key`, without broadcast inputs: the shape
/// of the stateful relational operators (aggregate, distinct, top_k, alert).
pub fn process_by_key<'s, L: SequentialLogic>(
    name: &str,
    input: Coll<'s>,
    key: Vec<usize>,
    logic: Arc<L>,
    ports: usize,
) -> Vec<Coll<'s>> {
    process_sequentially(name, &[input], &[], vec![KeyedInput::by(key)].into(), logic, ports)
}

/// A key, its state and the rows it rendered last.
struct Entry<S> {
    key: Row,
    state: S,
    shown: Vec<(usize, Row)>,
    touched: bool,
}

/// The keys a worker holds, in reusable slots found by key.
struct Keys<S> {
    slots: FxHashMap<Row, usize>,
    entries: Vec<Option<Entry<S>>>,
    free: Vec<usize>,
    touched: Vec<usize>,
}

impl<S> Keys<S> {
    fn new() -> Self {
        Keys {
            slots: FxHashMap::default(),
            entries: Vec::new(),
            free: Vec::new(),
            touched: Vec::new(),
        }
    }

    /// The slot of `key`, created with `start` if absent, marked touched.
    fn touch(&mut self, key: &[Value], start: impl FnOnce(&[Value]) -> S) -> usize {
        let slot = match self.slots.get(key) {
            Some(&slot) => slot,
            None => {
                let entry = Entry {
                    key: key.to_vec(),
                    state: start(key),
                    shown: Vec::new(),
                    touched: false,
                };
                let slot = match self.free.pop() {
                    Some(slot) => {
                        self.entries[slot] = Some(entry);
                        slot
                    }
                    None => {
                        self.entries.push(Some(entry));
                        self.entries.len() - 1
                    }
                };
                self.slots.insert(key.to_vec(), slot);
                slot
            }
        };
        self.mark(slot);
        slot
    }

    fn mark(&mut self, slot: usize) {
        let entry = self.entries[slot].as_mut().expect("live slot");
        if !entry.touched {
            entry.touched = true;
            self.touched.push(slot);
        }
    }

    fn release(&mut self, slot: usize) {
        if let Some(entry) = self.entries[slot].take() {
            self.slots.remove(&entry.key);
            self.free.push(slot);
        }
    }
}

/// Sorts the keyed updates of one time into processing order.
fn keyed_order(
    inputs: &[KeyedInput],
    a: &(Time, usize, Row, Diff),
    b: &(Time, usize, Row, Diff),
) -> Ordering {
    let (ia, ib) = (&inputs[a.1], &inputs[b.1]);
    ia.order_value(&a.2)
        .cmp(ib.order_value(&b.2))
        .then_with(|| ia.flow_rank(&a.2, a.3).cmp(&ib.flow_rank(&b.2, b.3)))
        .then(a.1.cmp(&b.1))
        .then((a.3 < 0).cmp(&(b.3 < 0)))
        .then_with(|| a.2.cmp(&b.2))
        .then(b.3.cmp(&a.3))
}

/// Sums the differences of equal updates of one time (same input and row) and drops those that
/// cancel: a row that came and went within a time never happened.
fn consolidate(updates: &mut Vec<(Time, usize, Row, Diff)>) {
    updates.sort_by(|a, b| (a.1, &a.2).cmp(&(b.1, &b.2)));
    updates.dedup_by(|next, kept| {
        let same = next.1 == kept.1 && next.2 == kept.2;
        if same {
            kept.3 += next.3;
        }
        same
    });
    updates.retain(|u| u.3 != 0);
}

/// Sorts the broadcast updates of one time into processing order.
fn broadcast_order(a: &(Time, usize, Row, Diff), b: &(Time, usize, Row, Diff)) -> Ordering {
    a.1.cmp(&b.1).then((a.3 < 0).cmp(&(b.3 < 0))).then_with(|| a.2.cmp(&b.2)).then(b.3.cmp(&a.3))
}

/// Appends the changes from `old` (consumed) to `new` (both sorted) as `(port, row, diff)`.
fn diff_sorted(
    old: &mut Vec<(usize, Row)>,
    new: &[(usize, Row)],
    out: &mut Vec<(usize, Row, Diff)>,
) {
    let mut old = old.drain(..).peekable();
    let mut j = 0;
    loop {
        match (old.peek(), new.get(j)) {
            (Some(o), Some(n)) if o == n => {
                old.next();
                j += 1;
            }
            (Some(o), n) if n.is_none_or(|n| o < n) => {
                let (port, row) = old.next().expect("peeked");
                out.push((port, row, -1));
            }
            (_, Some(n)) => {
                out.push((n.0, n.1.clone(), 1));
                j += 1;
            }
            (None, None) => return,
            (Some(_), None) => unreachable!("handled above"),
        }
    }
}

/// The operator behind [`process_sequentially`]: keyed updates routed by `pact`, broadcast
/// updates already on every worker.
fn sequential_stream<'s, L, P>(
    name: &str,
    keyed: StreamVec<'s, Time, Tagged>,
    broadcast: StreamVec<'s, Time, Tagged>,
    pact: P,
    inputs: Arc<[KeyedInput]>,
    logic: Arc<L>,
) -> StreamVec<'s, Time, Tagged>
where
    L: SequentialLogic,
    P: ParallelizationContract<Time, Vec<Tagged>>,
{
    keyed.binary_frontier::<_, CapacityContainerBuilder<Vec<Tagged>>, _, _, _, _>(
        broadcast,
        pact,
        Pipeline,
        name,
        move |_, _| {
            // Updates not yet closed, and one capability at the earliest of their times.
            // By time, so updates for far-future times (rows joined with a calendar that runs
            // ahead) wait without being rescanned at every step.
            let mut keyed_pending = Pending::default();
            let mut broadcast_pending = Pending::default();
            let mut arrived = Vec::new();
            let (mut keyed_updates, mut broadcast_updates) = (Vec::new(), Vec::new());
            let mut capability: Option<Capability<Time>> = None;
            let mut keys: Keys<L::State> = Keys::new();
            let mut events: Vec<(usize, Row, Diff)> = Vec::new();
            let mut rendered: Vec<(usize, Row)> = Vec::new();
            // The keyed and broadcast updates of the time being processed.
            let mut group: Vec<(Time, usize, Row, Diff)> = Vec::new();
            let mut triggers: Vec<(Time, usize, Row, Diff)> = Vec::new();
            move |(keyed_in, keyed_frontier), (broadcast_in, broadcast_frontier), output| {
                read_input(keyed_in, &mut capability, &mut keyed_pending, &mut arrived);
                read_input(broadcast_in, &mut capability, &mut broadcast_pending, &mut arrived);
                let Some(held) = capability.as_ref() else {
                    return;
                };
                let closed = |time: &Time| {
                    !keyed_frontier.less_equal(time) && !broadcast_frontier.less_equal(time)
                };
                keyed_pending.take_closed(closed, &mut keyed_updates);
                broadcast_pending.take_closed(closed, &mut broadcast_updates);
                if keyed_updates.is_empty() && broadcast_updates.is_empty() {
                    // Nothing closed yet: still, hold the capability no earlier than the earliest
                    // pending update. Records may arrive on a capability earlier than their own
                    // time, and holding that earlier time would stall a feedback loop.
                    let earliest = [keyed_pending.earliest(), broadcast_pending.earliest()]
                        .into_iter()
                        .flatten()
                        .min();
                    if let (Some(time), Some(cap)) = (earliest, capability.as_mut()) {
                        if cap.time() < &time {
                            cap.downgrade(&time);
                        }
                    }
                    return;
                }
                let mut session = output.session(held);
                let (mut k, mut b) = (0, 0);
                while k < keyed_updates.len() || b < broadcast_updates.len() {
                    let time = match (keyed_updates.get(k), broadcast_updates.get(b)) {
                        (Some(x), Some(y)) => x.0.min(y.0),
                        (Some(x), None) => x.0,
                        (None, Some(y)) => y.0,
                        (None, None) => unreachable!("loop condition"),
                    };
                    let k_end = k + keyed_updates[k..].partition_point(|u| u.0 == time);
                    let b_end = b + broadcast_updates[b..].partition_point(|u| u.0 == time);
                    group.extend(keyed_updates[k..k_end].iter_mut().map(std::mem::take));
                    if !L::COMMUTATIVE {
                        consolidate(&mut group);
                        group.sort_by(|x, y| keyed_order(&inputs, x, y));
                    }
                    for (_, input, row, diff) in group.drain(..) {
                        let key = inputs[input].key_slice(&row);
                        let slot = keys.touch(&key, |key| logic.start(key));
                        let entry = keys.entries[slot].as_mut().expect("live slot");
                        let mut step = Step { key: &entry.key, time, events: &mut events };
                        logic.update(&mut entry.state, &mut step, input, row, diff);
                    }
                    triggers.extend(broadcast_updates[b..b_end].iter_mut().map(std::mem::take));
                    consolidate(&mut triggers);
                    triggers.sort_by(broadcast_order);
                    if !triggers.is_empty() {
                        for slot in 0..keys.entries.len() {
                            if keys.entries[slot].is_none() {
                                continue;
                            }
                            keys.mark(slot);
                            let entry = keys.entries[slot].as_mut().expect("live slot");
                            for (_, input, row, diff) in triggers.iter() {
                                let mut step = Step { key: &entry.key, time, events: &mut events };
                                logic.trigger(&mut entry.state, &mut step, *input, row, *diff);
                            }
                        }
                        triggers.clear();
                    }
                    let mut touched = std::mem::take(&mut keys.touched);
                    for &slot in &touched {
                        let entry = keys.entries[slot].as_mut().expect("live slot");
                        entry.touched = false;
                        let mut step = Step { key: &entry.key, time, events: &mut events };
                        logic.finish(&mut entry.state, &mut step);
                        if !logic.changed(&mut entry.state) {
                            continue;
                        }
                        rendered.clear();
                        logic.render(&entry.state, &entry.key, &mut rendered);
                        if rendered.len() > 1 {
                            rendered.sort();
                        }
                        diff_sorted(&mut entry.shown, &rendered, &mut events);
                        std::mem::swap(&mut entry.shown, &mut rendered);
                        if entry.shown.is_empty() && logic.is_idle(&entry.state) {
                            keys.release(slot);
                        }
                    }
                    touched.clear();
                    keys.touched = touched;
                    for (port, row, diff) in events.drain(..) {
                        session.give(((port, row), time, diff));
                    }
                    k = k_end;
                    b = b_end;
                }
                drop(session);
                keyed_updates.clear();
                broadcast_updates.clear();
                let next = [keyed_pending.earliest(), broadcast_pending.earliest()]
                    .into_iter()
                    .flatten()
                    .min();
                capability = match next {
                    Some(time) => {
                        let mut cap = capability.take().expect("held while updates are pending");
                        cap.downgrade(&time);
                        Some(cap)
                    }
                    None => None,
                };
            }
        },
    )
}

/// Updates not yet closed, sorted by time. Arrivals are sorted once and appended (merged only
/// when they reach back before the latest pending time), and closed times leave from the front,
/// so updates for far-future times wait without being rescanned at every step.
#[derive(Default)]
struct Pending {
    sorted: std::collections::VecDeque<(Time, usize, Row, Diff)>,
}

impl Pending {
    fn earliest(&self) -> Option<Time> {
        self.sorted.front().map(|u| u.0)
    }

    /// Adds `arrived` (emptied), keeping the order by time.
    fn extend(&mut self, arrived: &mut Vec<(Time, usize, Row, Diff)>) {
        let Some(first) = arrived.iter().map(|u| u.0).min() else { return };
        arrived.sort_by_key(|u| u.0);
        let in_order = self.sorted.back().is_none_or(|last| last.0 <= first);
        self.sorted.extend(arrived.drain(..));
        if !in_order {
            self.sorted.make_contiguous().sort_by_key(|u| u.0);
        }
    }

    /// Moves the updates of every closed time, in time order, to `out`.
    fn take_closed(
        &mut self,
        closed: impl Fn(&Time) -> bool,
        out: &mut Vec<(Time, usize, Row, Diff)>,
    ) {
        let n = self.sorted.partition_point(|u| closed(&u.0));
        out.extend(self.sorted.drain(..n));
    }
}

/// Moves the updates of one operator input into `pending`, holding a capability at the earliest
/// time seen.
fn read_input<P>(
    handle: &mut InputHandleCore<Time, Vec<Tagged>, P>,
    capability: &mut Option<Capability<Time>>,
    pending: &mut Pending,
    arrived: &mut Vec<(Time, usize, Row, Diff)>,
) where
    P: Pull<Message<Time, Vec<Tagged>>>,
{
    handle.for_each(|cap, data| {
        if capability.as_ref().is_none_or(|held| cap.time() < held.time()) {
            *capability = Some(cap.retain(0));
        }
        arrived.extend(data.drain(..).map(|((input, row), time, diff)| (time, input, row, diff)));
    });
    pending.extend(arrived);
}
