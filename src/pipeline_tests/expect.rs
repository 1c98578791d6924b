//! What a test expects of a collection, and how it is compared with what the run committed.
//!
//! An expected row names the columns it cares about: it matches an actual row whose values in
//! those columns are equal (numbers by value, so `8` matches `8.0`; timestamps as instants).
//! Rows are a multiset: every expected row must match its own actual row, and every actual row
//! must be matched.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value as Json;
use shelfflow_operators::decimal::Decimal;
use shelfflow_operators::value::parse_timestamp;
use shelfflow_operators::{Row, Schema, Time, Type, Value};

use super::{Committed, Object};
use crate::planner::Plan;

/// What one collection must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// A source, table or operator output, or a dead-letter collection.
    pub collection: String,
    /// An event time (RFC 3339). `rows` are then the collection as of that time (every change
    /// whose time is at or before it); `changes` are the changes committed at exactly the time
    /// a record of that event time gets (rounded up to the tick). Absent: the end of the run.
    #[serde(default)]
    pub at: Option<String>,
    /// The rows the collection holds.
    #[serde(default)]
    pub rows: Option<Vec<Object>>,
    /// The changes committed at `at`, as a changelog sink writes them.
    #[serde(default)]
    pub changes: Option<Vec<ExpectedChange>>,
}

/// One expected change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedChange {
    /// `upsert` (the key now has this row) or `delete` (the key no longer has this row).
    pub op: Op,
    /// The row (the columns the test cares about).
    pub row: Object,
}

/// The kind of a change.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Upsert,
    Delete,
}

/// What comparing an expectation with the run gave.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Passed,
    /// The difference, ready to print.
    Failed(String),
}

impl Expectation {
    /// Checks the expectation against the planned pipeline: the collection and the columns it
    /// names exist, `at` is a time, and it says either `rows` or `changes`. `Err` is a message
    /// and a hint.
    pub fn check(&self, plan: &Plan) -> Result<(), (String, Option<String>)> {
        let Some(schema) = plan.collections.get(&self.collection) else {
            let names = plan.collections.keys().map(String::as_str);
            let hint = match shelfflow_operators::closest(&self.collection, names.clone()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("collections: {}", names.collect::<Vec<_>>().join(", ")),
            };
            return Err((format!("unknown collection `{}`", self.collection), Some(hint)));
        };
        if let Some(at) = &self.at {
            if parse_timestamp(at).is_none() {
                let hint = "write an RFC 3339 time, e.g. 2026-01-01T08:00:30Z".to_owned();
                return Err((format!("`at: {at}` is not a time"), Some(hint)));
            }
        }
        let columns: Vec<&String> = match (&self.rows, &self.changes) {
            (Some(rows), None) => rows.iter().flat_map(|r| r.keys()).collect(),
            (None, Some(changes)) if self.at.is_some() => {
                changes.iter().flat_map(|c| c.row.keys()).collect()
            }
            (None, Some(_)) => {
                let hint = "changes are those of one time: add `at`".to_owned();
                return Err(("`changes` needs `at`".to_owned(), Some(hint)));
            }
            _ => {
                let hint = "`rows` for the state, `changes` for what one time changed".to_owned();
                return Err(("give either `rows` or `changes`".to_owned(), Some(hint)));
            }
        };
        for column in columns {
            if schema.index_of(column).is_none() {
                let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
                let message = format!("`{}` has no column `{column}`", self.collection);
                return Err((message, Some(format!("columns: {}", names.join(", ")))));
            }
        }
        Ok(())
    }

    /// A line naming the expectation.
    pub fn describe(&self) -> String {
        let what = if self.changes.is_some() { "changes of" } else { "rows of" };
        match &self.at {
            Some(at) => format!("{what} `{}` at {at}", self.collection),
            None => format!("{what} `{}` at the end", self.collection),
        }
    }

