use std::collections::BTreeMap;
use std::sync::Arc;

use crate::sequential::testing::run_planned_on;
use crate::testing::{i, run_planned, s, schema, state_at, times, yaml, Update};
use crate::value::{Row, Schema, Type, Value};
use crate::PlannedOperator;

use super::KIND;

/// `shelf_id, current_stock, maximum_stock`, keyed by shelf.
fn levels() -> Schema {
    let mut sch = schema(&[
        ("shelf_id", Type::String),
        ("current_stock", Type::Int),
        ("maximum_stock", Type::Int),
    ]);
    sch.key = Some(vec![0]);
    sch
}

/// `shelf_id, plan_id, stage, quantity, timestamp` (event time).
fn progress() -> Schema {
    let mut sch = schema(&[
        ("shelf_id", Type::String),
        ("plan_id", Type::String),
        ("stage", Type::String),
        ("quantity", Type::Int),
        ("timestamp", Type::Timestamp),
    ]);
    sch.event_time = Some(4);
    sch
}

const CONFIG: &str = "levels: shelf_status
progress: restock_progress
key: [shelf_id]
stock: current_stock
capacity: maximum_stock
threshold_pct: 30
target_pct: 100
progress_columns:
  plan_id: plan_id
  stage: stage
  quantity: quantity
";

fn plan(text: &str) -> Arc<dyn PlannedOperator> {
    (KIND.parse)(yaml(text)).unwrap().plan("refill", &[levels(), progress()]).unwrap().into()
}

/// Shelf `shelf` goes from one stock level to the next at the given times (capacity 10).
fn level_changes(shelf: &str, levels: &[(u64, i64)]) -> Vec<Update> {
    let mut updates = Vec::new();
    let mut previous: Option<i64> = None;
    for &(time, stock) in levels {
        if let Some(old) = previous {
            updates.push((vec![s(shelf), i(old), i(10)], time, -1));
        }
        updates.push((vec![s(shelf), i(stock), i(10)], time, 1));
        previous = Some(stock);
    }
    updates
}

fn event(shelf: &str, plan_id: &Value, stage: &str, quantity: i64, ts: i64) -> Row {
    vec![s(shelf), plan_id.clone(), s(stage), i(quantity), Value::Timestamp(ts)]
}

/// Plan rows at `time` as `(plan_id, status, requested, picked, delivered, stock_at_creation,
/// created_at, picked_at, delivered_at, updated_at)` without the key.
fn plans(out: &[Update], time: u64) -> Vec<Row> {
    state_at(out, time)
        .into_iter()
        .map(|mut r| {
            r.remove(1);
            r
        })
        .collect()
}

fn ts(t: i64) -> Value {
    Value::Timestamp(t)
}

#[test]
fn the_sample_plans_against_a_matching_schema() {
    let config = (KIND.parse)(yaml(KIND.sample)).unwrap();
    let outputs = config.plan("refill", &[levels(), progress()]).unwrap().outputs();
    let names: Vec<&str> = outputs[0].schema.names().collect();
    assert_eq!(
        names,
        [
            "plan_id",
            "shelf_id",
            "status",
            "requested_qty",
            "picked_qty",
            "delivered_qty",
            "stock_at_creation",
            "created_at",
            "picked_at",
            "delivered_at",
            "updated_at"
        ]
    );
    assert_eq!(outputs[0].schema.key, Some(vec![0]));
    assert_eq!(outputs[1].suffix, Some("ignored"));
}

#[test]
fn one_plan_stays_open_under_repeated_low_stock() {
    let input = level_changes("A", &[(1, 10), (2, 2), (3, 1), (4, 0), (5, 2)]);
    let out = run_planned(plan(CONFIG), vec![input, vec![]]);
    assert!(out[0].iter().all(|u| u.1 == 2), "only the opening changes the plans");
    let opened = plans(&out[0], 5);
    assert_eq!(opened.len(), 1);
    assert_eq!(
        &opened[0][1..],
        &[s("pending"), i(8), i(0), i(0), i(2), ts(2), Value::Null, Value::Null, ts(2)],
        "requested ceil(10 * 100%) - 2"
    );
}

