//! The final state of a keyed collection, kept by the sinks that output it when the pipeline
//! ends (CSV and Parquet files, the stdout table).

use rustc_hash::FxHashMap;

use shelfflow_operators::{Row, Value};

use crate::{Change, ChangeOp, SinkContext};

/// The current row of every key; read in key order. Kept by hash while the pipeline runs (a
/// change is one lookup) and sorted once when it is read.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    key: Vec<usize>,
    rows: FxHashMap<Row, Row>,
    /// Row multiplicities from [`Snapshot::add`], folded into `rows` by [`Snapshot::settle`].
    counts: FxHashMap<Row, i64>,
}

impl Snapshot {
    /// An empty state of the collection `ctx` describes.
    pub fn new(ctx: &SinkContext) -> Snapshot {
        Snapshot { key: ctx.key.clone(), rows: FxHashMap::default(), counts: FxHashMap::default() }
    }

    /// Applies the changes of one timestamp: an upsert inserts or replaces its key's row, a
    /// delete removes it.
    pub fn apply(&mut self, changes: &[Change<'_>]) {
        let mut gathered = Row::new();
        for change in changes {
            // A one-column key is looked up in place; longer ones are gathered.
            let key: &[Value] = match self.key.as_slice() {
                [c] if *c < change.row.len() => std::slice::from_ref(&change.row[*c]),
                _ => {
                    self.gather_key(change.row, &mut gathered);
                    &gathered
                }
            };
            match change.op {
                ChangeOp::Upsert => match self.rows.get_mut(key) {
                    Some(row) => {
                        row.clear();
                        row.extend_from_slice(change.row);
                    }
                    None => {
                        self.rows.insert(key.to_vec(), change.row.to_vec());
                    }
                },
                ChangeOp::Delete => {
                    self.rows.remove(key);
                }
            }
        }
    }

    /// Adds `diff` copies of `row`: the raw updates of closed times, in any order, instead of
    /// their changes by key ([`Snapshot::apply`]). A row is present while its count is positive;
    /// [`Snapshot::settle`] makes the present rows the state (the largest row of a key wins,
    /// should a collection hold several).
    pub fn add(&mut self, row: Row, diff: i64) {
        use std::collections::hash_map::Entry;
        match self.counts.entry(row) {
            Entry::Occupied(mut slot) => {
                *slot.get_mut() += diff;
                if *slot.get() == 0 {
                    slot.remove();
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(diff);
            }
        }
    }

    /// Folds the rows given to [`Snapshot::add`] into the state.
    pub fn settle(&mut self) {
        let mut present: Vec<Row> =
            self.counts.drain().filter(|(_, count)| *count > 0).map(|(row, _)| row).collect();
        present.sort_unstable();
        for row in present {
            let mut key = Row::new();
            self.gather_key(&row, &mut key);
            self.rows.insert(key, row);
        }
    }

    /// The key values of `row` into `key` (NULL for a column the row lacks).
    fn gather_key(&self, row: &[Value], key: &mut Row) {
        key.clear();
        key.extend(self.key.iter().map(|&c| row.get(c).cloned().unwrap_or(Value::Null)));
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
