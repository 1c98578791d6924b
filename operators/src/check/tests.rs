use crate::testing::{i, run_planned, s, schema, state_at, yaml};
use crate::value::{Row, Type, Value};

use super::KIND;

const MINUTE: u64 = 60_000_000;

fn events() -> crate::Schema {
    let mut sch = schema(&[
        ("event_id", Type::String),
        ("event_type", Type::String),
        ("qty", Type::Int),
        ("ts", Type::Timestamp),
    ]);
    sch.event_time = Some(3);
    sch
}

fn event(id: &str, kind: &str, qty: Option<i64>, ts: u64) -> Row {
    vec![s(id), s(kind), qty.map_or(Value::Null, i), Value::Timestamp(ts as i64)]
}

fn violation(check: &str, key: &str, value: Option<&str>, at: Option<u64>) -> Row {
    let at = at.map_or(Value::Null, |t| Value::Timestamp(t as i64));
    vec![s(check), s(key), value.map_or(Value::Null, s), at]
}

fn plan(config: &str) -> Box<dyn crate::PlannedOperator> {
    (KIND.parse)(yaml(config)).unwrap().plan("quality", &[events()]).unwrap()
}

#[test]
fn each_broken_expectation_of_a_row_is_a_violation_naming_the_check_key_and_value() {
    let planned = plan(
        "input: x\nkey: [event_id]\nchecks:\n  - not_null: [qty]\n  - range: {column: qty, min: 1, max: 8}\n  - in: {column: event_type, values: [pickup, restock]}\n  - matches: {column: event_id, pattern: '^e[0-9]+$'}\n",
    );
    let good = event("e1", "pickup", Some(3), MINUTE);
    let bad = event("x2", "dance", Some(9), MINUTE);
    let null = event("e3", "restock", None, MINUTE);
    let input = vec![
        (good, MINUTE, 1),
        (bad, MINUTE, 1),
        (null.clone(), MINUTE, 1),
        (null, 2 * MINUTE, -1),
    ];
    let out = run_planned(planned, vec![input]).remove(0);
    let key = |id: &str| format!("{{\"event_id\":\"{id}\"}}");
    let mut expected = vec![
        violation("range(qty)", &key("x2"), Some("9"), Some(MINUTE)),
        violation("in(event_type)", &key("x2"), Some("dance"), Some(MINUTE)),
        violation("matches(event_id)", &key("x2"), Some("x2"), Some(MINUTE)),
        violation("not_null(qty)", &key("e3"), None, Some(MINUTE)),
    ];
    expected.sort();
    assert_eq!(state_at(&out, MINUTE), expected);
    // A retracted row takes its violations with it; NULL passes every check but not_null.
    assert_eq!(state_at(&out, 2 * MINUTE).len(), 3);
}

#[test]
fn unique_by_reports_a_key_while_more_than_one_row_has_it() {
    let planned = plan("input: x\nchecks:\n  - unique_by: [event_id]\n");
    let first = event("e1", "pickup", Some(1), MINUTE);
    let copy = event("e1", "pickup", Some(2), MINUTE);
    let input = vec![(first, MINUTE, 1), (copy.clone(), 2 * MINUTE, 1), (copy, 3 * MINUTE, -1)];
    let out = run_planned(planned, vec![input]).remove(0);
    assert!(state_at(&out, MINUTE).is_empty());
    let twice = violation("unique_by(event_id)", "{\"event_id\":\"e1\"}", Some("2 rows"), None);
    assert_eq!(state_at(&out, 2 * MINUTE), vec![twice]);
    assert!(state_at(&out, 3 * MINUTE).is_empty());
}

#[test]
fn max_lateness_reports_the_late_arrivals_beyond_its_bound() {
    let config = "input: x\nkey: [event_id]\nchecks:\n  - max_lateness: {bound: 30s}\n";
    let parsed = (KIND.parse)(yaml(config)).unwrap();
    let inputs: Vec<String> = parsed.inputs().into_iter().map(|i| i.name).collect();
    assert_eq!(inputs, ["x", "x.late_arrivals"]);
    let late_schema = crate::late_arrival::schema(&events());
    let planned = parsed.plan("quality", &[events(), late_schema]).unwrap();
    let late = |id: &str, ts: u64, by: i64| {
        let mut row = event(id, "pickup", Some(1), ts);
        row.push(Value::Interval(by));
        row
    };
    let second = 1_000_000;
    let arrivals = vec![
        (late("e1", MINUTE, 10 * second), MINUTE, 1),
        (late("e2", MINUTE, 45 * second), MINUTE, 1),
    ];
    let out = run_planned(planned, vec![vec![], arrivals]).remove(0);
    let expected = violation("max_lateness", "{\"event_id\":\"e2\"}", Some("45s"), Some(MINUTE));
    assert_eq!(state_at(&out, MINUTE), vec![expected]);
}

#[test]
fn a_check_is_validated_with_every_problem_located() {
    let config = "input: x\nkey: [id]\nchecks:\n  - range: {column: event_type, min: 1}\n  - matches: {column: qty, pattern: 'a'}\n  - in: {column: qty, values: [one]}\n  - matches: {column: event_id, pattern: '('}\n  - not_null: [nope]\n";
    let errors = (KIND.parse)(yaml(config)).unwrap().plan("quality", &[events()]).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "key[0]",
            "checks[0].range.column",
            "checks[1].matches.column",
            "checks[2].in.values[0]",
            "checks[3].matches.pattern",
            "checks[4].not_null[0]"
        ]
    );
    let unknown = (KIND.parse)(yaml("input: x\nchecks:\n  - positive: qty\n"));
    assert!(unknown.is_err(), "an unknown check is an error");
}

#[test]
fn a_second_max_lateness_is_an_error_not_a_silent_replacement() {
    let config = "input: x\nkey: [event_id]\nchecks:\n  - max_lateness: {bound: 30s}\n  - not_null: [event_id]\n  - max_lateness: {bound: 5m}\n";
    let input = crate::testing::schema(&[
        ("event_id", crate::Type::String),
        ("ts", crate::Type::Timestamp),
    ]);
    let late = crate::late_arrival::schema(&input);
    let errors = (super::KIND.parse)(crate::testing::yaml(config))
        .unwrap()
        .plan("quality", &[input, late])
        .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "checks[2].max_lateness");
    assert!(errors[0].message.contains("second max_lateness"), "{errors:?}");
}
