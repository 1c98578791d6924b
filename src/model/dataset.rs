//! The training table: the features pipeline's Parquet output read as typed rows, and the
//! examples (origin row, horizon day, actual value) cut from it.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};
use polars::prelude::*;
use shelfflow_operators::forecast::card::number;
use shelfflow_operators::value::Days;
use shelfflow_operators::{Field, Row, Schema, Type, Value};

/// Rows of the features table with their schema.
pub struct Table {
    pub schema: Schema,
    pub rows: Vec<Row>,
}

impl Table {
    /// Reads a Parquet file whose columns are int, float, bool, string or date.
    pub fn read(path: &Path) -> anyhow::Result<Table> {
        let file = std::fs::File::open(path).with_context(|| {
            format!(
                "cannot open {} (run `shelfflow run pipelines/features.yaml` first)",
                path.display()
            )
        })?;
        let frame = ParquetReader::new(file)
            .finish()
            .map_err(|e| anyhow::anyhow!("cannot read {} as Parquet: {e}", path.display()))?;
        let mut fields = Vec::new();
        let mut columns: Vec<Vec<Value>> = Vec::new();
        for column in frame.columns() {
            let series = column.as_materialized_series();
            let (ty, values) = values_of(series)
                .with_context(|| format!("column `{}` of {}", series.name(), path.display()))?;
            fields.push(Field::new(series.name().as_str(), ty, true));
            columns.push(values);
        }
        let mut cells: Vec<_> = columns.into_iter().map(Vec::into_iter).collect();
        let rows = (0..frame.height())
            .map(|_| cells.iter_mut().map(|c| c.next().unwrap_or(Value::Null)).collect())
            .collect();
        Ok(Table { schema: Schema::new(fields), rows })
    }

    /// Position of a column, or an error naming the file's columns.
    pub fn column(&self, name: &str, ty: Type) -> anyhow::Result<usize> {
        match self.schema.index_of(name) {
            Some(at) if self.schema.field(at).ty == ty => Ok(at),
            Some(at) => bail!("column `{name}` is {}, expected {ty}", self.schema.field(at).ty),
            None => bail!(
                "no column `{name}` in the features (columns: {})",
                self.schema.names().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

fn values_of(series: &Series) -> anyhow::Result<(Type, Vec<Value>)> {
    let opt = |v: Option<Value>| v.unwrap_or(Value::Null);
    Ok(match series.dtype() {
        DataType::Int64 | DataType::Int32 => {
            let s = series.cast(&DataType::Int64)?;
            (Type::Int, s.i64()?.iter().map(|v| opt(v.map(Value::Int))).collect())
        }
        DataType::Float64 | DataType::Float32 => {
            let s = series.cast(&DataType::Float64)?;
            (Type::Float, s.f64()?.iter().map(|v| opt(v.map(Value::Float))).collect())
        }
        DataType::Boolean => {
            (Type::Bool, series.bool()?.iter().map(|v| opt(v.map(Value::Bool))).collect())
        }
        DataType::String => {
            (Type::String, series.str()?.iter().map(|v| opt(v.map(Value::str))).collect())
        }
        DataType::Date => {
            let s = series.cast(&DataType::Int32)?;
            (Type::Date, s.i32()?.iter().map(|v| opt(v.map(Value::Date))).collect())
        }
        other => bail!("type {other} is not a feature type (int, float, bool, string, date)"),
    })
}

/// One example: the features row at the origin, the horizon day, the actual value then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Example {
    pub row: usize,
    pub origin: Days,
    pub horizon: u32,
    pub actual: f32,
}

impl Example {
    /// The day forecast.
    pub fn target_day(&self) -> Days {
        self.origin + self.horizon as Days
    }
}

/// Every (row, horizon day) whose forecast day has a row of the same key with a known target.
pub fn examples(
    table: &Table,
    key: &[usize],
    date: usize,
    target: usize,
    horizon: u32,
) -> Vec<Example> {
    let key_of = |row: &Row| key.iter().map(|&k| row[k].clone()).collect::<Vec<_>>();
    // Per series, its rows by day.
    let mut series: HashMap<Vec<Value>, HashMap<Days, usize>> = HashMap::new();
    for (i, row) in table.rows.iter().enumerate() {
        if let Value::Date(d) = row[date] {
            series.entry(key_of(row)).or_default().insert(d, i);
        }
    }
    let mut out = Vec::new();
    for days in series.values() {
        for (&origin, &i) in days {
            for h in 1..=horizon {
                let Some(&later) = days.get(&(origin + h as Days)) else { continue };
                if let Some(actual) = number(&table.rows[later][target]) {
                    out.push(Example { row: i, origin, horizon: h, actual: actual as f32 });
                }
            }
        }
    }
    out.sort_by_key(|e| (e.origin, e.horizon, e.row));
    out
}
