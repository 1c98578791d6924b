//! Tables: typing the rows of a polars [`DataFrame`] read from a CSV or Parquet file, and
//! building a [`DataFrame`] from rows for the CSV and Parquet snapshot sinks.

use polars::prelude::{
    BooleanChunked, Column, DataFrame, DataType, Float64Chunked, Int128Chunked, Int32Chunked,
    Int64Chunked, IntoColumn, NewChunkedArray, PlSmallStr, PolarsResult, StringChunked, TimeUnit,
    TimeZone,
};
use shelfflow_operators::{Field, Row, Schema, Type, Value};

use super::cell::{null_cell, parse_text, DecodeError, Found};
use shelfflow_operators::decimal::{self, Decimal};

/// Why a table cannot be read with a schema at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A schema column is not in the file.
    #[error("no column `{0}` in the file")]
    MissingColumn(String),
    /// A column's type does not convert to its schema type without loss.
    #[error("column `{column}` is {found}, which cannot be read as {expected}")]
    ColumnType {
        /// The column name.
        column: String,
        /// The file's type of the column.
        found: String,
        /// The schema type.
        expected: Type,
    },
}

/// A loaded table whose rows are typed one at a time, in any order.
///
/// Each schema column is found by name. Columns of a matching type are converted where that is
/// lossless (any integer to `int`, any number to `float`, datetimes of any unit and zone and
/// dates to `timestamp`); string columns are typed cell by cell with [`parse_text`], so one bad
/// cell rejects one row, not the file.
#[derive(Debug)]
pub struct FrameDecoder {
    fields: Vec<Field>,
    columns: Vec<Cells>,
    height: usize,
}

