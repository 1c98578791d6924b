use std::collections::BTreeMap;
use std::sync::Arc;

use crate::sequential::testing::run_planned_on;
use crate::testing::{i, run_planned, s, schema, state_at, times, yaml, Update};
use crate::value::{Row, Schema, Type, Value};
use crate::PlannedOperator;

use super::KIND;

/// `shelf_id, on_hand, capacity, batch_size, demand`, keyed by shelf.
fn levels() -> Schema {
    let mut sch = schema(&[
        ("shelf_id", Type::String),
        ("on_hand", Type::Int),
        ("capacity", Type::Int),
        ("batch_size", Type::Int),
        ("demand", Type::Float),
    ]);
    sch.key = Some(vec![0]);
    sch
}

/// Calendar cutoffs: `kind, delivery_at`.
fn triggers() -> Schema {
    schema(&[("kind", Type::String), ("delivery_at", Type::Timestamp)])
}

/// `shelf_id, order_id, quantity, timestamp` (event time).
fn receipts() -> Schema {
    let mut sch = schema(&[
        ("shelf_id", Type::String),
        ("order_id", Type::String),
        ("quantity", Type::Int),
        ("timestamp", Type::Timestamp),
    ]);
    sch.event_time = Some(3);
    sch
}

const CONFIG: &str = "levels: position
triggers: cutoffs
receipts: wh_in
key: [shelf_id]
on_hand: on_hand
capacity: capacity
batch_size: batch_size
demand: demand
reorder_cover_days: 3
order_up_to_days: 7
trigger_columns:
  delivery_at: delivery_at
receipt_columns:
  order_id: order_id
  quantity: quantity
";

fn plan(text: &str) -> Arc<dyn PlannedOperator> {
    (KIND.parse)(yaml(text))
        .unwrap()
        .plan("supplier", &[levels(), triggers(), receipts()])
        .unwrap()
        .into()
}

fn level(shelf: &str, on_hand: i64, capacity: i64, batch: i64, demand: f64) -> Row {
    vec![s(shelf), i(on_hand), i(capacity), i(batch), Value::Float(demand)]
}

fn cutoff(time: u64) -> Update {
    (vec![s("cutoff"), Value::Timestamp(time as i64 + 100)], time, 1)
}

fn receipt(shelf: &str, order_id: &Value, quantity: i64, time: u64) -> Update {
    (vec![s(shelf), order_id.clone(), i(quantity), Value::Timestamp(time as i64)], time, 1)
}

fn ts(t: i64) -> Value {
    Value::Timestamp(t)
}

/// Orders at `time` without the key: `order_id, status, quantity, batches, batch_size,
/// cutoff_at, delivery_at, on_hand, on_order, demand_per_day, received_qty, received_at,
/// updated_at`.
fn orders(out: &[Update], time: u64) -> Vec<Row> {
    state_at(out, time)
        .into_iter()
        .map(|mut r| {
            r.remove(1);
            r
        })
        .collect()
}

#[test]
fn the_sample_plans_against_a_matching_schema() {
    let mut levels = levels();
    for (n, name) in ["warehouse_stock", "warehouse_capacity", "batch_size", "units_per_day"]
        .into_iter()
        .enumerate()
    {
        levels.fields[n + 1].name = name.to_owned();
    }
    let config = (KIND.parse)(yaml(KIND.sample)).unwrap();
    let outputs = config.plan("supplier", &[levels, triggers(), receipts()]).unwrap().outputs();
    let names: Vec<&str> = outputs[0].schema.names().collect();
    assert_eq!(
        names,
        [
            "order_id",
            "shelf_id",
            "status",
            "quantity",
            "batches",
            "batch_size",
            "cutoff_at",
            "delivery_at",
            "on_hand",
            "on_order",
            "demand_per_day",
            "received_qty",
            "received_at",
            "updated_at"
        ]
    );
    assert_eq!(outputs[0].schema.key, Some(vec![0]));
    assert_eq!(outputs[1].suffix, Some("ignored"));
}

