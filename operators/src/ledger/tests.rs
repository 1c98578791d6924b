use std::collections::BTreeMap;
use std::sync::Arc;

use crate::sequential::testing::run_planned_on;
use crate::testing::{i, run_planned, s, schema, state_at, times, yaml, Update};
use crate::value::{Row, Schema, Type, Value};
use crate::PlannedOperator;

use super::KIND;

/// `shelf_id, batch_code, quantity, expiry_date, received_date, timestamp` (event time).
fn movements() -> Schema {
    let mut sch = schema(&[
        ("shelf_id", Type::String),
        ("batch_code", Type::String),
        ("quantity", Type::Int),
        ("expiry_date", Type::Date),
        ("received_date", Type::Date),
        ("timestamp", Type::Timestamp),
    ]);
    sch.event_time = Some(5);
    sch
}

const CONFIG: &str = "input: stock_movements
key: [shelf_id]
batch: batch_code
quantity: quantity
expiry: expiry_date
";

fn plan(text: &str) -> Arc<dyn PlannedOperator> {
    (KIND.parse)(yaml(text)).unwrap().plan("ledger", &[movements()]).unwrap().into()
}

fn date(days: i32) -> Value {
    Value::Date(days)
}

/// A movement of shelf A at event time `ts`.
fn mv(batch: Option<&str>, quantity: i64, expiry: Option<i32>, ts: i64) -> Row {
    vec![
        s("A"),
        batch.map_or(Value::Null, s),
        i(quantity),
        expiry.map_or(Value::Null, date),
        Value::Null,
        Value::Timestamp(ts),
    ]
}

/// `(batch_code, expiry_date, quantity)` of shelf A's batches at `time`.
fn batches(out: &[Update], time: u64) -> Vec<(Value, Value, i64)> {
    state_at(out, time)
        .into_iter()
        .map(|r| (r[1].clone(), r[2].clone(), r[3].as_int().unwrap()))
        .collect()
}

/// `(reason, shortfall)` of the rejected movements at exactly `time`.
fn rejected_at(out: &[Update], time: u64) -> Vec<(Value, Value, isize)> {
    out.iter().filter(|u| u.1 == time).map(|(r, _, d)| (r[6].clone(), r[7].clone(), *d)).collect()
}

#[test]
fn the_sample_plans_against_a_matching_schema() {
    let config = (KIND.parse)(yaml(KIND.sample)).unwrap();
    let planned = config.plan("ledger", &[movements()]).unwrap();
    let outputs = planned.outputs();
    let names: Vec<&str> = outputs[0].schema.names().collect();
    assert_eq!(
        names,
        ["shelf_id", "batch_code", "expiry_date", "received_date", "quantity", "updated_at"]
    );
    assert_eq!(outputs[0].schema.key, Some(vec![0, 1]));
    assert_eq!(outputs[1].suffix, Some("rejected"));
    let rejected: Vec<&str> = outputs[1].schema.names().collect();
    assert_eq!(&rejected[6..], ["reason", "shortfall"]);
}

#[test]
fn unbatched_takes_consume_first_expiry_first_out() {
    let input = vec![
        (mv(Some("B1"), 5, Some(20), 1), 1, 1),
        (mv(Some("B2"), 5, Some(10), 1), 1, 1),
        (mv(Some("B3"), 5, None, 1), 1, 1),
        (mv(Some("B0"), 5, Some(10), 1), 1, 1),
        (mv(None, -12, None, 2), 2, 1),
    ];
    let out = run_planned(plan(CONFIG), vec![input]);
    assert_eq!(
        batches(&out[0], 2),
        vec![(s("B1"), date(20), 3), (s("B3"), Value::Null, 5)],
        "B0 then B2 (same expiry, by code), then 2 from B1; NULL expiry last"
    );
    let changed: Vec<&Update> = out[0].iter().filter(|u| u.1 == 2 && u.2 > 0).collect();
    assert_eq!(changed.len(), 1, "only B1 changes and stays");
    assert_eq!(changed[0].0[4], Value::Timestamp(2), "updated_at is the time of the change");
    assert!(out[1].is_empty());
}

