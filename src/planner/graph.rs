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
