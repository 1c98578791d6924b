//! Reading a PostgreSQL table or query: once (a constant reference table), or again at every
//! `poll` interval, feeding what changed since the previous read.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use super::sql::{self, Decoded};
use crate::{ConnectorError, EventClock, ReadStatus, Row, Schema, SourceBatch};

/// Rows handed out per call.
const CHUNK: usize = 10_000;

/// The rows of a query, typed by the declared schema.
pub struct QueryReader {
    target: String,
    url: String,
    statement: String,
    width: usize,
    client: Option<Client>,
    /// Rows of the first read not handed out yet.
    pending: std::vec::IntoIter<Row>,
    /// Polling: the interval, the rows of the last read and when it happened.
    poll: Option<Duration>,
    known: HashSet<Row>,
    polled_at: Instant,
    position: usize,
}

impl std::fmt::Debug for QueryReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryReader").field("target", &self.target).finish_non_exhaustive()
    }
}

impl QueryReader {
    /// Runs `SELECT <schema columns> FROM (<query>)` and keeps its rows.
    pub(super) fn open(
        url: String,
        query: &str,
        target: &str,
        schema: &Schema,
        poll: Option<Duration>,
    ) -> Result<Self, ConnectorError> {
        let columns: Vec<String> = schema
            .fields
            .iter()
            .map(|f| format!("q.{}::{}", sql::ident(&f.name), sql::pg_type(f.ty)))
            .collect();
        let mut reader = QueryReader {
            target: target.to_owned(),
            url,
            statement: format!("SELECT {} FROM ({query}) AS q", columns.join(", ")),
            width: columns.len(),
            client: None,
            pending: Vec::new().into_iter(),
            poll,
            known: HashSet::new(),
            polled_at: Instant::now(),
            position: 0,
        };
        let rows = reader.query()?;
        if poll.is_some() {
            reader.known = rows.iter().cloned().collect();
        }
        tracing::debug!(target, rows = rows.len(), "read");
        reader.pending = rows.into_iter();
        Ok(reader)
    }

    fn error(&self, e: &postgres::Error) -> ConnectorError {
        ConnectorError::Database { target: self.target.clone(), message: super::sink::describe(e) }
    }

    /// The query's rows now (connecting when needed).
    fn query(&mut self) -> Result<Vec<Row>, ConnectorError> {
        let mut client = match self.client.take() {
            Some(client) => client,
            None => Client::connect(&self.url, NoTls).map_err(|e| self.error(&e))?,
        };
        let found = client.query(&self.statement, &[]).map_err(|e| self.error(&e))?;
        self.client = Some(client);
        Ok(found
            .iter()
            .map(|r| (0..self.width).map(|i| r.get::<_, Decoded>(i).0).collect())
            .collect())
    }

    /// Polling: reads the rows again and adds to `out` what changed since the last read.
    fn poll_changes(&mut self, clock: &mut EventClock, out: &mut SourceBatch) {
        let rows = match self.query() {
            Ok(rows) => rows,
            Err(e) => {
                // The table stays as it was; the next poll tries again.
                tracing::warn!(table = %self.target, error = %e, "poll failed; retrying");
                return;
            }
        };
        let now: HashSet<Row> = rows.into_iter().collect();
        let mut gone: Vec<&Row> = self.known.difference(&now).collect();
        let mut new: Vec<&Row> = now.difference(&self.known).collect();
        gone.sort();
        new.sort();
        if !gone.is_empty() || !new.is_empty() {
            tracing::info!(table = %self.target, deleted = gone.len(), inserted = new.len(), "table changed");
        }
        let time = clock.frontier();
        out.retracted.extend(gone.into_iter().map(|row| (row.clone(), time)));
        for row in new {
            self.position += 1;
            out.push_typed(row.clone(), clock, || {
                format!("{}: change {}", self.target, self.position)
            });
        }
        self.known = now;
    }
}

impl crate::SourceReader for QueryReader {
    fn read(
        &mut self,
        max: usize,
        clock: &mut EventClock,
        out: &mut SourceBatch,
    ) -> Result<ReadStatus, ConnectorError> {
        if self.pending.len() > 0 {
            for row in self.pending.by_ref().take(max.clamp(1, CHUNK)) {
                self.position += 1;
                out.push_typed(row, clock, || format!("{}: row {}", self.target, self.position));
            }
            return Ok(match (self.pending.len(), self.poll) {
                (0, None) => ReadStatus::Finished,
                (0, Some(_)) => ReadStatus::Idle,
                _ => ReadStatus::More,
            });
        }
        let Some(poll) = self.poll else { return Ok(ReadStatus::Finished) };
        if self.polled_at.elapsed() >= poll {
            self.polled_at = Instant::now();
            self.poll_changes(clock, out);
        }
        Ok(ReadStatus::Idle)
    }
}
