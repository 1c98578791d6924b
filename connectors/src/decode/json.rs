//! JSON: the schema-driven record decoder of JSONL sources, and the row renderer of sinks.
//!
//! [`JsonDecoder`] walks each JSON object once with a serde visitor, matches its keys to the
//! schema's columns and writes typed [`Value`]s straight into the row: no `serde_json::Value`
//! tree, and strings are read from the line itself unless they contain escapes.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use shelfflow_operators::decimal::{self, DecimalType};
use shelfflow_operators::{Field, Row, Schema, Type, Value};

use super::cell::{null_cell, parse_text, DecodeError, Found};

/// Decodes JSON objects into rows of one schema.
///
/// Fields that are not columns are ignored. JSON `null` and absent fields are NULL in nullable
/// columns and reject the record otherwise. Numbers and booleans must be JSON numbers and
/// booleans (`"2"` is not an `int`); `string`, `timestamp` and `date` columns take JSON strings,
/// typed by [`parse_text`].
#[derive(Debug, Clone)]
pub struct JsonDecoder {
    fields: Vec<Field>,
    /// Which columns the current record set; reused between records.
    seen: Vec<bool>,
}

impl JsonDecoder {
    /// A decoder for rows of `schema`.
    pub fn new(schema: &Schema) -> JsonDecoder {
        JsonDecoder { fields: schema.fields.clone(), seen: vec![false; schema.len()] }
    }

    /// Decodes one JSON object (one line, without its newline).
    pub fn decode(&mut self, line: &[u8]) -> Result<Row, DecodeError> {
        // One UTF-8 check of the whole line is cheaper than serde_json's check of every string.
        let line = std::str::from_utf8(line).map_err(|err| {
            DecodeError::MalformedJson(format!("invalid UTF-8 at byte {}", err.valid_up_to()))
        })?;
        let mut row: Row = self.fields.iter().map(|_| Value::Null).collect();
        self.seen.fill(false);
        let mut record =
            RecordSeed { fields: &self.fields, row: &mut row, seen: &mut self.seen, error: None };
        let mut deserializer = serde_json::Deserializer::from_str(line);
        if let Err(err) =
            (&mut record).deserialize(&mut deserializer).and_then(|()| deserializer.end())
        {
            return Err(DecodeError::MalformedJson(without_position(&err)));
        }
        if let Some(err) = record.error {
            return Err(err);
        }
        for (field, seen) in self.fields.iter().zip(&self.seen) {
            if !seen && !field.nullable {
                return Err(DecodeError::MissingField(field.name.clone()));
            }
        }
        Ok(row)
    }
}

/// serde_json's message without its ` at line L column C` suffix.
fn without_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match message.strip_suffix(&suffix) {
        Some(stripped) => stripped.to_owned(),
        None => message,
    }
}

/// The state of decoding one record: the visitor of its top-level object.
struct RecordSeed<'a> {
    fields: &'a [Field],
    row: &'a mut Row,
    seen: &'a mut [bool],
    /// The first field that did not fit; the rest of the line is still checked for syntax, so
    /// malformed JSON wins over a type error.
    error: Option<DecodeError>,
}

impl RecordSeed<'_> {
    /// Stores the typed value of a field in the row, or why it does not fit.
    // Inlined into every visitor method, so a value is built and moved into the row without
    // passing through an out-of-line call (a measurable share of the decode time otherwise).
    #[inline(always)]
    fn set(&mut self, column: usize, cell: Result<Value, Found>) {
        let field = &self.fields[column];
        let value = match cell {
            Ok(Value::Null) => null_cell(field),
            Ok(value) => Ok(value),
            Err(found) => Err(DecodeError::mismatch(field, found)),
        };
        match value {
            Ok(value) => {
                self.row[column] = value;
                self.seen[column] = true;
            }
            Err(err) => self.error = Some(err),
        }
    }
}

impl<'de> DeserializeSeed<'de> for &mut RecordSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut RecordSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut next = 0;
        while let Some(column) = map.next_key_seed(ColumnSeed { fields: self.fields, next })? {
            match column.filter(|_| self.error.is_none()) {
                Some(column) => {
                    map.next_value_seed(FieldSeed { record: &mut *self, column })?;
                    next = column + 1;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Finds the column of an object key. Records usually list their fields in schema order, so the
/// column after the previous one is tried first; otherwise the names are scanned.
struct ColumnSeed<'a> {
    fields: &'a [Field],
    next: usize,
}

impl<'de> DeserializeSeed<'de> for ColumnSeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for ColumnSeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        if self.fields.get(self.next).is_some_and(|field| field.name == key) {
            return Ok(Some(self.next));
        }
        Ok(self.fields.iter().position(|field| field.name == key))
    }
}

/// Types one field value against its column type and stores it in the record (in place: the
/// value never travels back through serde). A value of the wrong JSON type is recorded as the
/// record's error, not returned as a serde error, so the rest of the line is still parsed.
struct FieldSeed<'a, 'b> {
    record: &'a mut RecordSeed<'b>,
    column: usize,
}

impl FieldSeed<'_, '_> {
    fn ty(&self) -> Type {
        self.record.fields[self.column].ty
    }

    fn set<E>(self, cell: Result<Value, Found>) -> Result<(), E> {
        self.record.set(self.column, cell);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.ty() {
            // The number's own text, never a float on the way.
            Type::Decimal(d) => {
                let raw = <&serde_json::value::RawValue>::deserialize(deserializer)?;
                self.set(decimal_cell(raw.get(), d))
            }
            _ => deserializer.deserialize_any(self),
        }
    }
}