impl FrameDecoder {
    /// Prepares the rows of `frame` for `schema`.
    pub fn new(frame: &DataFrame, schema: &Schema) -> Result<FrameDecoder, FrameError> {
        let columns = schema
            .fields
            .iter()
            .map(|field| {
                let column = frame
                    .column(&field.name)
                    .map_err(|_| FrameError::MissingColumn(field.name.clone()))?;
                Cells::new(column, field.ty).ok_or_else(|| FrameError::ColumnType {
                    column: field.name.clone(),
                    found: column.dtype().to_string(),
                    expected: field.ty,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(FrameDecoder { fields: schema.fields.clone(), columns, height: frame.height() })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.height
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.height == 0
    }

    /// Row `index` (below [`len`](Self::len)), typed.
    pub fn row(&self, index: usize) -> Result<Row, DecodeError> {
        self.fields
            .iter()
            .zip(&self.columns)
            .map(|(field, cells)| cells.value(field, index))
            .collect()
    }

    /// Row `index` as it is in the file, untyped: strings stay strings (for dead letters).
    pub fn raw_row(&self, index: usize) -> Row {
        self.columns.iter().map(|cells| cells.raw(index)).collect()
    }
}

/// One schema column of a table, in the representation its values are read from.
#[derive(Debug)]
enum Cells {
    /// Text typed by [`parse_text`].
    Text(StringChunked),
    /// Integers.
    Int(Int64Chunked),
    /// Floats.
    Float(Float64Chunked),
    /// Booleans.
    Bool(BooleanChunked),
    /// Microseconds since the epoch, UTC.
    Timestamp(Int64Chunked),
    /// Days since the epoch.
    Date(Int32Chunked),
    /// A Parquet decimal column: its units and their scale.
    Decimal(Int128Chunked, u32),
}

impl Cells {
    /// The cells of `column` read as `ty`, if its type converts.
    fn new(column: &Column, ty: Type) -> Option<Cells> {
        let series = column.as_materialized_series();
        let cells = match (ty, series.dtype()) {
            (_, DataType::String) => Cells::Text(series.str().ok()?.rechunk().into_owned()),
            (_, DataType::Null) => {
                Cells::Text(series.cast(&DataType::String).ok()?.str().ok()?.clone())
            }
            (Type::Int, dtype) if dtype.is_integer() => {
                // Strict: a UInt64 beyond i64::MAX fails instead of becoming NULL.
                let ints = series.strict_cast(&DataType::Int64).ok()?;
                Cells::Int(ints.i64().ok()?.rechunk().into_owned())
            }
            (Type::Float, dtype) if dtype.is_integer() || dtype.is_float() => {
                let floats = series.cast(&DataType::Float64).ok()?;
                Cells::Float(floats.f64().ok()?.rechunk().into_owned())
            }
            (Type::Bool, DataType::Boolean) => {
                Cells::Bool(series.bool().ok()?.rechunk().into_owned())
            }
            (Type::Timestamp, DataType::Datetime(_, zone)) => {
                // The physical values of any zone are UTC instants; only the unit changes.
                let zoned = DataType::Datetime(TimeUnit::Microseconds, zone.clone());
                let datetimes = series.cast(&zoned).ok()?;
                Cells::Timestamp(datetimes.datetime().ok()?.physical().rechunk().into_owned())
            }
            (Type::Timestamp, DataType::Date) => {
                let micros = DataType::Datetime(TimeUnit::Microseconds, None);
                let datetimes = series.cast(&micros).ok()?;
                Cells::Timestamp(datetimes.datetime().ok()?.physical().rechunk().into_owned())
            }
            (Type::Decimal(_), DataType::Decimal(_, scale)) => {
                let units = series.decimal().ok()?.physical().rechunk().into_owned();
                Cells::Decimal(units, u32::try_from(*scale).ok()?)
            }
            (Type::Decimal(_), dtype) if dtype.is_integer() => {
                let ints = series.strict_cast(&DataType::Int64).ok()?;
                Cells::Int(ints.i64().ok()?.rechunk().into_owned())
            }
            (Type::Decimal(_), dtype) if dtype.is_float() => {
                let floats = series.cast(&DataType::Float64).ok()?;
                Cells::Float(floats.f64().ok()?.rechunk().into_owned())
            }
            (Type::Date, DataType::Date) => {
                Cells::Date(series.date().ok()?.physical().rechunk().into_owned())
            }
            _ => return None,
        };
        Some(cells)
    }

    /// The typed value at `index`.
    fn value(&self, field: &Field, index: usize) -> Result<Value, DecodeError> {
        match self {
            Cells::Text(cells) => match cells.get(index) {
                Some(text) => {
                    parse_text(field.ty, text).map_err(|found| DecodeError::mismatch(field, found))
                }
                None => null_cell(field),
            },
            _ => match (self.raw(index), field.ty) {
                (Value::Null, _) => null_cell(field),
                // Integers, floats (by their shortest text) and decimals of another scale.
                (value, Type::Decimal(to)) => match decimal::from_number(&value, to) {
                    Some(d) => Ok(Value::Decimal(d)),
                    None => Err(DecodeError::mismatch(field, Found::number(&value))),
                },
                (value, _) => Ok(value),
            },
        }
    }

    /// The value at `index` as stored: text as a string.
    fn raw(&self, index: usize) -> Value {
        let value = match self {
            Cells::Text(cells) => cells.get(index).map(Value::str),
            Cells::Int(cells) => cells.get(index).map(Value::Int),
            Cells::Float(cells) => cells.get(index).map(Value::Float),
            Cells::Bool(cells) => cells.get(index).map(Value::Bool),
            Cells::Timestamp(cells) => cells.get(index).map(Value::Timestamp),
            Cells::Date(cells) => cells.get(index).map(Value::Date),
            Cells::Decimal(cells, scale) => cells.get(index).map(|units| {
                match Decimal::try_from_i128_with_scale(units, *scale) {
                    Ok(d) => Value::Decimal(d),
                    // Beyond 28 digits: shown as text, and no decimal type holds it.
                    Err(_) => Value::str(&units.to_string()),
                }
            }),
        };
        value.unwrap_or(Value::Null)
    }
}

/// How [`frame_from_rows`] stores timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampColumns {
    /// RFC 3339 strings (CSV).
    Text,
    /// `Datetime(us, UTC)` (Parquet).
    Native,
}

/// Builds a table of `rows` of `schema`: `int` as Int64, `float` as Float64, `bool` as Boolean,
/// `string` as String, `date` as Date, `timestamp` per `timestamps`, and intervals as text.
pub fn frame_from_rows(
    schema: &Schema,
    rows: &[&[Value]],
    timestamps: TimestampColumns,
) -> PolarsResult<DataFrame> {
    let columns = schema
        .fields
        .iter()
        .enumerate()
        .map(|(c, field)| {
            let name = PlSmallStr::from(field.name.as_str());
            let cells = || rows.iter().map(move |row| row.get(c).filter(|v| !v.is_null()));
            match (field.ty, timestamps) {
                (Type::Int, _) => {
                    Int64Chunked::from_iter_options(name, cells().map(|v| v?.as_int()))
                        .into_column()
                }
                (Type::Float, _) => {
                    Float64Chunked::from_iter_options(name, cells().map(|v| v?.as_f64()))
                        .into_column()
                }
                (Type::Bool, _) => {
                    BooleanChunked::from_iter_options(name, cells().map(|v| v?.as_bool()))
                        .into_column()
                }
                (Type::String, _) => {
                    StringChunked::from_iter_options(name, cells().map(|v| v?.as_str()))
                        .into_column()
                }
                (Type::Date, _) => {
                    let days = cells().map(|v| match v? {
                        Value::Date(days) => Some(*days),
                        _ => None,
                    });
                    Int32Chunked::from_iter_options(name, days).into_date().into_column()
                }
                (Type::Timestamp, TimestampColumns::Native) => {
                    let micros = cells().map(|v| match v? {
                        Value::Timestamp(micros) => Some(*micros),
                        _ => None,
                    });
                    Int64Chunked::from_iter_options(name, micros)
                        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                        .into_column()
                }
                (Type::Decimal(d), _) => {
                    let units = cells().map(|v| match v? {
                        Value::Decimal(x) => {
                            let mut x = *x;
                            x.rescale(u32::from(d.scale));
                            Some(x.mantissa())
                        }
                        _ => None,
                    });
                    Int128Chunked::from_iter_options(name, units)
                        .into_decimal_unchecked(usize::from(d.precision), usize::from(d.scale))
                        .into_column()
                }
                (Type::Timestamp | Type::Interval | Type::Null, _) => {
                    StringChunked::from_iter_options(name, cells().map(|v| Some(v?.to_string())))
                        .into_column()
                }
            }
        })
        .collect();
    DataFrame::new(rows.len(), columns)
}
