use indexmap::IndexMap;
use serde::Deserialize;

use crate::expr::{self, Expr};
use crate::plan::{
    parse_config, unknown_column, ConfigError, InputRef, OperatorConfig, OperatorKind,
    PlannedOperator,
};
use crate::value::{Field, Schema};

use super::operator::PlannedMap;

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "map",
    summary: "compute, rename, drop and select columns",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "input: shelf_events
fields:
  delta: \"CASE event_type WHEN 'pickup' THEN -quantity WHEN 'putback' THEN quantity ELSE 0 END\"
  hour: date_trunc('hour', timestamp)
rename:
  timestamp: event_time
drop: [customer_id]
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<MapConfig>(value)?))
}

/// Transforms each row. The steps apply in this order: `fields` (computed from the input
/// columns; a new name is appended, an existing name is replaced in place), `rename`, `drop`,
/// then `select` (keep only these columns, in this order).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct MapConfig {
    /// The collection to transform.
    pub input: String,
    /// Computed columns: name → SQL expression over the input's columns.
    #[serde(default)]
    pub fields: IndexMap<String, crate::plan::ExprText>,
    /// Renamed columns: old name → new name.
    #[serde(default)]
    pub rename: IndexMap<String, String>,
    /// Columns to remove.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Columns to keep, in output order (default: all).
    #[serde(default)]
    pub select: Option<Vec<String>>,
}

/// A column being assembled: its output field, how to compute it, and the input column it
/// passes through unchanged (if any), to carry event time and keys.
struct Column {
    field: Field,
    expr: Expr,
    source: Option<usize>,
    /// The YAML path and SQL text of a computed column.
    origin: (String, String),
}

impl OperatorConfig for MapConfig {
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
        let mut columns: Vec<Column> = input
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| Column {
                field: f.clone(),
                expr: Expr::column(i, f.ty, f.nullable),
                source: Some(i),
                origin: Default::default(),
            })
            .collect();
        for (name, crate::plan::ExprText(sql)) in &self.fields {
            let path = format!("fields.{name}");
            match expr::compile(sql, input) {
                Ok(expr) => {
                    let field = Field::new(name, expr.ty(), expr.nullable());
                    let source = expr.as_column();
                    let column = Column { field, expr, source, origin: (path, sql.clone()) };
                    match columns.iter_mut().find(|c| &c.field.name == name) {
                        Some(existing) => *existing = column,
                        None => columns.push(column),
                    }
                }
                Err(e) => errors.push(ConfigError::from_expr(path, e)),
            }
        }
        for (old, new) in &self.rename {
            if columns.iter().any(|c| &c.field.name == new) && old != new {
                errors.push(ConfigError::new(
                    format!("rename.{old}"),
                    format!(
                        "duplicate column `{new}`: the rename would give two columns that name"
                    ),
                ));
                continue;
            }
            match find(&columns, old, &format!("rename.{old}")) {
                Ok(i) => columns[i].field.name = new.clone(),
                Err(e) => errors.push(e),
            }
        }
        for (n, name) in self.drop.iter().enumerate() {
            match find(&columns, name, &format!("drop[{n}]")) {
                Ok(i) => {
                    columns.remove(i);
                }
                Err(e) => errors.push(e),
            }
        }
        if let Some(select) = &self.select {
            let mut selected = Vec::with_capacity(select.len());
            for (n, name) in select.iter().enumerate() {
                match find(&columns, name, &format!("select[{n}]")) {
                    Ok(i) => selected.push(i),
                    Err(e) => errors.push(e),
                }
            }
            if errors.is_empty() {
                let mut taken: Vec<Option<Column>> = columns.into_iter().map(Some).collect();
                columns = selected.into_iter().filter_map(|i| taken[i].take()).collect();
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let event_time =
            input.event_time.and_then(|t| columns.iter().position(|c| c.source == Some(t)));
        let key = input.key.as_ref().and_then(|key| {
            key.iter()
                .map(|k| columns.iter().position(|c| c.source == Some(*k)))
                .collect::<Option<Vec<usize>>>()
        });
        let schema = Schema {
            fields: columns.iter().map(|c| c.field.clone()).collect(),
            event_time,
            key,
            constant: input.constant,
        };
        let origin = crate::rowwise::StepOrigin {
            operator: name.to_owned(),
            exprs: columns.iter().map(|c| c.origin.clone()).collect(),
            columns: input.names().map(str::to_owned).collect(),
        };
        let exprs = columns.into_iter().map(|c| c.expr).collect();
        Ok(Box::new(PlannedMap { exprs, origin: origin.into(), schema }))
    }
}

fn find(columns: &[Column], name: &str, path: &str) -> Result<usize, ConfigError> {
    columns
        .iter()
        .position(|c| c.field.name == name)
        .ok_or_else(|| unknown_column(columns.iter().map(|c| c.field.name.as_str()), name, path))
}
