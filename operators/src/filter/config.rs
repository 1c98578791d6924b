use serde::Deserialize;

use crate::expr;
use crate::plan::{
    parse_config, ConfigError, InputRef, OperatorConfig, OperatorKind, PlannedOperator,
};
use crate::value::{Schema, Type};

use super::operator::PlannedFilter;

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "filter",
    summary: "keep the rows for which a SQL predicate is true",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str =
    "input: shelf_events\nwhere: event_type IN ('pickup', 'putback') AND quantity > 0\n";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<FilterConfig>(value)?))
}

/// Keeps the rows for which `where` is true; rows where it is false or NULL are dropped.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FilterConfig {
    /// The collection to filter.
    pub input: String,
    /// SQL boolean expression over the input's columns.
    #[serde(rename = "where")]
    pub predicate: String,
}

impl OperatorConfig for FilterConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.input, "input")]
    }

    fn plan(
        &self,
        name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let schema = &inputs[0];
        let predicate = compile_predicate(&self.predicate, schema, "where").map_err(|e| vec![e])?;
        let origin = crate::rowwise::StepOrigin {
            operator: name.to_owned(),
            exprs: vec![("where".to_owned(), self.predicate.clone())],
            columns: schema.names().map(str::to_owned).collect(),
        };
        Ok(Box::new(PlannedFilter {
            predicate: predicate.into(),
            origin: origin.into(),
            schema: schema.clone(),
        }))
    }
}

/// Compiles a SQL expression that must be boolean; `path` locates errors.
pub(crate) fn compile_predicate(
    sql: &str,
    schema: &Schema,
    path: &str,
) -> Result<expr::Expr, ConfigError> {
    let compiled = expr::compile(sql, schema).map_err(|e| ConfigError::from_expr(path, e))?;
    if !matches!(compiled.ty(), Type::Bool | Type::Null) {
        return Err(ConfigError::new(
            path,
            format!("type mismatch: expected a bool expression, found {}", compiled.ty()),
        )
        .hint("compare the value, e.g. `quantity > 0`"));
    }
    Ok(compiled)
}