/// A decimal cell from the raw JSON text of a field: a number or a string holding one.
fn decimal_cell(raw: &str, ty: DecimalType) -> Result<Value, Found> {
    let parse = |text: &str, found: fn(&str) -> Found| {
        decimal::parse(text, ty).map(Value::Decimal).ok_or_else(|| found(text))
    };
    match raw.as_bytes().first() {
        Some(b'n') => Ok(Value::Null),
        Some(b't') => Err(Found::Bool(true)),
        Some(b'f') => Err(Found::Bool(false)),
        Some(b'[') => Err(Found::Array),
        Some(b'{') => Err(Found::Object),
        Some(b'"') => match serde_json::from_str::<String>(raw) {
            Ok(text) => parse(&text, Found::string),
            Err(_) => Err(Found::string(raw)),
        },
        _ => parse(raw, |text| Found::number(text)),
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON value for a {} column", self.ty())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.set(Ok(Value::Null))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        let cell = match self.ty() {
            Type::Bool => Ok(Value::Bool(b)),
            _ => Err(Found::Bool(b)),
        };
        self.set(cell)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        let cell = match self.ty() {
            Type::Int => Ok(Value::Int(n)),
            Type::Float => Ok(Value::Float(n as f64)),
            _ => Err(Found::number(n)),
        };
        self.set(cell)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        let cell = match self.ty() {
            Type::Int => i64::try_from(n).map(Value::Int).map_err(|_| Found::number(n)),
            Type::Float => Ok(Value::Float(n as f64)),
            _ => Err(Found::number(n)),
        };
        self.set(cell)
    }

    /// A number written with a fraction or an exponent (`2.0`, `2.5`, `1e3`): never an `int`,
    /// so a value that is not a whole count cannot be truncated or rounded into one.
    fn visit_f64<E: de::Error>(self, x: f64) -> Result<(), E> {
        let cell = match self.ty() {
            Type::Float => Ok(Value::Float(x)),
            // `{:?}` keeps the fraction (`2.0`) that `Display` drops.
            Type::Int => Err(Found::number(format!("{x:?}"))),
            _ => Err(Found::number(x)),
        };
        self.set(cell)
    }

    /// Borrowed (`&'de str`, no escapes) and unescaped strings both end here: the text is copied
    /// once, into the row.
    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        let cell = match self.ty() {
            // The common case, without a detour through `parse_text` (which does the same).
            Type::String => Ok(Value::str(text)),
            ty @ (Type::Timestamp | Type::Date) => parse_text(ty, text),
            _ => Err(Found::string(text)),
        };
        self.set(cell)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.set(Err(Found::Array))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.set(Err(Found::Object))
    }
}

/// Renders columns of rows as JSON objects: names in schema order, values by [`Value::to_json`]
/// (timestamps as RFC 3339).
#[derive(Debug, Clone)]
pub struct JsonObjects {
    /// `(column, its name as a JSON string)`, in output order.
    columns: Vec<(usize, String)>,
}

impl JsonObjects {
    /// Objects of every column of `schema`.
    pub fn all(schema: &Schema) -> JsonObjects {
        JsonObjects::of(schema, &(0..schema.len()).collect::<Vec<_>>())
    }

    /// Objects of the given columns of `schema`.
    pub fn of(schema: &Schema, columns: &[usize]) -> JsonObjects {
        let columns = columns
            .iter()
            .map(|&c| (c, serde_json::Value::from(schema.field(c).name.as_str()).to_string()))
            .collect();
        JsonObjects { columns }
    }

    /// The object of one row, for `write!` or `to_string`.
    pub fn render<'a>(&'a self, row: &'a [Value]) -> impl fmt::Display + 'a {
        JsonObject { columns: &self.columns, row }
    }

    /// The object of one row laid out as `serde_json`'s pretty printer does, each line after the
    /// first starting with `indent` (values as [`render`](Self::render) writes them: decimals
    /// with exactly their scale).
    pub fn render_pretty(&self, row: &[Value], indent: &str, out: &mut String) {
        use fmt::Write as _;
        if self.columns.is_empty() {
            out.push_str("{}");
            return;
        }
        out.push('{');
        for (n, (column, name)) in self.columns.iter().enumerate() {
            let comma = if n > 0 { "," } else { "" };
            let value = Pretty(row.get(*column).unwrap_or(&Value::Null));
            let _ = write!(out, "{comma}\n{indent}  {name}: {value}");
        }
        let _ = write!(out, "\n{indent}}}");
    }
}

/// A value as [`write_json`] writes it.
struct Pretty<'a>(&'a Value);

impl fmt::Display for Pretty<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_json(self.0, f)
    }
}

/// One rendered row; see [`JsonObjects::render`].
struct JsonObject<'a> {
    columns: &'a [(usize, String)],
    row: &'a [Value],
}

impl fmt::Display for JsonObject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (n, (column, name)) in self.columns.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            f.write_str(name)?;
            f.write_str(":")?;
            write_json(self.row.get(*column).unwrap_or(&Value::Null), f)?;
        }
        f.write_str("}")
    }
}

/// Writes `value` as [`Value::to_json`] renders it, without building the JSON value first:
/// numbers and text that needs no escaping are written as they are.
fn write_json(value: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let plain = |s: &str| s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    match value {
        Value::Null => f.write_str("null"),
        Value::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
        Value::Int(i) => write!(f, "{i}"),
        // Exactly the column's decimals, as a JSON number.
        Value::Decimal(d) => write!(f, "{d}"),
        Value::Str(s) if plain(s) => write!(f, "\"{s}\""),
        Value::Timestamp(t) => {
            write!(f, "\"{}\"", shelfflow_operators::value::format_timestamp(*t))
        }
        other => write!(f, "{}", other.to_json()),
    }
}
