use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use shelfflow_operators::value::{Days, Micros, Type, MICROS_PER_DAY};
use shelfflow_operators::{Row, Value};

use super::ledger::PickIndex;
use super::{traffic, Feedback, World, WorldConfig};
use crate::simulator::events::Stream;
use crate::simulator::reference::{Batch, Location, Reference, Shelf, WeeklyDiscount};

const MINUTE: Micros = 60_000_000;
const HOUR: Micros = 60 * MINUTE;

fn date(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(day)
}

fn day_number(d: NaiveDate) -> Days {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as Days
}

/// A store of `n` shelves: every third perishable, two store and two warehouse batches each,
/// some expiring in the first days.
fn reference(n: usize) -> Reference {
    let mut shelves = Vec::new();
    let mut store_batches = Vec::new();
    let mut warehouse_batches = Vec::new();
    let mut weekly_discounts = Vec::new();
    let mut code = 0;
    let mut batch = |shelf_id: &str, received: i64, expiry: i64, quantity: i64, location| {
        code += 1;
        Batch {
            shelf_id: shelf_id.to_owned(),
            batch_code: format!("B{code:07}"),
            received_date: date(received),
            expiry_date: date(expiry),
            quantity,
            location,
        }
    };
    for i in 0..n {
        let shelf_id = format!("TST{:04}", i + 1);
        let perishable = i % 3 == 0;
        let capacity = 40 + (i as i64 * 7) % 60;
        let store = capacity * 7 / 10;
        let batch_size = 12;
        let warehouse_capacity = batch_size * (4 + i as i64 % 4);
        let warehouse = if i % 5 == 4 { 0 } else { batch_size * 2 };
        let (short, long) = if perishable { (1 + i as i64 % 3, 6) } else { (200, 400) };
        store_batches.push(batch(&shelf_id, -3, short, store / 2, Location::Store));
        store_batches.push(batch(&shelf_id, -1, long, store - store / 2, Location::Store));
        if warehouse > 0 {
            warehouse_batches.push(batch(
                &shelf_id,
                -5,
                short + 1,
                batch_size,
                Location::Warehouse,
            ));
            warehouse_batches.push(batch(&shelf_id, -2, long, batch_size, Location::Warehouse));
        }
        if i % 4 == 1 {
            weekly_discounts.push(WeeklyDiscount {
                week_index: 0,
                week_start: NaiveDate::from_ymd_opt(2025, 12, 29).unwrap(),
                shelf_id: shelf_id.clone(),
                discount_pct: 0.2,
            });
        }
        shelves.push(Shelf {
            shelf_id,
            aisle: 1 + i as i64 % 5,
            item_category: "Test".into(),
            item_subcategory: "Test".into(),
            perishable,
            item_weight: 100 + 50 * (i as i64 % 7),
            item_price: 1.0 + (i as f64) * 0.37,
            item_visibility: 0.05 + 0.15 * ((i * 37 % 100) as f64 / 100.0),
            standard_batch_size: batch_size,
            store_capacity: capacity,
            store_stock: store,
            warehouse_capacity,
            warehouse_stock: warehouse,
        });
    }
    Reference { start_date: date(0), shelves, store_batches, warehouse_batches, weekly_discounts }
}

fn config(seed: u64, days: u32, customers: f64) -> WorldConfig {
    WorldConfig { seed, days, base_daily_customers: customers, ..WorldConfig::default() }
}

type Events = Vec<(Stream, Row)>;

fn run(world: &mut World, until: Micros, step: Micros) -> Events {
    let mut events = Vec::new();
    let mut t = world.now();
    while t < until {
        t = (t + step).min(until);
        world.advance(t, &mut |stream, row| events.push((stream, row)));
    }
    events
}

fn field(stream: Stream, row: &Row, name: &str) -> Value {
    row[stream.index_of(name).unwrap()].clone()
}

fn int(stream: Stream, row: &Row, name: &str) -> i64 {
    field(stream, row, name).as_int().unwrap()
}

fn string(stream: Stream, row: &Row, name: &str) -> String {
    field(stream, row, name).as_str().unwrap().to_owned()
}

