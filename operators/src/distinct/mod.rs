//! `distinct`: one row per key, e.g. by `event_id` against duplicate delivery.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{DistinctConfig, KIND};
pub use operator::{distinct_rows, present_keys};
