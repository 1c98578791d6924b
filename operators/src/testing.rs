//! Test support: run a small dataflow over timed updates and read back what it produced.

use std::sync::mpsc;

use differential_dataflow::consolidation::consolidate_updates;
use differential_dataflow::input::Input;
use timely::dataflow::operators::capture::{Capture, Extract};

use crate::plan::{ArrangementCache, Coll, Diff, PlannedOperator, Time};
use crate::value::{Row, Schema, Value};

/// One timed change.
pub type Update = (Row, Time, Diff);

/// Runs `build` over one input collection per entry of `inputs` and returns, per output, the
/// consolidated updates sorted by (time, row).
pub fn run<F>(inputs: Vec<Vec<Update>>, build: F) -> Vec<Vec<Update>>
where
    F: for<'s> Fn(Vec<Coll<'s>>) -> Vec<Coll<'s>> + Send + Sync + 'static,
{
    timely::execute_directly(move |worker| {
        let mut receivers = Vec::new();
        let mut handles = worker.dataflow::<Time, _, _>(|scope| {
            let mut handles = Vec::new();
            let mut colls = Vec::new();
            for _ in &inputs {
                let (handle, coll) = scope.new_collection::<Row, Diff>();
                handles.push(handle);
                colls.push(coll);
            }
            for out in build(colls) {
                receivers.push(out.inner.capture());
            }
            handles
        });
        // Feed updates in time order, advancing every input together.
        let mut all: Vec<(usize, Update)> = inputs
            .iter()
            .enumerate()
            .flat_map(|(i, ups)| ups.iter().cloned().map(move |u| (i, u)))
            .collect();
        all.sort_by_key(|(_, (_, t, _))| *t);
        for (i, (row, time, diff)) in all {
            for h in handles.iter_mut() {
                if *h.time() < time {
                    h.advance_to(time);
                }
            }
            handles[i].update_at(row, time, diff);
        }
        drop(handles);
        while worker.step() {}
        receivers.into_iter().map(collect).collect()
    })
}

fn collect(
    receiver: mpsc::Receiver<timely::dataflow::operators::capture::Event<Time, Vec<Update>>>,
) -> Vec<Update> {
    let mut updates: Vec<Update> =
        receiver.extract().into_iter().flat_map(|(_, data)| data).collect();
    consolidate_updates(&mut updates);
    updates.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    updates
}

/// Runs a planned operator over its inputs.
pub fn run_planned(
    planned: impl Into<std::sync::Arc<dyn PlannedOperator>>,
    inputs: Vec<Vec<Update>>,
) -> Vec<Vec<Update>> {
    let planned: std::sync::Arc<dyn PlannedOperator> = planned.into();
    run(inputs, move |colls| {
        let named: Vec<(&str, Coll<'_>)> =
            colls.into_iter().enumerate().map(|(i, c)| (INPUT_NAMES[i], c)).collect();
        let mut cache = ArrangementCache::new();
        planned.build(&named, &mut cache)
    })
}

const INPUT_NAMES: [&str; 4] = ["in0", "in1", "in2", "in3"];

/// The multiset of rows accumulated from `updates` up to and including `time`.
pub fn state_at(updates: &[Update], time: Time) -> Vec<Row> {
    let mut acc: Vec<(Row, Time, Diff)> =
        updates.iter().filter(|u| u.1 <= time).map(|(r, _, d)| (r.clone(), 0, *d)).collect();
    consolidate_updates(&mut acc);
    let mut rows = Vec::new();
    for (row, _, diff) in acc {
        assert!(diff > 0, "negative multiplicity {diff} for {row:?} at {time}");
        for _ in 0..diff {
            rows.push(row.clone());
        }
    }
    rows.sort();
    rows
}

/// The distinct times at which `updates` change anything.
pub fn times(updates: &[Update]) -> Vec<Time> {
    let mut t: Vec<Time> = updates.iter().map(|u| u.1).collect();
    t.sort();
    t.dedup();
    t
}

/// Builds a schema from `(name, type)` pairs, all nullable.
pub fn schema(fields: &[(&str, crate::value::Type)]) -> Schema {
    Schema::new(fields.iter().map(|(n, t)| crate::value::Field::new(*n, *t, true)).collect())
}

/// A string value.
pub fn s(text: &str) -> Value {
    Value::str(text)
}

/// An int value.
pub fn i(v: i64) -> Value {
    Value::Int(v)
}

/// Parses a YAML snippet into a config value.
pub fn yaml(text: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(text).expect("test YAML parses")
}
