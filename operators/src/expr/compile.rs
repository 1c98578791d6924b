//! Compiles SQL expression text against a [`Schema`] into a typed [`Expr`] tree.
//!
//! Expressions are parsed once with `sqlparser` (generic dialect), type-checked, and lowered to
//! a tree of resolved column positions, pre-converted literals, function enums, pre-parsed units
//! and pre-compiled `LIKE` patterns. Sub-expressions whose inputs are all constants are folded at
//! compile time.
//!
//! # Supported SQL
//!
//! Types are `string`, `int` (64-bit), `float` (64-bit), `bool`, `timestamp` (UTC, microsecond
//! precision), `date` and `interval` (a fixed number of microseconds). NULL propagates: an
//! operator or function with a NULL argument returns NULL, except where noted (`AND`, `OR`,
//! `IS ...`, `IS DISTINCT FROM`, `coalesce`, `ifnull`, `concat`, `greatest`, `least`, `CASE`).
//!
//! * **Literals**: `42` (`int`; integers beyond 64 bits become `float`), `2.5`, `1e3`
//!   (`float`), `'text'` (`''` escapes a quote), `TRUE`, `FALSE`, `NULL`, `DATE '2026-01-01'`,
//!   `TIMESTAMP '2026-01-01T07:00:00Z'` (RFC 3339, or `YYYY-MM-DD[ HH:MM:SS[.f]]` read as UTC),
//!   `INTERVAL '5 minutes'`, `INTERVAL '1' HOUR`, `INTERVAL 5 MINUTE`,
//!   `INTERVAL '1 hour 30 minutes'`, `INTERVAL '1.5h'`, `INTERVAL '01:30:00'`. Interval units:
//!   microsecond (`us`), millisecond (`ms`), second (`s`, `sec`), minute (`m`, `min`), hour
//!   (`h`, `hr`), day (`d`), week (`w`), singular or plural; months and years have no fixed
//!   length and are rejected.
//! * **Columns**: by exact, case-sensitive name. Double-quote names with spaces, upper case or
//!   that are SQL keywords (`"my col"`, `"interval"`); `a.b` refers to a column named `a.b`.
//! * **Arithmetic** `+ - * / %`, unary `-` and `+`: `int op int → int` (`/` truncates toward
//!   zero, `%` takes the sign of the dividend, `+ - *` wrap around on 64-bit overflow); an `int`
//!   with a `float` gives `float`; division or modulo by zero gives NULL.
//!   `timestamp ± interval → timestamp`, `timestamp − timestamp → interval`,
//!   `date ± int → date` (days), `date − date → int` (days), `date ± interval → timestamp`,
//!   `interval ± interval`, `interval * number`, `number * interval`, `interval / number`.
//!   Date and timestamp arithmetic saturates at the ends of the representable range.
//! * **Comparisons** `= <> != < <= > >=`, `[NOT] BETWEEN a AND b` (inclusive), `[NOT] IN (...)`,
//!   `IS [NOT] DISTINCT FROM` (NULL-safe; `<=>` is `IS NOT DISTINCT FROM`): between values of
//!   the same type, `int` with `float` (exact numeric comparison), `date` with `timestamp` (the
//!   date is its midnight UTC). Strings compare by code point, case-sensitively. A string
//!   literal compared with a date, timestamp or interval is read as a literal of that type
//!   (`ts >= '2026-01-01'`). `x IN (..., NULL)` follows SQL: NULL when no element is equal.
//! * **Logic**: `AND`, `OR`, `NOT` with three-valued logic (`FALSE AND NULL` is FALSE,
//!   `TRUE OR NULL` is TRUE), `IS [NOT] NULL`, `IS [NOT] TRUE`, `IS [NOT] FALSE`,
//!   `IS [NOT] UNKNOWN` (these never return NULL). A filter keeps a row only when its predicate
//!   is TRUE.
//! * **Pattern matching**: `[NOT] LIKE` and `[NOT] ILIKE` (case-insensitive): `%` matches any
//!   run of characters, `_` exactly one character, `\` escapes the next character (or
//!   `ESCAPE '!'`).
//! * **Conditionals**: `CASE WHEN c THEN r ... [ELSE e] END`, `CASE x WHEN v THEN r ... END`
//!   (missing ELSE gives NULL), `if(c, a, b)`, `coalesce(a, ...)` (first non-NULL),
//!   `ifnull(a, b)` / `nvl(a, b)`, `nullif(a, b)` (NULL when `a = b`, else `a`),
//!   `greatest(...)` / `least(...)` (ignore NULLs). Branches must have one type; `int` and
//!   `float` unify to `float`, `date` and `timestamp` to `timestamp`, NULL to anything.
//! * **Casts**: `CAST(x AS t)`, `TRY_CAST(x AS t)`, `x::t` with `t` one of `INT` / `INTEGER` /
//!   `BIGINT` / `SMALLINT`, `FLOAT` / `DOUBLE` / `REAL` / `DECIMAL` / `NUMERIC` (all `float`),
//!   `TEXT` / `VARCHAR` / `STRING` / `CHAR`, `BOOLEAN` / `BOOL`, `DATE`,
//!   `TIMESTAMP` / `TIMESTAMPTZ` / `DATETIME`, `INTERVAL`. A conversion that fails gives NULL.
//!   `float → int` rounds half away from zero; `string → bool` accepts true/false, t/f,
//!   yes/no, y/n, on/off, 1/0; `timestamp → date` takes the UTC day; anything casts to text.
//! * **Math**: `abs`, `round(x)`, `round(x, digits)` (half away from zero; negative digits round
//!   to tens, hundreds, ...), `floor`, `ceil` / `ceiling` (same type as the argument), `sqrt`,
//!   `ln`, `log10` / `log`, `exp`, `power` / `pow` (`float`; NULL outside the domain), `sign`
//!   (`int` -1, 0 or 1), `mod(a, b)` (as `%`).
//! * **Strings** (positions count characters, starting at 1): `lower`, `upper`, `length` /
//!   `char_length`, `trim` / `ltrim` / `rtrim` (whitespace, or the characters of a second
//!   argument; also `TRIM([BOTH | LEADING | TRAILING] chars FROM s)`),
//!   `substr` / `substring(s, start[, len])` and `SUBSTRING(s FROM start [FOR len])`
//!   (PostgreSQL semantics), `concat(...)` (NULLs skipped, never NULL, any argument types),
//!   `a || b` (NULL if either is NULL), `replace(s, from, to)`, `starts_with`, `ends_with`,
//!   `contains` (`bool`), `strpos(s, sub)` / `POSITION(sub IN s)` (0 when absent),
//!   `split_part(s, delimiter, n)` (negative `n` counts from the end), `left(s, n)`,
//!   `right(s, n)` (negative `n` drops characters from the other end), `lpad(s, n[, fill])`,
//!   `rpad(s, n[, fill])` (truncate to `n`; NULL above 1,048,576 characters).
//! * **Date/time** (all UTC; weeks start on Monday; a date argument is its midnight):
//!   `date_trunc(unit, t)` → `timestamp` with unit `microsecond`, `millisecond`, `second`,
//!   `minute`, `hour`, `day`, `week`, `month`, `quarter` or `year`; `EXTRACT(field FROM t)` and
//!   `date_part('field', t)` → `int` with field `year`, `quarter`, `month`, `week` (ISO week),
//!   `day`, `hour`, `minute`, `second` (whole seconds), `millisecond` and `microsecond` (of the
//!   minute, including seconds), `dow` (0 = Sunday .. 6), `isodow` (1 = Monday .. 7), `doy`,
//!   `isoyear`, or `epoch` → `float` seconds (also of an interval);
//!   `date_diff(unit, start, end)` → `int` number of unit boundaries crossed (the difference of
//!   the truncated values, like DuckDB), `datediff(end, start)` → days (Spark);
//!   `date(x)` / `to_date(x)` → `date` from a timestamp, date or `YYYY-MM-DD` string;
//!   `to_timestamp(x)` → `timestamp` from a string or from epoch seconds;
//!   `make_date(y, m, d)` (NULL for an invalid date).
//!
//! Not supported: subqueries, window functions, aggregate functions (use an `aggregate`
//! operator), regular expressions, and functions that do not depend only on the row, such as
//! `now()`.

use std::collections::HashSet;

