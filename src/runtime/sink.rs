//! The dataflow end of every sink: changes are gathered on worker 0, held until their time is
//! closed (the frontier has passed it), consolidated, turned into one upsert or delete per key,
//! and handed to the sink's writer as one batch per timestamp.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use differential_dataflow::consolidation::consolidate_updates_slice;
use shelfflow_connectors::file::DeadLetterFile;
use shelfflow_connectors::{Change, ChangeOp, ConnectorError, DeadLetter, SinkWriter};
use shelfflow_operators::value::format_timestamp;
use shelfflow_operators::{Coll, Diff, Row, Schema, Time};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;

use super::metrics::Metrics;

/// A sink's writer and what the runtime needs to drive it, shared between the sink operator and
/// the worker that finishes it.
pub struct SinkSlot {
    /// Sink name (for errors and the summary).
    pub name: String,
    /// Key column positions.
    pub key: Vec<usize>,
    /// Where changes go; `None` on workers other than 0.
    pub output: Option<SlotOutput>,
    /// Index into the metrics' per-sink counters (`None` for internal outputs).
    pub counter: Option<usize>,
    /// The first write error, which stops the run.
    pub error: Option<ConnectorError>,
    /// The last time delivered to the writer: every change up to it is written.
    pub last_time: Option<Time>,
    /// For collections keyed by all their columns (no natural key), how many copies of each row
    /// exist: a row is written when its count becomes positive and deleted when it drops to 0.
    pub copies: Option<HashMap<Row, Diff>>,
    /// The sink's key is the collection's declared key or all its columns, so no two rows
    /// share a key: a snapshot's final state is then the rows present, whatever the order of
    /// their updates (see [`SinkWriter::final_state`]).
    pub one_row_per_key: bool,
}

impl SinkSlot {
    /// A slot for a collection of `width` columns keyed by `key` (`one_row_per_key`: see the
    /// field).
    pub fn new(
        name: &str,
        (key, width, one_row_per_key): (Vec<usize>, usize, bool),
        output: Option<SlotOutput>,
        counter: Option<usize>,
    ) -> SinkSlot {
        let copies = (key.len() == width && width > 0).then(HashMap::new);
        SinkSlot {
            name: name.to_owned(),
            key,
            output,
            counter,
            error: None,
            last_time: None,
            copies,
            one_row_per_key,
        }
    }

    /// Turns multiplicity changes into presence changes for collections keyed by all columns.
    fn presence(&mut self, updates: &[(Row, Time, Diff)]) -> Vec<(Row, Time, Diff)> {
        let Some(copies) = self.copies.as_mut() else { return updates.to_vec() };
        let mut presence = Vec::with_capacity(updates.len());
        for (row, time, diff) in updates {
            let before = copies.get(row).copied().unwrap_or(0);
            let after = before + diff;
            match (before > 0, after > 0) {
                (false, true) => presence.push((row.clone(), *time, 1)),
                (true, false) => presence.push((row.clone(), *time, -1)),
                _ => {}
            }
            if after == 0 {
                copies.remove(row);
            } else {
                copies.insert(row.clone(), after);
            }
        }
        presence
    }
}

/// Where a slot's changes go.
pub enum SlotOutput {
    /// A writer owned by this run.
    Writer(Box<dyn SinkWriter>),
    /// A writer that outlives the run (`--watch`), with the state it has written so far.
    /// While `catch_up` is set, a redeployed dataflow is recomputing: its changes build the new
    /// state silently, and only the difference to the old state is written once it has caught up.
    Stored { entry: Arc<Mutex<StoredSink>>, catch_up: Option<BTreeMap<Row, Row>>, last_time: Time },
}

/// A sink that survives redeploys: its writer and the rows it has written, by key.
pub struct StoredSink {
    /// Sink config, schema and key, to tell whether a redeploy kept the sink the same.
    pub signature: String,
    /// The open writer.
    pub writer: Box<dyn SinkWriter>,
    /// The current rows by key, as written.
    pub state: BTreeMap<Row, Row>,
}

