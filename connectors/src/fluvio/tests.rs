use std::time::{Duration, Instant};

use super::*;
use crate::{EventClock, SourceConfig, Value};
use shelfflow_operators::{Field, Schema, Type};

const S: u64 = 1_000_000;

fn schema() -> Schema {
    Schema::new(vec![Field::new("at", Type::Timestamp, false)])
}

fn at(seconds: u64) -> Vec<Value> {
    vec![Value::Timestamp((seconds * S) as i64)]
}

fn source(yaml: &str) -> Result<Box<dyn SourceConfig>, crate::ConfigError> {
    (SOURCE.parse)(serde_yaml_ng::from_str(yaml).unwrap())
}

#[test]
fn samples_parse_and_validate() {
    let schema = schema();
    let source = source(SOURCE.sample).unwrap();
    assert!(source.partitioned());
    assert!(source.validate(&schema).is_empty());
    let both = self::source("topic: t\nprofile: local\nendpoint: 127.0.0.1:9003\n").unwrap();
    let errors: Vec<String> = both.validate(&schema).iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("`profile` or `endpoint`"), "{errors:?}");
    let sink = (SINK.parse)(serde_yaml_ng::from_str(SINK.sample).unwrap()).unwrap();
    assert!(sink.validate(&schema).is_empty());
}

#[test]
fn invalid_names_and_settings_are_all_reported() {
    let config =
        source("topic: Shelf_Events\nstart: committed\npartitions: []\nidle_timeout: 0s\n")
            .unwrap();
    let errors: Vec<String> = config.validate(&schema()).iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].contains("not a valid Fluvio name"), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("needs a `consumer`")), "{errors:?}");
    let unknown = source("topic: t\nofset: 3\n").unwrap_err().to_string();
    assert!(unknown.contains("ofset"), "{unknown}");
}

#[test]
fn topic_names_follow_fluvio_rules() {
    assert!(check_topic("topic", "shelf-events").is_none());
    assert!(check_topic("topic", "store_ops.dlq").is_some());
    assert!(check_topic("topic", "-a").is_some());
    assert_eq!(topic_name("Store_Ops.dlq"), "store-ops-dlq");
}

#[test]
fn each_partition_has_its_own_watermark() {
    let now = Instant::now();
    let template = EventClock::new(Some(0), S, 5 * S);
    let mut w = Watermarks::new([0, 1], &template, Duration::from_secs(5), now);
    assert_eq!(w.stamp(0, &at(100), 0, now), Ok(100 * S));
    assert_eq!(w.stamp(1, &at(50), 0, now), Ok(50 * S));
    // The slowest partition holds the frontier.
    assert_eq!(w.frontier(now), 45 * S);
    // Late within partition 0's own order, though partition 1 is further behind.
    assert!(w.stamp(0, &at(90), 45 * S, now).unwrap_err().starts_with("late"));
    // Partition 1's records within its own lateness are fine.
    assert_eq!(w.stamp(1, &at(47), 45 * S, now), Ok(47 * S));
}

#[test]
fn an_idle_partition_stops_holding_the_frontier_and_its_late_records_are_dead_letters() {
    let start = Instant::now();
    let template = EventClock::new(Some(0), S, 0);
    let mut w = Watermarks::new([0, 1], &template, Duration::from_secs(5), start);
    w.stamp(0, &at(100), 0, start).unwrap();
    w.stamp(1, &at(10), 0, start).unwrap();
    assert_eq!(w.frontier(start), 10 * S);
    // Partition 0 keeps delivering; partition 1 is silent past the idle timeout.
    let later = start + Duration::from_secs(6);
    w.stamp(0, &at(200), 10 * S, later).unwrap();
    assert_eq!(w.frontier(later), 200 * S);
    // Partition 1 wakes up behind the source's frontier: late, with the reason.
    let reason = w.stamp(1, &at(20), 200 * S, later).unwrap_err();
    assert!(reason.contains("partition 1 was idle"), "{reason}");
    // Every partition idle: everything read so far is complete, and the source is idle.
    assert!(!w.all_idle(later));
    let much_later = later + Duration::from_secs(60);
    assert_eq!(w.frontier(much_later), 200 * S);
    assert!(w.all_idle(much_later));
}

#[test]
fn finished_partitions_do_not_hold_the_frontier() {
    let now = Instant::now();
    let template = EventClock::new(Some(0), S, 0);
    let mut w = Watermarks::new([0, 1], &template, Duration::from_secs(5), now);
    w.stamp(0, &at(30), 0, now).unwrap();
    assert_eq!(w.frontier(now), 0);
    w.finish(1);
    assert!(!w.all_finished());
    assert_eq!(w.frontier(now), 30 * S);
    w.finish(0);
    assert!(w.all_finished());
}