#[test]
fn orders_only_at_cutoffs_in_whole_batches() {
    // Reorder point ceil(2 * 3) = 6, order up to 14: 12 wanted, 3 batches of 5.
    let levels = vec![(level("A", 2, 100, 5, 2.0), 1, 1)];
    let out = run_planned(plan(CONFIG), vec![levels.clone(), vec![], vec![]]);
    assert!(out[0].is_empty(), "no cutoff, no order");
    let out = run_planned(plan(CONFIG), vec![levels, vec![cutoff(5)], vec![]]);
    assert!(out[0].iter().all(|u| u.1 == 5));
    let issued = orders(&out[0], 5);
    assert_eq!(
        &issued[0][1..],
        &[
            s("issued"),
            i(15),
            i(3),
            i(5),
            ts(5),
            ts(105),
            i(2),
            i(0),
            Value::Float(2.0),
            i(0),
            Value::Null,
            ts(5)
        ]
    );
}

#[test]
fn the_order_is_capped_to_whole_batches_that_fit() {
    let levels = vec![(level("A", 2, 14, 5, 2.0), 1, 1)];
    let out = run_planned(plan(CONFIG), vec![levels, vec![cutoff(2)], vec![]]);
    assert_eq!(&orders(&out[0], 2)[0][2..4], &[i(10), i(2)], "floor((14 - 2) / 5) = 2 batches");
    let full = vec![(level("A", 2, 6, 5, 2.0), 1, 1)];
    let out = run_planned(plan(CONFIG), vec![full, vec![cutoff(2)], vec![]]);
    assert!(out[0].is_empty(), "not one batch fits");
}

#[test]
fn no_order_while_the_position_covers_the_reorder_point() {
    let planned = plan(CONFIG);
    let levels = vec![
        (level("A", 2, 100, 5, 2.0), 1, 1),
        (level("A", 2, 100, 5, 2.0), 7, -1),
        (level("A", 17, 100, 5, 2.0), 7, 1),
        (level("A", 17, 100, 5, 2.0), 9, -1),
        (level("A", 5, 100, 5, 2.0), 9, 1),
    ];
    let triggers = vec![cutoff(2), cutoff(4), cutoff(8), cutoff(10)];
    let first = run_planned(planned.clone(), vec![levels.clone(), triggers.clone(), vec![]]);
    let id = orders(&first[0], 2)[0][0].clone();
    let out = run_planned(planned, vec![levels, triggers, vec![receipt("A", &id, 15, 7)]]);
    assert_eq!(orders(&out[0], 4).len(), 1, "at 4: 2 on hand + 15 on order >= 6");
    let at_8 = orders(&out[0], 8);
    assert_eq!(at_8.len(), 1, "at 8: 17 on hand >= 6");
    assert_eq!(
        &at_8[0][1..],
        &[
            s("delivered"),
            i(15),
            i(3),
            i(5),
            ts(2),
            ts(102),
            i(2),
            i(0),
            Value::Float(2.0),
            i(15),
            ts(7),
            ts(7)
        ]
    );
    let at_10 = orders(&out[0], 10);
    assert_eq!(at_10.len(), 2, "at 10: 5 on hand < 6, nothing on order");
    let new = at_10.iter().find(|o| o[0] != id).unwrap();
    assert_eq!(&new[1..3], &[s("issued"), i(10)], "14 - 5 = 9 wanted: 2 batches");
}

