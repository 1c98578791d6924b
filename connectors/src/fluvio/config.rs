//! The YAML of `connector: fluvio` sources and sinks, and their pure checks.

use std::time::Duration;

use serde::Deserialize;
use shelfflow_operators::parse_config;

use super::sink::FluvioWriter;
use super::source::FluvioReader;
use crate::{
    ConfigError, ConnectorError, Schema, SinkConfig, SinkContext, SinkKind, SinkWriter,
    SourceConfig, SourceKind, SourceReader,
};

/// The `fluvio` source.
pub const SOURCE: SourceKind = SourceKind {
    name: "fluvio",
    summary: "reads JSON records from a Fluvio topic, its partitions spread over the workers",
    sample: SOURCE_SAMPLE,
    parse: parse_source,
};

/// The `fluvio` sink.
pub const SINK: SinkKind = SinkKind {
    name: "fluvio",
    summary: "writes every change as a keyed JSON record {op, key, row, time} to a Fluvio topic",
    sample: SINK_SAMPLE,
    parse: parse_sink,
};

const SOURCE_SAMPLE: &str = r#"topic: shelf-events
endpoint: 127.0.0.1:9003 # optional: the SC's public address, or `profile: NAME` of ~/.fluvio/config
partitions: [0, 1]       # optional: default every partition of the topic
start: beginning         # beginning | end | committed (the consumer's committed offset)
consumer: shelfflow-store # optional: commit read offsets under this consumer name
idle_timeout: 5s         # a partition without records this long stops holding the watermark
stop_at_end: false       # true: end once every partition reaches its end offset at start
max_fetch_bytes: 8388608 # the most bytes one fetch of a partition returns
"#;

const SINK_SAMPLE: &str = r#"topic: shelf-state       # created when absent
endpoint: 127.0.0.1:9003 # optional: or `profile`, default the current profile
partitions: 1            # for a topic created by the sink
retention: 7d            # for a topic created by the sink; optional
batch_size: 16384        # bytes per producer batch
linger: 10ms             # how long a batch may wait to fill
compression: none        # none | gzip | snappy | lz4 | zstd
"#;

fn parse_source(value: serde_yaml_ng::Value) -> Result<Box<dyn SourceConfig>, ConfigError> {
    Ok(Box::new(parse_config::<FluvioSourceConfig>(value)?))
}

fn parse_sink(value: serde_yaml_ng::Value) -> Result<Box<dyn SinkConfig>, ConfigError> {
    Ok(Box::new(parse_config::<FluvioSinkConfig>(value)?))
}

/// Which cluster to talk to: an explicit endpoint, a named profile of `~/.fluvio/config`, or
/// (neither given) that file's current profile, as the Fluvio CLI does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    /// A profile name.
    pub profile: Option<String>,
    /// The SC's public address, `host:port`.
    pub endpoint: Option<String>,
}

impl Cluster {
    fn validate(&self) -> Vec<ConfigError> {
        if self.profile.is_some() && self.endpoint.is_some() {
            vec![ConfigError::new("endpoint", "give `profile` or `endpoint`, not both")]
        } else {
            Vec::new()
        }
    }

    /// How the cluster is named in descriptions.
    pub fn describe(&self) -> String {
        match (&self.endpoint, &self.profile) {
            (Some(endpoint), _) => endpoint.clone(),
            (None, Some(profile)) => format!("profile {profile}"),
            (None, None) => "current profile".to_owned(),
        }
    }
}

/// Where a source starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// The first record each partition still holds: the pipeline rebuilds its state from the
    /// retained history (the default, and what a stateful pipeline needs).
    Beginning,
    /// Only records produced after the source opens.
    End,
    /// After the offset the named `consumer` last committed (a stateless pipeline resuming);
    /// from the beginning when it has committed nothing.
    Committed,
}

/// `connector: fluvio` as a source: one JSON object per record, typed against the schema.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FluvioSourceConfig {
    /// The topic.
    pub topic: String,
    /// A profile of `~/.fluvio/config`; default its current profile.
    #[serde(default)]
    pub profile: Option<String>,
    /// The SC's public address (`host:port`), instead of a profile.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The partitions to read; default all. They are spread over the timely workers.
    #[serde(default)]
    pub partitions: Option<Vec<u32>>,
    /// Where to start.
    #[serde(default = "default_start")]
    pub start: Start,
    /// Commit read offsets under this consumer name (`fluvio consumer list` shows them); needed
    /// by `start: committed`.
    #[serde(default)]
    pub consumer: Option<String>,
    /// A partition that delivered nothing for this long no longer holds back the source's
    /// watermark; its next record behind the watermark is late.
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// End the source once every partition has reached the end offset it had when the source
    /// opened (a backfill), instead of following the topic.
    #[serde(default)]
    pub stop_at_end: bool,
    /// The most bytes one fetch of a partition returns (memory per partition in flight).
    #[serde(default = "default_max_fetch_bytes")]
    pub max_fetch_bytes: u32,
}

const fn default_max_fetch_bytes() -> u32 {
    8 << 20
}

const fn default_start() -> Start {
    Start::Beginning
}

const fn default_idle_timeout() -> Duration {
    Duration::from_secs(5)
}

impl FluvioSourceConfig {
    /// A source following `topic` from its end with default settings (the store's feedback).
    pub fn from_end(topic: String, cluster: &Cluster) -> FluvioSourceConfig {
        FluvioSourceConfig {
            topic,
            profile: cluster.profile.clone(),
            endpoint: cluster.endpoint.clone(),
            partitions: None,
            start: Start::End,
            consumer: None,
            idle_timeout: default_idle_timeout(),
            stop_at_end: false,
            max_fetch_bytes: default_max_fetch_bytes(),
        }
    }