fn time(stream: Stream, row: &Row) -> Micros {
    match row[stream.time_index()] {
        Value::Timestamp(t) => t,
        ref other => panic!("timestamp expected, got {other:?}"),
    }
}

/// Feedback fed before the run: plans and orders for the future, a discount and some noise.
fn scripted_feedback(start: Micros) -> Vec<Feedback> {
    let mut feedback = Vec::new();
    for (i, shelf) in ["TST0002", "TST0005", "TST0010"].into_iter().enumerate() {
        feedback.push(Feedback::RestockPlan {
            plan_id: format!("plan-{i}"),
            shelf_id: shelf.into(),
            quantity: 30,
            created_at: start + (10 + i as i64) * HOUR,
        });
        feedback.push(Feedback::SupplierOrder {
            order_id: format!("order-{i}"),
            shelf_id: shelf.into(),
            quantity: 24,
            delivery_at: start + 32 * HOUR,
        });
    }
    feedback.push(Feedback::Discount {
        shelf_id: "TST0003".into(),
        date: day_number(date(0)),
        discount: 0.4,
    });
    feedback
}

#[test]
fn small_steps_and_one_step_give_the_same_events() {
    let reference = reference(20);
    let mut whole = World::new(config(7, 3, 60.0), reference.clone());
    let mut stepped = World::new(config(7, 3, 60.0), reference);
    for feedback in scripted_feedback(whole.now()) {
        whole.feed(feedback.clone());
        stepped.feed(feedback);
    }
    let until = whole.end() + 2 * HOUR;
    let step = until - whole.now();
    let one = run(&mut whole, until, step);
    let many = run(&mut stepped, until, 7 * MINUTE + 13);
    assert!(one.len() > 2_000, "only {} events", one.len());
    assert_eq!(one, many);
    assert_eq!(whole.totals(), stepped.totals());
    assert_eq!(whole.batches(), stepped.batches());
}

#[test]
fn advance_emits_exactly_the_events_before_until() {
    let mut world = World::new(config(3, 2, 200.0), reference(20));
    let mut seen = Vec::new();
    let mut last = world.now();
    for step in 1..=96 {
        let until = world.config().start + step * 30 * MINUTE;
        let mut batch = Vec::new();
        world.advance(until, &mut |stream, row| batch.push((stream, row)));
        for (stream, row) in &batch {
            let t = time(*stream, row);
            assert!(t >= last && t < until, "{t} outside [{last}, {until})");
            last = t;
        }
        assert_eq!(world.now(), until);
        seen.extend(batch);
    }
    // Going back in time does nothing.
    world.advance(world.config().start, &mut |_, _| panic!("event emitted in the past"));
    assert_eq!(world.now(), world.end());
    assert!(!seen.is_empty());
}

#[test]
fn same_seed_same_events_and_another_seed_other_events() {
    let events = |seed| {
        let mut world = World::new(config(seed, 1, 200.0), reference(20));
        let end = world.end();
        run(&mut world, end, HOUR)
    };
    let a = events(11);
    assert_eq!(a, events(11));
    let b = events(12);
    assert_ne!(a, b);
    let ids = |events: &Events| -> HashSet<Value> {
        events.iter().map(|(_, row)| row[0].clone()).collect()
    };
    assert!(ids(&a).is_disjoint(&ids(&b)), "two seeds share an event_id");
}

/// Naive pipelines: a plan whenever a shelf is below 30 %, an order for the next 08:00
/// whenever the warehouse is below 30 %.
struct NaivePolicy {
    plans: u64,
    orders: u64,
    last_plan: HashMap<String, Micros>,
    ordered_until: HashMap<String, Micros>,
}

impl NaivePolicy {
    fn new() -> NaivePolicy {
        NaivePolicy {
            plans: 0,
            orders: 0,
            last_plan: HashMap::new(),
            ordered_until: HashMap::new(),
        }
    }

