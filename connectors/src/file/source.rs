//! Reading files: JSONL line by line (optionally following the file as it grows), CSV and
//! Parquet as one table loaded when the source opens.

use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;

use polars::prelude::{CsvParseOptions, CsvReadOptions, ParquetReader, SerReader};
use shelfflow_operators::value::{parse_timestamp, Micros};
use shelfflow_operators::Row;

use super::config::{FileSourceConfig, Format};
use crate::decode::{DecodeError, FrameDecoder, JsonDecoder, JsonObjects};
use crate::{
    ConnectorError, DeadLetter, EventClock, ReadStatus, Schema, SourceBatch, SourceReader,
};

/// How much of a JSONL file is read at once; lines longer than this grow the buffer.
const CHUNK_BYTES: usize = 1 << 20;

/// Opens the reader of a file source's format.
pub(crate) fn open(
    config: &FileSourceConfig,
    schema: &Schema,
) -> Result<Box<dyn SourceReader>, ConnectorError> {
    let path = config.path.clone();
    let Some(format) = config.format() else {
        return Err(ConnectorError::Format {
            path: path.into(),
            message: "cannot tell the format from the extension; set `format`".to_owned(),
        });
    };
    Ok(match format {
        Format::Jsonl => Box::new(JsonlReader::open(path, schema, config.follow, CHUNK_BYTES)?),
        Format::Csv => {
            let delimiter = config.delimiter_byte().ok_or_else(|| ConnectorError::Format {
                path: path.clone().into(),
                message: format!("invalid CSV delimiter {:?}", config.delimiter),
            })?;
            Box::new(TableReader::csv(path, schema, delimiter)?)
        }
        Format::Parquet => Box::new(TableReader::parquet(path, schema)?),
        Format::Json => {
            return Err(ConnectorError::Format {
                path: path.into(),
                message: "a source cannot read a json document; use jsonl".to_owned(),
            })
        }
    })
}

/// Adds one record to the batch: its row stamped with its dataflow time, or a dead letter when
/// it could not be decoded or timed. `position` and `raw` are only rendered for dead letters.
fn push_record(
    out: &mut SourceBatch,
    clock: &mut EventClock,
    decoded: Result<Row, DecodeError>,
    position: impl FnOnce() -> String,
    raw: impl FnOnce() -> String,
) {
    let reason = match decoded {
        Ok(row) => match clock.stamp(&row) {
            Ok(time) => return out.rows.push((row, time)),
            Err(untimed) => untimed.reason(),
        },
        Err(err) => err.to_string(),
    };
    out.dead.push(DeadLetter { position: position(), reason, raw: raw(), time: clock.frontier() });
}

/// The key of a JSONL line that advances the watermark instead of holding a record.
const WATERMARK_KEY: &str = "$watermark";

/// A line `{"$watermark": "<timestamp>"}`: its event time in microseconds, or why it is not a
/// valid one. `None` for any other line (a record), found by a prefix test that costs nothing.
fn watermark_line(line: &[u8]) -> Option<Result<Micros, String>> {
    let text = line.trim_ascii_start().strip_prefix(b"{")?.trim_ascii_start();
    text.strip_prefix(b"\"$watermark\"")?;
    let invalid = || {
        format!("`{WATERMARK_KEY}`: expected {{\"{WATERMARK_KEY}\": \"<timestamp>\"}} alone on its line, e.g. {{\"{WATERMARK_KEY}\": \"2026-01-01T09:00:00Z\"}}")
    };
    let Ok(object) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line)
    else {
        return Some(Err(invalid()));
    };
    Some(match (object.len(), object.get(WATERMARK_KEY).and_then(|v| v.as_str())) {
        (1, Some(text)) => parse_timestamp(text).ok_or_else(invalid),
        _ => Err(invalid()),
    })
}

