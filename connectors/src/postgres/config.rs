//! The YAML of `connector: postgres` sinks, and their pure checks.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use shelfflow_operators::parse_config;

use super::sink::PostgresWriter;
use super::source::QueryReader;
use super::sql::{self, TableDef};
use crate::{
    ConfigError, ConnectorError, Schema, SinkConfig, SinkContext, SinkKind, SinkWriter,
    SourceConfig, SourceKind, SourceReader,
};

/// The `postgres` source (and reference table).
pub const SOURCE: SourceKind = SourceKind {
    name: "postgres",
    summary: "reads a PostgreSQL table or query once, or follows its changes (`poll`)",
    sample: SOURCE_SAMPLE,
    parse: parse_source,
};

const SOURCE_SAMPLE: &str = r#"url: postgres://shelfflow@127.0.0.1:5432/shelfflow  # optional: $DATABASE_URL
table: config.shelf_policies    # or `query: SELECT ...`
poll: 2s                        # optional: follow changes made while the pipeline runs
"#;

fn parse_source(value: serde_yaml_ng::Value) -> Result<Box<dyn SourceConfig>, ConfigError> {
    Ok(Box::new(parse_config::<PostgresSourceConfig>(value)?))
}

/// `connector: postgres` as a source or reference table: the rows of a table or query, read once
/// when the pipeline starts. Each declared column is selected by name and cast to its type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PostgresSourceConfig {
    /// Connection string; default: the `DATABASE_URL` environment variable.
    #[serde(default)]
    pub url: Option<String>,
    /// A table (or view), optionally schema-qualified: `config.shelf_policies`.
    #[serde(default)]
    pub table: Option<String>,
    /// A query, instead of `table`.
    #[serde(default)]
    pub query: Option<String>,
    /// Read the rows again at this interval and feed what changed (inserted, updated and deleted
    /// rows) into the running pipeline. Without it the rows are read once and the table is
    /// constant.
    #[serde(default, with = "humantime_serde")]
    pub poll: Option<Duration>,
}

impl PostgresSourceConfig {
    fn relation(&self) -> String {
        match (&self.table, &self.query) {
            (Some(table), _) => format!(
                "SELECT * FROM {}",
                table.split('.').map(sql::ident).collect::<Vec<_>>().join(".")
            ),
            (None, Some(query)) => query.clone(),
            (None, None) => String::new(),
        }
    }
}

impl SourceConfig for PostgresSourceConfig {
    fn validate(&self, _schema: &Schema) -> Vec<ConfigError> {
        let mut errors = match (&self.table, &self.query) {
            (Some(_), Some(_)) => {
                vec![ConfigError::new("query", "give `table` or `query`, not both")]
            }
            (None, None) => vec![ConfigError::new("table", "missing: give `table` or `query`")],
            _ => Vec::new(),
        };
        if self.poll.is_some_and(|p| p.is_zero()) {
            errors.push(ConfigError::new("poll", "must be longer than 0s"));
        }
        errors
    }

    fn describe(&self) -> String {
        match &self.table {
            Some(table) => format!("{table} (postgres)"),
            None => "query (postgres)".to_owned(),
        }
    }

    fn is_finite(&self) -> bool {
        self.poll.is_none()
    }

    fn open(&self, schema: &Schema) -> Result<Box<dyn SourceReader>, ConnectorError> {
        let url = connection_string(self.url.as_ref())?;
        let reader = QueryReader::open(url, &self.relation(), &self.describe(), schema, self.poll)?;
        Ok(Box::new(reader))
    }
}

/// `url`, else `$DATABASE_URL`.
fn connection_string(url: Option<&String>) -> Result<String, ConnectorError> {
    match url {
        Some(url) => Ok(url.clone()),
        None => std::env::var("DATABASE_URL").map_err(|_| ConnectorError::Database {
            target: "postgres".to_owned(),
            message: "no database to connect to: set DATABASE_URL or the `url` key \
                      (deploy/postgres.sh start runs a local server)"
                .to_owned(),
        }),
    }
}

/// The `postgres` sink.
pub const SINK: SinkKind = SinkKind {
    name: "postgres",
    summary: "keeps a PostgreSQL table equal to the collection (upsert) or appends every change \
              (append), one transaction per closed timestamp, exactly once",
    sample: SINK_SAMPLE,
    parse: parse_sink,
};

const SINK_SAMPLE: &str = r#"url: postgres://shelfflow@127.0.0.1:5432/shelfflow  # optional: $DATABASE_URL
schema: state                 # optional: public
table: shelf_status           # optional: the sink's name
mode: upsert                  # upsert (the table is the collection) or append (every change)
buffer: 256                   # optional: timestamps queued while the database is slow or away
key_index: false              # optional, append mode: also index (key, change_time)
comments:                     # optional: COMMENT ON COLUMN
  shelf_id: The shelf.
"#;

fn parse_sink(value: serde_yaml_ng::Value) -> Result<Box<dyn SinkConfig>, ConfigError> {
    Ok(Box::new(parse_config::<PostgresSinkConfig>(value)?))
}

