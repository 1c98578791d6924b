use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use differential_dataflow::AsCollection;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Map;
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
const ALERT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5f1e_f10e_a1e7_4d3b_9c2a_7b61_0e8d_4a11);

impl AlertRules {
    fn key_of(&self, row: &[Value]) -> Row {
        self.key.iter().map(|&c| row[c].clone()).collect()
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

    fn history_row(&self, id: &Value, key: &[Value], opened_at: Time, resolved_at: Option<Time>) -> Row {
        let mut row = self.header(id, key, opened_at);
        row.push(resolved_at.map_or(Value::Null, |t| Value::Timestamp(t as i64)));
        row
    }
}

/// One key's input rows and its open alert.
#[derive(Default)]
struct KeyState {
    rows: BTreeMap<Row, Diff>,
    open: Option<OpenAlert>,
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
pub fn track_alerts<'s>(input: Coll<'s>, rules: Arc<AlertRules>) -> (Coll<'s>, Coll<'s>) {
    let route = rules.clone();
    let exchange = Exchange::new(move |(row, _, _): &(Row, Time, Diff)| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for &c in &route.key {
            row[c].hash(&mut h);
        }
        h.finish()
    });
    type Tagged = (Result<Row, Row>, Time, Diff);
    let both = input.inner.unary_frontier::<CapacityContainerBuilder<Vec<Tagged>>, _, _, _>(exchange, "Alert", move |_, _| {
        let mut pending: BTreeMap<Time, Vec<(Row, Diff)>> = BTreeMap::new();
        let mut caps: HashMap<Time, Capability<Time>> = HashMap::new();
        let mut keys: HashMap<Row, KeyState> = HashMap::new();
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                for (row, time, diff) in data.drain(..) {
                    caps.entry(time).or_insert_with(|| cap.delayed(&time, 0));
                    pending.entry(time).or_default().push((row, diff));
                }
            });
            while let Some(entry) = pending.first_entry() {
                let time = *entry.key();
                if frontier.less_equal(&time) {
                    break;
                }
                let updates = entry.remove();
                let cap = caps.remove(&time).expect("a capability is held for every pending time");
                let mut touched = BTreeSet::new();
                for (row, diff) in updates {
                    let key = rules.key_of(&row);
                    let state = keys.entry(key.clone()).or_default();
                    let count = state.rows.entry(row.clone()).or_insert(0);
                    *count += diff;
                    if *count == 0 {
                        state.rows.remove(&row);
                    }
                    touched.insert(key);
                }
                let mut session = output.session(&cap);
                for key in touched {
                    let state = keys.get_mut(&key).expect("touched keys have state");
                    let current = state.rows.iter().rev().find(|(_, d)| **d > 0).map(|(r, _)| r);
                    match (&mut state.open, current) {
                        (None, Some(row)) if rules.when.eval_bool(row) => {
                            let id = rules.alert_id(&key, time);
                            let active = rules.active_row(&id, &key, time, row);
                            session.give((Ok::<Row, Row>(active.clone()), time, 1));
                            session.give((Err(rules.history_row(&id, &key, time, None)), time, 1));
                            state.open = Some(OpenAlert { id, opened_at: time, active });
                        }
                        (None, _) => {}
                        (Some(open), current) => {
                            let clears = match (current, &rules.clear_when) {
                                (None, _) => true,
                                (Some(row), Some(clear)) => clear.eval_bool(row),
                                (Some(row), None) => !rules.when.eval_bool(row),
                            };
                            if clears {
                                session.give((Ok(open.active.clone()), time, -1));
                                let opened = rules.history_row(&open.id, &key, open.opened_at, None);
                                let resolved = rules.history_row(&open.id, &key, open.opened_at, Some(time));
                                session.give((Err(opened), time, -1));
                                session.give((Err(resolved), time, 1));
                                state.open = None;
                            } else if let Some(row) = current {
                                let active = rules.active_row(&open.id, &key, open.opened_at, row);
                                if active != open.active {
                                    session.give((Ok(std::mem::replace(&mut open.active, active.clone())), time, -1));
                                    session.give((Ok(active), time, 1));
                                }
                            }
                        }
                    }
                    if state.rows.is_empty() && state.open.is_none() {
                        keys.remove(&key);
                    }
                }
            }
        }
    });
    let active = both
        .clone()
        .flat_map(|(r, t, d): (Result<Row, Row>, Time, Diff)| r.ok().map(|r| (r, t, d)))
        .as_collection();
    let history = both
        .flat_map(|(r, t, d): (Result<Row, Row>, Time, Diff)| r.err().map(|r| (r, t, d)))
        .as_collection();
    (active, history)
}

#[derive(Debug)]
pub(crate) struct PlannedAlert {
    pub(crate) rules: Arc<AlertRules>,
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

    fn build<'s>(&self, inputs: &[(&str, Coll<'s>)], _: &mut ArrangementCache<'s>) -> Vec<Coll<'s>> {
        let (active, history) = track_alerts(inputs[0].1.clone(), self.rules.clone());
        vec![active, history]
    }
}