/// Reads a JSONL file in large chunks, one record per line.
///
/// Blank lines are skipped, and a `$watermark` line advances the watermark; `\r\n` endings and
/// a last line without a newline are accepted.
/// When following, the end of the file is not the end of the source: a partial last line stays
/// buffered until the rest of it is appended, and a file that shrank below what was read is read
/// again from its start.
#[derive(Debug)]
pub struct JsonlReader {
    path: String,
    file: File,
    follow: bool,
    decoder: JsonDecoder,
    lines: Lines,
}

impl JsonlReader {
    /// Opens `path` for rows of `schema`, reading `chunk_bytes` at a time.
    pub fn open(
        path: String,
        schema: &Schema,
        follow: bool,
        chunk_bytes: usize,
    ) -> Result<JsonlReader, ConnectorError> {
        let file = File::open(&path).map_err(|source| io_error(&path, source))?;
        Ok(JsonlReader {
            path,
            file,
            follow,
            decoder: JsonDecoder::new(schema),
            lines: Lines::new(chunk_bytes),
        })
    }

    /// Decodes one line into the batch; false for a blank line, which is not a record.
    fn push_line(
        &mut self,
        number: u64,
        line: Range<usize>,
        clock: &mut EventClock,
        out: &mut SourceBatch,
    ) -> bool {
        let line = self.lines.text(line);
        if is_blank(line) {
            return false;
        }
        let path = &self.path;
        if let Some(watermark) = watermark_line(line) {
            let reason = match watermark {
                Ok(micros) => match clock.advance_watermark(micros) {
                    Some(()) => return false,
                    None => "`$watermark` in an input without event time".to_owned(),
                },
                Err(reason) => reason,
            };
            let raw = String::from_utf8_lossy(line).into_owned();
            let time = clock.frontier();
            out.dead.push(DeadLetter { position: format!("{path}:{number}"), reason, raw, time });
            return true;
        }
        push_record(
            out,
            clock,
            self.decoder.decode(line),
            || format!("{path}:{number}"),
            || String::from_utf8_lossy(line).into_owned(),
        );
        true
    }

    /// At the end of a followed file: starts over if the file was truncated.
    fn restart_if_truncated(&mut self) -> Result<(), ConnectorError> {
        let size = self.file.metadata().map_err(|source| io_error(&self.path, source))?.len();
        if size < self.lines.offset {
            tracing::warn!(
                path = %self.path,
                size,
                offset = self.lines.offset,
                "followed file was truncated, reading it again from the start"
            );
            self.file.seek(SeekFrom::Start(0)).map_err(|source| io_error(&self.path, source))?;
            self.lines.reset();
        }
        Ok(())
    }
}

impl SourceReader for JsonlReader {
    fn read(
        &mut self,
        max: usize,
        clock: &mut EventClock,
        out: &mut SourceBatch,
    ) -> Result<ReadStatus, ConnectorError> {
        let mut records = 0;
        while records < max {
            if let Some((number, line)) = self.lines.next_line() {
                records += usize::from(self.push_line(number, line, clock, out));
                continue;
            }
            let read =
                self.lines.fill(&mut self.file).map_err(|source| io_error(&self.path, source))?;
            if read > 0 {
                continue;
            }
            if self.follow {
                self.restart_if_truncated()?;
                return Ok(ReadStatus::after(records, ReadStatus::Idle));
            }
            if let Some((number, line)) = self.lines.take_rest() {
                records += usize::from(self.push_line(number, line, clock, out));
            }
            return Ok(ReadStatus::after(records, ReadStatus::Finished));
        }
        Ok(ReadStatus::More)
    }
}

/// The complete lines of a file read in chunks: `buf[start..end]` is read but not yet handed out.
struct Lines {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes read from the file.
    offset: u64,
    /// Lines handed out, so the number of the last one.
    number: u64,
}

impl Lines {
    fn new(chunk_bytes: usize) -> Lines {
        Lines { buf: vec![0; chunk_bytes.max(1)], start: 0, end: 0, offset: 0, number: 0 }
    }

