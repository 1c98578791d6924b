//! `snapshot`: the rows of a collection as they stand at each row of a trigger collection (end-of-
//! day balances, the state at every cutoff), kept as an append-only history.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{SnapshotConfig, KIND};