impl SinkSlot {
    /// Delivers the changes of one closed time.
    fn deliver(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        let key = &self.key;
        match self.output.as_mut() {
            None => Ok(()),
            Some(SlotOutput::Writer(writer)) => writer.write(time, changes),
            Some(SlotOutput::Stored { entry, catch_up, last_time }) => {
                *last_time = time;
                match catch_up {
                    Some(state) => {
                        apply(state, key, changes);
                        Ok(())
                    }
                    None => {
                        let mut entry = entry.lock().unwrap_or_else(|p| p.into_inner());
                        entry.writer.write(time, changes)?;
                        apply(&mut entry.state, key, changes);
                        Ok(())
                    }
                }
            }
        }
    }

    /// Ends a redeploy's catch-up: writes the difference between the state the sink had and the
    /// state the new dataflow computed, then continues live.
    pub fn end_catch_up(&mut self) -> Result<(), ConnectorError> {
        let Some(SlotOutput::Stored { entry, catch_up, last_time }) = self.output.as_mut() else {
            return Ok(());
        };
        let Some(new_state) = catch_up.take() else { return Ok(()) };
        let mut guard = entry.lock().unwrap_or_else(|p| p.into_inner());
        let StoredSink { writer, state, .. } = &mut *guard;
        let changes = state_difference(state, &new_state);
        if !changes.is_empty() {
            writer.write(*last_time, &changes)?;
        }
        drop(changes);
        *state = new_state;
        Ok(())
    }

    /// Flushes after a step's deliveries.
    fn flush(&mut self) -> Result<(), ConnectorError> {
        match self.output.as_mut() {
            None | Some(SlotOutput::Stored { catch_up: Some(_), .. }) => Ok(()),
            Some(SlotOutput::Writer(writer)) => writer.flush(),
            Some(SlotOutput::Stored { entry, .. }) => {
                entry.lock().unwrap_or_else(|p| p.into_inner()).writer.flush()
            }
        }
    }

    /// Flushes at the end of a run.
    pub fn finish(&mut self) -> Result<(), ConnectorError> {
        self.end_catch_up()?;
        match self.output.as_mut() {
            None => Ok(()),
            Some(SlotOutput::Writer(writer)) => writer.finish(),
            Some(SlotOutput::Stored { entry, .. }) => {
                entry.lock().unwrap_or_else(|p| p.into_inner()).writer.finish()
            }
        }
    }
}

/// Applies changes to a keyed state.
fn apply(state: &mut BTreeMap<Row, Row>, key: &[usize], changes: &[Change<'_>]) {
    for change in changes {
        let k: Row = key.iter().map(|&c| change.row[c].clone()).collect();
        match change.op {
            ChangeOp::Upsert => {
                state.insert(k, change.row.to_vec());
            }
            ChangeOp::Delete => {
                state.remove(&k);
            }
        }
    }
}

/// The changes that turn `old` into `new`, in key order.
pub fn state_difference<'a>(
    old: &'a BTreeMap<Row, Row>,
    new: &'a BTreeMap<Row, Row>,
) -> Vec<Change<'a>> {
    let mut changes = Vec::new();
    let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some((ka, ra)), Some((kb, rb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    changes.push(Change { op: ChangeOp::Delete, row: ra });
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    changes.push(Change { op: ChangeOp::Upsert, row: rb });
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if ra != rb {
                        changes.push(Change { op: ChangeOp::Upsert, row: rb });
                    }
                    a.next();
                    b.next();
                }
            },
            (Some((_, ra)), None) => {
                changes.push(Change { op: ChangeOp::Delete, row: ra });
                a.next();
            }
            (None, Some((_, rb))) => {
                changes.push(Change { op: ChangeOp::Upsert, row: rb });
                b.next();
            }
            (None, None) => return changes,
        }
    }
}

