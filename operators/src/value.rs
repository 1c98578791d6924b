//! The record model: typed values, rows whose column positions are fixed at plan time, and
//! schemas that name and type those columns.
//!
//! A [`Row`] is a plain vector of [`Value`]s. Operators never look columns up by name at run time:
//! the planner resolves every name to a position in a [`Schema`] once, and compiled expressions
//! carry those positions.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::decimal::{Decimal, DecimalType};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// Days since the Unix epoch.
pub type Days = i32;

/// Microseconds in one day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A row: one value per schema column, in schema order.
pub type Row = Vec<Value>;

/// The type of a column or expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Type {
    /// UTF-8 text.
    String,
    /// 64-bit signed integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean.
    Bool,
    /// Instant in UTC with microsecond precision.
    Timestamp,
    /// Calendar date.
    Date,
    /// A span of time (microseconds); produced by `INTERVAL` literals and timestamp arithmetic.
    Interval,
    /// Exact decimal `decimal(precision, scale)`; see [`crate::decimal`].
    Decimal(DecimalType),
    /// The type of a bare `NULL` literal; it unifies with every other type.
    Null,
}

impl Type {
    /// The name used in pipeline schemas (`string`, `int`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Int => "int",
            Type::Float => "float",
            Type::Bool => "bool",
            Type::Timestamp => "timestamp",
            Type::Date => "date",
            Type::Interval => "interval",
            Type::Decimal(_) => "decimal",
            Type::Null => "null",
        }
    }

    /// The names a pipeline schema accepts, for error hints.
    pub const SCHEMA_NAMES: [&'static str; 7] =
        ["string", "int", "float", "decimal(p, s)", "bool", "timestamp", "date"];

    /// Parses a schema type name such as `int` or `string?` into the type and its nullability.
    pub fn parse_schema(text: &str) -> Option<(Type, bool)> {
        let text = text.trim();
        let (name, nullable) = match text.strip_suffix('?') {
            Some(name) => (name.trim(), true),
            None => (text, false),
        };
        let ty = match name.to_ascii_lowercase().as_str() {
            "string" | "str" | "text" => Type::String,
            "int" | "integer" | "bigint" | "i64" => Type::Int,
            "float" | "double" | "f64" => Type::Float,
            "bool" | "boolean" => Type::Bool,
            "timestamp" | "datetime" => Type::Timestamp,
            "date" => Type::Date,
            other => Type::Decimal(parse_decimal_type(other)?),
        };
        Some((ty, nullable))
    }

    /// Whether values of this type are numbers.
    pub const fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float | Type::Decimal(_))
    }

    /// The decimal type, if this is one.
    pub const fn as_decimal(self) -> Option<DecimalType> {
        match self {
            Type::Decimal(d) => Some(d),
            _ => None,
        }
    }
}

/// `decimal(p, s)`, `decimal(p)` (scale 0) or `numeric(p, s)`, in lowercase.
fn parse_decimal_type(text: &str) -> Option<DecimalType> {
    let args = ["decimal", "numeric"]
        .iter()
        .find_map(|name| text.strip_prefix(name))?
        .trim()
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let mut parts = args.split(',').map(|p| p.trim().parse::<u32>());
    let precision = parts.next()?.ok()?;
    let scale = match parts.next() {
        Some(scale) => scale.ok()?,
        None => 0,
    };
    match parts.next() {
        None => DecimalType::new(precision, scale),
        Some(_) => None,
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Decimal(d) => write!(f, "decimal({},{})", d.precision, d.scale),
            other => f.write_str(other.name()),
        }
    }
}

/// One typed value. `Null` is a value of every nullable type.
///
/// Floats are totally ordered (`f64::total_cmp`) so rows can be sorted, hashed and consolidated.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub enum Value {
    /// SQL NULL.
    #[default]
    Null,
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// String; ids up to 24 bytes are stored inline.
    Str(CompactString),
    /// Microseconds since the epoch, UTC.
    Timestamp(Micros),
    /// Days since the epoch.
    Date(Days),
    /// Microseconds.
    Interval(i64),
    /// An exact decimal, with exactly its column type's scale.
    Decimal(#[serde(with = "crate::decimal::serde_bytes")] Decimal),
}