    /// The cluster it reads.
    pub fn cluster(&self) -> Cluster {
        Cluster { profile: self.profile.clone(), endpoint: self.endpoint.clone() }
    }
}

impl SourceConfig for FluvioSourceConfig {
    fn validate(&self, _schema: &Schema) -> Vec<ConfigError> {
        let mut errors = self.cluster().validate();
        errors.extend(check_topic("topic", &self.topic));
        if self.start == Start::Committed && self.consumer.is_none() {
            errors.push(
                ConfigError::new("start", "`start: committed` needs a `consumer` name")
                    .hint("add `consumer: <name>`; its offsets are kept by the cluster"),
            );
        }
        if let Some(consumer) = &self.consumer {
            errors.extend(check_topic("consumer", consumer));
        }
        if self.partitions.as_ref().is_some_and(Vec::is_empty) {
            errors.push(ConfigError::new("partitions", "empty: omit it to read every partition"));
        }
        if self.idle_timeout.is_zero() {
            errors.push(ConfigError::new("idle_timeout", "must be longer than 0s"));
        }
        if !(1024..=i32::MAX as u32).contains(&self.max_fetch_bytes) {
            errors.push(ConfigError::new("max_fetch_bytes", "must be from 1024 to 2147483647"));
        }
        errors
    }

    fn describe(&self) -> String {
        format!("fluvio topic {} ({})", self.topic, self.cluster().describe())
    }

    fn is_finite(&self) -> bool {
        self.stop_at_end
    }

    fn open(&self, schema: &Schema) -> Result<Box<dyn SourceReader>, ConnectorError> {
        Ok(Box::new(FluvioReader::open(self, schema, 0, 1)?))
    }

    fn partitioned(&self) -> bool {
        true
    }

    fn open_share(
        &self,
        schema: &Schema,
        worker: usize,
        workers: usize,
    ) -> Result<Option<Box<dyn SourceReader>>, ConnectorError> {
        let reader = FluvioReader::open(self, schema, worker, workers)?;
        Ok(reader.has_partitions().then(|| Box::new(reader) as Box<dyn SourceReader>))
    }
}

/// A topic's compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// None.
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

/// `connector: fluvio` as a sink: every change of the input collection as one record keyed by
/// the collection key, value `{"op":"upsert"|"delete","key":{..},"row":{..},"time":".."}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FluvioSinkConfig {
    /// The topic; created when absent.
    pub topic: String,
    /// A profile of `~/.fluvio/config`; default its current profile.
    #[serde(default)]
    pub profile: Option<String>,
    /// The SC's public address (`host:port`), instead of a profile.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Partitions of a topic the sink creates (records of one key always land in one partition).
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// Retention of a topic the sink creates; default the cluster's.
    #[serde(default, with = "humantime_serde")]
    pub retention: Option<Duration>,
    /// Bytes per producer batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long a producer batch may wait to fill before it is sent.
    #[serde(default = "default_linger", with = "humantime_serde")]
    pub linger: Duration,
    /// Compression of the producer's batches.
    #[serde(default = "default_compression")]
    pub compression: Compression,
}

const fn default_partitions() -> u32 {
    1
}

const fn default_batch_size() -> usize {
    64 * 1024
}

const fn default_linger() -> Duration {
    Duration::from_millis(10)
}

const fn default_compression() -> Compression {
    Compression::None
}

impl FluvioSinkConfig {
    /// A sink to `topic` with default settings (the dead-letter topic).
    pub fn to_topic(topic: String, cluster: &Cluster) -> FluvioSinkConfig {
        FluvioSinkConfig {
            topic,
            profile: cluster.profile.clone(),
            endpoint: cluster.endpoint.clone(),
            partitions: default_partitions(),
            retention: None,
            batch_size: default_batch_size(),
            linger: default_linger(),
            compression: default_compression(),
        }
    }

    /// The cluster it writes.
    pub fn cluster(&self) -> Cluster {
        Cluster { profile: self.profile.clone(), endpoint: self.endpoint.clone() }
    }
}

impl SinkConfig for FluvioSinkConfig {
    fn validate(&self, _schema: &Schema) -> Vec<ConfigError> {
        let mut errors = self.cluster().validate();
        errors.extend(check_topic("topic", &self.topic));
        if self.partitions == 0 {
            errors.push(ConfigError::new("partitions", "must be at least 1"));
        }
        if self.batch_size == 0 {
            errors.push(ConfigError::new("batch_size", "must be at least 1"));
        }
        errors
    }

    fn describe(&self, _ctx: &SinkContext) -> String {
        format!("fluvio topic {} ({})", self.topic, self.cluster().describe())
    }

    fn open(&self, ctx: &SinkContext) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        Ok(Box::new(FluvioWriter::open(self, ctx, true)?))
    }
}

/// The rule Fluvio applies to topic and consumer names: at most 63 lowercase ASCII letters,
/// digits and `-`, not starting or ending with `-`.
pub fn check_topic(path: &str, name: &str) -> Option<ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    (!valid).then(|| {
        ConfigError::new(path, format!("`{name}` is not a valid Fluvio name")).hint(format!(
            "Fluvio names have at most 63 lowercase letters, digits and `-`, e.g. `{}`",
            topic_name(name)
        ))
    })
}

/// `name` made into a valid Fluvio name: lowercase, every other character a `-`.
pub fn topic_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    out.truncate(63);
    out.trim_matches('-').to_owned()
}
