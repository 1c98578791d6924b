//! Writing files: a JSONL changelog as changes arrive, or the final state as CSV, Parquet or
//! one JSON document.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::{CsvWriter, ParquetWriter, SerWriter};

use super::config::Format;
use super::snapshot::Snapshot;
use crate::decode::{format_time, frame_from_rows, JsonObjects, TimestampColumns};
use crate::{Change, ChangeOp, ConnectorError, Schema, SinkContext, SinkWriter, Time};

/// Opens the writer of a sink's format.
pub(crate) fn open(
    format: Format,
    single: bool,
    path: PathBuf,
    ctx: &SinkContext,
) -> Result<Box<dyn SinkWriter>, ConnectorError> {
    Ok(match format {
        Format::Json => Box::new(JsonWriter::create(path, single, ctx)?),
        Format::Jsonl => Box::new(ChangelogWriter::create(path, ctx)?),
        Format::Csv => Box::new(SnapshotWriter::create(path, TableFormat::Csv, ctx)?),
        Format::Parquet => Box::new(SnapshotWriter::create(path, TableFormat::Parquet, ctx)?),
    })
}

/// Creates (or truncates) a file for writing, with its missing parent directories.
pub(crate) fn create_file(path: &Path) -> Result<File, ConnectorError> {
    let io_error = |source| ConnectorError::Io { path: path.to_owned(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    File::create(path).map_err(io_error)
}

/// Writes one JSON line per change:
/// `{"op":"upsert","key":{..},"row":{..},"time":"2026-01-01T07:00:05Z"}`, where a delete's row
/// is the row it removed and `time` is the dataflow time of the change.
#[derive(Debug)]
pub struct ChangelogWriter {
    path: PathBuf,
    out: BufWriter<File>,
    keys: JsonObjects,
    rows: JsonObjects,
}

impl ChangelogWriter {
    /// Creates the changelog file of the collection `ctx` describes.
    pub fn create(path: PathBuf, ctx: &SinkContext) -> Result<ChangelogWriter, ConnectorError> {
        let out = BufWriter::new(create_file(&path)?);
        let keys = JsonObjects::of(&ctx.schema, &ctx.key);
        Ok(ChangelogWriter { path, out, keys, rows: JsonObjects::all(&ctx.schema) })
    }

    fn io_error(&self, source: io::Error) -> ConnectorError {
        ConnectorError::Io { path: self.path.clone(), source }
    }
}

impl SinkWriter for ChangelogWriter {
    fn write(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        let time = format_time(time);
        for change in changes {
            let op = match change.op {
                ChangeOp::Upsert => "upsert",
                ChangeOp::Delete => "delete",
            };
            writeln!(
                self.out,
                r#"{{"op":"{op}","key":{},"row":{},"time":"{time}"}}"#,
                self.keys.render(change.row),
                self.rows.render(change.row),
            )
            .map_err(|source| self.io_error(source))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ConnectorError> {
        self.out.flush().map_err(|source| self.io_error(source))
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        self.out.flush().map_err(|source| self.io_error(source))
    }
}

/// The formats a [`SnapshotWriter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// CSV with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// Keeps the final state and writes it as a CSV (with a header, timestamps as RFC 3339) or
/// Parquet (typed columns, timestamps as `Datetime(us, UTC)`) file at [`finish`], sorted by key.
///
/// The file is created when the sink opens, so a path that cannot be written fails early.
///
/// [`finish`]: SinkWriter::finish
#[derive(Debug)]
pub struct SnapshotWriter {
    path: PathBuf,
    format: TableFormat,
    schema: Schema,
    snapshot: Snapshot,
    /// Taken by the first `finish`.
    file: Option<File>,
}

impl SnapshotWriter {
    /// Creates the file of the collection `ctx` describes.
    pub fn create(
        path: PathBuf,
        format: TableFormat,
        ctx: &SinkContext,
    ) -> Result<SnapshotWriter, ConnectorError> {
        let file = Some(create_file(&path)?);
        Ok(SnapshotWriter {
            path,
            format,
            schema: ctx.schema.clone(),
            snapshot: Snapshot::new(ctx),
            file,
        })
    }
}

impl SinkWriter for SnapshotWriter {
    fn write(&mut self, _time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        self.snapshot.apply(changes);
        Ok(())
    }

    fn final_state(&mut self) -> Option<&mut Snapshot> {
        Some(&mut self.snapshot)
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        let Some(mut file) = self.file.take() else {
            return Ok(());
        };
        self.snapshot.settle();
        let rows: Vec<&[_]> = self.snapshot.rows().collect();
        let timestamps = match self.format {
            TableFormat::Csv => TimestampColumns::Text,
            TableFormat::Parquet => TimestampColumns::Native,
        };
        let written = frame_from_rows(&self.schema, &rows, timestamps).and_then(|mut frame| {
            match self.format {
                TableFormat::Csv => {
                    CsvWriter::new(&mut file).include_header(true).finish(&mut frame)
                }
                TableFormat::Parquet => ParquetWriter::new(&mut file).finish(&mut frame).map(drop),
            }
        });
        written.map_err(|err| ConnectorError::Format {
            path: self.path.clone(),
            message: err.to_string(),
        })
    }
}

/// Keeps the final state and writes it at [`finish`] as one JSON document: an array of row
/// objects sorted by key, or with `single` the one row as an object (`null` for none). Values
/// are written as in the changelog (timestamps as RFC 3339 text).
///
/// The document is written to a temporary file beside the path, created when the sink opens
/// (so a path that cannot be written fails early), and renamed over the path once complete:
/// a reader sees the previous document or the whole new one, never a part.
///
/// [`finish`]: SinkWriter::finish
#[derive(Debug)]
pub struct JsonWriter {
    path: PathBuf,
    temp: PathBuf,
    single: bool,
    schema: Schema,
    snapshot: Snapshot,
    /// Taken by the first `finish`.
    file: Option<File>,
}

impl JsonWriter {
    /// Creates the temporary file of the collection `ctx` describes.
    pub fn create(
        path: PathBuf,
        single: bool,
        ctx: &SinkContext,
    ) -> Result<JsonWriter, ConnectorError> {
        let name = path.file_name().map_or("out.json".into(), |n| n.to_string_lossy());
        let temp = path.with_file_name(format!(".{name}.tmp"));
        let file = Some(create_file(&temp)?);
        Ok(JsonWriter {
            path,
            temp,
            single,
            schema: ctx.schema.clone(),
            snapshot: Snapshot::new(ctx),
            file,
        })
    }

    /// The document of the current state, laid out as a pretty-printed JSON value.
    fn document(&self) -> Result<String, ConnectorError> {
        let objects = JsonObjects::all(&self.schema);
        let mut out = String::new();
        let mut rows = self.snapshot.rows();
        if !self.single {
            for (n, row) in rows.enumerate() {
                out.push_str(if n == 0 { "[\n  " } else { ",\n  " });
                objects.render_pretty(row, "  ", &mut out);
            }
            out.push_str(if out.is_empty() { "[]" } else { "\n]" });
            return Ok(out);
        }
        match (rows.next(), rows.next()) {
            (None, None) => Ok("null".to_owned()),
            (Some(row), None) => {
                objects.render_pretty(row, "", &mut out);
                Ok(out)
            }
            (Some(_), Some(_)) => Err(ConnectorError::Format {
                path: self.path.clone(),
                message: format!(
                    "`single: true`, but the collection has {} rows",
                    self.snapshot.len()
                ),
            }),
            (None, Some(_)) => unreachable!("an iterator that ended stays ended"),
        }
    }
}

impl SinkWriter for JsonWriter {
    fn write(&mut self, _time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        self.snapshot.apply(changes);
        Ok(())
    }

    fn final_state(&mut self) -> Option<&mut Snapshot> {
        Some(&mut self.snapshot)
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        self.snapshot.settle();
        let document = self.document()?;
        let io_error = |path: &Path, source| ConnectorError::Io { path: path.to_owned(), source };
        let mut out = BufWriter::new(file);
        writeln!(out, "{document}")
            .and_then(|()| out.flush())
            .map_err(|source| io_error(&self.temp, source))?;
        std::fs::rename(&self.temp, &self.path).map_err(|source| io_error(&self.path, source))
    }
}
