//! The YAML of `connector: file` sources and sinks, and their pure checks.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use shelfflow_operators::parse_config;

use super::{sink, source};
use crate::{
    ConfigError, ConnectorError, Schema, SinkConfig, SinkContext, SinkKind, SinkWriter,
    SourceConfig, SourceKind, SourceReader,
};

/// The `file` source.
pub const SOURCE: SourceKind = SourceKind {
    name: "file",
    summary: "reads a JSONL, CSV or Parquet file once, or follows a growing JSONL file",
    sample: SOURCE_SAMPLE,
    parse: parse_source,
};

/// The `file` sink.
pub const SINK: SinkKind = SinkKind {
    name: "file",
    summary: "writes a JSONL changelog of every change, or the final state as CSV or Parquet",
    sample: SINK_SAMPLE,
    parse: parse_sink,
};

const SOURCE_SAMPLE: &str = r#"path: data/shelf_events.jsonl  # .jsonl, .csv or .parquet
format: jsonl                  # optional: inferred from the extension
follow: false                  # jsonl only: keep reading lines appended to the file
delimiter: ","                 # csv only
"#;

const SINK_SAMPLE: &str = r#"path: out/stock.jsonl  # optional: <output dir>/<sink name>.<format>
format: jsonl          # jsonl (changelog), csv or parquet (final state); optional
"#;

fn parse_source(value: serde_yaml_ng::Value) -> Result<Box<dyn SourceConfig>, ConfigError> {
    Ok(Box::new(parse_config::<FileSourceConfig>(value)?))
}

fn parse_sink(value: serde_yaml_ng::Value) -> Result<Box<dyn SinkConfig>, ConfigError> {
    Ok(Box::new(parse_config::<FileSinkConfig>(value)?))
}

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma- (or `delimiter`-) separated values with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// One JSON document (sinks only): the final state as an array of row objects, or one object.
    Json,
}

impl Format {
    /// The YAML name, also the file extension.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Json => "json",
        }
    }

    /// The format a file extension stands for: `.jsonl` / `.ndjson`, `.csv`, `.parquet` / `.pq`,
    /// `.json` (in any case).
    pub fn from_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// `connector: file` as a source.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileSourceConfig {
    /// The file to read, relative to the working directory. Dead letters name their position
    /// with this path as written (`data/events.jsonl:17`).
    pub path: String,
    /// `jsonl`, `csv` or `parquet`; inferred from the file extension when omitted.
    #[serde(default)]
    pub format: Option<Format>,
    /// Keep reading lines appended to a JSONL file, like `tail -f`, instead of ending at the end
    /// of the file. A file that shrinks is read again from its start.
    #[serde(default = "default_follow")]
    pub follow: bool,
    /// The CSV field delimiter: one ASCII character other than a quote or a line break.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
}

const fn default_follow() -> bool {
    false
}

const fn default_delimiter() -> char {
    ','
}

impl FileSourceConfig {
    /// The format given, or the one the file extension stands for.
    pub fn format(&self) -> Option<Format> {
        self.format.or_else(|| Format::from_path(Path::new(&self.path)))
    }

    /// The delimiter as a byte, if it is a valid one.
    pub(crate) fn delimiter_byte(&self) -> Option<u8> {
        u8::try_from(self.delimiter)
            .ok()
            .filter(|b| b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r'))
    }
}

impl SourceConfig for FileSourceConfig {
    fn validate(&self, _schema: &Schema) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        match self.format() {
            None => errors.push(
                ConfigError::new("format", format!("cannot tell the format of `{}`", self.path))
                    .hint("name the file .jsonl, .csv or .parquet, or set `format`"),
            ),
            Some(Format::Json) => errors.push(
                ConfigError::new("format", "a source cannot read a json document")
                    .hint("write one JSON object per line and read it as jsonl"),
            ),
            Some(format) if self.follow && format != Format::Jsonl => errors.push(
                ConfigError::new(
                    "follow",
                    format!("`follow` needs a jsonl file, not {}", format.name()),
                )
                .hint("only line-based files can be followed; remove `follow` or use jsonl"),
            ),
            Some(_) => {}
        }
        if self.delimiter_byte().is_none() {
            errors.push(ConfigError::new(
                "delimiter",
                format!(
                    "the delimiter {:?} is not one ASCII character other than a quote or a line \
                     break",
                    self.delimiter
                ),
            ));
        }
        errors
    }

    fn describe(&self) -> String {
        let format = self.format().map_or("unknown format", Format::name);
        if self.follow {
            format!("{} ({format}, followed)", self.path)
        } else {
            format!("{} ({format})", self.path)
        }
    }

    fn is_finite(&self) -> bool {
        !self.follow
    }

    fn open(&self, schema: &Schema) -> Result<Box<dyn SourceReader>, ConnectorError> {
        source::open(self, schema)
    }
}

/// `connector: file` as a sink.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileSinkConfig {
    /// The file to write (replaced if it exists; missing directories are created). Defaults to
    /// `<output dir>/<sink name>.<format>`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `jsonl` writes a changelog line for every change as it happens; `csv`, `parquet` and
    /// `json` write the final state, sorted by key, when the pipeline ends. Inferred from the
    /// path's extension, else `jsonl`.
    #[serde(default)]
    pub format: Option<Format>,
    /// `json` only: write the collection's one row as an object (`{"total": 10, "bad": 2}`), or
    /// `null` when it has none, instead of an array. The input must hold at most one row (an
    /// aggregate without `group_by`).
    #[serde(default = "default_single")]
    pub single: bool,
}

const fn default_single() -> bool {
    false
}

impl FileSinkConfig {
    /// The format given, or the one the path's extension stands for, or `jsonl`.
    pub fn format(&self) -> Format {
        self.format
            .or_else(|| self.path.as_deref().and_then(Format::from_path))
            .unwrap_or(Format::Jsonl)
    }

    /// The path given, or `<output dir>/<sink name>.<format>`.
    pub fn path(&self, ctx: &SinkContext) -> PathBuf {
        match &self.path {
            Some(path) => path.clone(),
            None => ctx.output_dir.join(format!("{}.{}", ctx.sink, self.format().name())),
        }
    }
}

impl SinkConfig for FileSinkConfig {
    fn validate(&self, schema: &Schema) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.single && self.format() != Format::Json {
            errors.push(
                ConfigError::new("single", "`single` applies to `format: json` only")
                    .hint("name the file .json, or remove `single`"),
            );
        } else if self.single && schema.key.as_deref() != Some(&[]) {
            errors.push(
                ConfigError::new("single", "`single: true` needs an input of at most one row")
                    .hint("an aggregate without `group_by` has one row; or remove `single` to write an array"),
            );
        }
        errors
    }

    fn describe(&self, ctx: &SinkContext) -> String {
        let format = self.format();
        let kind = match format {
            Format::Jsonl => "changelog",
            Format::Csv | Format::Parquet | Format::Json => "snapshot",
        };
        format!("{} ({} {kind})", self.path(ctx).display(), format.name())
    }

    fn open(&self, ctx: &SinkContext) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        sink::open(self.format(), self.single, self.path(ctx), ctx)
    }
}
