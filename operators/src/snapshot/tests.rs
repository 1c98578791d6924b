use crate::testing::{i, run_planned, s, schema, state_at, yaml};
use crate::value::{Row, Type};

use super::KIND;

fn planned() -> Box<dyn crate::PlannedOperator> {
    let config = "input: x\nat: ticks\nkey: [shelf]\ncolumns:\n  taken_on: day\n";
    let stock = schema(&[("shelf", Type::String), ("units", Type::Int)]);
    let ticks = schema(&[("kind", Type::String), ("day", Type::Int)]);
    (KIND.parse)(yaml(config)).unwrap().plan("eod", &[stock, ticks]).unwrap()
}

fn copy(shelf: &str, units: i64, day: i64) -> Row {
    vec![s(shelf), i(units), i(day)]
}

#[test]
fn copies_the_rows_as_they_stand_at_each_trigger_and_never_retracts_them() {
    let stock = vec![
        (vec![s("a"), i(5)], 1, 1),
        (vec![s("b"), i(2)], 1, 1),
        // At a trigger's own time, the update counts before the copy.
        (vec![s("a"), i(5)], 10, -1),
        (vec![s("a"), i(3)], 10, 1),
        // b empties: no copy at 20.
        (vec![s("b"), i(2)], 15, -1),
        (vec![s("a"), i(3)], 30, -1),
    ];
    let ticks = vec![
        (vec![s("day"), i(1)], 5, 1),
        (vec![s("day"), i(2)], 10, 1),
        (vec![s("day"), i(3)], 20, 1),
        // A retracted trigger takes no copy.
        (vec![s("day"), i(3)], 25, -1),
    ];
    let out = run_planned(planned(), vec![stock, ticks]).remove(0);
    assert!(out.iter().all(|(_, _, d)| *d > 0), "copies are never retracted: {out:?}");
    assert_eq!(state_at(&out, 5), vec![copy("a", 5, 1), copy("b", 2, 1)]);
    assert_eq!(
        state_at(&out, 10),
        vec![copy("a", 3, 2), copy("a", 5, 1), copy("b", 2, 1), copy("b", 2, 2)]
    );
    assert_eq!(state_at(&out, 100).len(), 5, "one copy at 20 (a), none after a empties");
    assert!(out.iter().any(|(r, t, _)| *t == 20 && *r == copy("a", 3, 3)));
}

#[test]
fn a_snapshot_column_may_not_shadow_an_input_column_or_be_unknown() {
    let stock = schema(&[("shelf", Type::String), ("units", Type::Int)]);
    let ticks = schema(&[("day", Type::Int)]);
    let config = yaml("input: x\nat: ticks\ncolumns:\n  units: day\n  when: hour\n");
    let errors = (KIND.parse)(config).unwrap().plan("eod", &[stock, ticks]).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 2, "{text:?}");
    assert!(text[0].contains("already a column"), "{text:?}");
    assert!(text[1].contains("hour"), "{text:?}");
}
