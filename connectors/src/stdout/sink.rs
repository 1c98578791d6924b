//! Printing a collection: its final state as a table, or its changes as they happen.

use std::io::{self, Write};
use std::path::PathBuf;

use shelfflow_operators::{Type, Value};

use crate::decode::{format_time, JsonObjects};
use crate::file::Snapshot;
use crate::{Change, ChangeOp, ConnectorError, Schema, SinkContext, SinkWriter, Time};

/// Keeps the final state and prints it as an aligned table at [`finish`](SinkWriter::finish).
#[derive(Debug)]
pub struct TablePrinter<W> {
    name: String,
    schema: Schema,
    snapshot: Snapshot,
    limit: usize,
    out: W,
}

impl<W: Write + Send> TablePrinter<W> {
    /// A printer of the collection `ctx` describes, showing at most `limit` rows.
    pub fn new(ctx: &SinkContext, limit: usize, out: W) -> TablePrinter<W> {
        TablePrinter {
            name: ctx.sink.clone(),
            schema: ctx.schema.clone(),
            snapshot: Snapshot::new(ctx),
            limit,
            out,
        }
    }

    /// The output, for tests.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> SinkWriter for TablePrinter<W> {
    fn write(&mut self, _time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        self.snapshot.apply(changes);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        let table = render_table(&self.name, &self.schema, self.snapshot.rows(), self.limit);
        self.out.write_all(table.as_bytes()).and_then(|()| self.out.flush()).map_err(stdout_error)
    }
}

/// Prints every change as it is written: `<time>  +  {row}` for an upsert, `<time>  -  {row}`
/// for a delete.
#[derive(Debug)]
pub struct ChangelogPrinter<W> {
    rows: JsonObjects,
    out: W,
}

impl<W: Write + Send> ChangelogPrinter<W> {
    /// A printer of the collection `ctx` describes.
    pub fn new(ctx: &SinkContext, out: W) -> ChangelogPrinter<W> {
        ChangelogPrinter { rows: JsonObjects::all(&ctx.schema), out }
    }

    /// The output, for tests.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> SinkWriter for ChangelogPrinter<W> {
    fn write(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        let time = format_time(time);
        let mut text = String::new();
        for change in changes {
            let sign = match change.op {
                ChangeOp::Upsert => '+',
                ChangeOp::Delete => '-',
            };
            text.push_str(&format!("{time}  {sign}  {}\n", self.rows.render(change.row)));
        }
        self.out.write_all(text.as_bytes()).and_then(|()| self.out.flush()).map_err(stdout_error)
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        self.out.flush().map_err(stdout_error)
    }
}

/// Renders rows as a table: a header of column names, a rule, at most `limit` rows (numbers
/// aligned right), then how many rows were left out and how many there are.
pub fn render_table<'a>(
    name: &str,
    schema: &Schema,
    rows: impl ExactSizeIterator<Item = &'a [Value]>,
    limit: usize,
) -> String {
    let total = rows.len();
    let cells: Vec<Vec<String>> =
        rows.take(limit).map(|row| row.iter().map(Value::to_string).collect()).collect();
    let widths: Vec<usize> = schema
        .fields
        .iter()
        .enumerate()
        .map(|(c, field)| {
            cells
                .iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count())
                .fold(field.name.chars().count(), usize::max)
        })
        .collect();
    let right: Vec<bool> =
        schema.fields.iter().map(|f| matches!(f.ty, Type::Int | Type::Float)).collect();
    // `{:>width$}` pads by chars, which is what the widths count.
    let format_line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let padded: Vec<String> = cells
            .enumerate()
            .map(|(c, cell)| {
                let width = widths[c];
                if right[c] {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let rules: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    let mut lines =
        vec![format_line(&mut schema.names()), format_line(&mut rules.iter().map(String::as_str))];
    lines.extend(cells.iter().map(|row| format_line(&mut row.iter().map(String::as_str))));
    if total > cells.len() {
        lines.push(format!("… {} more rows", total - cells.len()));
    }
    lines.push(format!("{name}: {total} {}", if total == 1 { "row" } else { "rows" }));
    lines.push(String::new());
    lines.join("\n")
}

fn stdout_error(source: io::Error) -> ConnectorError {
    ConnectorError::Io { path: PathBuf::from("<stdout>"), source }
}
