//! Pipelines built on pipelines: a `connector: pipeline` source stands for a collection of
//! another pipeline run in the same dataflow. Once the plans are merged, each such source whose
//! collection exists is replaced by an operator that passes that collection through (with the
//! source's retention, if any); the operators are then reordered so every collection is built
//! before its readers. A source whose collection no pipeline of the run produces stays an empty
//! source, with a warning.

use std::collections::{HashMap, HashSet};

use shelfflow_connectors::clock::round_up;
use shelfflow_operators::{ArrangementCache, Coll, Output, PlannedOperator, Schema, Time};

use super::{OperatorPlan, Plan};

/// The operator kind of a bound source in graphs and metrics.
pub const KIND: &str = "pipeline";

/// Binds every `connector: pipeline` source of `plan` it can; `Err` lists schema mismatches and
/// cycles. Returns the warnings for sources left unbound.
pub fn bind_pipeline_sources(plan: &mut Plan) -> Result<Vec<String>, Vec<String>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut index = 0;
    while index < plan.inputs.len() {
        let input = &plan.inputs[index];
        let Some((target, optional)) =
            input.config.bound_collection().map(|(c, o)| (c.to_owned(), o))
        else {
            index += 1;
            continue;
        };
        let Some(found) = plan.collections.get(&target).filter(|_| target != input.name) else {
            if optional {
                index += 1;
                continue;
            }
            warnings.push(format!(
                "warning: source `{}` reads collection `{target}` of another pipeline, which no \
                 pipeline of this run produces: it stays empty\n  hint: run it together with \
                 the pipeline that defines `{target}`",
                input.name
            ));
            index += 1;
            continue;
        };
        let columns = match projection(&input.schema, found) {
            Ok(columns) => columns,
            Err(problem) => {
                errors.push(format!("source `{}` (collection `{target}`): {problem}", input.name));
                index += 1;
                continue;
            }
        };
        let identity = columns.iter().copied().eq(0..found.fields.len());
        let input = plan.inputs.remove(index);
        // The simulated streams name their inputs by position.
        for (position, _, _) in plan.simulation.iter_mut().flat_map(|s| s.streams.iter_mut()) {
            if *position > index {
                *position -= 1;
            }
        }
        plan.operators.push(OperatorPlan {
            name: input.name.clone(),
            kind: KIND,
            inputs: vec![target],
            outputs: vec![input.name.clone()],
            planned: Box::new(BoundSource {
                schema: input.schema,
                columns: (!identity).then_some(columns),
                retention: input.retention.map(|r| round_up(r, plan.tick)),
            }),
            description: input.description,
        });
    }
    if let Err(cycle) = order_operators(plan) {
        errors.push(format!(
            "the pipelines read each other's collections in a cycle through {}",
            cycle.join(", ")
        ));
    }
    if errors.is_empty() {
        plan.retain_read_outputs(&[]);
        Ok(warnings)
    } else {
        Err(errors)
    }
}

/// The collection's column for each declared column, or why the collection cannot stand for a
/// source declared with `declared`: every declared column must be a column of the collection
/// with the same type (a source may read a subset, in any order).
fn projection(declared: &Schema, found: &Schema) -> Result<Vec<usize>, String> {
    let mut columns = Vec::with_capacity(declared.fields.len());
    for d in &declared.fields {
        let Some(c) = found.index_of(&d.name) else {
            return Err(format!(
                "the collection has no column `{}` (its columns: {})",
                d.name,
                found.names().collect::<Vec<_>>().join(", ")
            ));
        };
        let f = &found.fields[c];
        if d.ty != f.ty {
            return Err(format!(
                "column `{}` is {} in the collection, declared {}",
                d.name,
                f.ty.name(),
                d.ty.name()
            ));
        }
        if f.nullable && !d.nullable {
            return Err(format!(
                "column `{}` can be NULL in the collection; declare it `{}?`",
                d.name,
                d.ty.name()
            ));
        }
        columns.push(c);
    }
    Ok(columns)
}

/// Puts the operators in dependency order, keeping the present order where it already is one.
/// `Err` names the operators left in a cycle.
fn order_operators(plan: &mut Plan) -> Result<(), Vec<String>> {
    let producer: HashMap<&str, usize> = plan
        .operators
        .iter()
        .enumerate()
        .flat_map(|(i, op)| op.outputs.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let deps: Vec<Vec<usize>> = plan
        .operators
        .iter()
        .map(|op| op.inputs.iter().filter_map(|i| producer.get(i.as_str()).copied()).collect())
        .collect();
    let mut placed = HashSet::new();
    let mut order = Vec::with_capacity(deps.len());
    while order.len() < deps.len() {
        let next = (0..deps.len())
            .find(|i| !placed.contains(i) && deps[*i].iter().all(|d| placed.contains(d)));
        let Some(next) = next else {
            let cycle = (0..deps.len()).filter(|i| !placed.contains(i));
            return Err(cycle.map(|i| plan.operators[i].name.clone()).collect());
        };
        placed.insert(next);
        order.push(next);
    }
    let mut slots: Vec<Option<OperatorPlan>> = plan.operators.drain(..).map(Some).collect();
    plan.operators = order.into_iter().map(|i| slots[i].take().expect("placed once")).collect();
    Ok(())
}

/// A bound source: the collection, projected on the declared columns and retracted after
/// `retention`, if set.
#[derive(Debug)]
struct BoundSource {
    schema: Schema,
    /// The collection's column of each declared one, unless they are the same.
    columns: Option<Vec<usize>>,
    retention: Option<Time>,
}

impl PlannedOperator for BoundSource {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let (name, mut coll) = (inputs[0].0, inputs[0].1.clone());
        if let Some(columns) = self.columns.clone() {
            coll = coll.map(move |row| columns.iter().map(|&c| row[c].clone()).collect());
        }
        vec![match self.retention {
            Some(after) => crate::runtime::expire_after(coll, after, name),
            None => coll,
        }]
    }
}
