//! The physical store in event time: customers, shelves, checkout, staff and suppliers.
//!
//! CONTRACT (implemented by the simulator; the runtime drives it):
//! - `World::new(config, reference)` starts at `config.start` with the reference stock.
//! - `World::feed(feedback)` tells the store about a plan, order or discount the pipelines
//!   emitted. Feeding the same plan or order twice has no further effect.
//! - `World::advance(until, emit)` emits, in time order, every event with `timestamp < until`
//!   and moves the clock to `until`. Events are rows in the stream's canonical field order.

use shelfflow_operators::value::{Days, Micros};
use shelfflow_operators::Row;

use super::events::Stream;
use super::reference::Reference;

/// How the simulated store behaves. Business rules live here, not in code paths.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    /// Seed of the one random stream.
    pub seed: u64,
    /// Simulation start, microseconds since the epoch (UTC).
    pub start: Micros,
    /// Simulated days.
    pub days: u32,
    /// Mean customers on an average day before weekday weights.
    pub base_daily_customers: f64,
    /// Multiplier on the daily customer total.
    pub traffic_multiplier: f64,
    /// Probability that a shopper's action puts an item back.
    pub putback_probability: f64,
    /// Staff pick a restock plan in the warehouse this long after the plan (µs).
    pub pick_delay: Micros,
    /// Picked goods reach the shelf this long after the pick (µs).
    pub shelf_travel: Micros,
    /// Expired batches are removed every day at this time after midnight (µs).
    pub removal_time: Micros,
}

/// What the pipelines tell the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Feedback {
    /// A restock plan: staff pick `quantity` in the warehouse `pick_delay` after `created_at`.
    RestockPlan { plan_id: String, shelf_id: String, quantity: i64, created_at: Micros },
    /// A supplier order, delivered into the warehouse at `delivery_at`.
    SupplierOrder { order_id: String, shelf_id: String, quantity: i64, delivery_at: Micros },
    /// A near-expiry discount for one product on one day (replaces an earlier one).
    Discount { shelf_id: String, date: Days, discount: f64 },
    /// The discount for that product and day is withdrawn.
    DiscountWithdrawn { shelf_id: String, date: Days },
}

/// Stock bookkeeping of the whole store, in units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Store + warehouse stock at the start.
    pub initial: i64,
    /// Delivered by suppliers.
    pub delivered: i64,
    /// Paid at checkout.
    pub sold: i64,
    /// Removed as expired (store and warehouse).
    pub removed: i64,
    /// Picked by customers still in the store.
    pub in_carts: i64,
    /// On the shelves now.
    pub store: i64,
    /// In the warehouse now.
    pub warehouse: i64,
    /// Picked in the warehouse, not yet on the shelf.
    pub in_transit: i64,
}

/// The store. (Being implemented.)
pub struct World {
    _reference: Reference,
    _config: WorldConfig,
}

impl World {
    /// A store at `config.start` with the reference stock.
    pub fn new(config: WorldConfig, reference: Reference) -> World {
        World { _reference: reference, _config: config }
    }

    /// Tells the store about a plan, order or discount.
    pub fn feed(&mut self, _feedback: Feedback) {}

    /// Emits every event with `timestamp < until`, in time order.
    pub fn advance(&mut self, _until: Micros, _emit: &mut dyn FnMut(Stream, Row)) {}
}
