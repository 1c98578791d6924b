//! Shoppers: arrivals, shelf actions (pickup first-expiry-first-out, putback into the same
//! batch) and checkout at exit.

use std::mem;

use rand::Rng;
use shelfflow_operators::decimal::Decimal;
use shelfflow_operators::value::{Days, MICROS_PER_DAY};
use shelfflow_operators::{Row, Value};

use super::ids;
use super::store::{date_value, day_of, Action, CartLine, Customer, World};
use super::traffic;
use crate::simulator::events::Stream;

impl World {
    pub(super) fn start_day(&mut self, day: Days) {
        self.refresh_all_weights(day);
        self.schedule(i64::from(day + 1) * MICROS_PER_DAY, Action::Day(day + 1));
        if i64::from(day) * MICROS_PER_DAY >= self.end {
            return;
        }
        let (base, multiplier) = (self.config.base_daily_customers, self.config.traffic_multiplier);
        let total = traffic::daily_total(&mut self.rng, day, base, multiplier);
        let hours = (self.config.opens_hour, self.config.closes_hour);
        let counts = traffic::split_by_slot(total, day, hours);
        let mut entries = mem::take(&mut self.scratch_times);
        entries.clear();
        let span = (self.config.start, self.end);
        traffic::entry_times(&mut self.rng, day, counts, hours, span, &mut entries);
        for &entry in &entries {
            self.schedule(entry, Action::Arrive);
        }
        self.scratch_times = entries;
    }

    pub(super) fn arrive(&mut self, emit: &mut dyn FnMut(Stream, Row)) {
        let entry = self.now;
        let id = ids::id(self.config.seed, self.config.store_id, "customer", self.customer_count);
        self.customer_count += 1;
        let minutes = traffic::trip_minutes(&mut self.rng);
        let exit = entry + minutes * 60_000_000;
        let count = traffic::action_count(&mut self.rng);
        let k = match self.free_customers.pop() {
            Some(k) => k as usize,
            None => {
                self.customers.push(Customer {
                    id: Value::Null,
                    minutes: 0,
                    weekday: 0,
                    slot: 0,
                    actions: Vec::new(),
                    next: 0,
                    cart: Vec::new(),
                });
                self.customers.len() - 1
            }
        };
        let customer = &mut self.customers[k];
        traffic::action_times(&mut self.rng, entry, exit, count, &mut customer.actions);
        customer.id = id;
        customer.minutes = minutes;
        customer.weekday = traffic::weekday(day_of(entry));
        customer.slot = traffic::slot_of(entry);
        customer.next = 0;
        customer.cart.clear();
        let first = customer.actions.first().copied();
        self.emit_foot("entry", k, emit);
        self.schedule(exit, Action::Exit(k as u32));
        if let Some(first) = first {
            self.schedule(first, Action::Act(k as u32));
        }
    }

    pub(super) fn act(&mut self, k: usize, emit: &mut dyn FnMut(Stream, Row)) {
        let customer = &mut self.customers[k];
        customer.next += 1;
        let next = customer.actions.get(customer.next).copied();
        let has_cart = !customer.cart.is_empty();
        if let Some(next) = next {
            self.schedule(next, Action::Act(k as u32));
        }
        if has_cart && self.rng.random_bool(self.putback) {
            self.put_back(k, emit);
        } else {
            self.pick_up(k, emit);
        }
    }

