//! `retention:` on a source: each record counts from its own time until the source's event time
//! has reached that time plus the retention, and is then retracted, so every operator, view and
//! sink downstream forgets it through ordinary differential retractions.
//!
//! "The source's event time" is the largest record time seen, not the frontier: that makes what
//! is retracted, and when, a function of the records alone (not of how they were batched), and a
//! finished source keeps the records of its last stretch instead of retracting everything when
//! its frontier closes. All records go through one worker for the same reason.

use std::collections::BTreeMap;

use differential_dataflow::AsCollection;
use shelfflow_operators::{Coll, Diff, Row, Time};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;

/// Retracts each update of `coll` at its time plus `after`, once an update at that time or later
/// has been seen; retractions still waiting when the input ends are dropped.
pub fn expire_after<'s>(coll: Coll<'s>, after: Time, name: &str) -> Coll<'s> {
    coll.inner
        .unary_frontier::<CapacityContainerBuilder<Vec<(Row, Time, Diff)>>, _, _, _>(
            Exchange::new(|_: &(Row, Time, Diff)| 0),
            &format!("Retention: {name}"),
            move |_capability, _info| {
                let mut expiring: BTreeMap<Time, Vec<(Row, Diff)>> = BTreeMap::new();
                let mut held: Option<Capability<Time>> = None;
                let mut seen: Time = 0;
                move |(input, frontier), output| {
                    input.for_each(|cap, data| {
                        let mut session = output.session(&cap);
                        for (row, time, diff) in data.drain(..) {
                            let expiry = time.saturating_add(after);
                            expiring.entry(expiry).or_default().push((row.clone(), -diff));
                            if held.as_ref().is_none_or(|h| expiry < *h.time()) {
                                held = Some(cap.delayed(&expiry, 0));
                            }
                            seen = seen.max(time);
                            session.give((row, time, diff));
                        }
                    });
                    if frontier.is_empty() {
                        // The input has ended: what has not expired by its last time stays.
                        expiring.clear();
                        held = None;
                        return;
                    }
                    let Some(cap) = held.as_mut() else { return };
                    while let Some(entry) = expiring.first_entry().filter(|e| *e.key() <= seen) {
                        let (expiry, rows) = entry.remove_entry();
                        let at = cap.delayed(&expiry);
                        let mut session = output.session(&at);
                        session
                            .give_iterator(rows.into_iter().map(|(row, diff)| (row, expiry, diff)));
                    }
                    match expiring.keys().next() {
                        Some(next) => cap.downgrade(next),
                        None => held = None,
                    }
                }
            },
        )
        .as_collection()
}
