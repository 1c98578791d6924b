use std::sync::Arc;

use crate::expr::Expr;
use crate::plan::{ArrangementCache, Coll, Output, PlannedOperator};
use crate::value::{Row, Schema};

/// Replaces each row by the values of `exprs` evaluated over it. Because the mapping is a pure
/// function of the row, a retracted input row retracts exactly the output row it produced.
pub fn project_rows<'s>(rows: Coll<'s>, exprs: Arc<[Expr]>) -> Coll<'s> {
    rows.map(move |row| exprs.iter().map(|e| e.eval(&row)).collect::<Row>())
}

#[derive(Debug)]
pub(crate) struct PlannedMap {
    pub(crate) exprs: Arc<[Expr]>,
    pub(crate) origin: Arc<crate::rowwise::StepOrigin>,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedMap {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn row_step(&self) -> Option<crate::rowwise::RowStep> {
        Some(crate::rowwise::RowStep::Project(self.exprs.clone(), self.origin.clone()))
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        vec![project_rows(inputs[0].1.clone(), self.exprs.clone())]
    }
}
