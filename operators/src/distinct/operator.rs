use std::sync::Arc;

use crate::plan::{ArrangementCache, Coll, Output, PlannedOperator};
use crate::value::{Row, Schema};

/// One row per distinct `by` key (the whole row when `None`), with multiplicity one. Among rows
/// sharing a key, the one with the smallest `event_time` column (then the smallest row) wins.
pub fn distinct_rows<'s>(
    rows: Coll<'s>,
    by: Option<Arc<[usize]>>,
    event_time: Option<usize>,
) -> Coll<'s> {
    match by {
        None => rows.distinct(),
        Some(by) => rows
            .map(move |row: Row| {
                let key: Row = by.iter().map(|&c| row[c].clone()).collect();
                let order: Row = event_time.map(|t| row[t].clone()).into_iter().collect();
                (key, (order, row))
            })
            .reduce_named("Distinct", |_key, group: &[(&(Row, Row), isize)], output| {
                // Groups arrive sorted, so the first entry with a positive count is the earliest.
                if let Some(((_, row), _)) = group.iter().find(|(_, d)| *d > 0) {
                    output.push((row.clone(), 1isize));
                }
            })
            .map(|(_key, row): (Row, Row)| row),
    }
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
