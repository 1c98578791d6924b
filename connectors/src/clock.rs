//! Event-time policy, in one place: tick rounding, a source's watermark, frontier and late
//! records, catch-up timing of history, and the frontiers that idle sources and live tables
//! follow.
//!
//! Each source owns an [`EventClock`]. A record's dataflow time is its event time rounded *up* to
//! the pipeline's tick, so the output at time `T` reflects exactly the records with event time
//! `<= T`. The clock's watermark is the largest event time seen minus the allowed lateness; its
//! frontier is the watermark rounded *down* to the tick. A record whose time is behind the frontier
//! is late: it goes to the dead-letter output instead of changing results that were already final.
//! Because each source is read sequentially by one worker, which records are late depends only
//! on the source's own record order, never on the worker count.

use shelfflow_operators::value::Micros;
use shelfflow_operators::{Time, Value};

/// Why a record could not be given a dataflow time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untimed {
    /// Behind the frontier.
    Late {
        /// The frontier at that moment.
        frontier: Time,
    },
    /// The event-time field is NULL.
    MissingTime,
    /// Event time before 1970-01-01.
    BeforeEpoch,
}

impl Untimed {
    /// The dead-letter reason.
    pub fn reason(&self) -> String {
        match self {
            Untimed::Late { frontier } => {
                format!(
                    "late: behind the frontier {}",
                    shelfflow_operators::value::format_timestamp(*frontier as Micros)
                )
            }
            Untimed::MissingTime => "missing event time".to_owned(),
            Untimed::BeforeEpoch => "event time before 1970-01-01".to_owned(),
        }
    }
}

/// `t` rounded up to a multiple of `tick`: the dataflow time of an event at `t`.
pub const fn round_up(t: u64, tick: u64) -> u64 {
    t.div_ceil(tick) * tick
}

/// `t` rounded down to a multiple of `tick`: the frontier a watermark at `t` allows.
pub const fn round_down(t: u64, tick: u64) -> u64 {
    t / tick * tick
}

/// The frontier an idle source (or a partition's share of one) follows, so that it holds no one
/// back: the slowest other open source, or, for a share, the furthest other share of the same
/// input, whichever is lower; `None` when there is nothing open to follow. An ended input's
/// frontier is `Time::MAX`.
pub fn idle_frontier(
    other_sources: impl IntoIterator<Item = Time>,
    other_shares: impl IntoIterator<Item = Time>,
) -> Option<Time> {
    let open = |f: &Time| *f != Time::MAX;
    let sources = other_sources.into_iter().filter(open).min();
    let shares = other_shares.into_iter().filter(open).max();
    match (sources, shares) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The frontier a live table (a polled database table) moves to once loaded: that of the
/// slowest source, so its changes land at the streams' current time; `Time::MAX` (the table
/// closes) when every source has ended or there is none.
pub fn live_table_frontier(sources: impl IntoIterator<Item = Time>) -> Time {
    sources.into_iter().min().unwrap_or(Time::MAX)
}

/// How records of a source's history are timed while it catches up (`catch_up: coarse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// The grain of history: records older than `lag` are stamped on multiples of it.
    pub tick: u64,
    /// A record whose event time is at least this far behind the wall clock is history.
    pub lag: u64,
    /// The wall clock in microseconds since the epoch (fixed once, when the source opens).
    pub now: u64,
}

/// Event-time bookkeeping of one source.
#[derive(Debug, Clone)]
pub struct EventClock {
    event_time: Option<usize>,
    tick: u64,
    lateness: u64,
    max_seen: Option<u64>,
    frontier: Time,
    /// While set, history is stamped on the catch-up grain.
    catch_up: Option<CatchUp>,
    /// The latest time given on the catch-up grain: live records are never timed before it.
    history_until: Time,
}

impl EventClock {
    /// A clock reading event time from column `event_time` (`None`: every record at time 0, as
    /// for reference tables), with `tick` and `lateness` in microseconds.
    pub fn new(event_time: Option<usize>, tick: u64, lateness: u64) -> EventClock {
        EventClock {
            event_time,
            tick: tick.max(1),
            lateness,
            max_seen: None,
            frontier: 0,
            catch_up: None,
            history_until: 0,
        }
    }