#[test]
fn a_plan_goes_through_picked_to_delivered_and_a_new_one_may_open_at_once() {
    let planned = plan(CONFIG);
    let levels = level_changes("A", &[(1, 2)]);
    let first = run_planned(planned.clone(), vec![levels.clone(), vec![]]);
    let id = plans(&first[0], 1)[0][0].clone();
    let progress = vec![
        (event("A", &id, "picked", 8, 30), 3, 1),
        (event("A", &id, "delivered", 5, 40), 4, 1),
        // Same tick: the rest is delivered, and the stock is still low (no level change).
        (event("A", &id, "delivered", 3, 50), 5, 1),
    ];
    let out = run_planned(planned, vec![levels, progress]);
    assert_eq!(
        &plans(&out[0], 3)[0][1..5],
        &[s("picked"), i(8), i(8), i(0)],
        "picked with its quantity"
    );
    assert_eq!(plans(&out[0], 3)[0][7], ts(3), "picked_at");
    assert_eq!(&plans(&out[0], 4)[0][1..5], &[s("picked"), i(8), i(8), i(5)]);
    let at_5 = plans(&out[0], 5);
    assert_eq!(at_5.len(), 2, "the delivered plan stays; a new one opened");
    let closed = at_5.iter().find(|p| p[0] == id).unwrap();
    assert_eq!(&closed[1..], &[s("delivered"), i(8), i(8), i(8), i(2), ts(1), ts(3), ts(5), ts(5)]);
    let reopened = at_5.iter().find(|p| p[0] != id).unwrap();
    assert_eq!(&reopened[1..3], &[s("pending"), i(8)]);
    assert_eq!(reopened[6], ts(5), "created at the closing time");
    assert!(out[1].is_empty());
}

#[test]
fn delivered_before_picked_within_a_tick_still_closes_the_plan() {
    let planned = plan(CONFIG);
    // The shelf is refilled to 9 in the same tick: levels apply before progress, so no new plan.
    let levels = level_changes("A", &[(1, 2), (3, 9)]);
    let id = plans(&run_planned(planned.clone(), vec![levels.clone(), vec![]])[0], 1)[0][0].clone();
    let progress =
        vec![(event("A", &id, "delivered", 6, 31), 3, 1), (event("A", &id, "picked", 6, 32), 3, 1)];
    let out = run_planned(planned, vec![levels, progress]);
    let at_3 = plans(&out[0], 3);
    assert_eq!(at_3.len(), 1, "the stock is not low any more");
    assert_eq!(&at_3[0][1..5], &[s("delivered"), i(8), i(6), i(6)]);
}

#[test]
fn min_qty_and_number_literals() {
    let config = CONFIG
        .replace("capacity: maximum_stock", "capacity: '100'")
        .replace("threshold_pct: 30", "threshold_pct: 10\nmin_qty: 15");
    let input = vec![(vec![s("A"), i(12), i(10)], 1, 1)];
    let out = run_planned(plan(&config), vec![input, vec![]]);
    let opened = plans(&out[0], 1);
    assert_eq!(&opened[0][1..3], &[s("pending"), i(88)], "12 < 15 units; up to 100");
}

#[test]
fn no_plan_when_the_target_is_already_met() {
    let config = CONFIG.replace("target_pct: 100", "target_pct: 10");
    let out = run_planned(plan(&config), vec![level_changes("A", &[(1, 1)]), vec![]]);
    assert!(out[0].is_empty(), "ceil(10 * 10%) - 1 = 0 units to restock");
}

#[test]
fn unusable_progress_is_ignored_with_a_reason() {
    let planned = plan(CONFIG);
    let levels = level_changes("A", &[(1, 2)]);
    let id = plans(&run_planned(planned.clone(), vec![levels.clone(), vec![]])[0], 1)[0][0].clone();
    let mut null_quantity = event("A", &id, "picked", 0, 20);
    null_quantity[3] = Value::Null;
    let progress = vec![
        (event("A", &id, "counted", 1, 20), 2, 1),
        (event("A", &s("nope"), "picked", 1, 20), 2, 1),
        (null_quantity, 2, 1),
        (event("A", &id, "picked", 8, 30), 3, 1),
        (event("A", &id, "picked", 8, 30), 4, -1),
    ];
    let out = run_planned(planned, vec![levels, progress]);
    let mut reasons: Vec<(u64, Value)> = out[1].iter().map(|u| (u.1, u.0[5].clone())).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            (2, s("null_quantity")),
            (2, s("unknown_plan")),
            (2, s("unknown_stage")),
            (4, s("retracted")),
        ]
    );
    assert_eq!(
        &plans(&out[0], 4)[0][1..4],
        &[s("picked"), i(8), i(8)],
        "retraction undoes nothing"
    );
}

