//! Row-by-row steps and their fusion. `map` and `filter` each compute one row from one row, so a
//! chain of them (a map after a filter after a map, ...) runs as one operator that applies every
//! step to a row before handing it on: one pass and no intermediate collections. The planner
//! fuses a step into the chain before it when nothing else reads the collection in between.

use std::sync::Arc;

use crate::expr::Expr;
use crate::plan::Coll;
use crate::value::{Row, Value};

/// One row-by-row step.
#[derive(Debug, Clone)]
pub enum RowStep {
    /// `map`: the row becomes the values of these expressions over it.
    Project(Arc<[Expr]>),
    /// `filter`: the row is kept when the predicate is TRUE.
    Keep(Arc<Expr>),
}

impl RowStep {
    /// Applies the step; `None` when the row is filtered out.
    fn apply(&self, row: Row, scratch: &mut Vec<Value>) -> Option<Row> {
        match self {
            RowStep::Project(exprs) => Some(project(exprs, row, scratch)),
            RowStep::Keep(predicate) => predicate.eval_bool(&row).then_some(row),
        }
    }
}

/// The values of `exprs` over `row`, in `row`'s own allocation: they are computed into
/// `scratch` first (which keeps its capacity), then moved into the emptied row.
fn project(exprs: &[Expr], mut row: Row, scratch: &mut Vec<Value>) -> Row {
    scratch.extend(exprs.iter().map(|e| e.eval(&row)));
    row.clear();
    row.append(scratch);
    row
}

/// Applies `steps` in order to every row of `rows`, as one operator. A retracted input row
/// retracts exactly the row it produced, because every step is a function of the row.
pub fn apply_steps<'s>(rows: Coll<'s>, steps: Arc<[RowStep]>) -> Coll<'s> {
    match steps.as_ref() {
        [RowStep::Keep(predicate)] => {
            let predicate = predicate.clone();
            rows.filter(move |row| predicate.eval_bool(row))
        }
        [RowStep::Project(exprs)] => {
            let (exprs, mut scratch) = (exprs.clone(), Vec::new());
            rows.map(move |row| project(&exprs, row, &mut scratch))
        }
        _ => {
            let mut scratch = Vec::new();
            rows.flat_map(move |row| {
                steps.iter().try_fold(row, |row, step| step.apply(row, &mut scratch))
            })
        }
    }
}
