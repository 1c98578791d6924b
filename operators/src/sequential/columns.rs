use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::plan::{name_hint, unknown_column, ConfigError};
use crate::value::{Schema, Type, Value};

/// A config value that names a column of an input or gives a number for every row, such as
/// `capacity: maximum_stock` or `threshold_pct: 30`.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A numeric column.
    Column(String),
    /// The same number for every row.
    Number(f64),
}

impl<'de> Deserialize<'de> for Operand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Operand, D::Error> {
        struct OperandVisitor;
        impl Visitor<'_> for OperandVisitor {
            type Value = Operand;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a column name or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Operand, E> {
                Ok(Operand::Column(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Operand, E> {
                Ok(Operand::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Operand, E> {
                Ok(Operand::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Operand, E> {
                Ok(Operand::Number(v))
            }
        }
        deserializer.deserialize_any(OperandVisitor)
    }
}

/// A resolved [`Operand`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OperandSpec {
    /// Column position.
    Column(usize),
    /// Literal.
    Number(f64),
}

impl OperandSpec {
    /// The value for `row`; `None` when the column is NULL.
    pub fn eval(&self, row: &[Value]) -> Option<f64> {
        match self {
            OperandSpec::Column(c) => row[*c].as_f64(),
            OperandSpec::Number(x) => Some(*x),
        }
    }

    /// The integer value for `row` (resolved with `int_only`); `None` when the column is NULL.
    pub fn eval_int(&self, row: &[Value]) -> Option<i64> {
        match self {
            OperandSpec::Column(c) => row[*c].as_int(),
            OperandSpec::Number(x) => Some(*x as i64),
        }
    }
}

impl Operand {
    /// Resolves against `schema`: a column must exist and be numeric (an int when `int_only`),
    /// a literal must be finite (and whole when `int_only`). Problems go to `errors`.
    pub fn resolve(
        &self,
        schema: &Schema,
        path: &str,
        int_only: bool,
        errors: &mut Vec<ConfigError>,
    ) -> Option<OperandSpec> {
        match self {
            // A quoted number (`'30'`, or an interpolated variable) is a literal unless a
            // column has that name.
            Operand::Column(name) if schema.index_of(name).is_none() => {
                match name.trim().parse::<f64>() {
                    Ok(x) => Operand::Number(x).resolve(schema, path, int_only, errors),
                    Err(_) => {
                        errors.push(unknown_column(schema.names(), name, path));
                        None
                    }
                }
            }
            Operand::Column(name) => {
                let types: &[Type] =
                    if int_only { &[Type::Int] } else { &[Type::Int, Type::Float] };
                typed_column(schema, name, path, types, errors).map(OperandSpec::Column)
            }
            Operand::Number(x) if !x.is_finite() || (int_only && x.fract() != 0.0) => {
                let expected = if int_only { "a whole number" } else { "a finite number" };
                errors.push(ConfigError::new(path, format!("expected {expected}, found {x}")));
                None
            }
            Operand::Number(x) => Some(OperandSpec::Number(*x)),
        }
    }
}

/// "an int or float column" for error messages.
fn describe(types: &[Type]) -> String {
    let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
    let article = if names.first().is_some_and(|n| n.starts_with('i')) { "an" } else { "a" };
    format!("{article} {} column", names.join(" or "))
}

/// The position of column `name` in `schema`, which must have one of `types`; an unknown column
/// or a type mismatch is reported at `path`.
pub fn typed_column(
    schema: &Schema,
    name: &str,
    path: &str,
    types: &[Type],
    errors: &mut Vec<ConfigError>,
) -> Option<usize> {
    let Some(c) = schema.index_of(name) else {
        errors.push(unknown_column(schema.names(), name, path));
        return None;
    };
    let found = schema.fields[c].ty;
    if !types.contains(&found) && found != Type::Null {
        errors.push(ConfigError::new(
            path,
            format!("type mismatch: expected {}, found {found}", describe(types)),
        ));
        return None;
    }
    Some(c)
}

/// Resolves the key columns `names` (written at YAML `path`) in a second input `input`, whose
/// key must have the same types as `reference` (the key's fields in the first input).
pub fn key_in(
    schema: &Schema,
    input: &str,
    names: &[String],
    reference: &[Type],
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<usize> {
    let mut positions = Vec::with_capacity(names.len());
    for (n, name) in names.iter().enumerate() {
        let at = format!("{path}[{n}]");
        match schema.index_of(name) {
            Some(c) => {
                let found = schema.fields[c].ty;
                if let Some(&expected) = reference.get(n) {
                    if found != expected {
                        errors.push(ConfigError::new(
                            at,
                            format!(
                                "type mismatch: key column `{name}` is {expected} in the first \
                                 input but {found} in `{input}`"
                            ),
                        ));
                    }
                }
                positions.push(c);
            }
            None => errors.push(
                ConfigError::new(at, format!("unknown column `{name}` in `{input}`"))
                    .hint(name_hint(name, schema.names(), "available columns")),
            ),
        }
    }
    positions
}

/// Reports an output column of the operator that an input column of the same name would
/// duplicate.
pub fn check_reserved(
    names: impl IntoIterator<Item = String>,
    added: &[&str],
    what: &str,
    path: &str,
    errors: &mut Vec<ConfigError>,
) {
    for name in names {
        if added.contains(&name.as_str()) {
            errors.push(
                ConfigError::new(path, format!("duplicate column `{name}`: the {what} adds it"))
                    .hint("rename it with a `map` first"),
            );
        }
    }
}

/// Rounds a computed number of units up, ignoring floating-point noise below 1e-9
/// (`0.1 * 30` is 3 units, not 4).
pub fn ceil_units(x: f64) -> i64 {
    (x - 1e-9).ceil() as i64
}
