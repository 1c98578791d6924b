//! Sources and sinks of shelfflow.
//!
//! A connector is one directory with a strict YAML config (`config.rs`), its runtime
//! (`source.rs` / `sink.rs`) and unit tests. [`sources`] and [`sinks`] are the registries the
//! pipeline's `connector:` key is looked up in.
//!
//! Sources decode records against the pipeline's typed schema and stamp them with event time
//! through an [`EventClock`]; every record that cannot be decoded or typed, or that arrives behind
//! the source's frontier, becomes a [`DeadLetter`] instead of being dropped. Sinks receive the
//! consolidated changes of one closed timestamp at a time.

pub mod calendar;
pub mod clock;
pub mod decode;
pub mod file;
pub mod fluvio;
pub mod pipeline;
pub mod positions;
pub mod postgres;
pub mod simulator;
pub mod stdout;

pub use clock::{CatchUp, EventClock};
pub use positions::SourcePositions;
pub use shelfflow_operators::dead_letter::{reason_kind, DeadLetter};
pub use shelfflow_operators::{ConfigError, Diff, Row, Schema, Time, Value};

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Every source connector, by its YAML `connector:` name. One line per connector.
pub fn sources() -> BTreeMap<&'static str, SourceKind> {
    [
        file::SOURCE,
        calendar::SOURCE,
        fluvio::SOURCE,
        pipeline::SOURCE,
        postgres::SOURCE,
        simulator::SOURCE,
    ]
    .into_iter()
    .map(|kind| (kind.name, kind))
    .collect()
}

/// Every sink connector, by its YAML `connector:` name. One line per connector.
pub fn sinks() -> BTreeMap<&'static str, SinkKind> {
    [file::SINK, fluvio::SINK, postgres::SINK, stdout::SINK, simulator::SINK]
        .into_iter()
        .map(|kind| (kind.name, kind))
        .collect()
}

/// How a source connector is registered.
#[derive(Clone, Copy)]
pub struct SourceKind {
    /// The YAML `connector:` value.
    pub name: &'static str,
    /// One line of description.
    pub summary: &'static str,
    /// The connector-specific YAML keys of a complete example (round-tripped by a unit test).
    pub sample: &'static str,
    /// Deserializes the connector-specific keys (the pipeline layer removes the common ones:
    /// `connector`, `schema`, `event_time`, `allowed_lateness`, `key`, `description`).
    pub parse: fn(serde_yaml_ng::Value) -> Result<Box<dyn SourceConfig>, ConfigError>,
}

/// How a sink connector is registered.
#[derive(Clone, Copy)]
pub struct SinkKind {
    /// The YAML `connector:` value.
    pub name: &'static str,
    /// One line of description.
    pub summary: &'static str,
    /// The connector-specific YAML keys of a complete example.
    pub sample: &'static str,
    /// Deserializes the connector-specific keys (without `connector`, `input`, `key`,
    /// `description`).
    pub parse: fn(serde_yaml_ng::Value) -> Result<Box<dyn SinkConfig>, ConfigError>,
}

impl fmt::Debug for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl fmt::Debug for SinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A parsed source config.
///
/// Contract: a source is read by exactly one worker, sequentially, so its records keep their
/// order and its watermark (and therefore which records are late) does not depend on the worker
/// count. A *partitioned* source (a Fluvio topic) is read by every worker, each reading its
/// share of the partitions with one watermark per partition, which keeps the same guarantee.
pub trait SourceConfig: fmt::Debug + Send + Sync {
    /// Pure checks of the config against the declared schema (no I/O).
    fn validate(&self, schema: &Schema) -> Vec<ConfigError>;
    /// Human-readable origin, e.g. `data/events.jsonl (jsonl)`.
    fn describe(&self) -> String;
    /// Whether the source ends (a file read once) or runs until stopped (`follow: true`).
    fn is_finite(&self) -> bool;
    /// Opens the source for reading rows of `schema`.
    fn open(&self, schema: &Schema) -> Result<Box<dyn SourceReader>, ConnectorError>;
    /// Whether every worker reads a share of the source ([`SourceConfig::open_share`]) instead
    /// of one worker reading all of it.
    fn partitioned(&self) -> bool {
        false
    }
    /// Opens worker `worker`'s share (of `workers`) of a partitioned source; `None` when it
    /// has nothing to read.
    fn open_share(
        &self,
        schema: &Schema,
        worker: usize,
        workers: usize,
    ) -> Result<Option<Box<dyn SourceReader>>, ConnectorError> {
        (worker == 0 && workers > 0).then(|| self.open(schema)).transpose()
    }
    /// A stream of the store simulation, which the runtime drives inside the dataflow (it reacts
    /// to the pipeline's own outputs) instead of reading it on a thread.
    fn simulation(&self) -> Option<&simulator::SimulatedStream> {
        None
    }
    /// The collection of another pipeline this source stands for (`connector: pipeline`), and
    /// whether it is optional: the planner replaces the source by that collection when both run
    /// in one dataflow.
    fn bound_collection(&self) -> Option<(&str, bool)> {
        None
    }
}

