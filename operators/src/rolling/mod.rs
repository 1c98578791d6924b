//! `rolling`: per key and calendar day, aggregates over the days before (lagged sums, means,
//! extremes, counts and plain lags), updated incrementally when any day in reach changes.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{RollingColumn, RollingConfig, RollingFunction, KIND};
