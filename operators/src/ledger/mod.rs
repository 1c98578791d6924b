//! `ledger`: stock per key and batch from signed movements, consumed first-expiry-first-out,
//! with the movements that would drive a batch negative as rejected records.

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{LedgerConfig, KIND};
pub use operator::{book_movements, LedgerRules};
