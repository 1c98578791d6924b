//! `shelfflow graph`: the operator graph as text or Graphviz DOT.

use std::fmt::Write;

use super::{InputRole, Plan};

fn columns(plan: &Plan, name: &str) -> String {
    plan.collections
        .get(name)
        .map(|s| {
            s.fields
                .iter()
                .map(|f| format!("{}: {}{}", f.name, f.ty, if f.nullable { "?" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// One line per node, inputs first, with each collection's columns.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let tick = humantime::format_duration(std::time::Duration::from_micros(plan.tick));
    let _ = writeln!(
        out,
        "pipeline {} ({}, definition {}, tick {tick}, dead letters to {})",
        plan.name,
        plan.file.display(),
        plan.definition_hash,
        plan.dead_letter_path.display()
    );
    let describe = |out: &mut String, description: &Option<String>| {
        if let Some(d) = description {
            let _ = writeln!(out, "  {:<8} # {}", "", d.trim());
        }
    };
    describe(&mut out, &plan.description);
    for input in &plan.inputs {
        let role = if input.role == InputRole::Source { "source" } else { "table" };
        let _ = writeln!(
            out,
            "  {role:<8} {:<24} {}  [{}]",
            input.name,
            input.config.describe(),
            columns(plan, &input.name)
        );
        describe(&mut out, &input.description);
    }
    for op in &plan.operators {
        let _ = writeln!(
            out,
            "  {:<8} {:<24} <- {}  [{}]",
            op.kind,
            op.name,
            op.inputs.join(", "),
            columns(plan, &op.name)
        );
        describe(&mut out, &op.description);
        for side in op.outputs.iter().skip(1) {
            let _ = writeln!(
                out,
                "  {:<8} {:<24} <- {}  [{}]",
                "output",
                side,
                op.name,
                columns(plan, side)
            );
        }
    }
    for sink in &plan.sinks {
        let _ = writeln!(
            out,
            "  {:<8} {:<24} <- {}  {}",
            "sink",
            sink.name,
            sink.input,
            sink.config.describe(&sink.context)
        );
        describe(&mut out, &sink.description);
    }
    out
}

/// The graph as JSON (`GET /api/pipelines/{name}/graph`): one node per input, operator, side
/// output and sink, each with the collections it reads and its columns.
pub fn render_json(plan: &Plan) -> serde_json::Value {
    use serde_json::json;
    let columns = |name: &str| -> Vec<serde_json::Value> {
        plan.collections
            .get(name)
            .map(|s| {
                s.fields
                    .iter()
                    .map(|f| json!({"name": f.name, "type": f.ty.to_string(), "nullable": f.nullable}))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut nodes = Vec::new();
    for input in &plan.inputs {
        let role = if input.role == InputRole::Source { "source" } else { "table" };
        nodes.push(json!({"name": input.name, "kind": role, "inputs": [],
            "connector": input.config.describe(), "columns": columns(&input.name),
            "description": input.description}));
    }
    for op in &plan.operators {
        nodes.push(json!({"name": op.name, "kind": op.kind, "inputs": op.inputs,
            "columns": columns(&op.name), "description": op.description}));
        for side in op.outputs.iter().skip(1) {
            nodes.push(json!({"name": side, "kind": "output", "inputs": [op.name],
                "columns": columns(side)}));
        }
    }
    for sink in &plan.sinks {
        nodes.push(json!({"name": sink.name, "kind": "sink", "inputs": [sink.input],
            "connector": sink.config.describe(&sink.context), "description": sink.description}));
    }
    json!({
        "pipeline": plan.name,
        "file": plan.file.display().to_string(),
        "definition": plan.definition_hash,
        "tick_seconds": plan.tick as f64 / 1e6,
        "nodes": nodes,
    })
}

/// A Graphviz digraph: inputs as boxes, operators as ellipses, sinks as notes.
pub fn render_dot(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{\n  rankdir=LR;", plan.name);
    for input in &plan.inputs {
        let _ = writeln!(
            out,
            "  \"{0}\" [shape=box, label=\"{0}\\n{1}\"];",
            input.name,
            input.config.describe().replace('"', "'")
        );
    }
    for op in &plan.operators {
        let _ = writeln!(out, "  \"{0}\" [shape=ellipse, label=\"{0}\\n{1}\"];", op.name, op.kind);
        for input in &op.inputs {
            let source = input.split('.').next().unwrap_or(input);
            let label = if input.contains('.') {
                format!(" [label=\"{}\"]", &input[source.len() + 1..])
            } else {
                String::new()
            };
            let _ = writeln!(out, "  \"{source}\" -> \"{}\"{label};", op.name);
        }
    }
    for sink in &plan.sinks {
        let _ = writeln!(
            out,
            "  \"sink:{0}\" [shape=note, label=\"{0}\\n{1}\"];",
            sink.name,
            sink.config.describe(&sink.context).replace('"', "'")
        );
        let source = sink.input.split('.').next().unwrap_or(&sink.input);
        let _ = writeln!(out, "  \"{source}\" -> \"sink:{}\";", sink.name);
    }
    out.push_str("}\n");
    out
}
