//! Row-by-row steps and their fusion. `map` and `filter` each compute one row from one row, so a
//! chain of them (a map after a filter after a map, ...) runs as one operator that applies every
//! step to a row before handing it on: one pass and no intermediate collections. The planner
//! fuses a step into the chain before it when nothing else reads the collection in between.
//!
//! A row whose expressions overflow integer arithmetic is not computed: it leaves the chain as a
//! dead letter that names the operator, the expression and the arithmetic operator.

use std::sync::Arc;

use differential_dataflow::AsCollection;
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::operators::vec::Map as _;
use timely::dataflow::Stream;

use crate::dead_letter::DeadLetter;
use crate::expr::{checked, Expr, Overflow};
use crate::plan::{Coll, Diff, Time};
use crate::value::{Row, Value};

/// Where a step's expressions were written, to name them in dead letters.
#[derive(Debug, Clone, Default)]
pub struct StepOrigin {
    /// The operator's name.
    pub operator: String,
    /// Per expression of the step: its YAML path and SQL text (`fields.total`,
    /// `quantity * price`); empty for a column passed through.
    pub exprs: Vec<(String, String)>,
    /// The input's column names, to show the row that failed.
    pub columns: Vec<String>,
}

impl StepOrigin {
    /// The dead letter of `row`, whose expression `index` overflowed, as a row of the
    /// dead-letter collections: its source is the operator, its position the expression's path.
    fn dead_letter(&self, index: usize, overflow: Overflow, row: &[Value]) -> Row {
        let (path, text) =
            self.exprs.get(index).map_or(("", ""), |(p, t)| (p.as_str(), t.as_str()));
        let fields = self.columns.iter().cloned().zip(row.iter().map(Value::to_json));
        let letter = DeadLetter {
            position: path.to_owned(),
            reason: format!(
                "{} overflow in `{text}` (operator `{}`)",
                overflow.kind, overflow.operator
            ),
            raw: serde_json::Value::Object(fields.collect()).to_string(),
            time: 0, // the row's own time goes with it through the dataflow
        };
        letter.into_row(&self.operator)
    }
}

/// One row-by-row step.
#[derive(Debug, Clone)]
pub enum RowStep {
    /// `map`: the row becomes the values of these expressions over it.
    Project(Arc<[Expr]>, Arc<StepOrigin>),
    /// `filter`: the row is kept when the predicate is TRUE.
    Keep(Arc<Expr>, Arc<StepOrigin>),
}

/// What one step makes of a row: the row, nothing (filtered out), or a dead letter.
type Outcome = Result<Option<Row>, Row>;

impl RowStep {
    /// Applies the step.
    fn apply(&self, row: Row, scratch: &mut Vec<Value>) -> Outcome {
        match self {
            RowStep::Project(exprs, origin) => match project(exprs, row, scratch) {
                Ok(row) => Ok(Some(row)),
                Err((row, index, overflow)) => Err(origin.dead_letter(index, overflow, &row)),
            },
            RowStep::Keep(predicate, origin) => match checked(|| predicate.eval_bool(&row)) {
                Ok(keep) => Ok(keep.then_some(row)),
                Err(overflow) => Err(origin.dead_letter(0, overflow, &row)),
            },
        }
    }

    /// Whether an expression of the step does integer arithmetic that may overflow.
    fn can_overflow(&self) -> bool {
        match self {
            RowStep::Project(exprs, _) => exprs.iter().any(Expr::can_overflow),
            RowStep::Keep(predicate, _) => predicate.can_overflow(),
        }
    }
}

/// The values of `exprs` over `row`, in `row`'s own allocation (see [`compute`]); on an
/// overflow, the row unchanged with the position of the first expression that overflowed.
fn project(
    exprs: &[Expr],
    row: Row,
    scratch: &mut Vec<Value>,
) -> Result<Row, (Row, usize, Overflow)> {
    if let Err(overflow) = checked(|| compute(exprs, &row, scratch)) {
        scratch.clear();
        let first = exprs
            .iter()
            .enumerate()
            .find_map(|(i, e)| checked(|| e.eval(&row)).err().map(|overflow| (i, overflow)));
        let (index, overflow) = first.unwrap_or((0, overflow));
        return Err((row, index, overflow));
    }
    Ok(replace(row, scratch))
}

/// Computes `exprs` over `row` into `scratch`, which keeps its capacity from row to row.
fn compute(exprs: &[Expr], row: &[Value], scratch: &mut Vec<Value>) {
    scratch.extend(exprs.iter().map(|e| e.eval(row)));
}

/// Moves the computed values into the emptied `row`, reusing its allocation.
fn replace(mut row: Row, scratch: &mut Vec<Value>) -> Row {
    row.clear();
    row.append(scratch);
    row
}