impl Value {
    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::Str(_) => 4,
            Value::Timestamp(_) => 5,
            Value::Date(_) => 6,
            Value::Interval(_) => 7,
            Value::Decimal(_) => 8,
        }
    }

    /// Whether this is SQL NULL.
    pub const fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a string slice, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The value as an integer, if it is one.
    pub const fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a float; integers widen, decimals round to the nearest float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            Value::Decimal(d) => Some(crate::decimal::to_float(*d)),
            _ => None,
        }
    }

    /// The value as a boolean, if it is one.
    pub const fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Builds a string value.
    pub fn str(s: &str) -> Value {
        Value::Str(CompactString::from(s))
    }

    /// Converts to JSON for sinks and dead letters: timestamps as RFC 3339, dates as `YYYY-MM-DD`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Timestamp(t) => serde_json::Value::String(format_timestamp(*t)),
            Value::Date(d) => serde_json::Value::String(format_date(*d)),
            Value::Interval(us) => serde_json::Value::String(format_interval(*us)),
            // A JSON value tree holds numbers as floats: the nearest one. Files and changelogs
            // write the exact digits (see `decode::json`).
            Value::Decimal(d) => serde_json::Number::from_f64(crate::decimal::to_float(*d))
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
        }
    }
}

impl PartialEq for Value {
    /// The equality of [`Ord`] (values of different types are never equal; floats are equal
    /// when their bits are, as under `total_cmp`), without working out an order: rows are
    /// compared for equality on every hash lookup and every change.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Str(a), Value::Str(b)) => a.as_str() == b.as_str(),
            (Value::Timestamp(a), Value::Timestamp(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::Interval(a), Value::Interval(b)) => a == b,
            (Value::Decimal(a), Value::Decimal(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::Date(a), Value::Date(b)) => a.cmp(b),
            (Value::Interval(a), Value::Interval(b)) => a.cmp(b),
            (Value::Decimal(a), Value::Decimal(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Value::Null => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(x) => x.to_bits().hash(state),
            Value::Str(s) => s.hash(state),
            Value::Timestamp(t) => t.hash(state),
            Value::Date(d) => d.hash(state),
            Value::Interval(i) => i.hash(state),
            Value::Decimal(d) => d.hash(state),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::Timestamp(t) => f.write_str(&format_timestamp(*t)),
            Value::Date(d) => f.write_str(&format_date(*d)),
            Value::Interval(us) => f.write_str(&format_interval(*us)),
            Value::Decimal(d) => write!(f, "{d}"),
        }
    }
}

/// Formats microseconds since the epoch as RFC 3339 UTC (`2026-01-01T07:00:00Z`), with
/// fractional seconds only when present.
pub fn format_timestamp(micros: Micros) -> String {
    match DateTime::<Utc>::from_timestamp_micros(micros) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => micros.to_string(),
    }
}

/// Formats days since the epoch as `YYYY-MM-DD`.
pub fn format_date(days: Days) -> String {
    match days.checked_add(EPOCH_DAYS_FROM_CE).and_then(NaiveDate::from_num_days_from_ce_opt) {
        Some(date) => date.format("%Y-%m-%d").to_string(),
        None => days.to_string(),
    }
}

/// Formats an interval as Rust's duration text (`5400s`, `250ms`).
pub fn format_interval(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let d = std::time::Duration::from_micros(micros.unsigned_abs());
    format!("{sign}{d:?}")
}

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
pub const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Parses an RFC 3339 timestamp (`2026-01-01T07:00:00Z`, `...+01:00`, fractional seconds) or a
/// naive `YYYY-MM-DD[ T]HH:MM:SS[.f]` taken as UTC, or a bare date taken as midnight UTC.
pub fn parse_timestamp(text: &str) -> Option<Micros> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp_micros());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, format) {
            return Some(dt.and_utc().timestamp_micros());
        }
    }
    if let Ok(dt) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z") {
        return Some(dt.timestamp_micros());
    }
    parse_date(text).map(|d| i64::from(d) * MICROS_PER_DAY)
}

/// Parses `YYYY-MM-DD` into days since the epoch.
pub fn parse_date(text: &str) -> Option<Days> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .map(|d| d.num_days_from_ce() - EPOCH_DAYS_FROM_CE)
}

use chrono::Datelike;

/// One named, typed column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Column name, unique within its schema.
    pub name: String,
    /// Column type.
    pub ty: Type,
    /// Whether the column may hold NULL.
    pub nullable: bool,
}

impl Field {
    /// A column.
    pub fn new(name: impl Into<String>, ty: Type, nullable: bool) -> Field {
        Field { name: name.into(), ty, nullable }
    }
}

/// The ordered columns of a collection, plus which column (if any) carries event time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// Columns in row order.
    pub fields: Vec<Field>,
    /// Position of the event-time column, when the collection still carries it.
    pub event_time: Option<usize>,
    /// Positions of the columns that identify a row (the natural key), when known.
    pub key: Option<Vec<usize>>,
    /// Every row is at time 0 and the collection never changes afterwards (a reference table
    /// loaded once from a file, and what `map`/`filter` make of it).
    #[serde(default)]
    pub constant: bool,
}

