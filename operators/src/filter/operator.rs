use std::sync::Arc;

use crate::expr::Expr;
use crate::plan::{ArrangementCache, Coll, Output, PlannedOperator};
use crate::value::Schema;

/// Keeps the rows of `rows` for which `predicate` is true. Retractions pass through unchanged,
/// so a row that leaves the input leaves the output.
pub fn filter_rows<'s>(rows: Coll<'s>, predicate: Arc<Expr>) -> Coll<'s> {
    rows.filter(move |row| predicate.eval_bool(row))
}

#[derive(Debug)]
pub(crate) struct PlannedFilter {
    pub(crate) predicate: Arc<Expr>,
    pub(crate) origin: Arc<crate::rowwise::StepOrigin>,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedFilter {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn row_step(&self) -> Option<crate::rowwise::RowStep> {
        Some(crate::rowwise::RowStep::Keep(self.predicate.clone(), self.origin.clone()))
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        vec![filter_rows(inputs[0].1.clone(), self.predicate.clone())]
    }
}