    fn react(&mut self, world: &mut World, shelves: &[Shelf]) {
        let now = world.now();
        for shelf in shelves {
            let id = &shelf.shelf_id;
            let (store, warehouse) = world.shelf_stock(id).unwrap();
            let recent = self.last_plan.get(id).is_some_and(|&t| now - t < 20 * MINUTE);
            if store * 10 < shelf.store_capacity * 3 && !recent {
                self.plans += 1;
                self.last_plan.insert(id.clone(), now);
                let plan_id = format!("p{}", self.plans);
                let quantity = shelf.store_capacity * 8 / 10 - store;
                let plan = Feedback::RestockPlan {
                    plan_id,
                    shelf_id: id.clone(),
                    quantity,
                    created_at: now,
                };
                world.feed(plan.clone());
                // The same plan again is ignored.
                world.feed(plan);
            }
            let pending = self.ordered_until.get(id).is_some_and(|&t| t > now);
            if warehouse * 10 < shelf.warehouse_capacity * 3 && !pending {
                self.orders += 1;
                let delivery_at = (now / MICROS_PER_DAY + 1) * MICROS_PER_DAY + 8 * HOUR;
                self.ordered_until.insert(id.clone(), delivery_at + MINUTE);
                world.feed(Feedback::SupplierOrder {
                    order_id: format!("o{}", self.orders),
                    shelf_id: id.clone(),
                    quantity: shelf.warehouse_capacity - warehouse,
                    delivery_at,
                });
            }
        }
    }
}

fn check_ledger(world: &World, reference: &Reference) {
    let totals = world.totals();
    assert!(totals.balanced(), "{totals:?}");
    let batches = world.batches();
    let mut sums: HashMap<(&str, Location), i64> = HashMap::new();
    for batch in &batches {
        assert!(batch.quantity > 0, "{batch:?}");
        *sums.entry((&batch.shelf_id, batch.location)).or_default() += batch.quantity;
    }
    let (mut store, mut warehouse, mut carts, mut transit) = (0, 0, 0, 0);
    for shelf in &reference.shelves {
        let id = shelf.shelf_id.as_str();
        let (s, w) = world.shelf_stock(id).unwrap();
        let (c, t) = world.shelf_pending(id).unwrap();
        assert!(s >= 0 && w >= 0 && c >= 0 && t >= 0, "{id}: {s} {w} {c} {t}");
        assert!(s <= shelf.store_capacity, "{id}: {s} above {}", shelf.store_capacity);
        assert!(s + c + t <= shelf.store_capacity, "{id}: {s}+{c}+{t} can overfill");
        assert!(w <= shelf.warehouse_capacity.max(shelf.warehouse_stock), "{id}: {w}");
        assert_eq!(sums.get(&(id, Location::Store)).copied().unwrap_or(0), s, "{id} store");
        assert_eq!(sums.get(&(id, Location::Warehouse)).copied().unwrap_or(0), w, "{id} wh");
        (store, warehouse, carts, transit) = (store + s, warehouse + w, carts + c, transit + t);
    }
    assert_eq!((store, warehouse), (totals.store, totals.warehouse));
    assert_eq!((carts, transit), (totals.in_carts, totals.in_transit));
}

fn check_row(stream: Stream, row: &Row) {
    let fields = stream.fields();
    assert_eq!(row.len(), fields.len(), "{stream:?} {row:?}");
    for ((name, ty, nullable), value) in fields.iter().zip(row) {
        let ok = match value {
            Value::Null => *nullable,
            Value::Str(_) => *ty == Type::String,
            Value::Int(_) => *ty == Type::Int,
            Value::Float(x) => *ty == Type::Float && x.is_finite(),
            Value::Date(_) => *ty == Type::Date,
            Value::Timestamp(_) => *ty == Type::Timestamp,
            Value::Decimal(d) => ty.as_decimal().is_some_and(|t| u32::from(t.scale) == d.scale()),
            _ => false,
        };
        assert!(ok, "{stream:?}.{name} = {value:?}");
    }
}

