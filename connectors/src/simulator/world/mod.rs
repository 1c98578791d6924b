//! The physical store in event time: customers, shelves, checkout, staff and suppliers.
//!
//! CONTRACT (implemented by the simulator; the runtime drives it):
//! - `World::new(config, reference)` starts at `config.start` with the reference stock.
//! - `World::feed(feedback)` tells the store about a plan, order or discount the pipelines
//!   emitted. Feeding the same plan or order twice has no further effect.
//! - `World::advance(until, emit)` emits, in time order, every event with `timestamp < until`
//!   and moves the clock to `until`. Events are rows in the stream's canonical field order.
//!
//! Files:
//! - `config.rs`: [`WorldConfig`], [`Feedback`], and what the store reports ([`Totals`],
//!   [`Dropped`]).
//! - `store.rs`: [`World`]: its state, public methods, schedule of actions, discounts and the
//!   rows it emits.
//! - `customers.rs`: shoppers' arrivals, shelf actions and checkout.
//! - `staff.rs`: restock picks, refills, supplier deliveries and expired-stock removal.
//! - `ledger.rs`: the batch ledger of one shelf and the weighted pick index.
//! - `traffic.rs`: the customer model (daily totals, time slots, trips, actions).
//! - `ids.rs`: stable UUIDv5 ids.

mod config;
mod customers;
mod ids;
mod ledger;
mod staff;
mod store;
mod traffic;

#[cfg(test)]
mod tests;

pub use config::{Dropped, Feedback, Totals, WorldConfig};
pub use store::World;
