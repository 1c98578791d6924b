//! SQL text for sink tables (DDL, upsert statements) and the binary encoding of values.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::error::Error;

use bytes::{BufMut, BytesMut};
use postgres::types::{IsNull, ToSql, Type as PgType};
use rust_decimal::Decimal;
use shelfflow_operators::value::Type;

use crate::Value;

/// The columns append mode adds after the collection's.
pub const APPEND_COLUMNS: [&str; 2] = ["change_op", "change_time"];

/// The table recording, per pipeline and sink, the last dataflow time committed.
pub const PROGRESS_TABLE: &str = "public.shelfflow_progress";

/// Creates [`PROGRESS_TABLE`].
pub const PROGRESS_DDL: &str = "CREATE TABLE IF NOT EXISTS public.shelfflow_progress (
    pipeline text NOT NULL,
    sink text NOT NULL,
    target text NOT NULL,
    frontier bigint NOT NULL,
    frontier_at timestamptz NOT NULL,
    source_positions jsonb,
    definition_hash text NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, sink)
);
COMMENT ON TABLE public.shelfflow_progress IS 'Per pipeline sink: the last dataflow time whose \
changes are committed (written in the same transaction as the data), the source positions then and \
the hash of the pipeline definition that wrote it.'";

/// Why `name` cannot be a PostgreSQL identifier, if it cannot.
pub fn identifier_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("an empty name".to_owned())
    } else if name.len() > 63 {
        Some(format!("`{name}` is longer than PostgreSQL's 63-byte identifiers"))
    } else if name.contains('\0') {
        Some(format!("`{name}` holds a NUL character"))
    } else {
        None
    }
}

/// A quoted identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The PostgreSQL type of a column type.
pub fn pg_type(ty: Type) -> Cow<'static, str> {
    Cow::Borrowed(match ty {
        Type::String | Type::Null => "text",
        Type::Int => "bigint",
        Type::Float => "double precision",
        Type::Bool => "boolean",
        Type::Timestamp => "timestamptz",
        Type::Date => "date",
        Type::Interval => "interval",
        Type::Decimal(d) => return Cow::Owned(format!("numeric({},{})", d.precision, d.scale)),
    })
}

/// The binary-COPY type of a column type.
pub fn copy_type(ty: Type) -> PgType {
    match ty {
        Type::String | Type::Null => PgType::TEXT,
        Type::Int => PgType::INT8,
        Type::Float => PgType::FLOAT8,
        Type::Bool => PgType::BOOL,
        Type::Timestamp => PgType::TIMESTAMPTZ,
        Type::Date => PgType::DATE,
        Type::Interval => PgType::INTERVAL,
        Type::Decimal(_) => PgType::NUMERIC,
    }
}

/// A sink's table.
#[derive(Debug, Clone)]
pub struct TableDef {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// The collection's columns.
    pub columns: Vec<shelfflow_operators::value::Field>,
    /// Key column positions (upsert mode: the primary key).
    pub key: Vec<usize>,
    /// Append mode: every change is a row, with [`APPEND_COLUMNS`].
    pub append: bool,
    /// Append mode: also index (key, `change_time`).
    pub key_index: bool,
    /// `COMMENT ON TABLE`.
    pub comment: Option<String>,
    /// `COMMENT ON COLUMN`, by column.
    pub column_comments: BTreeMap<String, String>,
}

