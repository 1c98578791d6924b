use serde::Deserialize;

use crate::expr;
use crate::plan::{
    parse_config, resolve_columns, ConfigError, InputRef, OperatorConfig, OperatorKind,
    PlannedOperator,
};
use crate::value::{Field, Schema, Type};

use super::operator::{Ordering, PlannedTopK};

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "top_k",
    summary: "the first k rows per group by an ordering, with their rank",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "input: product_sales
group_by: [item_category]
order_by: [units DESC, shelf_id]
k: 5
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<TopKConfig>(value)?))
}

/// Keeps the first `k` rows of each group by `order_by` and adds their 1-based rank. Ties are
/// broken by the whole row, so the result is deterministic. As rows change, rows enter and
/// leave the top `k` and ranks shift.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TopKConfig {
    /// The collection to rank.
    pub input: String,
    /// Grouping columns (empty: one ranking over the whole collection).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// SQL expressions to order by, each optionally followed by `ASC` (default) or `DESC`.
    pub order_by: Vec<String>,
    /// How many rows to keep per group.
    pub k: usize,
    /// Name of the added rank column.
    #[serde(default = "default_rank_column")]
    pub rank_column: String,
}

fn default_rank_column() -> String {
    "rank".to_owned()
}

impl OperatorConfig for TopKConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.input, "input")]
    }

    fn plan(
        &self,
        _name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let input = &inputs[0];
        let mut errors = Vec::new();
        let group = resolve_columns(input, &self.group_by, "group_by").unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });
        if self.k == 0 {
            errors.push(ConfigError::new("k", "expected a positive number, found 0"));
        }
        if self.order_by.is_empty() {
            errors.push(ConfigError::new("order_by", "expected at least one ordering expression"));
        }
        let mut order = Vec::new();
        for (n, text) in self.order_by.iter().enumerate() {
            let (sql, descending) = split_direction(text);
            match expr::compile(sql, input) {
                Ok(e) => order.push((e, descending)),
                Err(e) => errors.push(ConfigError::from_expr(format!("order_by[{n}]"), e)),
            }
        }
        if input.index_of(&self.rank_column).is_some() {
            errors.push(
                ConfigError::new("rank_column", format!("duplicate column `{}`", self.rank_column))
                    .hint("choose another name with `rank_column:`"),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut schema = input.clone();
        schema.fields.push(Field::new(&self.rank_column, Type::Int, false));
        let mut key = group.clone();
        key.push(input.len());
        schema.key = Some(key);
        Ok(Box::new(PlannedTopK {
            group,
            ordering: Ordering { keys: order }.into(),
            k: self.k,
            schema,
        }))
    }
}

/// Splits a trailing `ASC`/`DESC` off an ordering expression.
fn split_direction(text: &str) -> (&str, bool) {
    let trimmed = text.trim_end();
    for (suffix, descending) in [(" desc", true), (" asc", false)] {
        if trimmed.len() > suffix.len()
            && trimmed[trimmed.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        {
            return (&trimmed[..trimmed.len() - suffix.len()], descending);
        }
    }
    (trimmed, false)
}
