//! `connector: pipeline` — a collection of another pipeline run in the same dataflow.
//!
//! Pipelines compose: `features.yaml` reads the daily facts that `daily_facts.yaml` computes
//! from the store, without a file or topic in between. The source declares the columns it reads
//! (any subset of the collection's, with their types) like any source, so its own file validates
//! alone. When the pipelines run together (`shelfflow run a.yaml b.yaml`, `shelfflow demo`), the
//! planner binds the source to the collection of that name, checking the columns; run alone, the
//! source is empty (and, unless `optional`, the planner says so).

use serde::Deserialize;
use shelfflow_operators::parse_config;

use crate::{
    ConfigError, ConnectorError, EventClock, ReadStatus, Schema, SourceBatch, SourceConfig,
    SourceKind, SourceReader,
};

/// The `pipeline` source.
pub const SOURCE: SourceKind = SourceKind {
    name: "pipeline",
    summary: "a collection of another pipeline run in the same dataflow (empty when run alone)",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str =
    "collection: store_daily_facts   # a collection (operator, source or table) of another pipeline
optional: false                 # true: empty without a warning when no pipeline of the run has it
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn SourceConfig>, ConfigError> {
    Ok(Box::new(parse_config::<PipelineSourceConfig>(value)?))
}

/// Reads `collection` of a pipeline run in the same dataflow.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSourceConfig {
    /// The collection's name in the pipeline that produces it.
    pub collection: String,
    /// Whether running without that pipeline is expected: the source is then empty without a
    /// warning (e.g. a forecast that only some runs compute).
    #[serde(default)]
    pub optional: bool,
}

impl SourceConfig for PipelineSourceConfig {
    fn validate(&self, _schema: &Schema) -> Vec<ConfigError> {
        match self.collection.is_empty() {
            true => vec![ConfigError::new("collection", "expected a collection name, found none")],
            false => Vec::new(),
        }
    }

    fn describe(&self) -> String {
        format!("collection `{}` of a pipeline run alongside", self.collection)
    }

    fn is_finite(&self) -> bool {
        true
    }

    /// Only opened when no pipeline of the run produces the collection: nothing to read.
    fn open(&self, _schema: &Schema) -> Result<Box<dyn SourceReader>, ConnectorError> {
        Ok(Box::new(Unbound))
    }

    fn bound_collection(&self) -> Option<(&str, bool)> {
        Some((&self.collection, self.optional))
    }
}

/// The reader of a source whose collection no pipeline of the run produces.
struct Unbound;

impl SourceReader for Unbound {
    fn read(
        &mut self,
        _max: usize,
        _clock: &mut EventClock,
        _out: &mut SourceBatch,
    ) -> Result<ReadStatus, ConnectorError> {
        Ok(ReadStatus::Finished)
    }
}