impl Schema {
    /// The columns that identify a row: the natural key, or every column when there is none.
    pub fn key_or_all(&self) -> Vec<usize> {
        self.key.clone().unwrap_or_else(|| (0..self.len()).collect())
    }

    /// A schema from its columns, with no event-time column and no key.
    pub fn new(fields: Vec<Field>) -> Schema {
        Schema { fields, event_time: None, key: None, constant: false }
    }

    /// The position of a column by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The column at a position.
    pub fn field(&self, index: usize) -> &Field {
        &self.fields[index]
    }

    /// Column names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.fields.iter().map(|f| f.name.as_str())
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Converts a row of this schema to a JSON object keyed by column name.
    pub fn row_to_json(&self, row: &[Value]) -> serde_json::Value {
        let mut map = serde_json::Map::with_capacity(self.fields.len());
        for (field, value) in self.fields.iter().zip(row) {
            map.insert(field.name.clone(), value.to_json());
        }
        serde_json::Value::Object(map)
    }

    /// Converts the given columns of a row to a JSON object keyed by column name.
    pub fn columns_to_json(&self, row: &[Value], columns: &[usize]) -> serde_json::Value {
        let mut map = serde_json::Map::with_capacity(columns.len());
        for &c in columns {
            map.insert(self.fields[c].name.clone(), row[c].to_json());
        }
        serde_json::Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schema_types_with_nullability() {
        assert_eq!(Type::parse_schema("int"), Some((Type::Int, false)));
        assert_eq!(Type::parse_schema("string?"), Some((Type::String, true)));
        assert_eq!(Type::parse_schema("timestmp"), None);
        let money = Type::Decimal(DecimalType::new(10, 2).unwrap());
        assert_eq!(Type::parse_schema("decimal(10,2)"), Some((money, false)));
        assert_eq!(Type::parse_schema("NUMERIC( 10 , 2 )?"), Some((money, true)));
        assert_eq!(money.to_string(), "decimal(10,2)");
        let whole = Type::Decimal(DecimalType::new(12, 0).unwrap());
        assert_eq!(Type::parse_schema("decimal(12)"), Some((whole, false)));
        for bad in ["decimal", "decimal(29,2)", "decimal(2,3)", "decimal(10,2,1)", "decimal(a)"] {
            assert_eq!(Type::parse_schema(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        let t = parse_timestamp("2026-01-01T07:00:00Z").unwrap();
        assert_eq!(format_timestamp(t), "2026-01-01T07:00:00Z");
        let frac = parse_timestamp("2026-01-01T07:00:00.250+01:00").unwrap();
        assert_eq!(format_timestamp(frac), "2026-01-01T06:00:00.250Z");
        assert_eq!(parse_timestamp("2026-01-01 07:00:00"), Some(t));
        assert_eq!(parse_timestamp("not a time"), None);
    }

    #[test]
    fn dates_round_trip() {
        let d = parse_date("2026-01-01").unwrap();
        assert_eq!(format_date(d), "2026-01-01");
        assert_eq!(parse_date("1970-01-01"), Some(0));
    }

    #[test]
    fn every_value_survives_the_encoding_rows_cross_processes_in() {
        // timely 0.31 sends exchanged data between processes with bincode 1.
        let row: Row = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(i64::MIN),
            Value::Float(-0.1),
            Value::str("a shelf id longer than twenty-four bytes"),
            Value::str("S1"),
            Value::Timestamp(parse_timestamp("2026-01-01T07:00:00.250Z").unwrap()),
            Value::Date(parse_date("2026-01-01").unwrap()),
            Value::Interval(-5_400_000_000),
            Value::Decimal("-12.50".parse().unwrap()),
            Value::Decimal("9999999999999999999999999999".parse().unwrap()),
        ];
        let bytes = bincode::serialize(&row).expect("encodes");
        let back: Row = bincode::deserialize(&bytes).expect("decodes");
        assert_eq!(back, row);
        let shown: Vec<String> = back.iter().map(ToString::to_string).collect();
        assert_eq!(shown[9], "-12.50", "a decimal keeps its scale");
    }

    #[test]
    fn floats_are_totally_ordered_and_hash_consistently() {
        let mut v = vec![Value::Float(2.0), Value::Null, Value::Float(-1.0), Value::Int(3)];
        v.sort();
        assert_eq!(v, vec![Value::Null, Value::Int(3), Value::Float(-1.0), Value::Float(2.0)]);
    }
}
