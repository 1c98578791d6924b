//! Several pipelines in one dataflow: `shelfflow run a.yaml b.yaml` and `shelfflow demo`.
//!
//! Each file is validated on its own first (so every error points into its file), then the plans
//! are combined: a source, table or operator defined identically in several files is built once
//! and shared; the same name defined differently is an error. Sinks keep the output directories
//! of their own pipelines. The simulated store, if any, is one store for all of them.

use std::collections::HashMap;

use super::{InputRole, Plan, SimulationPlan};

/// Combines validated plans into one; `Err` lists every conflict.
pub fn merge(plans: Vec<Plan>) -> Result<Plan, Vec<String>> {
    let mut plans = plans.into_iter();
    let Some(mut merged) = plans.next() else { return Err(vec!["no pipeline given".to_owned()]) };
    merged.simulation = None;
    let mut errors = Vec::new();
    let mut origin: HashMap<String, String> = HashMap::new();
    let file_of = |plan: &Plan| plan.file.display().to_string();
    for input in &merged.inputs {
        origin.insert(input.name.clone(), file_of(&merged));
    }
    for op in &merged.operators {
        origin.insert(op.name.clone(), file_of(&merged));
    }
    for sink in &merged.sinks {
        origin.insert(format!("sink {}", sink.name), file_of(&merged));
    }
    for plan in plans {
        let file = file_of(&plan);
        if plan.tick != merged.tick {
            errors.push(format!(
                "{file}: tick {}µs differs from {}µs of {}: pipelines run together share one tick",
                plan.tick,
                merged.tick,
                merged.file.display()
            ));
        }
        if plan.catch_up != merged.catch_up {
            errors.push(format!(
                "{file}: its catch_up differs from that of {}: pipelines run together share one",
                merged.file.display()
            ));
        }
        merged.name = format!("{}+{}", merged.name, plan.name);
        merged.definition_hash = format!("{}+{}", merged.definition_hash, plan.definition_hash);
        for input in plan.inputs {
            match merged.inputs.iter().find(|i| i.name == input.name) {
                Some(existing) => {
                    let same = existing.role == input.role
                        && existing.schema == input.schema
                        && format!("{:?}", existing.config) == format!("{:?}", input.config)
                        && existing.lateness == input.lateness;
                    if !same {
                        errors.push(conflict(&input.name, &file, &origin));
                    }
                }
                None => {
                    if merged.operators.iter().any(|o| o.outputs.contains(&input.name)) {
                        errors.push(conflict(&input.name, &file, &origin));
                        continue;
                    }
                    origin.insert(input.name.clone(), file.clone());
                    merged.collections.insert(input.name.clone(), input.schema.clone());
                    merged.inputs.push(input);
                }
            }
        }
        for op in plan.operators {
            match merged.operators.iter().find(|o| o.name == op.name) {
                Some(existing) => {
                    let same = existing.kind == op.kind
                        && existing.inputs == op.inputs
                        && format!("{:?}", existing.planned) == format!("{:?}", op.planned);
                    if !same {
                        errors.push(conflict(&op.name, &file, &origin));
                    }
                }
                None => {
                    if op.outputs.iter().any(|o| merged.collections.contains_key(o)) {
                        errors.push(conflict(&op.name, &file, &origin));
                        continue;
                    }
                    origin.insert(op.name.clone(), file.clone());
                    for name in &op.outputs {
                        if let Some(schema) = plan.collections.get(name) {
                            merged.collections.insert(name.clone(), schema.clone());
                        }
                    }
                    merged.operators.push(op);
                }
            }
        }
        for sink in plan.sinks {
            let key = format!("sink {}", sink.name);
            if merged.sinks.iter().any(|s| s.name == sink.name) {
                errors.push(format!(
                    "{file}: sink `{}` is also defined in {}: sinks of pipelines run together need \
                     distinct names",
                    sink.name,
                    origin.get(&key).map_or("another pipeline", String::as_str)
                ));
                continue;
            }
            origin.insert(key, file.clone());
            merged.sinks.push(sink);
        }
    }
    super::add_input_collections(&mut merged.collections, &merged.inputs);
    merged.simulation = simulation_of(&merged).map_err(|e| errors.push(e)).ok().flatten();
    if errors.is_empty() {
        merged.retain_read_outputs(&[]);
        Ok(merged)
    } else {
        Err(errors)
    }
}

fn conflict(name: &str, file: &str, origin: &HashMap<String, String>) -> String {
    format!(
        "{file}: `{name}` is defined differently in {}: pipelines run together share their \
         sources, tables and operators by name",
        origin.get(name).map_or("another pipeline", String::as_str)
    )
}

/// The store of the merged inputs and sinks.
fn simulation_of(plan: &Plan) -> Result<Option<SimulationPlan>, String> {
    let streams: Vec<_> = plan
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, i)| i.role == InputRole::Source)
        .filter_map(|(i, input)| input.config.simulation().map(|s| (i, input, s)))
        .collect();
    if streams.is_empty() {
        return Ok(None);
    }
    let settings = shelfflow_connectors::simulator::Settings::merge(
        streams.iter().map(|(_, input, s)| (input.name.as_str(), &s.settings)),
    )
    .map_err(|conflicts| {
        conflicts
            .into_iter()
            .map(|(source, e)| format!("source `{source}`: {}", e.message))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(Some(SimulationPlan {
        settings,
        streams: streams
            .iter()
            .map(|(i, input, s)| (*i, s.stream, s.projection(&input.schema)))
            .collect(),
        feedback: plan
            .sinks
            .iter()
            .enumerate()
            .filter_map(|(i, sink)| {
                sink.config.feedback().map(|f| (i, f.clone(), f.positions(&sink.context.schema)))
            })
            .collect(),
    }))
}
