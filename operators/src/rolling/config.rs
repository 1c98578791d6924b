use indexmap::IndexMap;
use serde::Deserialize;

use crate::plan::{
    join_path, parse_config, resolve_columns, unknown_column, ConfigError, InputRef,
    OperatorConfig, OperatorKind, PlannedOperator,
};
use crate::value::{Field, Schema, Type};

use super::operator::{Measure, PlannedRolling};

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "rolling",
    summary: "per key and calendar day: sums, means, extremes, counts or lags over the days before",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "input: daily_sales
key: [shelf_id]
date: sale_date
columns:
  sales_last_7d: {function: sum, of: units, days: 7}
  sales_same_day_last_week: {function: lag, of: units, days: 7}
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<RollingConfig>(value)?))
}

/// Adds to each row columns computed over the rows of the same key on the `days` calendar days
/// before the row's date (`[date − days, date − 1]`, the row's own day excluded, unless
/// `include_today`). A window with
/// a day that has no row is not full, and a non-`partial` column is NULL over it, so "units over
/// the last 28 days" never silently counts 3 days as 28. Rows whose date is NULL get NULL
/// columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RollingConfig {
    /// The collection of daily rows.
    pub input: String,
    /// The columns that identify a series (e.g. `[shelf_id]`).
    pub key: Vec<String>,
    /// The `date` column that places a row on the calendar.
    pub date: String,
    /// New column name → what it computes, in output order.
    pub columns: IndexMap<String, RollingColumn>,
}

/// One computed column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RollingColumn {
    /// What to compute.
    pub function: RollingFunction,
    /// The input column it reads.
    pub of: String,
    /// How many days before the row's date (at least 1).
    pub days: u32,
    /// Compute over the days that have rows even when some do not (default `false`: NULL unless
    /// every day of the window has a row). Not for `lag`.
    #[serde(default)]
    pub partial: bool,
    /// Count the row's own day in the window (`[date − days + 1, date]`) instead of the days
    /// before it. Not for `lag`.
    #[serde(default)]
    pub include_today: bool,
}

/// The computations of [`RollingColumn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollingFunction {
    /// Sum of the non-NULL values (`int` or `float`; NULL when an `int` sum overflows).
    Sum,
    /// Mean of the non-NULL values, as `float`.
    Avg,
    /// Smallest non-NULL value.
    Min,
    /// Largest non-NULL value.
    Max,
    /// Number of non-NULL values.
    Count,
    /// The value on the day exactly `days` before (NULL when that day has no row, or several).
    Lag,
}

impl OperatorConfig for RollingConfig {
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
        let key = resolve_columns(input, &self.key, "key").unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });
        if self.key.is_empty() {
            errors.push(
                ConfigError::new("key", "name at least one key column")
                    .hint("one row per key and day: e.g. `key: [shelf_id]`"),
            );
        }
        let date = plan_date(input, &self.date).map_err(|e| errors.push(e)).ok();
        if self.columns.is_empty() {
            errors.push(ConfigError::new("columns", "name at least one column to compute"));
        }
        let mut schema = input.clone();
        let mut measures = Vec::new();
        for (name, column) in &self.columns {
            let path = join_path("columns", name);
            if input.index_of(name).is_some() || schema.index_of(name).is_some() {
                errors.push(ConfigError::new(&path, format!("column `{name}` already exists")));
                continue;
            }
            match plan_column(input, column, &path) {
                Ok((measure, ty)) => {
                    schema.fields.push(Field::new(name, ty, true));
                    measures.push(measure);
                }
                Err(e) => errors.extend(e),
            }
        }
        let Some(date) = date else { return Err(errors) };
        if !errors.is_empty() {
            return Err(errors);
        }
        // Day first: a snapshot of the output lists the calendar in time order.
        schema.key = Some([date].into_iter().chain(key.iter().copied()).collect());
        schema.constant = false;
        Ok(Box::new(PlannedRolling { key, date, measures, schema }))
    }
}

fn plan_date(input: &Schema, name: &str) -> Result<usize, ConfigError> {
    let Some(at) = input.index_of(name) else {
        return Err(unknown_column(input.names(), name, "date"));
    };
    if input.field(at).ty != Type::Date {
        return Err(ConfigError::new(
            "date",
            format!("`{name}` is a {}, not a date", input.field(at).ty),
        )
        .hint(format!("make it a date first, e.g. in a map: `day: CAST({name} AS DATE)`")));
    }
    Ok(at)
}

fn plan_column(
    input: &Schema,
    column: &RollingColumn,
    path: &str,
) -> Result<(Measure, Type), Vec<ConfigError>> {
    let mut errors = Vec::new();
    let of = input.index_of(&column.of);
    if of.is_none() {
        errors.push(unknown_column(input.names(), &column.of, &join_path(path, "of")));
    }
    if column.days == 0 {
        errors.push(
            ConfigError::new(join_path(path, "days"), "must be at least 1")
                .hint("the window is the days before the row's own day"),
        );
    }
    for (set, key) in [(column.partial, "partial"), (column.include_today, "include_today")] {
        if set && column.function == RollingFunction::Lag {
            errors.push(ConfigError::new(
                join_path(path, key),
                format!("`{key}` does not apply to `lag` (one day, present or not)"),
            ));
        }
    }
    let Some(of) = of else { return Err(errors) };
    let ty = input.field(of).ty;
    let numeric = matches!(ty, Type::Int | Type::Float);
    let out = match column.function {
        RollingFunction::Sum if numeric => ty,
        RollingFunction::Avg if numeric => Type::Float,
        RollingFunction::Count => Type::Int,
        RollingFunction::Min | RollingFunction::Max | RollingFunction::Lag => ty,
        RollingFunction::Sum | RollingFunction::Avg => {
            errors.push(
                ConfigError::new(
                    join_path(path, "of"),
                    format!("`{}` is a {ty}: sum and avg need an int or float", column.of),
                )
                .hint("cast it first in a map, or use count, min, max or lag"),
            );
            ty
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let measure = Measure {
        function: column.function,
        of,
        days: column.days as i32,
        partial: column.partial,
        include_today: column.include_today,
    };
    Ok((measure, out))
}
