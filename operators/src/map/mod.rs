//! `map`: computes, renames, drops and selects columns.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{MapConfig, KIND};
pub use operator::project_rows;
