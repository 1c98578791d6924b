//! `aggregate`: keyed aggregates (count, sum, avg, min, max, count_distinct, first, last).

mod config;
mod functions;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{plan_aggregation, AggregateConfig, KIND};
pub use functions::{AggFn, Aggregation};
pub use operator::aggregate_rows;