/// Checks a declared schema against the fields a connector produces (name, type, nullable):
/// every declared column must exist with the same type, and may be nullable only if declared so.
pub fn check_fields(
    schema: &Schema,
    fields: &[(&str, shelfflow_operators::value::Type, bool)],
    what: &str,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for field in &schema.fields {
        match fields.iter().find(|(name, _, _)| *name == field.name) {
            None => errors.push(
                ConfigError::new(
                    format!("schema.{}", field.name),
                    format!("{what} has no field `{}`", field.name),
                )
                .hint(shelfflow_operators::plan::name_hint(
                    &field.name,
                    fields.iter().map(|(n, _, _)| *n),
                    "its fields are",
                )),
            ),
            Some((_, ty, nullable)) => {
                if *ty != field.ty {
                    errors.push(ConfigError::new(
                        format!("schema.{}", field.name),
                        format!(
                            "`{}` is {} in {what}, not {}",
                            field.name,
                            ty.name(),
                            field.ty.name()
                        ),
                    ));
                } else if *nullable && !field.nullable {
                    errors.push(
                        ConfigError::new(
                            format!("schema.{}", field.name),
                            format!("`{}` can be NULL in {what}", field.name),
                        )
                        .hint(format!("declare it as `{}?`", ty.name())),
                    );
                }
            }
        }
    }
    errors
}

/// What a read call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadStatus {
    /// Records were read and more may be available right away.
    More,
    /// Nothing new for now (a followed file at its end); try again later.
    Idle,
    /// The source is exhausted.
    Finished,
}

impl ReadStatus {
    /// What a read call that got as far as it could reports: `More` if it produced `records`
    /// (so `Idle` and `Finished` always come with an empty batch), else `at_end`.
    pub fn after(records: usize, at_end: ReadStatus) -> ReadStatus {
        if records > 0 {
            ReadStatus::More
        } else {
            at_end
        }
    }
}

/// Records produced by one read call.
#[derive(Debug, Default)]
pub struct SourceBatch {
    /// Decoded rows with their dataflow time.
    pub rows: Vec<(Row, Time)>,
    /// Records that could not be decoded, typed or timed.
    pub dead: Vec<DeadLetter>,
    /// Rows that no longer exist (a live table's deleted or updated rows), with their time.
    pub retracted: Vec<(Row, Time)>,
    /// Where the reader is after this batch, for sources with offsets: `(partition, next
    /// offset)` such as `("shelf-events/0", 1234)`.
    pub positions: Vec<(String, i64)>,
}

impl SourceBatch {
    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.dead.clear();
        self.retracted.clear();
        self.positions.clear();
    }

    /// Stamps an already typed row with `clock` and keeps it, or, when it cannot be timed (late,
    /// NULL event time), keeps it as a dead letter read at `position`.
    pub fn push_typed(
        &mut self,
        row: Row,
        clock: &mut EventClock,
        position: impl FnOnce() -> String,
    ) {
        match clock.stamp(&row) {
            Ok(time) => self.rows.push((row, time)),
            Err(untimed) => self.dead.push(DeadLetter {
                position: position(),
                reason: untimed.reason(),
                raw: serde_json::Value::Array(row.iter().map(Value::to_json).collect()).to_string(),
                time: clock.frontier(),
            }),
        }
    }
}

/// An open source.
pub trait SourceReader: Send {
    /// Reads up to `max` records into `out`, stamping each with `clock`.
    fn read(
        &mut self,
        max: usize,
        clock: &mut EventClock,
        out: &mut SourceBatch,
    ) -> Result<ReadStatus, ConnectorError>;

    /// Whether every part of the source has delivered nothing for its idle timeout, so its
    /// frontier may follow the pipeline's other sources (a record arriving behind it later is
    /// late). Sources without an idle timeout never are.
    fn idle(&self) -> bool {
        false
    }
}

