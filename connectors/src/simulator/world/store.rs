//! [`World`]: one schedule of actions ordered by (time, sequence number), run in order by
//! [`World::advance`], consuming one random stream in that order.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use shelfflow_operators::value::{Days, Micros, EPOCH_DAYS_FROM_CE, MICROS_PER_DAY};
use shelfflow_operators::{Row, Value};

use super::config::{Dropped, Feedback, Totals, WorldConfig};
use super::ids;
use super::ledger::{Lot, PickIndex, Plan, ShelfLedger};
use super::traffic;
use crate::simulator::events::Stream;
use crate::simulator::reference::{Batch, Location, Reference};

/// Pick weights are `item_visibility × (1 + discount)` in millionths.
const WEIGHT_SCALE: f64 = 1_000_000.0;
/// The highest combined discount at the till.
const MAX_DISCOUNT: f64 = 0.95;

/// The store.
///
/// Every unit is in exactly one place: on a shelf, in the warehouse, in a customer's cart or on
/// the way from the warehouse to the shelf. Batches are the ledger: a place's stock is the sum of
/// its batch quantities, never negative, and a shelf never holds more than its capacity (staff
/// bring at most `capacity − on shelf − in transit − in carts`, so even returned cart units fit).
pub struct World {
    pub(super) config: WorldConfig,
    /// `config.store_id` as the value every row carries.
    pub(super) store: Value,
    pub(super) rng: ChaCha8Rng,
    /// `config.putback_probability` made valid for a Bernoulli draw.
    pub(super) putback: f64,
    pub(super) end: Micros,
    pub(super) now: Micros,
    pub(super) shelves: Vec<ShelfInfo>,
    pub(super) by_id: HashMap<String, u32>,
    pub(super) ledgers: Vec<ShelfLedger>,
    /// Today's pick weight of every shelf, whether or not it has stock.
    pub(super) base_weights: Vec<u64>,
    pub(super) pick: PickIndex,
    /// Per shelf: (week start, fraction off), sorted.
    pub(super) weekly: Vec<Vec<(Days, f64)>>,
    pub(super) daily: HashMap<(u32, Days), f64>,
    /// The date the pick weights are for.
    pub(super) today: Days,
    queue: BinaryHeap<Reverse<Scheduled>>,
    scheduled: u64,
    pub(super) customers: Vec<Customer>,
    pub(super) free_customers: Vec<u32>,
    pub(super) customer_count: u64,
    pub(super) transaction_count: u64,
    pub(super) event_counts: [u64; 4],
    pub(super) seen_plans: HashSet<String>,
    pub(super) seen_orders: HashSet<String>,
    pub(super) deliveries: HashMap<(u32, Days), u32>,
    pub(super) totals: Totals,
    pub(super) dropped: Dropped,
    pub(super) scratch: Vec<Lot>,
    pub(super) scratch_times: Vec<Micros>,
}

/// The fixed facts of one shelf.
pub(super) struct ShelfInfo {
    pub(super) id: Value,
    pub(super) weight: f64,
    /// The shelf price in euro cents.
    pub(super) unit_cents: i64,
    pub(super) visibility: f64,
    pub(super) perishable: bool,
    pub(super) capacity: i64,
    pub(super) warehouse_capacity: i64,
}

pub(super) struct Customer {
    pub(super) id: Value,
    pub(super) minutes: i64,
    pub(super) weekday: usize,
    pub(super) slot: usize,
    /// Sorted action times; `next` is the first not yet done.
    pub(super) actions: Vec<Micros>,
    pub(super) next: usize,
    pub(super) cart: Vec<CartLine>,
}

pub(super) struct CartLine {
    pub(super) shelf: u32,
    pub(super) lot: Lot,
}

pub(super) struct Transit {
    pub(super) plan: Value,
    pub(super) shelf: u32,
    pub(super) lots: Vec<Lot>,
}

pub(super) struct Order {
    pub(super) id: Value,
    pub(super) shelf: u32,
    pub(super) quantity: i64,
}

pub(super) enum Action {
    /// Midnight (or the start): today's pick weights and the day's arrivals.
    Day(Days),
    /// Expired batches leave the store and the warehouse.
    Removal,
    Arrive,
    Act(u32),
    Exit(u32),
    Pick(Box<Plan>),
    Refill(Box<Transit>),
    Deliver(Box<Order>),
}

