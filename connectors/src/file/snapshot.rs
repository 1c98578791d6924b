//! The final state of a keyed collection, kept by the sinks that output it when the pipeline
//! ends (CSV and Parquet files, the stdout table).

use std::collections::BTreeMap;

use shelfflow_operators::{Row, Value};

use crate::{Change, ChangeOp, SinkContext};

/// The current row of every key, in key order.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    key: Vec<usize>,
    rows: BTreeMap<Row, Row>,
}

impl Snapshot {
    /// An empty state of the collection `ctx` describes.
    pub fn new(ctx: &SinkContext) -> Snapshot {
        Snapshot { key: ctx.key.clone(), rows: BTreeMap::new() }
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
                ChangeOp::Upsert => {
                    self.rows.insert(key, change.row.to_vec());
                }
                ChangeOp::Delete => {
                    self.rows.remove(&key);
                }
            }
        }
    }

    /// The rows, sorted by key.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[Value]> {
        self.rows.values().map(Vec::as_slice)
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
