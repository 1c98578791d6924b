//! The violations of `check` operators: built whether or not anything reads them, counted per
//! check, and, for a check with `on_violation: fail`, a stop of the run at the first one.

use std::collections::HashMap;
use std::sync::Arc;

use shelfflow_operators::check::violation_schema;
use shelfflow_operators::{Coll, Diff, Time};
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;

use super::metrics::Metrics;
use crate::planner::Plan;

/// The violation collections of the plan's checks, with their check's name and whether a
/// violation fails the run.
pub fn violation_outputs(plan: &Plan) -> Vec<(&str, &str, bool)> {
    let checks = plan.operators.iter().filter_map(|op| Some((op, op.planned.violations()?)));
    checks.map(|(op, v)| (op.name.as_str(), op.outputs[v.output].as_str(), v.fail)).collect()
}

/// Counts the violations of every check into `metrics` (and stops the run at the first one of
/// a failing check); the counting is part of what `probe` waits for.
pub fn watch_violations<'s>(
    plan: &Plan,
    colls: &HashMap<String, Coll<'s>>,
    metrics: &Arc<Metrics>,
    probe: &ProbeHandle<Time>,
) {
    let schema = Arc::new(violation_schema());
    for (check, output, fail) in violation_outputs(plan) {
        metrics.count_violations(check, 0); // listed even while it finds none
        let (check, metrics, schema) = (check.to_owned(), metrics.clone(), schema.clone());
        colls[output]
            .inner
            .clone()
            .inspect_batch(move |time, updates| {
                let found: Diff = updates.iter().map(|(_, _, diff)| diff).sum();
                metrics.count_violations(&check, found as i64);
                let first = updates.iter().find(|(_, _, diff)| *diff > 0);
                if let (true, Some((row, _, _))) = (fail, first) {
                    let violation = schema.row_to_json(row).to_string();
                    metrics.fail_check(*time, &check, violation);
                }
            })
            .probe_with(probe);
    }
}