    /// Times history on the coarser grain of `catch_up` until the first live record. Which
    /// records are late does not change, so final states equal those of exact timing.
    pub fn with_catch_up(mut self, catch_up: Option<CatchUp>) -> EventClock {
        self.catch_up = catch_up.map(|c| CatchUp { tick: c.tick.max(self.tick), ..c });
        self
    }

    /// Whether the source is still stamping history on the catch-up grain.
    pub fn catching_up(&self) -> bool {
        self.catch_up.is_some()
    }

    /// The time below which no further record of this source can arrive.
    pub fn frontier(&self) -> Time {
        self.frontier
    }

    /// The largest event time seen so far, in microseconds.
    pub fn max_event_time(&self) -> Option<u64> {
        self.max_seen
    }

    /// Declares that no record before `time` will follow (a source that knows its own schedule,
    /// like a calendar), rounded down to the tick. The frontier never moves back.
    pub fn advance_to(&mut self, time: Time) {
        self.frontier = self.frontier.max(round_down(time, self.tick));
    }

    /// Sets the watermark to `micros` without a record (a `$watermark` line of a file): no record
    /// timed before it, rounded down to the tick, is accepted any more. The lateness is not
    /// subtracted, and the watermark never moves back. `None` for an input without event time.
    pub fn advance_watermark(&mut self, micros: Micros) -> Option<()> {
        self.event_time?;
        self.advance_to(micros.max(0) as u64);
        Some(())
    }

    /// Gives a decoded row its dataflow time, advancing the watermark.
    pub fn stamp(&mut self, row: &[Value]) -> Result<Time, Untimed> {
        let Some(column) = self.event_time else { return Ok(0) };
        let micros = event_micros(&row[column]).ok_or(Untimed::MissingTime)?;
        let Ok(micros) = u64::try_from(micros) else { return Err(Untimed::BeforeEpoch) };
        let time = round_up(micros, self.tick);
        if time < self.frontier {
            return Err(Untimed::Late { frontier: self.frontier });
        }
        if self.max_seen.is_none_or(|m| micros > m) {
            self.max_seen = Some(micros);
            let watermark = micros.saturating_sub(self.lateness);
            self.frontier = self.frontier.max(round_down(watermark, self.tick));
        }
        Ok(self.grain(micros, time))
    }

    /// The time a record at `micros` (exactly timed at `time`) is given: on the catch-up grain
    /// while it is history, never before the last such time once the source is live.
    fn grain(&mut self, micros: u64, time: Time) -> Time {
        match self.catch_up {
            Some(c) if micros.saturating_add(c.lag) < c.now => {
                let coarse = round_up(micros, c.tick);
                self.history_until = self.history_until.max(coarse);
                coarse
            }
            Some(_) => {
                self.catch_up = None;
                time.max(self.history_until)
            }
            None => time.max(self.history_until),
        }
    }
}

/// An event-time value (a timestamp, or a date at its midnight UTC) in microseconds.
pub fn event_micros(value: &Value) -> Option<i64> {
    match value {
        Value::Timestamp(t) => Some(*t),
        Value::Date(d) => Some(i64::from(*d) * shelfflow_operators::value::MICROS_PER_DAY),
        _ => None,
    }
}

