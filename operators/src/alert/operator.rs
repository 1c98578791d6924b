use std::sync::Arc;

use crate::expr::Expr;
use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator, Time};
use crate::sequential::{process_by_key, SequentialLogic, Step};
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
pub struct KeyState {
    /// Normally a single row; several only if the input is not unique per key.
    rows: Vec<(Row, Diff)>,
    open: Option<OpenAlert>,
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

/// Output ports.
const ACTIVE: usize = 0;
const HISTORY: usize = 1;

/// The alert rules as a per-key state machine of the sequential core: every update of a time is
/// applied, then the key is evaluated once on its current row.
struct AlertLogic {
    rules: Arc<AlertRules>,
    active_needed: bool,
}

impl SequentialLogic for AlertLogic {
    type State = KeyState;

    /// A key's rows are a multiset and the rules are evaluated once, in `finish`, on the
    /// time's final rows: the order of a time's updates cannot matter.
    const COMMUTATIVE: bool = true;

    fn start(&self, _key: &[Value]) -> KeyState {
        KeyState::default()
    }

    fn update(&self, state: &mut KeyState, _: &mut Step<'_>, _: usize, row: Row, diff: Diff) {
        state.apply(row, diff);
    }

    fn finish(&self, state: &mut KeyState, step: &mut Step<'_>) {
        let rules = &self.rules;
        let (key, time) = (step.key, step.time);
        let current = current_row(&state.rows);
        match (&mut state.open, current) {
            (None, Some(current)) if rules.when.eval_bool(current) => {
                let id = rules.alert_id(key, time);
                step.emit(HISTORY, rules.history_row(&id, key, time, None), 1);
                let active = rules.active_row(&id, key, time, current);
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
                    step.emit(HISTORY, rules.history_row(&open.id, key, open.opened_at, None), -1);
                    let resolved = rules.history_row(&open.id, key, open.opened_at, Some(time));
                    step.emit(HISTORY, resolved, 1);
                    state.open = None;
                } else if let Some(current) =
                    current.filter(|c| self.active_needed && !rules.shows(&open.active, c))
                {
                    open.active = rules.active_row(&open.id, key, open.opened_at, current);
                }
            }
        }
    }

    fn render(&self, state: &KeyState, _key: &[Value], rows: &mut Vec<(usize, Row)>) {
        if let Some(open) = state.open.as_ref().filter(|_| self.active_needed) {
            rows.push((ACTIVE, open.active.clone()));
        }
    }

    fn is_idle(&self, state: &KeyState) -> bool {
        state.rows.is_empty() && state.open.is_none()
    }
}

/// Follows the rows of `input` per key in event-time order and returns `(active, history)`.
///
/// At each closed time, every key whose row changed is re-evaluated: a closed alert opens when
/// `when` holds; an open alert resolves when `clear_when` holds (or `when` no longer does, or the
/// row is gone), and otherwise its row follows the input's current values. The active collection
/// retracts an alert's row when it resolves; the history keeps one row per alert and fills in
/// `resolved_at`. Keys are spread over workers by hash (the sequential core); each worker keeps
/// only its keys' state.
///
/// With `active_needed` false the active collection stays empty and costs nothing: only openings
/// and resolutions are computed.
pub fn track_alerts<'s>(
    input: Coll<'s>,
    rules: Arc<AlertRules>,
    active_needed: bool,
) -> (Coll<'s>, Coll<'s>) {
    let (name, key) = (format!("Alert: {}", rules.name), rules.key.clone());
    let logic = Arc::new(AlertLogic { rules, active_needed });
    let mut outputs = process_by_key(&name, input, key, logic, 2);
    let history = outputs.pop().expect("two outputs");
    let active = outputs.pop().expect("two outputs");
    (active, history)
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