use sqlparser::ast::{
    self, BinaryOperator, CeilFloorKind, DateTimeField, DuplicateTreatment, FunctionArg,
    FunctionArgExpr, FunctionArguments, ObjectNamePart, Spanned, TrimWhereField, UnaryOperator,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use super::eval::{self, ArithOp, CmpOp, ConstSet, Func, Node, TrimSide};
use super::format::{self, Conversion, MAX_DECIMALS};
use super::like::LikePattern;
use super::temporal::{self, DateField, TimeUnit};
use super::{Expr, ExprError, ExprErrorKind};
use crate::decimal::{DecimalType, Rounding};
use crate::value::{Schema, Type, Value};

/// An aggregate call such as `sum(quantity)`, `count(*)` or `count(DISTINCT customer_id)`.
#[derive(Debug, Clone)]
pub struct AggregateCall {
    /// Lower-case function name (`sum`, `count`, `min`, `max`, `avg`, `first`, `last`, ...).
    pub function: String,
    /// `DISTINCT` was given.
    pub distinct: bool,
    /// The argument was `*`.
    pub star: bool,
    /// Compiled arguments (empty for `count(*)`).
    pub args: Vec<Expr>,
}

/// Most tokens an expression may have (keeps the parser's recursion bounded).
const MAX_TOKENS: usize = 20_000;

/// Deepest nesting of the compiled tree.
const MAX_DEPTH: usize = 100;

/// `IN` lists of literals at least this long are hashed.
const HASH_IN_LIST_FROM: usize = 8;

/// Aggregate functions, rejected inside scalar expressions.
pub const AGGREGATE_FUNCTIONS: [&str; 8] =
    ["sum", "count", "min", "max", "avg", "count_distinct", "first", "last"];

/// Every scalar function name `compile` accepts in call syntax `name(args)`.
pub const SCALAR_FUNCTIONS: &[&str] = &[
    "abs",
    "round",
    "round_half_even",
    "floor",
    "ceil",
    "ceiling",
    "sqrt",
    "power",
    "pow",
    "ln",
    "log10",
    "log",
    "exp",
    "sign",
    "mod",
    "lower",
    "upper",
    "length",
    "char_length",
    "character_length",
    "trim",
    "ltrim",
    "rtrim",
    "substr",
    "substring",
    "concat",
    "replace",
    "starts_with",
    "ends_with",
    "contains",
    "strpos",
    "split_part",
    "left",
    "right",
    "lpad",
    "rpad",
    "format_number",
    "format",
    "coalesce",
    "ifnull",
    "nullif",
    "greatest",
    "least",
    "if",
    "date_trunc",
    "date_part",
    "date_diff",
    "datediff",
    "date",
    "to_date",
    "to_timestamp",
    "make_date",
    // special syntax, also reachable as plain calls
    "extract",
    "position",
    "cast",
    "try_cast",
    "nvl",
    "btrim",
];

/// Functions that depend on something other than the input row.
const NONDETERMINISTIC: [&str; 10] = [
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "random",
    "rand",
    "uuid",
    "gen_random_uuid",
];

type Loc = Option<(u32, u32)>;

fn loc(l: Location) -> Loc {
    if l.line == 0 || l.column == 0 {
        return None;
    }
    Some((u32::try_from(l.line).unwrap_or(u32::MAX), u32::try_from(l.column).unwrap_or(u32::MAX)))
}

fn error(kind: ExprErrorKind, message: impl Into<String>, location: Loc) -> ExprError {
    ExprError { kind, message: message.into(), location, hint: None }
}

fn hinted(mut e: ExprError, hint: impl Into<String>) -> ExprError {
    e.hint = Some(hint.into());
    e
}

fn mismatch(message: impl Into<String>, location: Loc) -> ExprError {
    error(ExprErrorKind::TypeMismatch, message, location)
}

fn unsupported(message: impl Into<String>, location: Loc) -> ExprError {
    error(ExprErrorKind::Unsupported, message, location)
}

/// The closest candidate by case-insensitive edit distance (Levenshtein plus adjacent
/// transpositions), if it is close enough.
fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let max = match lower.chars().count() {
        0..=1 => 0,
        2..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let d = strsim::osa_distance(&lower, &candidate.to_lowercase());
        if d <= max && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// 1-based (line, column) just past the end of `sql`.
fn end_of(sql: &str) -> (u32, u32) {
    let line = sql.matches('\n').count() + 1;
    let last = sql.rsplit('\n').next().unwrap_or("");
    let column = last.chars().count() + 1;
    (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
}

/// Splits sqlparser's " at Line: X, Column: Y" suffix off a message.
fn split_location(raw: &str) -> (&str, Loc) {
    const MARK: &str = " at Line: ";
    if let Some(i) = raw.rfind(MARK) {
        if let Some((line, column)) = raw[i + MARK.len()..].split_once(", Column: ") {
            if let (Ok(line), Ok(column)) = (line.trim().parse(), column.trim().parse()) {
                return (&raw[..i], Some((line, column)));
            }
        }
    }
    (raw, None)
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn syntax_error(raw: &str, sql: &str, tokens: &[TokenWithSpan]) -> ExprError {
    let (text, location) = split_location(raw);
    let message = if let Some(rest) = text.strip_prefix("Expected: ") {
        format!("expected {rest}")
    } else if text.starts_with("No infix parser for token") {
        // sqlparser prints the token's Debug form; show the source token instead.
        let token = tokens
            .iter()
            .find(|t| loc(t.span.start) == location)
            .map_or_else(|| "token".to_string(), |t| format!("`{}`", t.token));
        format!("unexpected {token}; expected an operator or the end of the expression")
    } else {
        lowercase_first(text)
    };
    let location = location.or_else(|| message.ends_with("found: EOF").then(|| end_of(sql)));
    error(ExprErrorKind::Syntax, message, location)
}

/// Parses one expression, requiring that it spans the whole text.
fn parse(sql: &str) -> Result<ast::Expr, ExprError> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| error(ExprErrorKind::Syntax, lowercase_first(&e.message), loc(e.location)))?;
    let significant = tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_))).count();
    if significant > MAX_TOKENS {
        return Err(unsupported(
            format!(
                "expression is too long ({significant} tokens; at most {MAX_TOKENS} are supported)"
            ),
            None,
        ));
    }
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokens.clone());
    let expr = parser.parse_expr().map_err(|e| match e {
        ParserError::RecursionLimitExceeded => unsupported("expression is nested too deeply", None),
        ParserError::TokenizerError(raw) | ParserError::ParserError(raw) => {
            syntax_error(&raw, sql, &tokens)
        }
    })?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(error(
            ExprErrorKind::Syntax,
            format!("expected end of expression, found: {}", next.token),
            loc(next.span.start),
        ));
    }
    Ok(expr)
}

/// Compiles one scalar SQL expression against `schema`.
pub fn compile(sql: &str, schema: &Schema) -> Result<Expr, ExprError> {
    let ast = parse(sql)?;
    Compiler { schema, depth: 0 }.expr(&ast)
}

/// Compiles an aggregate call; the function name is checked by the aggregate operator.
pub fn compile_aggregate_call(sql: &str, schema: &Schema) -> Result<AggregateCall, ExprError> {
    let ast = parse(sql)?;
    let mut e = &ast;
    while let ast::Expr::Nested(inner) = e {
        e = inner;
    }
    let not_a_call = || {
        let mut shown: String = sql.trim().chars().take(80).collect();
        if shown.len() < sql.trim().len() {
            shown.push_str("...");
        }
        error(
            ExprErrorKind::Syntax,
            format!("expected an aggregate call such as `sum(quantity)`, found `{shown}`"),
            start_of(e),
        )
    };
    let ast::Expr::Function(f) = e else {
        return Err(not_a_call());
    };
    let at = function_location(f);
    let name = match f.name.0.as_slice() {
        [ObjectNamePart::Identifier(id)] => id.value.to_lowercase(),
        _ => return Err(not_a_call()),
    };
    check_plain_call(f, &name, at, true)?;
    let list = match &f.args {
        FunctionArguments::List(list) => list,
        FunctionArguments::None => return Err(not_a_call()),
        FunctionArguments::Subquery(_) => {
            return Err(unsupported("subqueries are not supported in expressions", at))
        }
    };
    if let Some(clause) = list.clauses.first() {
        return Err(unsupported(format!("`{clause}` is not supported in aggregate calls"), at));
    }
    let distinct = list.duplicate_treatment == Some(DuplicateTreatment::Distinct);
    let mut star = false;
    let mut args = Vec::with_capacity(list.args.len());
    let mut compiler = Compiler { schema, depth: 0 };
    for arg in &list.args {
        match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(compiler.expr(e)?),
            FunctionArg::Unnamed(other) => {
                return Err(unsupported(
                    format!("`{other}` is not supported in aggregate calls"),
                    at,
                ))
            }
            FunctionArg::Named { .. } | FunctionArg::ExprNamed { .. } => {
                return Err(unsupported("named function arguments are not supported", at))
            }
        }
    }
    if star && distinct {
        return Err(error(
            ExprErrorKind::Syntax,
            format!(
                "`{name}(DISTINCT *)` is not valid; use `{name}(*)` or `{name}(DISTINCT column)`"
            ),
            at,
        ));
    }
    if star && (!args.is_empty() || list.args.len() > 1) {
        return Err(error(
            ExprErrorKind::Syntax,
            format!("`*` must be the only argument of `{name}`"),
            at,
        ));
    }
    Ok(AggregateCall { function: name, distinct, star, args })
}

/// Where a function call starts: its name.
fn function_location(f: &ast::Function) -> Loc {
    f.name.0.first().and_then(ObjectNamePart::as_ident).and_then(|i| loc(i.span.start))
}

/// Rejects window / filter / ordered-set clauses on a call.
fn check_plain_call(
    f: &ast::Function,
    name: &str,
    at: Loc,
    aggregate: bool,
) -> Result<(), ExprError> {
    if f.over.is_some() {
        return Err(unsupported(
            format!("window functions (`{name}(...) OVER ...`) are not supported"),
            at,
        ));
    }
    if f.filter.is_some() {
        return Err(unsupported(
            if aggregate {
                "`FILTER (WHERE ...)` is not supported; filter the input before aggregating"
            } else {
                "`FILTER (WHERE ...)` is only allowed on aggregate calls"
            },
            at,
        ));
    }
    if !f.within_group.is_empty() || f.null_treatment.is_some() || f.uses_odbc_syntax {
        return Err(unsupported(format!("this form of `{name}(...)` is not supported"), at));
    }
    if !matches!(f.parameters, FunctionArguments::None) {
        return Err(unsupported(
            format!("parameterised call `{name}(...)(...)` is not supported"),
            at,
        ));
    }
    Ok(())
}

/// The 1-based location where an AST expression starts (its leftmost operand), computed
/// without walking long operator chains recursively (sqlparser's `span()` recurses through the
/// whole subtree, which overflows the stack on long left-deep chains).
fn start_of(mut e: &ast::Expr) -> Loc {
    use ast::Expr as A;
    loop {
        e = match e {
            A::BinaryOp { left, .. } => left,
            A::IsNull(x)
            | A::IsNotNull(x)
            | A::IsTrue(x)
            | A::IsNotTrue(x)
            | A::IsFalse(x)
            | A::IsNotFalse(x)
            | A::IsUnknown(x)
            | A::IsNotUnknown(x)
            | A::IsDistinctFrom(x, _)
            | A::IsNotDistinctFrom(x, _) => x,
            A::InList { expr, .. }
            | A::InSubquery { expr, .. }
            | A::Between { expr, .. }
            | A::Like { expr, .. }
            | A::ILike { expr, .. }
            | A::SimilarTo { expr, .. }
            | A::RLike { expr, .. }
            | A::InUnnest { expr, .. }
            | A::IsJson { expr, .. }
            | A::IsNormalized { expr, .. }
            | A::Collate { expr, .. }
            | A::Cast { expr, .. }
            | A::UnaryOp { expr, .. } => expr,
            A::AnyOp { left, .. } | A::AllOp { left, .. } => left,
            A::AtTimeZone { timestamp, .. } => timestamp,
            A::CompoundFieldAccess { root, .. } => root,
            A::JsonAccess { value, .. } => value,
            A::Nested(inner) => inner,
            A::Identifier(ident) => return loc(ident.span.start),
            A::CompoundIdentifier(parts) => return parts.first().and_then(|i| loc(i.span.start)),
            A::Value(v) => return loc(v.span.start),
            A::Function(f) => return function_location(f),
            other => return loc(other.span().start),
        };
    }
}

/// Argument kinds for function signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Num,
    Bool,
    Temporal,
    TemporalOrStr,
    TimestampSource,
}

impl Kind {
    fn accepts(self, ty: Type) -> bool {
        ty == Type::Null
            || match self {
                Kind::Str => ty == Type::String,
                Kind::Int => ty == Type::Int,
                Kind::Num => ty.is_numeric(),
                Kind::Bool => ty == Type::Bool,
                Kind::Temporal => matches!(ty, Type::Timestamp | Type::Date),
                Kind::TemporalOrStr => matches!(ty, Type::Timestamp | Type::Date | Type::String),
                Kind::TimestampSource => {
                    matches!(
                        ty,
                        Type::Timestamp | Type::Date | Type::String | Type::Int | Type::Float
                    )
                }
            }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Int => "an int",
            Kind::Num => "a number",
            Kind::Bool => "a boolean",
            Kind::Temporal => "a timestamp or date",
            Kind::TemporalOrStr => "a timestamp, date or string",
            Kind::TimestampSource => "a string, number, timestamp or date",
        }
    }
}