impl TableDef {
    /// `"schema"."table"`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.table))
    }

    /// The column names written, in order.
    pub fn column_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.columns.iter().map(|f| f.name.as_str()).collect();
        if self.append {
            names.extend(APPEND_COLUMNS);
        }
        names
    }

    /// The binary-COPY types of the columns written.
    pub fn copy_types(&self) -> Vec<PgType> {
        let mut types: Vec<PgType> = self.columns.iter().map(|f| copy_type(f.ty)).collect();
        if self.append {
            types.extend([PgType::TEXT, PgType::TIMESTAMPTZ]);
        }
        types
    }

    /// Whether every key column is NOT NULL (a primary key is possible).
    fn key_not_null(&self) -> bool {
        self.key.iter().all(|&c| !self.columns[c].nullable)
    }

    /// The column definitions, one per line, as `CREATE TABLE` lists them.
    pub fn column_sql(&self) -> Vec<(String, String)> {
        let mut columns: Vec<(String, String)> = self
            .columns
            .iter()
            .map(|f| {
                let not_null = !f.nullable;
                let sql = format!(
                    "{} {}{}",
                    ident(&f.name),
                    pg_type(f.ty),
                    if not_null { " NOT NULL" } else { "" }
                );
                (f.name.clone(), sql)
            })
            .collect();
        if self.append {
            columns.push(("change_op".to_owned(), "change_op text NOT NULL".to_owned()));
            columns.push(("change_time".to_owned(), "change_time timestamptz NOT NULL".to_owned()));
        }
        columns
    }

    /// Statements creating the schema, the table, its key and indexes, and its comments, all
    /// idempotent.
    pub fn create_sql(&self) -> Vec<String> {
        let table = self.qualified();
        let mut lines: Vec<String> = self.column_sql().into_iter().map(|(_, sql)| sql).collect();
        let key: Vec<String> = self.key.iter().map(|&c| ident(&self.columns[c].name)).collect();
        if !self.append && !key.is_empty() {
            if self.key_not_null() {
                lines.push(format!("PRIMARY KEY ({})", key.join(", ")));
            } else {
                lines.push(format!("UNIQUE NULLS NOT DISTINCT ({})", key.join(", ")));
            }
        }
        let mut statements = vec![
            format!("CREATE SCHEMA IF NOT EXISTS {}", ident(&self.schema)),
            format!(
                "CREATE TABLE IF NOT EXISTS {table} (\n    {}\n){}",
                lines.join(",\n    "),
                // Upsert tables update their rows in place: room on each page for the new
                // version keeps most updates off the indexes (HOT updates).
                if self.append { "" } else { " WITH (fillfactor = 70)" }
            ),
        ];
        if self.append {
            // Histories are appended in time order: a BRIN index finds time ranges for almost
            // nothing; a B-tree by key (optional) costs the load about 4x.
            statements.push(format!(
                "CREATE INDEX IF NOT EXISTS {} ON {table} USING brin (change_time)",
                ident(&format!("{}_change_time", self.table))
            ));
            if self.key_index && !key.is_empty() {
                statements.push(format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {table} ({}, change_time)",
                    ident(&format!("{}_key_time", self.table)),
                    key.join(", ")
                ));
            }
        }
        if let Some(comment) = &self.comment {
            statements.push(format!("COMMENT ON TABLE {table} IS {}", literal(comment)));
        }
        for (column, comment) in &self.column_comments {
            statements.push(format!(
                "COMMENT ON COLUMN {table}.{} IS {}",
                ident(column),
                literal(comment)
            ));
        }
        statements
    }

    /// The statements that apply staged rows: `stage_upserts` holds the new rows,
    /// `stage_deletes` the keys of removed rows (upsert mode only).
    pub fn apply_sql(&self, upserts: &str, deletes: &str) -> (String, String) {
        let table = self.qualified();
        let names: Vec<String> = self.columns.iter().map(|f| ident(&f.name)).collect();
        let key: Vec<String> = self.key.iter().map(|&c| ident(&self.columns[c].name)).collect();
        let delete = if key.is_empty() {
            format!("DELETE FROM {table}")
        } else {
            let matches: Vec<String> =
                key.iter().map(|k| format!("t.{k} IS NOT DISTINCT FROM d.{k}")).collect();
            format!("DELETE FROM {table} t USING {deletes} d WHERE {}", matches.join(" AND "))
        };
        let insert = if key.is_empty() {
            format!("INSERT INTO {table} ({0}) SELECT {0} FROM {upserts}", names.join(", "))
        } else {
            let rest: Vec<String> = self
                .columns
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.key.contains(i))
                .map(|(_, f)| format!("{0} = EXCLUDED.{0}", ident(&f.name)))
                .collect();
            let action = if rest.is_empty() {
                "DO NOTHING".to_owned()
            } else {
                format!("DO UPDATE SET {}", rest.join(", "))
            };
            format!(
                "INSERT INTO {table} ({0}) SELECT {0} FROM {upserts} ON CONFLICT ({1}) {action}",
                names.join(", "),
                key.join(", ")
            )
        };
        (delete, insert)
    }
}

/// A column of an existing table, as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbColumn {
    /// Column name.
    pub name: String,
    /// `format_type(...)`: `bigint`, `text`, `timestamp with time zone`, ...
    pub data_type: String,
    /// Whether it is NOT NULL.
    pub not_null: bool,
}

/// Reads the columns of an existing table, in order (none when the table does not exist).
pub const COLUMNS_QUERY: &str =
    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum";

/// How an existing table differs from what a sink writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The table does not exist: these statements create it.
    Missing(Vec<String>),
    /// A column the sink writes is missing: added (nullable) on open.
    AddColumn { column: String, ddl: String },
    /// A column has another type: the sink cannot write it; the DDL would change it.
    OtherType { column: String, has: String, wants: String, ddl: String },
    /// A NOT NULL column the sink does not write: inserts would fail.
    UnwrittenNotNull { column: String, ddl: String },
    /// A column the sink does not write: kept, NULL in new rows.
    Unwritten { column: String },
}

