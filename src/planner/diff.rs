//! What a redeploy changes: the operators and sinks added, removed and changed between two plans
//! (`PUT /api/pipelines/{name}?dry_run=true`).

use std::collections::BTreeMap;

use super::Plan;

/// The operator-level difference between a running plan and a new one.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// Components only the new plan has, as `operator NAME` or `sink NAME`.
    pub added: Vec<String>,
    /// Components only the running plan has.
    pub removed: Vec<String>,
    /// Components both have, defined differently (config, inputs or schema).
    pub changed: Vec<String>,
    /// Components both have, defined the same.
    pub unchanged: usize,
}

/// Every input, operator and sink of `plan` with what defines it.
fn components(plan: &Plan) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for input in &plan.inputs {
        let schema = &plan.collections[&input.name];
        let definition = format!("{:?}|{:?}|{}", input.config, schema, input.lateness);
        all.insert(format!("input {}", input.name), definition);
    }
    for op in &plan.operators {
        let schema = plan.collections.get(&op.name);
        let definition = format!("{}|{:?}|{:?}|{:?}", op.kind, op.inputs, op.planned, schema);
        all.insert(format!("operator {}", op.name), definition);
    }
    for sink in &plan.sinks {
        let definition = format!("{}|{:?}|{:?}", sink.input, sink.config, sink.context.schema);
        all.insert(format!("sink {}", sink.name), definition);
    }
    all
}

/// What deploying `new` in place of `old` changes.
pub fn difference(old: &Plan, new: &Plan) -> Difference {
    let (old, new) = (components(old), components(new));
    let mut diff = Difference::default();
    for (name, definition) in &new {
        match old.get(name) {
            None => diff.added.push(name.clone()),
            Some(before) if before != definition => diff.changed.push(name.clone()),
            Some(_) => diff.unchanged += 1,
        }
    }
    diff.removed = old.keys().filter(|name| !new.contains_key(*name)).cloned().collect();
    diff
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::Document;

    fn plan(yaml: &str) -> super::Plan {
        let doc = Document::parse(Path::new("p.yaml"), yaml, &[]).expect("parses");
        super::super::plan(&doc).expect("valid")
    }

    const BASE: &str = "name: p
sources:
  e:
    connector: file
    path: events.jsonl
    schema: {shelf_id: string, quantity: int, at: timestamp}
    event_time: at
operators:
  per_shelf:
    op: aggregate
    input: e
    group_by: [shelf_id]
    aggregates: {units: sum(quantity)}
  big:
    op: filter
    input: per_shelf
    where: units > 10
sinks:
  out:
    input: per_shelf
    connector: file
";

    #[test]
    fn a_redeploy_lists_added_removed_and_changed_components() {
        let old = plan(BASE);
        let edited = BASE
            .replace("units > 10", "units > 20")
            .replace("  big:\n", "  bigger:\n  big2:\n")
            .replace("  bigger:\n  big2:\n", "  big2:\n")
            .replace("sum(quantity)}", "sum(quantity), n: count(*)}");
        let new = plan(&edited);
        let diff = super::difference(&old, &new);
        assert_eq!(diff.added, ["operator big2"]);
        assert_eq!(diff.removed, ["operator big"]);
        assert_eq!(diff.changed, ["operator per_shelf", "sink out"]);
        assert_eq!(diff.unchanged, 1, "{diff:?}");
        assert_eq!(
            super::difference(&old, &plan(BASE)),
            super::Difference { unchanged: 4, ..Default::default() }
        );
    }
}
