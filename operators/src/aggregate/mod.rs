//! `aggregate`: keyed aggregates (count, sum, avg, min, max, count_distinct, first, last,
//! var_pop, var_samp, stddev_pop, stddev_samp), each kept incrementally per group.

mod config;
mod functions;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{plan_aggregation, AggregateConfig, KIND};
pub use functions::{AggFn, Aggregation, Spread};
pub use operator::aggregate_rows;