/// How far behind the newest event time read so far (`newest`, which this updates) a record at
/// `micros` arrives, in microseconds: `None` for a record that is the newest yet.
pub fn arrival_lateness(newest: &mut Option<i64>, micros: i64) -> Option<u64> {
    match *newest {
        Some(n) if micros < n => Some((n - micros) as u64),
        _ => {
            *newest = Some(micros);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    fn ts(seconds: u64) -> Vec<Value> {
        vec![Value::Timestamp((seconds * S) as i64)]
    }

    #[test]
    fn a_record_behind_the_newest_event_time_arrives_late_by_the_difference() {
        let mut newest = None;
        let arrivals: Vec<Option<u64>> = [100, 160, 130, 160, 170, 90]
            .iter()
            .map(|&t| arrival_lateness(&mut newest, t))
            .collect();
        assert_eq!(arrivals, [None, None, Some(30), None, None, Some(80)]);
        assert_eq!(event_micros(&Value::Date(1)), Some(86_400_000_000));
        assert_eq!(event_micros(&Value::Null), None);
    }

    #[test]
    fn rounds_up_to_the_tick_and_rejects_late_records() {
        let mut clock = EventClock::new(Some(0), S, 5 * S);
        assert_eq!(clock.stamp(&ts(100)), Ok(100 * S));
        assert_eq!(clock.frontier(), 95 * S);
        // Within the allowed lateness: accepted.
        assert_eq!(clock.stamp(&ts(96)), Ok(96 * S));
        // Behind the frontier: late, and the frontier does not move back.
        assert_eq!(clock.stamp(&ts(90)), Err(Untimed::Late { frontier: 95 * S }));
        let half = vec![Value::Timestamp((100 * S + S / 2) as i64)];
        assert_eq!(clock.stamp(&half), Ok(101 * S));
    }

    #[test]
    fn catch_up_stamps_history_coarsely_and_live_records_after_it() {
        let now = 10_000 * S;
        let catch_up = CatchUp { tick: 3_600 * S, lag: 60 * S, now };
        let mut clock = EventClock::new(Some(0), S, 5 * S).with_catch_up(Some(catch_up));
        assert_eq!(clock.stamp(&ts(100)), Ok(3_600 * S));
        assert_eq!(clock.stamp(&ts(3_700)), Ok(7_200 * S));
        // Lateness is judged on exact times, as without catch-up.
        assert_eq!(clock.stamp(&ts(90)), Err(Untimed::Late { frontier: 3_695 * S }));
        assert!(clock.catching_up());
        // The first live record ends the catch-up; nothing live is timed before the history.
        assert_eq!(clock.stamp(&ts(9_990)), Ok(9_990 * S));
        assert!(!clock.catching_up());
        assert_eq!(clock.stamp(&ts(9_991)), Ok(9_991 * S));
        let mut early = EventClock::new(Some(0), S, 5_000 * S).with_catch_up(Some(catch_up));
        assert_eq!(early.stamp(&ts(7_100)), Ok(7_200 * S));
        assert_eq!(early.stamp(&ts(9_950)), Ok(9_950 * S));
        // A live record behind the last history time is timed with it, not before it.
        assert_eq!(early.stamp(&ts(7_150)), Ok(7_200 * S));
    }

    #[test]
    fn idle_sources_follow_the_slowest_open_source_and_shares_the_furthest_share() {
        assert_eq!(idle_frontier([5, 9, Time::MAX], []), Some(5));
        assert_eq!(idle_frontier([Time::MAX], []), None, "nothing open to follow");
        assert_eq!(idle_frontier([], [3, 7]), Some(7), "a share follows the furthest share");
        assert_eq!(idle_frontier([4], [3, 7]), Some(4), "but never past another source");
        assert_eq!(live_table_frontier([8, 2]), 2);
        assert_eq!(live_table_frontier([]), Time::MAX);
    }

    #[test]
    fn rounding_to_the_tick() {
        assert_eq!((round_up(0, 10), round_up(1, 10), round_up(10, 10)), (0, 10, 10));
        assert_eq!((round_down(9, 10), round_down(10, 10), round_down(19, 10)), (0, 10, 10));
    }

    #[test]
    fn tables_live_at_time_zero() {
        let mut clock = EventClock::new(None, S, 0);
        assert_eq!(clock.stamp(&[Value::Null]), Ok(0));
        assert_eq!(clock.frontier(), 0);
    }

    #[test]
    fn null_and_pre_epoch_times_are_rejected() {
        let mut clock = EventClock::new(Some(0), S, 0);
        assert_eq!(clock.stamp(&[Value::Null]), Err(Untimed::MissingTime));
        assert_eq!(clock.stamp(&[Value::Timestamp(-5)]), Err(Untimed::BeforeEpoch));
    }
}