#[test]
fn closed_loop_keeps_one_consistent_ledger() {
    let reference = reference(40);
    let mut world = World::new(config(5, 6, 40.0), reference.clone());
    let mut policy = NaivePolicy::new();
    world.feed(Feedback::RestockPlan {
        plan_id: "x".into(),
        shelf_id: "NOPE".into(),
        quantity: 1,
        created_at: 0,
    });
    let mut events: Events = Vec::new();
    let until = world.end() + 3 * HOUR;
    while world.now() < until {
        let next = (world.now() + 10 * MINUTE).min(until);
        world.advance(next, &mut |stream, row| events.push((stream, row)));
        check_ledger(&world, &reference);
        policy.react(&mut world, &reference.shelves);
    }
    let dropped = world.dropped();
    assert_eq!(dropped.unknown_shelf, 1);
    assert_eq!(dropped.duplicate_feedback, policy.plans);
    assert_eq!(dropped.refused_delivery_units, 0);
    let totals = world.totals();
    assert_eq!(totals.in_carts, 0, "every customer has left");
    assert!(totals.sold > 0 && totals.delivered > 0 && totals.removed > 0, "{totals:?}");

    // Every row follows its schema, times never go back, ids are unique.
    let mut ids = HashSet::new();
    let mut last = 0;
    for (stream, row) in &events {
        check_row(*stream, row);
        assert!(ids.insert(row[0].clone()), "duplicate event_id {:?}", row[0]);
        let t = time(*stream, row);
        assert!(t >= last);
        last = t;
    }

    // Replaying the events reproduces the ledger, and no shelf ever goes below zero.
    let mut store: HashMap<String, i64> = HashMap::new();
    let mut warehouse: HashMap<String, i64> = HashMap::new();
    for shelf in &reference.shelves {
        store.insert(shelf.shelf_id.clone(), 0);
        warehouse.insert(shelf.shelf_id.clone(), 0);
    }
    for batch in &reference.store_batches {
        *store.get_mut(&batch.shelf_id).unwrap() += batch.quantity;
    }
    for batch in &reference.warehouse_batches {
        *warehouse.get_mut(&batch.shelf_id).unwrap() += batch.quantity;
    }
    let mut kinds: HashMap<String, usize> = HashMap::new();
    let mut pending_weight: Option<f64> = None;
    for (stream, row) in &events {
        match stream {
            Stream::ShelfEvents => {
                let shelf = string(*stream, row, "shelf_id");
                let kind = string(*stream, row, "event_type");
                let quantity = int(*stream, row, "quantity");
                let delta = field(*stream, row, "delta_weight").as_f64().unwrap();
                *kinds.entry(kind.clone()).or_default() += 1;
                let stock = store.get_mut(&shelf).unwrap();
                match kind.as_str() {
                    "pickup" | "removal" => *stock -= quantity,
                    "putback" | "refill" => *stock += quantity,
                    "weight_change" => {
                        assert_eq!(pending_weight.take(), Some(delta), "weight_change mismatch");
                        continue;
                    }
                    other => panic!("unexpected shelf event {other}"),
                }
                assert!(pending_weight.is_none(), "event without its weight_change");
                pending_weight = Some(delta);
                assert!(quantity > 0);
                assert!(*stock >= 0, "{shelf} below zero");
                let has_batch = !field(*stream, row, "batch_code").is_null();
                assert_eq!(has_batch, kind != "pickup", "{kind} batch presence");
                let has_customer = !field(*stream, row, "customer_id").is_null();
                assert_eq!(has_customer, kind == "pickup" || kind == "putback", "{kind}");
                assert_eq!(!field(*stream, row, "plan_id").is_null(), kind == "refill");
            }
            Stream::WhEvents => {
                let shelf = string(*stream, row, "shelf_id");
                let kind = string(*stream, row, "event_type");
                let quantity = int(*stream, row, "quantity");
                assert!(quantity > 0);
                *kinds.entry(kind.clone()).or_default() += 1;
                let stock = warehouse.get_mut(&shelf).unwrap();
                match kind.as_str() {
                    "wh_in" => *stock += quantity,
                    "wh_out" | "wh_removal" => *stock -= quantity,
                    other => panic!("unexpected wh event {other}"),
                }
                assert!(*stock >= 0, "{shelf} warehouse below zero");
                assert_eq!(!field(*stream, row, "plan_id").is_null(), kind == "wh_out");
                assert_eq!(!field(*stream, row, "order_id").is_null(), kind == "wh_in");
            }
            _ => {}
        }
    }
    for shelf in &reference.shelves {
        let (s, w) = world.shelf_stock(&shelf.shelf_id).unwrap();
        assert_eq!((store[&shelf.shelf_id], warehouse[&shelf.shelf_id]), (s, w));
    }
    for kind in ["pickup", "putback", "refill", "removal", "wh_in", "wh_out", "wh_removal"] {
        assert!(kinds.get(kind).copied().unwrap_or(0) > 0, "no {kind} in {kinds:?}");
    }

    // Sold units equal the POS quantities; a transaction's lines are numbered 1..=lines.
    let pos: Vec<&Row> =
        events.iter().filter(|(s, _)| *s == Stream::PosTransactions).map(|(_, r)| r).collect();
    let sold: i64 = pos.iter().map(|r| int(Stream::PosTransactions, r, "quantity")).sum();
    assert_eq!(sold, totals.sold);
    let mut transactions: HashMap<String, (i64, Vec<i64>)> = HashMap::new();
    for row in &pos {
        let p = Stream::PosTransactions;
        let entry = transactions.entry(string(p, row, "transaction_id")).or_default();
        entry.0 = int(p, row, "lines");
        entry.1.push(int(p, row, "line_no"));
    }
    for (lines, numbers) in transactions.values() {
        assert_eq!(numbers, &(1..=*lines).collect::<Vec<_>>());
    }
}

