//! `connector: calendar` — the store's business schedule as an event stream in event time.
//!
//! Every schedule of the store (day starts, supplier cutoffs, supplier deliveries) is a record
//! of this source, stamped with the time it happens. Pipelines join or trigger on these
//! records instead of reading a wall clock, so a replay of the same events gives the same plans,
//! orders and deliveries, and a simulation at any speed follows the same schedule.

mod config;
mod source;
#[cfg(test)]
mod tests;

pub use config::{CalendarConfig, SOURCE};
pub use source::{CalendarReader, FIELDS};