/// How changes reach the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The table holds the collection's current rows, one per key: every closed timestamp
    /// deletes the retracted keys and inserts or updates the others.
    #[default]
    Upsert,
    /// Every change is a new row: the collection's columns, then `change_op` (`upsert` or
    /// `delete`) and `change_time` (the dataflow time of the change). Bulk-loaded with binary COPY.
    Append,
}

/// `connector: postgres` as a sink.
///
/// Exactly once: each transaction also records, in `shelfflow_progress`, the last dataflow time
/// it holds. A restarted pipeline replays its (deterministic) inputs and the sink skips every time
/// already committed, so the tables end as an uninterrupted run leaves them. When the pipeline's
/// definition changed since (another hash), an upsert table is reconciled instead: the replayed
/// state is compared with the table's rows at the committed time and only the difference is
/// written; an append table keeps its history and goes on after the committed time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PostgresSinkConfig {
    /// Connection string (`postgres://user@host:port/db` or `host=... user=...`); default:
    /// the `DATABASE_URL` environment variable.
    #[serde(default)]
    pub url: Option<String>,
    /// The table's schema, created when missing.
    #[serde(default = "default_schema")]
    pub schema: String,
    /// The table, created from the collection's schema when missing (default: the sink name).
    #[serde(default)]
    pub table: Option<String>,
    /// `upsert` or `append`.
    #[serde(default)]
    pub mode: Mode,
    /// How many closed timestamps may wait for the database before the dataflow is held back.
    #[serde(default = "default_buffer")]
    pub buffer: usize,
    /// Longest pause between two attempts to reach the database.
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
    /// How long an unreachable database is retried before the run fails (default: 10 min).
    #[serde(default = "default_give_up", with = "humantime_serde")]
    pub give_up_after: Duration,
    /// Append mode: also index the key columns with `change_time` (fast history lookups per key,
    /// about 4x slower loads). A BRIN index on `change_time` is always there.
    #[serde(default)]
    pub key_index: bool,
    /// `COMMENT ON COLUMN` texts, by column.
    #[serde(default)]
    pub comments: BTreeMap<String, String>,
}

fn default_schema() -> String {
    "public".to_owned()
}

const fn default_buffer() -> usize {
    256
}

const fn default_max_backoff() -> Duration {
    Duration::from_secs(5)
}

const fn default_give_up() -> Duration {
    Duration::from_secs(600)
}

impl PostgresSinkConfig {
    /// The table definition for a collection.
    pub fn table_def(&self, ctx: &SinkContext) -> TableDef {
        TableDef {
            schema: self.schema.clone(),
            table: self.table.clone().unwrap_or_else(|| ctx.sink.clone()),
            columns: ctx.schema.fields.clone(),
            key: ctx.key.clone(),
            append: self.mode == Mode::Append,
            key_index: self.key_index,
            comment: ctx.description.clone(),
            column_comments: self.comments.clone(),
        }
    }

    /// The connection string: `url`, else `$DATABASE_URL`.
    pub fn connection_string(&self) -> Result<String, ConnectorError> {
        connection_string(self.url.as_ref())
    }
}

impl SinkConfig for PostgresSinkConfig {
    fn validate(&self, schema: &Schema) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (what, name) in [("schema", Some(&self.schema)), ("table", self.table.as_ref())] {
            if let Some(problem) = name.and_then(|n| sql::identifier_problem(n)) {
                errors.push(ConfigError::new(what, problem));
            }
        }
        if self.buffer == 0 {
            errors.push(ConfigError::new("buffer", "must be at least 1"));
        }
        for column in self.comments.keys() {
            if schema.index_of(column).is_none() {
                errors.push(
                    ConfigError::new(
                        format!("comments.{column}"),
                        format!("unknown column `{column}`"),
                    )
                    .hint(shelfflow_operators::plan::name_hint(
                        column,
                        schema.fields.iter().map(|f| f.name.as_str()),
                        "the columns are",
                    )),
                );
            }
        }
        for field in &schema.fields {
            if let Some(problem) = sql::identifier_problem(&field.name) {
                errors
                    .push(ConfigError::new("input", format!("column `{}`: {problem}", field.name)));
            }
            if self.mode == Mode::Append && sql::APPEND_COLUMNS.contains(&field.name.as_str()) {
                errors.push(
                    ConfigError::new(
                        "mode",
                        format!("column `{}` clashes with the column append mode adds", field.name),
                    )
                    .hint("rename it with a `map` before the sink"),
                );
            }
        }
        errors
    }

    fn describe(&self, ctx: &SinkContext) -> String {
        let def = self.table_def(ctx);
        let mode = match self.mode {
            Mode::Upsert => "upsert",
            Mode::Append => "append",
        };
        format!("{} (postgres, {mode})", def.qualified())
    }

    fn check_destination(
        &self,
        ctx: &SinkContext,
    ) -> Option<Result<Vec<(String, bool)>, ConnectorError>> {
        Some(super::sink::check(self, ctx))
    }

    fn open(&self, ctx: &SinkContext) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        Ok(Box::new(PostgresWriter::open(self, ctx)?))
    }
}