#[test]
fn prices_follow_weekly_and_daily_discounts() {
    let reference = reference(20);
    let mut world = World::new(config(9, 2, 800.0), reference.clone());
    let today = day_number(date(0));
    // TST0002 has a weekly 20 %; add 50 % today: 1 − 0.8 × 0.5 = 0.6.
    world.feed(Feedback::Discount { shelf_id: "TST0002".into(), date: today, discount: 0.5 });
    world.feed(Feedback::Discount { shelf_id: "TST0003".into(), date: today, discount: 0.3 });
    // Replaced, not compounded.
    world.feed(Feedback::Discount { shelf_id: "TST0003".into(), date: today, discount: 0.1 });
    world.feed(Feedback::Discount { shelf_id: "TST0004".into(), date: today, discount: 0.5 });
    world.feed(Feedback::DiscountWithdrawn { shelf_id: "TST0004".into(), date: today });
    world.feed(Feedback::Discount { shelf_id: "TST0005".into(), date: today, discount: f64::NAN });
    assert_eq!(world.dropped().invalid_feedback, 1);
    let end = world.end();
    let events = run(&mut world, end + 2 * HOUR, HOUR);
    let weekly: HashSet<&str> =
        reference.weekly_discounts.iter().map(|d| d.shelf_id.as_str()).collect();
    let price: HashMap<&str, f64> =
        reference.shelves.iter().map(|s| (s.shelf_id.as_str(), s.item_price)).collect();
    let p = Stream::PosTransactions;
    let mut checked = 0;
    for (_, row) in events.iter().filter(|(s, _)| *s == p) {
        let shelf = string(p, row, "shelf_id");
        let on_day_one = time(p, row) < world.config().start + MICROS_PER_DAY;
        let expected = match (shelf.as_str(), on_day_one) {
            ("TST0002", true) => 0.6,
            ("TST0003", true) => 0.1,
            (id, _) if weekly.contains(id) => 0.2,
            _ => 0.0,
        };
        let discount = field(p, row, "discount").as_f64().unwrap();
        assert_eq!(discount, expected, "{shelf}");
        let unit = field(p, row, "unit_price").as_f64().unwrap();
        assert_eq!(unit, (price[shelf.as_str()] * 100.0).round() / 100.0);
        let quantity = int(p, row, "quantity") as f64;
        let total = field(p, row, "total_price").as_f64().unwrap();
        assert_eq!(total, (quantity * unit * (1.0 - discount) * 100.0).round() / 100.0);
        assert!(matches!(field(p, row, "total_price"), Value::Decimal(d) if d.scale() == 2));
        checked += 1;
    }
    assert!(checked > 100);
}

