use std::hash::{Hash, Hasher};
use std::sync::Arc;

use differential_dataflow::AsCollection;
use rustc_hash::{FxHashMap, FxHasher};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, ParallelizationContract, Pipeline};
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;

use crate::expr::Expr;
use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator, Time};
use crate::value::{Row, Schema, Value};

/// What an alert watches and when it opens and resolves.
#[derive(Debug)]
pub struct AlertRules {
    /// The alert's name (the operator name), part of every `alert_id`.
    pub name: String,
    /// Key column positions in the input.
    pub key: Vec<usize>,
    /// The other input columns, carried in the active-alert rows.
    pub rest: Vec<usize>,
    /// Opens the alert.
    pub when: Expr,
    /// Resolves it (default: `when` is false).
    pub clear_when: Option<Expr>,
}

/// Namespace of alert ids (UUID v5).
const ALERT_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5f1e_f10e_a1e7_4d3b_9c2a_7b61_0e8d_4a11);

impl AlertRules {
    fn key_of(&self, row: &[Value]) -> Row {
        self.key.iter().map(|&c| row[c].clone()).collect()
    }

    /// A hash of the key of `row`, to route and group updates.
    fn key_hash(&self, row: &[Value]) -> u64 {
        let mut h = FxHasher::default();
        for &c in &self.key {
            row[c].hash(&mut h);
        }
        h.finish()
    }

    /// The key of `row` for lookups, borrowed when it is a single column.
    fn key_slice<'r>(&self, row: &'r [Value]) -> std::borrow::Cow<'r, [Value]> {
        match self.key.as_slice() {
            [c] => std::borrow::Cow::Borrowed(std::slice::from_ref(&row[*c])),
            _ => std::borrow::Cow::Owned(self.key_of(row)),
        }
    }

    fn alert_id(&self, key: &[Value], opened_at: Time) -> Value {
        let mut name = self.name.clone();
        for value in key {
            name.push('\u{1f}');
            name.push_str(&value.to_string());
        }
        name.push('\u{1f}');
        name.push_str(&opened_at.to_string());
        Value::str(&uuid::Uuid::new_v5(&ALERT_NAMESPACE, name.as_bytes()).to_string())
    }

    fn header(&self, id: &Value, key: &[Value], opened_at: Time) -> Row {
        let mut row = Row::with_capacity(4 + key.len() + self.rest.len());
        row.push(id.clone());
        row.push(Value::str(&self.name));
        row.extend(key.iter().cloned());
        row.push(Value::Timestamp(opened_at as i64));
        row
    }

    fn active_row(&self, id: &Value, key: &[Value], opened_at: Time, input: &[Value]) -> Row {
        let mut row = self.header(id, key, opened_at);
        row.extend(self.rest.iter().map(|&c| input[c].clone()));
        row
    }

    /// Whether an active row already shows the values of `input`.
    fn shows(&self, active: &[Value], input: &[Value]) -> bool {
        let values = &active[4 + self.key.len()..];
        values.len() == self.rest.len()
            && self.rest.iter().zip(values).all(|(&c, v)| input[c] == *v)
    }

    fn history_row(
        &self,
        id: &Value,
        key: &[Value],
        opened_at: Time,
        resolved_at: Option<Time>,
    ) -> Row {
        let mut row = self.header(id, key, opened_at);
        row.push(resolved_at.map_or(Value::Null, |t| Value::Timestamp(t as i64)));
        row
    }
}

/// One key's input rows and its open alert.
#[derive(Default)]
struct KeyState {
    /// The key's values.
    key: Row,
    /// Normally a single row; several only if the input is not unique per key.
    rows: Vec<(Row, Diff)>,
    open: Option<OpenAlert>,
    /// Changed at the time being processed.
    touched: bool,
}

impl KeyState {
    fn apply(&mut self, row: Row, diff: Diff) {
        match self.rows.iter().position(|(r, _)| *r == row) {
            Some(i) => {
                self.rows[i].1 += diff;
                if self.rows[i].1 == 0 {
                    self.rows.swap_remove(i);
                }
            }
            None => self.rows.push((row, diff)),
        }
    }
}

