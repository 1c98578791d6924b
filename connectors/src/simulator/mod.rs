//! The store: reference data generation and a closed-loop, event-time simulation of customers,
//! staff and suppliers.
//!
//! - [`generate`] draws the reference data of one store from a seed (catalog, store and
//!   warehouse inventory, batches, weekly discounts) and a one-year daily history per shelf,
//!   produced by the same replenishment policy the live pipelines run. [`reference::Reference`]
//!   is that data in memory; it is written to and read back from Parquet.
//! - [`world::World`] is the physical store in event time. It emits the four event streams
//!   ([`events::Stream`]) and reacts to the plans, orders and discounts the pipelines emit
//!   ([`Feedback`]): the loop between the store and its dataflow is closed through those.
//!
//! Everything is deterministic for a seed: one ChaCha8 random stream consumed in event order.

pub mod catalog;
pub mod events;
pub mod feedback;
pub mod generate;
pub mod history;
pub mod parquet;
pub mod reference;
pub mod source;
pub mod stores;
pub mod world;

pub use events::Stream;
pub use feedback::{FeedbackKind, FeedbackSpec, SINK};
pub use reference::Reference;
pub use source::{Settings, SimulatedStream, Speed, SOURCE};
pub use stores::{Store, StoreProfile};
pub use world::{Feedback, World, WorldConfig};