#[test]
fn unbatched_additions_go_to_the_first_batch_or_an_unbatched_lot() {
    let input = vec![
        (mv(None, 4, Some(30), 1), 1, 1),
        (mv(Some("B1"), 2, Some(10), 2), 2, 1),
        (mv(None, 3, Some(99), 3), 3, 1),
    ];
    let out = run_planned(plan(CONFIG), vec![input]);
    assert_eq!(batches(&out[0], 1), vec![(Value::Null, date(30), 4)], "no batch yet: a lot");
    assert_eq!(
        batches(&out[0], 3),
        vec![(Value::Null, date(30), 4), (s("B1"), date(10), 5)],
        "added to B1, the first by expiry; its expiry stays"
    );
}

#[test]
fn a_shortfall_is_rejected_and_changes_nothing() {
    let input = vec![
        (mv(Some("B1"), 3, Some(10), 1), 1, 1),
        (mv(Some("B2"), 4, Some(20), 1), 1, 1),
        (mv(Some("B1"), -5, None, 2), 2, 1),
        (mv(None, -9, None, 3), 3, 1),
        (mv(Some("NOPE"), -1, None, 4), 4, 1),
        (
            vec![s("A"), Value::Null, Value::Null, Value::Null, Value::Null, Value::Timestamp(5)],
            5,
            1,
        ),
    ];
    let out = run_planned(plan(CONFIG), vec![input]);
    assert_eq!(batches(&out[0], 5), vec![(s("B1"), date(10), 3), (s("B2"), date(20), 4)]);
    assert_eq!(rejected_at(&out[1], 2), vec![(s("insufficient_batch"), i(2), 1)]);
    assert_eq!(rejected_at(&out[1], 3), vec![(s("insufficient_stock"), i(2), 1)]);
    assert_eq!(rejected_at(&out[1], 4), vec![(s("insufficient_batch"), i(1), 1)]);
    assert_eq!(rejected_at(&out[1], 5), vec![(s("null_quantity"), Value::Null, 1)]);
    assert_eq!(out[1][0].0[..6], mv(Some("B1"), -5, None, 2)[..], "the input columns come first");
}

#[test]
fn a_retraction_applies_the_inverse_movement_and_emptied_batches_disappear() {
    let receipt = mv(Some("B1"), 5, Some(10), 1);
    let sale = mv(None, -2, None, 2);
    let input = vec![
        (receipt.clone(), 1, 1),
        (sale.clone(), 2, 1),
        (sale, 3, -1),
        (receipt.clone(), 4, -1),
        (mv(None, -1, None, 5), 5, 1),
        (receipt, 6, -1),
    ];
    let out = run_planned(plan(CONFIG), vec![input]);
    assert_eq!(batches(&out[0], 2), vec![(s("B1"), date(10), 3)]);
    assert_eq!(batches(&out[0], 3), vec![(s("B1"), date(10), 5)], "the sale is undone");
    assert!(batches(&out[0], 4).is_empty(), "the receipt is undone: B1 is empty and gone");
    assert_eq!(rejected_at(&out[1], 5), vec![(s("insufficient_stock"), i(1), 1)]);
    assert_eq!(
        rejected_at(&out[1], 6),
        vec![(s("insufficient_batch"), i(5), 1)],
        "undoing a receipt a second time has nothing to take back"
    );
}

#[test]
fn a_multiplicity_applies_the_movement_that_many_times() {
    let input = vec![(mv(Some("B1"), 12, Some(10), 1), 1, 1), (mv(None, -5, None, 2), 2, 3)];
    let out = run_planned(plan(CONFIG), vec![input]);
    assert_eq!(batches(&out[0], 2), vec![(s("B1"), date(10), 2)], "two of three takes fit");
    assert_eq!(rejected_at(&out[1], 2), vec![(s("insufficient_stock"), i(3), 1)]);
}

