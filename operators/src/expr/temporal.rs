//! Calendar arithmetic on epoch days and epoch microseconds (proleptic Gregorian, UTC).
//!
//! Everything here is pure integer arithmetic that is total over the whole `i64` range: no
//! function panics or fails, so the evaluator can call them without a NULL escape hatch.

use crate::value::MICROS_PER_DAY;

pub(crate) const MICROS_PER_MILLI: i64 = 1_000;
pub(crate) const MICROS_PER_SECOND: i64 = 1_000_000;
pub(crate) const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
pub(crate) const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
pub(crate) const MICROS_PER_WEEK: i64 = 7 * MICROS_PER_DAY;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil (year, month, day) of a day number since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Whether `year` is a Gregorian leap year.
pub(crate) fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// Number of days in a month (1-12) of a year.
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Midnight of a date as epoch microseconds (saturating).
pub(crate) fn date_to_micros(days: i32) -> i64 {
    i64::from(days).saturating_mul(MICROS_PER_DAY)
}

/// The day number of an instant.
pub(crate) fn micros_to_days(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_DAY)
}

/// First day (`-262143-01-01`) that the calendar library can represent.
pub(crate) const MIN_DATE_DAYS: i32 = -96_465_292;

/// Last day (`+262142-12-31`) that the calendar library can represent.
pub(crate) const MAX_DATE_DAYS: i32 = 95_026_236;

/// A day number clamped into the representable date range, so date arithmetic saturates
/// instead of producing values that cannot be formatted.
pub(crate) fn clamp_days(days: i64) -> i32 {
    days.clamp(i64::from(MIN_DATE_DAYS), i64::from(MAX_DATE_DAYS)) as i32
}

/// Day of week with Monday = 0 .. Sunday = 6 (1970-01-01 was a Thursday).
fn monday_index(days: i64) -> i64 {
    (days + 3).rem_euclid(7)
}

/// A unit of `date_trunc` and `date_diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Microseconds.
    Microsecond,
    /// Milliseconds.
    Millisecond,
    /// Seconds.
    Second,
    /// Minutes.
    Minute,
    /// Hours.
    Hour,
    /// Days (UTC midnight).
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
    /// Calendar years.
    Year,
}

impl TimeUnit {
    /// Unit names accepted by `date_trunc` / `date_diff`, for error hints.
    pub const NAMES: [&'static str; 10] = [
        "microsecond",
        "millisecond",
        "second",
        "minute",
        "hour",
        "day",
        "week",
        "month",
        "quarter",
        "year",
    ];

    /// Parses a unit name (case-insensitive, singular or plural).
    pub fn parse(text: &str) -> Option<TimeUnit> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "microsecond" | "microseconds" | "us" => TimeUnit::Microsecond,
            "millisecond" | "milliseconds" | "ms" => TimeUnit::Millisecond,
            "second" | "seconds" | "sec" | "secs" => TimeUnit::Second,
            "minute" | "minutes" | "min" | "mins" => TimeUnit::Minute,
            "hour" | "hours" => TimeUnit::Hour,
            "day" | "days" => TimeUnit::Day,
            "week" | "weeks" => TimeUnit::Week,
            "month" | "months" => TimeUnit::Month,
            "quarter" | "quarters" => TimeUnit::Quarter,
            "year" | "years" => TimeUnit::Year,
            _ => return None,
        })
    }

    /// Truncates an instant down to the start of its unit.
    pub(crate) fn trunc(self, micros: i64) -> i64 {
        let floor_to = |step: i64| micros.div_euclid(step).saturating_mul(step);
        match self {
            TimeUnit::Microsecond => micros,
            TimeUnit::Millisecond => floor_to(MICROS_PER_MILLI),
            TimeUnit::Second => floor_to(MICROS_PER_SECOND),
            TimeUnit::Minute => floor_to(MICROS_PER_MINUTE),
            TimeUnit::Hour => floor_to(MICROS_PER_HOUR),
            TimeUnit::Day => floor_to(MICROS_PER_DAY),
            TimeUnit::Week => {
                let days = micros_to_days(micros);
                (days - monday_index(days)).saturating_mul(MICROS_PER_DAY)
            }
            TimeUnit::Month | TimeUnit::Quarter | TimeUnit::Year => {
                let (year, month, _) = civil_from_days(micros_to_days(micros));
                let month = match self {
                    TimeUnit::Month => month,
                    TimeUnit::Quarter => (month - 1) / 3 * 3 + 1,
                    _ => 1,
                };
                days_from_civil(year, month, 1).saturating_mul(MICROS_PER_DAY)
            }
        }
    }

    /// Number of unit boundaries crossed going from `start` to `end` (negative when `end` is
    /// earlier): the difference of the truncated values, like DuckDB's `date_diff`.
    pub(crate) fn diff(self, start: i64, end: i64) -> i64 {
        let steps = |step: i64| end.div_euclid(step) - start.div_euclid(step);
        match self {
            TimeUnit::Microsecond => end.saturating_sub(start),
            TimeUnit::Millisecond => steps(MICROS_PER_MILLI),
            TimeUnit::Second => steps(MICROS_PER_SECOND),
            TimeUnit::Minute => steps(MICROS_PER_MINUTE),
            TimeUnit::Hour => steps(MICROS_PER_HOUR),
            TimeUnit::Day => steps(MICROS_PER_DAY),
            TimeUnit::Week => {
                let week_start = |m: i64| {
                    let days = micros_to_days(m);
                    days - monday_index(days)
                };
                (week_start(end) - week_start(start)) / 7
            }
            TimeUnit::Month | TimeUnit::Quarter | TimeUnit::Year => {
                let (y1, m1, _) = civil_from_days(micros_to_days(start));
                let (y2, m2, _) = civil_from_days(micros_to_days(end));
                match self {
                    TimeUnit::Month => (y2 * 12 + i64::from(m2)) - (y1 * 12 + i64::from(m1)),
                    TimeUnit::Quarter => {
                        (y2 * 4 + i64::from((m2 - 1) / 3)) - (y1 * 4 + i64::from((m1 - 1) / 3))
                    }
                    _ => y2 - y1,
                }
            }
        }
    }
}