    /// Compares the expectation with the changes committed to its collection (in commit
    /// order); `tick` is the pipeline's.
    pub fn evaluate(&self, schema: &Schema, committed: &[Committed], tick: u64) -> Outcome {
        let (expected, actual) = self.sides(schema, committed, tick);
        let fits = |e: usize, a: usize| {
            expected[e].0 == actual[a].0 && row_matches(schema, expected[e].1, &actual[a].1)
        };
        let matched = match_rows(expected.len(), actual.len(), fits);
        let mut named: Vec<&str> =
            expected.iter().flat_map(|(_, r)| r.keys().map(String::as_str)).collect();
        named.sort_unstable();
        named.dedup();
        let mut text = String::new();
        for (e, (op, row)) in expected.iter().enumerate() {
            if matched.iter().all(|(m, _)| *m != e) {
                let row = Json::Object((*row).clone());
                text.push_str(&format!("  - expected, not found: {}\n", show(*op, &row)));
            }
        }
        for (a, (op, row)) in actual.iter().enumerate() {
            if matched.iter().all(|(_, m)| *m != a) {
                let row = to_json(schema, row, &named);
                text.push_str(&format!("  + found, not expected: {}\n", show(*op, &row)));
            }
        }
        if text.is_empty() {
            Outcome::Passed
        } else {
            Outcome::Failed(text)
        }
    }

    /// The expected rows or changes, and the actual ones they are compared with.
    fn sides(
        &self,
        schema: &Schema,
        committed: &[Committed],
        tick: u64,
    ) -> (Vec<Expected<'_>>, Vec<Actual>) {
        let at = self.at.as_deref().and_then(parse_timestamp).map(|t| t.max(0) as Time);
        let Some(changes) = &self.changes else {
            let expected = self.rows.iter().flatten().map(|r| (None, r)).collect();
            let actual = state_at(schema, committed, at).into_iter().map(|r| (None, r)).collect();
            return (expected, actual);
        };
        let time = shelfflow_connectors::clock::round_up(at.unwrap_or(0), tick.max(1));
        let op = |upsert: bool| if upsert { Op::Upsert } else { Op::Delete };
        let expected = changes.iter().map(|c| (Some(c.op), &c.row)).collect();
        let at_time = committed.iter().filter(|(t, _, _)| *t == time);
        let actual = at_time.map(|(_, upsert, row)| (Some(op(*upsert)), row.clone())).collect();
        (expected, actual)
    }
}

/// An expected row, or change (with its kind).
type Expected<'a> = (Option<Op>, &'a Object);

/// A row of the collection, or a committed change (with its kind).
type Actual = (Option<Op>, Row);

/// The rows of a collection after every committed change at or before `at` (all of them when
/// `at` is `None`), by the collection's key as the runtime delivers them.
fn state_at(schema: &Schema, committed: &[Committed], at: Option<Time>) -> Vec<Row> {
    let key = schema.key_or_all();
    let mut state: BTreeMap<Row, Row> = BTreeMap::new();
    for (time, upsert, row) in committed {
        if at.is_some_and(|at| *time > at) {
            continue;
        }
        let k: Row = key.iter().map(|&c| row[c].clone()).collect();
        if *upsert {
            state.insert(k, row.clone());
        } else {
            state.remove(&k);
        }
    }
    state.into_values().collect()
}

/// Whether every column `expected` names has its value in `actual`.
fn row_matches(schema: &Schema, expected: &Object, actual: &Row) -> bool {
    expected.iter().all(|(column, want)| {
        let Some(i) = schema.index_of(column) else { return false };
        if let Value::Decimal(got) = &actual[i] {
            return decimal_matches(want, *got);
        }
        value_matches(schema.fields[i].ty, want, &actual[i].to_json())
    })
}

