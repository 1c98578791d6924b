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

/// Emits a precomputed schedule.
#[derive(Debug)]
pub struct CalendarReader {
    rows: std::vec::IntoIter<Row>,
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
        let dates: Vec<_> =
            (0..schedule.days).filter_map(|d| schedule.start.checked_add_days(Days::new(d.into()))).collect();
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
        let rows = points
            .into_iter()
            .map(|(at, _, kind, delivery)| {
                let values = [
                    Value::str(kind),
                    Value::Timestamp(micros(at)),
                    Value::Date(
                        (at.date() - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
                            .num_days() as i32,
                    ),
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
            })
            .collect::<Vec<Row>>()
            .into_iter();
        CalendarReader { rows, position: 0 }
    }
}

impl crate::SourceReader for CalendarReader {
    fn read(
        &mut self,
        max: usize,
        clock: &mut EventClock,
        out: &mut SourceBatch,
    ) -> Result<ReadStatus, ConnectorError> {
        for row in self.rows.by_ref().take(max) {
            self.position += 1;
            match clock.stamp(&row) {
                Ok(time) => out.rows.push((row, time)),
                Err(untimed) => out.dead.push(crate::DeadLetter {
                    position: format!("calendar: point {}", self.position),
                    reason: untimed.reason(),
                    raw: format!("{row:?}"),
                    time: clock.frontier(),
                }),
            }
        }
        Ok(if self.rows.len() == 0 { ReadStatus::Finished } else { ReadStatus::More })
    }
}