/// Attaches a sink to `coll`. All updates go to worker 0, which writes each closed time once.
///
/// Updates wait in one buffer. Whenever the frontier moves, every time it has passed is taken
/// at once, consolidated time by time, and delivered in time order; the writer is flushed once
/// after the whole step, not once per timestamp.
pub fn attach<'s>(
    coll: Coll<'s>,
    slot: Rc<RefCell<SinkSlot>>,
    metrics: Arc<Metrics>,
    probe: &ProbeHandle<Time>,
) {
    let name = format!("Sink: {}", slot.borrow().name);
    coll.inner
        .unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
            Exchange::new(|_: &(Row, Time, Diff)| 0),
            &name,
            move |_capability, _info| {
                let mut pending = Pending::default();
                let mut scratch = Scratch::default();
                move |(input, frontier), _output| {
                    input.for_each(|_time, data| pending.add(data));
                    let bound = frontier.frontier().first().copied();
                    let closed = pending.take_closed(bound);
                    if !closed.is_empty() {
                        slot.borrow_mut().deliver_closed(closed, &metrics, &mut scratch);
                    }
                }
            },
        )
        .probe_with(probe);
}

/// Updates not yet closed, kept sorted by time: each arriving batch is sorted once and
/// appended (merged only when it reaches back before the latest pending time), and closed times
/// leave from the front, so updates for far-future times wait without being rescanned.
#[derive(Default)]
struct Pending {
    sorted: VecDeque<(Row, Time, Diff)>,
    arrived: Vec<(Row, Time, Diff)>,
}

impl Pending {
    fn add(&mut self, data: &mut Vec<(Row, Time, Diff)>) {
        self.arrived.append(data);
    }

    /// Removes and returns, sorted by time, the updates at times before `bound` (all of them
    /// when the input has ended).
    fn take_closed(&mut self, bound: Option<Time>) -> Vec<(Row, Time, Diff)> {
        if let Some(first) = self.arrived.iter().map(|u| u.1).min() {
            self.arrived.sort_by_key(|u| u.1);
            let in_order = self.sorted.back().is_none_or(|last| last.1 <= first);
            self.sorted.extend(self.arrived.drain(..));
            if !in_order {
                self.sorted.make_contiguous().sort_by_key(|u| u.1);
            }
        }
        let split = bound.map_or(self.sorted.len(), |b| self.sorted.partition_point(|u| u.1 < b));
        self.sorted.drain(..split).collect()
    }
}

/// Buffers reused from one delivery to the next.
#[derive(Default)]
struct Scratch {
    order: Vec<usize>,
}

impl SinkSlot {
    /// Consolidates and delivers the updates of every closed time in `closed` (sorted by time),
    /// then flushes the writer.
    fn deliver_closed(
        &mut self,
        closed: Vec<(Row, Time, Diff)>,
        metrics: &Metrics,
        scratch: &mut Scratch,
    ) {
        if self.error.is_some() {
            return;
        }
        let last = closed.last().map(|u| u.1);
        if let Some(state) = self.rows_state() {
            // Only the final state counts, so the rows go in as they are.
            let count = closed.len() as u64;
            for (row, _, diff) in closed {
                state.add(row, diff as i64);
            }
            self.last_time = last.or(self.last_time);
            if let Some(counter) = self.counter {
                metrics.add_changes(counter, count);
            }
        } else if let Err(e) = self.deliver_by_time(closed, metrics, scratch) {
            self.fail(e, metrics);
            return;
        }
        if let (Some(counter), Some(time)) = (self.counter, self.last_time) {
            metrics.set_committed(counter, time);
        }
    }

    /// The state of a snapshot writer that may take row updates directly: one with one row per
    /// key. (Where several rows share a key, each time's changes by key decide which row the
    /// key shows, so those go through [`Self::deliver_by_time`].)
    fn rows_state(&mut self) -> Option<&mut shelfflow_connectors::file::Snapshot> {
        match self.output.as_mut() {
            Some(SlotOutput::Writer(writer)) if self.one_row_per_key => writer.final_state(),
            _ => None,
        }
    }

