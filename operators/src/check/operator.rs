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

/// What a violation row says about the row it is of: its key columns (as a JSON object of the
/// input's columns) and its event time.
#[derive(Debug, Clone)]
pub struct Describe {
    pub key: Arc<[usize]>,
    pub input: Arc<Schema>,
}

impl Describe {
    /// The violation of `check` by `row`, whose offending value is in `column`.
    fn violation(&self, check: &str, row: &[Value], column: usize) -> Row {
        let at = self.input.event_time.map_or(Value::Null, |t| row[t].clone());
        let key = self.input.columns_to_json(row, &self.key).to_string();
        // The value as `CAST(value AS TEXT)` prints it.
        let value = crate::expr::cast(&row[column], Type::String);
        vec![Value::str(check), Value::str(&key), value, at]
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
        let (late_by, column) = crate::late_arrival::late_by(&row);
        let too_late = late_by.is_some_and(|us| us > bound);
        too_late.then(|| describe.violation("max_lateness", &row, column))
    })
}

/// How many rows share a key of a uniqueness check.
struct Shared(Diff);

/// Renders a violation while more than one row shares the key.
struct UniqueLogic {
    check: String,
    /// The schema of the key: the columns checked for uniqueness.
    key: Schema,
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
            let key = self.key.row_to_json(key).to_string();
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
    /// The checked collection's schema.
    pub(crate) input: Arc<Schema>,
    pub(crate) fail: bool,
    /// `max_lateness`: the bound (µs) on the source's late arrivals, its second input.
    pub(crate) lateness: Option<i64>,
}

impl PlannedOperator for PlannedCheck {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: violation_schema() }]
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
        let describe = Arc::new(Describe { key: self.key.clone(), input: self.input.clone() });
        let mut found = check_rows(rows.clone(), self.rows.clone(), describe.clone());
        for (check, columns) in &self.unique {
            let fields = columns.iter().map(|&c| self.input.fields[c].clone()).collect();
            let logic = UniqueLogic { check: check.clone(), key: Schema::new(fields) };
            let mut shared =
                process_by_key("UniqueBy", rows.clone(), columns.clone(), Arc::new(logic), 1);
            found = found.concat(shared.pop().expect("one output"));
        }
        if let (Some(bound), Some((_, late))) = (self.lateness, inputs.get(1)) {
            found = found.concat(late_violations(late.clone(), bound, describe));
        }
        vec![found]
    }
}