/// The compiled arguments of one call, with their locations, for signature checks.
struct Args<'n> {
    name: &'n str,
    at: Loc,
    args: Vec<Expr>,
    locs: Vec<Loc>,
    max_arity: usize,
}

impl Args<'_> {
    fn arity(&mut self, min: usize, max: usize) -> Result<(), ExprError> {
        self.max_arity = max;
        let n = self.args.len();
        if (min..=max).contains(&n) {
            return Ok(());
        }
        let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
        let expected = if min == max {
            format!("{min} {}", plural(min))
        } else if max == usize::MAX {
            format!("at least {min} {}", plural(min))
        } else if max == min + 1 {
            format!("{min} or {max} arguments")
        } else {
            format!("{min} to {max} arguments")
        };
        Err(mismatch(format!("function `{}` expects {expected}, found {n}", self.name), self.at))
    }

    fn expect(&self, i: usize, kind: Kind) -> Result<(), ExprError> {
        let ty = self.args[i].ty();
        if kind.accepts(ty) {
            return Ok(());
        }
        let message = if self.max_arity == 1 {
            format!("function `{}` expects {} argument, found {ty}", self.name, kind.describe())
        } else {
            format!(
                "function `{}` expects {} as argument {}, found {ty}",
                self.name,
                kind.describe(),
                i + 1
            )
        };
        Err(mismatch(message, self.locs[i].or(self.at)))
    }

    fn expect_all(&self, kinds: &[Kind]) -> Result<(), ExprError> {
        for (i, kind) in kinds.iter().enumerate().take(self.args.len()) {
            self.expect(i, *kind)?;
        }
        Ok(())
    }

    fn any_nullable(&self) -> bool {
        self.args.iter().any(Expr::nullable)
    }

    /// A strict call: NULL when any argument is NULL, or when `fallible` and it fails.
    fn strict(self, func: Func, ty: Type, fallible: bool) -> Expr {
        let nullable = fallible || self.any_nullable();
        Expr::new(ty, nullable, Node::Call(func, self.args))
    }

    /// The text of a constant string argument (a unit or field name).
    fn literal_text(&self, i: usize, what: &str) -> Result<String, ExprError> {
        match self.args[i].as_literal() {
            Some(Value::Str(s)) => Ok(s.to_string()),
            _ => Err(mismatch(
                format!(
                    "function `{}` expects a constant string {what} as argument {}",
                    self.name,
                    i + 1
                ),
                self.locs[i].or(self.at),
            )),
        }
    }
}

/// Replaces an expression whose inputs are all constants by its value.
fn fold(e: Expr) -> Expr {
    if matches!(e.node(), Node::Column(_) | Node::Literal(_)) {
        return e;
    }
    if e.children().iter().all(|c| c.as_literal().is_some()) {
        // A constant that overflows stays an expression, so each row reports it.
        if let Ok(value) = super::eval::checked(|| e.eval(&[])) {
            return Expr::literal(value, e.ty());
        }
    }
    e
}

/// The common type of two branch types, if any.
fn unify_types(a: Type, b: Type) -> Option<Type> {
    match (a, b) {
        _ if a == b => Some(a),
        (Type::Null, t) | (t, Type::Null) => Some(t),
        (Type::Int, Type::Float) | (Type::Float, Type::Int) => Some(Type::Float),
        (Type::Decimal(a), Type::Decimal(b)) => Some(Type::Decimal(DecimalType::unify(a, b))),
        (Type::Decimal(d), Type::Int) | (Type::Int, Type::Decimal(d)) => {
            Some(Type::Decimal(DecimalType::unify(d, DecimalType::INT)))
        }
        (Type::Decimal(_), Type::Float) | (Type::Float, Type::Decimal(_)) => Some(Type::Float),
        (Type::Date, Type::Timestamp) | (Type::Timestamp, Type::Date) => Some(Type::Timestamp),
        _ => None,
    }
}

/// The common type of several expressions; `what` names the construct for errors.
fn unify(items: &[(&Expr, Loc)], what: &str) -> Result<Type, ExprError> {
    let mut ty = Type::Null;
    for (e, at) in items {
        ty = unify_types(ty, e.ty()).ok_or_else(|| {
            mismatch(format!("{what} has incompatible types: {ty} and {}", e.ty()), *at)
        })?;
    }
    Ok(ty)
}

/// Converts an expression to a unified type (int → float or decimal, decimal → float or a wider
/// decimal, date → timestamp, NULL → any).
fn coerce(e: Expr, to: Type) -> Expr {
    if e.ty() == to {
        e
    } else if e.ty() == Type::Null {
        e.with_type(to)
    } else {
        let nullable = e.nullable();
        fold(Expr::new(to, nullable, Node::Cast(Box::new(e), to)))
    }
}

/// Reads a string literal as a date, timestamp or interval when compared with one.
fn string_literal_as(e: Expr, other: Type) -> Expr {
    if !matches!(other, Type::Date | Type::Timestamp | Type::Interval) {
        return e;
    }
    match e.as_literal() {
        Some(v @ Value::Str(_)) => {
            let converted = eval::cast(v, other);
            if converted.is_null() {
                e
            } else {
                Expr::literal(converted, other)
            }
        }
        _ => e,
    }
}

fn comparable(a: Type, b: Type) -> bool {
    a == b
        || a == Type::Null
        || b == Type::Null
        || (a.is_numeric() && b.is_numeric())
        || matches!((a, b), (Type::Date, Type::Timestamp) | (Type::Timestamp, Type::Date))
}

fn check_comparable(a: &Expr, b: &Expr, at: Loc) -> Result<(), ExprError> {
    if comparable(a.ty(), b.ty()) {
        return Ok(());
    }
    let e = mismatch(format!("cannot compare {} with {}", a.ty(), b.ty()), at);
    let temporal = |t: Type| matches!(t, Type::Date | Type::Timestamp | Type::Interval);
    Err(match (a.ty(), b.ty()) {
        (Type::String, t) | (t, Type::String) if temporal(t) => hinted(
            e,
            "write a typed literal such as DATE '2026-01-01', \
             TIMESTAMP '2026-01-01T00:00:00Z' or INTERVAL '5 minutes', or CAST the string",
        ),
        (Type::String, t) | (t, Type::String) if t.is_numeric() => {
            hinted(e, format!("convert one side with CAST(... AS {})", t.name().to_uppercase()))
        }
        _ => e,
    })
}

/// Result type of an arithmetic operator, if the combination is allowed.
fn arith_type(op: ArithOp, l: Type, r: Type) -> Option<Type> {
    use ArithOp::{Add, Div, Mul, Sub};
    let additive = matches!(op, Add | Sub);
    Some(match (l, r) {
        (Type::Null, Type::Null) => Type::Null,
        (Type::Null, t) | (t, Type::Null) => match t {
            Type::Int | Type::Float | Type::Decimal(_) => t,
            Type::Timestamp | Type::Date | Type::Interval if additive => t,
            Type::Interval if matches!(op, Mul | Div) => t,
            _ => return None,
        },
        (Type::Int, Type::Int) => Type::Int,
        (Type::Decimal(a), Type::Decimal(b)) => Type::Decimal(decimal_result(op, a, b)),
        (Type::Decimal(a), Type::Int) => Type::Decimal(decimal_result(op, a, DecimalType::INT)),
        (Type::Int, Type::Decimal(b)) => Type::Decimal(decimal_result(op, DecimalType::INT, b)),
        (Type::Decimal(_), Type::Float) | (Type::Float, Type::Decimal(_)) => Type::Float,
        (Type::Int | Type::Float, Type::Int | Type::Float) => Type::Float,
        (Type::Timestamp, Type::Interval) if additive => Type::Timestamp,
        (Type::Interval, Type::Timestamp) if op == Add => Type::Timestamp,
        (Type::Timestamp, Type::Timestamp) if op == Sub => Type::Interval,
        (Type::Timestamp, Type::Date) | (Type::Date, Type::Timestamp) if op == Sub => {
            Type::Interval
        }
        (Type::Date, Type::Int) if additive => Type::Date,
        (Type::Int, Type::Date) if op == Add => Type::Date,
        (Type::Date, Type::Date) if op == Sub => Type::Int,
        (Type::Date, Type::Interval) if additive => Type::Timestamp,
        (Type::Interval, Type::Date) if op == Add => Type::Timestamp,
        (Type::Interval, Type::Interval) if additive => Type::Interval,
        (Type::Interval, Type::Int | Type::Float) if matches!(op, Mul | Div) => Type::Interval,
        (Type::Int | Type::Float, Type::Interval) if op == Mul => Type::Interval,
        _ => return None,
    })
}

/// The result type of `a op b` on decimals ([`DecimalType`] holds the rules).
fn decimal_result(op: ArithOp, a: DecimalType, b: DecimalType) -> DecimalType {
    match op {
        ArithOp::Add | ArithOp::Sub => DecimalType::for_add(a, b),
        ArithOp::Mul => DecimalType::for_mul(a, b),
        ArithOp::Div => DecimalType::for_div(a, b),
        ArithOp::Mod => DecimalType::for_rem(a, b),
    }
}

/// The operands of arithmetic with a decimal side, made alike: an int becomes a decimal and a
/// number literal (`0.9`) the exact decimal it is written as; if a float is left (a float column),
/// the decimal side becomes a float too (mixing with a float gives a float).
fn decimal_operands(l: Expr, r: Expr) -> (Expr, Expr) {
    if l.ty().as_decimal().is_none() && r.ty().as_decimal().is_none() {
        return (l, r);
    }
    let exact = |e: Expr| match e.ty() {
        Type::Int => coerce(e, Type::Decimal(DecimalType::INT)),
        Type::Float => match e.as_literal().and_then(exact_literal) {
            Some(literal) => literal,
            None => e,
        },
        _ => e,
    };
    let (l, r) = (exact(l), exact(r));
    if l.ty() != Type::Float && r.ty() != Type::Float {
        return (l, r);
    }
    let float = |e: Expr| if e.ty().as_decimal().is_some() { coerce(e, Type::Float) } else { e };
    (float(l), float(r))
}

/// A float literal as the exact decimal of its shortest text (`0.9` → `0.9`, scale 1).
fn exact_literal(v: &Value) -> Option<Expr> {
    let Value::Float(x) = v else { return None };
    let d: crate::decimal::Decimal = format!("{x}").parse().ok()?;
    let digits = d.mantissa().unsigned_abs().checked_ilog10().map_or(1, |n| n + 1);
    let ty = DecimalType::new(digits.max(d.scale()).max(1), d.scale())?;
    Some(Expr::literal(Value::Decimal(d), Type::Decimal(ty)))
}

fn arith_symbol(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
        ArithOp::Mod => "%",
    }
}