    /// Consolidates each closed time of `closed` (sorted by time), delivers its changes by key
    /// and flushes the writer.
    fn deliver_by_time(
        &mut self,
        mut closed: Vec<(Row, Time, Diff)>,
        metrics: &Metrics,
        scratch: &mut Scratch,
    ) -> Result<(), ConnectorError> {
        let mut start = 0;
        while start < closed.len() {
            let time = closed[start].1;
            let end = start + closed[start..].partition_point(|u| u.1 == time);
            let kept = consolidate_updates_slice(&mut closed[start..end]);
            let updates = &closed[start..start + kept];
            match self.copies.is_some() {
                true => {
                    let present = self.presence(updates);
                    self.deliver_updates(time, &present, metrics, scratch)?;
                }
                false => self.deliver_updates(time, updates, metrics, scratch)?,
            }
            self.last_time = Some(time);
            start = end;
        }
        self.flush()
    }

    /// Turns one time's consolidated updates into changes by key and hands them to the writer.
    fn deliver_updates(
        &mut self,
        time: Time,
        updates: &[(Row, Time, Diff)],
        metrics: &Metrics,
        scratch: &mut Scratch,
    ) -> Result<(), ConnectorError> {
        let key = std::mem::take(&mut self.key);
        let mut changes = Vec::with_capacity(updates.len());
        changes_by_key(updates, &key, &mut scratch.order, &mut changes);
        self.key = key;
        if changes.is_empty() {
            return Ok(());
        }
        if let Some(counter) = self.counter {
            metrics.add_changes(counter, changes.len() as u64);
        }
        self.deliver(time, &changes)
    }

    fn fail(&mut self, error: ConnectorError, metrics: &Metrics) {
        tracing::error!(sink = %self.name, error = %error, "sink write failed; stopping");
        metrics.fail(format_args!("sink `{}`: {error}", self.name));
        self.error = Some(error);
    }
}

