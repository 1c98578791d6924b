//! Typing one cell: the parser every format shares, and the reasons a record is rejected.
//!
//! JSONL, CSV and Parquet differ in how a record is laid out, not in what a column type accepts:
//! a CSV cell, a Parquet string and a JSON string in a `timestamp` column all go through
//! [`parse_text`], so `2026-01-01T07:00:05Z` means the same instant in every format and a bad
//! value is reported the same way.

use std::fmt;

use shelfflow_operators::value::{self, Days, Micros, MICROS_PER_DAY};
use shelfflow_operators::{Field, Time, Type, Value};

/// Longest rendering of a rejected string kept in a reason, in characters.
const FOUND_TEXT_LIMIT: usize = 40;

/// Why a record could not become a row. `Display` is the dead-letter reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The line is not one JSON value (the message has no position suffix).
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// A non-nullable column has no field in the record.
    #[error("missing field `{0}`")]
    MissingField(String),
    /// A field holds a value its column type does not accept.
    #[error("field `{field}`: expected {expected}, found {found}")]
    Mismatch {
        /// The column name.
        field: String,
        /// The column type.
        expected: Type,
        /// What the record held.
        found: Found,
    },
    /// A non-nullable column holds NULL.
    #[error("field `{0}`: null in a non-nullable column")]
    NullInNonNullable(String),
}

impl DecodeError {
    /// The error for a cell of `field` that does not fit its type.
    pub fn mismatch(field: &Field, found: Found) -> DecodeError {
        DecodeError::Mismatch { field: field.name.clone(), expected: field.ty, found }
    }
}

/// What a cell held when it did not fit its column type, shortened for a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Text: a JSON string, a CSV cell or a Parquet string.
    String(String),
    /// A JSON number, as written.
    Number(String),
    /// A JSON boolean.
    Bool(bool),
    /// A JSON array.
    Array,
    /// A JSON object.
    Object,
}

impl Found {
    /// Text, cut to a readable length.
    pub fn string(text: &str) -> Found {
        match text.char_indices().nth(FOUND_TEXT_LIMIT) {
            Some((cut, _)) => Found::String(format!("{}…", &text[..cut])),
            None => Found::String(text.to_owned()),
        }
    }

    /// A number.
    pub fn number(number: impl fmt::Display) -> Found {
        Found::Number(number.to_string())
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::String(text) => write!(f, "string {text:?}"),
            Found::Number(number) => write!(f, "number {number}"),
            Found::Bool(b) => write!(f, "boolean {b}"),
            Found::Array => f.write_str("array"),
            Found::Object => f.write_str("object"),
        }
    }
}

/// The value of an absent or NULL cell of `field`: NULL when the column is nullable.
pub fn null_cell(field: &Field) -> Result<Value, DecodeError> {
    if field.nullable {
        Ok(Value::Null)
    } else {
        Err(DecodeError::NullInNonNullable(field.name.clone()))
    }
}

/// Types a text cell: a CSV cell, a Parquet string, or a JSON string in a `string`, `timestamp`
/// or `date` column.
///
/// `int` accepts an integer only (`2`; `2.0` and `2.5` are not ints), `float` any number,
/// `decimal(p, s)` any number read exactly and rounded half up to `s` decimals (one with more
/// than `p - s` whole digits does not fit), `bool`
/// `true`/`false` in any case, `timestamp` RFC 3339 (see [`parse_timestamp`]) and `date`
/// `YYYY-MM-DD`. Numbers and booleans may be surrounded by spaces; strings are kept as they are.
pub fn parse_text(ty: Type, text: &str) -> Result<Value, Found> {
    let value = match ty {
        Type::String => Some(Value::str(text)),
        Type::Int => text.trim().parse::<i64>().ok().map(Value::Int),
        Type::Float => text.trim().parse::<f64>().ok().map(Value::Float),
        Type::Bool => {
            let text = text.trim();
            if text.eq_ignore_ascii_case("true") {
                Some(Value::Bool(true))
            } else if text.eq_ignore_ascii_case("false") {
                Some(Value::Bool(false))
            } else {
                None
            }
        }
        Type::Timestamp => parse_timestamp(text).map(Value::Timestamp),
        Type::Date => parse_date(text).map(Value::Date),
        Type::Decimal(d) => shelfflow_operators::decimal::parse(text, d).map(Value::Decimal),
        // Not schema types: nothing is read into them.
        Type::Interval | Type::Null => None,
    };
    value.ok_or_else(|| Found::string(text))
}

/// Parses a timestamp into microseconds since the epoch.
///
/// The common `YYYY-MM-DDTHH:MM:SS[.f]Z` form (up to nanosecond digits, truncated to
/// microseconds) is parsed directly; everything else [`value::parse_timestamp`] accepts (offsets,
/// a space instead of `T`, naive times, bare dates) goes through it.
pub fn parse_timestamp(text: &str) -> Option<Micros> {
    parse_utc_timestamp(text.as_bytes()).or_else(|| value::parse_timestamp(text))
}

/// Parses a `YYYY-MM-DD` date into days since the epoch (other forms through
/// [`value::parse_date`]).
pub fn parse_date(text: &str) -> Option<Days> {
    let direct = match text.as_bytes() {
        [y @ .., b'-', m1, m2, b'-', d1, d2] if y.len() == 4 => {
            civil_days(digits(y)?, digits(&[*m1, *m2])?, digits(&[*d1, *d2])?)
                .and_then(|days| Days::try_from(days).ok())
        }
        _ => None,
    };
    direct.or_else(|| value::parse_date(text))
}

/// Formats a dataflow time as RFC 3339.
pub fn format_time(time: Time) -> String {
    value::format_timestamp(Micros::try_from(time).unwrap_or(Micros::MAX))
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, without going through chrono.
pub(super) fn parse_utc_timestamp(b: &[u8]) -> Option<Micros> {
    const MICROS_PER_SECOND: i64 = 1_000_000;
    let (b'Z', body) = b.split_last()? else {
        return None;
    };
    if body.len() < 19
        || body[4] != b'-'
        || body[7] != b'-'
        || body[10] != b'T'
        || body[13] != b':'
        || body[16] != b':'
    {
        return None;
    }
    let days = civil_days(digits(&body[0..4])?, digits(&body[5..7])?, digits(&body[8..10])?)?;
    let (hour, minute, second) =
        (digits(&body[11..13])?, digits(&body[14..16])?, digits(&body[17..19])?);
    if hour > 23 || minute > 59 || second > 59 {
        // Leap seconds and the like: let chrono decide.
        return None;
    }
    let fraction = match &body[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            let micros = &fraction[..fraction.len().min(6)];
            let scale = 10_i64.pow(6 - micros.len() as u32);
            // Digits past microseconds are validated, then truncated like chrono does.
            digits(&fraction[micros.len()..])?;
            i64::from(digits(micros)?) * scale
        }
        _ => return None,
    };
    let seconds = i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some(days * MICROS_PER_DAY + seconds * MICROS_PER_SECOND + fraction)
}

/// The decimal value of ASCII digits (at most 9 of them).
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0_u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
}

/// Days since 1970-01-01 of a proleptic Gregorian date, if the date exists.
fn civil_days(year: u32, month: u32, day: u32) -> Option<i64> {
    // `u32::is_multiple_of` needs Rust 1.87; the workspace supports 1.86.
    #[allow(clippy::manual_is_multiple_of)]
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if day == 0 || day > month_days {
        return None;
    }
    // Howard Hinnant's days_from_civil, with years starting in March.
    let (year, month, day) = (i64::from(year), i64::from(month), i64::from(day));
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}
