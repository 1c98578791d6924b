use std::collections::BTreeMap;

use crate::testing::{i, run_planned, s, schema, state_at, times, yaml, Update};
use crate::value::{Row, Type, Value};

use super::KIND;

fn moves() -> crate::Schema {
    let mut schema = schema(&[
        ("shelf_id", Type::String),
        ("delta", Type::Int),
        ("customer_id", Type::String),
        ("ts", Type::Timestamp),
        ("price", Type::Float),
    ]);
    schema.event_time = Some(3);
    schema
}

/// A deterministic stream of insertions and retractions over a few shelves.
fn random_updates(seed: u64, n: usize) -> Vec<Update> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as i64
    };
    let mut live: Vec<Row> = Vec::new();
    let mut updates = Vec::new();
    for step in 0..n {
        let time = (step / 3) as u64 + 1;
        if !live.is_empty() && next() % 3 == 0 {
            let row = live.remove((next() as usize) % live.len());
            updates.push((row, time, -1));
        } else {
            let row = vec![
                s(["A", "B", "C"][(next() % 3) as usize]),
                if next() % 7 == 0 { Value::Null } else { i(next() % 11 - 5) },
                s(["c1", "c2", "c3", "c4"][(next() % 4) as usize]),
                Value::Timestamp(next() % 1000),
                Value::Float((next() % 100) as f64 / 4.0),
            ];
            live.push(row.clone());
            updates.push((row, time, 1));
        }
    }
    updates
}

/// Recomputes the aggregate from scratch over a multiset of input rows.
fn oracle(rows: &[Row]) -> Vec<Row> {
    let mut groups: BTreeMap<Value, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        groups.entry(r[0].clone()).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(shelf, rs)| {
            let deltas: Vec<i64> = rs.iter().filter_map(|r| r[1].as_int()).collect();
            let sum = if deltas.is_empty() { Value::Null } else { i(deltas.iter().sum()) };
            let mut customers: Vec<&Value> = rs.iter().map(|r| &r[2]).collect();
            customers.sort();
            customers.dedup();
            let last = rs.iter().map(|r| (&r[3], &r[4])).max().map(|(_, p)| p.clone()).unwrap();
            let min_delta = deltas.iter().min().map_or(Value::Null, |m| i(*m));
            vec![shelf, sum, i(rs.len() as i64), i(customers.len() as i64), last, min_delta]
        })
        .collect()
}

fn plan(text: &str) -> std::sync::Arc<dyn crate::PlannedOperator> {
    (KIND.parse)(yaml(text)).unwrap().plan("op", &[moves()]).unwrap().into()
}

#[test]
fn sample_parses() {
    (KIND.parse)(yaml(KIND.sample)).unwrap();
}

#[test]
fn matches_a_from_scratch_recomputation_at_every_time() {
    let planned = plan(
        "input: x\ngroup_by: [shelf_id]\naggregates:\n  stock: sum(delta)\n  n: count(*)\n  customers: count(DISTINCT customer_id)\n  last_price: last(price)\n  min_delta: min(delta)",
    );
    for seed in 0..5 {
        let input = random_updates(seed, 300);
        let out = run_planned(planned.clone(), vec![input.clone()]).remove(0);
        for t in times(&input) {
            let mut expected = oracle(&state_at(&input, t));
            expected.sort();
            assert_eq!(state_at(&out, t), expected, "seed {seed} time {t}");
        }
    }
}

#[test]
fn abelian_path_matches_the_oracle_and_removes_empty_groups() {
    let planned = plan("input: x\ngroup_by: [shelf_id]\naggregates:\n  stock: sum(delta)\n  n: count(*)\n  with_delta: count(delta)\n  mean: avg(delta)");
    for seed in 0..5 {
        let input = random_updates(seed, 300);
        let out = run_planned(planned.clone(), vec![input.clone()]).remove(0);
        for t in times(&input) {
            let rows = state_at(&input, t);
            let mut expected: Vec<Row> = oracle(&rows)
                .into_iter()
                .map(|r| {
                    let group: Vec<&Row> = rows.iter().filter(|x| x[0] == r[0]).collect();
                    let non_null: Vec<i64> = group.iter().filter_map(|x| x[1].as_int()).collect();
                    let mean = if non_null.is_empty() {
                        Value::Null
                    } else {
                        Value::Float(non_null.iter().sum::<i64>() as f64 / non_null.len() as f64)
                    };
                    vec![r[0].clone(), r[1].clone(), r[2].clone(), i(non_null.len() as i64), mean]
                })
                .collect();
            expected.sort();
            assert_eq!(state_at(&out, t), expected, "seed {seed} time {t}");
        }
    }
}

#[test]
fn sum_over_a_string_is_a_type_mismatch() {
    let errors =
        (KIND.parse)(yaml("input: x\ngroup_by: [shelf_id]\naggregates: {total: sum(customer_id)}"))
            .unwrap()
            .plan("op", &[moves()])
            .unwrap_err();
    assert_eq!(errors[0].path, "aggregates.total");
    assert_eq!(
        errors[0].message,
        "type mismatch: aggregate `sum` needs a numeric argument, found string"
    );
}

#[test]
fn unknown_aggregate_and_group_column_are_both_reported() {
    let errors =
        (KIND.parse)(yaml("input: x\ngroup_by: [shelf]\naggregates: {total: summ(delta)}"))
            .unwrap()
            .plan("op", &[moves()])
            .unwrap_err();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].hint.as_deref(), Some("did you mean `shelf_id`?"));
    assert_eq!(errors[1].message, "unknown aggregate `summ`");
    assert_eq!(errors[1].hint.as_deref(), Some("did you mean `sum`?"));
}
