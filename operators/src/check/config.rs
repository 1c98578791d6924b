use std::time::Duration;

use serde::Deserialize;

use super::operator::{PlannedCheck, RowCheck, Test};
use crate::plan::{
    parse_config, resolve_columns, unknown_column, ConfigError, InputRef, OperatorConfig,
    OperatorKind, PlannedOperator,
};
use crate::value::{Schema, Type, Value};

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "check",
    summary: "data-quality expectations per row; its output is the violations",
    sample: "input: shelf_events\nkey: [event_id]\nchecks:\n  - not_null: [shelf_id, quantity]\n  - range: {column: quantity, min: 1, max: 8}\n  - in: {column: event_type, values: [pickup, putback, refill]}\n  - matches: {column: shelf_id, pattern: '^[A-Z]{6}[0-9]{4}$'}\n  - unique_by: [event_id]\n  - max_lateness: {bound: 2m}\non_violation: record\n",
    parse,
};

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<CheckConfig>(value)?))
}

/// Checks every row of `input` against `checks`. The output holds one row per violation:
/// `rule` (e.g. `range(quantity)`), `key` (the row's key columns as a JSON object), `value`
/// (the offending value as text) and `at` (the row's event time, when the input has one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct CheckConfig {
    /// The collection to check.
    pub input: String,
    /// Columns that identify a row in the violations (default: the input's key, or every
    /// column).
    #[serde(default)]
    pub key: Option<Vec<String>>,
    /// The expectations, each a one-key mapping.
    pub checks: Vec<Expectation>,
    /// `record` (default): violations are rows of the output. `fail`: the first one also stops
    /// the run with an error naming it.
    #[serde(default)]
    pub on_violation: OnViolation,
}

/// One expectation of every row, written as a one-key mapping (`- not_null: [shelf_id]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "OneOf")]
pub enum Expectation {
    /// These columns are not NULL.
    NotNull(Vec<String>),
    /// A number within `[min, max]` (either bound may be left out).
    Range { column: String, min: Option<f64>, max: Option<f64> },
    /// One of these values.
    In { column: String, values: Vec<serde_yaml_ng::Value> },
    /// Text matching this regular expression (anywhere, unless anchored with `^...$`).
    Matches { column: String, pattern: String },
    /// No two rows share these columns' values.
    UniqueBy(Vec<String>),
    /// No record arrived more than `bound` behind the newest event time its source had read
    /// (the input must be a source: it reads `<source>.late_arrivals`).
    MaxLateness(Duration),
}

