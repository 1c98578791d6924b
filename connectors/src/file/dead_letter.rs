//! The pipeline's dead-letter file: every rejected record of every source, one JSON line each.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::sink::create_file;
use crate::decode::format_time;
use crate::{ConnectorError, DeadLetter};

/// Writes dead letters as JSON lines:
/// `{"source":..,"position":..,"reason":..,"raw":..,"time":"2026-01-01T07:00:00Z"}`.
#[derive(Debug)]
pub struct DeadLetterFile {
    path: PathBuf,
    out: BufWriter<File>,
}

/// One line of the file.
#[derive(Serialize)]
struct Line<'a> {
    source: &'a str,
    position: &'a str,
    reason: &'a str,
    raw: &'a str,
    time: String,
}

impl DeadLetterFile {
    /// Creates (or truncates) the file, with its missing parent directories.
    pub fn create(path: impl Into<PathBuf>) -> Result<DeadLetterFile, ConnectorError> {
        let path = path.into();
        let out = BufWriter::new(create_file(&path)?);
        Ok(DeadLetterFile { path, out })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the dead letters of one batch of the source named `source`, and flushes them.
    pub fn write(&mut self, source: &str, letters: &[DeadLetter]) -> Result<(), ConnectorError> {
        self.write_lines(source, letters).map_err(|source| self.io_error(source))
    }

    /// Flushes the file.
    pub fn finish(&mut self) -> Result<(), ConnectorError> {
        self.out.flush().map_err(|source| self.io_error(source))
    }

    fn write_lines(&mut self, source: &str, letters: &[DeadLetter]) -> io::Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        for letter in letters {
            let line = Line {
                source,
                position: &letter.position,
                reason: &letter.reason,
                raw: &letter.raw,
                time: format_time(letter.time),
            };
            serde_json::to_writer(&mut self.out, &line)?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }

    fn io_error(&self, source: io::Error) -> ConnectorError {
        ConnectorError::Io { path: self.path.clone(), source }
    }
}
