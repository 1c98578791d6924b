//! `filter`: keeps the rows for which a SQL predicate is true.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub(crate) use config::compile_predicate;
pub use config::{FilterConfig, KIND};
pub use operator::filter_rows;
