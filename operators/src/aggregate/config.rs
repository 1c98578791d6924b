use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::expr::{self, Expr};
use crate::plan::{
    name_hint, parse_config, unknown_column, ConfigError, InputRef, InputRetention, OperatorConfig,
    OperatorKind, PlannedOperator,
};
use crate::value::{Field, Schema, Type, Value};

use super::functions::{AggFn, Aggregation, Fraction, Spread};
use super::operator::PlannedAggregate;

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "aggregate",
    summary: "keyed aggregates: count, sum, avg, min, max, count_distinct, first, last, var/stddev",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "input: movements
group_by: [shelf_id]
aggregates:
  current_stock: sum(delta)
  events: count(*)
  customers: count(DISTINCT customer_id)
  last_event_at: max(timestamp)
  last_event_type: last(event_type)
";

/// The aggregate function names, for hints.
const FUNCTIONS: [&str; 17] = [
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "count_distinct",
    "first",
    "last",
    "var_pop",
    "var_samp",
    "variance",
    "stddev_pop",
    "stddev_samp",
    "stddev",
    "median",
    "percentile_cont",
    "percentile_disc",
];

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<AggregateConfig>(value)?))
}

/// Groups rows by `group_by` and computes `aggregates` per group. The output has the group
/// columns, then one column per aggregate, and is keyed by the group columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct AggregateConfig {
    /// The collection to aggregate.
    pub input: String,
    /// Grouping columns (empty: one group for the whole collection).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Output column → aggregate call, e.g. `sum(quantity)`, `count(*)`,
    /// `count(DISTINCT customer_id)`, `last(price)` (by the input's event time) or
    /// `last(price, updated_at)`.
    pub aggregates: IndexMap<String, String>,
    /// How long each input row counts, e.g. `90d`: once the input has reached the row's time (or
    /// its `retention_by` column) plus this, the row is retracted and its group forgets it.
    #[serde(default, with = "humantime_serde")]
    pub retention: Option<Duration>,
    /// The input's timestamp or date column `retention` counts from (default: the row's time).
    #[serde(default)]
    pub retention_by: Option<String>,
}

impl OperatorConfig for AggregateConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.input, "input")]
    }

    fn plan(
        &self,
        _name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let retention = self.plan_retention(&inputs[0]);
        let planned = plan_aggregation(&self.group_by, &self.aggregates, &inputs[0]);
        match (planned, retention) {
            (Ok((aggregation, schema)), Ok(retention)) => Ok(Box::new(PlannedAggregate {
                aggregation: aggregation.into(),
                schema,
                retention,
            })),
            (planned, retention) => {
                Err(planned.err().into_iter().flatten().chain(retention.err()).collect())
            }
        }
    }
}

impl AggregateConfig {
    /// `retention` and `retention_by`, checked against the input.
    fn plan_retention(&self, input: &Schema) -> Result<Option<InputRetention>, ConfigError> {
        let Some(retention) = self.retention else {
            return match &self.retention_by {
                Some(_) => {
                    Err(ConfigError::new("retention_by", "`retention_by` without `retention`")
                        .hint("add `retention: 90d`, or remove `retention_by`"))
                }
                None => Ok(None),
            };
        };
        let after = retention.as_micros() as u64;
        if after == 0 {
            return Err(ConfigError::new("retention", "expected a positive duration, found 0")
                .hint("e.g. `retention: 90d`; leave it out to keep every row"));
        }
        let Some(name) = &self.retention_by else {
            return Ok(Some(InputRetention { after, by: None }));
        };
        let column = input
            .index_of(name)
            .ok_or_else(|| unknown_column(input.names(), name, "retention_by"))?;
        match input.fields[column].ty {
            Type::Timestamp | Type::Date => Ok(Some(InputRetention { after, by: Some(column) })),
            ty => Err(ConfigError::new(
                "retention_by",
                format!("`{name}` is {ty}: retention counts from a timestamp or date column"),
            )),
        }
    }
}