/// The row the conditions are evaluated on: the largest one present.
fn current_row(rows: &[(Row, Diff)]) -> Option<&Row> {
    rows.iter().filter(|(_, d)| *d > 0).map(|(r, _)| r).max()
}

struct OpenAlert {
    id: Value,
    opened_at: Time,
    active: Row,
}

/// Follows the rows of `input` per key in event-time order and returns `(active, history)`.
///
/// At each closed time, every key whose row changed is re-evaluated: a closed alert opens when
/// `when` holds; an open alert resolves when `clear_when` holds (or `when` no longer does, or the
/// row is gone), and otherwise its row follows the input's current values. The active collection
/// retracts an alert's row when it resolves; the history keeps one row per alert and fills in
/// `resolved_at`. Keys are spread over workers by hash; each worker keeps only its keys' state.
///
/// With `active_needed` false the active collection stays empty and costs nothing: only openings
/// and resolutions are computed.
pub fn track_alerts<'s>(
    input: Coll<'s>,
    rules: Arc<AlertRules>,
    active_needed: bool,
) -> (Coll<'s>, Coll<'s>) {
    // One worker owns every key: no need to hash rows just to route them to itself.
    let both = if input.inner.scope().peers() == 1 {
        alert_stream(input.inner, Pipeline, rules, active_needed)
    } else {
        let route = rules.clone();
        let exchange = Exchange::new(move |(row, _, _): &(Row, Time, Diff)| route.key_hash(row));
        alert_stream(input.inner, exchange, rules, active_needed)
    };
    type Update = (Row, Time, Diff);
    let (active, history) =
        both.ok_err::<Vec<Update>, _, Vec<Update>, _, _>(|(row, time, diff)| match row {
            Ok(active) => Ok((active, time, diff)),
            Err(history) => Err((history, time, diff)),
        });
    let (active, history) = (active.as_collection(), history.as_collection());
    (active, history)
}

/// An active-alert row (`Ok`) or a history row (`Err`) with its time and difference.
type Tagged = (Result<Row, Row>, Time, Diff);

