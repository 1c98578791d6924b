//! Event time and progress of one source.
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

/// Event-time bookkeeping of one source.
#[derive(Debug, Clone)]
pub struct EventClock {
    event_time: Option<usize>,
    tick: u64,
    lateness: u64,
    max_seen: Option<u64>,
    frontier: Time,
}

impl EventClock {
    /// A clock reading event time from column `event_time` (`None`: every record at time 0, as
    /// for reference tables), with `tick` and `lateness` in microseconds.
    pub fn new(event_time: Option<usize>, tick: u64, lateness: u64) -> EventClock {
        EventClock { event_time, tick: tick.max(1), lateness, max_seen: None, frontier: 0 }
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
        self.frontier = self.frontier.max(time / self.tick * self.tick);
    }

    /// Gives a decoded row its dataflow time, advancing the watermark.
    pub fn stamp(&mut self, row: &[Value]) -> Result<Time, Untimed> {
        let Some(column) = self.event_time else { return Ok(0) };
        let micros = match row[column] {
            Value::Timestamp(t) => t,
            Value::Date(d) => i64::from(d) * shelfflow_operators::value::MICROS_PER_DAY,
            _ => return Err(Untimed::MissingTime),
        };
        let Ok(micros) = u64::try_from(micros) else { return Err(Untimed::BeforeEpoch) };
        let time = micros.div_ceil(self.tick) * self.tick;
        if time < self.frontier {
            return Err(Untimed::Late { frontier: self.frontier });
        }
        if self.max_seen.is_none_or(|m| micros > m) {
            self.max_seen = Some(micros);
            let watermark = micros.saturating_sub(self.lateness);
            self.frontier = self.frontier.max(watermark / self.tick * self.tick);
        }
        Ok(time)
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
