//! Staff and suppliers: restock picks in the warehouse, refills on the shelf, deliveries and the
//! daily removal of expired batches.

use std::mem;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shelfflow_operators::value::{Days, MICROS_PER_DAY};
use shelfflow_operators::{Row, Value};

use super::ledger::{Lot, Plan};
use super::store::{date_of, day_of, Action, Order, Transit, World};
use crate::simulator::events::Stream;

impl World {
    /// Picks a plan in the warehouse, oldest batches first, and sends the units to the shelf.
    pub(super) fn pick(&mut self, plan: Plan, emit: &mut dyn FnMut(Stream, Row)) {
        let shelf = plan.shelf as usize;
        let ledger = &mut self.ledgers[shelf];
        let quantity = plan.quantity.min(ledger.room(self.shelves[shelf].capacity));
        if quantity <= 0 {
            return;
        }
        if ledger.warehouse_units == 0 {
            ledger.waiting.push(plan);
            return;
        }
        let mut lots = Vec::new();
        let taken = ledger.take_warehouse(quantity, &mut lots);
        ledger.transit_units += taken;
        self.totals.warehouse -= taken;
        self.totals.in_transit += taken;
        for lot in &lots {
            self.emit_wh(emit, "wh_out", shelf, lot, lot.quantity, &plan.id, &Value::Null);
        }
        let arrival = self.now.saturating_add(self.config.shelf_travel.max(0));
        let transit = Transit { plan: plan.id, shelf: plan.shelf, lots };
        self.schedule(arrival, Action::Refill(Box::new(transit)));
    }

    pub(super) fn refill(&mut self, transit: Transit, emit: &mut dyn FnMut(Stream, Row)) {
        let shelf = transit.shelf as usize;
        for lot in transit.lots {
            let quantity = lot.quantity;
            let ledger = &mut self.ledgers[shelf];
            ledger.transit_units -= quantity;
            ledger.put_store(lot.clone());
            self.totals.in_transit -= quantity;
            self.totals.store += quantity;
            self.emit_shelf(
                emit,
                "refill",
                shelf,
                &Value::Null,
                Some(&lot),
                quantity,
                &transit.plan,
            );
        }
        self.update_pick(shelf);
    }

    /// A supplier delivery: one new warehouse batch, then the plans that waited for it.
    pub(super) fn deliver(&mut self, order: Order, emit: &mut dyn FnMut(Stream, Row)) {
        let shelf = order.shelf as usize;
        let room =
            (self.shelves[shelf].warehouse_capacity - self.ledgers[shelf].warehouse_units).max(0);
        let accepted = order.quantity.min(room);
        if accepted < order.quantity {
            self.dropped.refused_delivery_units += order.quantity - accepted;
            tracing::warn!(
                order_id = order.id.as_str().unwrap_or_default(),
                refused = order.quantity - accepted,
                "delivery exceeds warehouse capacity"
            );
        }
        if accepted > 0 {
            let day = day_of(self.now);
            let code = self.delivery_code(order.shelf, day);
            let mut rng = self.delivery_rng(order.shelf, day);
            let shelf_life = if self.shelves[shelf].perishable {
                rng.random_range(2..=15)
            } else {
                rng.random_range(365..=730)
            };
            let lot = Lot { code, received: day, expiry: day + shelf_life, quantity: accepted };
            self.emit_wh(emit, "wh_in", shelf, &lot, accepted, &Value::Null, &order.id);
            self.ledgers[shelf].put_warehouse(lot);
            self.totals.delivered += accepted;
            self.totals.warehouse += accepted;
        }
        for plan in mem::take(&mut self.ledgers[shelf].waiting) {
            self.pick(plan, emit);
        }
    }

    /// The random stream of the latest delivery to `shelf` on `day`: its own, from the seed, the
    /// store, the shelf, the day and the delivery's number that day, so what a delivery brings
    /// does not depend on the order the deliveries of one moment are executed in (that order
    /// follows the order ids, which are hashes).
    fn delivery_rng(&self, shelf: u32, day: Days) -> ChaCha8Rng {
        let count = self.deliveries.get(&(shelf, day)).copied().unwrap_or(1);
        let key =
            (u64::from(shelf) << 40) ^ ((day as i64 as u64 & 0xFF_FFFF) << 8) ^ u64::from(count);
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.config.seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.set_stream(self.config.store_id.max(1) as u64);
        rng
    }

    /// `S<yyyymmdd>-<shelf_id>`, with `-2`, `-3`, … for further deliveries the same day.
    fn delivery_code(&mut self, shelf: u32, day: Days) -> Value {
        let count = self.deliveries.entry((shelf, day)).or_insert(0);
        *count += 1;
        let date = date_of(day).map(|d| d.format("%Y%m%d").to_string()).unwrap_or_default();
        let shelf_id = self.shelves[shelf as usize].id.as_str().unwrap_or_default();
        match *count {
            1 => Value::str(&format!("S{date}-{shelf_id}")),
            n => Value::str(&format!("S{date}-{shelf_id}-{n}")),
        }
    }

    /// Every batch that expired before today leaves the shelves and the warehouse.
    pub(super) fn remove_expired(&mut self, emit: &mut dyn FnMut(Stream, Row)) {
        let day = day_of(self.now);
        let mut store = Vec::new();
        let mut warehouse = Vec::new();
        for shelf in 0..self.shelves.len() {
            store.clear();
            warehouse.clear();
            self.ledgers[shelf].remove_expired(day, &mut store, &mut warehouse);
            for lot in &store {
                self.totals.store -= lot.quantity;
                self.totals.removed += lot.quantity;
                self.emit_shelf(
                    emit,
                    "removal",
                    shelf,
                    &Value::Null,
                    Some(lot),
                    lot.quantity,
                    &Value::Null,
                );
            }
            for lot in &warehouse {
                self.totals.warehouse -= lot.quantity;
                self.totals.removed += lot.quantity;
                self.emit_wh(
                    emit,
                    "wh_removal",
                    shelf,
                    lot,
                    lot.quantity,
                    &Value::Null,
                    &Value::Null,
                );
            }
            if !store.is_empty() {
                self.update_pick(shelf);
            }
        }
        self.schedule(self.now.saturating_add(MICROS_PER_DAY), Action::Removal);
    }
}
