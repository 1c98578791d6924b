use std::sync::Arc;

use crate::aggregate::{aggregate_rows, Aggregation};
use crate::plan::{ArrangementCache, Coll, Output, PlannedOperator};
use crate::value::{Row, Schema, Value};

/// The starts of the windows of length `size`, starting at multiples of `slide`, that contain
/// the instant `t` (all in microseconds), latest first.
pub fn window_starts(t: i64, size: i64, slide: i64) -> impl Iterator<Item = i64> {
    let last = t.div_euclid(slide) * slide;
    (0..).map(move |k| last - k * slide).take_while(move |start| *start > t - size)
}

/// Appends `window_start` and `window_end` to each row, once per window containing the row's
/// `time` column. Rows with a NULL time belong to no window.
pub fn assign_windows<'s>(rows: Coll<'s>, time: usize, size: i64, slide: i64) -> Coll<'s> {
    rows.flat_map(move |row: Row| {
        let t = match row[time] {
            Value::Timestamp(t) => Some(t),
            _ => None,
        };
        let starts: Vec<i64> =
            t.map(|t| window_starts(t, size, slide).collect()).unwrap_or_default();
        starts.into_iter().map(move |start| {
            let mut out = row.clone();
            out.push(Value::Timestamp(start));
            out.push(Value::Timestamp(start + size));
            out
        })
    })
}

#[derive(Debug)]
pub(crate) struct PlannedWindow {
    pub(crate) time: usize,
    pub(crate) size: i64,
    pub(crate) slide: i64,
    pub(crate) aggregation: Arc<Aggregation>,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedWindow {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let (name, rows) = &inputs[0];
        let windowed = assign_windows(rows.clone(), self.time, self.size, self.slide);
        vec![aggregate_rows(windowed, self.aggregation.clone(), name)]
    }
}