struct Scheduled {
    time: Micros,
    sequence: u64,
    action: Action,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.sequence).cmp(&(other.time, other.sequence))
    }
}

/// The date of an instant.
pub(super) fn day_of(time: Micros) -> Days {
    time.div_euclid(MICROS_PER_DAY) as Days
}

fn days_of(date: NaiveDate) -> Days {
    date.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

pub(super) fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub(super) fn date_value(day: Days) -> Value {
    Value::Date(day)
}

impl World {
    /// A store at `config.start` with the reference stock.
    ///
    /// Reference batches of unknown shelves or without units are skipped and counted in
    /// [`World::dropped`]; a shelf's stock is the sum of its batches.
    pub fn new(config: WorldConfig, reference: Reference) -> World {
        let start = config.start;
        let end = start.saturating_add(i64::from(config.days) * MICROS_PER_DAY);
        let putback = if config.putback_probability.is_finite() {
            config.putback_probability.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let mut by_id = HashMap::with_capacity(reference.shelves.len());
        let mut shelves = Vec::with_capacity(reference.shelves.len());
        for shelf in &reference.shelves {
            by_id.entry(shelf.shelf_id.clone()).or_insert(shelves.len() as u32);
            shelves.push(ShelfInfo {
                id: Value::str(&shelf.shelf_id),
                weight: shelf.item_weight as f64,
                unit_cents: (shelf.item_price * 100.0).round() as i64,
                visibility: shelf.item_visibility,
                perishable: shelf.perishable,
                capacity: shelf.store_capacity,
                warehouse_capacity: shelf.warehouse_capacity,
            });
        }
        // Each store of the chain draws from its own stream of the seed; store 1 from stream 0,
        // the stream of the one-store simulation.
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(config.store_id.max(1) as u64 - 1);
        let mut world = World {
            store: Value::Int(config.store_id),
            rng,
            putback,
            end,
            now: start,
            ledgers: (0..shelves.len()).map(|_| ShelfLedger::default()).collect(),
            base_weights: vec![0; shelves.len()],
            pick: PickIndex::default(),
            weekly: vec![Vec::new(); shelves.len()],
            daily: HashMap::new(),
            today: day_of(start),
            queue: BinaryHeap::new(),
            scheduled: 0,
            customers: Vec::new(),
            free_customers: Vec::new(),
            customer_count: 0,
            transaction_count: 0,
            event_counts: [0; 4],
            seen_plans: HashSet::new(),
            seen_orders: HashSet::new(),
            deliveries: HashMap::new(),
            totals: Totals::default(),
            dropped: Dropped::default(),
            scratch: Vec::new(),
            scratch_times: Vec::new(),
            shelves,
            by_id,
            config,
        };
        world.load(&reference);
        world.refresh_all_weights(world.today);
        world.schedule(start, Action::Day(day_of(start)));
        let removal_time = world.config.removal_time.clamp(0, MICROS_PER_DAY - 1);
        let mut removal = i64::from(day_of(start)) * MICROS_PER_DAY + removal_time;
        if removal < start {
            removal += MICROS_PER_DAY;
        }
        world.schedule(removal, Action::Removal);
        world
    }

    fn load(&mut self, reference: &Reference) {
        for (batches, location) in [
            (&reference.store_batches, Location::Store),
            (&reference.warehouse_batches, Location::Warehouse),
        ] {
            for batch in batches {
                let shelf = match self.by_id.get(&batch.shelf_id) {
                    Some(&shelf) if batch.quantity > 0 => shelf as usize,
                    _ => {
                        self.dropped.invalid_batches += 1;
                        continue;
                    }
                };
                let lot = Lot {
                    code: Value::str(&batch.batch_code),
                    received: days_of(batch.received_date),
                    expiry: days_of(batch.expiry_date),
                    quantity: batch.quantity,
                };
                match location {
                    Location::Store => {
                        self.totals.store += lot.quantity;
                        self.ledgers[shelf].put_store(lot);
                    }
                    Location::Warehouse => {
                        self.totals.warehouse += lot.quantity;
                        self.ledgers[shelf].put_warehouse(lot);
                    }
                }
            }
        }
        self.totals.initial = self.totals.store + self.totals.warehouse;
        let mismatched = reference
            .shelves
            .iter()
            .zip(&self.ledgers)
            .filter(|(s, l)| {
                s.store_stock != l.store_units || s.warehouse_stock != l.warehouse_units
            })
            .count();
        if mismatched > 0 {
            tracing::warn!(
                shelves = mismatched,
                "reference stock differs from its batches, batches kept"
            );
        }
        for discount in &reference.weekly_discounts {
            if let Some(&shelf) = self.by_id.get(&discount.shelf_id) {
                if discount.discount_pct.is_finite() {
                    let pct = discount.discount_pct.clamp(0.0, 1.0);
                    self.weekly[shelf as usize].push((days_of(discount.week_start), pct));
                }
            }
        }
        for weeks in &mut self.weekly {
            weeks.sort_by_key(|&(week_start, _)| week_start);
        }
    }

    /// The clock: every event before it has been emitted.
    pub fn now(&self) -> Micros {
        self.now
    }

    /// When the next scheduled action happens: without feedback, no event comes before it.
    pub fn next_event(&self) -> Option<Micros> {
        self.queue.peek().map(|Reverse(next)| next.time)
    }

    /// The end of the simulated days (`start + days`): no customer enters at or after it.
    pub fn end(&self) -> Micros {
        self.end
    }

    /// The configuration the store runs with.
    pub fn config(&self) -> &WorldConfig {
        &self.config
    }

    /// Stock bookkeeping of the whole store now.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// What the store ignored so far.
    pub fn dropped(&self) -> Dropped {
        self.dropped
    }

    /// Units of one product (on the shelf, in the warehouse), or `None` for an unknown shelf.
    pub fn shelf_stock(&self, shelf_id: &str) -> Option<(i64, i64)> {
        let ledger = &self.ledgers[*self.by_id.get(shelf_id)? as usize];
        Some((ledger.store_units, ledger.warehouse_units))
    }

    /// Units of one product in customers' carts and on the way to its shelf, or `None` for an
    /// unknown shelf.
    pub fn shelf_pending(&self, shelf_id: &str) -> Option<(i64, i64)> {
        let ledger = &self.ledgers[*self.by_id.get(shelf_id)? as usize];
        Some((ledger.cart_units, ledger.transit_units))
    }

    /// Every batch with units now, store batches (first expiry first per shelf) then warehouse
    /// batches (oldest first per shelf), in shelf order.
    pub fn batches(&self) -> Vec<Batch> {
        let mut batches = Vec::new();
        for location in [Location::Store, Location::Warehouse] {
            for (shelf, ledger) in self.shelves.iter().zip(&self.ledgers) {
                let lots = match location {
                    Location::Store => &ledger.store,
                    Location::Warehouse => &ledger.warehouse,
                };
                let shelf_id = shelf.id.as_str().unwrap_or_default();
                batches.extend(lots.iter().filter_map(|lot| {
                    Some(Batch {
                        shelf_id: shelf_id.to_owned(),
                        batch_code: lot.code().to_owned(),
                        received_date: date_of(lot.received)?,
                        expiry_date: date_of(lot.expiry)?,
                        quantity: lot.quantity,
                        location,
                    })
                }));
            }
        }
        batches
    }

    /// Tells the store about a plan, order or discount.
    ///
    /// Plans and orders are deduplicated by id. Feedback naming an unknown shelf, with a
    /// non-positive quantity or a non-finite discount is ignored and counted in
    /// [`World::dropped`]. A plan is picked at `max(now, created_at + pick_delay)`, an order
    /// delivered at `max(now, delivery_at)`.
    pub fn feed(&mut self, feedback: Feedback) {
        match feedback {
            Feedback::RestockPlan { plan_id, shelf_id, quantity, created_at } => {
                let Some(shelf) = self.known_shelf(&shelf_id) else { return };
                if quantity <= 0 {
                    self.dropped.invalid_feedback += 1;
                } else if self.seen_plans.contains(&plan_id) {
                    self.dropped.duplicate_feedback += 1;
                } else {
                    let id = Value::str(&plan_id);
                    self.seen_plans.insert(plan_id);
                    let delay = self.config.pick_delay.max(0);
                    let at = created_at.saturating_add(delay).max(self.now);
                    self.schedule(at, Action::Pick(Box::new(Plan { id, shelf, quantity })));
                }
            }
            Feedback::SupplierOrder { order_id, shelf_id, quantity, delivery_at } => {
                let Some(shelf) = self.known_shelf(&shelf_id) else { return };
                if quantity <= 0 {
                    self.dropped.invalid_feedback += 1;
                } else if self.seen_orders.contains(&order_id) {
                    self.dropped.duplicate_feedback += 1;
                } else {
                    let id = Value::str(&order_id);
                    self.seen_orders.insert(order_id);
                    let order = Order { id, shelf, quantity };
                    self.schedule(delivery_at.max(self.now), Action::Deliver(Box::new(order)));
                }
            }
            Feedback::Discount { shelf_id, date, discount } => {
                let Some(shelf) = self.known_shelf(&shelf_id) else { return };
                if !discount.is_finite() {
                    self.dropped.invalid_feedback += 1;
                    return;
                }
                self.daily.insert((shelf, date), discount.clamp(0.0, 1.0));
                if date == self.today {
                    self.refresh_weight(shelf as usize);
                }
            }
            Feedback::DiscountWithdrawn { shelf_id, date } => {
                let Some(shelf) = self.known_shelf(&shelf_id) else { return };
                if self.daily.remove(&(shelf, date)).is_some() && date == self.today {
                    self.refresh_weight(shelf as usize);
                }
            }
        }
    }

    fn known_shelf(&mut self, shelf_id: &str) -> Option<u32> {
        let shelf = self.by_id.get(shelf_id).copied();
        if shelf.is_none() {
            self.dropped.unknown_shelf += 1;
        }
        shelf
    }

    /// Emits every event with `timestamp < until`, in time order, and moves the clock to `until`
    /// (an earlier `until` does nothing). Without feedback in between, advancing in many small
    /// steps or in one gives the same events.
    pub fn advance(&mut self, until: Micros, emit: &mut dyn FnMut(Stream, Row)) {
        while self.queue.peek().is_some_and(|Reverse(next)| next.time < until) {
            let Some(Reverse(next)) = self.queue.pop() else { break };
            self.now = next.time;
            self.run(next.action, emit);
        }
        self.now = self.now.max(until);
    }

    pub(super) fn schedule(&mut self, time: Micros, action: Action) {
        self.scheduled += 1;
        self.queue.push(Reverse(Scheduled { time, sequence: self.scheduled, action }));
    }

    fn run(&mut self, action: Action, emit: &mut dyn FnMut(Stream, Row)) {
        match action {
            Action::Day(day) => self.start_day(day),
            Action::Removal => self.remove_expired(emit),
            Action::Arrive => self.arrive(emit),
            Action::Act(customer) => self.act(customer as usize, emit),
            Action::Exit(customer) => self.check_out(customer as usize, emit),
            Action::Pick(plan) => self.pick(*plan, emit),
            Action::Refill(transit) => self.refill(*transit, emit),
            Action::Deliver(order) => self.deliver(*order, emit),
        }
    }

    // --- discounts and pick weights ---

    /// The combined discount at the till: `1 − (1 − weekly)(1 − daily)`, to cents, at most 0.95.
    pub(super) fn discount(&self, shelf: usize, day: Days) -> f64 {
        let weeks = &self.weekly[shelf];
        let i = weeks.partition_point(|&(week_start, _)| week_start <= day);
        let weekly = match i.checked_sub(1).map(|i| weeks[i]) {
            Some((week_start, pct)) if day < week_start + 7 => pct,
            _ => 0.0,
        };
        let daily = self.daily.get(&(shelf as u32, day)).copied().unwrap_or(0.0);
        round_cents(1.0 - (1.0 - weekly) * (1.0 - daily)).clamp(0.0, MAX_DISCOUNT)
    }

    fn weight_for(&self, shelf: usize, day: Days) -> u64 {
        let weight = self.shelves[shelf].visibility * (1.0 + self.discount(shelf, day));
        // NaN and negatives become 0; `as` saturates.
        if weight > 0.0 {
            (weight * WEIGHT_SCALE).round() as u64
        } else {
            0
        }
    }

    pub(super) fn refresh_all_weights(&mut self, day: Days) {
        self.today = day;
        self.base_weights = (0..self.shelves.len()).map(|s| self.weight_for(s, day)).collect();
        let weights = self
            .base_weights
            .iter()
            .zip(&self.ledgers)
            .map(|(&w, ledger)| if ledger.store_units > 0 { w } else { 0 })
            .collect();
        self.pick = PickIndex::new(weights);
    }

    pub(super) fn refresh_weight(&mut self, shelf: usize) {
        self.base_weights[shelf] = self.weight_for(shelf, self.today);
        self.update_pick(shelf);
    }

    /// Makes an empty shelf undrawable and a stocked one drawable again.
    pub(super) fn update_pick(&mut self, shelf: usize) {
        let stocked = self.ledgers[shelf].store_units > 0;
        self.pick.set(shelf, if stocked { self.base_weights[shelf] } else { 0 });
    }

    // --- rows ---

    pub(super) fn next_event_id(&mut self, stream: Stream) -> Value {
        let i = match stream {
            Stream::ShelfEvents => 0,
            Stream::PosTransactions => 1,
            Stream::FootTraffic => 2,
            Stream::WhEvents => 3,
        };
        let sequence = self.event_counts[i];
        self.event_counts[i] += 1;
        ids::id(self.config.seed, self.config.store_id, stream.name(), sequence)
    }

    /// A shelf event and the weight change the shelf's scale reads with it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit_shelf(
        &mut self,
        emit: &mut dyn FnMut(Stream, Row),
        kind: &str,
        shelf: usize,
        customer: &Value,
        lot: Option<&Lot>,
        quantity: i64,
        plan: &Value,
    ) {
        let sign = if matches!(kind, "pickup" | "removal") { -1.0 } else { 1.0 };
        let delta = sign * self.shelves[shelf].weight * quantity as f64;
        let (code, expiry) = match lot {
            Some(lot) => (lot.code.clone(), date_value(lot.expiry)),
            None => (Value::Null, Value::Null),
        };
        let row = vec![
            self.next_event_id(Stream::ShelfEvents),
            self.store.clone(),
            Value::str(kind),
            self.shelves[shelf].id.clone(),
            customer.clone(),
            code,
            expiry,
            Value::Int(quantity),
            Value::Float(delta),
            plan.clone(),
            Value::Timestamp(self.now),
        ];
        emit(Stream::ShelfEvents, row);
        let row = vec![
            self.next_event_id(Stream::ShelfEvents),
            self.store.clone(),
            Value::str("weight_change"),
            self.shelves[shelf].id.clone(),
            customer.clone(),
            Value::Null,
            Value::Null,
            Value::Int(0),
            Value::Float(delta),
            Value::Null,
            Value::Timestamp(self.now),
        ];
        emit(Stream::ShelfEvents, row);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit_wh(
        &mut self,
        emit: &mut dyn FnMut(Stream, Row),
        kind: &str,
        shelf: usize,
        lot: &Lot,
        quantity: i64,
        plan: &Value,
        order: &Value,
    ) {
        let row = vec![
            self.next_event_id(Stream::WhEvents),
            self.store.clone(),
            Value::str(kind),
            self.shelves[shelf].id.clone(),
            lot.code.clone(),
            date_value(lot.received),
            date_value(lot.expiry),
            Value::Int(quantity),
            plan.clone(),
            order.clone(),
            Value::Timestamp(self.now),
        ];
        emit(Stream::WhEvents, row);
    }

    /// An entry or exit; both carry the weekday and time slot of the entry.
    pub(super) fn emit_foot(&mut self, kind: &str, k: usize, emit: &mut dyn FnMut(Stream, Row)) {
        let event_id = self.next_event_id(Stream::FootTraffic);
        let customer = &self.customers[k];
        let row = vec![
            event_id,
            self.store.clone(),
            Value::str(kind),
            customer.id.clone(),
            Value::Int(customer.minutes),
            Value::str(traffic::WEEKDAYS[customer.weekday]),
            Value::str(traffic::SLOTS[customer.slot].2),
            Value::Timestamp(self.now),
        ];
        emit(Stream::FootTraffic, row);
    }
}

pub(super) fn date_of(day: Days) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(day.checked_add(EPOCH_DAYS_FROM_CE)?)
}
