//! Building a plan's operators inside a worker's dataflow: only the operators whose outputs
//! reach a sink (or a tap, or the simulated store) are built, and chains of row-by-row steps
//! (`map`, `filter`) become one operator.

use std::collections::HashMap;
use std::sync::Arc;

use shelfflow_operators::rowwise::{apply_steps, RowStep};
use shelfflow_operators::{ArrangementCache, Coll};

use crate::planner::Plan;

/// A collection not built yet: row-by-row steps to apply to a built one.
struct Chain<'s> {
    base: Coll<'s>,
    steps: Vec<RowStep>,
}

/// The collections of one dataflow while its operators are built.
struct Collections<'s> {
    built: HashMap<String, Coll<'s>>,
    chains: HashMap<String, Chain<'s>>,
    /// How many operators, sinks or other consumers read each collection.
    readers: HashMap<String, usize>,
    /// Dead letters of the chains built so far (rows whose expressions overflowed).
    dead: Vec<Coll<'s>>,
}

impl<'s> Collections<'s> {
    /// The collection `name`, building its chain of steps first if it has one.
    fn get(&mut self, name: &str) -> Coll<'s> {
        if let Some(chain) = self.chains.remove(name) {
            let steps: Arc<[RowStep]> = chain.steps.into();
            let (rows, dead) = apply_steps(chain.base, steps);
            self.built.insert(name.to_owned(), rows);
            self.dead.push(dead);
        }
        self.built[name].clone()
    }

    /// The chain that a step reading `name` extends: its own when nothing else reads it.
    fn chain_from(&mut self, name: &str) -> Chain<'s> {
        if self.readers.get(name) == Some(&1) {
            if let Some(chain) = self.chains.remove(name) {
                return chain;
            }
        }
        Chain { base: self.get(name), steps: Vec::new() }
    }
}

/// Builds the operators of `plan` that `roots` need, over the inputs in `inputs` (sources,
/// tables and the simulated store's streams, by name), and returns every built collection by
/// name, each of the `roots` among them, and the operators' dead letters (rows of the
/// dead-letter columns).
pub fn build_operators<'s>(
    plan: &Plan,
    inputs: HashMap<String, Coll<'s>>,
    roots: &[&str],
) -> (HashMap<String, Coll<'s>>, Vec<Coll<'s>>) {
    let needed = plan.needed_operators(roots.iter().copied());
    let operators: Vec<_> = plan.operators.iter().zip(&needed).filter(|(_, n)| **n).collect();
    let mut readers: HashMap<String, usize> = HashMap::new();
    for name in operators
        .iter()
        .flat_map(|(op, _)| &op.inputs)
        .map(String::as_str)
        .chain(roots.iter().copied())
    {
        *readers.entry(name.to_owned()).or_default() += 1;
    }
    let mut colls =
        Collections { built: inputs, chains: HashMap::new(), readers, dead: Vec::new() };
    let mut cache = ArrangementCache::new();
    for (op, _) in operators {
        if let (Some(step), [input]) = (op.planned.row_step(), op.inputs.as_slice()) {
            let mut chain = colls.chain_from(input);
            chain.steps.push(step);
            colls.chains.insert(op.outputs[0].clone(), chain);
            continue;
        }
        let retained: String;
        let mut inputs: Vec<(&str, Coll<'s>)> =
            op.inputs.iter().map(|name| (name.as_str(), colls.get(name))).collect();
        if let Some(retention) = op.planned.input_retention() {
            // Its own name: the retained rows must not share an arrangement with the input's.
            retained = format!("{} (retention of {})", inputs[0].0, op.outputs[0]);
            let coll = super::retention::expire_input(
                inputs[0].1.clone(),
                retention,
                plan.tick,
                &retained,
            );
            inputs[0] = (retained.as_str(), coll);
        }
        let outputs = op.planned.build(&inputs, &mut cache);
        if let Some(dead) = op.planned.dead_letters() {
            colls.dead.push(outputs[dead].clone());
        }
        for (name, coll) in op.outputs.iter().zip(outputs) {
            colls.built.insert(name.clone(), coll);
        }
    }
    for root in roots {
        colls.get(root);
    }
    (colls.built, colls.dead)
}
