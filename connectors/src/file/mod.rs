//! `connector: file`: JSONL, CSV and Parquet files as sources and sinks, and the pipeline's
//! dead-letter file.
//!
//! - `config`: the YAML of sources and sinks, the registry entries and pure checks.
//! - `source`: JSONL read in chunks (optionally followed), CSV and Parquet loaded whole.
//! - `sink`: the JSONL changelog, the CSV / Parquet snapshot of the final state.
//! - `snapshot`: the final state kept by snapshot sinks (shared with the stdout table).
//! - `dead_letter`: the dead-letter file.

mod config;
mod dead_letter;
mod sink;
mod snapshot;
mod source;
#[cfg(test)]
mod tests;

pub use config::{FileSinkConfig, FileSourceConfig, Format, SINK, SOURCE};
pub use dead_letter::DeadLetterFile;
pub use sink::{ChangelogWriter, JsonWriter, SnapshotWriter, TableFormat};
pub use snapshot::Snapshot;
pub use source::{JsonlReader, TableReader};
