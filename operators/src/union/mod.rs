//! `union`: the rows of several collections with the same columns.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{UnionConfig, KIND};
pub use operator::union_rows;