#[test]
fn config_errors_are_all_reported_with_hints() {
    let config = CONFIG
        .replace("stock: current_stock", "stock: shelf_id")
        .replace("capacity: maximum_stock", "capacity: maximum_stok")
        .replace("target_pct: 100", "target_pct: '100%'")
        .replace("quantity: quantity", "quantity: stage");
    let mut progress = progress();
    progress.fields[0].name = "shelf".to_owned();
    let errors =
        (KIND.parse)(yaml(&config)).unwrap().plan("refill", &[levels(), progress]).unwrap_err();
    let found: Vec<(&str, &str, Option<&str>)> =
        errors.iter().map(|e| (e.path.as_str(), e.message.as_str(), e.hint.as_deref())).collect();
    assert_eq!(
        found,
        vec![
            (
                "key[0]",
                "unknown column `shelf_id` in `restock_progress`",
                Some("did you mean `shelf`?")
            ),
            ("stock", "type mismatch: expected an int column, found string", None),
            ("capacity", "unknown column `maximum_stok`", Some("did you mean `maximum_stock`?")),
            (
                "target_pct",
                "unknown column `100%`",
                Some("available columns: shelf_id, current_stock, maximum_stock")
            ),
            (
                "progress_columns.quantity",
                "type mismatch: expected an int column, found string",
                None
            ),
        ]
    );
    let bad = (KIND.parse)(yaml(&CONFIG.replace("threshold_pct: 30", "threshold_pct: [30]")))
        .unwrap_err();
    assert_eq!(bad.path, "threshold_pct");
    assert!(bad.message.contains("a column name or a number"), "{}", bad.message);
}

/// Random levels for shelves A..D and progress for plans that may or may not exist (ids
/// derived like the operator's from a random earlier time).
fn random_inputs(seed: u64) -> Vec<Vec<Update>> {
    let mut state = seed.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let namespace = uuid::Uuid::from_u128(0x7c3a_52e1_0b9d_4f6e_8a14_d2c5_91e0_3b77);
    let mut current: BTreeMap<&str, i64> = BTreeMap::new();
    let mut changed: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let (mut levels, mut progress) = (Vec::new(), Vec::new());
    for time in 1..150u64 {
        let shelf = ["A", "B", "C", "D"][(next() % 4) as usize];
        if let Some(old) = current.remove(shelf) {
            levels.push((vec![s(shelf), i(old), i(10)], time, -1));
        }
        let stock = (next() % 11) as i64;
        levels.push((vec![s(shelf), i(stock), i(10)], time, 1));
        current.insert(shelf, stock);
        changed.entry(shelf).or_default().push(time);
        for _ in 0..(next() % 4) {
            let shelf = ["A", "B", "C", "D"][(next() % 4) as usize];
            // Plans open when levels change (or when a plan closes): guess among recent changes.
            let Some(recent) = changed.get(shelf) else { continue };
            let created = recent[recent.len() - 1 - (next() as usize % recent.len().min(3))];
            let id = crate::sequential::stable_id(&namespace, "refill", &[s(shelf)], created);
            let stage = ["picked", "delivered", "delivered"][(next() % 3) as usize];
            let quantity = (1 + next() % 6) as i64;
            progress.push((event(shelf, &id, stage, quantity, (time * 10) as i64), time, 1));
        }
    }
    vec![levels, progress]
}

#[test]
fn at_most_one_plan_is_open_per_key_and_results_do_not_depend_on_workers() {
    let planned = plan(CONFIG);
    let mut delivered = 0;
    for seed in 0..4 {
        let inputs = random_inputs(seed);
        let one = run_planned(planned.clone(), inputs.clone());
        for time in times(&one[0]) {
            let mut open: BTreeMap<Value, usize> = BTreeMap::new();
            for plan in state_at(&one[0], time) {
                if plan[2] != s("delivered") {
                    *open.entry(plan[1].clone()).or_default() += 1;
                } else {
                    delivered += 1;
                }
            }
            assert!(open.values().all(|n| *n == 1), "seed {seed}, time {time}: {open:?}");
        }
        assert_eq!(run_planned_on(2, planned.clone(), inputs.clone()), one, "seed {seed}");
        assert_eq!(run_planned_on(3, planned.clone(), inputs), one, "seed {seed}");
    }
    assert!(delivered > 0, "some plans complete");
}