#[test]
fn one_order_per_key_and_cutoff_and_only_for_keys_with_levels() {
    let levels = vec![
        (level("A", 0, 100, 5, 2.0), 1, 1),
        (level("B", 0, 100, 5, 2.0), 3, 1),
        (level("C", 0, 100, 5, 2.0), 3, 1),
        (level("C", 0, 100, 5, 2.0), 3, -1),
    ];
    let triggers =
        vec![cutoff(2), (vec![s("cutoff"), ts(999)], 2, 1), (vec![s("cutoff"), ts(5)], 2, -1)];
    let out = run_planned(plan(CONFIG), vec![levels, triggers, vec![]]);
    let all = state_at(&out[0], 3);
    assert_eq!(all.len(), 1, "B arrived after the cutoff, C has no level: {all:?}");
    assert_eq!(all[0][1], s("A"));
    assert_eq!(all[0][7], ts(102), "the first cutoff row in row order gives the delivery");
}

#[test]
fn receipts_accumulate_and_unusable_ones_are_ignored() {
    let planned = plan(CONFIG);
    let levels = vec![(level("A", 2, 100, 5, 2.0), 1, 1)];
    let first = run_planned(planned.clone(), vec![levels.clone(), vec![cutoff(2)], vec![]]);
    let id = orders(&first[0], 2)[0][0].clone();
    let mut null_quantity = receipt("A", &id, 0, 3);
    null_quantity.0[2] = Value::Null;
    let receipts = vec![
        receipt("A", &id, 10, 4),
        receipt("A", &id, 5, 6),
        receipt("A", &s("nope"), 5, 6),
        null_quantity,
        (receipt("A", &id, 10, 4).0, 8, -1),
    ];
    let out = run_planned(planned, vec![levels, vec![cutoff(2)], receipts]);
    let at_8 = orders(&out[0], 8);
    assert_eq!(at_8.len(), 1);
    assert_eq!(&at_8[0][1..3], &[s("delivered"), i(15)]);
    assert_eq!(&at_8[0][10..], &[i(15), ts(6), ts(6)], "received 10 + 5, last at 6");
    let mut reasons: Vec<(u64, Value)> = out[1].iter().map(|u| (u.1, u.0[4].clone())).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![(3, s("null_quantity")), (6, s("unknown_order")), (8, s("retracted"))]
    );
}

#[test]
fn fractional_demand_does_not_round_up_on_float_noise() {
    // 0.1 * 30 is 3.0000000000000004 in floating point: the reorder point is 3 units; 0.1 * 70
    // is 7.000000000000001: up to 7 units.
    let config = CONFIG
        .replace("reorder_cover_days: 3", "reorder_cover_days: 30")
        .replace("order_up_to_days: 7", "order_up_to_days: 70");
    let at_three = vec![(level("A", 3, 100, 1, 0.1), 1, 1)];
    let out = run_planned(plan(&config), vec![at_three, vec![cutoff(2)], vec![]]);
    assert!(out[0].is_empty());
    let at_two = vec![(level("A", 2, 100, 1, 0.1), 1, 1)];
    let out = run_planned(plan(&config), vec![at_two, vec![cutoff(2)], vec![]]);
    assert_eq!(orders(&out[0], 2)[0][2], i(5), "7 - 2");
}

#[test]
fn config_errors_are_all_reported_with_hints() {
    let config = CONFIG
        .replace("batch_size: batch_size", "batch_size: 0")
        .replace("demand: demand", "demand: demnd")
        .replace("delivery_at: delivery_at", "delivery_at: kind")
        .replace("order_id: order_id", "order_id: quantity");
    let errors = (KIND.parse)(yaml(&config))
        .unwrap()
        .plan("supplier", &[levels(), triggers(), receipts()])
        .unwrap_err();
    let found: Vec<(&str, &str, Option<&str>)> =
        errors.iter().map(|e| (e.path.as_str(), e.message.as_str(), e.hint.as_deref())).collect();
    assert_eq!(
        found,
        vec![
            ("batch_size", "expected a positive number, found 0", None),
            ("demand", "unknown column `demnd`", Some("did you mean `demand`?")),
            (
                "trigger_columns.delivery_at",
                "type mismatch: expected a timestamp column, found string",
                None
            ),
            (
                "receipt_columns.order_id",
                "type mismatch: expected a string column, found int",
                None
            ),
        ]
    );
}