/// Type-checks `left op right` given the left side's type and nullability.
fn arith_check(
    op: ArithOp,
    lt: Type,
    l_nullable: bool,
    r: &Expr,
    at: Loc,
) -> Result<(Type, bool), ExprError> {
    let rt = r.ty();
    let Some(ty) = arith_type(op, lt, rt) else {
        let e = mismatch(
            format!("operator `{}` cannot be applied to {lt} and {rt}", arith_symbol(op)),
            at,
        );
        return Err(if op == ArithOp::Add && (lt == Type::String || rt == Type::String) {
            hinted(e, "use `||` or concat() to join strings")
        } else {
            e
        });
    };
    let nullable = l_nullable || r.nullable() || matches!(op, ArithOp::Div | ArithOp::Mod);
    Ok((ty, nullable))
}

/// Builds a type-checked arithmetic node.
fn arith_expr(op: ArithOp, l: Expr, r: Expr, at: Loc) -> Result<Expr, ExprError> {
    let (l, r) = decimal_operands(l, r);
    let (ty, nullable) = arith_check(op, l.ty(), l.nullable(), &r, at)?;
    let node = match (ty, l.ty(), r.ty()) {
        (Type::Decimal(to), Type::Decimal(_), Type::Decimal(_)) => {
            Node::DecimalArith(op, to, Box::new(l), Box::new(r))
        }
        _ => Node::Arith(op, Box::new(l), Box::new(r)),
    };
    Ok(Expr::new(ty, nullable, node))
}

fn cmp_op(op: &BinaryOperator) -> Option<CmpOp> {
    Some(match op {
        BinaryOperator::Eq => CmpOp::Eq,
        BinaryOperator::NotEq => CmpOp::NotEq,
        BinaryOperator::Lt => CmpOp::Lt,
        BinaryOperator::LtEq => CmpOp::LtEq,
        BinaryOperator::Gt => CmpOp::Gt,
        BinaryOperator::GtEq => CmpOp::GtEq,
        _ => return None,
    })
}

fn arith_op(op: &BinaryOperator) -> Option<ArithOp> {
    Some(match op {
        BinaryOperator::Plus => ArithOp::Add,
        BinaryOperator::Minus => ArithOp::Sub,
        BinaryOperator::Multiply => ArithOp::Mul,
        BinaryOperator::Divide => ArithOp::Div,
        BinaryOperator::Modulo => ArithOp::Mod,
        _ => return None,
    })
}

/// Maps a SQL type name to a column type.
fn cast_target(data_type: &ast::DataType) -> Option<Type> {
    let text = data_type.to_string().to_ascii_uppercase();
    let base = text.split('(').next().unwrap_or("").trim();
    Some(match base {
        "INT" | "INTEGER" | "BIGINT" | "SMALLINT" | "TINYINT" | "INT2" | "INT4" | "INT8"
        | "INT64" | "SIGNED" | "LONG" => Type::Int,
        "FLOAT" | "DOUBLE" | "DOUBLE PRECISION" | "REAL" | "FLOAT4" | "FLOAT8" | "FLOAT64" => {
            Type::Float
        }
        "TEXT" | "VARCHAR" | "STRING" | "CHAR" | "CHARACTER" | "CHARACTER VARYING" | "NVARCHAR" => {
            Type::String
        }
        "BOOLEAN" | "BOOL" => Type::Bool,
        "DATE" => Type::Date,
        "DATETIME" | "TIMESTAMPTZ" => Type::Timestamp,
        b if b.starts_with("TIMESTAMP") => Type::Timestamp,
        b if b.starts_with("INTERVAL") => Type::Interval,
        "DECIMAL" | "NUMERIC" | "DEC" => {
            let args = text.split_once('(')?.1;
            let lower = format!("decimal({args}").to_ascii_lowercase();
            return Type::parse_schema(&lower).map(|(ty, _)| ty);
        }
        _ => return None,
    })
}

/// Whether a cast can fail (`Some(true)`), cannot (`Some(false)`), or is not allowed.
fn cast_fallibility(from: Type, to: Type) -> Option<bool> {
    match (from, to) {
        _ if from == to => Some(false),
        (Type::Null, _) => Some(false),
        (_, Type::String) => Some(false),
        (Type::String, _) => Some(true),
        (Type::Int, Type::Float)
        | (Type::Bool, Type::Int | Type::Float)
        | (Type::Int | Type::Float, Type::Bool)
        | (Type::Date, Type::Timestamp)
        | (Type::Timestamp, Type::Date) => Some(false),
        (Type::Float, Type::Int) => Some(true),
        (Type::Decimal(_), Type::Float) => Some(false),
        (Type::Int | Type::Float | Type::Decimal(_), Type::Decimal(_))
        | (Type::Decimal(_), Type::Int) => Some(true),
        _ => None,
    }
}

fn number_literal(text: &str, at: Loc) -> Result<Expr, ExprError> {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let is_float = clean.contains(['.', 'e', 'E']);
    if !is_float {
        if let Ok(i) = clean.parse::<i64>() {
            return Ok(Expr::literal(Value::Int(i), Type::Int));
        }
    }
    match clean.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Expr::literal(Value::Float(x), Type::Float)),
        _ => Err(error(ExprErrorKind::Syntax, format!("invalid number `{text}`"), at)),
    }
}

struct Compiler<'s> {
    schema: &'s Schema,
    depth: usize,
}

