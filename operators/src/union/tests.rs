use crate::testing::{i, run_planned, s, schema, state_at, yaml};
use crate::value::Type;

use super::KIND;

#[test]
fn combines_inputs_and_their_retractions() {
    let sch = schema(&[("shelf_id", Type::String), ("n", Type::Int)]);
    let planned = (KIND.parse)(yaml(KIND.sample)).unwrap().plan("op", &[sch.clone(), sch]).unwrap();
    let a = vec![(vec![s("A"), i(1)], 1, 1), (vec![s("A"), i(1)], 2, -1)];
    let b = vec![(vec![s("A"), i(1)], 1, 1), (vec![s("B"), i(2)], 2, 1)];
    let out = run_planned(planned, vec![a, b]).remove(0);
    assert_eq!(state_at(&out, 1), vec![vec![s("A"), i(1)], vec![s("A"), i(1)]]);
    assert_eq!(state_at(&out, 2), vec![vec![s("A"), i(1)], vec![s("B"), i(2)]]);
}

#[test]
fn mismatched_columns_are_a_type_mismatch() {
    let a = schema(&[("shelf_id", Type::String), ("n", Type::Int)]);
    let b = schema(&[("shelf_id", Type::String), ("n", Type::Float)]);
    let errors = (KIND.parse)(yaml("inputs: [x, y]")).unwrap().plan("op", &[a, b]).unwrap_err();
    assert_eq!(errors[0].path, "inputs[1]");
    assert_eq!(
        errors[0].message,
        "type mismatch: `y` has columns (shelf_id string, n float), expected (shelf_id string, n int) as in `x`"
    );
}