/// Numbers by value (within 1e-9 relative for floats), timestamps as instants, the rest exactly.
/// A decimal is compared exactly with the decimal an expected number or string is written as
/// (`6.60` and `"6.6"` both match 6.60; 6.6000001 does not).
fn decimal_matches(want: &Json, got: Decimal) -> bool {
    let text = match want {
        Json::Number(n) => n.to_string(),
        Json::String(s) => s.clone(),
        _ => return false,
    };
    text.trim().parse::<Decimal>().is_ok_and(|w| w == got)
}

fn value_matches(ty: Type, want: &Json, got: &Json) -> bool {
    match (want, got) {
        (Json::Number(w), Json::Number(g)) => match (w.as_i64(), g.as_i64()) {
            (Some(w), Some(g)) => w == g,
            _ => {
                let (w, g) = (w.as_f64().unwrap_or(f64::NAN), g.as_f64().unwrap_or(f64::NAN));
                (w - g).abs() <= 1e-9 * w.abs().max(g.abs()).max(1.0)
            }
        },
        (Json::String(w), Json::String(g)) if ty == Type::Timestamp => {
            match (parse_timestamp(w), parse_timestamp(g)) {
                (Some(w), Some(g)) => w == g,
                _ => w == g,
            }
        }
        _ => want == got,
    }
}

/// A row as a JSON object of `columns` (every column when empty).
fn to_json(schema: &Schema, row: &Row, columns: &[&str]) -> Json {
    if columns.is_empty() {
        return schema.row_to_json(row);
    }
    // In the schema's order, as the row has them.
    let mut named: Vec<usize> = columns.iter().filter_map(|c| schema.index_of(c)).collect();
    named.sort_unstable();
    schema.columns_to_json(row, &named)
}

fn show(op: Option<Op>, row: &Json) -> String {
    match op {
        Some(Op::Upsert) => format!("upsert {row}"),
        Some(Op::Delete) => format!("delete {row}"),
        None => row.to_string(),
    }
}