#[test]
fn a_plan_waits_for_the_next_delivery_when_the_warehouse_is_empty() {
    let reference = reference(20);
    // TST0005 (index 4) has no warehouse stock.
    let mut world = World::new(config(1, 3, 0.0), reference);
    let start = world.now();
    world.feed(Feedback::RestockPlan {
        plan_id: "wait".into(),
        shelf_id: "TST0005".into(),
        quantity: 5,
        created_at: start + HOUR,
    });
    world.feed(Feedback::SupplierOrder {
        order_id: "in".into(),
        shelf_id: "TST0005".into(),
        quantity: 24,
        delivery_at: start + 30 * HOUR,
    });
    world.feed(Feedback::SupplierOrder {
        order_id: "in".into(),
        shelf_id: "TST0005".into(),
        quantity: 24,
        delivery_at: start + 30 * HOUR,
    });
    let before = world.shelf_stock("TST0005").unwrap();
    let events = run(&mut world, start + 40 * HOUR, HOUR);
    let of = |kind: &str| -> Vec<&(Stream, Row)> {
        events
            .iter()
            .filter(|(s, r)| {
                matches!(s, Stream::WhEvents | Stream::ShelfEvents)
                    && string(*s, r, "event_type") == kind
                    && string(*s, r, "shelf_id") == "TST0005"
            })
            .collect()
    };
    let (wh_in, wh_out, refill) = (of("wh_in"), of("wh_out"), of("refill"));
    assert_eq!((wh_in.len(), wh_out.len(), refill.len()), (1, 1, 1));
    let w = Stream::WhEvents;
    assert_eq!(time(w, &wh_in[0].1), start + 30 * HOUR);
    assert_eq!(time(w, &wh_out[0].1), start + 30 * HOUR);
    assert_eq!(int(w, &wh_out[0].1, "quantity"), 5);
    assert_eq!(string(w, &wh_in[0].1, "batch_code"), "S20260102-TST0005");
    assert_eq!(string(w, &wh_out[0].1, "batch_code"), "S20260102-TST0005");
    assert_eq!(string(w, &wh_out[0].1, "plan_id"), "wait");
    assert_eq!(string(w, &wh_in[0].1, "order_id"), "in");
    let s = Stream::ShelfEvents;
    assert_eq!(time(s, &refill[0].1), start + 30 * HOUR + 3 * MINUTE);
    assert_eq!(string(s, &refill[0].1, "plan_id"), "wait");
    let after = world.shelf_stock("TST0005").unwrap();
    assert_eq!(after, (before.0 + 5, 19));
    assert_eq!(world.dropped().duplicate_feedback, 1);
}

#[test]
fn restock_never_overfills_and_picks_oldest_first() {
    let reference = reference(20);
    let mut world = World::new(config(1, 1, 0.0), reference.clone());
    let start = world.now();
    // TST0001: capacity 40, 28 on the shelf, warehouse 12 + 12.
    for (i, quantity) in [100, 100].into_iter().enumerate() {
        world.feed(Feedback::RestockPlan {
            plan_id: format!("big-{i}"),
            shelf_id: "TST0001".into(),
            quantity,
            created_at: start,
        });
    }
    let events = run(&mut world, start + HOUR, HOUR);
    let w = Stream::WhEvents;
    let outs: Vec<&Row> = events
        .iter()
        .filter(|(s, r)| *s == w && string(w, r, "event_type") == "wh_out")
        .map(|(_, r)| r)
        .collect();
    // 12 room: the whole oldest batch, nothing for the second plan.
    assert_eq!(outs.len(), 1);
    assert_eq!(int(w, outs[0], "quantity"), 12);
    assert_eq!(string(w, outs[0], "batch_code"), reference.warehouse_batches[0].batch_code);
    assert_eq!(time(w, outs[0]), start + MINUTE);
    assert_eq!(world.shelf_stock("TST0001").unwrap(), (40, 12));
}

