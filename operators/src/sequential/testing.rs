//! Test support for operators built on the sequential core: the same run as
//! [`crate::testing::run_planned`] on several workers, to check that results do not depend on
//! the number of workers.

use std::sync::{Arc, Mutex};

use differential_dataflow::consolidation::consolidate_updates;
use differential_dataflow::input::Input;
use timely::dataflow::operators::capture::{Capture, Extract};

use crate::plan::{ArrangementCache, Coll, Diff, PlannedOperator, Time};
use crate::testing::Update;
use crate::value::Row;

/// Runs a planned operator on `workers` workers; worker `w` feeds every `workers`-th update of
/// each input. Returns, per output, the consolidated updates sorted by (time, row).
pub(crate) fn run_planned_on(
    workers: usize,
    planned: Arc<dyn PlannedOperator>,
    inputs: Vec<Vec<Update>>,
) -> Vec<Vec<Update>> {
    let inputs = Arc::new(inputs);
    let results: Arc<Mutex<Vec<Vec<Update>>>> = Arc::new(Mutex::new(Vec::new()));
    let shared = results.clone();
    timely::execute(timely::Config::process(workers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let planned = planned.clone();
        let mut receivers = Vec::new();
        let mut handles = worker.dataflow::<Time, _, _>(|scope| {
            let mut handles = Vec::new();
            let mut named: Vec<(&str, Coll<'_>)> = Vec::new();
            for n in 0..inputs.len() {
                let (handle, coll) = scope.new_collection::<Row, Diff>();
                handles.push(handle);
                named.push((["in0", "in1", "in2", "in3"][n], coll));
            }
            let mut cache = ArrangementCache::new();
            for out in planned.build(&named, &mut cache) {
                receivers.push(out.inner.capture());
            }
            handles
        });
        let mut mine: Vec<(usize, Update)> = inputs
            .iter()
            .enumerate()
            .flat_map(|(i, ups)| {
                ups.iter()
                    .enumerate()
                    .filter(|(n, _)| n % peers == index)
                    .map(move |(_, u)| (i, u.clone()))
            })
            .collect();
        mine.sort_by_key(|(_, (_, t, _))| *t);
        for (i, (row, time, diff)) in mine {
            for h in handles.iter_mut() {
                if *h.time() < time {
                    h.advance_to(time);
                }
            }
            handles[i].update_at(row, time, diff);
        }
        drop(handles);
        while worker.step() {}
        let outputs: Vec<Vec<Update>> = receivers
            .into_iter()
            .map(|r| r.extract().into_iter().flat_map(|(_, data)| data).collect())
            .collect();
        let mut all = shared.lock().expect("no poisoned lock");
        if all.is_empty() {
            all.resize(outputs.len(), Vec::new());
        }
        for (acc, out) in all.iter_mut().zip(outputs) {
            acc.extend(out);
        }
    })
    .expect("timely runs")
    .join()
    .into_iter()
    .for_each(|worker| worker.expect("worker finishes"));
    let mut outputs = std::mem::take(&mut *results.lock().expect("no poisoned lock"));
    for updates in &mut outputs {
        consolidate_updates(updates);
        updates.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    }
    outputs
}