/// The alert state machine over updates routed by `pact` (see [`track_alerts`]).
fn alert_stream<'s, P>(
    stream: timely::dataflow::Stream<'s, Time, Vec<(Row, Time, Diff)>>,
    pact: P,
    rules: Arc<AlertRules>,
    active_needed: bool,
) -> timely::dataflow::Stream<'s, Time, Vec<Tagged>>
where
    P: ParallelizationContract<Time, Vec<(Row, Time, Diff)>>,
{
    stream.unary_frontier::<CapacityContainerBuilder<Vec<Tagged>>, _, _, _>(
        pact,
        "Alert",
        move |_, _| {
            // Updates not yet closed, and one capability at the earliest of their times.
            // By time: updates for far-future times (e.g. rows joined with a calendar that runs
            // ahead) wait here without being rescanned at every step.
            let mut pending: std::collections::BTreeMap<Time, Vec<(Row, Diff)>> =
                std::collections::BTreeMap::new();
            let mut capability: Option<Capability<Time>> = None;
            // Per-key state in slots, found by key; keys touched at the current time, by slot.
            let mut slots: FxHashMap<Row, usize> = FxHashMap::default();
            let mut states: Vec<KeyState> = Vec::new();
            let mut free: Vec<usize> = Vec::new();
            let mut touched: Vec<usize> = Vec::new();
            move |(input, frontier), output| {
                input.for_each(|cap, data| {
                    if capability.as_ref().is_none_or(|held| cap.time() < held.time()) {
                        capability = Some(cap.retain(0));
                    }
                    for (row, time, diff) in data.drain(..) {
                        pending.entry(time).or_default().push((row, diff));
                    }
                });
                let Some(held) = capability.as_ref() else {
                    return;
                };
                // Closed times, in order.
                let mut ready = Vec::new();
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    ready.push(entry.remove_entry());
                }
                if ready.is_empty() {
                    // Hold no earlier than the earliest pending update (records may arrive on an
                    // earlier capability than their own time; holding it could stall a loop).
                    if let (Some((time, _)), Some(cap)) =
                        (pending.first_key_value(), capability.as_mut())
                    {
                        if cap.time() < time {
                            cap.downgrade(time);
                        }
                    }
                    return;
                }
                // Every record carries its own time; the held capability is at or before all of them.
                let mut session = output.session(held);
                for (time, updates) in ready {
                    // All updates of this time first, then each touched key is evaluated once.
                    for (row, diff) in updates {
                        let slot = match slots.get(rules.key_slice(&row).as_ref()) {
                            Some(&slot) => slot,
                            None => {
                                let key = rules.key_of(&row);
                                let state = KeyState { key: key.clone(), ..KeyState::default() };
                                let slot = match free.pop() {
                                    Some(slot) => {
                                        states[slot] = state;
                                        slot
                                    }
                                    None => {
                                        states.push(state);
                                        states.len() - 1
                                    }
                                };
                                slots.insert(key, slot);
                                slot
                            }
                        };
                        let state = &mut states[slot];
                        if !state.touched {
                            state.touched = true;
                            touched.push(slot);
                        }
                        state.apply(row, diff);
                    }
                    for slot in touched.drain(..) {
                        let state = &mut states[slot];
                        state.touched = false;
                        let current = current_row(&state.rows);
                        let key = &state.key;
                        match (&mut state.open, current) {
                            (None, Some(current)) if rules.when.eval_bool(current) => {
                                let id = rules.alert_id(key, time);
                                let active = rules.active_row(&id, key, time, current);
                                if active_needed {
                                    session.give((Ok::<Row, Row>(active.clone()), time, 1));
                                }
                                session.give((
                                    Err(rules.history_row(&id, key, time, None)),
                                    time,
                                    1,
                                ));
                                state.open = Some(OpenAlert { id, opened_at: time, active });
                            }
                            (None, _) => {}
                            (Some(open), current) => {
                                let clears = match (current, &rules.clear_when) {
                                    (None, _) => true,
                                    (Some(r), Some(clear)) => clear.eval_bool(r),
                                    (Some(r), None) => !rules.when.eval_bool(r),
                                };
                                if clears {
                                    if active_needed {
                                        session.give((Ok(open.active.clone()), time, -1));
                                    }
                                    let opened =
                                        rules.history_row(&open.id, key, open.opened_at, None);
                                    let resolved = rules.history_row(
                                        &open.id,
                                        key,
                                        open.opened_at,
                                        Some(time),
                                    );
                                    session.give((Err(opened), time, -1));
                                    session.give((Err(resolved), time, 1));
                                    state.open = None;
                                } else if let Some(current) = current
                                    .filter(|c| active_needed && !rules.shows(&open.active, c))
                                {
                                    let active =
                                        rules.active_row(&open.id, key, open.opened_at, current);
                                    session.give((
                                        Ok(std::mem::replace(&mut open.active, active.clone())),
                                        time,
                                        -1,
                                    ));
                                    session.give((Ok(active), time, 1));
                                }
                            }
                        }
                        if state.rows.is_empty() && state.open.is_none() {
                            slots.remove(&std::mem::take(&mut state.key));
                            free.push(slot);
                        }
                    }
                }
                drop(session);
                capability = match pending.first_key_value() {
                    Some((time, _)) => {
                        let mut cap = capability.take().expect("held while updates are pending");
                        cap.downgrade(time);
                        Some(cap)
                    }
                    None => None,
                };
            }
        },
    )
}

#[derive(Debug)]
pub(crate) struct PlannedAlert {
    pub(crate) rules: Arc<AlertRules>,
    /// Whether anything reads the active alerts.
    pub(crate) active_needed: bool,
    pub(crate) active: Schema,
    pub(crate) history: Schema,
}

impl PlannedOperator for PlannedAlert {
    fn outputs(&self) -> Vec<Output> {
        vec![
            Output { suffix: None, schema: self.active.clone() },
            Output { suffix: Some("history"), schema: self.history.clone() },
        ]
    }

    fn retain_outputs(&mut self, needed: &[bool]) {
        self.active_needed = needed[0];
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let (active, history) =
            track_alerts(inputs[0].1.clone(), self.rules.clone(), self.active_needed);
        vec![active, history]
    }
}
