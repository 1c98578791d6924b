//! Reading a calendar: every schedule point, in time order.

use chrono::{Datelike, Days, NaiveDateTime, Weekday};
use shelfflow_operators::value::{Micros, Type};

use super::config::Schedule;
use crate::{ConnectorError, EventClock, ReadStatus, Row, Schema, SourceBatch, Value};

/// The calendar's fields: name, type, nullable.
pub const FIELDS: &[(&str, Type, bool)] = &[
    // day_start | cutoff | delivery
    ("kind", Type::String, false),
    ("at", Type::Timestamp, false),
    // the business day it belongs to
    ("day", Type::Date, false),
    // monday .. sunday
    ("weekday", Type::String, false),
    // cutoffs: the delivery slot the orders of this cutoff arrive in
    ("delivery_at", Type::Timestamp, true),
];

/// Emits a precomputed schedule one day per read, declaring the next day's start as its
/// frontier, so a calendar advances with the other inputs instead of running ahead of them (rows
/// far in the future would make every join with "today" compute every future day).
#[derive(Debug)]
pub struct CalendarReader {
    /// `(day start, rows of that day)`.
    days: std::collections::VecDeque<(Micros, Vec<Row>)>,
    position: usize,
}

fn micros(at: NaiveDateTime) -> Micros {
    at.and_utc().timestamp_micros()
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

impl CalendarReader {
    pub(super) fn new(schedule: &Schedule, schema: &Schema) -> CalendarReader {
        // (time, order within the instant, kind, delivery_at)
        let mut points: Vec<(NaiveDateTime, u8, &str, Option<NaiveDateTime>)> = Vec::new();
        let dates: Vec<_> = (0..schedule.days)
            .filter_map(|d| schedule.start.checked_add_days(Days::new(d.into())))
            .collect();
        for &date in &dates {
            points.push((date.and_time(schedule.day_start), 0, "day_start", None));
            if let Some((days, at)) = &schedule.deliveries {
                if days.contains(&date.weekday()) {
                    points.push((date.and_time(*at), 1, "delivery", None));
                }
            }
            if let Some((days, at)) = &schedule.cutoffs {
                if days.contains(&date.weekday()) {
                    let cutoff = date.and_time(*at);
                    let delivery = schedule.deliveries.as_ref().and_then(|(ddays, dat)| {
                        (0..=7u64)
                            .filter_map(|k| date.checked_add_days(Days::new(k)))
                            .map(|d| (d, d.and_time(*dat)))
                            .find(|(d, slot)| ddays.contains(&d.weekday()) && *slot > cutoff)
                            .map(|(_, slot)| slot)
                    });
                    points.push((cutoff, 2, "cutoff", delivery));
                }
            }
        }
        points.sort_by_key(|p| (p.0, p.1));
        // Each point belongs to the business day it falls in (a day starts at `day_start`).
        let mut days: std::collections::VecDeque<(Micros, Vec<Row>)> = Default::default();
        for point in points {
            let start = point.0.date().and_time(schedule.day_start);
            let day = if point.0 < start { micros(start) - 86_400_000_000 } else { micros(start) };
            match days.back_mut() {
                Some((d, rows)) if *d == day => rows.push(row_of(&point, schema)),
                _ => days.push_back((day, vec![row_of(&point, schema)])),
            }
        }
        CalendarReader { days, position: 0 }
    }
}

/// One schedule point `(at, order, kind, delivery_at)` as a row of `schema`.
fn row_of(point: &(NaiveDateTime, u8, &str, Option<NaiveDateTime>), schema: &Schema) -> Row {
    let (at, _, kind, delivery) = *point;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let values = [
        Value::str(kind),
        Value::Timestamp(micros(at)),
        Value::Date((at.date() - epoch).num_days() as i32),
        Value::str(weekday_name(at.date().weekday())),
        delivery.map_or(Value::Null, |d| Value::Timestamp(micros(d))),
    ];
    schema
        .fields
        .iter()
        .map(|f| {
            FIELDS
                .iter()
                .position(|(n, _, _)| *n == f.name)
                .map_or(Value::Null, |i| values[i].clone())
        })
        .collect()
}

impl crate::SourceReader for CalendarReader {
    fn read(
        &mut self,
        max: usize,
        clock: &mut EventClock,
        out: &mut SourceBatch,
    ) -> Result<ReadStatus, ConnectorError> {
        let Some((_, rows)) = self.days.pop_front() else { return Ok(ReadStatus::Finished) };
        let _ = max; // a day holds a handful of records
        for row in rows {
            self.position += 1;
            out.push_typed(row, clock, || format!("calendar: point {}", self.position));
        }
        match self.days.front() {
            Some((next_day, _)) => {
                clock.advance_to((*next_day).max(0) as u64);
                Ok(ReadStatus::More)
            }
            None => Ok(ReadStatus::Finished),
        }
    }
}