impl Compiler<'_> {
    fn expr(&mut self, e: &ast::Expr) -> Result<Expr, ExprError> {
        if self.depth >= MAX_DEPTH {
            return Err(unsupported(
                format!("expression is nested too deeply (more than {MAX_DEPTH} levels)"),
                start_of(e),
            ));
        }
        self.depth += 1;
        let result = self.expr_inner(e);
        self.depth -= 1;
        result.map(fold)
    }

    fn exprs(&mut self, es: &[&ast::Expr]) -> Result<Vec<Expr>, ExprError> {
        es.iter().map(|e| self.expr(e)).collect()
    }

    /// Dispatches on the AST node. Each arm delegates to a small method so that the stack
    /// frames on a recursion path stay small (debug builds do not share stack slots).
    fn expr_inner(&mut self, e: &ast::Expr) -> Result<Expr, ExprError> {
        use ast::Expr as A;
        match e {
            A::Identifier(ident) => self.column(&ident.value, loc(ident.span.start)),
            A::CompoundIdentifier(parts) => self.compound_identifier(parts),
            A::Value(v) => literal_value(v),
            A::TypedString(ts) => typed_string(ts),
            A::Interval(interval) => interval_literal(interval),
            A::Nested(inner) => self.expr(inner),
            A::UnaryOp { op, expr } => self.unary(op, expr),
            A::BinaryOp { left, op, right } => self.binary(e, left, op, right),
            A::IsNull(_)
            | A::IsNotNull(_)
            | A::IsTrue(_)
            | A::IsNotTrue(_)
            | A::IsFalse(_)
            | A::IsNotFalse(_)
            | A::IsUnknown(_)
            | A::IsNotUnknown(_) => self.is_test(e),
            A::IsDistinctFrom(a, b) => self.is_distinct(a, b, false),
            A::IsNotDistinctFrom(a, b) => self.is_distinct(a, b, true),
            A::InList { expr, list, negated } => self.in_list(expr, list, *negated),
            A::Between { expr, negated, low, high } => self.between(expr, low, high, *negated),
            A::Like { negated, any, expr, pattern, escape_char } => {
                self.like(*negated, *any, expr, pattern, escape_char.as_deref(), false)
            }
            A::ILike { negated, any, expr, pattern, escape_char } => {
                self.like(*negated, *any, expr, pattern, escape_char.as_deref(), true)
            }
            A::Case { operand, conditions, else_result, .. } => {
                self.case(operand.as_deref(), conditions, else_result.as_deref())
            }
            A::Cast { expr, data_type, format, .. } => self.cast(expr, data_type, format.is_some()),
            A::Extract { field, expr, .. } => self.extract(field, expr),
            A::Substring { expr, substring_from, substring_for, shorthand, .. } => {
                let name = if *shorthand { "substr" } else { "substring" };
                self.substring(name, expr, substring_from.as_deref(), substring_for.as_deref())
            }
            A::Trim { trim_where, trim_what, expr, trim_characters } => self.trim(
                trim_where.as_ref(),
                trim_what.as_deref(),
                expr,
                trim_characters.as_deref(),
            ),
            // POSITION(sub IN s) = strpos(s, sub)
            A::Position { expr, r#in } => self.call("strpos", start_of(expr), &[r#in, expr]),
            A::Ceil { expr, field } => self.ceil_floor("ceil", expr, field),
            A::Floor { expr, field } => self.ceil_floor("floor", expr, field),
            A::Function(f) => self.function(f),
            other => Err(unsupported_expr(other)),
        }
    }

    fn compound_identifier(&self, parts: &[ast::Ident]) -> Result<Expr, ExprError> {
        let name = parts.iter().map(|p| p.value.as_str()).collect::<Vec<_>>().join(".");
        self.column(&name, parts.first().and_then(|p| loc(p.span.start)))
    }

    fn is_test(&mut self, e: &ast::Expr) -> Result<Expr, ExprError> {
        use ast::Expr as A;
        let (x, what, value, negated) = match e {
            A::IsNull(x) => (x, "", None, false),
            A::IsNotNull(x) => (x, "", None, true),
            A::IsTrue(x) => (x, "IS TRUE", Some(true), false),
            A::IsNotTrue(x) => (x, "IS NOT TRUE", Some(true), true),
            A::IsFalse(x) => (x, "IS FALSE", Some(false), false),
            A::IsNotFalse(x) => (x, "IS NOT FALSE", Some(false), true),
            A::IsUnknown(x) => (x, "IS UNKNOWN", None, false),
            A::IsNotUnknown(x) => (x, "IS NOT UNKNOWN", None, true),
            other => return Err(unsupported_expr(other)),
        };
        let x = if what.is_empty() { self.expr(x)? } else { self.bool_operand(x, what)? };
        let node = match value {
            Some(value) => Node::IsBool { expr: Box::new(x), value, negated },
            None => Node::IsNull(Box::new(x), negated),
        };
        Ok(Expr::new(Type::Bool, false, node))
    }

    fn is_distinct(
        &mut self,
        a: &ast::Expr,
        b: &ast::Expr,
        negated: bool,
    ) -> Result<Expr, ExprError> {
        let (l, r) = self.comparison_operands(a, b)?;
        Ok(Expr::new(Type::Bool, false, Node::IsDistinct(Box::new(l), Box::new(r), negated)))
    }

    fn between(
        &mut self,
        expr: &ast::Expr,
        low: &ast::Expr,
        high: &ast::Expr,
        negated: bool,
    ) -> Result<Expr, ExprError> {
        let x = self.expr(expr)?;
        let at = start_of(expr);
        let low = string_literal_as(self.expr(low)?, x.ty());
        let high = string_literal_as(self.expr(high)?, x.ty());
        check_comparable(&x, &low, at)?;
        check_comparable(&x, &high, at)?;
        let nullable = x.nullable() || low.nullable() || high.nullable();
        let node =
            Node::Between { expr: Box::new(x), low: Box::new(low), high: Box::new(high), negated };
        Ok(Expr::new(Type::Bool, nullable, node))
    }

    fn cast(
        &mut self,
        expr: &ast::Expr,
        data_type: &ast::DataType,
        has_format: bool,
    ) -> Result<Expr, ExprError> {
        let at = start_of(expr);
        if has_format {
            return Err(unsupported("CAST ... FORMAT is not supported", at));
        }
        let x = self.expr(expr)?;
        cast_expr(x, data_type, at)
    }

    fn extract(&mut self, field: &DateTimeField, expr: &ast::Expr) -> Result<Expr, ExprError> {
        let at = start_of(expr);
        let f = date_field(field, at)?;
        let x = self.expr(expr)?;
        extract_expr(f, x, "EXTRACT", at)
    }

    fn substring(
        &mut self,
        name: &str,
        expr: &ast::Expr,
        from: Option<&ast::Expr>,
        len: Option<&ast::Expr>,
    ) -> Result<Expr, ExprError> {
        let at = start_of(expr);
        let mut args = vec![self.expr(expr)?];
        let mut locs = vec![at];
        match from {
            Some(from) => {
                args.push(self.expr(from)?);
                locs.push(start_of(from));
            }
            None => {
                args.push(Expr::literal(Value::Int(1), Type::Int));
                locs.push(at);
            }
        }
        if let Some(len) = len {
            args.push(self.expr(len)?);
            locs.push(start_of(len));
        }
        build_call(name, at, args, locs)
    }

    fn trim(
        &mut self,
        side: Option<&TrimWhereField>,
        what: Option<&ast::Expr>,
        expr: &ast::Expr,
        characters: Option<&[ast::Expr]>,
    ) -> Result<Expr, ExprError> {
        let name = match side {
            None | Some(TrimWhereField::Both) => "trim",
            Some(TrimWhereField::Leading) => "ltrim",
            Some(TrimWhereField::Trailing) => "rtrim",
        };
        let mut raw: Vec<&ast::Expr> = vec![expr];
        raw.extend(what);
        raw.extend(characters.unwrap_or_default());
        self.call(name, start_of(expr), &raw)
    }

    fn ceil_floor(
        &mut self,
        name: &str,
        expr: &ast::Expr,
        field: &CeilFloorKind,
    ) -> Result<Expr, ExprError> {
        match field {
            CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) => {
                self.call(name, start_of(expr), &[expr])
            }
            _ => Err(unsupported(
                format!("`{name}` with a scale or time unit is not supported"),
                start_of(expr),
            )),
        }
    }

    fn column(&self, name: &str, at: Loc) -> Result<Expr, ExprError> {
        if let Some(i) = self.schema.index_of(name) {
            let field = self.schema.field(i);
            return Ok(Expr::column(i, field.ty, field.nullable));
        }
        let hint = match did_you_mean(name, self.schema.names()) {
            Some(hint) => hint,
            None if self.schema.is_empty() => "the input has no columns".to_string(),
            None => {
                const SHOWN: usize = 30;
                let names: Vec<&str> = self.schema.names().take(SHOWN).collect();
                let more = self.schema.len().saturating_sub(SHOWN);
                let tail = if more > 0 { format!(", ... ({more} more)") } else { String::new() };
                format!("available columns: {}{tail}", names.join(", "))
            }
        };
        Err(hinted(
            error(ExprErrorKind::UnknownColumn, format!("unknown column `{name}`"), at),
            hint,
        ))
    }

    fn bool_operand(&mut self, e: &ast::Expr, what: &str) -> Result<Expr, ExprError> {
        let x = self.expr(e)?;
        if matches!(x.ty(), Type::Bool | Type::Null) {
            Ok(x)
        } else {
            Err(mismatch(
                format!("{what} expects a boolean operand, found {}", x.ty()),
                start_of(e),
            ))
        }
    }

    fn unary(&mut self, op: &UnaryOperator, inner: &ast::Expr) -> Result<Expr, ExprError> {
        let at = start_of(inner);
        match op {
            UnaryOperator::Not => {
                let x = self.bool_operand(inner, "NOT")?;
                Ok(Expr::new(Type::Bool, x.nullable(), Node::Not(Box::new(x))))
            }
            UnaryOperator::Minus | UnaryOperator::Plus => {
                let x = self.expr(inner)?;
                if !matches!(
                    x.ty(),
                    Type::Int | Type::Float | Type::Decimal(_) | Type::Interval | Type::Null
                ) {
                    return Err(mismatch(
                        format!("unary `{op}` expects a number or interval, found {}", x.ty()),
                        at,
                    ));
                }
                if *op == UnaryOperator::Plus {
                    return Ok(x);
                }
                Ok(Expr::new(x.ty(), x.nullable(), Node::Neg(Box::new(x))))
            }
            other => Err(unsupported(format!("operator `{other}` is not supported"), at)),
        }
    }

    /// Collects the operands of a chain of the same operator (`a AND b AND c`) without
    /// recursing, so long chains stay flat.
    fn chain<'e>(whole: &'e ast::Expr, target: &BinaryOperator) -> Vec<&'e ast::Expr> {
        let mut stack = vec![whole];
        let mut operands = Vec::new();
        while let Some(e) = stack.pop() {
            match e {
                ast::Expr::BinaryOp { left, op, right } if op == target => {
                    stack.push(right);
                    stack.push(left);
                }
                ast::Expr::Nested(inner) if matches!(&**inner, ast::Expr::BinaryOp { op, .. } if op == target) =>
                {
                    stack.push(inner);
                }
                other => operands.push(other),
            }
        }
        operands
    }

    fn binary(
        &mut self,
        whole: &ast::Expr,
        left: &ast::Expr,
        op: &BinaryOperator,
        right: &ast::Expr,
    ) -> Result<Expr, ExprError> {
        if let Some(arith) = arith_op(op) {
            return self.arithmetic(arith, left, right);
        }
        if let Some(cmp) = cmp_op(op) {
            return self.comparison(cmp, left, right);
        }
        match op {
            BinaryOperator::And => self.logic(whole, true),
            BinaryOperator::Or => self.logic(whole, false),
            BinaryOperator::StringConcat => self.concat(whole),
            BinaryOperator::Spaceship => self.is_distinct(left, right, true),
            other => {
                Err(unsupported(format!("operator `{other}` is not supported"), start_of(left)))
            }
        }
    }

    /// `a AND b AND ...` / `a OR b OR ...`, flattened into one n-ary node.
    fn logic(&mut self, whole: &ast::Expr, is_and: bool) -> Result<Expr, ExprError> {
        let (op, what) =
            if is_and { (BinaryOperator::And, "AND") } else { (BinaryOperator::Or, "OR") };
        let mut args = Vec::new();
        let mut nullable = false;
        for operand in Self::chain(whole, &op) {
            let x = self.bool_operand(operand, what)?;
            nullable |= x.nullable();
            args.push(x);
        }
        let node = if is_and { Node::And(args) } else { Node::Or(args) };
        Ok(Expr::new(Type::Bool, nullable, node))
    }

    /// `a || b || ...`: NULL if any part is NULL; at least one part must be a string.
    fn concat(&mut self, whole: &ast::Expr) -> Result<Expr, ExprError> {
        let operands = Self::chain(whole, &BinaryOperator::StringConcat);
        let parts = self.exprs(&operands)?;
        if !parts.iter().any(|p| matches!(p.ty(), Type::String | Type::Null)) {
            let types: Vec<&str> = parts.iter().map(|p| p.ty().name()).collect();
            let message =
                format!("operator `||` expects string operands, found {}", types.join(" and "));
            return Err(hinted(
                mismatch(message, start_of(whole)),
                "convert one side with CAST(... AS TEXT)",
            ));
        }
        let nullable = parts.iter().any(Expr::nullable);
        let node = Node::Concat { parts, skip_nulls: false };
        Ok(Expr::new(Type::String, nullable, node))
    }

    fn comparison(
        &mut self,
        cmp: CmpOp,
        left: &ast::Expr,
        right: &ast::Expr,
    ) -> Result<Expr, ExprError> {
        let (l, r) = self.comparison_operands(left, right)?;
        let nullable = l.nullable() || r.nullable();
        Ok(Expr::new(Type::Bool, nullable, Node::Cmp(cmp, Box::new(l), Box::new(r))))
    }

    /// Arithmetic. The left spine of `a + b - c * d ...` is walked iteratively so long chains
    /// neither recurse here nor build a deep tree.
    fn arithmetic(
        &mut self,
        arith: ArithOp,
        left: &ast::Expr,
        right: &ast::Expr,
    ) -> Result<Expr, ExprError> {
        let at = start_of(left);
        let mut spine = vec![(arith, right)];
        let mut leftmost = left;
        while let ast::Expr::BinaryOp { left, op, right } = leftmost {
            match arith_op(op) {
                Some(op) => {
                    spine.push((op, right));
                    leftmost = left;
                }
                None => break,
            }
        }
        let first = self.expr(leftmost)?;
        if spine.len() == 1 {
            let r = self.expr(right)?;
            return arith_expr(arith, first, r, at);
        }
        let mut rest = Vec::with_capacity(spine.len());
        for (op, raw) in spine.into_iter().rev() {
            rest.push((op, self.expr(raw)?));
        }
        if std::iter::once(&first)
            .chain(rest.iter().map(|(_, e)| e))
            .any(|e| e.ty().as_decimal().is_some())
        {
            // Each step of a decimal chain has its own result type: nest the steps.
            return rest.into_iter().try_fold(first, |acc, (op, r)| arith_expr(op, acc, r, at));
        }
        let (mut ty, mut nullable) = (first.ty(), first.nullable());
        for (op, r) in &rest {
            (ty, nullable) = arith_check(*op, ty, nullable, r, at)?;
        }
        Ok(Expr::new(ty, nullable, Node::ArithChain(Box::new(first), rest)))
    }

    /// Compiles both sides of a comparison and checks that they compare.
    fn comparison_operands(
        &mut self,
        left: &ast::Expr,
        right: &ast::Expr,
    ) -> Result<(Expr, Expr), ExprError> {
        let l = self.expr(left)?;
        let r = self.expr(right)?;
        let l = string_literal_as(l, r.ty());
        let r = string_literal_as(r, l.ty());
        check_comparable(&l, &r, start_of(left))?;
        Ok((l, r))
    }

    fn in_list(
        &mut self,
        expr: &ast::Expr,
        list: &[ast::Expr],
        negated: bool,
    ) -> Result<Expr, ExprError> {
        let x = self.expr(expr)?;
        let mut items = Vec::with_capacity(list.len());
        for item in list {
            let it = string_literal_as(self.expr(item)?, x.ty());
            check_comparable(&x, &it, start_of(item))?;
            items.push(it);
        }
        let nullable = x.nullable() || items.iter().any(Expr::nullable);
        if !items.iter().all(|it| it.as_literal().is_some()) {
            let node = Node::InList { expr: Box::new(x), list: items, negated };
            return Ok(Expr::new(Type::Bool, nullable, node));
        }
        let mut values = Vec::with_capacity(items.len());
        let mut has_null = false;
        for it in items {
            match it.as_literal() {
                Some(Value::Null) | None => has_null = true,
                Some(v) => values.push(v.clone()),
            }
        }
        let set = if values.len() < HASH_IN_LIST_FROM {
            None
        } else if x.ty() == Type::Int && values.iter().all(|v| matches!(v, Value::Int(_))) {
            Some(ConstSet::Ints(values.iter().filter_map(Value::as_int).collect()))
        } else if x.ty() == Type::String && values.iter().all(|v| matches!(v, Value::Str(_))) {
            let set: HashSet<_> = values
                .iter()
                .filter_map(|v| match v {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            Some(ConstSet::Strs(set))
        } else {
            None
        };
        Ok(Expr::new(
            Type::Bool,
            nullable,
            Node::InConst { expr: Box::new(x), values, set, has_null, negated },
        ))
    }

    fn like(
        &mut self,
        negated: bool,
        any: bool,
        expr: &ast::Expr,
        pattern: &ast::Expr,
        escape: Option<&ast::Expr>,
        case_insensitive: bool,
    ) -> Result<Expr, ExprError> {
        let what = if case_insensitive { "ILIKE" } else { "LIKE" };
        if any {
            return Err(unsupported(format!("{what} ANY is not supported"), start_of(expr)));
        }
        let x = self.expr(expr)?;
        let p = self.expr(pattern)?;
        for (e, raw) in [(&x, expr), (&p, pattern)] {
            if !matches!(e.ty(), Type::String | Type::Null) {
                return Err(mismatch(
                    format!("{what} expects string operands, found {}", e.ty()),
                    start_of(raw),
                ));
            }
        }
        let escape = match escape {
            None => Some('\\'),
            Some(raw) => {
                let esc = self.expr(raw)?;
                match esc.as_literal() {
                    Some(Value::Str(s)) if s.is_empty() => None,
                    Some(Value::Str(s)) if s.chars().count() == 1 => s.chars().next(),
                    _ => {
                        return Err(mismatch(
                            "ESCAPE expects a single-character string literal",
                            start_of(raw),
                        ))
                    }
                }
            }
        };
        let nullable = x.nullable() || p.nullable();
        let node = match p.as_literal() {
            Some(Value::Str(s)) => Node::Like {
                expr: Box::new(x),
                pattern: LikePattern::new(s, escape, case_insensitive),
                negated,
            },
            _ => Node::LikeDynamic {
                expr: Box::new(x),
                pattern: Box::new(p),
                escape,
                case_insensitive,
                negated,
            },
        };
        Ok(Expr::new(Type::Bool, nullable, node))
    }

    fn case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
    ) -> Result<Expr, ExprError> {
        let operand = match operand {
            Some(raw) => Some((self.expr(raw)?, start_of(raw))),
            None => None,
        };
        let mut whens = Vec::with_capacity(conditions.len());
        let mut results = Vec::with_capacity(conditions.len() + 1);
        for cw in conditions {
            let when = match &operand {
                Some((subject, at)) => {
                    let w = string_literal_as(self.expr(&cw.condition)?, subject.ty());
                    check_comparable(subject, &w, start_of(&cw.condition).or(*at))?;
                    w
                }
                None => self.bool_operand(&cw.condition, "CASE WHEN")?,
            };
            whens.push(when);
            results.push((self.expr(&cw.result)?, start_of(&cw.result)));
        }
        let otherwise = match else_result {
            Some(raw) => Some((self.expr(raw)?, start_of(raw))),
            None => None,
        };
        let mut typed: Vec<(&Expr, Loc)> = results.iter().map(|(e, l)| (e, *l)).collect();
        if let Some((e, l)) = &otherwise {
            typed.push((e, *l));
        }
        let ty = unify(&typed, "CASE")?;
        let nullable = otherwise.is_none() || typed.iter().any(|(e, _)| e.nullable());
        let whens = whens.into_iter().zip(results).map(|(w, (r, _))| (w, coerce(r, ty))).collect();
        Ok(Expr::new(
            ty,
            nullable,
            Node::Case {
                operand: operand.map(|(e, _)| Box::new(e)),
                whens,
                otherwise: otherwise.map(|(e, _)| Box::new(coerce(e, ty))),
            },
        ))
    }

    fn function(&mut self, f: &ast::Function) -> Result<Expr, ExprError> {
        let at = function_location(f);
        let name = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(id)] => {
                // sqlparser reads bare words such as `user` or `current_date` as calls without
                // parentheses; they name a column when the input has one.
                if matches!(f.args, FunctionArguments::None)
                    && (self.schema.index_of(&id.value).is_some()
                        || !NONDETERMINISTIC.contains(&id.value.to_lowercase().as_str()))
                {
                    return self.column(&id.value, at);
                }
                id.value.to_lowercase()
            }
            _ => {
                return Err(error(
                    ExprErrorKind::UnknownFunction,
                    format!("unknown function `{}`", f.name),
                    at,
                ))
            }
        };
        if AGGREGATE_FUNCTIONS.contains(&name.as_str()) {
            return Err(unsupported(
                format!("aggregate `{name}` is not allowed here; use an `aggregate` operator"),
                at,
            ));
        }
        if NONDETERMINISTIC.contains(&name.as_str()) {
            return Err(unsupported(
                format!(
                    "`{name}` is not supported: expressions must depend only on the input row \
                     (use the event-time column instead)"
                ),
                at,
            ));
        }
        check_plain_call(f, &name, at, false)?;
        let raw: Vec<&ast::Expr> = match &f.args {
            FunctionArguments::None => {
                return Err(if SCALAR_FUNCTIONS.contains(&name.as_str()) {
                    error(
                        ExprErrorKind::Syntax,
                        format!("function `{name}` needs parentheses: `{name}(...)`"),
                        at,
                    )
                } else {
                    unknown_function(&name, at)
                });
            }
            FunctionArguments::Subquery(_) => {
                return Err(unsupported("subqueries are not supported in expressions", at))
            }
            FunctionArguments::List(list) => {
                if list.duplicate_treatment == Some(DuplicateTreatment::Distinct) {
                    return Err(unsupported("DISTINCT is only allowed in aggregate calls", at));
                }
                if let Some(clause) = list.clauses.first() {
                    return Err(unsupported(
                        format!("`{clause}` is not supported in function calls"),
                        at,
                    ));
                }
                let mut raw = Vec::with_capacity(list.args.len());
                for arg in &list.args {
                    match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => raw.push(e),
                        FunctionArg::Unnamed(_) => {
                            return Err(unsupported(
                                "`*` is only allowed in count(*) of an `aggregate` operator",
                                at,
                            ))
                        }
                        FunctionArg::Named { .. } | FunctionArg::ExprNamed { .. } => {
                            return Err(unsupported(
                                "named function arguments are not supported",
                                at,
                            ))
                        }
                    }
                }
                raw
            }
        };
        self.call(&name, at, &raw)
    }

    /// Compiles a call of a scalar function by (lower-case) name.
    fn call(&mut self, name: &str, at: Loc, raw: &[&ast::Expr]) -> Result<Expr, ExprError> {
        if !SCALAR_FUNCTIONS.contains(&name) {
            return Err(unknown_function(name, at));
        }
        let args = self.exprs(raw)?;
        let locs = raw.iter().map(|e| start_of(e)).collect();
        build_call(name, at, args, locs)
    }
}