impl Difference {
    /// Whether the sink cannot run until someone changes the table.
    pub fn blocks(&self) -> bool {
        matches!(self, Difference::OtherType { .. } | Difference::UnwrittenNotNull { .. })
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing(ddl) => {
                write!(f, "table missing; created with:\n{};", ddl.join(";\n"))
            }
            Difference::AddColumn { column, ddl } => {
                write!(f, "column `{column}` missing; added on deploy with: {ddl};")
            }
            Difference::OtherType { column, has, wants, ddl } => write!(
                f,
                "column `{column}` is {has} in the database but the pipeline writes {wants}; \
                 change it with: {ddl};"
            ),
            Difference::UnwrittenNotNull { column, ddl } => write!(
                f,
                "column `{column}` is NOT NULL but the pipeline no longer writes it; allow NULLs \
                 with: {ddl};"
            ),
            Difference::Unwritten { column } => {
                write!(f, "column `{column}` is no longer written; kept (NULL in new rows)")
            }
        }
    }
}

/// The catalog name of a column type (as `format_type` prints it).
fn catalog_type(ty: &str) -> &str {
    match ty {
        "timestamptz" => "timestamp with time zone",
        other => other,
    }
}

impl TableDef {
    /// Compares the table the database has (`existing`, empty when missing) with this one.
    pub fn differences(&self, existing: &[DbColumn]) -> Vec<Difference> {
        if existing.is_empty() {
            return vec![Difference::Missing(self.create_sql())];
        }
        let table = self.qualified();
        let mut found = Vec::new();
        let wanted = self.column_sql();
        let types: Vec<Cow<'static, str>> = self
            .columns
            .iter()
            .map(|f| pg_type(f.ty))
            .chain(if self.append { vec!["text".into(), "timestamptz".into()] } else { vec![] })
            .collect();
        for ((name, _), ty) in wanted.iter().zip(&types) {
            match existing.iter().find(|c| &c.name == name) {
                None => found.push(Difference::AddColumn {
                    column: name.clone(),
                    ddl: format!(
                        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {} {ty}",
                        ident(name)
                    ),
                }),
                Some(c) if c.data_type != catalog_type(ty) => found.push(Difference::OtherType {
                    column: name.clone(),
                    has: c.data_type.clone(),
                    wants: ty.to_string(),
                    ddl: format!(
                        "ALTER TABLE {table} ALTER COLUMN {0} TYPE {ty} USING {0}::{ty}",
                        ident(name)
                    ),
                }),
                Some(_) => {}
            }
        }
        for column in existing.iter().filter(|c| !wanted.iter().any(|(n, _)| *n == c.name)) {
            found.push(if column.not_null {
                Difference::UnwrittenNotNull {
                    column: column.name.clone(),
                    ddl: format!(
                        "ALTER TABLE {table} ALTER COLUMN {} DROP NOT NULL",
                        ident(&column.name)
                    ),
                }
            } else {
                Difference::Unwritten { column: column.name.clone() }
            });
        }
        found
    }
}

/// Microseconds between the Unix and the PostgreSQL epochs (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days between the Unix and the PostgreSQL epochs.
const PG_EPOCH_DAYS: i32 = 10_957;

/// A value in PostgreSQL's binary format, for binary COPY.
#[derive(Debug)]
pub struct Cell<'a>(pub &'a Value);

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        ty: &PgType,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => return Ok(IsNull::Yes),
            (Value::Bool(b), &PgType::BOOL) => out.put_u8(u8::from(*b)),
            (Value::Int(v), &PgType::INT8) => out.put_i64(*v),
            (Value::Int(v), &PgType::FLOAT8) => out.put_f64(*v as f64),
            (Value::Float(v), &PgType::FLOAT8) => out.put_f64(*v),
            (Value::Str(s), &PgType::TEXT) => out.put_slice(s.as_bytes()),
            (Value::Timestamp(t), &PgType::TIMESTAMPTZ) => out.put_i64(t - PG_EPOCH_MICROS),
            (Value::Date(d), &PgType::DATE) => out.put_i32(d - PG_EPOCH_DAYS),
            (Value::Interval(v), &PgType::INTERVAL) => {
                out.put_i64(*v);
                out.put_i32(0);
                out.put_i32(0);
            }
            (Value::Decimal(d), &PgType::NUMERIC) => return d.to_sql(ty, out),
            (value, ty) => return Err(format!("cannot write {value:?} as {ty}").into()),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &PgType) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A value read back from PostgreSQL's binary format (to reconcile a table with a replay).
#[derive(Debug)]
pub struct Decoded(pub Value);