/// A field of `EXTRACT` / `date_part`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    /// Calendar year.
    Year,
    /// Quarter 1-4.
    Quarter,
    /// Month 1-12.
    Month,
    /// ISO 8601 week number 1-53.
    Week,
    /// Day of month 1-31.
    Day,
    /// Hour 0-23.
    Hour,
    /// Minute 0-59.
    Minute,
    /// Whole seconds 0-59.
    Second,
    /// Seconds within the minute, in milliseconds (0-59999).
    Millisecond,
    /// Seconds within the minute, in microseconds (0-59999999).
    Microsecond,
    /// Day of week, Sunday = 0 .. Saturday = 6.
    Dow,
    /// ISO day of week, Monday = 1 .. Sunday = 7.
    IsoDow,
    /// Day of year 1-366.
    Doy,
    /// ISO 8601 week-numbering year.
    IsoYear,
    /// Seconds since 1970-01-01T00:00:00Z, as a float.
    Epoch,
}

impl DateField {
    /// Field names accepted by `EXTRACT` / `date_part`, for error hints.
    pub const NAMES: [&'static str; 15] = [
        "year",
        "quarter",
        "month",
        "week",
        "day",
        "hour",
        "minute",
        "second",
        "millisecond",
        "microsecond",
        "dow",
        "isodow",
        "doy",
        "isoyear",
        "epoch",
    ];

    /// Parses a field name (case-insensitive, plural forms accepted).
    pub fn parse(text: &str) -> Option<DateField> {
        let lower = text.trim().to_ascii_lowercase();
        let name = lower.strip_suffix('s').unwrap_or(&lower);
        Some(match name {
            "year" => DateField::Year,
            "quarter" => DateField::Quarter,
            "month" => DateField::Month,
            "week" | "isoweek" => DateField::Week,
            "day" => DateField::Day,
            "hour" => DateField::Hour,
            "minute" => DateField::Minute,
            "second" => DateField::Second,
            "millisecond" => DateField::Millisecond,
            "microsecond" => DateField::Microsecond,
            "dow" | "dayofweek" => DateField::Dow,
            "isodow" => DateField::IsoDow,
            "doy" | "dayofyear" => DateField::Doy,
            "isoyear" => DateField::IsoYear,
            "epoch" => DateField::Epoch,
            _ => return None,
        })
    }

    /// The integer value of the field for an instant; `Epoch` gives whole seconds (the
    /// evaluator uses [`epoch_seconds`] for the float form).
    pub(crate) fn extract(self, micros: i64) -> i64 {
        let days = micros_to_days(micros);
        let time = micros.rem_euclid(MICROS_PER_DAY);
        match self {
            DateField::Hour => time / MICROS_PER_HOUR,
            DateField::Minute => time % MICROS_PER_HOUR / MICROS_PER_MINUTE,
            DateField::Second => time % MICROS_PER_MINUTE / MICROS_PER_SECOND,
            DateField::Millisecond => time % MICROS_PER_MINUTE / MICROS_PER_MILLI,
            DateField::Microsecond => time % MICROS_PER_MINUTE,
            DateField::Dow => (days + 4).rem_euclid(7),
            DateField::IsoDow => monday_index(days) + 1,
            DateField::Epoch => micros.div_euclid(MICROS_PER_SECOND),
            DateField::Year | DateField::Quarter | DateField::Month | DateField::Day => {
                let (year, month, day) = civil_from_days(days);
                match self {
                    DateField::Year => year,
                    DateField::Quarter => i64::from((month - 1) / 3 + 1),
                    DateField::Month => i64::from(month),
                    _ => i64::from(day),
                }
            }
            DateField::Doy => {
                let (year, _, _) = civil_from_days(days);
                days - days_from_civil(year, 1, 1) + 1
            }
            DateField::Week | DateField::IsoYear => {
                // The ISO week belongs to the year of its Thursday.
                let thursday = days - monday_index(days) + 3;
                let (iso_year, _, _) = civil_from_days(thursday);
                if self == DateField::IsoYear {
                    iso_year
                } else {
                    (thursday - days_from_civil(iso_year, 1, 1)) / 7 + 1
                }
            }
        }
    }
}