/// Type-checks a scalar function call over compiled arguments (no recursion, so its large
/// frame never sits on a recursion path).
fn build_call(name: &str, at: Loc, args: Vec<Expr>, locs: Vec<Loc>) -> Result<Expr, ExprError> {
    let mut a = Args { name, at, args, locs, max_arity: usize::MAX };
    {
        use Kind::{Int, Num, Str};
        match name {
            "abs" | "floor" | "ceil" | "ceiling" => {
                a.arity(1, 1)?;
                a.expect(0, Num)?;
                let ty = a.args[0].ty();
                let func = match name {
                    "abs" => Func::Abs,
                    "floor" => Func::Floor,
                    _ => Func::Ceil,
                };
                match (ty, func) {
                    (Type::Decimal(d), Func::Floor) => Ok(round_decimal(a, d, Rounding::Floor)),
                    (Type::Decimal(d), Func::Ceil) => Ok(round_decimal(a, d, Rounding::Ceil)),
                    _ => Ok(a.strict(func, ty, false)),
                }
            }
            "round" | "round_half_even" => {
                a.arity(1, 2)?;
                a.expect_all(&[Num, Int])?;
                let ty = a.args[0].ty();
                let half_even = name == "round_half_even";
                match ty {
                    Type::Decimal(d) if half_even => Ok(round_decimal(a, d, Rounding::HalfEven)),
                    Type::Decimal(d) => Ok(round_decimal(a, d, Rounding::HalfUp)),
                    _ if half_even => Ok(a.strict(Func::RoundHalfEven, ty, false)),
                    _ if a.args.len() == 2 => Ok(a.strict(Func::RoundTo, ty, false)),
                    _ => Ok(a.strict(Func::Round, ty, false)),
                }
            }
            "sqrt" | "ln" | "log10" | "log" | "exp" => {
                a.arity(1, 1)?;
                a.expect(0, Num)?;
                let (func, fallible) = match name {
                    "sqrt" => (Func::Sqrt, true),
                    "ln" => (Func::Ln, true),
                    "exp" => (Func::Exp, false),
                    _ => (Func::Log10, true),
                };
                Ok(a.strict(func, Type::Float, fallible))
            }
            "power" | "pow" => {
                a.arity(2, 2)?;
                a.expect_all(&[Num, Num])?;
                Ok(a.strict(Func::Power, Type::Float, true))
            }
            "sign" => {
                a.arity(1, 1)?;
                a.expect(0, Num)?;
                Ok(a.strict(Func::Sign, Type::Int, false))
            }
            "mod" => {
                a.arity(2, 2)?;
                let mut it = a.args.into_iter();
                let (l, r) = (it.next().unwrap_or_else(null), it.next().unwrap_or_else(null));
                arith_expr(ArithOp::Mod, l, r, a.at)
            }
            "lower" | "upper" => {
                a.arity(1, 1)?;
                a.expect(0, Str)?;
                let func = if name == "lower" { Func::Lower } else { Func::Upper };
                Ok(a.strict(func, Type::String, false))
            }
            "length" | "char_length" | "character_length" => {
                a.arity(1, 1)?;
                a.expect(0, Str)?;
                Ok(a.strict(Func::Length, Type::Int, false))
            }
            "trim" | "btrim" | "ltrim" | "rtrim" => {
                a.arity(1, 2)?;
                a.expect_all(&[Str, Str])?;
                let side = match name {
                    "ltrim" => TrimSide::Leading,
                    "rtrim" => TrimSide::Trailing,
                    _ => TrimSide::Both,
                };
                Ok(a.strict(Func::Trim(side), Type::String, false))
            }
            "substr" | "substring" => {
                a.arity(2, 3)?;
                a.expect_all(&[Str, Int, Int])?;
                Ok(a.strict(Func::Substr, Type::String, false))
            }
            "concat" => {
                a.arity(1, usize::MAX)?;
                Ok(Expr::new(Type::String, false, Node::Concat { parts: a.args, skip_nulls: true }))
            }
            "replace" => {
                a.arity(3, 3)?;
                a.expect_all(&[Str, Str, Str])?;
                Ok(a.strict(Func::Replace, Type::String, false))
            }
            "starts_with" | "ends_with" | "contains" => {
                a.arity(2, 2)?;
                a.expect_all(&[Str, Str])?;
                let func = match name {
                    "starts_with" => Func::StartsWith,
                    "ends_with" => Func::EndsWith,
                    _ => Func::Contains,
                };
                Ok(a.strict(func, Type::Bool, false))
            }
            "strpos" | "position" => {
                a.arity(2, 2)?;
                a.expect_all(&[Str, Str])?;
                Ok(a.strict(Func::Strpos, Type::Int, false))
            }
            "split_part" => {
                a.arity(3, 3)?;
                a.expect_all(&[Str, Str, Int])?;
                Ok(a.strict(Func::SplitPart, Type::String, false))
            }
            "left" | "right" => {
                a.arity(2, 2)?;
                a.expect_all(&[Str, Int])?;
                let func = if name == "left" { Func::Left } else { Func::Right };
                Ok(a.strict(func, Type::String, false))
            }
            "lpad" | "rpad" => {
                a.arity(2, 3)?;
                a.expect_all(&[Str, Int, Str])?;
                let func = if name == "lpad" { Func::Lpad } else { Func::Rpad };
                Ok(a.strict(func, Type::String, true))
            }
            "format_number" => {
                a.arity(2, 2)?;
                a.expect_all(&[Num, Int])?;
                let in_range = match a.args[1].as_literal() {
                    Some(Value::Int(n)) if !(0..=MAX_DECIMALS).contains(n) => {
                        return Err(mismatch(
                            format!("function `format_number` prints 0 to {MAX_DECIMALS} decimals, found {n}"),
                            a.locs[1].or(at),
                        ))
                    }
                    Some(_) => true,
                    None => false,
                };
                Ok(a.strict(Func::FormatNumber, Type::String, !in_range))
            }
            "format" => format_call(a),
            "coalesce" | "ifnull" | "nvl" => {
                if name == "coalesce" {
                    a.arity(1, usize::MAX)?;
                } else {
                    a.arity(2, 2)?;
                }
                let typed: Vec<(&Expr, Loc)> =
                    a.args.iter().zip(&a.locs).map(|(e, l)| (e, *l)).collect();
                let ty = unify(&typed, &format!("`{name}`"))?;
                let nullable = a.args.iter().all(Expr::nullable);
                let args = a.args.into_iter().map(|e| coerce(e, ty)).collect();
                Ok(Expr::new(ty, nullable, Node::Coalesce(args)))
            }
            "greatest" | "least" => {
                a.arity(1, usize::MAX)?;
                let typed: Vec<(&Expr, Loc)> =
                    a.args.iter().zip(&a.locs).map(|(e, l)| (e, *l)).collect();
                let ty = unify(&typed, &format!("`{name}`"))?;
                let nullable = a.args.iter().all(Expr::nullable);
                let args = a.args.into_iter().map(|e| coerce(e, ty)).collect();
                Ok(Expr::new(ty, nullable, Node::Extreme(args, name == "greatest")))
            }
            "nullif" => {
                a.arity(2, 2)?;
                let mut it = a.args.into_iter();
                let (l, r) = (it.next().unwrap_or_else(null), it.next().unwrap_or_else(null));
                let l = string_literal_as(l, r.ty());
                let r = string_literal_as(r, l.ty());
                check_comparable(&l, &r, a.locs[0])?;
                let ty = if l.ty() == Type::Null { r.ty() } else { l.ty() };
                Ok(Expr::new(ty, true, Node::NullIf(Box::new(l), Box::new(r))))
            }
            "if" => {
                a.arity(3, 3)?;
                a.expect(0, Kind::Bool)?;
                let typed = [(&a.args[1], a.locs[1]), (&a.args[2], a.locs[2])];
                let ty = unify(&typed, "`if`")?;
                let nullable = a.args[1].nullable() || a.args[2].nullable();
                let mut it = a.args.into_iter();
                let cond = it.next().unwrap_or_else(null);
                let then = coerce(it.next().unwrap_or_else(null), ty);
                let otherwise = coerce(it.next().unwrap_or_else(null), ty);
                Ok(Expr::new(
                    ty,
                    nullable,
                    Node::Case {
                        operand: None,
                        whens: vec![(cond, then)],
                        otherwise: Some(Box::new(otherwise)),
                    },
                ))
            }
            "date_trunc" => {
                a.arity(2, 2)?;
                let unit = time_unit(&a, 0)?;
                a.expect(1, Kind::Temporal)?;
                let nullable = a.args[1].nullable();
                let x = a.args.pop().unwrap_or_else(null);
                Ok(Expr::new(Type::Timestamp, nullable, Node::DateTrunc(unit, Box::new(x))))
            }
            "date_part" | "extract" => {
                a.arity(2, 2)?;
                let text = a.literal_text(0, "field name")?;
                let field =
                    DateField::parse(&text).ok_or_else(|| unknown_field(&text, a.locs[0]))?;
                let at = a.locs[1];
                let x = a.args.pop().unwrap_or_else(null);
                extract_expr(field, x, name, at)
            }
            "date_diff" | "datediff" => {
                a.arity(if name == "datediff" { 2 } else { 3 }, 3)?;
                let (unit, start, end) = if a.args.len() == 3 {
                    let unit = time_unit(&a, 0)?;
                    a.expect(1, Kind::Temporal)?;
                    a.expect(2, Kind::Temporal)?;
                    let end = a.args.pop().unwrap_or_else(null);
                    let start = a.args.pop().unwrap_or_else(null);
                    (unit, start, end)
                } else {
                    // Spark: datediff(end, start) in days
                    a.expect(0, Kind::Temporal)?;
                    a.expect(1, Kind::Temporal)?;
                    let start = a.args.pop().unwrap_or_else(null);
                    let end = a.args.pop().unwrap_or_else(null);
                    (TimeUnit::Day, start, end)
                };
                let nullable = start.nullable() || end.nullable();
                Ok(Expr::new(
                    Type::Int,
                    nullable,
                    Node::DateDiff(unit, Box::new(start), Box::new(end)),
                ))
            }
            "date" | "to_date" => {
                a.arity(1, 1)?;
                a.expect(0, Kind::TemporalOrStr)?;
                match a.args[0].ty() {
                    Type::Date => Ok(a.args.pop().unwrap_or_else(null)),
                    ty => {
                        let fallible = ty == Type::String;
                        Ok(a.strict(Func::ToDate, Type::Date, fallible))
                    }
                }
            }
            "to_timestamp" => {
                a.arity(1, 1)?;
                a.expect(0, Kind::TimestampSource)?;
                match a.args[0].ty() {
                    Type::Timestamp => Ok(a.args.pop().unwrap_or_else(null)),
                    ty => {
                        let fallible = matches!(ty, Type::String | Type::Float);
                        Ok(a.strict(Func::ToTimestamp, Type::Timestamp, fallible))
                    }
                }
            }
            "make_date" => {
                a.arity(3, 3)?;
                a.expect_all(&[Int, Int, Int])?;
                Ok(a.strict(Func::MakeDate, Type::Date, true))
            }
            "cast" | "try_cast" => Err(error(
                ExprErrorKind::Syntax,
                format!("`{name}` must be written as CAST(x AS type)"),
                at,
            )),
            _ => Err(unknown_function(name, at)),
        }
    }
}

