use indexmap::IndexMap;
use serde::Deserialize;

use crate::plan::{
    parse_config, resolve_columns, unknown_column, ConfigError, InputRef, OperatorConfig,
    OperatorKind, PlannedOperator,
};
use crate::value::Schema;

use super::operator::{PlannedSnapshot, SnapshotRules};

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "snapshot",
    summary: "the rows of a collection as they stand at each trigger row, kept as a history",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "input: shelf_state
at: day_starts
key: [shelf_id]
columns:
  snapshot_day: day
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<SnapshotConfig>(value)?))
}

/// At the time of each row of `at`, copies every row `input` holds at that time (after that
/// time's updates) into the output, with the `columns` of the `at` row appended. Copies are never
/// retracted: the output is the history of snapshots, e.g. every shelf's stock at the start of
/// each day. A key with no rows at a trigger gets no copy; a retracted `at` row takes none.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SnapshotConfig {
    /// The collection to copy.
    pub input: String,
    /// Each row of this collection takes a snapshot at its time (e.g. the calendar's day starts).
    pub at: String,
    /// Columns of `input` that spread the work over workers (default: the input's key, or
    /// every column); they do not change the result.
    #[serde(default)]
    pub key: Option<Vec<String>>,
    /// New column name → column of the `at` row, appended to every copy, in this order.
    #[serde(default)]
    pub columns: IndexMap<String, String>,
}

impl OperatorConfig for SnapshotConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.input, "input"), InputRef::new(&self.at, "at")]
    }

    fn plan(
        &self,
        name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let (input, at) = (&inputs[0], &inputs[1]);
        let mut errors = Vec::new();
        let key = match &self.key {
            Some(names) => resolve_columns(input, names, "key").unwrap_or_else(|e| {
                errors.extend(e);
                Vec::new()
            }),
            None => input.key.clone().unwrap_or_else(|| (0..input.fields.len()).collect()),
        };
        let mut fields = input.fields.clone();
        let mut added = Vec::new();
        for (new, column) in &self.columns {
            let path = format!("columns.{new}");
            if input.index_of(new).is_some() {
                errors.push(
                    ConfigError::new(
                        path.clone(),
                        format!("`{new}` is already a column of the input"),
                    )
                    .hint("give the snapshot column another name"),
                );
            }
            match at.index_of(column) {
                Some(c) => {
                    let mut field = at.fields[c].clone();
                    field.name = new.clone();
                    fields.push(field);
                    added.push(c);
                }
                None => errors.push(unknown_column(at.names(), column, &path)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let schema = Schema { fields, event_time: None, key: None, constant: false };
        Ok(Box::new(PlannedSnapshot {
            rules: SnapshotRules { name: name.to_owned(), key, added }.into(),
            schema,
        }))
    }
}
