//! Reading a PostgreSQL table or query once, as a reference table (or a finite source).

use postgres::{Client, NoTls};

use super::sql::{self, Decoded};
use crate::{ConnectorError, EventClock, ReadStatus, Row, Schema, SourceBatch};

/// Rows read per call.
const CHUNK: usize = 10_000;

/// The rows of a query, typed by the declared schema, handed out in chunks.
#[derive(Debug)]
pub struct QueryReader {
    target: String,
    rows: std::vec::IntoIter<Row>,
    position: usize,
}

impl QueryReader {
    /// Runs `SELECT <schema columns> FROM (<query>)` and keeps its rows.
    pub(super) fn open(
        url: &str,
        query: &str,
        target: &str,
        schema: &Schema,
    ) -> Result<Self, ConnectorError> {
        let error =
            |message: String| ConnectorError::Database { target: target.to_owned(), message };
        let mut client =
            Client::connect(url, NoTls).map_err(|e| error(super::sink::describe(&e)))?;
        let columns: Vec<String> = schema
            .fields
            .iter()
            .map(|f| format!("q.{}::{}", sql::ident(&f.name), sql::pg_type(f.ty)))
            .collect();
        let statement = format!("SELECT {} FROM ({query}) AS q", columns.join(", "));
        let found = client.query(&statement, &[]).map_err(|e| error(super::sink::describe(&e)))?;
        let rows: Vec<Row> = found
            .iter()
            .map(|r| (0..columns.len()).map(|i| r.get::<_, Decoded>(i).0).collect())
            .collect();
        tracing::debug!(target, rows = rows.len(), "read");
        Ok(QueryReader { target: target.to_owned(), rows: rows.into_iter(), position: 0 })
    }
}

impl crate::SourceReader for QueryReader {
    fn read(
        &mut self,
        max: usize,
        clock: &mut EventClock,
        out: &mut SourceBatch,
    ) -> Result<ReadStatus, ConnectorError> {
        for row in self.rows.by_ref().take(max.clamp(1, CHUNK)) {
            self.position += 1;
            out.push_typed(row, clock, || format!("{}: row {}", self.target, self.position));
        }
        Ok(if self.rows.len() == 0 { ReadStatus::Finished } else { ReadStatus::More })
    }
}
