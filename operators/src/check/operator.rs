use std::sync::Arc;

use differential_dataflow::AsCollection;
use timely::dataflow::operators::vec::Map as _;

use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator, Violations};
use crate::sequential::{process_by_key, SequentialLogic, Step};
use crate::value::{Field, Row, Schema, Type, Value};

/// Columns of a check's output: the rule broken (e.g. `range(quantity)`), the row's key (a JSON
/// object), the offending value as text, and the row's event time.
pub fn violation_schema() -> Schema {
    Schema::new(vec![
        Field::new("rule", Type::String, false),
        Field::new("key", Type::String, false),
        Field::new("value", Type::String, true),
        Field::new("at", Type::Timestamp, true),
    ])
}

/// One expectation of one column of every row.
#[derive(Debug, Clone)]
pub struct RowCheck {
    /// As violations name it, e.g. `range(quantity)`.
    pub name: String,
    pub column: usize,
    pub test: Test,
}

/// What a row's value must be. NULL passes every test but `NotNull`.
#[derive(Debug, Clone)]
pub enum Test {
    NotNull,
    /// A number within these bounds (inclusive).
    Range(f64, f64),
    In(Vec<Value>),
    Matches(regex::Regex),
}

impl RowCheck {
    /// Whether the row breaks this check.
    fn broken(&self, row: &[Value]) -> bool {
        let value = &row[self.column];
        match (&self.test, value) {
            (Test::NotNull, v) => v.is_null(),
            (_, Value::Null) => false,
            (Test::Range(min, max), v) => v.as_f64().is_some_and(|x| x < *min || x > *max),
            (Test::In(allowed), v) => !allowed.contains(v),
            (Test::Matches(regex), v) => v.as_str().is_some_and(|s| !regex.is_match(s)),
        }
    }
}

/// What a violation row says about the row it is of: its key columns (by name) and its event
/// time.
#[derive(Debug, Clone)]
pub struct Describe {
    pub key: Arc<[usize]>,
    pub names: Arc<[String]>,
    pub event_time: Option<usize>,
}

impl Describe {
    /// The violation of `check` by `row`.
    fn violation(&self, check: &str, row: &[Value], column: usize) -> Row {
        let at = self.event_time.map_or(Value::Null, |t| row[t].clone());
        vec![Value::str(check), Value::str(&self.key_json(row, &self.key)), text(&row[column]), at]
    }

    /// The `columns` of `values` as a JSON object.
    fn key_json(&self, values: &[Value], columns: &[usize]) -> String {
        let fields = columns.iter().map(|&c| (self.names[c].clone(), values[c].to_json()));
        serde_json::Value::Object(fields.collect()).to_string()
    }
}

/// A value as the text a violation shows: its JSON form, strings (and timestamps, dates and
/// intervals, which JSON writes as strings) without quotes.
fn text(value: &Value) -> Value {
    match (value, value.to_json()) {
        (Value::Null, _) => Value::Null,
        (Value::Str(s), _) => Value::Str(s.clone()),
        (_, serde_json::Value::String(s)) => Value::str(&s),
        (_, json) => Value::str(&json.to_string()),
    }
}

/// The violations of the row checks: one row per row and broken check, at the row's time.
pub fn check_rows<'s>(
    rows: Coll<'s>,
    checks: Arc<[RowCheck]>,
    describe: Arc<Describe>,
) -> Coll<'s> {
    rows.inner
        .flat_map(move |(row, time, diff)| {
            let broken = checks.iter().filter(|c| c.broken(&row));
            let found: Vec<Row> =
                broken.map(|c| describe.violation(&c.name, &row, c.column)).collect();
            found.into_iter().map(move |v| (v, time, diff))
        })
        .as_collection()
}

/// The violations of `max_lateness`: each late arrival (a source row, then how far behind it
/// came) later than `bound` microseconds.
fn late_violations<'s>(late: Coll<'s>, bound: i64, describe: Arc<Describe>) -> Coll<'s> {
    late.flat_map(move |row| {
        let late_by = row.len() - 1;
        let too_late = matches!(row[late_by], Value::Interval(us) if us > bound);
        too_late.then(|| describe.violation("max_lateness", &row, late_by))
    })
}

/// How many rows share a key of a uniqueness check.
struct Shared(Diff);

/// Renders a violation while more than one row shares the key.
struct UniqueLogic {
    check: String,
    columns: Arc<[usize]>,
    names: Arc<[String]>,
}

impl SequentialLogic for UniqueLogic {
    type State = Shared;
    const COMMUTATIVE: bool = true;

    fn start(&self, _key: &[Value]) -> Shared {
        Shared(0)
    }

    fn update(&self, state: &mut Shared, _: &mut Step<'_>, _: usize, _: Row, diff: Diff) {
        state.0 += diff;
    }

    fn render(&self, state: &Shared, key: &[Value], rows: &mut Vec<(usize, Row)>) {
        if state.0 > 1 {
            let fields =
                self.columns.iter().zip(key).map(|(&c, v)| (self.names[c].clone(), v.to_json()));
            let key = serde_json::Value::Object(fields.collect()).to_string();
            let value = Value::str(&format!("{} rows", state.0));
            rows.push((0, vec![Value::str(&self.check), Value::str(&key), value, Value::Null]));
        }
    }

    fn is_idle(&self, state: &Shared) -> bool {
        state.0 == 0
    }
}

#[derive(Debug)]
pub(crate) struct PlannedCheck {
    pub(crate) rows: Arc<[RowCheck]>,
    /// Uniqueness checks: name and columns.
    pub(crate) unique: Vec<(String, Vec<usize>)>,
    pub(crate) key: Arc<[usize]>,
    pub(crate) names: Vec<String>,
    pub(crate) event_time: Option<usize>,
    pub(crate) fail: bool,
    /// `max_lateness`: the bound (µs) on the source's late arrivals, its second input.
    pub(crate) lateness: Option<i64>,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedCheck {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn violations(&self) -> Option<Violations> {
        Some(Violations { output: 0, fail: self.fail })
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let rows = inputs[0].1.clone();
        let names: Arc<[String]> = self.names.clone().into();
        let describe =
            Describe { key: self.key.clone(), names: names.clone(), event_time: self.event_time };
        let describe = Arc::new(describe);
        let describe_late = describe.clone();
        let mut found = check_rows(rows.clone(), self.rows.clone(), describe);
        for (check, columns) in &self.unique {
            let logic = UniqueLogic {
                check: check.clone(),
                columns: columns.clone().into(),
                names: names.clone(),
            };
            let mut shared =
                process_by_key("UniqueBy", rows.clone(), columns.clone(), Arc::new(logic), 1);
            found = found.concat(shared.pop().expect("one output"));
        }
        if let (Some(bound), Some((_, late))) = (self.lateness, inputs.get(1)) {
            found = found.concat(late_violations(late.clone(), bound, describe_late));
        }
        vec![found]
    }
}