/// The YAML form of an [`Expectation`]: exactly one of these keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneOf {
    #[serde(default)]
    not_null: Option<Vec<String>>,
    #[serde(default)]
    range: Option<RangeSpec>,
    #[serde(default, rename = "in")]
    one_of: Option<InSpec>,
    #[serde(default)]
    matches: Option<MatchesSpec>,
    #[serde(default)]
    unique_by: Option<Vec<String>>,
    #[serde(default)]
    max_lateness: Option<LatenessSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatenessSpec {
    #[serde(with = "humantime_serde")]
    bound: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeSpec {
    column: String,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InSpec {
    column: String,
    values: Vec<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchesSpec {
    column: String,
    pattern: String,
}

impl TryFrom<OneOf> for Expectation {
    type Error = String;

    fn try_from(one: OneOf) -> Result<Expectation, String> {
        let mut found = Vec::new();
        found.extend(one.not_null.map(Expectation::NotNull));
        found.extend(one.range.map(|r| Expectation::Range {
            column: r.column,
            min: r.min,
            max: r.max,
        }));
        found.extend(one.one_of.map(|i| Expectation::In { column: i.column, values: i.values }));
        found.extend(
            one.matches.map(|m| Expectation::Matches { column: m.column, pattern: m.pattern }),
        );
        found.extend(one.unique_by.map(Expectation::UniqueBy));
        found.extend(one.max_lateness.map(|l| Expectation::MaxLateness(l.bound)));
        match found.len() {
            1 => Ok(found.remove(0)),
            n => Err(format!(
                "expected one check per list item (not_null, range, in, matches, unique_by or max_lateness), found {n}"
            )),
        }
    }
}

/// What a violation does besides being a row of the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnViolation {
    /// Nothing more.
    #[default]
    Record,
    /// The run stops with an error.
    Fail,
}

impl OperatorConfig for CheckConfig {
    fn inputs(&self) -> Vec<InputRef> {
        let mut inputs = vec![InputRef::new(&self.input, "input")];
        let lateness = self.checks.iter().position(|c| matches!(c, Expectation::MaxLateness(_)));
        if let Some(i) = lateness {
            let late = crate::late_arrival::collection_of(&self.input);
            inputs.push(InputRef::new(&late, format!("checks[{i}].max_lateness")));
        }
        inputs
    }

    fn plan(
        &self,
        _name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let input = &inputs[0];
        let mut errors = Vec::new();
        let key = match &self.key {
            Some(names) => resolve_columns(input, names, "key").unwrap_or_else(|e| {
                errors.extend(e);
                Vec::new()
            }),
            None => input.key_or_all(),
        };
        if self.checks.is_empty() {
            errors.push(
                ConfigError::new("checks", "expected at least one check")
                    .hint("e.g. `checks: [{not_null: [shelf_id]}]`"),
            );
        }
        let mut rows = Vec::new();
        let mut unique = Vec::new();
        let mut lateness = None;
        for (i, check) in self.checks.iter().enumerate() {
            match plan_check(input, check, &format!("checks[{i}]")) {
                Ok(Planned::Rows(checks)) => rows.extend(checks),
                Ok(Planned::Unique(name, columns)) => unique.push((name, columns)),
                Ok(Planned::Lateness(_)) if lateness.is_some() => errors.push(
                    ConfigError::new(
                        format!("checks[{i}].max_lateness"),
                        "a second max_lateness check: its bound would silently replace the first",
                    )
                    .hint("keep one max_lateness per check operator (its bound applies to every late arrival)"),
                ),
                Ok(Planned::Lateness(bound)) => lateness = Some(bound),
                Err(e) => errors.extend(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Box::new(PlannedCheck {
            rows: rows.into(),
            unique,
            key: key.into(),
            input: std::sync::Arc::new(input.clone()),
            fail: self.on_violation == OnViolation::Fail,
            lateness,
        }))
    }
}

/// A check, planned: row checks, a uniqueness check over these columns, or a bound on lateness
/// (µs).
enum Planned {
    Rows(Vec<RowCheck>),
    Unique(String, Vec<usize>),
    Lateness(i64),
}

fn plan_check(
    input: &Schema,
    check: &Expectation,
    path: &str,
) -> Result<Planned, Vec<ConfigError>> {
    let column = |name: &str, key: &str| -> Result<usize, Vec<ConfigError>> {
        let names = input.fields.iter().map(|f| f.name.as_str());
        input
            .index_of(name)
            .ok_or_else(|| vec![unknown_column(names, name, &format!("{path}.{key}"))])
    };
    let typed = |c: usize, types: &[Type], key: &str, what: &str| -> Result<(), Vec<ConfigError>> {
        let ty = input.fields[c].ty;
        match types.contains(&ty) {
            true => Ok(()),
            false => Err(vec![ConfigError::new(
                format!("{path}.{key}"),
                format!("`{}` is {ty}, but {what}", input.fields[c].name),
            )]),
        }
    };
    let one = |name: String, column: usize, test: Test| {
        Ok(Planned::Rows(vec![RowCheck { name, column, test }]))
    };
    match check {
        Expectation::NotNull(columns) => {
            let found = resolve_columns(input, columns, &format!("{path}.not_null"))?;
            let checks = found.into_iter().map(|c| RowCheck {
                name: format!("not_null({})", input.fields[c].name),
                column: c,
                test: Test::NotNull,
            });
            Ok(Planned::Rows(checks.collect()))
        }
        Expectation::Range { column: name, min, max } => {
            let c = column(name, "range.column")?;
            if !input.fields[c].ty.is_numeric() {
                typed(c, &[Type::Int, Type::Float], "range.column", "`range` compares numbers")?;
            }
            if min.is_none() && max.is_none() {
                let e = ConfigError::new(format!("{path}.range"), "expected `min`, `max` or both");
                return Err(vec![e]);
            }
            one(
                format!("range({name})"),
                c,
                Test::Range(min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY)),
            )
        }
        Expectation::In { column: name, values } => {
            let c = column(name, "in.column")?;
            let ty = input.fields[c].ty;
            let mut allowed = Vec::new();
            for (i, v) in values.iter().enumerate() {
                match typed_value(v, ty) {
                    Some(v) => allowed.push(v),
                    None => {
                        let e = ConfigError::new(
                            format!("{path}.in.values[{i}]"),
                            format!("`{}` is not a {ty} like `{name}`", yaml_text(v)),
                        );
                        return Err(vec![e]);
                    }
                }
            }
            one(format!("in({name})"), c, Test::In(allowed))
        }
        Expectation::Matches { column: name, pattern } => {
            let c = column(name, "matches.column")?;
            typed(c, &[Type::String], "matches.column", "`matches` reads text")?;
            let regex = regex::Regex::new(pattern).map_err(|e| {
                vec![ConfigError::new(
                    format!("{path}.matches.pattern"),
                    format!("invalid regular expression: {e}"),
                )]
            })?;
            one(format!("matches({name})"), c, Test::Matches(regex))
        }
        Expectation::MaxLateness(bound) => Ok(Planned::Lateness(bound.as_micros() as i64)),
        Expectation::UniqueBy(columns) => {
            let found = resolve_columns(input, columns, &format!("{path}.unique_by"))?;
            Ok(Planned::Unique(format!("unique_by({})", columns.join(", ")), found))
        }
    }
}

/// A YAML scalar as a value of type `ty`, if it is one.
fn typed_value(v: &serde_yaml_ng::Value, ty: Type) -> Option<Value> {
    use serde_yaml_ng::Value as Y;
    match (v, ty) {
        (Y::String(s), Type::String) => Some(Value::str(s)),
        (Y::Number(n), Type::Int) => n.as_i64().map(Value::Int),
        (Y::Number(n), Type::Float) => n.as_f64().map(Value::Float),
        (Y::Number(n), Type::Decimal(d)) => {
            crate::decimal::parse(&n.to_string(), d).map(Value::Decimal)
        }
        (Y::String(s), Type::Decimal(d)) => crate::decimal::parse(s, d).map(Value::Decimal),
        (Y::Bool(b), Type::Bool) => Some(Value::Bool(*b)),
        (Y::String(s), Type::Date) => crate::value::parse_date(s).map(Value::Date),
        (Y::String(s), Type::Timestamp) => crate::value::parse_timestamp(s).map(Value::Timestamp),
        _ => None,
    }
}

fn yaml_text(v: &serde_yaml_ng::Value) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_default().trim_end().to_owned()
}