#[test]
fn movements_of_one_time_apply_in_order_by_event_time() {
    // The sale happens before the receipt within the same tick: it finds nothing.
    let early_sale = vec![(mv(Some("B1"), 5, Some(10), 20), 1, 1), (mv(None, -5, None, 10), 1, 1)];
    let out = run_planned(plan(CONFIG), vec![early_sale]);
    assert_eq!(batches(&out[0], 1), vec![(s("B1"), date(10), 5)]);
    assert_eq!(rejected_at(&out[1], 1), vec![(s("insufficient_stock"), i(5), 1)]);
    // Receipt first: the sale is served.
    let late_sale = vec![(mv(Some("B1"), 5, Some(10), 10), 1, 1), (mv(None, -5, None, 20), 1, 1)];
    let out = run_planned(plan(CONFIG), vec![late_sale]);
    assert!(out[0].is_empty() && out[1].is_empty());
    // At the same instant, the receipt is booked first, whatever the rows look like.
    let same_instant =
        vec![(mv(None, -5, None, 10), 1, 1), (mv(Some("B1"), 5, Some(10), 10), 1, 1)];
    let out = run_planned(plan(CONFIG), vec![same_instant]);
    assert!(out[0].is_empty() && out[1].is_empty());
    // Without event time nor `order_by`, receipts still come first, then the whole row decides.
    let mut unordered = movements();
    unordered.event_time = None;
    let planned: Arc<dyn PlannedOperator> =
        (KIND.parse)(yaml(CONFIG)).unwrap().plan("ledger", &[unordered]).unwrap().into();
    let input = vec![(mv(Some("B1"), 5, Some(10), 20), 1, 1), (mv(None, -5, None, 10), 1, 1)];
    assert!(run_planned(planned, vec![input])[1].is_empty());
}

#[test]
fn received_dates_are_carried_when_configured() {
    let planned = plan(&format!("{CONFIG}received: received_date\n"));
    let mut row = mv(Some("B1"), 5, Some(10), 1);
    row[4] = date(3);
    let out = run_planned(planned, vec![vec![(row, 1, 1)]]);
    assert_eq!(
        state_at(&out[0], 1),
        vec![vec![s("A"), s("B1"), date(10), date(3), i(5), Value::Timestamp(1)]]
    );
}

#[test]
fn config_errors_are_all_reported_with_hints() {
    let errors = (KIND.parse)(yaml(
        "input: m\nkey: [shelf]\nbatch: quantity\nquantity: batch_code\nexpiry: timestamp\nreceived: recieved_date\norder_by: timestmp",
    ))
    .unwrap()
    .plan("ledger", &[movements()])
    .unwrap_err();
    let found: Vec<(&str, &str, Option<&str>)> =
        errors.iter().map(|e| (e.path.as_str(), e.message.as_str(), e.hint.as_deref())).collect();
    assert_eq!(
        found,
        vec![
            ("key[0]", "unknown column `shelf`", Some("did you mean `shelf_id`?")),
            ("batch", "type mismatch: expected a string column, found int", None),
            ("quantity", "type mismatch: expected an int column, found string", None),
            ("expiry", "type mismatch: expected a date column, found timestamp", None),
            ("received", "unknown column `recieved_date`", Some("did you mean `received_date`?")),
            ("order_by", "unknown column `timestmp`", Some("did you mean `timestamp`?")),
        ]
    );
    let unknown_key = (KIND.parse)(yaml(&format!("{CONFIG}batches: x"))).unwrap_err();
    assert_eq!(unknown_key.path, "batches");
    assert_eq!(unknown_key.hint.as_deref(), Some("did you mean `batch`?"));
}

