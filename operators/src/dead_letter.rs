//! Dead letters: records and rows the pipeline rejects, kept as data with everything needed to
//! find and fix them. This is the one place that says what a dead letter holds and how it is a
//! row of the dead-letter collections (`dead_letters`, `<input>.dead_letters`), which operators
//! and sinks read like any other collection.
//!
//! Readers reject records (malformed, late, a duplicate table key); row-by-row operators reject
//! rows (an integer overflow). Both become a [`DeadLetter`]; the runtime puts it in the
//! collection with [`DeadLetter::into_row`], and the dead-letter file reads it back with
//! [`DeadLetter::from_row`].

use crate::value::{Field, Row, Schema, Type, Value};
use crate::Time;

/// A record that could not become a row, or a row an operator could not process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Where it was read, e.g. `data/events.jsonl:17` (for an operator: the YAML path of the
    /// expression that failed).
    pub position: String,
    /// Why: `late`, `malformed JSON: ...`, `missing field \`quantity\``, ...
    pub reason: String,
    /// The record's original text (for an operator: the row as a JSON object).
    pub raw: String,
    /// The dataflow time at which it was rejected (the source's frontier then).
    pub time: Time,
}

/// The columns of the dead-letter collections, in [`schema`] order.
const SOURCE: usize = 0;
const POSITION: usize = 1;
const REASON: usize = 2;
const RAW: usize = 3;

/// Columns of the dead-letter collections: which input (or operator) rejected the record, where
/// it was read, why, and its original text.
pub fn schema() -> Schema {
    Schema::new(vec![
        Field::new("source", Type::String, false),
        Field::new("position", Type::String, false),
        Field::new("reason", Type::String, false),
        Field::new("raw", Type::String, false),
    ])
}

impl DeadLetter {
    /// Its reason's kind, for counting by reason ([`reason_kind`]).
    pub fn kind(&self) -> &str {
        reason_kind(&self.reason)
    }

    /// The dead letter as a row of [`schema`], rejected by `source`.
    pub fn into_row(self, source: &str) -> Row {
        let mut row = vec![Value::Null; 4];
        row[SOURCE] = Value::str(source);
        row[POSITION] = Value::str(&self.position);
        row[REASON] = Value::str(&self.reason);
        row[RAW] = Value::str(&self.raw);
        row
    }

    /// The dead letter a row of [`schema`] holds, with the time it was committed at, and the
    /// name of what rejected it.
    pub fn from_row(row: &[Value], time: Time) -> (String, DeadLetter) {
        let text = |column: usize| row[column].as_str().unwrap_or_default().to_owned();
        let letter =
            DeadLetter { position: text(POSITION), reason: text(REASON), raw: text(RAW), time };
        (text(SOURCE), letter)
    }
}

/// What rejected the dead letter a row of [`schema`] holds.
pub fn source_of(row: &[Value]) -> &Value {
    &row[SOURCE]
}

/// The reason's kind of the dead letter a row of [`schema`] holds ([`reason_kind`]).
pub fn kind_of(row: &[Value]) -> &str {
    reason_kind(row[REASON].as_str().unwrap_or_default())
}

/// The kind of a dead letter's reason, for counting by reason: the text before the first `:`
/// (`late`, `malformed JSON`, ``missing field `quantity` ``), at most 64 characters.
pub fn reason_kind(reason: &str) -> &str {
    let kind = reason.split(':').next().unwrap_or_default().trim();
    match kind.char_indices().nth(64) {
        Some((end, _)) => &kind[..end],
        None => kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_survives_the_round_trip_through_its_row() {
        let letter = DeadLetter {
            position: "events.jsonl:9".to_owned(),
            reason: "missing field `quantity`".to_owned(),
            raw: "{\"shelf_id\":\"S1\"}".to_owned(),
            time: 7,
        };
        let row = letter.clone().into_row("shelf_events");
        assert_eq!(row.len(), schema().len());
        assert_eq!(source_of(&row), &Value::str("shelf_events"));
        assert_eq!(kind_of(&row), "missing field `quantity`");
        assert_eq!(DeadLetter::from_row(&row, 7), ("shelf_events".to_owned(), letter));
    }

    #[test]
    fn a_reason_kind_is_the_text_before_its_colon_and_at_most_64_characters() {
        assert_eq!(reason_kind("malformed JSON: expected value at line 1"), "malformed JSON");
        assert_eq!(reason_kind("late"), "late");
        assert_eq!(reason_kind(&"x".repeat(100)).len(), 64);
    }
}
