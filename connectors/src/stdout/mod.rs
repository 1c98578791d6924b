//! `connector: stdout`: prints a collection's final state as a table, or its changes as they
//! happen.
//!
//! - `config`: the YAML and the registry entry.
//! - `sink`: the table and changelog printers.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{Mode, StdoutSinkConfig, SINK};
pub use sink::{render_table, ChangelogPrinter, TablePrinter};
