//! `join`: inner and left joins on equal keys, stream–table and stream–stream.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{JoinConfig, JoinKind, KIND};
pub use operator::join_rows;
