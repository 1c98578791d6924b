//! The YAML of the `stdout` sink.

use serde::Deserialize;
use shelfflow_operators::parse_config;

use super::sink::{ChangelogPrinter, TablePrinter};
use crate::{ConfigError, ConnectorError, Schema, SinkConfig, SinkContext, SinkKind, SinkWriter};

/// The `stdout` sink.
pub const SINK: SinkKind = SinkKind {
    name: "stdout",
    summary: "prints the final state as a table, or every change as it happens",
    sample: SINK_SAMPLE,
    parse: parse_sink,
};

const SINK_SAMPLE: &str = r#"mode: table  # table (final state at the end) or changelog (every change)
limit: 50    # table mode: the most rows printed
"#;

fn parse_sink(value: serde_yaml_ng::Value) -> Result<Box<dyn SinkConfig>, ConfigError> {
    Ok(Box::new(parse_config::<StdoutSinkConfig>(value)?))
}

/// What the sink prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The final state, as an aligned table, when the pipeline ends.
    Table,
    /// Every change as it is written: `<time>  +  {row}` or `<time>  -  {row}`.
    Changelog,
}

/// `connector: stdout`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct StdoutSinkConfig {
    /// `table` prints the final state when the pipeline ends; `changelog` prints every change.
    #[serde(default = "default_mode")]
    pub mode: Mode,
    /// In table mode, the most rows printed; the rest are counted.
    #[serde(default = "default_limit")]
    pub limit: usize,
}

const fn default_mode() -> Mode {
    Mode::Table
}

const fn default_limit() -> usize {
    50
}

impl SinkConfig for StdoutSinkConfig {
    fn validate(&self, _schema: &Schema) -> Vec<ConfigError> {
        Vec::new()
    }

    fn describe(&self, _ctx: &SinkContext) -> String {
        match self.mode {
            Mode::Table => format!("stdout (table, up to {} rows)", self.limit),
            Mode::Changelog => "stdout (changelog)".to_owned(),
        }
    }

    fn open(&self, ctx: &SinkContext) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        Ok(match self.mode {
            Mode::Table => Box::new(TablePrinter::new(ctx, self.limit, std::io::stdout())),
            Mode::Changelog => Box::new(ChangelogPrinter::new(ctx, std::io::stdout())),
        })
    }
}
