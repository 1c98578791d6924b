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

#[test]
fn retention_is_planned_against_the_input_and_its_errors_come_with_the_others() {
    let plan = |extra: &str| {
        (KIND.parse)(yaml(&format!(
            "input: x\ngroup_by: [shelf_id]\naggregates: {{n: count(*)}}\n{extra}"
        )))
        .unwrap()
        .plan("op", &[moves()])
    };
    let planned = plan("retention: 2m\nretention_by: ts").unwrap();
    let retention = planned.input_retention().unwrap();
    assert_eq!((retention.after, retention.by), (120_000_000, Some(3)));
    assert_eq!(plan("retention: 90d").unwrap().input_retention().unwrap().by, None);
    assert!(plan("").unwrap().input_retention().is_none());
    let message = |extra: &str| plan(extra).unwrap_err()[0].message.clone();
    assert_eq!(message("retention_by: ts"), "`retention_by` without `retention`");
    assert_eq!(message("retention: 0s"), "expected a positive duration, found 0");
    assert_eq!(
        message("retention: 1d\nretention_by: delta"),
        "`delta` is int: retention counts from a timestamp or date column"
    );
    let both = (KIND.parse)(yaml(
        "input: x\naggregates: {t: sum(customer_id)}\nretention: 1d\nretention_by: tss",
    ))
    .unwrap()
    .plan("op", &[moves()])
    .unwrap_err();
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[1].path, "retention_by");
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

/// Population and sample variance of `xs`, two-pass from scratch.
fn variances(xs: &[f64]) -> (Option<f64>, Option<f64>) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (None, None);
    }
    let mean = xs.iter().sum::<f64>() / n;
    let squares: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
    (Some(squares / n), (xs.len() > 1).then(|| squares / (n - 1.0)))
}

fn close(got: &Value, want: Option<f64>) -> bool {
    match (got, want) {
        (Value::Null, None) => true,
        (Value::Float(g), Some(w)) => (g - w).abs() <= 1e-9 * w.abs().max(1.0),
        _ => false,
    }
}

#[test]
fn statistics_match_a_from_scratch_recomputation_at_every_time() {
    let planned = plan(
        "input: x\ngroup_by: [shelf_id]\naggregates:\n  vp: var_pop(delta)\n  vs: var_samp(delta)\n  sp: stddev_pop(price)\n  ss: stddev(price)\n  top: max(delta)\n  earliest: first(customer_id)\n  total: sum(price)\n  mean_price: avg(price)",
    );
    for seed in 0..5 {
        let input = random_updates(seed, 400);
        let out = run_planned(planned.clone(), vec![input.clone()]).remove(0);
        for t in times(&input) {
            let rows = state_at(&input, t);
            let got = state_at(&out, t);
            let mut shelves: Vec<&Value> = rows.iter().map(|r| &r[0]).collect();
            shelves.sort();
            shelves.dedup();
            assert_eq!(
                got.len(),
                shelves.len(),
                "one row per non-empty group, seed {seed} time {t}"
            );
            for row in &got {
                let group: Vec<&Row> = rows.iter().filter(|r| r[0] == row[0]).collect();
                let deltas: Vec<f64> = group.iter().filter_map(|r| r[1].as_f64()).collect();
                let prices: Vec<f64> = group.iter().filter_map(|r| r[4].as_f64()).collect();
                let (vp, vs) = variances(&deltas);
                let (pp, ps) = variances(&prices);
                assert!(
                    close(&row[1], vp) && close(&row[2], vs),
                    "variances {row:?} seed {seed} t {t}"
                );
                assert!(
                    close(&row[3], pp.map(f64::sqrt)) && close(&row[4], ps.map(f64::sqrt)),
                    "stddevs {row:?}"
                );
                let top = group.iter().filter_map(|r| r[1].as_int()).max().map_or(Value::Null, i);
                assert_eq!(row[5], top, "max, seed {seed} t {t}");
                let earliest = group.iter().map(|r| (&r[3], &r[2])).min().map(|(_, c)| c.clone());
                assert_eq!(Some(row[6].clone()), earliest, "first, seed {seed} t {t}");
                // Float sums are exact: the correctly rounded sum, whatever the order of changes.
                let exact: f64 = prices.iter().map(|p| p * 4.0).sum::<f64>() / 4.0;
                assert_eq!(
                    row[7],
                    Value::Float(exact),
                    "sum of quarters is exact, seed {seed} t {t}"
                );
                assert!(close(&row[8], Some(exact / prices.len() as f64)), "avg {row:?}");
            }
        }
    }
}

#[test]
fn a_change_in_a_large_group_costs_the_same_as_in_a_small_one() {
    // 20,000 distinct values in one group, each added then half removed: the incremental states
    // give the answer a from-scratch count would, and max follows removals of the maximum.
    let planned =
        plan("input: x\naggregates:\n  n: count(DISTINCT customer_id)\n  top: max(delta)");
    let mut input = Vec::new();
    for k in 0..20_000i64 {
        input.push((
            vec![s("A"), i(k), s(&format!("c{k}")), Value::Timestamp(k), Value::Float(0.0)],
            1 + k as u64,
            1,
        ));
    }
    for k in (10_000..20_000i64).rev() {
        let row = vec![s("A"), i(k), s(&format!("c{k}")), Value::Timestamp(k), Value::Float(0.0)];
        input.push((row, 30_000 + (20_000 - k) as u64, -1));
    }
    let out = run_planned(planned, vec![input]).remove(0);
    assert_eq!(state_at(&out, 20_000), vec![vec![i(20_000), i(19_999)]]);
    assert_eq!(state_at(&out, 40_000), vec![vec![i(10_000), i(9_999)]]);
}

