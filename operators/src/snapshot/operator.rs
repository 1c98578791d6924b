use std::collections::BTreeMap;
use std::sync::Arc;

use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator};
use crate::sequential::{
    add_multiplicity, process_sequentially, KeyedInput, SequentialLogic, Step,
};
use crate::value::{Row, Schema, Value};

/// What a snapshot copies.
#[derive(Debug)]
pub struct SnapshotRules {
    /// The operator's name.
    pub name: String,
    /// Input columns that place a row on a worker.
    pub key: Vec<usize>,
    /// Columns of the trigger row appended to each copy.
    pub added: Vec<usize>,
}

impl SequentialLogic for SnapshotRules {
    /// The key's rows with their multiplicities.
    type State = BTreeMap<Row, i64>;

    const COMMUTATIVE: bool = true;

    fn start(&self, _key: &[Value]) -> Self::State {
        BTreeMap::new()
    }

    fn update(&self, rows: &mut Self::State, _: &mut Step<'_>, _: usize, row: Row, diff: Diff) {
        add_multiplicity(rows, row, diff as i64);
    }

    fn trigger(&self, rows: &mut Self::State, step: &mut Step<'_>, _: usize, at: &Row, diff: Diff) {
        if diff <= 0 {
            return;
        }
        for (row, &count) in rows.iter().filter(|(_, count)| **count > 0) {
            let mut copy = Row::with_capacity(row.len() + self.added.len());
            copy.extend(row.iter().cloned());
            copy.extend(self.added.iter().map(|&c| at[c].clone()));
            step.emit(0, copy, count as Diff * diff);
        }
    }

    fn render(&self, _: &Self::State, _: &[Value], _: &mut Vec<(usize, Row)>) {}

    fn is_idle(&self, rows: &Self::State) -> bool {
        rows.is_empty()
    }
}

/// Copies `input`'s rows at each row of `at` (see [`super::SnapshotConfig`]). Rows are spread
/// over workers by key; every worker sees every trigger, so the copies do not depend on the
/// worker count.
pub fn snapshot_rows<'s>(input: Coll<'s>, at: Coll<'s>, rules: Arc<SnapshotRules>) -> Coll<'s> {
    let read = vec![KeyedInput::by(rules.key.clone())];
    let name = format!("Snapshot: {}", rules.name);
    process_sequentially(&name, &[input], &[at], read.into(), rules, 1).remove(0)
}

#[derive(Debug)]
pub(crate) struct PlannedSnapshot {
    pub(crate) rules: Arc<SnapshotRules>,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedSnapshot {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        vec![snapshot_rows(inputs[0].1.clone(), inputs[1].1.clone(), self.rules.clone())]
    }
}