/// Random levels for shelves A..D, cutoffs, and receipts for orders that may exist (ids derived
/// like the operator's from a recent cutoff).
fn random_inputs(seed: u64) -> Vec<Vec<Update>> {
    let mut state = seed.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let namespace = uuid::Uuid::from_u128(0x2d8e_64b0_93f1_4a27_b5c6_0f7e_1a9d_c348);
    let mut current: BTreeMap<&str, Row> = BTreeMap::new();
    let (mut levels, mut triggers, mut receipts) = (Vec::new(), Vec::new(), Vec::new());
    let mut cutoffs: Vec<u64> = Vec::new();
    for time in 1..150u64 {
        let shelf = ["A", "B", "C", "D"][(next() % 4) as usize];
        if let Some(old) = current.remove(shelf) {
            levels.push((old, time, -1));
        }
        if next() % 6 != 0 {
            let row = level(shelf, (next() % 30) as i64, 40, 1 + (next() % 6) as i64, 2.5);
            levels.push((row.clone(), time, 1));
            current.insert(shelf, row);
        }
        if next() % 4 == 0 {
            triggers.push(cutoff(time));
            cutoffs.push(time);
        }
        if !cutoffs.is_empty() && next() % 2 == 0 {
            let shelf = ["A", "B", "C", "D"][(next() % 4) as usize];
            let at = cutoffs[cutoffs.len() - 1 - (next() as usize % cutoffs.len().min(3))];
            let id = crate::sequential::stable_id(&namespace, "supplier", &[s(shelf)], at);
            receipts.push(receipt(shelf, &id, (1 + next() % 20) as i64, time));
        }
    }
    vec![levels, triggers, receipts]
}

#[test]
fn orders_follow_the_rules_and_do_not_depend_on_workers() {
    let planned = plan(CONFIG);
    let mut delivered = 0;
    for seed in 0..4 {
        let inputs = random_inputs(seed);
        let one = run_planned(planned.clone(), inputs.clone());
        let cutoffs: Vec<u64> = inputs[1].iter().map(|u| u.1).collect();
        let end = *times(&inputs[0]).last().unwrap();
        let all = state_at(&one[0], end);
        let mut per_cutoff: BTreeMap<(Value, Value), usize> = BTreeMap::new();
        for order in &all {
            let quantity = order[3].as_int().unwrap();
            let batch = order[5].as_int().unwrap();
            assert!(quantity > 0 && quantity % batch == 0, "whole batches: {order:?}");
            assert_eq!(order[4], i(quantity / batch));
            let Value::Timestamp(cut) = order[6] else { panic!("cutoff_at") };
            assert!(cutoffs.contains(&(cut as u64)), "ordered at a cutoff: {order:?}");
            let position = order[8].as_int().unwrap() + order[9].as_int().unwrap();
            assert!(position < 8, "below ceil(2.5 * 3) = 8: {order:?}");
            assert!(position + quantity <= 40, "fits the capacity: {order:?}");
            *per_cutoff.entry((order[1].clone(), order[6].clone())).or_default() += 1;
            delivered += usize::from(order[2] == s("delivered"));
        }
        assert!(per_cutoff.values().all(|n| *n == 1), "one order per key and cutoff");
        assert_eq!(run_planned_on(2, planned.clone(), inputs.clone()), one, "seed {seed}");
        assert_eq!(run_planned_on(3, planned.clone(), inputs), one, "seed {seed}");
    }
    assert!(delivered > 0, "some orders are received");
}

/// `shelf_id, feature_date, horizon_day, forecast_units, error_units`.
fn forecasts() -> Schema {
    schema(&[
        ("shelf_id", Type::String),
        ("feature_date", Type::Date),
        ("horizon_day", Type::Int),
        ("forecast_units", Type::Float),
        ("error_units", Type::Float),
    ])
}