#[test]
fn output_columns_may_not_be_duplicated() {
    // A key column named like an output column, and an input column named like a rejected one.
    let mut sch = movements();
    sch.fields[4].name = "reason".to_owned();
    sch.fields.push(crate::Field::new("updated_at", Type::Int, true));
    let config = CONFIG.replace("[shelf_id]", "[shelf_id, updated_at]");
    let errors = (KIND.parse)(yaml(&config)).unwrap().plan("ledger", &[sch]).unwrap_err();
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "duplicate column `updated_at`: the ledger adds it",
            "duplicate column `reason`: the ledger's `rejected` output adds it"
        ]
    );
}

/// Random movements for shelves A and B: receipts into batches with fixed expiries, unbatched
/// sales and removals, some several in one tick, and retractions of earlier rows.
fn random_movements(seed: u64) -> Vec<Update> {
    let mut state = seed.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut updates: Vec<Update> = Vec::new();
    let mut live: Vec<Row> = Vec::new();
    for time in 1..120u64 {
        for _ in 0..(next() % 3) {
            let shelf = ["A", "B"][(next() % 2) as usize];
            let batch = ["B1", "B2", "B3", ""][(next() % 4) as usize];
            let expiry = match batch {
                "B1" => date(10),
                "B2" => date(5),
                "B3" => Value::Null,
                _ => date((next() % 20) as i32),
            };
            let quantity = match next() % 5 {
                0 | 1 => (1 + next() % 6) as i64,
                _ => -((1 + next() % 4) as i64),
            };
            let row = vec![
                s(shelf),
                if batch.is_empty() { Value::Null } else { s(batch) },
                i(quantity),
                expiry,
                Value::Null,
                Value::Timestamp((time * 10 + next() % 3) as i64),
            ];
            updates.push((row.clone(), time, 1));
            live.push(row);
        }
        if !live.is_empty() && next() % 6 == 0 {
            let row = live.swap_remove((next() % live.len() as u64) as usize);
            updates.push((row, time, -1));
        }
    }
    updates
}

/// The ledger recomputed from scratch: every movement of every time in processing order.
/// Returns, per time, the batches `(shelf, code, expiry, quantity)` and the accepted sum per
/// shelf.
#[allow(clippy::type_complexity)]
fn ledger_oracle(
    updates: &[Update],
) -> BTreeMap<u64, (Vec<(Value, Value, Value, i64)>, BTreeMap<Value, i64>)> {
    // shelf -> code -> (expiry, quantity)
    let mut ledgers: BTreeMap<Value, Vec<(Value, Value, i64)>> = BTreeMap::new();
    let mut accepted: BTreeMap<Value, i64> = BTreeMap::new();
    let mut result = BTreeMap::new();
    for time in times(updates) {
        // A row added and retracted within one time never happened.
        let mut consolidated: BTreeMap<&Row, isize> = BTreeMap::new();
        for (row, _, diff) in updates.iter().filter(|u| u.1 == time) {
            *consolidated.entry(row).or_default() += diff;
        }
        let mut now: Vec<(&Row, isize)> = consolidated
            .into_iter()
            .filter(|(_, d)| *d != 0)
            .flat_map(|(row, d)| std::iter::repeat_n((row, d.signum()), d.unsigned_abs()))
            .collect();
        // Receipts before issues at one instant.
        let outflow = |(row, d): &(&Row, isize)| (row[2].as_int().unwrap() > 0) != (*d > 0);
        now.sort_by(|a, b| {
            (&a.0[5], outflow(a), a.1 < 0, a.0).cmp(&(&b.0[5], outflow(b), b.1 < 0, b.0))
        });
        for (row, diff) in now {
            let lots = ledgers.entry(row[0].clone()).or_default();
            let movement = row[2].as_int().unwrap() * diff.signum() as i64;
            let code = &row[1];
            let fefo = |lots: &mut Vec<(Value, Value, i64)>| {
                lots.sort_by(|a, b| (a.1.is_null(), &a.1, &a.0).cmp(&(b.1.is_null(), &b.1, &b.0)))
            };
            let ok = if movement > 0 {
                let found = lots.iter().position(|l| !code.is_null() && l.0 == *code);
                match found {
                    Some(at) => lots[at].2 += movement,
                    None if code.is_null() && !lots.is_empty() => {
                        fefo(lots);
                        lots[0].2 += movement;
                    }
                    None => lots.push((code.clone(), row[3].clone(), movement)),
                }
                true
            } else if !code.is_null() {
                match lots.iter_mut().find(|l| l.0 == *code) {
                    Some(lot) if lot.2 >= -movement => {
                        lot.2 += movement;
                        true
                    }
                    _ => false,
                }
            } else if lots.iter().map(|l| l.2).sum::<i64>() >= -movement {
                fefo(lots);
                let mut left = -movement;
                for lot in lots.iter_mut() {
                    let take = left.min(lot.2);
                    lot.2 -= take;
                    left -= take;
                }
                true
            } else {
                false
            };
            lots.retain(|l| l.2 > 0);
            if ok {
                *accepted.entry(row[0].clone()).or_default() += movement;
            }
        }
        let mut all: Vec<(Value, Value, Value, i64)> = ledgers
            .iter()
            .flat_map(|(shelf, lots)| {
                lots.iter().map(move |l| (shelf.clone(), l.0.clone(), l.1.clone(), l.2))
            })
            .collect();
        all.sort();
        result.insert(time, (all, accepted.clone()));
    }
    result
}

