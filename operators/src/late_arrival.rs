//! Late arrivals: the records a source accepted although they arrived behind the newest event
//! time it had read (within its `allowed_lateness`), as the collection `<source>.late_arrivals`
//! with how far behind each came. The runtime fills it where records are read; `check`'s
//! `max_lateness` reads it.

use crate::value::{Field, Row, Schema, Type, Value};

/// The column that says how far behind the source's newest event time a record arrived.
pub const LATE_BY: &str = "late_by";

/// The late arrivals of source `source`.
pub fn collection_of(source: &str) -> String {
    format!("{source}.late_arrivals")
}

/// The schema of a source's late arrivals: its own columns, then [`LATE_BY`] (an interval).
pub fn schema(source: &Schema) -> Schema {
    let mut fields = source.fields.clone();
    fields.push(Field::new(LATE_BY, Type::Interval, false));
    let mut schema = Schema::new(fields);
    schema.event_time = source.event_time;
    schema
}

/// A late arrival: the source's `row`, then how far behind (µs) it came.
pub fn row(mut row: Row, late_by: u64) -> Row {
    row.push(Value::Interval(late_by as i64));
    row
}

/// How far behind (µs) the late arrival `row` came, and the index of that column.
pub fn late_by(row: &[Value]) -> (Option<i64>, usize) {
    let column = row.len() - 1;
    match row[column] {
        Value::Interval(us) => (Some(us), column),
        _ => (None, column),
    }
}
