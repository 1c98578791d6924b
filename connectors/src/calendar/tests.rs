use shelfflow_operators::value::{parse_timestamp, Type};
use shelfflow_operators::{Field, Schema};

use super::*;
use crate::{EventClock, ReadStatus, SourceBatch, SourceConfig, Value};

fn config(yaml: &str) -> CalendarConfig {
    serde_yaml_ng::from_str(yaml).expect("valid calendar")
}

fn schema() -> Schema {
    let mut schema =
        Schema::new(FIELDS.iter().map(|(n, t, null)| Field::new(*n, *t, *null)).collect());
    schema.event_time = Some(1);
    schema
}

fn read_all(config: &CalendarConfig) -> Vec<Vec<Value>> {
    let schema = schema();
    let mut reader = config.open(&schema).expect("opens");
    let mut clock = EventClock::new(Some(1), 1_000_000, 0);
    let mut rows = Vec::new();
    let mut frontier = 0;
    loop {
        let mut batch = SourceBatch::default();
        let status = reader.read(10_000, &mut clock, &mut batch).expect("reads");
        assert!(batch.dead.is_empty());
        // One business day per read; the frontier moves to the next day's start.
        assert!(batch.rows.iter().all(|(_, t)| *t >= frontier));
        assert!(clock.frontier() >= frontier);
        frontier = clock.frontier();
        rows.extend(batch.rows.into_iter().map(|(row, _)| row));
        if status == ReadStatus::Finished {
            return rows;
        }
    }
}

fn ts(text: &str) -> Value {
    Value::Timestamp(parse_timestamp(text).expect("timestamp"))
}

const WEEK: &str = "start: 2026-01-01\ndays: 7\ncutoffs: {days: [sunday, tuesday, thursday], at: \"12:00\"}\ndeliveries: {days: [monday, wednesday, friday], at: \"08:00\"}\n";

#[test]
fn emits_day_starts_cutoffs_and_deliveries_in_time_order() {
    let rows = read_all(&config(WEEK));
    let kinds = |k: &str| rows.iter().filter(|r| r[0] == Value::str(k)).count();
    assert_eq!(kinds("day_start"), 7);
    // 2026-01-01 is a Thursday: cutoffs Thu 1, Sun 4, Tue 6; deliveries Fri 2, Mon 5, Wed 7.
    assert_eq!(kinds("cutoff"), 3);
    assert_eq!(kinds("delivery"), 3);
    assert!(rows.windows(2).all(|w| w[0][1] <= w[1][1]), "in time order");
    assert_eq!(rows[0][1], ts("2026-01-01T00:00:00Z"));
}

#[test]
fn a_cutoff_names_the_first_delivery_slot_after_it() {
    let rows = read_all(&config(WEEK));
    let cutoffs: Vec<(Value, Value)> = rows
        .iter()
        .filter(|r| r[0] == Value::str("cutoff"))
        .map(|r| (r[1].clone(), r[4].clone()))
        .collect();
    assert_eq!(
        cutoffs,
        vec![
            (ts("2026-01-01T12:00:00Z"), ts("2026-01-02T08:00:00Z")),
            (ts("2026-01-04T12:00:00Z"), ts("2026-01-05T08:00:00Z")),
            (ts("2026-01-06T12:00:00Z"), ts("2026-01-07T08:00:00Z")),
        ]
    );
}

#[test]
fn bad_weekdays_and_times_are_reported_together() {
    let bad = config(
        "start: 2026-01-01\ndays: 3\nday_start: \"25:00\"\ncutoffs: {days: [funday], at: \"noon\"}\ndeliveries: {days: [monday], at: \"08:00\"}\n",
    );
    let errors = bad.check();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, vec!["day_start", "cutoffs.days.0"]);
}

#[test]
fn declared_fields_must_exist_with_their_types() {
    let cal = config(WEEK);
    let schema = Schema::new(vec![
        Field::new("kind", Type::String, false),
        Field::new("at", Type::Date, false),
        Field::new("dya", Type::Date, false),
        Field::new("delivery_at", Type::Timestamp, false),
    ]);
    let errors = cal.validate(&schema);
    let messages: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(errors.iter().any(|e| e.hint.as_deref() == Some("did you mean `day`?")));
}