impl<'a> postgres::types::FromSql<'a> for Decoded {
    fn from_sql(ty: &PgType, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let int8 = |raw: &[u8]| -> Result<i64, Box<dyn Error + Sync + Send>> {
            Ok(i64::from_be_bytes(raw.get(..8).ok_or("short value")?.try_into()?))
        };
        Ok(Decoded(match *ty {
            PgType::BOOL => Value::Bool(raw.first().is_some_and(|b| *b != 0)),
            PgType::INT8 => Value::Int(int8(raw)?),
            PgType::FLOAT8 => Value::Float(f64::from_bits(int8(raw)? as u64)),
            PgType::TEXT => Value::str(std::str::from_utf8(raw)?),
            PgType::TIMESTAMPTZ => Value::Timestamp(int8(raw)? + PG_EPOCH_MICROS),
            PgType::DATE => Value::Date(
                i32::from_be_bytes(raw.get(..4).ok_or("short value")?.try_into()?) + PG_EPOCH_DAYS,
            ),
            PgType::INTERVAL => Value::Interval(int8(raw)?),
            PgType::NUMERIC => Value::Decimal(Decimal::from_sql(ty, raw)?),
            ref other => return Err(format!("cannot read a {other} column").into()),
        }))
    }

    fn from_sql_null(_: &PgType) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Decoded(Value::Null))
    }

    fn accepts(_: &PgType) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shelfflow_operators::value::Field;

    fn def(append: bool, key: Vec<usize>) -> TableDef {
        TableDef {
            schema: "state".to_owned(),
            table: "shelf status".to_owned(),
            columns: vec![
                Field::new("shelf_id", Type::String, false),
                Field::new("stock", Type::Int, true),
                Field::new("seen", Type::Timestamp, true),
            ],
            key,
            append,
            key_index: true,
            comment: Some("Shelves' stock, it's live.".to_owned()),
            column_comments: [("stock".to_owned(), "Units".to_owned())].into(),
        }
    }

    #[test]
    fn upsert_tables_have_their_key_as_primary_key_and_comments() {
        let sql = def(false, vec![0]).create_sql();
        assert_eq!(sql[0], "CREATE SCHEMA IF NOT EXISTS \"state\"");
        assert_eq!(
            sql[1],
            "CREATE TABLE IF NOT EXISTS \"state\".\"shelf status\" (\n    \"shelf_id\" text NOT NULL,\n    \
             \"stock\" bigint,\n    \"seen\" timestamptz,\n    PRIMARY KEY (\"shelf_id\")\n) WITH (fillfactor = 70)"
        );
        assert_eq!(
            sql[2],
            "COMMENT ON TABLE \"state\".\"shelf status\" IS 'Shelves'' stock, it''s live.'"
        );
        assert_eq!(sql[3], "COMMENT ON COLUMN \"state\".\"shelf status\".\"stock\" IS 'Units'");
    }

    #[test]
    fn nullable_keys_are_unique_with_nulls_not_distinct() {
        let sql = def(false, vec![0, 1]).create_sql();
        assert!(sql[1].contains("\"stock\" bigint,"), "{}", sql[1]);
        assert!(
            sql[1].contains("UNIQUE NULLS NOT DISTINCT (\"shelf_id\", \"stock\")"),
            "{}",
            sql[1]
        );
        let sql = def(false, vec![2]).create_sql();
        assert!(sql[1].contains("\"seen\" timestamptz,"), "{}", sql[1]);
        assert!(sql[1].contains("UNIQUE NULLS NOT DISTINCT (\"seen\")"), "{}", sql[1]);
    }

    #[test]
    fn append_tables_add_change_columns_and_time_indexes() {
        let d = def(true, vec![0]);
        let sql = d.create_sql();
        assert!(
            sql[1].contains("change_op text NOT NULL,\n    change_time timestamptz NOT NULL\n)")
        );
        assert!(!sql[1].contains("PRIMARY KEY"));
        assert!(
            sql[2].contains("USING brin (change_time)")
                && sql[3].contains("(\"shelf_id\", change_time)")
        );
        assert_eq!(d.column_names(), ["shelf_id", "stock", "seen", "change_op", "change_time"]);
    }

    #[test]
    fn apply_statements_delete_by_key_then_upsert() {
        let (delete, insert) = def(false, vec![0]).apply_sql("up", "del");
        assert_eq!(
            delete,
            "DELETE FROM \"state\".\"shelf status\" t USING del d WHERE t.\"shelf_id\" IS NOT DISTINCT FROM d.\"shelf_id\""
        );
        assert!(insert.ends_with(
            "ON CONFLICT (\"shelf_id\") DO UPDATE SET \"stock\" = EXCLUDED.\"stock\", \"seen\" = EXCLUDED.\"seen\""
        ));
        let (delete, insert) = def(false, vec![]).apply_sql("up", "del");
        assert_eq!(delete, "DELETE FROM \"state\".\"shelf status\"");
        assert!(!insert.contains("ON CONFLICT"));
    }

    #[test]
    fn names_longer_than_63_bytes_are_refused() {
        assert!(identifier_problem(&"x".repeat(64)).is_some());
        assert!(identifier_problem("shelf_state").is_none());
    }
}
