use serde::Deserialize;

use crate::plan::{
    parse_config, ConfigError, InputRef, OperatorConfig, OperatorKind, PlannedOperator,
};
use crate::value::Schema;

use super::operator::PlannedUnion;

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "union",
    summary: "all rows of several collections with the same columns",
    sample: "inputs: [store_alerts, warehouse_alerts]\n",
    parse,
};

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<UnionConfig>(value)?))
}

/// Concatenates collections whose columns have the same names and types, in the same order
/// (use a `map` first to align them). Multiplicities add up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct UnionConfig {
    /// The collections to combine (at least two).
    pub inputs: Vec<String>,
}

impl OperatorConfig for UnionConfig {
    fn inputs(&self) -> Vec<InputRef> {
        self.inputs
            .iter()
            .enumerate()
            .map(|(n, name)| InputRef::new(name, format!("inputs[{n}]")))
            .collect()
    }

    fn plan(
        &self,
        _name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        if inputs.len() < 2 {
            return Err(vec![ConfigError::new(
                "inputs",
                format!("expected at least two inputs, found {}", inputs.len()),
            )]);
        }
        let first = &inputs[0];
        let mut schema = Schema::new(first.fields.clone());
        let mut errors = Vec::new();
        for (n, other) in inputs.iter().enumerate().skip(1) {
            let describe = |s: &Schema| {
                s.fields
                    .iter()
                    .map(|f| format!("{} {}", f.name, f.ty))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let same = other.len() == first.len()
                && other
                    .fields
                    .iter()
                    .zip(&first.fields)
                    .all(|(a, b)| a.name == b.name && a.ty == b.ty);
            if !same {
                errors.push(
                    ConfigError::new(
                        format!("inputs[{n}]"),
                        format!(
                            "type mismatch: `{}` has columns ({}), expected ({}) as in `{}`",
                            self.inputs[n],
                            describe(other),
                            describe(first),
                            self.inputs[0]
                        ),
                    )
                    .hint("align the columns with a `map` (rename, select) first"),
                );
                continue;
            }
            for (f, g) in schema.fields.iter_mut().zip(&other.fields) {
                f.nullable |= g.nullable;
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        schema.constant = inputs.iter().all(|s| s.constant);
        if inputs.iter().all(|s| s.event_time == first.event_time) {
            schema.event_time = first.event_time;
        }
        Ok(Box::new(PlannedUnion { schema }))
    }
}
