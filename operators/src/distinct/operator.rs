use std::collections::BTreeMap;
use std::sync::Arc;

use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator};
use crate::sequential::{add_multiplicity, process_by_key, SequentialLogic, Step};
use crate::value::{Row, Schema, Value};

/// The rows of one key, ordered by `(event time, row)`, with their multiplicities.
pub struct Candidates(BTreeMap<(Value, Row), i64>);

/// Keeps, per key, the earliest row present (see [`distinct_rows`]).
struct EarliestLogic {
    event_time: Option<usize>,
}

impl SequentialLogic for EarliestLogic {
    type State = Candidates;
    const COMMUTATIVE: bool = true;

    fn start(&self, _key: &[Value]) -> Candidates {
        Candidates(BTreeMap::new())
    }

    fn update(&self, state: &mut Candidates, _: &mut Step<'_>, _: usize, row: Row, diff: Diff) {
        let row = &row;
        let order = self.event_time.map_or(Value::Null, |t| row[t].clone());
        add_multiplicity(&mut state.0, (order, row.clone()), diff as i64);
    }

    fn render(&self, state: &Candidates, _key: &[Value], rows: &mut Vec<(usize, Row)>) {
        if let Some(((_, row), _)) = state.0.iter().find(|(_, d)| **d > 0) {
            rows.push((0, row.clone()));
        }
    }

    fn is_idle(&self, state: &Candidates) -> bool {
        state.0.is_empty()
    }
}

/// One row per distinct `by` key (the whole row when `None`), with multiplicity one. Among rows
/// sharing a key, the one with the smallest `event_time` column (then the smallest row) wins.
/// Keys are kept by the sequential core, so a change costs O(log n) of its key's rows.
pub fn distinct_rows<'s>(
    rows: Coll<'s>,
    by: Option<Arc<[usize]>>,
    event_time: Option<usize>,
) -> Coll<'s> {
    match by {
        None => rows.distinct(),
        Some(by) => {
            let logic = Arc::new(EarliestLogic { event_time });
            let mut out = process_by_key("Distinct", rows, by.to_vec(), logic, 1);
            out.pop().expect("one output")
        }
    }
}

/// How many rows a key has, and whether the count crossed zero at this time.
pub struct Count(Diff, bool);

/// Renders a key's values while it has rows (see [`present_keys`]).
struct PresenceLogic;

impl SequentialLogic for PresenceLogic {
    type State = Count;
    const COMMUTATIVE: bool = true;

    fn start(&self, _key: &[Value]) -> Count {
        Count(0, false)
    }

    fn update(&self, state: &mut Count, _: &mut Step<'_>, _: usize, _: Row, diff: Diff) {
        let before = state.0 > 0;
        state.0 += diff;
        state.1 |= before != (state.0 > 0);
    }

    fn changed(&self, state: &mut Count) -> bool {
        std::mem::replace(&mut state.1, false)
    }

    fn render(&self, state: &Count, key: &[Value], rows: &mut Vec<(usize, Row)>) {
        if state.0 > 0 {
            rows.push((0, key.to_vec()));
        }
    }

    fn is_idle(&self, state: &Count) -> bool {
        state.0 == 0
    }
}

/// The distinct values of the `key` columns of `rows` (one row of those columns per key that
/// has rows). A row replaced by another of the same key changes nothing here.
pub fn present_keys<'s>(rows: Coll<'s>, key: Arc<[usize]>) -> Coll<'s> {
    let mut out = process_by_key("PresentKeys", rows, key.to_vec(), Arc::new(PresenceLogic), 1);
    out.pop().expect("one output")
}

#[derive(Debug)]
pub(crate) struct PlannedDistinct {
    pub(crate) by: Option<Vec<usize>>,
    pub(crate) event_time: Option<usize>,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedDistinct {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        vec![distinct_rows(inputs[0].1.clone(), self.by.clone().map(Into::into), self.event_time)]
    }
}
