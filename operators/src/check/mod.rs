//! `check`: declarative data-quality expectations per row (`not_null`, `range`, `in`,
//! `matches`, `unique_by`). Every row that breaks one becomes a row of the
//! operator's output, a collection of violations like any other; the runtime counts them and,
//! with `on_violation: fail`, stops the run at the first one.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{CheckConfig, Expectation, OnViolation, KIND};
pub use operator::{check_rows, violation_schema, Describe, RowCheck, Test};
