//! The final state of a keyed collection, kept by the sinks that output it when the pipeline
//! ends (CSV and Parquet files, the stdout table).

use std::collections::HashMap;

use shelfflow_operators::{Row, Value};

use crate::{Change, ChangeOp, SinkContext};

/// The current row of every key; read in key order. Kept by hash while the pipeline runs (a
/// change is one lookup) and sorted once when it is read.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    key: Vec<usize>,
    rows: HashMap<Row, Row>,
}

impl Snapshot {
    /// An empty state of the collection `ctx` describes.
    pub fn new(ctx: &SinkContext) -> Snapshot {
        Snapshot { key: ctx.key.clone(), rows: HashMap::new() }
    }

    /// Applies the changes of one timestamp: an upsert inserts or replaces its key's row, a
    /// delete removes it.
    pub fn apply(&mut self, changes: &[Change<'_>]) {
        for change in changes {
            let key: Row = self
                .key
                .iter()
                .map(|&c| change.row.get(c).cloned().unwrap_or(Value::Null))
                .collect();
            match change.op {
                ChangeOp::Upsert => match self.rows.get_mut(&key) {
                    Some(row) => {
                        row.clear();
                        row.extend_from_slice(change.row);
                    }
                    None => {
                        self.rows.insert(key, change.row.to_vec());
                    }
                },
                ChangeOp::Delete => {
                    self.rows.remove(&key);
                }
            }
        }
    }

    /// The rows, sorted by key.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[Value]> {
        let mut sorted: Vec<(&Row, &Row)> = self.rows.iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        sorted.into_iter().map(|(_, row)| row.as_slice())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}
