//! `top_k`: the first `k` rows per group by an ordering.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{TopKConfig, KIND};
pub use operator::{top_k_rows, Ordering};