/// Turns the consolidated updates of one time into one change per key, in key order: an upsert
/// when the key has a new row (the last added one), a delete when its only change is a removal.
pub fn changes_by_key<'a>(
    updates: &'a [(Row, Time, Diff)],
    key: &[usize],
    order: &mut Vec<usize>,
    changes: &mut Vec<Change<'a>>,
) {
    let same_key = |a: &Row, b: &Row| key.iter().all(|&c| a[c] == b[c]);
    order.clear();
    order.extend(0..updates.len());
    // Consolidated updates are sorted by row, hence already by a key that is a prefix.
    let prefix = key.iter().enumerate().all(|(i, &c)| i == c);
    if !prefix {
        order.sort_by(|&a, &b| {
            let (x, y) = (&updates[a].0, &updates[b].0);
            key.iter()
                .map(|&c| x[c].cmp(&y[c]))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    for group in order.chunk_by(|&a, &b| same_key(&updates[a].0, &updates[b].0)) {
        let last = |positive: bool| {
            group.iter().rev().map(|&i| &updates[i]).find(|u| (u.2 > 0) == positive)
        };
        match (last(true), last(false)) {
            (Some((row, ..)), _) => changes.push(Change { op: ChangeOp::Upsert, row }),
            (None, Some((row, ..))) => changes.push(Change { op: ChangeOp::Delete, row }),
            (None, None) => {}
        }
    }
}

/// Writes the same changes to several writers (the dead-letter file and topic).
pub struct TeeWriter(pub Vec<Box<dyn SinkWriter>>);

impl SinkWriter for TeeWriter {
    fn write(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        self.0.iter_mut().try_for_each(|w| w.write(time, changes))
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        self.0.iter_mut().try_for_each(|w| w.flush())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        self.0.iter_mut().try_for_each(|w| w.finish())
    }
}

/// Writes the pipeline's dead-letter collection to its JSONL file.
pub struct DeadLetterWriter {
    file: DeadLetterFile,
}

impl DeadLetterWriter {
    /// Creates (truncates) the dead-letter file.
    pub fn create(path: &std::path::Path) -> Result<DeadLetterWriter, ConnectorError> {
        Ok(DeadLetterWriter { file: DeadLetterFile::create(path)? })
    }
}

impl SinkWriter for DeadLetterWriter {
    fn write(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        let mut letters: Vec<(String, DeadLetter)> = changes
            .iter()
            .filter(|c| c.op == ChangeOp::Upsert)
            .map(|c| DeadLetter::from_row(c.row, time))
            .collect();
        // In file order: `events.jsonl:9` before `events.jsonl:10`.
        letters.sort_by(|(a, x), (b, y)| {
            (a, position_order(&x.position)).cmp(&(b, position_order(&y.position)))
        });
        for (source, letter) in letters {
            self.file.write(&source, std::slice::from_ref(&letter))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        self.file.finish()
    }
}

/// Orders positions like `file:12` or `table: row 12` by their text and then their number.
fn position_order(position: &str) -> (&str, u64) {
    let split = position.rfind(|c: char| !c.is_ascii_digit()).map_or(0, |i| i + 1);
    let (text, number) = position.split_at(split);
    (text, number.parse().unwrap_or(0))
}

/// `shelfflow tap`: prints every change of one collection as it is committed.
pub struct TapWriter {
    schema: Schema,
}

impl TapWriter {
    /// A tap printing rows of `schema`.
    pub fn new(schema: Schema) -> TapWriter {
        TapWriter { schema }
    }
}

impl SinkWriter for TapWriter {
    fn write(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        use std::io::Write;
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for change in changes {
            let op = if change.op == ChangeOp::Upsert { "+" } else { "-" };
            let row = self.schema.row_to_json(change.row);
            // A closed stdout (e.g. `| head`) ends the tap quietly.
            if writeln!(out, "{}  {op}  {row}", format_timestamp(time as i64)).is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shelfflow_operators::Value;

    #[test]
    fn state_difference_upserts_changed_and_new_keys_and_deletes_gone_ones() {
        let row = |k: &str, v: i64| vec![Value::str(k), Value::Int(v)];
        let key = |k: &str| vec![Value::str(k)];
        let old: BTreeMap<Row, Row> =
            [(key("A"), row("A", 1)), (key("B"), row("B", 2)), (key("C"), row("C", 3))].into();
        let new: BTreeMap<Row, Row> =
            [(key("A"), row("A", 1)), (key("B"), row("B", 5)), (key("D"), row("D", 4))].into();
        let changes: Vec<(ChangeOp, Row)> =
            state_difference(&old, &new).iter().map(|c| (c.op, c.row.to_vec())).collect();
        assert_eq!(
            changes,
            vec![
                (ChangeOp::Upsert, row("B", 5)),
                (ChangeOp::Delete, row("C", 3)),
                (ChangeOp::Upsert, row("D", 4))
            ]
        );
    }

    #[test]
    fn one_change_per_key_updates_win_over_removals() {
        let a_old = vec![Value::str("A"), Value::Int(1)];
        let a_new = vec![Value::str("A"), Value::Int(2)];
        let b_old = vec![Value::str("B"), Value::Int(5)];
        let updates = vec![(a_old, 0, -1), (a_new.clone(), 0, 1), (b_old.clone(), 0, -1)];
        let mut changes = Vec::new();
        changes_by_key(&updates, &[0], &mut Vec::new(), &mut changes);
        assert_eq!(changes.len(), 2);
        assert_eq!((changes[0].op, changes[0].row), (ChangeOp::Upsert, a_new.as_slice()));
        assert_eq!((changes[1].op, changes[1].row), (ChangeOp::Delete, b_old.as_slice()));
    }
}
