use std::sync::Arc;

use crate::plan::{ArrangementCache, Coll, Diff, InputRetention, Output, PlannedOperator};
use crate::sequential::{process_by_key, SequentialLogic, Step};
use crate::value::{Row, Schema, Value};

use super::functions::{Acc, Aggregation};

/// One group's running aggregates and how many rows it holds.
pub struct Group {
    rows: i64,
    accs: Vec<Acc>,
}

/// The aggregation as a per-key state machine of the sequential core: each row change updates
/// the group's accumulators, and the group's row is rendered once per closed time.
struct AggregateLogic {
    aggregation: Arc<Aggregation>,
}

impl SequentialLogic for AggregateLogic {
    type State = Group;
    const COMMUTATIVE: bool = true;

    fn start(&self, _key: &[Value]) -> Group {
        Group { rows: 0, accs: self.aggregation.aggs.iter().map(Acc::start).collect() }
    }

    fn update(&self, group: &mut Group, _: &mut Step<'_>, _: usize, row: Row, diff: Diff) {
        let row = &row;
        let diff = diff as i64;
        group.rows += diff;
        for (acc, agg) in group.accs.iter_mut().zip(&self.aggregation.aggs) {
            acc.update(agg, row, diff);
        }
    }

    fn render(&self, group: &Group, key: &[Value], rows: &mut Vec<(usize, Row)>) {
        if group.rows <= 0 {
            return;
        }
        let aggs = &self.aggregation.aggs;
        let mut out = Row::with_capacity(key.len() + aggs.len());
        out.extend(key.iter().cloned());
        for ((acc, agg), column) in group.accs.iter().zip(aggs).zip(&self.aggregation.columns) {
            match acc.value(agg) {
                Ok(value) => out.push(value),
                // The sequential core has no error output: a wrong number must not be written,
                // so the run stops (see the guide, "Integer overflow").
                Err(overflow) => panic!("aggregate column `{column}`: {overflow}"),
            }
        }
        rows.push((0, out));
    }

    fn is_idle(&self, group: &Group) -> bool {
        group.rows == 0
    }
}

/// Aggregates `rows` per group: one output row per non-empty group, the group columns followed
/// by the aggregate values. When a group changes, its old row is retracted and the new one
/// inserted; when it empties, its row is retracted.
///
/// Every aggregate keeps a running state per group ([`Acc`]): counts and sums are added to,
/// min/max/count-distinct and first/last keep an ordered multiset of the group's values, so one
/// change costs O(log n) at most, never a rescan of the group. Groups are spread over workers by
/// the hash of their key and processed in time order (the sequential core).
pub fn aggregate_rows<'s>(rows: Coll<'s>, aggregation: Arc<Aggregation>, name: &str) -> Coll<'s> {
    let key = aggregation.key.clone();
    let logic = Arc::new(AggregateLogic { aggregation });
    let mut outputs = process_by_key(&format!("Aggregate: {name}"), rows, key, logic, 1);
    outputs.pop().expect("one output")
}

#[derive(Debug)]
pub(crate) struct PlannedAggregate {
    pub(crate) aggregation: Arc<Aggregation>,
    pub(crate) schema: Schema,
    pub(crate) retention: Option<InputRetention>,
}

impl PlannedOperator for PlannedAggregate {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn input_retention(&self) -> Option<InputRetention> {
        self.retention
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        vec![aggregate_rows(inputs[0].1.clone(), self.aggregation.clone(), inputs[0].0)]
    }
}