/// Resolves group columns and compiles aggregate calls against `input`; returns the
/// aggregation and its output schema (keyed by the group columns). Shared with `window`.
pub fn plan_aggregation(
    group_by: &[String],
    aggregates: &IndexMap<String, String>,
    input: &Schema,
) -> Result<(Aggregation, Schema), Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut fields = Vec::new();
    let mut key = Vec::new();
    for (n, name) in group_by.iter().enumerate() {
        match input.index_of(name) {
            Some(i) => {
                key.push(i);
                fields.push(input.fields[i].clone());
            }
            None => errors.push(unknown_column(input.names(), name, &format!("group_by[{n}]"))),
        }
    }
    if aggregates.is_empty() {
        errors.push(
            ConfigError::new("aggregates", "expected at least one aggregate, found none")
                .hint("for example `events: count(*)`"),
        );
    }
    let (mut aggs, mut columns) = (Vec::new(), Vec::new());
    for (name, sql) in aggregates {
        let path = format!("aggregates.{name}");
        if fields.iter().any(|f: &Field| &f.name == name) {
            errors.push(ConfigError::new(
                &path,
                format!("duplicate column `{name}`: it is also a group column"),
            ));
            continue;
        }
        match compile_aggregate(sql, input, &path) {
            Ok(agg) => {
                let (ty, nullable) = agg.output();
                fields.push(Field::new(name, ty, nullable));
                aggs.push(agg);
                columns.push(name.clone());
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let schema =
        Schema { fields, event_time: None, key: Some((0..key.len()).collect()), constant: false };
    Ok((Aggregation { key, aggs, columns }, schema))
}

fn compile_aggregate(sql: &str, input: &Schema, path: &str) -> Result<AggFn, ConfigError> {
    let call =
        expr::compile_aggregate_call(sql, input).map_err(|e| ConfigError::from_expr(path, e))?;
    let name = call.function.as_str();
    let arity = |n: usize| -> Result<(), ConfigError> {
        if call.args.len() == n && !call.star {
            Ok(())
        } else {
            Err(ConfigError::new(
                path,
                format!("aggregate `{name}` takes {n} argument(s), found {}", call.args.len()),
            ))
        }
    };
    let numeric = |e: &Expr| -> Result<(), ConfigError> {
        if e.ty().is_numeric() || e.ty() == Type::Null {
            Ok(())
        } else {
            Err(ConfigError::new(
                path,
                format!(
                    "type mismatch: aggregate `{name}` needs a numeric argument, found {}",
                    e.ty()
                ),
            )
            .hint("use count, min, max, first or last for non-numeric columns"))
        }
    };
    let mut args = call.args.clone().into_iter();
    let mut arg = || args.next().expect("arity checked");
    Ok(match name {
        "count" if call.star => AggFn::CountStar,
        "count" if call.distinct => {
            arity(1)?;
            AggFn::CountDistinct(arg())
        }
        "count" => {
            arity(1)?;
            AggFn::Count(arg())
        }
        "count_distinct" => {
            arity(1)?;
            AggFn::CountDistinct(arg())
        }
        "sum" | "avg" => {
            arity(1)?;
            let e = arg();
            numeric(&e)?;
            if name == "sum" {
                AggFn::Sum(e)
            } else {
                AggFn::Avg(e)
            }
        }
        "min" => {
            arity(1)?;
            AggFn::Min(arg())
        }
        "var_pop" | "var_samp" | "variance" | "stddev_pop" | "stddev_samp" | "stddev" => {
            arity(1)?;
            let value = arg();
            numeric(&value)?;
            let kind = match name {
                "var_pop" => Spread::VarPop,
                "var_samp" | "variance" => Spread::VarSamp,
                "stddev_pop" => Spread::StddevPop,
                _ => Spread::StddevSamp,
            };
            AggFn::Spread { value, kind }
        }
        "max" => {
            arity(1)?;
            AggFn::Max(arg())
        }
        "median" => {
            arity(1)?;
            let value = arg();
            numeric(&value)?;
            AggFn::Percentile { value, fraction: Fraction::HALF, discrete: false }
        }
        "percentile_cont" | "percentile_disc" => {
            arity(2)?;
            let value = arg();
            let discrete = name == "percentile_disc";
            if !discrete {
                numeric(&value)?;
            }
            let p = arg();
            let fraction = p.as_literal().and_then(Value::as_f64).and_then(Fraction::new);
            let Some(fraction) = fraction else {
                return Err(ConfigError::new(
                    path,
                    format!("aggregate `{name}` needs a constant fraction between 0 and 1 as its second argument"),
                )
                .hint(format!("for example `{name}(quantity, 0.9)` for the 90th percentile")));
            };
            AggFn::Percentile { value, fraction, discrete }
        }
        "first" | "last" => {
            let value = match call.args.len() {
                1 | 2 if !call.star => arg(),
                n => {
                    return Err(ConfigError::new(
                        path,
                        format!("aggregate `{name}` takes 1 or 2 arguments, found {n}"),
                    ))
                }
            };
            let time = match call.args.len() {
                2 => arg(),
                _ => match input.event_time {
                    Some(t) => Expr::column(t, input.fields[t].ty, input.fields[t].nullable),
                    None => {
                        return Err(ConfigError::new(
                            path,
                            format!("aggregate `{name}` needs an ordering time, and the input has no event-time column"),
                        )
                        .hint(format!("pass one explicitly, e.g. `{name}(price, updated_at)`")))
                    }
                },
            };
            if name == "first" {
                AggFn::First { value, time }
            } else {
                AggFn::Last { value, time }
            }
        }
        other => {
            let hint = name_hint(other, FUNCTIONS.into_iter(), "aggregates");
            return Err(ConfigError::new(path, format!("unknown aggregate `{other}`")).hint(hint));
        }
    })
}