#[test]
fn batches_match_a_from_scratch_recomputation_at_every_time() {
    let planned = plan(CONFIG);
    for seed in 0..10 {
        let input = random_movements(seed);
        let out = run_planned(planned.clone(), vec![input.clone()]);
        assert!(!out[1].is_empty(), "seed {seed}: some movements are rejected");
        for (time, (expected, accepted)) in ledger_oracle(&input) {
            let mut actual: Vec<(Value, Value, Value, i64)> = state_at(&out[0], time)
                .into_iter()
                .map(|r| (r[0].clone(), r[1].clone(), r[2].clone(), r[3].as_int().unwrap()))
                .collect();
            actual.sort();
            assert_eq!(actual, expected, "seed {seed}, time {time}");
            // The invariant: per key, the quantities sum to the accepted movements.
            for (shelf, sum) in accepted {
                let held: i64 = actual.iter().filter(|b| b.0 == shelf).map(|b| b.3).sum();
                assert_eq!(held, sum, "seed {seed}, time {time}, shelf {shelf}");
                assert!(actual.iter().all(|b| b.3 > 0));
            }
        }
    }
}

#[test]
fn without_retractions_stock_is_input_minus_rejected() {
    let planned = plan(CONFIG);
    let input: Vec<Update> = random_movements(42).into_iter().filter(|u| u.2 > 0).collect();
    let out = run_planned(planned, vec![input.clone()]);
    let end = *times(&input).last().unwrap();
    let moved: i64 = input.iter().map(|u| u.0[2].as_int().unwrap()).sum();
    let rejected: i64 = state_at(&out[1], end).iter().map(|r| r[2].as_int().unwrap()).sum();
    let held: i64 = state_at(&out[0], end).iter().map(|r| r[3].as_int().unwrap()).sum();
    assert_eq!(held, moved - rejected);
}

#[test]
fn results_do_not_depend_on_the_number_of_workers() {
    let planned = plan(CONFIG);
    for seed in 0..3 {
        let input = random_movements(seed);
        let one = run_planned(planned.clone(), vec![input.clone()]);
        assert_eq!(run_planned_on(2, planned.clone(), vec![input.clone()]), one, "seed {seed}");
        assert_eq!(run_planned_on(3, planned.clone(), vec![input]), one, "seed {seed}");
    }
}
