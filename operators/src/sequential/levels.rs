//! The rows a key currently holds in a levels input (normally one), with their multiplicities.

use crate::plan::Diff;
use crate::value::Row;

/// A key's present rows of a levels input: updated by differences, read as "the current level".
#[derive(Debug, Default)]
pub(crate) struct Levels(Vec<(Row, Diff)>);

impl Levels {
    /// Adds `diff` copies of `row` (negative: removes them).
    pub(crate) fn update(&mut self, row: &Row, diff: Diff) {
        match self.0.iter().position(|(r, _)| r == row) {
            Some(i) => {
                self.0[i].1 += diff;
                if self.0[i].1 == 0 {
                    self.0.swap_remove(i);
                }
            }
            None => self.0.push((row.clone(), diff)),
        }
    }

    /// The level evaluated: the largest row present (when the input is not unique per key, a
    /// deterministic choice).
    pub(crate) fn current(&self) -> Option<&Row> {
        self.0.iter().filter(|(_, d)| *d > 0).map(|(r, _)| r).max()
    }

    /// Whether the key holds no row.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