fn forecast_plan(demand_from: &str) -> Arc<dyn PlannedOperator> {
    let text = format!(
        "{CONFIG}forecast: demand_forecast\nforecast_columns: {{origin: feature_date, \
         horizon_day: horizon_day, units: forecast_units, error: error_units}}\n\
         demand_from: {demand_from}\nsafety_factor: 2\n"
    );
    (KIND.parse)(yaml(&text))
        .unwrap()
        .plan("supplier", &[levels(), triggers(), receipts(), forecasts()])
        .unwrap()
        .into()
}

const DAY: u64 = crate::value::MICROS_PER_DAY as u64;

/// Seven days of forecast made at the end of day 9: `units[h-1]` units with error 2 each day.
fn week(units: [f64; 7], time: u64) -> Vec<Update> {
    (1..=7)
        .map(|h| {
            let row = vec![
                s("a"),
                Value::Date(9),
                i(h),
                Value::Float(units[h as usize - 1]),
                Value::Float(2.0),
            ];
            (row, time, 1)
        })
        .collect()
}

/// The quantity ordered at the cutoff, if any.
fn ordered(planned: Arc<dyn PlannedOperator>, forecast: Vec<Update>) -> Option<(i64, f64)> {
    let at = 10 * DAY + DAY / 2;
    let position = vec![(level("a", 10, 1000, 6, 1.0), 1, 1)];
    let out = run_planned(planned, vec![position, vec![cutoff(at)], Vec::new(), forecast]);
    let rows = orders(&out[0], at);
    rows.first().map(|r| match (&r[2], &r[9]) {
        (Value::Int(q), Value::Float(d)) => (*q, *d),
        other => panic!("{other:?}"),
    })
}

#[test]
fn with_demand_from_forecast_it_orders_up_to_the_forecast_plus_safety_stock() {
    // Cutoff on day 10, forecast made at the end of day 9: day 10 is horizon day 1.
    // Cover 3 days: 4 + 5 + 6 = 15 units, safety 2 × √(3 × 2²) = 6.93 → reorder point 22 > 10.
    // Up to 7 days: 4+5+6+7+8+9+10 = 49, safety 2 × √(7 × 2²) = 10.58 → 60 units; want 60 − 10
    // = 50 → 9 batches of 6 = 54.
    let forecast = week([4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 1);
    let (quantity, per_day) = ordered(forecast_plan("forecast"), forecast.clone()).unwrap();
    assert_eq!(quantity, 54);
    assert!((per_day - 7.0).abs() < 1e-9, "49 units over 7 days: {per_day}");
    // With `history`, the forecast is ignored: demand 1/day, 3-day cover = 3 units < 10 on hand.
    assert_eq!(ordered(forecast_plan("history"), forecast), None);
}

#[test]
fn a_key_without_a_complete_forecast_falls_back_to_its_demand_column() {
    // No forecast: 1 unit/day, reorder point 3, 10 on hand: no order.
    assert_eq!(ordered(forecast_plan("forecast"), Vec::new()), None);
    // A forecast missing horizon day 4 is not complete either.
    let mut gappy = week([40.0; 7], 1);
    gappy.remove(3);
    assert_eq!(ordered(forecast_plan("forecast"), gappy), None);
    // Days past the horizon repeat it: 10-day cover of 1 unit/day beyond a 7-day horizon.
    let busy = week([40.0; 7], 1);
    assert!(ordered(forecast_plan("forecast"), busy).is_some());
}

#[test]
fn demand_from_forecast_needs_a_forecast_input() {
    let text = format!("{CONFIG}demand_from: forecast\n");
    let errors = (KIND.parse)(yaml(&text))
        .unwrap()
        .plan("supplier", &[levels(), triggers(), receipts()])
        .unwrap_err();
    assert!(errors[0].to_string().contains("needs a `forecast` input"), "{errors:?}");
}
