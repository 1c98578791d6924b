use crate::testing::{i, run_planned, s, schema, state_at, yaml};
use crate::value::{Type, Value};

use super::KIND;

fn events() -> crate::Schema {
    let mut sch =
        schema(&[("event_id", Type::String), ("ts", Type::Timestamp), ("qty", Type::Int)]);
    sch.event_time = Some(1);
    sch
}

#[test]
fn duplicate_deliveries_count_once_and_the_earliest_copy_wins() {
    let planned =
        (KIND.parse)(yaml("input: x\nby: [event_id]")).unwrap().plan("op", &[events()]).unwrap();
    let late_copy = vec![s("e1"), Value::Timestamp(20), i(9)];
    let first = vec![s("e1"), Value::Timestamp(10), i(1)];
    let input = vec![
        (late_copy.clone(), 1, 1),
        (first.clone(), 2, 1),
        (vec![s("e2"), Value::Timestamp(5), i(2)], 2, 1),
        (first, 3, -1),
    ];
    let out = run_planned(planned, vec![input]).remove(0);
    assert_eq!(state_at(&out, 1), vec![late_copy.clone()]);
    assert_eq!(
        state_at(&out, 2),
        vec![vec![s("e1"), Value::Timestamp(10), i(1)], vec![s("e2"), Value::Timestamp(5), i(2)]]
    );
    // When the earlier copy is retracted, the remaining one takes over.
    assert_eq!(state_at(&out, 3), vec![late_copy, vec![s("e2"), Value::Timestamp(5), i(2)]]);
}

#[test]
fn whole_row_distinct_collapses_multiplicities() {
    let planned = (KIND.parse)(yaml("input: x")).unwrap().plan("op", &[events()]).unwrap();
    let row = vec![s("e1"), Value::Timestamp(1), i(1)];
    let out = run_planned(planned, vec![vec![(row.clone(), 1, 3), (row.clone(), 2, -3)]]).remove(0);
    assert_eq!(state_at(&out, 1), vec![row]);
    assert!(state_at(&out, 2).is_empty());
}
