use crate::testing::{i, run_planned, s, schema, state_at, yaml};
use crate::value::Type;

use super::KIND;

fn shelf_schema() -> crate::Schema {
    schema(&[("shelf_id", Type::String), ("quantity", Type::Int)])
}

#[test]
fn sample_round_trips() {
    let config = (KIND.parse)(yaml(KIND.sample)).unwrap();
    assert_eq!(config.inputs()[0].name, "shelf_events");
}

#[test]
fn keeps_matching_rows_and_passes_retractions() {
    let config = (KIND.parse)(yaml("input: x\nwhere: quantity > 1")).unwrap();
    let planned = config.plan("op", &[shelf_schema()]).unwrap();
    let input = vec![
        (vec![s("a"), i(1)], 1, 1),
        (vec![s("b"), i(5)], 1, 1),
        (vec![s("b"), i(5)], 2, -1),
        (vec![s("c"), i(3)], 2, 1),
    ];
    let out = run_planned(planned, vec![input]).remove(0);
    assert_eq!(state_at(&out, 1), vec![vec![s("b"), i(5)]]);
    assert_eq!(state_at(&out, 2), vec![vec![s("c"), i(3)]]);
}

#[test]
fn null_predicate_drops_the_row() {
    let config = (KIND.parse)(yaml("input: x\nwhere: quantity > 1")).unwrap();
    let planned = config.plan("op", &[shelf_schema()]).unwrap();
    let out = run_planned(planned, vec![vec![(vec![s("a"), crate::Value::Null], 1, 1)]]).remove(0);
    assert!(out.is_empty());
}

#[test]
fn non_boolean_predicate_is_a_type_mismatch() {
    let config = (KIND.parse)(yaml("input: x\nwhere: quantity + 1")).unwrap();
    let errors = config.plan("op", &[shelf_schema()]).unwrap_err();
    assert_eq!(errors[0].path, "where");
    assert_eq!(errors[0].message, "type mismatch: expected a bool expression, found int");
}

#[test]
fn unknown_key_is_reported_with_a_hint() {
    let err = (KIND.parse)(yaml("input: x\nwher: quantity > 1")).unwrap_err();
    assert_eq!(err.path, "wher");
    assert_eq!(err.hint.as_deref(), Some("did you mean `where`?"));
}