/// `format(fmt, args...)`: a constant format string whose conversions match the arguments.
fn format_call(mut a: Args<'_>) -> Result<Expr, ExprError> {
    a.arity(1, usize::MAX)?;
    let fmt = a.literal_text(0, "format string")?;
    let pieces = format::parse(&fmt).map_err(|message| {
        hinted(
            error(
                ExprErrorKind::Syntax,
                format!("function `format`: {message}"),
                a.locs[0].or(a.at),
            ),
            "conversions: %s (any value), %d (int), %f or %.2f (number), %% (a percent sign); \
             optional width and flags: %5d, %-8s, %05d",
        )
    })?;
    let kinds: Vec<Conversion> = format::conversions(&pieces).collect();
    if kinds.len() != a.args.len() - 1 {
        return Err(mismatch(
            format!(
                "function `format`: the format string has {} conversions, found {} arguments after it",
                kinds.len(),
                a.args.len() - 1
            ),
            a.at,
        ));
    }
    for (i, kind) in kinds.iter().enumerate() {
        let (ty, at) = (a.args[i + 1].ty(), a.locs[i + 1].or(a.at));
        match kind {
            Conversion::Int if !matches!(ty, Type::Int | Type::Null) => {
                return Err(hinted(
                    mismatch(format!("function `format`: `%d` expects an int, found {ty}"), at),
                    "use %.0f for a float, or %s",
                ))
            }
            Conversion::Fixed(_) if !Kind::Num.accepts(ty) => {
                return Err(mismatch(
                    format!("function `format`: `%f` expects a number, found {ty}"),
                    at,
                ))
            }
            _ => {}
        }
    }
    let args = a.args.split_off(1);
    let nullable = args.iter().any(Expr::nullable);
    Ok(Expr::new(Type::String, nullable, Node::Format(pieces.into(), args)))
}

/// `round`, `round_half_even`, `floor` or `ceil` of a `decimal` argument `x`: with constant digits
/// (or none) the result has that many decimals; with computed digits, `x`'s scale.
fn round_decimal(a: Args<'_>, x: DecimalType, rounding: Rounding) -> Expr {
    let digits = match a.args.get(1).map(Expr::as_literal) {
        None => Some(0),
        Some(Some(Value::Int(n))) => Some(*n),
        Some(_) => None,
    };
    let to = match digits {
        Some(n) => x.round(n),
        None => x,
    };
    a.strict(Func::RoundDecimal(rounding, to), Type::Decimal(to), false)
}