    fn pick_up(&mut self, k: usize, emit: &mut dyn FnMut(Stream, Row)) {
        let total = self.pick.total();
        if total == 0 {
            self.dropped.empty_store_pickups += 1;
            return;
        }
        let shelf = self.pick.find(self.rng.random_range(0..total));
        let wanted = traffic::pickup_quantity(&mut self.rng);
        let mut lots = mem::take(&mut self.scratch);
        lots.clear();
        let ledger = &mut self.ledgers[shelf];
        let taken = ledger.take_store(wanted, &mut lots);
        ledger.cart_units += taken;
        self.totals.store -= taken;
        self.totals.in_carts += taken;
        let cart = &mut self.customers[k].cart;
        for lot in lots.drain(..) {
            let line =
                cart.iter_mut().find(|l| l.shelf as usize == shelf && l.lot.code == lot.code);
            match line {
                Some(line) => line.lot.quantity += lot.quantity,
                None => cart.push(CartLine { shelf: shelf as u32, lot }),
            }
        }
        self.scratch = lots;
        self.update_pick(shelf);
        if taken > 0 {
            let customer = self.customers[k].id.clone();
            self.emit_shelf(emit, "pickup", shelf, &customer, None, taken, &Value::Null);
        }
    }

    fn put_back(&mut self, k: usize, emit: &mut dyn FnMut(Stream, Row)) {
        let cart = &mut self.customers[k].cart;
        let i = self.rng.random_range(0..cart.len());
        let line = &mut cart[i];
        let quantity = self.rng.random_range(1..=line.lot.quantity.max(1)).min(line.lot.quantity);
        line.lot.quantity -= quantity;
        let lot = line.lot.with_quantity(quantity);
        let shelf = line.shelf as usize;
        if line.lot.quantity == 0 {
            cart.remove(i);
        }
        let customer = self.customers[k].id.clone();
        let ledger = &mut self.ledgers[shelf];
        ledger.cart_units -= quantity;
        ledger.put_store(lot.clone());
        self.totals.in_carts -= quantity;
        self.totals.store += quantity;
        self.update_pick(shelf);
        self.emit_shelf(emit, "putback", shelf, &customer, Some(&lot), quantity, &Value::Null);
    }

    /// Pays the cart (one POS line per shelf and batch) and leaves.
    pub(super) fn check_out(&mut self, k: usize, emit: &mut dyn FnMut(Stream, Row)) {
        let cart = mem::take(&mut self.customers[k].cart);
        if !cart.is_empty() {
            let transaction = ids::id(
                self.config.seed,
                self.config.store_id,
                "transaction",
                self.transaction_count,
            );
            self.transaction_count += 1;
            let customer = self.customers[k].id.clone();
            let day = day_of(self.now);
            let lines = cart.len() as i64;
            for (line_no, line) in cart.iter().enumerate() {
                let shelf = line.shelf as usize;
                let quantity = line.lot.quantity;
                self.ledgers[shelf].cart_units -= quantity;
                self.totals.in_carts -= quantity;
                self.totals.sold += quantity;
                let unit_cents = self.shelves[shelf].unit_cents;
                let discount = self.discount(shelf, day);
                let total_cents = line_total_cents(quantity, unit_cents, discount);
                let row = vec![
                    self.next_event_id(Stream::PosTransactions),
                    self.store.clone(),
                    transaction.clone(),
                    customer.clone(),
                    Value::Int(line_no as i64 + 1),
                    Value::Int(lines),
                    self.shelves[shelf].id.clone(),
                    line.lot.code.clone(),
                    date_value(line.lot.expiry),
                    Value::Int(quantity),
                    Value::Decimal(Decimal::new(unit_cents, 2)),
                    Value::Float(discount),
                    Value::Decimal(Decimal::new(total_cents, 2)),
                    Value::Timestamp(self.now),
                ];
                emit(Stream::PosTransactions, row);
            }
        }
        let mut cart = cart;
        cart.clear();
        self.customers[k].cart = cart;
        self.emit_foot("exit", k, emit);
        self.customers[k].id = Value::Null;
        self.free_customers.push(k as u32);
    }
}

/// A sale line's total in cents: `quantity × unit price × (1 − discount)`, exact in integers
/// (the discount is a whole percentage), rounded half up to a cent.
fn line_total_cents(quantity: i64, unit_cents: i64, discount: f64) -> i64 {
    let kept_percent = 100 - (discount * 100.0).round() as i64;
    (quantity * unit_cents * kept_percent + 50).div_euclid(100)
}
