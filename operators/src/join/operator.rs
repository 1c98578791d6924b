use std::sync::Arc;

use differential_dataflow::AsCollection;
use rustc_hash::FxHashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::Capability;

use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator, RowArrangement, Time};
use crate::value::{Row, Schema, Value};

use super::config::JoinKind;

/// Joins two arranged collections on their keys: each matching pair gives the left row followed
/// by the `right_keep` columns of the right row. With [`JoinKind::Left`], left rows whose key has
/// no right row are kept with NULLs in place of the right columns; when a right row for that key
/// appears later, the NULL-padded row is retracted and the joined one inserted.
pub fn join_rows<'s>(
    left: &Coll<'s>,
    left_arranged: RowArrangement<'s>,
    right_arranged: RowArrangement<'s>,
    left_key: Arc<[usize]>,
    right_keep: Arc<[usize]>,
    kind: JoinKind,
) -> Coll<'s> {
    let keep = right_keep.clone();
    // As in SQL, a NULL key matches nothing (not even another NULL).
    let matched =
        left_arranged.join_core(right_arranged.clone(), move |key: &Row, l: &Row, r: &Row| {
            if key.iter().any(Value::is_null) {
                return None;
            }
            let mut out = Row::with_capacity(l.len() + keep.len());
            out.extend(l.iter().cloned());
            out.extend(keep.iter().map(|&c| r[c].clone()));
            Some(out)
        });
    match kind {
        JoinKind::Inner => matched,
        JoinKind::Left => {
            let right_keys = right_arranged
                .as_collection(|k: &Row, _| k.clone())
                .filter(|k: &Row| !k.iter().any(Value::is_null))
                .distinct();
            let width = right_keep.len();
            let unmatched = left
                .clone()
                .map(move |row: Row| {
                    (left_key.iter().map(|&c| row[c].clone()).collect::<Row>(), row)
                })
                .antijoin(right_keys)
                .map(move |(_key, mut row): (Row, Row)| {
                    row.extend(std::iter::repeat_n(Value::Null, width));
                    row
                });
            matched.concat(unmatched)
        }
    }
}

/// Joins a stream with a constant collection (a reference table loaded once) by hash lookup:
/// the table is broadcast to every worker and indexed by key; stream rows stay where they are
/// and are never arranged. Stream rows that arrive before the table is complete wait for it.
/// Gives exactly the result of [`join_rows`] for a right side that never changes after time 0.
pub fn lookup_join<'s>(
    left: Coll<'s>,
    right: Coll<'s>,
    left_key: Arc<[usize]>,
    right_key: Arc<[usize]>,
    right_keep: Arc<[usize]>,
    kind: JoinKind,
) -> Coll<'s> {
    let table = right.inner.broadcast();
    left.inner
        .binary_frontier::<_, CapacityContainerBuilder<Vec<(Row, Time, Diff)>>, _, _, _, _>(
            table,
            Pipeline,
            Pipeline,
            "LookupJoin",
            move |_, _| {
                let mut index: FxHashMap<Row, Vec<(Row, Diff)>> = FxHashMap::default();
                let mut waiting: Vec<(Row, Time, Diff)> = Vec::new();
                let mut waiting_cap: Option<Capability<Time>> = None;
                let mut key = Row::new();
                move |(stream, _), (table, table_frontier), output| {
                    table.for_each(|_, data| {
                        for (row, _time, diff) in data.drain(..) {
                            let k: Row = right_key.iter().map(|&c| row[c].clone()).collect();
                            let rows = index.entry(k).or_default();
                            match rows.iter_mut().find(|(r, _)| *r == row) {
                                Some(entry) => entry.1 += diff,
                                None => rows.push((row, diff)),
                            }
                            rows.retain(|(_, d)| *d != 0);
                        }
                    });
                    let complete = table_frontier.is_empty();
                    let emit = |mut row: Row,
                                time: Time,
                                diff: Diff,
                                out: &mut Vec<(Row, Time, Diff)>,
                                key: &mut Row| {
                        // A single-column key is looked up in place; longer ones are gathered.
                        let lookup: &[Value] = match left_key.as_ref() {
                            [c] => std::slice::from_ref(&row[*c]),
                            _ => {
                                key.clear();
                                key.extend(left_key.iter().map(|&c| row[c].clone()));
                                key
                            }
                        };
                        let found = if lookup.iter().any(Value::is_null) {
                            None
                        } else {
                            index.get(lookup)
                        };
                        match found {
                            Some(matches) if !matches.is_empty() => {
                                // The stream row itself becomes the last joined row.
                                let (last, rest) = matches.split_last().expect("not empty");
                                for (r, count) in rest {
                                    let mut joined =
                                        Row::with_capacity(row.len() + right_keep.len());
                                    joined.extend(row.iter().cloned());
                                    joined.extend(right_keep.iter().map(|&c| r[c].clone()));
                                    out.push((joined, time, diff * count));
                                }
                                // Moved into a row of the joined width: one allocation, no
                                // reallocation of the narrower one.
                                let mut joined = Row::with_capacity(row.len() + right_keep.len());
                                joined.append(&mut row);
                                joined.extend(right_keep.iter().map(|&c| last.0[c].clone()));
                                out.push((joined, time, diff * last.1));
                            }
                            _ if kind == JoinKind::Left => {
                                row.extend(std::iter::repeat_n(Value::Null, right_keep.len()));
                                out.push((row, time, diff));
                            }
                            _ => {}
                        }
                    };
                    let mut out = Vec::new();
                    if complete {
                        if let Some(cap) = waiting_cap.take() {
                            for (row, time, diff) in waiting.drain(..) {
                                emit(row, time, diff, &mut out, &mut key);
                            }
                            output.session(&cap).give_iterator(out.drain(..));
                        }
                    }
                    stream.for_each(|cap, data| {
                        if complete {
                            for (row, time, diff) in data.drain(..) {
                                emit(row, time, diff, &mut out, &mut key);
                            }
                            output.session(&cap).give_iterator(out.drain(..));
                        } else {
                            if waiting_cap.as_ref().is_none_or(|held| cap.time() < held.time()) {
                                waiting_cap = Some(cap.retain(0));
                            }
                            waiting.append(data);
                        }
                    });
                }
            },
        )
        .as_collection()
}