    /// The bytes of a line handed out by [`next_line`](Self::next_line) or
    /// [`take_rest`](Self::take_rest), without its line ending.
    fn text(&self, line: Range<usize>) -> &[u8] {
        let text = &self.buf[line];
        text.strip_suffix(b"\r").unwrap_or(text)
    }

    /// The number and range of the next complete line, if one is buffered.
    fn next_line(&mut self) -> Option<(u64, Range<usize>)> {
        let newline = memchr::memchr(b'\n', &self.buf[self.start..self.end])?;
        let line = self.start..self.start + newline;
        self.start = line.end + 1;
        self.number += 1;
        Some((self.number, line))
    }

    /// The unterminated last line, once the file has ended.
    fn take_rest(&mut self) -> Option<(u64, Range<usize>)> {
        if self.start == self.end {
            return None;
        }
        let line = self.start..self.end;
        self.start = self.end;
        self.number += 1;
        Some((self.number, line))
    }

    /// Reads the next chunk after what is buffered; 0 at the end of the file.
    fn fill(&mut self, file: &mut impl Read) -> io::Result<usize> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buf.len() {
            // A line longer than the buffer.
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let read = loop {
            match file.read(&mut self.buf[self.end..]) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                result => break result?,
            }
        };
        self.end += read;
        self.offset += read as u64;
        Ok(read)
    }

    /// Forgets everything read, to read the file again from its start.
    fn reset(&mut self) {
        (self.start, self.end, self.offset, self.number) = (0, 0, 0, 0);
    }
}

impl fmt::Debug for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines")
            .field("buffered", &(self.end - self.start))
            .field("offset", &self.offset)
            .field("number", &self.number)
            .finish()
    }
}

/// Hands out the rows of a CSV or Parquet file, loaded whole when the source opens.
pub struct TableReader {
    path: String,
    table: FrameDecoder,
    /// How dead letters point back into the file.
    origin: Origin,
    /// The next row to hand out.
    next: usize,
}

impl fmt::Debug for TableReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableReader")
            .field("path", &self.path)
            .field("rows", &self.table.len())
            .field("next", &self.next)
            .finish()
    }
}

/// Where the rows of a table came from, for dead-letter positions and raw text.
enum Origin {
    /// A CSV file: the line each row starts on and its text.
    Csv { records: Vec<(u64, Range<usize>)>, bytes: Vec<u8> },
    /// A Parquet file: rows are numbered from 1 and shown as JSON objects.
    Parquet { objects: JsonObjects },
}

impl TableReader {
    /// Loads a CSV file with a header line. Every cell is read as text and typed by the schema
    /// (an empty cell is NULL, a quoted empty cell `""` an empty string), so a bad cell rejects
    /// its row only. Blank lines are skipped.
    pub fn csv(
        path: String,
        schema: &Schema,
        delimiter: u8,
    ) -> Result<TableReader, ConnectorError> {
        let bytes = std::fs::read(&path).map_err(|source| io_error(&path, source))?;
        let frame = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_parse_options(CsvParseOptions::default().with_separator(delimiter))
            .into_reader_with_file_handle(Cursor::new(bytes.as_slice()))
            .finish()
            .map_err(|err| format_error(&path, &err))?;
        let records = csv_records(&bytes, delimiter);
        if records.len() != frame.height() {
            return Err(ConnectorError::Format {
                path: path.into(),
                message: format!(
                    "cannot match the {} rows read to the {} records found; check the quoting",
                    frame.height(),
                    records.len(),
                ),
            });
        }
        let table = FrameDecoder::new(&frame, schema).map_err(|err| schema_error(&path, &err))?;
        Ok(TableReader { path, table, origin: Origin::Csv { records, bytes }, next: 0 })
    }