/// A largest matching of expected to actual rows (augmenting paths), as (expected, actual)
/// pairs: an expected row that names few columns never takes the only row another can match.
fn match_rows(
    expected: usize,
    actual: usize,
    fits: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, usize)> {
    let mut owner: Vec<Option<usize>> = vec![None; actual];
    fn augment(
        e: usize,
        seen: &mut [bool],
        owner: &mut [Option<usize>],
        fits: &dyn Fn(usize, usize) -> bool,
    ) -> bool {
        for a in 0..owner.len() {
            if seen[a] || !fits(e, a) {
                continue;
            }
            seen[a] = true;
            if owner[a].is_none_or(|other| augment(other, seen, owner, fits)) {
                owner[a] = Some(e);
                return true;
            }
        }
        false
    }
    for e in 0..expected {
        let mut seen = vec![false; actual];
        augment(e, &mut seen, &mut owner, &fits);
    }
    owner.iter().enumerate().filter_map(|(a, e)| e.map(|e| (e, a))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shelfflow_operators::Field;

    #[test]
    fn decimals_match_the_decimal_an_expectation_is_written_as_exactly() {
        let got: Decimal = "6.60".parse().unwrap();
        assert!(decimal_matches(&serde_json::json!(6.6), got));
        assert!(decimal_matches(&serde_json::json!("6.60"), got));
        assert!(!decimal_matches(&serde_json::json!(6.6000001), got));
        assert!(!decimal_matches(&serde_json::json!("six"), got));
        assert!(!decimal_matches(&serde_json::Value::Null, got));
    }

    fn schema() -> Schema {
        let mut schema = Schema::new(vec![
            Field::new("shelf_id", Type::String, false),
            Field::new("stock", Type::Int, false),
            Field::new("at", Type::Timestamp, true),
        ]);
        schema.key = Some(vec![0]);
        schema
    }

    fn row(shelf: &str, stock: i64) -> Row {
        vec![Value::str(shelf), Value::Int(stock), Value::Null]
    }

    fn object(json: serde_json::Value) -> Object {
        json.as_object().expect("an object").clone()
    }

    fn rows(at: Option<&str>, expected: Vec<serde_json::Value>) -> Expectation {
        Expectation {
            collection: "stock".to_owned(),
            at: at.map(str::to_owned),
            rows: Some(expected.into_iter().map(object).collect()),
            changes: None,
        }
    }

    const T1: Time = 1_767_254_400_000_000; // 2026-01-01T08:00:00Z
    const SECOND: Time = 1_000_000;

    fn committed() -> Vec<Committed> {
        vec![
            (T1, true, row("S1", 10)),
            (T1, true, row("S2", 5)),
            (T1 + SECOND, true, row("S1", 8)),
            (T1 + 2 * SECOND, false, row("S2", 5)),
        ]
    }

    #[test]
    fn the_state_at_a_time_replays_the_changes_up_to_it_by_key() {
        let at_t1 = rows(
            Some("2026-01-01T08:00:00Z"),
            vec![
                serde_json::json!({"shelf_id": "S1", "stock": 10}),
                serde_json::json!({"shelf_id": "S2", "stock": 5.0}),
            ],
        );
        assert_eq!(at_t1.evaluate(&schema(), &committed(), SECOND), Outcome::Passed);
        let at_end = rows(None, vec![serde_json::json!({"stock": 8})]);
        assert_eq!(at_end.evaluate(&schema(), &committed(), SECOND), Outcome::Passed);
    }

    #[test]
    fn a_difference_names_the_missing_and_the_unexpected_rows() {
        let wrong = rows(None, vec![serde_json::json!({"shelf_id": "S1", "stock": 9})]);
        let Outcome::Failed(text) = wrong.evaluate(&schema(), &committed(), SECOND) else {
            panic!("a wrong stock passed");
        };
        assert_eq!(
            text,
            "  - expected, not found: {\"shelf_id\":\"S1\",\"stock\":9}\n  + found, not expected: {\"shelf_id\":\"S1\",\"stock\":8}\n"
        );
        let too_few = rows(Some("2026-01-01T08:00:01Z"), vec![serde_json::json!({"stock": 8})]);
        assert!(matches!(too_few.evaluate(&schema(), &committed(), SECOND), Outcome::Failed(_)));
    }

    #[test]
    fn changes_are_those_of_the_tick_of_their_time() {
        let deleted = Expectation {
            collection: "stock".to_owned(),
            at: Some("2026-01-01T08:00:01.5Z".to_owned()),
            rows: None,
            changes: Some(vec![ExpectedChange {
                op: Op::Delete,
                row: object(serde_json::json!({"shelf_id": "S2"})),
            }]),
        };
        assert_eq!(deleted.evaluate(&schema(), &committed(), SECOND), Outcome::Passed);
        let upserted =
            ExpectedChange { op: Op::Upsert, row: object(serde_json::json!({"shelf_id": "S2"})) };
        let wrong_op = Expectation { changes: Some(vec![upserted]), ..deleted };
        assert!(matches!(wrong_op.evaluate(&schema(), &committed(), SECOND), Outcome::Failed(_)));
    }

    #[test]
    fn a_row_naming_few_columns_does_not_take_the_only_match_of_another() {
        let both = rows(
            None,
            vec![
                serde_json::json!({"stock": 8}),
                serde_json::json!({"shelf_id": "S1", "stock": 8}),
            ],
        );
        let two_rows = vec![(T1, true, row("S1", 8)), (T1, true, row("S3", 8))];
        assert_eq!(both.evaluate(&schema(), &two_rows, SECOND), Outcome::Passed);
    }

    #[test]
    fn timestamps_compare_as_instants() {
        assert!(value_matches(
            Type::Timestamp,
            &serde_json::json!("2026-01-01T09:00:00+01:00"),
            &serde_json::json!("2026-01-01T08:00:00Z")
        ));
        assert!(!value_matches(Type::String, &serde_json::json!("8"), &serde_json::json!(8)));
    }
}