/// Joins a constant collection on the left (a reference table) with a changing one on the
/// right by looking the right rows up in the table, so nothing is arranged: the mirror of
/// [`lookup_join`]. Columns are ordered as the join's: the table's, then `right_keep`.
///
/// With [`JoinKind::Left`], a table row is padded with NULLs while no right row has its key. The
/// padded rows are the table's, minus the table rows of the keys present on the right; presence
/// is a count per key in time order, which changes only when a key appears or disappears, so
/// a right row that is replaced by another one costs no work there.
pub fn lookup_join_table_left<'s>(
    table: Coll<'s>,
    stream: Coll<'s>,
    table_key: Arc<[usize]>,
    stream_key: Arc<[usize]>,
    layout: (usize, Arc<[usize]>),
    kind: JoinKind,
) -> Coll<'s> {
    let (table_width, right_keep) = layout;
    let all_table: Arc<[usize]> = (0..table_width).collect();
    let looked_up = lookup_join(
        stream.clone(),
        table.clone(),
        stream_key.clone(),
        table_key.clone(),
        all_table,
        JoinKind::Inner,
    );
    let keep = right_keep.clone();
    let matched = looked_up.map(move |row: Row| {
        // `row` is the stream row followed by the table row.
        let stream_len = row.len() - table_width;
        let mut out = Row::with_capacity(table_width + keep.len());
        out.extend(row[stream_len..].iter().cloned());
        out.extend(keep.iter().map(|&c| row[c].clone()));
        out
    });
    if kind == JoinKind::Inner {
        return matched;
    }
    let width = right_keep.len();
    let padded = table.map(move |mut row: Row| {
        row.extend(std::iter::repeat_n(Value::Null, width));
        row
    });
    let keys = stream_key.clone();
    let present = crate::distinct::present_keys(
        stream.filter(move |row: &Row| !keys.iter().any(|&c| row[c].is_null())),
        stream_key,
    );
    let key_columns: Arc<[usize]> = (0..table_key.len()).collect();
    let all_padded: Arc<[usize]> = (0..table_width + width).collect();
    let covered =
        lookup_join(present, padded.clone(), key_columns, table_key, all_padded, JoinKind::Inner)
            .map(move |row: Row| row[row.len() - table_width - width..].to_vec());
    matched.concat(padded).concat(covered.negate())
}

#[derive(Debug)]
pub(crate) struct PlannedJoin {
    pub(crate) left_key: Vec<usize>,
    pub(crate) right_key: Vec<usize>,
    pub(crate) right_keep: Arc<[usize]>,
    pub(crate) kind: JoinKind,
    pub(crate) right_width: usize,
    pub(crate) left_width: usize,
    /// The right side is constant: join by lookup instead of arranging both sides.
    pub(crate) lookup: bool,
    /// Only the left side is constant: look the right rows up in it.
    pub(crate) mirrored_lookup: bool,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedJoin {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        cache: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let (left_name, left) = &inputs[0];
        let (right_name, right) = &inputs[1];
        debug_assert!(self.right_keep.iter().all(|&c| c < self.right_width));
        if self.lookup {
            return vec![lookup_join(
                left.clone(),
                right.clone(),
                self.left_key.clone().into(),
                self.right_key.clone().into(),
                self.right_keep.clone(),
                self.kind,
            )];
        }
        if self.mirrored_lookup {
            return vec![lookup_join_table_left(
                left.clone(),
                right.clone(),
                self.left_key.clone().into(),
                self.right_key.clone().into(),
                (self.left_width, self.right_keep.clone()),
                self.kind,
            )];
        }
        let left_arranged = cache.by_key(left_name, left, &self.left_key);
        let right_arranged = cache.by_key(right_name, right, &self.right_key);
        vec![join_rows(
            left,
            left_arranged,
            right_arranged,
            self.left_key.clone().into(),
            self.right_keep.clone(),
            self.kind,
        )]
    }
}