/// Applies `steps` to every row of `steps`' input, in order, as one operator; returns the rows
/// and the dead letters of rows that overflowed (an empty collection when no step can). A
/// retracted input row retracts exactly what it produced, because every step is a function of
/// the row.
pub fn apply_steps<'s>(rows: Coll<'s>, steps: Arc<[RowStep]>) -> (Coll<'s>, Coll<'s>) {
    if !steps.iter().any(RowStep::can_overflow) {
        let none = timely::dataflow::operators::generic::operator::empty(rows.scope());
        return (apply_infallible(rows, steps), none.as_collection());
    }
    let mut scratch = Vec::new();
    let outcomes = rows.inner.flat_map(move |(row, time, diff)| {
        let mut row = row;
        for step in steps.iter() {
            match step.apply(row, &mut scratch) {
                Ok(Some(next)) => row = next,
                Ok(None) => return None,
                Err(dead) => return Some(Err((dead, time, diff))),
            }
        }
        Some(Ok((row, time, diff)))
    });
    type Updates<'s> = Stream<'s, Time, Vec<(Row, Time, Diff)>>;
    let (ok, dead): (Updates<'s>, Updates<'s>) = outcomes.ok_err(|outcome| outcome);
    (ok.as_collection(), dead.as_collection())
}

/// [`apply_steps`] for steps that cannot fail: no overflow checks.
fn apply_infallible<'s>(rows: Coll<'s>, steps: Arc<[RowStep]>) -> Coll<'s> {
    let mut scratch = Vec::new();
    match steps.as_ref() {
        [RowStep::Keep(predicate, _)] => {
            let predicate = predicate.clone();
            rows.filter(move |row| predicate.eval_bool(row))
        }
        [RowStep::Project(exprs, _)] => {
            let exprs = exprs.clone();
            rows.map(move |row| {
                compute(&exprs, &row, &mut scratch);
                replace(row, &mut scratch)
            })
        }
        _ => rows.flat_map(move |row| {
            steps.iter().try_fold(row, |row, step| match step {
                RowStep::Keep(predicate, _) => predicate.eval_bool(&row).then_some(row),
                RowStep::Project(exprs, _) => {
                    compute(exprs, &row, &mut scratch);
                    Some(replace(row, &mut scratch))
                }
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{i, run, s, schema, state_at, yaml, Update};
    use crate::value::Type;

    fn step(kind: crate::plan::OperatorKind, name: &str, config: &str) -> RowStep {
        let input = schema(&[("shelf_id", Type::String), ("units", Type::Int)]);
        let planned = (kind.parse)(yaml(config)).unwrap().plan(name, &[input]).unwrap();
        planned.row_step().unwrap()
    }

    fn apply(steps: Vec<RowStep>, input: Vec<Update>) -> (Vec<Row>, Vec<Row>) {
        let steps: Arc<[RowStep]> = steps.into();
        let out = run(vec![input], move |colls| {
            let (rows, dead) = apply_steps(colls[0].clone(), steps.clone());
            vec![rows, dead]
        });
        (state_at(&out[0], 1), state_at(&out[1], 1))
    }

    #[test]
    fn an_overflowing_row_is_a_dead_letter_naming_the_expression_and_operator() {
        let scale =
            step(crate::map::KIND, "scaled", "input: x\nfields:\n  micro: units * 1000000000000");
        let keep = step(crate::filter::KIND, "small", "input: x\nwhere: units < 100");
        let input = vec![(vec![s("A"), i(3)], 1, 1), (vec![s("B"), i(i64::MAX / 1000)], 1, 1)];
        let (rows, dead) = apply(vec![scale, keep], input);
        assert_eq!(rows, vec![vec![s("A"), i(3), i(3_000_000_000_000)]]);
        assert_eq!(
            dead,
            vec![vec![
                s("scaled"),
                s("fields.micro"),
                s("integer overflow in `units * 1000000000000` (operator `*`)"),
                s(&format!("{{\"shelf_id\":\"B\",\"units\":{}}}", i64::MAX / 1000)),
            ]]
        );
    }

    #[test]
    fn a_filter_that_overflows_dead_letters_the_row_and_steps_without_integers_cannot() {
        let keep = step(crate::filter::KIND, "f", "input: x\nwhere: -units < 0");
        assert!(keep.can_overflow());
        let (rows, dead) = apply(vec![keep], vec![(vec![s("A"), i(i64::MIN)], 1, 1)]);
        assert!(rows.is_empty());
        assert_eq!(dead[0][2], s("integer overflow in `-units < 0` (operator `unary -`)"));
        assert!(!step(crate::filter::KIND, "f", "input: x\nwhere: shelf_id = 'A'").can_overflow());
    }
}
