//! `restock_plan`: at most one open shelf-restock plan per key, opened when the stock runs low
//! and followed through its `picked` and `delivered` progress.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{ProgressColumns, RestockPlanConfig, KIND};
pub use operator::{plan_restocks, RestockRules};