#[test]
fn expired_batches_leave_the_day_after_expiry() {
    let reference = reference(20);
    let mut world = World::new(config(1, 4, 0.0), reference.clone());
    let start = world.now();
    let events = run(&mut world, start + 3 * MICROS_PER_DAY + HOUR, HOUR);
    // TST0001 (perishable) has a store batch expiring on day 1: removed on day 2 at 00:30.
    let expired = &reference.store_batches[0];
    assert_eq!(expired.expiry_date, date(1));
    let s = Stream::ShelfEvents;
    let removal = events
        .iter()
        .find(|(st, r)| *st == s && string(*st, r, "batch_code") == expired.batch_code)
        .map(|(_, r)| r)
        .unwrap();
    assert_eq!(string(s, removal, "event_type"), "removal");
    assert_eq!(time(s, removal), start + 2 * MICROS_PER_DAY + 30 * MINUTE);
    assert_eq!(int(s, removal, "quantity"), expired.quantity);
    let wh = reference.warehouse_batches.iter().find(|b| b.expiry_date < date(3)).unwrap();
    assert!(events.iter().any(|(st, r)| *st == Stream::WhEvents
        && string(*st, r, "event_type") == "wh_removal"
        && string(*st, r, "batch_code") == wh.batch_code));
    assert!(world.batches().iter().all(|b| b.expiry_date >= date(3)));
    assert_eq!(
        world.totals().removed,
        world.totals().initial - world.totals().store - world.totals().warehouse
    );
}

#[test]
fn customers_enter_before_the_end_and_all_leave() {
    let mut world = World::new(config(4, 2, 1000.0), reference(20));
    let end = world.end();
    let events = run(&mut world, end + 2 * HOUR, 6 * HOUR);
    let f = Stream::FootTraffic;
    let foot: Vec<&Row> = events.iter().filter(|(s, _)| *s == f).map(|(_, r)| r).collect();
    let entries: Vec<&&Row> =
        foot.iter().filter(|r| string(f, r, "event_type") == "entry").collect();
    let exits = foot.len() - entries.len();
    assert_eq!(entries.len(), exits);
    // Thursday and Friday at 1,000 base customers: about 891 and 1,142.
    assert!((1800..2300).contains(&entries.len()), "{}", entries.len());
    for row in &entries {
        assert!(time(f, row) < end);
        let minutes = int(f, row, "trip_duration_minutes");
        assert!((10..=75).contains(&minutes));
    }
    let first = entries[0];
    assert_eq!(string(f, first, "weekday"), "Thursday");
    assert_eq!(string(f, first, "time_slot"), "00:00-06:59");
    assert_eq!(world.totals().in_carts, 0);
}

#[test]
fn slots_split_the_day_by_largest_remainder() {
    for total in [0, 1, 7, 691, 1000, 1143] {
        for day in 0..7 {
            let counts = traffic::split_by_slot(total, day, (0, 24));
            assert_eq!(counts.iter().sum::<u64>(), total);
            let open = traffic::split_by_slot(total, day, (8, 21));
            assert_eq!(open.iter().sum::<u64>(), total, "closed slots' customers come later");
            assert_eq!(open[0], 0);
        }
    }
    // Thursday 1970-01-01: weights 14 14 19 21 18 10 (96).
    assert_eq!(traffic::split_by_slot(96, 0, (0, 24)), [14, 14, 19, 21, 18, 10]);
    assert_eq!(traffic::split_by_slot(82, 0, (7, 24)), [0, 14, 19, 21, 18, 10]);
    assert_eq!(traffic::split_by_slot(72, 0, (7, 20)), [0, 14, 19, 21, 18, 0]);
    assert_eq!(traffic::weekday(0), 3);
}

#[test]
fn pick_index_draws_only_weighted_items() {
    let weights = vec![0, 5, 0, 0, 3, 1, 0, 7, 0];
    let mut index = PickIndex::new(weights.clone());
    assert_eq!(index.total(), 16);
    let linear = |weights: &[u64], target: u64| {
        let mut sum = 0;
        weights.iter().position(|&w| {
            sum += w;
            sum > target
        })
    };
    for target in 0..16 {
        assert_eq!(Some(index.find(target)), linear(&weights, target));
    }
    index.set(7, 0);
    index.set(0, 2);
    let weights = vec![2, 5, 0, 0, 3, 1, 0, 0, 0];
    assert_eq!(index.total(), 11);
    for target in 0..11 {
        assert_eq!(Some(index.find(target)), linear(&weights, target));
    }
}

