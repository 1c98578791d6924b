//! The top level of a pipeline file and the keys every source, table and sink shares.
//! Connector- and operator-specific keys are left as YAML for their own strict configs.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_yaml_ng::Value;

/// A pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PipelineSpec {
    /// Pipeline name (default: the file name without extension).
    #[serde(default)]
    pub name: Option<String>,
    /// What the pipeline is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Event-time granularity of results, e.g. `1s` or `1m`.
    #[serde(default = "default_tick", with = "humantime_serde")]
    pub tick: Duration,
    /// How a source's history (records older than `catch_up_lag`) is timed: `exact` (default,
    /// every record on `tick`) or `coarse` (history on `catch_up_tick`, live records on `tick`).
    #[serde(default)]
    pub catch_up: CatchUpMode,
    /// The grain of history in `coarse` catch-up mode.
    #[serde(default = "default_catch_up_tick", with = "humantime_serde")]
    pub catch_up_tick: Duration,
    /// In `coarse` mode, a record at least this far behind the wall clock is history.
    #[serde(default = "default_catch_up_lag", with = "humantime_serde")]
    pub catch_up_lag: Duration,
    /// Directory for outputs whose path is not given (default `out/<name>`).
    #[serde(default)]
    pub output_dir: Option<PathBuf>,
    /// Where records that cannot be used go.
    #[serde(default)]
    pub dead_letter: DeadLetterSpec,
    /// Event streams, by name.
    #[serde(default)]
    pub sources: IndexMap<String, Value>,
    /// Reference data, by name.
    #[serde(default)]
    pub tables: IndexMap<String, Value>,
    /// Operators, by name.
    #[serde(default)]
    pub operators: IndexMap<String, Value>,
    /// Outputs, by name.
    #[serde(default)]
    pub sinks: IndexMap<String, Value>,
}

const fn default_tick() -> Duration {
    Duration::from_secs(1)
}

const fn default_catch_up_tick() -> Duration {
    Duration::from_secs(3_600)
}

const fn default_catch_up_lag() -> Duration {
    Duration::from_secs(600)
}

/// How history is timed (see [`PipelineSpec::catch_up`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUpMode {
    /// Every record on the pipeline's tick.
    #[default]
    Exact,
    /// History on `catch_up_tick` until the source reaches live records.
    Coarse,
}

/// The dead-letter output.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct DeadLetterSpec {
    /// JSONL file (default `<output_dir>/dead_letter.jsonl`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Also write every dead letter to a Fluvio topic.
    #[serde(default)]
    pub fluvio: Option<DeadLetterFluvio>,
}

/// `dead_letter.fluvio`: the topic dead letters also go to, one JSON record each, keyed by the
/// input they came from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct DeadLetterFluvio {
    /// The topic (created when absent); default `<pipeline>-dlq`.
    #[serde(default)]
    pub topic: Option<String>,
    /// A profile of `~/.fluvio/config`; default its current profile.
    #[serde(default)]
    pub profile: Option<String>,
    /// The SC's public address, instead of a profile.
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// Keys shared by every source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SourceCommon {
    /// Connector name (`file`, ...).
    pub connector: String,
    /// Column name → type (`string`, `int`, `float`, `bool`, `timestamp`, `date`; `?` = nullable).
    pub schema: IndexMap<String, String>,
    /// The timestamp column that gives each record its event time.
    pub event_time: String,
    /// How far behind the largest event time seen a record may still arrive, e.g. `30s`.
    #[serde(default, with = "humantime_serde")]
    pub allowed_lateness: Option<Duration>,
    /// How long a record counts, e.g. `90d`: it is retracted once the source's event time has
    /// reached its own time plus this, so everything downstream forgets it.
    #[serde(default, with = "humantime_serde")]
    pub retention: Option<Duration>,
    /// What the stream holds.
    #[serde(default)]
    pub description: Option<String>,
}

/// Keys shared by every table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TableCommon {
    /// Connector name.
    pub connector: String,
    /// Column name → type.
    pub schema: IndexMap<String, String>,
    /// Columns that identify a row.
    pub key: Vec<String>,
    /// What the table holds.
    #[serde(default)]
    pub description: Option<String>,
}

/// Keys shared by every sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SinkCommon {
    /// The collection to write.
    pub input: String,
    /// Connector name (`file`, `stdout`, ...).
    pub connector: String,
    /// Columns identifying a row in the output (default: the collection's key, else all columns).
    #[serde(default)]
    pub key: Option<Vec<String>>,
    /// What the output holds.
    #[serde(default)]
    pub description: Option<String>,
    /// `false` leaves the sink out of the run (e.g. `enabled: ${SHELFFLOW_POSTGRES:-true}`); it is
    /// still validated.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// How long a row stays in the output, e.g. `90d`: from its event time (`retention_by`) until
    /// the collection's time has passed it by this much; then it is removed.
    #[serde(default, with = "humantime_serde")]
    pub retention: Option<Duration>,
    /// The timestamp or date column `retention` counts from (default: the collection's event-time
    /// column).
    #[serde(default)]
    pub retention_by: Option<String>,
}

const fn enabled_by_default() -> bool {
    true
}

/// The keys of each common struct, used to split a component's mapping in two.
pub const SOURCE_KEYS: [&str; 6] =
    ["connector", "schema", "event_time", "allowed_lateness", "retention", "description"];
/// See [`SOURCE_KEYS`].
pub const TABLE_KEYS: [&str; 4] = ["connector", "schema", "key", "description"];
/// See [`SOURCE_KEYS`].
pub const SINK_KEYS: [&str; 7] =
    ["input", "connector", "key", "description", "enabled", "retention", "retention_by"];
/// Keys every operator has besides its kind's own.
pub const OPERATOR_KEYS: [&str; 2] = ["op", "description"];
