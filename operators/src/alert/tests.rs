use crate::testing::{i, run_planned, s, schema, state_at, yaml};
use crate::value::{Type, Value};

use super::KIND;

fn status() -> crate::Schema {
    let mut sch = schema(&[
        ("shelf_id", Type::String),
        ("current_stock", Type::Int),
        ("maximum_stock", Type::Int),
    ]);
    sch.key = Some(vec![0]);
    sch
}

fn plan(text: &str) -> std::sync::Arc<dyn crate::PlannedOperator> {
    (KIND.parse)(yaml(text)).unwrap().plan("refill", &[status()]).unwrap().into()
}

/// Stock of shelf A over time: 10 → 2 (opens) → 4 (still low) → 6 (clears with hysteresis at 5).
fn stock_changes() -> Vec<crate::testing::Update> {
    let row = |stock: i64| vec![s("A"), i(stock), i(10)];
    vec![
        (row(10), 1, 1),
        (row(10), 2, -1),
        (row(2), 2, 1),
        (row(2), 3, -1),
        (row(4), 3, 1),
        (row(4), 4, -1),
        (row(6), 4, 1),
    ]
}

#[test]
fn opens_once_follows_values_and_resolves_with_hysteresis() {
    let planned =
        plan("input: x\nwhen: current_stock < 0.3 * maximum_stock\nclear_when: current_stock >= 5");
    let out = run_planned(planned, vec![stock_changes()]);
    let (active, history) = (&out[0], &out[1]);
    assert!(state_at(active, 1).is_empty());
    let opened = state_at(active, 2);
    assert_eq!(opened.len(), 1);
    let id = opened[0][0].clone();
    assert_eq!(&opened[0][1..], &[s("refill"), s("A"), Value::Timestamp(2), i(2), i(10)]);
    // Still open at stock 4 (4 >= 0.3 * 10 but < 5), with the current value and the same id.
    assert_eq!(
        state_at(active, 3),
        vec![vec![id.clone(), s("refill"), s("A"), Value::Timestamp(2), i(4), i(10)]]
    );
    assert!(state_at(active, 4).is_empty());
    assert_eq!(
        state_at(history, 3),
        vec![vec![id.clone(), s("refill"), s("A"), Value::Timestamp(2), Value::Null]]
    );
    assert_eq!(
        state_at(history, 4),
        vec![vec![id, s("refill"), s("A"), Value::Timestamp(2), Value::Timestamp(4)]]
    );
}

#[test]
fn without_clear_when_it_resolves_as_soon_as_the_condition_stops() {
    let planned = plan("input: x\nwhen: current_stock < 0.3 * maximum_stock");
    let out = run_planned(planned, vec![stock_changes()]);
    assert!(state_at(&out[0], 3).is_empty(), "4 is not below 3: resolved at time 3");
    let history = state_at(&out[1], 4);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0][4], Value::Timestamp(3));
}

#[test]
fn a_reopened_alert_gets_a_new_stable_id_and_a_removed_key_resolves() {
    let planned = plan("input: x\nwhen: current_stock < 3");
    let row = |stock: i64| vec![s("A"), i(stock), i(10)];
    let input = vec![
        (row(1), 1, 1),
        (row(1), 2, -1),
        (row(5), 2, 1),
        (row(5), 3, -1),
        (row(0), 3, 1),
        (row(0), 4, -1),
    ];
    let first = run_planned(planned.clone(), vec![input.clone()]);
    let again = run_planned(planned, vec![input]);
    assert_eq!(first, again, "same input, same ids");
    let history = state_at(&first[1], 4);
    assert_eq!(history.len(), 2);
    assert_ne!(history[0][0], history[1][0]);
    assert!(
        history.iter().all(|h| !h[4].is_null()),
        "the second alert resolved when the row went away"
    );
}

#[test]
fn needs_a_key_when_the_input_has_none() {
    let mut unkeyed = status();
    unkeyed.key = None;
    let errors = (KIND.parse)(yaml("input: x\nwhen: current_stock < 3"))
        .unwrap()
        .plan("a", &[unkeyed])
        .unwrap_err();
    assert_eq!(errors[0].path, "key");
}

/// Random stock levels for a few shelves, with shelves appearing and disappearing.
fn random_stock(seed: u64) -> Vec<crate::testing::Update> {
    let mut state = seed.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut current: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    let mut updates = Vec::new();
    for time in 1..200u64 {
        let shelf = ["A", "B", "C", "D"][(next() % 4) as usize];
        if let Some(old) = current.remove(shelf) {
            updates.push((vec![s(shelf), i(old), i(10)], time, -1));
        }
        if next() % 8 != 0 {
            let stock = (next() % 11) as i64;
            updates.push((vec![s(shelf), i(stock), i(10)], time, 1));
            current.insert(shelf, stock);
        }
    }
    updates
}

/// The alert history recomputed from scratch: per shelf, the stock after each time, opened below
/// 3 and resolved at 6 or more (or when the shelf disappears).
fn history_oracle(updates: &[crate::testing::Update]) -> Vec<(Value, Value, Value)> {
    let mut by_shelf: std::collections::BTreeMap<Value, Vec<(u64, Option<i64>)>> =
        Default::default();
    for t in crate::testing::times(updates) {
        let rows = state_at(updates, t);
        for shelf in ["A", "B", "C", "D"] {
            let now = rows.iter().find(|r| r[0] == s(shelf)).map(|r| r[1].as_int().unwrap());
            by_shelf.entry(s(shelf)).or_default().push((t, now));
        }
    }
    let mut history = Vec::new();
    for (shelf, levels) in by_shelf {
        let mut open: Option<u64> = None;
        for (t, level) in levels {
            match (open, level) {
                (None, Some(l)) if l < 3 => open = Some(t),
                (Some(o), None) => {
                    history.push((
                        shelf.clone(),
                        Value::Timestamp(o as i64),
                        Value::Timestamp(t as i64),
                    ));
                    open = None;
                }
                (Some(o), Some(l)) if l >= 6 => {
                    history.push((
                        shelf.clone(),
                        Value::Timestamp(o as i64),
                        Value::Timestamp(t as i64),
                    ));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(o) = open {
            history.push((shelf, Value::Timestamp(o as i64), Value::Null));
        }
    }
    history.sort();
    history
}

#[test]
fn history_matches_a_from_scratch_recomputation() {
    let planned = plan("input: x\nwhen: current_stock < 3\nclear_when: current_stock >= 6");
    for seed in 0..8 {
        let input = random_stock(seed);
        let out = run_planned(planned.clone(), vec![input.clone()]);
        let end = *crate::testing::times(&input).last().unwrap();
        let mut actual: Vec<(Value, Value, Value)> = state_at(&out[1], end)
            .into_iter()
            .map(|h| (h[2].clone(), h[3].clone(), h[4].clone()))
            .collect();
        actual.sort();
        assert_eq!(actual, history_oracle(&input), "seed {seed}");
        let mut open: Vec<Value> =
            state_at(&out[0], end).into_iter().map(|a| a[2].clone()).collect();
        open.sort();
        let expected_open: Vec<Value> =
            history_oracle(&input).into_iter().filter(|h| h.2.is_null()).map(|h| h.0).collect();
        assert_eq!(open, expected_open, "seed {seed}: active alerts are the unresolved ones");
    }
}
