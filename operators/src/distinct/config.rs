use serde::Deserialize;

use crate::plan::{
    parse_config, resolve_columns, ConfigError, InputRef, OperatorConfig, OperatorKind,
    PlannedOperator,
};
use crate::value::Schema;

use super::operator::PlannedDistinct;

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "distinct",
    summary: "one row per key (e.g. by event_id, against duplicate delivery)",
    sample: "input: shelf_events\nby: [event_id]\n",
    parse,
};

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<DistinctConfig>(value)?))
}

/// Keeps one row per distinct value of `by` (all columns when omitted). When several rows share
/// a key, the earliest by event time is kept (then the smallest row), so the choice does not
/// depend on arrival order or worker count.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct DistinctConfig {
    /// The collection to deduplicate.
    pub input: String,
    /// Key columns (default: the whole row).
    #[serde(default)]
    pub by: Option<Vec<String>>,
}

impl OperatorConfig for DistinctConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.input, "input")]
    }

    fn plan(
        &self,
        _name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let input = &inputs[0];
        let by = match &self.by {
            Some(names) => Some(resolve_columns(input, names, "by")?),
            None => None,
        };
        let mut schema = input.clone();
        schema.key = Some(by.clone().unwrap_or_else(|| (0..input.len()).collect()));
        Ok(Box::new(PlannedDistinct { by, event_time: input.event_time, schema }))
    }
}
