use std::collections::BTreeMap;
use std::sync::Arc;

use crate::expr::Expr;
use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator};
use crate::sequential::{add_multiplicity, process_by_key, SequentialLogic, Step};
use crate::value::{Row, Schema, Value};

/// Ordering expressions with their direction (`true` = descending).
#[derive(Debug)]
pub struct Ordering {
    /// `(expression, descending)` in priority order.
    pub keys: Vec<(Expr, bool)>,
}

/// A value in its ordering's direction: descending columns compare reversed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Directed {
    Ascending(Value),
    Descending(std::cmp::Reverse<Value>),
}

impl Ordering {
    fn directed(&self, row: &[Value]) -> Vec<Directed> {
        self.keys
            .iter()
            .map(|(e, descending)| match descending {
                false => Directed::Ascending(e.eval(row)),
                true => Directed::Descending(std::cmp::Reverse(e.eval(row))),
            })
            .collect()
    }
}

/// One group's rows in rank order (ordering, then the whole row), with multiplicities, and
/// whether a change of this time reached the first `k` (otherwise the ranking shown stands).
pub struct Ranked(BTreeMap<(Vec<Directed>, Row), i64>, bool);

impl Ranked {
    /// Whether `entry` is, or would be, among the first `k` rows.
    fn reaches_top(&self, entry: &(Vec<Directed>, Row), k: usize) -> bool {
        let mut seen = 0usize;
        for (key, n) in &self.0 {
            if key >= entry {
                return true;
            }
            seen += (*n).max(0) as usize;
            if seen >= k {
                return false;
            }
        }
        true
    }
}

/// Keeps each group's rows ordered, so a change costs O(log n) and the first `k` are read
/// off the front.
struct TopKLogic {
    ordering: Arc<Ordering>,
    k: usize,
}

impl SequentialLogic for TopKLogic {
    type State = Ranked;
    const COMMUTATIVE: bool = true;

    fn start(&self, _key: &[Value]) -> Ranked {
        Ranked(BTreeMap::new(), true)
    }

    fn update(&self, state: &mut Ranked, _: &mut Step<'_>, _: usize, row: Row, diff: Diff) {
        let row = &row;
        let entry = (self.ordering.directed(row), row.clone());
        // A row below the first k before and after its change leaves the ranking as it is.
        state.1 |= state.reaches_top(&entry, self.k);
        add_multiplicity(&mut state.0, entry, diff as i64);
    }

    fn changed(&self, state: &mut Ranked) -> bool {
        std::mem::replace(&mut state.1, false)
    }

    fn render(&self, state: &Ranked, _key: &[Value], rows: &mut Vec<(usize, Row)>) {
        let copies =
            state.0.iter().flat_map(|((_, row), n)| std::iter::repeat_n(row, (*n).max(0) as usize));
        for (rank, row) in copies.take(self.k).enumerate() {
            let mut out = Row::with_capacity(row.len() + 1);
            out.extend(row.iter().cloned());
            out.push(Value::Int(rank as i64 + 1));
            rows.push((0, out));
        }
    }

    fn is_idle(&self, state: &Ranked) -> bool {
        state.0.is_empty()
    }
}

/// The first `k` rows of each `group` by `ordering`, each with its rank (1-based) appended.
/// Each group's rows stay ordered in the sequential core: a change costs O(log n + k), not a
/// re-rank of the group, and only ranks that changed are output.
pub fn top_k_rows<'s>(
    rows: Coll<'s>,
    group: Arc<[usize]>,
    ordering: Arc<Ordering>,
    k: usize,
) -> Coll<'s> {
    let logic = Arc::new(TopKLogic { ordering, k });
    let mut out = process_by_key("TopK", rows, group.to_vec(), logic, 1);
    out.pop().expect("one output")
}

#[derive(Debug)]
pub(crate) struct PlannedTopK {
    pub(crate) group: Vec<usize>,
    pub(crate) ordering: Arc<Ordering>,
    pub(crate) k: usize,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedTopK {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        vec![top_k_rows(
            inputs[0].1.clone(),
            self.group.clone().into(),
            self.ordering.clone(),
            self.k,
        )]
    }
}
