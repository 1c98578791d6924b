//! What the store is told: its configuration and the feedback of the pipelines, plus the
//! bookkeeping it reports back.

use shelfflow_operators::value::{Days, Micros, MICROS_PER_DAY};

use crate::simulator::stores::StoreProfile;

/// Microseconds in one minute.
const MICROS_PER_MINUTE: Micros = 60_000_000;

/// How the simulated store behaves. Business rules live here, not in code paths.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    /// Seed of the chain: every store draws from its own stream of it.
    pub seed: u64,
    /// The store of the chain (1-based): its rows carry it, its random stream and ids follow it.
    pub store_id: i64,
    /// Customers enter from this hour of the day (0–23)...
    pub opens_hour: i64,
    /// ... until the last minute before this hour (1–24); a trip may end after it.
    pub closes_hour: i64,
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

impl Default for WorldConfig {
    /// Store 1 of seed 42, open around the clock, one week from 2026-01-01T00:00:00Z, 1,000 base
    /// customers a day, 15 % putbacks, picks 60 s after the plan, 3 minutes to the shelf, removal
    /// at 00:30.
    fn default() -> WorldConfig {
        // 2026-01-01 is day 20,454 since the epoch.
        WorldConfig {
            seed: 42,
            store_id: 1,
            opens_hour: 0,
            closes_hour: 24,
            start: 20_454 * MICROS_PER_DAY,
            days: 7,
            base_daily_customers: 1000.0,
            traffic_multiplier: 1.0,
            putback_probability: 0.15,
            pick_delay: MICROS_PER_MINUTE,
            shelf_travel: 3 * MICROS_PER_MINUTE,
            removal_time: 30 * MICROS_PER_MINUTE,
        }
    }
}

impl WorldConfig {
    /// This configuration for one store of the chain: its id, opening hours, and its traffic
    /// scaled by its size factor.
    pub fn for_store(&self, profile: &StoreProfile) -> WorldConfig {
        WorldConfig {
            store_id: profile.store_id,
            opens_hour: profile.opens_hour,
            closes_hour: profile.closes_hour,
            traffic_multiplier: self.traffic_multiplier * profile.size_factor,
            ..self.clone()
        }
    }
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
///
/// At every moment `initial + delivered − sold − removed == store + warehouse + in_carts +
/// in_transit`.
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

impl Totals {
    /// Whether every unit is accounted for.
    pub const fn balanced(&self) -> bool {
        self.initial + self.delivered - self.sold - self.removed
            == self.store + self.warehouse + self.in_carts + self.in_transit
    }
}

/// What the store ignored or could not do, counted instead of silently dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Feedback naming a shelf the store does not have.
    pub unknown_shelf: u64,
    /// Feedback with a non-positive quantity or a non-finite discount.
    pub invalid_feedback: u64,
    /// Restock plans or supplier orders fed again with an id already seen.
    pub duplicate_feedback: u64,
    /// Reference batches of unknown shelves or with a non-positive quantity.
    pub invalid_batches: u64,
    /// Delivered units refused because the warehouse was full.
    pub refused_delivery_units: i64,
    /// Customer pickups that found every shelf empty.
    pub empty_store_pickups: u64,
}
