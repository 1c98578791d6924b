//! Where a run's sources have read to, by frontier.
//!
//! Readers with offsets (Fluvio partitions) record, after every batch, their next offsets
//! together with their frontier. A sink that commits the output up to time `T` asks for the
//! positions [`at`](SourcePositions::at) `T`: for each reader, the offsets it had reached when
//! its frontier first passed `T`. Every record before those offsets with time `<= T` is in the
//! committed output; every later record has time `> T` (or was late), so the positions say how
//! far the committed output reaches into each partition.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::Time;

/// Entries kept per reader; older ones are dropped (a later entry is still a valid bound).
const KEEP: usize = 8192;

/// Shared by the readers and the sinks of one run (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct SourcePositions(Arc<Mutex<BTreeMap<(String, usize), Reader>>>);

#[derive(Debug, Default)]
struct Reader {
    current: BTreeMap<String, i64>,
    /// `(frontier, offsets)` whenever the frontier moved.
    log: VecDeque<(Time, BTreeMap<String, i64>)>,
}

impl SourcePositions {
    /// Records that reader `worker` of `input` reached `offsets` with `frontier`.
    pub fn record(&self, input: &str, worker: usize, frontier: Time, offsets: &[(String, i64)]) {
        if offsets.is_empty() {
            return;
        }
        let Ok(mut readers) = self.0.lock() else { return };
        let reader = readers.entry((input.to_owned(), worker)).or_default();
        for (partition, next) in offsets {
            reader.current.insert(partition.clone(), *next);
        }
        // The first offsets seen at a frontier are the tightest bound for the times below it.
        if reader.log.back().is_none_or(|(last, _)| *last < frontier) {
            reader.log.push_back((frontier, reader.current.clone()));
            if reader.log.len() > KEEP {
                reader.log.pop_front();
            }
        }
    }

    /// What reader `worker` of `input` recorded at frontiers past `after` (all of it for
    /// `None`), as `(frontier, offsets)` in order, its current offsets last: recording them in
    /// that order into another [`SourcePositions`] (another process's) gives the same positions.
    pub fn since(
        &self,
        input: &str,
        worker: usize,
        after: Option<Time>,
    ) -> Vec<(Time, Vec<(String, i64)>)> {
        let Ok(readers) = self.0.lock() else { return Vec::new() };
        let Some(reader) = readers.get(&(input.to_owned(), worker)) else { return Vec::new() };
        let flat = |offsets: &BTreeMap<String, i64>| offsets.clone().into_iter().collect();
        let mut entries: Vec<_> = reader
            .log
            .iter()
            .filter(|(frontier, _)| after.is_none_or(|after| *frontier > after))
            .map(|(frontier, offsets)| (*frontier, flat(offsets)))
            .collect();
        if let Some((last, _)) = reader.log.back() {
            entries.push((*last, flat(&reader.current)));
        }
        entries
    }

    /// The offsets every reader has reached, as `{"<input>": {"<topic>/<partition>": <next
    /// offset>}}`; `None` when no reader has offsets.
    pub fn current(&self) -> Option<serde_json::Value> {
        let readers = self.0.lock().ok()?;
        if readers.is_empty() {
            return None;
        }
        let mut out = serde_json::Map::new();
        for ((input, _), reader) in readers.iter() {
            let entry = out.entry(input.clone()).or_insert_with(|| serde_json::json!({}));
            for (partition, next) in &reader.current {
                entry[partition] = (*next).into();
            }
        }
        Some(out.into())
    }

    /// The positions that output complete up to `time` reaches, as
    /// `{"<input>": {"<topic>/<partition>": <next offset>}}`; `None` when no reader has offsets.
    pub fn at(&self, time: Time) -> Option<serde_json::Value> {
        let readers = self.0.lock().ok()?;
        if readers.is_empty() {
            return None;
        }
        let mut out = serde_json::Map::new();
        for ((input, _), reader) in readers.iter() {
            let offsets = reader
                .log
                .iter()
                .find(|(frontier, _)| *frontier > time)
                .map_or(&reader.current, |(_, offsets)| offsets);
            let entry = out
                .entry(input.clone())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let serde_json::Value::Object(map) = entry {
                for (partition, next) in offsets {
                    map.insert(partition.clone(), (*next).into());
                }
            }
        }
        Some(serde_json::Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(p: &SourcePositions, t: Time) -> String {
        p.at(t).map(|v| v.to_string()).unwrap_or_default()
    }

    #[test]
    fn positions_are_those_reached_when_the_frontier_passed_the_time() {
        let p = SourcePositions::default();
        assert_eq!(p.at(5), None);
        p.record("events", 0, 10, &[("t/0".into(), 3)]);
        p.record("events", 1, 10, &[("t/1".into(), 7)]);
        p.record("events", 0, 20, &[("t/0".into(), 9)]);
        p.record("events", 0, 20, &[("t/0".into(), 11)]);
        assert_eq!(at(&p, 5), r#"{"events":{"t/0":3,"t/1":7}}"#);
        assert_eq!(at(&p, 10), r#"{"events":{"t/0":9,"t/1":7}}"#);
        // Beyond every frontier: where the readers are now.
        assert_eq!(at(&p, 25), r#"{"events":{"t/0":11,"t/1":7}}"#);
    }

    #[test]
    fn positions_replayed_into_another_process_give_the_same_answers() {
        let p = SourcePositions::default();
        p.record("events", 3, 10, &[("t/0".into(), 3)]);
        p.record("events", 3, 20, &[("t/0".into(), 9)]);
        p.record("events", 3, 20, &[("t/0".into(), 11)]);
        let copy = SourcePositions::default();
        let replay = |entries: Vec<(Time, Vec<(String, i64)>)>| {
            for (frontier, offsets) in entries {
                copy.record("events", 3, frontier, &offsets);
            }
        };
        replay(p.since("events", 3, None));
        p.record("events", 3, 30, &[("t/0".into(), 15)]);
        replay(p.since("events", 3, Some(20)));
        for t in [5, 10, 15, 20, 25, 30, 35] {
            assert_eq!(at(&copy, t), at(&p, t), "at {t}");
        }
        assert!(p.since("other", 3, None).is_empty());
    }
}
