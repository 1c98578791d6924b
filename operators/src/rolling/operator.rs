use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator};
use crate::sequential::{add_multiplicity, process_by_key, SequentialLogic, Step};
use crate::value::{Days, Row, Schema, Value};

use super::config::RollingFunction;

/// One planned column: `function` of input column `of` over the `days` days before a row's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measure {
    pub(crate) function: RollingFunction,
    pub(crate) of: usize,
    pub(crate) days: Days,
    pub(crate) partial: bool,
    pub(crate) include_today: bool,
}

#[derive(Debug)]
pub(crate) struct PlannedRolling {
    pub(crate) key: Vec<usize>,
    pub(crate) date: usize,
    pub(crate) measures: Vec<Measure>,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedRolling {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let logic = RollingLogic {
            date: self.date,
            measures: self.measures.clone().into(),
            reach: self.measures.iter().map(|m| m.days).max().unwrap_or(1),
        };
        let rows = inputs[0].1.clone();
        process_by_key("Rolling", rows, self.key.clone(), Arc::new(logic), 1)
    }
}

/// One key's calendar: its rows per day, and the rows emitted for each day.
#[derive(Default)]
pub(crate) struct Series {
    days: BTreeMap<Days, BTreeMap<Row, i64>>,
    emitted: BTreeMap<Days, Vec<(Row, i64)>>,
    touched: BTreeSet<Days>,
}

struct RollingLogic {
    date: usize,
    measures: Arc<[Measure]>,
    /// The longest window: a change on day d can change the rows of days d ..= d + reach.
    reach: Days,
}

impl SequentialLogic for RollingLogic {
    type State = Series;
    const COMMUTATIVE: bool = true;

    fn start(&self, _key: &[Value]) -> Series {
        Series::default()
    }

    fn update(&self, state: &mut Series, step: &mut Step<'_>, _: usize, row: Row, diff: Diff) {
        let Value::Date(day) = row[self.date] else {
            // No day, no window: the row passes with NULL columns.
            let nulls = std::iter::repeat_n(Value::Null, self.measures.len());
            step.emit(0, row.into_iter().chain(nulls).collect(), diff);
            return;
        };
        let rows = state.days.entry(day).or_default();
        add_multiplicity(rows, row, diff as i64);
        if rows.is_empty() {
            state.days.remove(&day);
        }
        state.touched.insert(day);
    }

    fn finish(&self, state: &mut Series, step: &mut Step<'_>) {
        let affected: BTreeSet<Days> = std::mem::take(&mut state.touched)
            .into_iter()
            .flat_map(|day| {
                let end = day + self.reach;
                let rows = state.days.range(day..=end).map(|(d, _)| *d);
                let emitted = state.emitted.range(day..=end).map(|(d, _)| *d);
                rows.chain(emitted).collect::<Vec<_>>()
            })
            .collect();
        for day in affected {
            self.refresh_day(state, step, day);
        }
    }

    fn changed(&self, _: &mut Series) -> bool {
        false
    }

    fn render(&self, _: &Series, _: &[Value], _: &mut Vec<(usize, Row)>) {}

    fn is_idle(&self, state: &Series) -> bool {
        state.days.is_empty() && state.emitted.is_empty()
    }
}

impl RollingLogic {
    /// Recomputes the rows of `day` and emits what changed since they were last emitted.
    fn refresh_day(&self, state: &mut Series, step: &mut Step<'_>, day: Days) {
        let columns: Row = self.measures.iter().map(|m| measure(&state.days, day, m)).collect();
        let fresh: Vec<(Row, i64)> = state.days.get(&day).map_or_else(Vec::new, |rows| {
            let with = |row: &Row| row.iter().chain(&columns).cloned().collect::<Row>();
            rows.iter().map(|(row, n)| (with(row), *n)).collect()
        });
        let old = state.emitted.remove(&day).unwrap_or_default();
        if old == fresh {
            state.emitted.insert(day, old);
            return;
        }
        for (row, n) in old {
            step.emit(0, row, -(n as Diff));
        }
        for (row, n) in &fresh {
            step.emit(0, row.clone(), *n as Diff);
        }
        if !fresh.is_empty() {
            state.emitted.insert(day, fresh);
        }
    }
}

/// The value of `m` for rows on `day`, over the calendar `days` of one key.
fn measure(days: &BTreeMap<Days, BTreeMap<Row, i64>>, day: Days, m: &Measure) -> Value {
    let from = day - m.days;
    if m.function == RollingFunction::Lag {
        return match days.get(&from).map(|rows| rows.iter().collect::<Vec<_>>()).as_deref() {
            Some([(row, 1)]) => row[m.of].clone(),
            _ => Value::Null,
        };
    }
    let shift = Days::from(m.include_today);
    let window = days.range(from + shift..day + shift);
    if !m.partial && window.clone().count() < m.days as usize {
        return Value::Null;
    }
    let values = window
        .flat_map(|(_, rows)| rows.iter())
        .flat_map(|(row, n)| std::iter::repeat_n(&row[m.of], (*n).max(0) as usize))
        .filter(|v| !matches!(v, Value::Null));
    fold(m.function, values)
}

/// Folds the non-NULL values of a window with `function` (not `lag`).
fn fold<'v>(function: RollingFunction, mut values: impl Iterator<Item = &'v Value>) -> Value {
    match function {
        RollingFunction::Count => Value::Int(values.count() as i64),
        RollingFunction::Min => values.min().cloned().unwrap_or(Value::Null),
        RollingFunction::Max => values.max().cloned().unwrap_or(Value::Null),
        RollingFunction::Sum => sum(values).unwrap_or(Value::Null),
        RollingFunction::Avg => {
            let (mut total, mut n) = (0.0, 0usize);
            for v in values.by_ref() {
                total += as_float(v);
                n += 1;
            }
            if n == 0 {
                Value::Null
            } else {
                Value::Float(total / n as f64)
            }
        }
        RollingFunction::Lag => unreachable!("lag reads one day"),
    }
}

/// Sum of ints (None on overflow or no value) or of floats.
fn sum<'v>(values: impl Iterator<Item = &'v Value>) -> Option<Value> {
    let mut ints: Option<i64> = None;
    let mut floats: Option<f64> = None;
    for v in values {
        match v {
            Value::Int(i) => ints = Some(ints.unwrap_or(0).checked_add(*i)?),
            other => floats = Some(floats.unwrap_or(0.0) + as_float(other)),
        }
    }
    ints.map(Value::Int).or(floats.map(Value::Float))
}

fn as_float(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => 0.0,
    }
}
