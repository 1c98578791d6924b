use std::sync::Arc;

use crate::plan::{ArrangementCache, Coll, Output, PlannedOperator, RowArrangement};
use crate::value::{Row, Schema, Value};

use super::config::JoinKind;

/// Joins two arranged collections on their keys: each matching pair gives the left row followed
/// by the `right_keep` columns of the right row. With [`JoinKind::Left`], left rows whose key has
/// no right row are kept with NULLs in place of the right columns; when a right row for that key
/// appears later, the NULL-padded row is retracted and the joined one inserted.
pub fn join_rows<'s>(
    left: &Coll<'s>,
    left_arranged: RowArrangement<'s>,
    right_arranged: RowArrangement<'s>,
    left_key: Arc<[usize]>,
    right_keep: Arc<[usize]>,
    kind: JoinKind,
) -> Coll<'s> {
    let keep = right_keep.clone();
    let matched = left_arranged.join_core(right_arranged.clone(), move |_key, l: &Row, r: &Row| {
        let mut out = Row::with_capacity(l.len() + keep.len());
        out.extend(l.iter().cloned());
        out.extend(keep.iter().map(|&c| r[c].clone()));
        Some(out)
    });
    match kind {
        JoinKind::Inner => matched,
        JoinKind::Left => {
            let right_keys = right_arranged.as_collection(|k: &Row, _| k.clone()).distinct();
            let width = right_keep.len();
            let unmatched = left
                .clone()
                .map(move |row: Row| (left_key.iter().map(|&c| row[c].clone()).collect::<Row>(), row))
                .antijoin(right_keys)
                .map(move |(_key, mut row): (Row, Row)| {
                    row.extend(std::iter::repeat_n(Value::Null, width));
                    row
                });
            matched.concat(unmatched)
        }
    }
}

#[derive(Debug)]
pub(crate) struct PlannedJoin {
    pub(crate) left_key: Vec<usize>,
    pub(crate) right_key: Vec<usize>,
    pub(crate) right_keep: Arc<[usize]>,
    pub(crate) kind: JoinKind,
    pub(crate) right_width: usize,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedJoin {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(&self, inputs: &[(&str, Coll<'s>)], cache: &mut ArrangementCache<'s>) -> Vec<Coll<'s>> {
        let (left_name, left) = &inputs[0];
        let (right_name, right) = &inputs[1];
        debug_assert!(self.right_keep.iter().all(|&c| c < self.right_width));
        let left_arranged = cache.by_key(left_name, left, &self.left_key);
        let right_arranged = cache.by_key(right_name, right, &self.right_key);
        vec![join_rows(
            left,
            left_arranged,
            right_arranged,
            self.left_key.clone().into(),
            self.right_keep.clone(),
            self.kind,
        )]
    }
}