/// Seconds since the epoch, with fractional microseconds.
pub(crate) fn epoch_seconds(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_SECOND as f64
}

/// Microseconds per interval unit name; `Err` carries the reason a unit is rejected.
fn interval_unit(unit: &str) -> Result<i64, String> {
    let lower = unit.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "us" | "usec" | "usecs" | "microsecond" | "microseconds" => 1,
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => MICROS_PER_MILLI,
        "s" | "sec" | "secs" | "second" | "seconds" => MICROS_PER_SECOND,
        "m" | "min" | "mins" | "minute" | "minutes" => MICROS_PER_MINUTE,
        "h" | "hr" | "hrs" | "hour" | "hours" => MICROS_PER_HOUR,
        "d" | "day" | "days" => MICROS_PER_DAY,
        "w" | "week" | "weeks" => MICROS_PER_WEEK,
        "mon" | "mons" | "month" | "months" | "y" | "year" | "years" | "quarter" | "quarters"
        | "decade" | "decades" | "century" | "centuries" => {
            return Err(format!(
                "interval unit `{unit}` has no fixed length; use days or weeks instead"
            ))
        }
        _ => {
            return Err(format!(
                "unknown interval unit `{unit}`; expected microseconds, milliseconds, seconds, \
                 minutes, hours, days or weeks"
            ))
        }
    })
}

/// Converts `quantity` units of `unit_micros` into microseconds, rejecting overflow.
fn scale(quantity: f64, unit_micros: i64) -> Result<i64, String> {
    let micros = (quantity * unit_micros as f64).round();
    if micros.is_finite() && micros.abs() < 9.2e18 {
        Ok(micros as i64)
    } else {
        Err("interval is out of range".to_string())
    }
}

/// Parses `[-]H:MM[:SS[.ffffff]]`.
fn parse_clock(text: &str) -> Option<i64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut parts = body.split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds: f64 = match parts.next() {
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
            s.parse().ok()?
        }
        Some(_) => return None,
        None => 0.0,
    };
    if parts.next().is_some() || !(0..60).contains(&minutes) || !(0.0..60.0).contains(&seconds) {
        return None;
    }
    let micros = hours
        .checked_mul(MICROS_PER_HOUR)?
        .checked_add(minutes * MICROS_PER_MINUTE)?
        .checked_add((seconds * MICROS_PER_SECOND as f64).round() as i64)?;
    Some(if negative { -micros } else { micros })
}

/// Parses interval text such as `5 minutes`, `1 hour 30 minutes`, `1.5h`, `-2 days` or
/// `01:30:00`. A bare number needs `default_unit` (from `INTERVAL '5' MINUTE`).
pub(crate) fn parse_interval(text: &str, default_unit: Option<i64>) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty interval".to_string());
    }
    if text.contains(':') {
        return parse_clock(text).ok_or_else(|| format!("invalid interval `{text}`"));
    }
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut total: i64 = 0;
    let mut terms = 0;
    while pos < bytes.len() {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos == bytes.len() {
            break;
        }
        let start = pos;
        if bytes[pos] == b'-' || bytes[pos] == b'+' {
            pos += 1;
        }
        while pos < bytes.len() && (bytes[pos].is_ascii_digit() || bytes[pos] == b'.') {
            pos += 1;
        }
        let number = &text[start..pos];
        let quantity: f64 = number.parse().map_err(|_| {
            format!("invalid interval `{text}`: expected a number at `{}`", &text[start..])
        })?;
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let unit_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let unit = &text[unit_start..pos];
        let unit_micros = if unit.is_empty() {
            match default_unit {
                Some(micros) if terms == 0 && pos == bytes.len() => micros,
                _ => {
                    return Err(format!(
                    "invalid interval `{text}`: missing unit after `{number}` (e.g. '5 minutes')"
                ))
                }
            }
        } else {
            if default_unit.is_some() {
                return Err(format!(
                    "invalid interval `{text}`: give either units in the text or a unit after it, \
                     not both"
                ));
            }
            interval_unit(unit)?
        };
        total = total
            .checked_add(scale(quantity, unit_micros)?)
            .ok_or_else(|| "interval is out of range".to_string())?;
        terms += 1;
        if pos < bytes.len()
            && !bytes[pos].is_ascii_whitespace()
            && bytes[pos] != b'-'
            && bytes[pos] != b'+'
            && !bytes[pos].is_ascii_digit()
        {
            return Err(format!("invalid interval `{text}`"));
        }
    }
    if terms == 0 {
        return Err(format!("invalid interval `{text}`"));
    }
    Ok(total)
}

/// Microseconds of a unit named by an `INTERVAL '..' <unit>` qualifier.
pub(crate) fn interval_qualifier_micros(unit: &str) -> Result<i64, String> {
    interval_unit(unit)
}
