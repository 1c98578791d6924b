//! The contract between the pipeline planner and operator kinds.

use std::collections::HashMap;
use std::fmt;

use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::implementations::ValSpine;
use differential_dataflow::VecCollection;
use serde::de::DeserializeOwned;

use crate::expr::ExprError;
use crate::value::{Row, Schema};

/// Dataflow time: event time in microseconds since the Unix epoch, rounded up to the pipeline's
/// tick. Reference tables live at time 0.
pub type Time = u64;

/// Multiplicity of a row change.
pub type Diff = isize;

/// A collection of rows as it flows between operators.
pub type Coll<'s> = VecCollection<'s, Time, Row, Diff>;

/// Rows arranged by key columns: `(key values, whole row)`.
pub type RowArrangement<'s> = Arranged<'s, TraceAgent<ValSpine<Row, Row, Time, Diff>>>;

/// One configuration problem, located by its YAML path relative to the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted YAML path inside the component (`when`, `aggregates.stock`); empty for the whole.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
    /// A suggestion such as "did you mean `quantity`?".
    pub hint: Option<String>,
    /// 1-based (line, column) inside the scalar at `path` (for expression errors).
    pub offset: Option<(u32, u32)>,
}

impl ConfigError {
    /// An error at `path` with a message.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { path: path.into(), message: message.into(), hint: None, offset: None }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> ConfigError {
        self.hint = Some(hint.into());
        self
    }

    /// Adds an optional hint.
    pub fn maybe_hint(mut self, hint: Option<String>) -> ConfigError {
        self.hint = hint;
        self
    }

    /// An expression error found in the scalar at `path`.
    pub fn from_expr(path: impl Into<String>, err: ExprError) -> ConfigError {
        ConfigError {
            path: path.into(),
            message: err.message,
            hint: err.hint,
            offset: err.location,
        }
    }

    /// Prefixes the path with a parent path.
    pub fn under(mut self, parent: &str) -> ConfigError {
        self.path = join_path(parent, &self.path);
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Joins two dotted YAML paths.
pub fn join_path(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.is_empty()) {
        (true, _) => child.to_owned(),
        (_, true) => parent.to_owned(),
        _ if child.starts_with('[') => format!("{parent}{child}"),
        _ => format!("{parent}.{child}"),
    }
}

/// Deserializes a component's YAML mapping into its strict config type, turning serde's
/// complaint into a located [`ConfigError`] (unknown keys get a "did you mean" hint).
pub fn parse_config<C: DeserializeOwned>(value: serde_yaml_ng::Value) -> Result<C, ConfigError> {
    serde_path_to_error::deserialize::<_, C>(value).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        config_error_from_serde(&path, &err.inner().to_string())
    })
}

/// Turns a serde message at `path` into a [`ConfigError`] with a hint.
pub fn config_error_from_serde(path: &str, message: &str) -> ConfigError {
    let message = message.split(" at line ").next().unwrap_or(message).trim().to_owned();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
        let hint = name_hint(field, expected.iter().copied(), "valid keys");
        let at_field = path == field || path.ends_with(&format!(".{field}"));
        let path = if at_field { path.to_owned() } else { join_path(path, field) };
        return ConfigError::new(path, format!("unknown key `{field}`")).hint(hint);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return ConfigError::new(path, format!("missing required key `{field}`"));
    }
    let last = path.rsplit('.').next().unwrap_or(path);
    if crate::decimal::is_split_type_tail(last) {
        return ConfigError::new(path, message).hint(crate::decimal::FLOW_MAPPING_HINT);
    }
    ConfigError::new(path, message)
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| {
            let typo = *d <= 2.max(c.len() / 3) && *d < c.len().max(word.len());
            let prefix = word.len() >= 3 && (c.starts_with(word) || word.starts_with(c));
            typo || prefix
        })
        .min()
        .map(|(_, c)| c)
}

