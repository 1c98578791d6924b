use crate::testing::{i, run_planned, s, schema, state_at, yaml};
use crate::value::Type;

use super::KIND;

fn events() -> crate::Schema {
    let mut schema = schema(&[
        ("shelf_id", Type::String),
        ("event_type", Type::String),
        ("quantity", Type::Int),
        ("customer_id", Type::String),
    ]);
    schema.key = Some(vec![0]);
    schema
}

#[test]
fn sample_plans_against_a_matching_schema() {
    let config = (KIND.parse)(yaml(KIND.sample)).unwrap();
    let mut schema = events();
    schema.fields.push(crate::Field::new("timestamp", Type::Timestamp, false));
    schema.event_time = Some(4);
    let planned = config.plan("op", &[schema]).unwrap();
    let out = &planned.outputs()[0].schema;
    let names: Vec<&str> = out.names().collect();
    assert_eq!(names, ["shelf_id", "event_type", "quantity", "event_time", "delta", "hour"]);
    assert_eq!(out.event_time, Some(3), "event time follows the rename");
    assert_eq!(out.key, Some(vec![0]));
}

#[test]
fn computes_renames_drops_and_selects_with_retractions() {
    let config = (KIND.parse)(yaml(
        "input: x\nfields: {double: quantity * 2, quantity: quantity + 1}\nrename: {shelf_id: shelf}\ndrop: [customer_id]\nselect: [shelf, double, quantity]",
    ))
    .unwrap();
    let planned = config.plan("op", &[events()]).unwrap();
    let row = vec![s("A"), s("pickup"), i(3), s("c")];
    let out = run_planned(planned, vec![vec![(row.clone(), 1, 1), (row, 2, -1)]]).remove(0);
    assert_eq!(state_at(&out, 1), vec![vec![s("A"), i(6), i(4)]]);
    assert!(state_at(&out, 2).is_empty());
}

#[test]
fn unknown_columns_are_all_reported() {
    let config = (KIND.parse)(yaml(
        "input: x\nfields: {d: quantty * 2}\ndrop: [customer]\nselect: [shelf_idd]",
    ))
    .unwrap();
    let errors = config.plan("op", &[events()]).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["fields.d", "drop[0]", "select[0]"]);
    assert_eq!(errors[1].message, "unknown column `customer`");
    assert_eq!(errors[2].hint.as_deref(), Some("did you mean `shelf_id`?"));
}