    /// Loads a Parquet file.
    pub fn parquet(path: String, schema: &Schema) -> Result<TableReader, ConnectorError> {
        let file = File::open(&path).map_err(|source| io_error(&path, source))?;
        let frame = ParquetReader::new(file).finish().map_err(|err| format_error(&path, &err))?;
        let table = FrameDecoder::new(&frame, schema).map_err(|err| schema_error(&path, &err))?;
        let origin = Origin::Parquet { objects: JsonObjects::all(schema) };
        Ok(TableReader { path, table, origin, next: 0 })
    }

    /// Whether row `index` is a blank CSV line, which is not a record.
    fn is_blank(&self, index: usize) -> bool {
        match &self.origin {
            Origin::Csv { records, bytes } => is_blank(&bytes[records[index].1.clone()]),
            Origin::Parquet { .. } => false,
        }
    }

    /// `path:LINE` for CSV, `path:ROW` for Parquet.
    fn position(&self, index: usize) -> String {
        match &self.origin {
            Origin::Csv { records, .. } => format!("{}:{}", self.path, records[index].0),
            Origin::Parquet { .. } => format!("{}:{}", self.path, index + 1),
        }
    }

    /// The CSV record's text, or the Parquet row as a JSON object.
    fn raw(&self, index: usize) -> String {
        match &self.origin {
            Origin::Csv { records, bytes } => {
                let text = &bytes[records[index].1.clone()];
                String::from_utf8_lossy(text.strip_suffix(b"\r").unwrap_or(text)).into_owned()
            }
            Origin::Parquet { objects } => objects.render(&self.table.raw_row(index)).to_string(),
        }
    }
}

impl SourceReader for TableReader {
    fn read(
        &mut self,
        max: usize,
        clock: &mut EventClock,
        out: &mut SourceBatch,
    ) -> Result<ReadStatus, ConnectorError> {
        let mut records = 0;
        while records < max && self.next < self.table.len() {
            let index = self.next;
            self.next += 1;
            if self.is_blank(index) {
                continue;
            }
            let row = self.table.row(index);
            push_record(out, clock, row, || self.position(index), || self.raw(index));
            records += 1;
        }
        Ok(ReadStatus::after(records, ReadStatus::Finished))
    }
}

/// Where each data record of a CSV file is: the line it starts on and its bytes, without the
/// line break. Like the CSV reader, every line after the header is a record (blank ones too, which
/// [`TableReader`] skips), blank lines before the header are not, and a line break inside a
/// quoted field continues the record.
fn csv_records(bytes: &[u8], delimiter: u8) -> Vec<(u64, Range<usize>)> {
    #[derive(Clone, Copy)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        /// A quote inside a quoted field: its end, or the first half of `""`.
        QuoteInQuoted,
    }
    let mut records = Vec::new();
    let (mut state, mut line, mut start, mut start_line) = (State::FieldStart, 1, 0, 1);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            line += 1;
        }
        state = match (state, b) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::FieldStart | State::QuoteInQuoted, b'"') => State::Quoted,
            (_, b'\n') => {
                records.push((start_line, start..i));
                (start, start_line) = (i + 1, line);
                State::FieldStart
            }
            (_, b) if b == delimiter => State::FieldStart,
            _ => State::Unquoted,
        };
    }
    if start < bytes.len() {
        records.push((start_line, start..bytes.len()));
    }
    match records.iter().position(|(_, range)| !is_blank(&bytes[range.clone()])) {
        Some(header) => records.split_off(header + 1),
        None => Vec::new(),
    }
}

/// Whether a line holds nothing but whitespace.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn io_error(path: &str, source: io::Error) -> ConnectorError {
    ConnectorError::Io { path: PathBuf::from(path), source }
}

fn format_error(path: &str, err: &polars::error::PolarsError) -> ConnectorError {
    ConnectorError::Format { path: PathBuf::from(path), message: err.to_string() }
}

fn schema_error(path: &str, err: &crate::decode::FrameError) -> ConnectorError {
    ConnectorError::Schema { path: PathBuf::from(path), message: err.to_string() }
}