/// The hint for a misspelt name: "did you mean `x`?" when a candidate is close, otherwise
/// "`label`: a, b, c".
pub fn name_hint<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str> + Clone,
    label: &str,
) -> String {
    match closest(word, candidates.clone()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("{label}: {}", candidates.collect::<Vec<_>>().join(", ")),
    }
}

/// "unknown column" at `path`, with the closest column name or the list of columns as hint.
pub fn unknown_column<'a>(
    columns: impl Iterator<Item = &'a str> + Clone,
    name: &str,
    path: &str,
) -> ConfigError {
    let hint = name_hint(name, columns, "available columns");
    ConfigError::new(path, format!("unknown column `{name}`")).hint(hint)
}

/// Resolves column names to positions in `schema`, reporting each unknown one at
/// `<path>[i]`.
pub fn resolve_columns(
    schema: &Schema,
    names: &[String],
    path: &str,
) -> Result<Vec<usize>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut positions = Vec::with_capacity(names.len());
    for (n, name) in names.iter().enumerate() {
        match schema.index_of(name) {
            Some(i) => positions.push(i),
            None => errors.push(unknown_column(schema.names(), name, &format!("{path}[{n}]"))),
        }
    }
    if errors.is_empty() {
        Ok(positions)
    } else {
        Err(errors)
    }
}

/// A named input of an operator and where in its YAML the name was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRef {
    /// The collection name (`shelf_events`, `refill_alert.history`).
    pub name: String,
    /// The YAML path of the reference inside the operator (`input`, `inputs[1]`, `right`).
    pub path: String,
}

impl InputRef {
    /// An input reference.
    pub fn new(name: &str, path: impl Into<String>) -> InputRef {
        InputRef { name: name.to_owned(), path: path.into() }
    }
}

/// How an operator kind is registered: its name, documentation and config parser.
#[derive(Clone, Copy)]
pub struct OperatorKind {
    /// The YAML `op:` value.
    pub name: &'static str,
    /// One line for `--help`-style listings.
    pub summary: &'static str,
    /// A complete YAML example of one operator of this kind (round-tripped by a unit test).
    pub sample: &'static str,
    /// Deserializes the operator's YAML mapping (without `op` and `description`).
    pub parse: fn(serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError>,
}

impl fmt::Debug for OperatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorKind").field("name", &self.name).finish()
    }
}

/// A parsed operator config, not yet checked against its inputs.
pub trait OperatorConfig: fmt::Debug + Send + Sync {
    /// The collections this operator reads, in the order `plan` and `build` receive them.
    fn inputs(&self) -> Vec<InputRef>;

    /// Checks the config against the input schemas without any I/O, reporting every problem.
    /// `name` is the operator's name in the pipeline.
    fn plan(
        &self,
        name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>>;
}

/// One output collection of an operator: the main one (`suffix: None`) or a named side output
/// such as an alert's `history`, addressed as `<operator>.<suffix>`.
#[derive(Debug, Clone)]
pub struct Output {
    /// `None` for the main output.
    pub suffix: Option<&'static str>,
    /// The rows' schema.
    pub schema: Schema,
}

/// How long each row of an operator's input counts (an aggregate's `retention`): from its own
/// time, or from its timestamp or date column `by`, until the input has reached that plus
/// `after` (µs, rounded up to whole ticks by the runtime); then it is retracted, so the
/// operator's state and output forget it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputRetention {
    /// How long a row counts, in microseconds.
    pub after: u64,
    /// The input column it counts from; `None`: the row's time.
    pub by: Option<usize>,
}

/// The output of a data-quality check's violations (see [`PlannedOperator::violations`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violations {
    /// Index into [`PlannedOperator::outputs`].
    pub output: usize,
    /// A violation stops the run (`on_violation: fail`).
    pub fail: bool,
}

/// A validated operator with compiled expressions, ready to build its dataflow.
pub trait PlannedOperator: fmt::Debug + Send + Sync {
    /// Output collections, main first.
    fn outputs(&self) -> Vec<Output>;

    /// For `check`: which output holds the violations it finds, so the runtime builds it even
    /// when nothing reads it, counts its rows, and stops a run that must fail on one.
    fn violations(&self) -> Option<Violations> {
        None
    }

