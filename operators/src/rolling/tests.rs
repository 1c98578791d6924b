use proptest::prelude::*;

use crate::testing::{i, run_planned, s, schema, state_at, yaml};
use crate::value::{Days, Row, Type, Value};

use super::KIND;

const CONFIG: &str = "input: x
key: [shelf]
date: day
columns:
  last_1d: {function: sum, of: units, days: 1}
  last_3d: {function: sum, of: units, days: 3}
  mean_3d: {function: avg, of: units, days: 3}
  max_3d: {function: max, of: units, days: 3, partial: true}
  count_2d: {function: count, of: units, days: 2, partial: true}
  week_ago: {function: lag, of: units, days: 7}
  through_today: {function: sum, of: units, days: 2, include_today: true}
";

fn daily() -> crate::Schema {
    schema(&[("shelf", Type::String), ("day", Type::Date), ("units", Type::Int)])
}

fn row(shelf: &str, day: Days, units: i64) -> Row {
    vec![s(shelf), Value::Date(day), i(units)]
}

fn planned() -> Box<dyn crate::PlannedOperator> {
    (KIND.parse)(yaml(CONFIG)).unwrap().plan("rolling", &[daily()]).unwrap()
}

/// From scratch: each row of `rows` with its columns computed by reading the whole set.
fn oracle(rows: &[Row]) -> Vec<Row> {
    let on = |shelf: &Value, day: Days| -> Vec<i64> {
        rows.iter()
            .filter(|r| &r[0] == shelf && r[1] == Value::Date(day))
            .map(|r| match r[2] {
                Value::Int(u) => u,
                _ => unreachable!(),
            })
            .collect()
    };
    let window = |shelf: &Value, day: Days, n: Days| -> (Vec<i64>, bool) {
        let days: Vec<Vec<i64>> = (day - n..day).map(|d| on(shelf, d)).collect();
        let full = days.iter().all(|d| !d.is_empty());
        (days.concat(), full)
    };
    let mut out: Vec<Row> = rows
        .iter()
        .map(|r| {
            let Value::Date(day) = r[1] else { unreachable!() };
            let (w1, f1) = window(&r[0], day, 1);
            let (w3, f3) = window(&r[0], day, 3);
            let (w2, _) = window(&r[0], day, 2);
            let full = |f: bool, v: Value| if f { v } else { Value::Null };
            let lag = match on(&r[0], day - 7).as_slice() {
                [u] => i(*u),
                _ => Value::Null,
            };
            let mut r = r.clone();
            r.extend([
                full(f1, i(w1.iter().sum())),
                full(f3, i(w3.iter().sum())),
                full(f3, Value::Float(w3.iter().sum::<i64>() as f64 / w3.len().max(1) as f64)),
                w3.iter().max().map_or(Value::Null, |m| i(*m)),
                i(w2.len() as i64),
                lag,
                {
                    let (w, f) = window(&r[0], day + 1, 2);
                    full(f, i(w.iter().sum()))
                },
            ]);
            r
        })
        .collect();
    out.sort();
    out
}

#[test]
fn columns_are_typed_and_keyed_by_date_and_key() {
    let p = planned();
    let out = &p.outputs()[0].schema;
    let names: Vec<&str> = out.names().collect();
    assert_eq!(
        names,
        [
            "shelf",
            "day",
            "units",
            "last_1d",
            "last_3d",
            "mean_3d",
            "max_3d",
            "count_2d",
            "week_ago",
            "through_today"
        ]
    );
    assert_eq!(out.field(5).ty, Type::Float);
    assert_eq!(out.key, Some(vec![1, 0]), "day first, then the key");
}

#[test]
fn a_late_correction_updates_the_days_after_it() {
    let rows = vec![
        (row("A", 10, 2), 1, 1),
        (row("A", 11, 3), 2, 1),
        (row("A", 12, 4), 3, 1),
        (row("A", 13, 5), 4, 1),
        // Day 11 is corrected from 3 to 30 at time 5.
        (row("A", 11, 3), 5, -1),
        (row("A", 11, 30), 5, 1),
    ];
    let out = run_planned(planned(), vec![rows]).remove(0);
    let at = |t| state_at(&out, t);
    let day13 = |rows: Vec<Row>| rows.into_iter().find(|r| r[1] == Value::Date(13)).unwrap();
    assert_eq!(day13(at(4))[4], i(2 + 3 + 4), "a full 3-day window");
    assert_eq!(day13(at(5))[4], i(2 + 30 + 4), "the correction reaches day 13");
    assert_eq!(day13(at(5))[3], i(4));
    let day12 = at(4).into_iter().find(|r| r[1] == Value::Date(12)).unwrap();
    assert_eq!(day12[4], Value::Null, "days 9..11 lack day 9: not full");
    assert_eq!(day12[6], i(3), "partial max over the days present");
}

#[test]
fn invalid_configs_are_located() {
    let bad =
        "input: x\nkey: [shelf]\ndate: units\ncolumns:\n  a: {function: sum, of: shelf, days: 0}\n";
    let errors = (KIND.parse)(yaml(bad)).unwrap().plan("rolling", &[daily()]).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"date"), "{errors:?}");
    assert!(paths.contains(&"columns.a.days"), "{errors:?}");
    assert!(paths.contains(&"columns.a.of"), "{errors:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever the order and retractions, the output equals the from-scratch computation at
    /// every time.
    #[test]
    fn matches_a_from_scratch_computation(
        ops in prop::collection::vec((0usize..2, 0i32..12, 0i64..5, any::<bool>()), 1..40)
    ) {
        let mut live: Vec<Row> = Vec::new();
        let mut updates = Vec::new();
        for (t, (shelf, day, units, retract)) in ops.into_iter().enumerate() {
            let time = t as u64 + 1;
            if retract && !live.is_empty() {
                let gone = live.remove(units as usize % live.len());
                updates.push((gone, time, -1));
            } else {
                let r = row(["A", "B"][shelf], day, units);
                live.push(r.clone());
                updates.push((r, time, 1));
            }
        }
        let last = updates.last().unwrap().1;
        let out = run_planned(planned(), vec![updates]).remove(0);
        prop_assert_eq!(state_at(&out, last), oracle(&live));
    }
}
