//! `connector: postgres`: PostgreSQL tables kept equal to a collection (upsert) or holding every
//! change (append), exactly once across crashes and outages.
//!
//! - `config`: the sink's YAML, the registry entry and pure checks.
//! - `sql`: table DDL from the pipeline schema, schema differences, binary encoding of values.
//! - `source`: a table or query read once (reference data kept in the database).
//! - `sink`: the writer thread (one transaction per group of closed timestamps, progress row,
//!   retries with backoff, bounded queue).

mod config;
mod sink;
mod source;
pub mod sql;

pub use config::{Mode, PostgresSinkConfig, PostgresSourceConfig, SINK, SOURCE};
pub use sink::{table_columns, PostgresWriter};

/// Connection and commit attempts retried after a failure, by every PostgreSQL sink of this
/// process (for metrics).
pub static RETRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