    /// Which output holds rows this operator rejected, as rows of the dead-letter columns
    /// ([`crate::dead_letter`]): the runtime writes them to the dead-letter file with the
    /// expressions' overflows.
    fn dead_letters(&self) -> Option<usize> {
        None
    }

    /// Told which outputs anything reads (sinks, other operators, a tap), so an operator may skip
    /// computing the others. Their collections must still be returned by `build` (empty is fine).
    fn retain_outputs(&mut self, _needed: &[bool]) {}

    /// How long each row of the (single) input counts, if the operator has a `retention`.
    fn input_retention(&self) -> Option<InputRetention> {
        None
    }

    /// For `map` and `filter`: the row-by-row step this operator is, so the runtime can fuse a
    /// chain of them into one operator (see [`crate::rowwise`]).
    fn row_step(&self) -> Option<crate::rowwise::RowStep> {
        None
    }

    /// Builds the dataflow; `inputs` are `(collection name, collection)` in `inputs()` order.
    /// Returns one collection per entry of `outputs()`.
    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        arrangements: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>>;
}

/// Arrangements shared between operators: two joins reading the same collection on the same
/// key columns use one arrangement (one copy of the state, one index).
#[derive(Default)]
pub struct ArrangementCache<'s> {
    arranged: HashMap<(String, Vec<usize>), RowArrangement<'s>>,
}

impl<'s> ArrangementCache<'s> {
    /// An empty cache.
    pub fn new() -> Self {
        ArrangementCache { arranged: HashMap::new() }
    }

    /// The arrangement of collection `name` by the columns `key`, built on first use.
    pub fn by_key(&mut self, name: &str, coll: &Coll<'s>, key: &[usize]) -> RowArrangement<'s> {
        let id = (name.to_owned(), key.to_vec());
        if let Some(arranged) = self.arranged.get(&id) {
            return arranged.clone();
        }
        let key_cols = key.to_vec();
        let arranged = coll
            .clone()
            .map(move |row: Row| (key_cols.iter().map(|&c| row[c].clone()).collect::<Row>(), row))
            .arrange_by_key_named(&format!("Arrange: {name} by {key:?}"));
        self.arranged.insert(id, arranged.clone());
        arranged
    }

    /// How many distinct arrangements were built (for tests of sharing).
    pub fn len(&self) -> usize {
        self.arranged.len()
    }

    /// Whether none were built.
    pub fn is_empty(&self) -> bool {
        self.arranged.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_gets_a_did_you_mean_hint() {
        let err = config_error_from_serde(
            "",
            "unknown field `wher`, expected one of `input`, `where`, `description`",
        );
        assert_eq!(err.path, "wher");
        assert_eq!(err.message, "unknown key `wher`");
        assert_eq!(err.hint.as_deref(), Some("did you mean `where`?"));
    }

    #[test]
    fn closest_rejects_unrelated_words() {
        assert_eq!(closest("quantty", ["quantity", "shelf_id"]), Some("quantity"));
        assert_eq!(closest("zzz", ["quantity", "shelf_id"]), None);
    }
}

/// Expression text as written in YAML: a string, or a bare number or boolean (`one: 1`), which
/// is the expression of that literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprText(pub String);

impl<'de> serde::Deserialize<'de> for ExprText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ExprText, D::Error> {
        match serde_yaml_ng::Value::deserialize(d)? {
            serde_yaml_ng::Value::String(s) => Ok(ExprText(s)),
            serde_yaml_ng::Value::Number(n) => Ok(ExprText(n.to_string())),
            serde_yaml_ng::Value::Bool(b) => Ok(ExprText(b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected an expression, found {}",
                match other {
                    serde_yaml_ng::Value::Null => "nothing",
                    serde_yaml_ng::Value::Sequence(_) => "a list",
                    serde_yaml_ng::Value::Mapping(_) => "a mapping",
                    _ => "a tagged value",
                }
            ))),
        }
    }
}
