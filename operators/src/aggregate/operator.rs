use std::sync::Arc;

use std::hash::{Hash, Hasher};

use differential_dataflow::operators::arrange::arrangement::arrange_core;
use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::operators::count::CountTotal;
use differential_dataflow::trace::implementations::{
    ContainerChunker, KeyBatcher, KeyBuilder, KeySpine,
};
use differential_dataflow::VecCollection;
use timely::dataflow::channels::pact::{Exchange, Pipeline};

use crate::plan::{ArrangementCache, Coll, Output, PlannedOperator, Time};
use crate::value::{Row, Schema};

use super::functions::{Aggregation, Sums};

/// Aggregates `rows` per group: one output row per non-empty group, the group columns followed
/// by the aggregate values. When a group changes, its old row is retracted and the new one
/// inserted; when it empties, its row is retracted.
///
/// Counts and integer sums take the abelian path: each row becomes a vector of running sums
/// carried as the difference of its group key, and `count_total` accumulates them, so an update
/// costs O(1) regardless of the group's size. Other aggregates (min, max, distinct counts, float
/// sums, first/last) reduce over the group's distinct argument values.
pub fn aggregate_rows<'s>(rows: Coll<'s>, aggregation: Arc<Aggregation>, name: &str) -> Coll<'s> {
    match aggregation.sum_layout() {
        Some(layout) => {
            let layout = Arc::new(layout);
            let (agg, lay) = (aggregation.clone(), layout.clone());
            let keyed = rows.explode(move |row: Row| {
                let key: Row = agg.key.iter().map(|&c| row[c].clone()).collect();
                Some(((key, ()), agg.accumulate(&lay, &row)))
            });
            arrange_group_keys(keyed, name).count_total().map(move |(key, sums)| {
                let mut out = key;
                aggregation.finish_sums(&layout, &sums, &mut out);
                out
            })
        }
        None => {
            let agg = aggregation.clone();
            rows.map(move |row: Row| {
                let key: Row = agg.key.iter().map(|&c| row[c].clone()).collect();
                (key, agg.project(&row))
            })
            .reduce_named(&format!("Aggregate: {name}"), move |_key, group, output| {
                let mut values = Row::with_capacity(aggregation.aggs.len());
                aggregation.finish_group(group, &mut values);
                output.push((values, 1isize));
            })
            .map(|(mut key, values): (Row, Row)| {
                key.extend(values);
                key
            })
        }
    }
}

/// Group keys with their running sums, arranged for `count_total`. With one worker nothing needs
/// routing, so the per-record hash of the key is skipped.
fn arrange_group_keys<'s>(
    keyed: VecCollection<'s, Time, (Row, ()), Sums>,
    name: &str,
) -> Arranged<'s, TraceAgent<KeySpine<Row, Time, Sums>>> {
    type Chunker = ContainerChunker<Vec<((Row, ()), Time, Sums)>>;
    type Batcher = KeyBatcher<Row, Time, Sums>;
    type Builder = KeyBuilder<Row, Time, Sums>;
    let name = format!("Arrange: {name} groups");
    if keyed.inner.scope().peers() == 1 {
        arrange_core::<_, _, Chunker, Batcher, Builder, _>(keyed.inner, Pipeline, &name)
    } else {
        let exchange = Exchange::new(|((key, ()), _, _): &((Row, ()), Time, Sums)| {
            let mut h = rustc_hash::FxHasher::default();
            key.hash(&mut h);
            h.finish()
        });
        arrange_core::<_, _, Chunker, Batcher, Builder, _>(keyed.inner, exchange, &name)
    }
}

#[derive(Debug)]
pub(crate) struct PlannedAggregate {
    pub(crate) aggregation: Arc<Aggregation>,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedAggregate {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        vec![aggregate_rows(inputs[0].1.clone(), self.aggregation.clone(), inputs[0].0)]
    }
}