/// A store of 1,142 shelves for 28 days with the naive policy; prints events per second.
/// Run with `--release --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_of_28_days() {
    let reference = reference(1142);
    let mut world = World::new(config(42, 28, 1000.0), reference.clone());
    let mut policy = NaivePolicy::new();
    let mut count = 0usize;
    let mut busy = std::time::Duration::ZERO;
    let end = world.end();
    while world.now() < end {
        let next = (world.now() + 15 * MINUTE).min(end);
        let started = std::time::Instant::now();
        world.advance(next, &mut |_, row| {
            count += 1;
            std::hint::black_box(row);
        });
        busy += started.elapsed();
        policy.react(&mut world, &reference.shelves);
    }
    let seconds = busy.as_secs_f64();
    println!(
        "28 days, 1142 shelves: {count} events in {seconds:.3} s of advance = {:.0} events/s; {:?}",
        count as f64 / seconds,
        world.totals()
    );
    assert!(world.totals().balanced());
}

/// The generated store (seed 42) for 28 days with the naive policy; prints events per second.
/// Run with `--release --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_of_28_days_in_the_generated_store() {
    let reference = crate::simulator::generate::generate(42, date(0), &mut |_| {});
    let mut world = World::new(config(42, 28, 1000.0), reference.clone());
    let mut policy = NaivePolicy::new();
    let (mut count, mut busy) = (0usize, std::time::Duration::ZERO);
    let end = world.end();
    while world.now() < end {
        let next = (world.now() + 15 * MINUTE).min(end);
        let started = std::time::Instant::now();
        world.advance(next, &mut |_, row| {
            count += 1;
            std::hint::black_box(row);
        });
        busy += started.elapsed();
        policy.react(&mut world, &reference.shelves);
    }
    let seconds = busy.as_secs_f64();
    println!(
        "generated store, {} shelves, 28 days: {count} events in {seconds:.3} s = {:.0} events/s; \
         {:?}; {:?}",
        reference.shelves.len(),
        count as f64 / seconds,
        world.totals(),
        world.dropped()
    );
    check_ledger(&world, &reference);
}

#[test]
fn each_store_of_a_chain_has_its_own_stream_ids_and_hours() {
    let reference = reference(20);
    let profiles = crate::simulator::stores::profiles(3, 2);
    let run_store = |profile: &crate::simulator::StoreProfile| {
        let config = config(3, 2, 300.0).for_store(profile);
        let mut world = World::new(config, reference.clone());
        let end = world.end();
        run(&mut world, end, 3_600_000_000)
    };
    let (first, second) = (run_store(&profiles[0]), run_store(&profiles[1]));
    let mut alone = World::new(config(3, 2, 300.0), reference.clone());
    let end = alone.end();
    let alone = run(&mut alone, end, 3_600_000_000);
    assert_eq!(first, alone, "store 1 of a chain is the one-store simulation");
    for (events, store) in [(&first, 1), (&second, 2)] {
        assert!(events.iter().all(|(s, row)| int(*s, row, "store_id") == store));
    }
    let ids = |events: &Events| -> std::collections::HashSet<Value> {
        events.iter().map(|(s, row)| field(*s, row, "event_id")).collect()
    };
    assert!(ids(&first).is_disjoint(&ids(&second)), "event ids are unique across the chain");
    let (opens, closes) = (profiles[1].opens_hour, profiles[1].closes_hour);
    let f = Stream::FootTraffic;
    for (_, row) in
        second.iter().filter(|(s, row)| *s == f && string(f, row, "event_type") == "entry")
    {
        let hour = time(f, row).rem_euclid(86_400_000_000) / 3_600_000_000;
        assert!((opens..closes).contains(&hour), "entry at hour {hour} outside {opens}-{closes}");
    }
}