/// Percentiles of `xs` from scratch, as PostgreSQL defines them, with exact rational positions.
fn percentiles(mut xs: Vec<f64>, p_tenths: i64) -> (Option<f64>, Option<f64>) {
    if xs.is_empty() {
        return (None, None);
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as i64;
    let rank = ((p_tenths * n + 9) / 10).max(1);
    let disc = xs[(rank - 1) as usize];
    let (low, rest) = ((p_tenths * (n - 1)) / 10, (p_tenths * (n - 1)) % 10);
    let cont = if rest == 0 {
        xs[low as usize]
    } else {
        let (a, b) = (xs[low as usize], xs[low as usize + 1]);
        a + (rest as f64 / 10.0) * (b - a)
    };
    (Some(cont), Some(disc))
}

#[test]
fn percentiles_match_a_from_scratch_recomputation_at_every_time() {
    let planned = plan(
        "input: x\ngroup_by: [shelf_id]\naggregates:\n  med: median(delta)\n  p70: percentile_cont(price, 0.7)\n  d70: percentile_disc(price, 0.7)\n  d0: percentile_disc(delta, 0)\n  c1: percentile_cont(delta, 1)\n  dc: percentile_disc(customer_id, 0.5)",
    );
    for seed in 0..5 {
        let input = random_updates(seed, 400);
        let out = run_planned(planned.clone(), vec![input.clone()]).remove(0);
        for t in times(&input) {
            let rows = state_at(&input, t);
            for row in &state_at(&out, t) {
                let group: Vec<&Row> = rows.iter().filter(|r| r[0] == row[0]).collect();
                let deltas: Vec<f64> = group.iter().filter_map(|r| r[1].as_f64()).collect();
                let prices: Vec<f64> = group.iter().filter_map(|r| r[4].as_f64()).collect();
                let (med, _) = percentiles(deltas.clone(), 5);
                let (p70, d70) = percentiles(prices, 7);
                let (_, d0) = percentiles(deltas.clone(), 0);
                let (c1, _) = percentiles(deltas, 10);
                let at = format!("seed {seed} t {t}: {row:?}");
                assert!(close(&row[1], med), "median {at}");
                assert!(close(&row[2], p70), "percentile_cont {at}");
                assert_eq!(row[3].as_f64(), d70, "percentile_disc {at}");
                assert_eq!(row[4].as_f64(), d0, "percentile_disc at 0 {at}");
                assert!(close(&row[5], c1), "percentile_cont at 1 {at}");
                let mut customers: Vec<&Value> = group.iter().map(|r| &r[2]).collect();
                customers.sort();
                let rank = customers.len().div_ceil(2);
                assert_eq!(&row[6], customers[rank.max(1) - 1], "disc over strings {at}");
            }
        }
    }
}

#[test]
fn percentile_fractions_are_checked_when_planning() {
    for (call, message) in [
        ("percentile_cont(delta, 1.5)", "needs a constant fraction between 0 and 1"),
        ("percentile_cont(delta, price)", "needs a constant fraction between 0 and 1"),
        ("percentile_disc(delta)", "takes 2 argument(s), found 1"),
        ("median(customer_id)", "needs a numeric argument, found string"),
        ("percentile_cont(customer_id, 0.5)", "needs a numeric argument, found string"),
    ] {
        let errors = (KIND.parse)(yaml(&format!("input: x\naggregates: {{p: \"{call}\"}}")))
            .unwrap()
            .plan("op", &[moves()])
            .unwrap_err();
        assert!(errors[0].message.contains(message), "{call}: {}", errors[0].message);
    }
}

#[test]
fn an_integer_sum_beyond_64_bits_stops_the_run_and_cancels_back_exactly() {
    let planned = plan("input: x\naggregates:\n  total: sum(delta)");
    let row = |d: i64| vec![s("A"), i(d), s("c"), Value::Timestamp(0), Value::Float(0.0)];
    // Intermediate values are exact: MAX + 1 - 1 at one time is MAX, not an overflow.
    let input = vec![(row(i64::MAX), 1, 1), (row(1), 2, 1), (row(-1), 2, 1)];
    let out = run_planned(planned.clone(), vec![input]).remove(0);
    assert_eq!(state_at(&out, 2), vec![vec![i(i64::MAX)]]);
    let input = vec![(row(i64::MAX), 1, 1), (row(1), 2, 1)];
    let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_planned(planned, vec![input])
    }));
    let message = *stopped.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.contains("aggregate column `total`: integer overflow: the sum 9223372036854775808 does not fit in an int"),
        "{message}"
    );
}
