//! SQL expressions, parsed once with `sqlparser` and compiled at plan time into typed evaluators.
//!
//! A compiled [`Expr`] holds resolved column positions and a static result type; evaluating it
//! is a tree walk over a row slice with no parsing, allocation of names, or lookups.

mod compile;
#[cfg(test)]
mod decimal_tests;
mod eval;
mod format;
mod like;
mod temporal;
#[cfg(test)]
mod tests;

pub use compile::{
    compile, compile_aggregate_call, AggregateCall, AGGREGATE_FUNCTIONS, SCALAR_FUNCTIONS,
};
pub(crate) use eval::cast;
pub use eval::{checked, Expr, Overflow};

use std::fmt;

/// Why an expression did not compile, with its place in the expression text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// What kind of problem this is.
    pub kind: ExprErrorKind,
    /// One-line description: what was expected and what was found.
    pub message: String,
    /// 1-based (line, column) inside the expression text, when known.
    pub location: Option<(u32, u32)>,
    /// A suggestion such as "did you mean `quantity`?".
    pub hint: Option<String>,
}

/// The classes of expression errors (each has a golden test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprErrorKind {
    /// The text is not valid SQL expression syntax.
    Syntax,
    /// A column name that the input schema does not have.
    UnknownColumn,
    /// A function that does not exist.
    UnknownFunction,
    /// Operand or argument types that do not fit.
    TypeMismatch,
    /// SQL that is valid but not supported here (subqueries, window functions, ...).
    Unsupported,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}
