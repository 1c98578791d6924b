//! `retention:` on a source: each record counts from its own time until the source's event time
//! has reached that time plus the retention, and is then retracted, so every operator, view and
//! sink downstream forgets it through ordinary differential retractions.
//!
//! `retention:` on an aggregate: the same, for the rows of that operator's input only.
//!
//! `retention:` on a sink: each row of its collection counts until the collection's time has
//! reached the row's event-time column plus the retention. Each update is undone at that time
//! (or at once, if it is past), so a row that was retracted or replaced earlier stays so: the
//! update and its undoing cancel, whatever the collection does in between.
//!
//! "The source's event time" is the largest record time seen, not the frontier: that makes what
//! is retracted, and when, a function of the records alone (not of how they were batched), and a
//! finished source keeps the records of its last stretch instead of retracting everything when
//! its frontier closes. All records go through one worker for the same reason.

use std::collections::BTreeMap;

use differential_dataflow::AsCollection;
use shelfflow_connectors::clock::round_up;
use shelfflow_operators::{Coll, Diff, InputRetention, Row, Time, Value};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;

/// Retracts each update of `coll` at its time plus `after`, once an update at that time or later
/// has been seen; retractions still waiting when the input ends are dropped.
pub fn expire_after<'s>(coll: Coll<'s>, after: Time, name: &str) -> Coll<'s> {
    expire(coll, move |_, time| time.saturating_add(after), name)
}

/// Retracts each row of an operator's input (`coll`) as its `retention` says: at its time plus
/// the retention, or at its `by` column plus the retention, rounded up to `tick`.
pub fn expire_input<'s>(
    coll: Coll<'s>,
    retention: InputRetention,
    tick: Time,
    name: &str,
) -> Coll<'s> {
    let after = round_up(retention.after, tick);
    match retention.by {
        Some(column) => expire_rows(coll, after, column, tick, name),
        None => expire_after(coll, after, name),
    }
}

/// Undoes each update of `coll` at the time its row's `column` (a timestamp or date) plus `after`
/// gives, rounded up to `tick` (at once if that is past); a row whose column is NULL stays.
pub fn expire_rows<'s>(
    coll: Coll<'s>,
    after: Time,
    column: usize,
    tick: Time,
    name: &str,
) -> Coll<'s> {
    let expiry = move |row: &Row, _: Time| match &row[column] {
        Value::Timestamp(at) => round_up((*at).max(0) as u64 + after, tick),
        Value::Date(day) => round_up((i64::from(*day).max(0) as u64) * DAY + after, tick),
        _ => Time::MAX,
    };
    expire(coll, expiry, name)
}

/// A day in microseconds.
const DAY: Time = 86_400_000_000;

/// Undoes each update of `coll` at `expiry(row, time)` (not before its own time), once an update
/// at that time or later has been seen; undoings still waiting when the input ends are dropped.
fn expire<'s>(
    coll: Coll<'s>,
    expiry: impl Fn(&Row, Time) -> Time + 'static,
    name: &str,
) -> Coll<'s> {
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
                            seen = seen.max(time);
                            let expiry = expiry(&row, time).max(time);
                            if expiry == Time::MAX {
                                session.give((row, time, diff));
                                continue;
                            }
                            expiring.entry(expiry).or_default().push((row.clone(), -diff));
                            if held.as_ref().is_none_or(|h| expiry < *h.time()) {
                                held = Some(cap.delayed(&expiry, 0));
                            }
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