/// A parsed sink config.
pub trait SinkConfig: fmt::Debug + Send + Sync {
    /// Pure checks (no I/O).
    fn validate(&self, schema: &Schema) -> Vec<ConfigError>;
    /// Human-readable destination, e.g. `out/stock.jsonl (jsonl changelog)`.
    fn describe(&self, ctx: &SinkContext) -> String;
    /// Opens the sink.
    fn open(&self, ctx: &SinkContext) -> Result<Box<dyn SinkWriter>, ConnectorError>;
    /// Compares the destination with what the sink writes, for `validate --check-db`: one line
    /// per difference and whether it stops a run. `None` for sinks without an external schema.
    fn check_destination(
        &self,
        _ctx: &SinkContext,
    ) -> Option<Result<Vec<(String, bool)>, ConnectorError>> {
        None
    }
    /// A sink that feeds its changes back into the store simulation (plans staff execute,
    /// orders suppliers deliver) instead of writing them anywhere.
    fn feedback(&self) -> Option<&simulator::FeedbackSpec> {
        None
    }
}

/// What a sink needs to know about the collection it writes.
#[derive(Debug, Clone)]
pub struct SinkContext {
    /// Pipeline name.
    pub pipeline: String,
    /// Sink name.
    pub sink: String,
    /// Schema of the rows.
    pub schema: Schema,
    /// Key column positions: at most one row per key at any time. Empty for a collection of at
    /// most one row (an aggregate without `group_by`); a collection without a natural key is keyed
    /// by all its columns.
    pub key: Vec<usize>,
    /// Default directory for outputs whose path is not given.
    pub output_dir: PathBuf,
    /// What the output holds (the sink's `description`, else its input's), for table comments.
    pub description: Option<String>,
    /// Hash of the pipeline definition, recorded with committed progress.
    pub definition_hash: String,
    /// Where the run's sources have read to, by frontier (stored with committed progress).
    pub positions: SourcePositions,
}

/// The change of one key at one timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    /// The key now has this row (inserted or updated).
    Upsert,
    /// The key no longer exists; the row is its last value.
    Delete,
}

/// One consolidated change.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// Upsert or delete.
    pub op: ChangeOp,
    /// The new row (upsert) or the removed row (delete).
    pub row: &'a [Value],
}

/// An open sink.
pub trait SinkWriter: Send {
    /// Writes every change of one closed timestamp, in key order, at most one per key.
    fn write(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError>;
    /// Called after the writes of every time that closed together (one step of the dataflow),
    /// so a followed pipeline's output is current without a flush per timestamp.
    fn flush(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
    /// Flushes; snapshot sinks write their final state now.
    fn finish(&mut self) -> Result<(), ConnectorError>;
    /// For a writer that outputs only the final state (a snapshot file): the state, to which
    /// the runtime adds the raw row updates of closed times directly ([`file::Snapshot::add`])
    /// instead of calling [`SinkWriter::write`] with each time's changes by key. Time by time
    /// the two give the same final state; this one needs no consolidation per timestamp.
    fn final_state(&mut self) -> Option<&mut file::Snapshot> {
        None
    }
}

/// Who is to blame for an error, which decides whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDomain {
    /// The user's config or data; retrying will not help.
    User,
    /// An external system (file system, server); retrying may help.
    External,
    /// A bug in shelfflow.
    Internal,
}

/// A connector failure.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Reading or writing a file failed.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A database refused a statement or could not be reached.
    #[error("{target}: {message}")]
    Database {
        /// The table (or database) concerned.
        target: String,
        /// What the server or client reported.
        message: String,
    },
    /// A Fluvio cluster refused a request or could not be reached.
    #[error("{target}: {message}")]
    Cluster {
        /// The topic (or cluster) concerned.
        target: String,
        /// What the cluster or client reported.
        message: String,
    },
    /// polars could not read or write a CSV or Parquet file.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What polars reported.
        message: String,
    },
    /// The data does not fit the declared schema as a whole (e.g. a Parquet column type).
    #[error("{path}: {message}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
}

impl ConnectorError {
    /// The error's domain.
    pub fn domain(&self) -> ErrorDomain {
        match self {
            ConnectorError::Io { .. }
            | ConnectorError::Database { .. }
            | ConnectorError::Cluster { .. } => ErrorDomain::External,
            ConnectorError::Format { .. } | ConnectorError::Schema { .. } => ErrorDomain::User,
        }
    }
}