/// `CAST(x AS type)` over a compiled operand.
fn cast_expr(x: Expr, data_type: &ast::DataType, at: Loc) -> Result<Expr, ExprError> {
    let text = data_type.to_string().to_ascii_uppercase();
    let base = text.split('(').next().unwrap_or("").trim();
    if ["DECIMAL", "NUMERIC", "DEC"].contains(&base) && !text.contains('(') {
        return Err(hinted(
            unsupported(format!("cannot cast to `{data_type}` without a precision"), at),
            "write DECIMAL(p, s), e.g. DECIMAL(10, 2): p digits in total (1 to 28), s after the point",
        ));
    }
    if ["MONEY", "BIGNUMERIC", "BIGDECIMAL"].contains(&base) {
        return Err(hinted(
            unsupported(format!("cannot cast to `{data_type}`"), at),
            "use DECIMAL(p, s), e.g. DECIMAL(10, 2)",
        ));
    }
    let Some(to) = cast_target(data_type) else {
        return Err(hinted(
            unsupported(format!("cannot cast to `{data_type}`"), at),
            "supported types: INT, FLOAT, DECIMAL(p, s) (p from 1 to 28, s from 0 to p), TEXT, BOOLEAN, DATE, TIMESTAMP, INTERVAL",
        ));
    };
    let from = x.ty();
    if from == to {
        return Ok(x);
    }
    if from == Type::Null {
        return Ok(x.with_type(to));
    }
    let Some(fallible) = cast_fallibility(from, to) else {
        let e = mismatch(format!("cannot cast {from} to {to}"), at);
        return Err(match (from, to) {
            (Type::Int | Type::Float, Type::Timestamp) => {
                hinted(e, "use to_timestamp(seconds) to read epoch seconds")
            }
            (Type::Timestamp | Type::Date, Type::Int | Type::Float) => {
                hinted(e, "use EXTRACT(EPOCH FROM ...) for epoch seconds")
            }
            _ => e,
        });
    };
    let nullable = x.nullable() || fallible;
    Ok(Expr::new(to, nullable, Node::Cast(Box::new(x), to)))
}

/// The error for AST nodes the compiler does not handle.
fn unsupported_expr(e: &ast::Expr) -> ExprError {
    use ast::Expr as A;
    let at = start_of(e);
    match e {
        A::SimilarTo { .. } | A::RLike { .. } => unsupported(
            "regular expressions (SIMILAR TO, RLIKE, REGEXP) are not supported; use LIKE",
            at,
        ),
        A::InSubquery { .. } | A::Subquery(_) | A::Exists { .. } => {
            unsupported("subqueries are not supported in expressions", at)
        }
        A::Wildcard(_) | A::QualifiedWildcard(..) => {
            unsupported("`*` is only allowed in count(*) of an `aggregate` operator", at)
        }
        other => unsupported(format!("{} not supported", describe(other)), at),
    }
}

/// A short name for an unsupported AST node. (Not its SQL text: printing a node recurses
/// through its subtree, which may be an arbitrarily long chain.)
fn describe(e: &ast::Expr) -> &'static str {
    use ast::Expr as A;
    match e {
        A::Collate { .. } => "`COLLATE` is",
        A::AtTimeZone { .. } => "`AT TIME ZONE` is",
        A::CompoundFieldAccess { .. } | A::JsonAccess { .. } => "field and element access is",
        A::Array(_) => "array expressions are",
        A::Map(_) | A::Dictionary(_) | A::Struct { .. } => "map and struct expressions are",
        A::Tuple(_) => "row values (tuples) are",
        A::Lambda(_) => "lambda expressions are",
        A::AnyOp { .. } | A::AllOp { .. } => "`ANY` / `ALL` comparisons are",
        A::InUnnest { .. } => "`IN UNNEST` is",
        A::IsJson { .. } => "`IS JSON` is",
        A::IsNormalized { .. } => "`IS NORMALIZED` is",
        A::Overlay { .. } => "`OVERLAY` is",
        A::Convert { .. } => "`CONVERT` is",
        A::MatchAgainst { .. } => "`MATCH ... AGAINST` is",
        A::GroupingSets(_) | A::Cube(_) | A::Rollup(_) => "grouping sets are",
        A::MemberOf(_) => "`MEMBER OF` is",
        _ => "this kind of expression is",
    }
}

/// A placeholder for argument lists whose length was already checked.
fn null() -> Expr {
    Expr::literal(Value::Null, Type::Null)
}

fn unknown_function(name: &str, at: Loc) -> ExprError {
    let e = error(ExprErrorKind::UnknownFunction, format!("unknown function `{name}`"), at);
    let candidates = SCALAR_FUNCTIONS.iter().chain(AGGREGATE_FUNCTIONS.iter()).copied();
    match did_you_mean(name, candidates) {
        Some(hint) => hinted(e, hint),
        None => e,
    }
}

fn unknown_field(text: &str, at: Loc) -> ExprError {
    let e = unsupported(format!("unknown date/time field `{text}`"), at);
    let hint = did_you_mean(text, DateField::NAMES)
        .unwrap_or_else(|| format!("supported fields: {}", DateField::NAMES.join(", ")));
    hinted(e, hint)
}

/// The constant unit argument of `date_trunc` / `date_diff`.
fn time_unit(a: &Args<'_>, i: usize) -> Result<TimeUnit, ExprError> {
    let text = a.literal_text(i, "unit such as 'hour'")?;
    TimeUnit::parse(&text).ok_or_else(|| {
        let e = mismatch(format!("function `{}`: unknown unit `{text}`", a.name), a.locs[i]);
        let hint = did_you_mean(&text, TimeUnit::NAMES)
            .unwrap_or_else(|| format!("supported units: {}", TimeUnit::NAMES.join(", ")));
        hinted(e, hint)
    })
}

fn date_field(field: &DateTimeField, at: Loc) -> Result<DateField, ExprError> {
    let text = match field {
        DateTimeField::Custom(ident) => ident.value.clone(),
        other => other.to_string(),
    };
    DateField::parse(&text).ok_or_else(|| unknown_field(&text.to_lowercase(), at))
}

/// `EXTRACT(field FROM x)`: int fields, float for EPOCH (which also accepts intervals).
fn extract_expr(field: DateField, x: Expr, what: &str, at: Loc) -> Result<Expr, ExprError> {
    let ok = match x.ty() {
        Type::Timestamp | Type::Date | Type::Null => true,
        Type::Interval => field == DateField::Epoch,
        _ => false,
    };
    if !ok {
        let expected = if field == DateField::Epoch {
            "a timestamp, date or interval"
        } else {
            "a timestamp or date"
        };
        let e = mismatch(format!("{what} expects {expected}, found {}", x.ty()), at);
        return Err(if x.ty() == Type::String {
            hinted(e, "convert the string first with CAST(... AS TIMESTAMP)")
        } else {
            e
        });
    }
    let ty = if field == DateField::Epoch { Type::Float } else { Type::Int };
    let nullable = x.nullable();
    Ok(Expr::new(ty, nullable, Node::Extract(field, Box::new(x))))
}

fn literal_value(v: &ast::ValueWithSpan) -> Result<Expr, ExprError> {
    let at = loc(v.span.start);
    match &v.value {
        ast::Value::Number(text, _) => number_literal(text, at),
        ast::Value::Boolean(b) => Ok(Expr::literal(Value::Bool(*b), Type::Bool)),
        ast::Value::Null => Ok(null()),
        ast::Value::Placeholder(p) => {
            Err(unsupported(format!("query parameters such as `{p}` are not supported"), at))
        }
        ast::Value::SingleQuotedString(text)
        | ast::Value::EscapedStringLiteral(text)
        | ast::Value::UnicodeStringLiteral(text)
        | ast::Value::NationalStringLiteral(text)
        | ast::Value::TripleSingleQuotedString(text)
        | ast::Value::TripleDoubleQuotedString(text)
        | ast::Value::DoubleQuotedString(text) => Ok(Expr::literal(Value::str(text), Type::String)),
        ast::Value::DollarQuotedString(dollar) => {
            Ok(Expr::literal(Value::str(&dollar.value), Type::String))
        }
        other => Err(unsupported(format!("literal `{other}` is not supported"), at)),
    }
}

/// `DATE '...'`, `TIMESTAMP '...'` and other `<type> 'text'` constants.
fn typed_string(ts: &ast::TypedString) -> Result<Expr, ExprError> {
    let at = loc(ts.value.span.start);
    let Some(to) = cast_target(&ts.data_type) else {
        return Err(unsupported(
            format!("`{} '...'` literals are not supported", ts.data_type),
            at,
        ));
    };
    let Some(text) = ts.value.value.clone().into_string() else {
        return Err(error(
            ExprErrorKind::Syntax,
            format!("expected a quoted string after {}", ts.data_type),
            at,
        ));
    };
    if to == Type::Interval {
        return interval_from_text(&text, None, at);
    }
    let value = eval::cast(&Value::str(&text), to);
    if value.is_null() {
        let e = error(ExprErrorKind::Syntax, format!("invalid {to} literal '{text}'"), at);
        return Err(match to {
            Type::Date => hinted(e, "dates are written DATE 'YYYY-MM-DD'"),
            Type::Timestamp => hinted(e, "timestamps are written TIMESTAMP '2026-01-01T07:00:00Z'"),
            _ => e,
        });
    }
    Ok(Expr::literal(value, to))
}

fn interval_from_text(text: &str, unit: Option<i64>, at: Loc) -> Result<Expr, ExprError> {
    match temporal::parse_interval(text, unit) {
        Ok(micros) => Ok(Expr::literal(Value::Interval(micros), Type::Interval)),
        Err(message) if message.contains("no fixed length") => Err(unsupported(message, at)),
        Err(message) => Err(error(ExprErrorKind::Syntax, message, at)),
    }
}

/// `INTERVAL '5 minutes'`, `INTERVAL '1' HOUR`, `INTERVAL 5 MINUTE`.
fn interval_literal(interval: &ast::Interval) -> Result<Expr, ExprError> {
    let at = start_of(&interval.value);
    if interval.last_field.is_some() {
        return Err(unsupported(
            "interval ranges such as `HOUR TO MINUTE` are not supported; write e.g. \
             INTERVAL '1 hour 30 minutes'",
            at,
        ));
    }
    let unit = match &interval.leading_field {
        None => None,
        Some(field) => match temporal::interval_qualifier_micros(&field.to_string()) {
            Ok(micros) => Some(micros),
            Err(message) if message.contains("no fixed length") => {
                return Err(unsupported(message, at))
            }
            Err(message) => return Err(error(ExprErrorKind::Syntax, message, at)),
        },
    };
    let text = match &*interval.value {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => Some(n.clone()),
            other => other.clone().into_string(),
        },
        ast::Expr::UnaryOp { op: UnaryOperator::Minus, expr } => match &**expr {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => Some(format!("-{n}")),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    match text {
        Some(text) => interval_from_text(&text, unit, at),
        None => Err(mismatch("INTERVAL expects a constant such as '5 minutes'", at)),
    }
}
