use serde::Deserialize;

use crate::filter::compile_predicate;
use crate::plan::{
    parse_config, resolve_columns, ConfigError, InputRef, OperatorConfig, OperatorKind,
    PlannedOperator,
};
use crate::value::{Field, Schema, Type};

use super::operator::{AlertRules, PlannedAlert};

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "alert",
    summary:
        "active alerts per key from a condition, with stable ids and an opened/resolved history",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "input: shelf_status
key: [shelf_id]
when: current_stock < 0.3 * maximum_stock
clear_when: current_stock >= 0.5 * maximum_stock
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<AlertConfig>(value)?))
}

/// Raises an alert for a key when `when` becomes true for its row and resolves it when the
/// condition clears: when `clear_when` becomes true if given (hysteresis), otherwise when `when`
/// stops holding, or when the key's row disappears.
///
/// Main output (keyed by `key`): one row per open alert — `alert_id`, `alert` (this operator's
/// name), the key columns, `opened_at`, then the input's other columns with their current
/// values. Side output `<name>.history` (keyed by `alert_id`): `alert_id`, `alert`, the key
/// columns, `opened_at`, `resolved_at` (NULL while open). `alert_id` is a UUID derived from the
/// operator name, the key and `opened_at`, so a replay gives the same ids.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct AlertConfig {
    /// The collection to watch: at most one row per key (if several, the largest row counts).
    pub input: String,
    /// Columns identifying what the alert is about (default: the input's key).
    #[serde(default)]
    pub key: Option<Vec<String>>,
    /// SQL condition that opens the alert.
    pub when: String,
    /// SQL condition that resolves an open alert (default: `NOT (when)`).
    #[serde(default)]
    pub clear_when: Option<String>,
}

impl OperatorConfig for AlertConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.input, "input")]
    }

    fn plan(
        &self,
        name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let input = &inputs[0];
        let mut errors = Vec::new();
        let key = match (&self.key, &input.key) {
            (Some(names), _) => resolve_columns(input, names, "key").unwrap_or_else(|e| {
                errors.extend(e);
                Vec::new()
            }),
            (None, Some(key)) => key.clone(),
            (None, None) => {
                errors.push(
                    ConfigError::new(
                        "key",
                        format!("`{}` has no key, so `key` is required", self.input),
                    )
                    .hint(
                        "list the columns that identify what is alerted on, e.g. `key: [shelf_id]`",
                    ),
                );
                Vec::new()
            }
        };
        let when = compile_predicate(&self.when, input, "when").map_err(|e| errors.push(e)).ok();
        let clear_when = match &self.clear_when {
            Some(sql) => {
                compile_predicate(sql, input, "clear_when").map_err(|e| errors.push(e)).ok()
            }
            None => None,
        };
        for reserved in ["alert_id", "alert", "opened_at", "resolved_at"] {
            if input.index_of(reserved).is_some() {
                errors.push(
                    ConfigError::new(
                        "input",
                        format!("duplicate column `{reserved}`: the alert adds it"),
                    )
                    .hint("rename it with a `map` first"),
                );
            }
        }
        let Some(when) = when.filter(|_| errors.is_empty()) else { return Err(errors) };
        let rest: Vec<usize> = (0..input.len()).filter(|c| !key.contains(c)).collect();
        let header = |fields: &mut Vec<Field>| {
            fields.push(Field::new("alert_id", Type::String, false));
            fields.push(Field::new("alert", Type::String, false));
            fields.extend(key.iter().map(|&c| input.fields[c].clone()));
            fields.push(Field::new("opened_at", Type::Timestamp, false));
        };
        let mut active = Vec::new();
        header(&mut active);
        active.extend(rest.iter().map(|&c| input.fields[c].clone()));
        let mut history = Vec::new();
        header(&mut history);
        history.push(Field::new("resolved_at", Type::Timestamp, true));
        let key_positions: Vec<usize> = (2..2 + key.len()).collect();
        Ok(Box::new(PlannedAlert {
            rules: AlertRules { name: name.to_owned(), key, rest, when, clear_when }.into(),
            active_needed: true,
            active: Schema {
                fields: active,
                event_time: None,
                key: Some(key_positions),
                constant: false,
            },
            history: Schema {
                fields: history,
                event_time: None,
                key: Some(vec![0]),
                constant: false,
            },
        }))
    }
}
