//! The compiled expression tree and its evaluator.
//!
//! The tree is built once by [`super::compile`]: columns are positions, literals are [`Value`]s,
//! functions are enum variants and units/patterns are pre-parsed. Evaluation is a tree walk that
//! borrows column and literal values instead of cloning them ([`Expr::eval_cow`]) and evaluates
//! predicates straight to `Option<bool>` ([`Expr::eval_pred`]), so comparisons, boolean logic and
//! integer arithmetic never allocate.

use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt::Write as _;

use compact_str::CompactString;

use super::format::{self as text_format, Piece};
use super::like::LikePattern;
use super::temporal::{self, clamp_days, date_to_micros, micros_to_days, DateField, TimeUnit};
use crate::decimal::{self, Decimal, DecimalFault, DecimalOp, DecimalType, Rounding};
use crate::value::{parse_date, parse_timestamp, Type, Value};

/// Longest string `lpad` / `rpad` build (in characters); longer requests give NULL.
pub(crate) const MAX_PAD: i64 = 1 << 20;

/// An integer operation whose exact result does not fit in 64 bits, or a decimal one whose
/// result does not fit its `decimal(p, s)` type: the engine never wraps around or silently
/// rounds, so the value is not computed (see [`checked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    /// The operator or function that overflowed: `+`, `-`, `*`, `/`, unary `-`, `abs`, `round`.
    pub operator: &'static str,
    /// What overflowed: `integer` or `decimal`.
    pub kind: &'static str,
}

thread_local! {
    /// The first overflow of the evaluation running on this thread.
    static OVERFLOW: Cell<Option<Overflow>> = const { Cell::new(None) };
}

/// Records an integer overflow of `operator`; the overflowing value is NULL, and an evaluation
/// run through [`checked`] fails instead.
#[cold]
fn overflow(operator: &'static str) -> Value {
    record_overflow(Overflow { operator, kind: "integer" })
}

/// Records a decimal overflow of `operator`, as [`overflow`] does.
#[cold]
fn decimal_overflow(operator: &'static str) -> Value {
    record_overflow(Overflow { operator, kind: "decimal" })
}

fn record_overflow(what: Overflow) -> Value {
    OVERFLOW.with(|o| {
        if o.get().is_none() {
            o.set(Some(what));
        }
    });
    Value::Null
}

/// Runs `eval` (evaluations of compiled expressions) and fails if any integer operation in it
/// overflowed. The one place integer overflow is detected: evaluation itself only records it,
/// so the common path stays a plain tree walk.
pub fn checked<T>(eval: impl FnOnce() -> T) -> Result<T, Overflow> {
    OVERFLOW.with(|o| o.set(None));
    let value = eval();
    match OVERFLOW.with(Cell::take) {
        None => Ok(value),
        Some(overflow) => Err(overflow),
    }
}

/// `Some(x)` as an int value, or the overflow of `operator`.
fn int_or_overflow(x: Option<i64>, operator: &'static str) -> Value {
    match x {
        Some(x) => Value::Int(x),
        None => overflow(operator),
    }
}

/// A compiled, typed expression. Cheap to clone, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Expr {
    ty: Type,
    nullable: bool,
    node: Node,
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    fn test(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::NotEq => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::LtEq => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::GtEq => ord != Ordering::Less,
        }
    }
}

/// Which side(s) `trim` strips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrimSide {
    Both,
    Leading,
    Trailing,
}

/// Strict scalar functions: NULL in any argument gives NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Abs,
    Round,
    RoundTo,
    Floor,
    Ceil,
    Sqrt,
    Power,
    Ln,
    Log10,
    Exp,
    Sign,
    Lower,
    Upper,
    Length,
    /// `trim(s)` on whitespace, or `trim(s, chars)` with a second argument.
    Trim(TrimSide),
    /// `substr(s, start[, len])`.
    Substr,
    Replace,
    StartsWith,
    EndsWith,
    Contains,
    /// `strpos(s, sub)`: 1-based character position, 0 when absent.
    Strpos,
    SplitPart,
    Left,
    Right,
    Lpad,
    Rpad,
    /// `format_number(x, n)`.
    FormatNumber,
    /// `round(x[, n])`, `round_half_even(x[, n])`, `floor(x)` and `ceil(x)` of a decimal,
    /// fitted to the result type.
    RoundDecimal(Rounding, DecimalType),
    /// `round_half_even(x[, n])` of an int or float.
    RoundHalfEven,
    ToDate,
    ToTimestamp,
    MakeDate,
}

/// Literal `IN` lists large enough to hash.
#[derive(Debug, Clone)]
pub(crate) enum ConstSet {
    Ints(HashSet<i64>),
    Strs(HashSet<CompactString>),
}

/// A node of the compiled tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Column(usize),
    Literal(Value),
    Neg(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    /// Arithmetic on two decimals, exact, fitted to the result type (an overflow otherwise).
    DecimalArith(ArithOp, DecimalType, Box<Expr>, Box<Expr>),
    /// A left-deep chain `a op1 b op2 c ...`, evaluated left to right without recursion.
    ArithChain(Box<Expr>, Vec<(ArithOp, Expr)>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `IS [NOT] NULL` (negated = `IS NOT NULL`).
    IsNull(Box<Expr>, bool),
    /// `IS [NOT] TRUE|FALSE`.
    IsBool {
        expr: Box<Expr>,
        value: bool,
        negated: bool,
    },
    /// `IS [NOT] DISTINCT FROM` (negated = `IS NOT DISTINCT FROM`).
    IsDistinct(Box<Expr>, Box<Expr>, bool),
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `IN` over literal values (NULLs removed and remembered in `has_null`).
    InConst {
        expr: Box<Expr>,
        values: Vec<Value>,
        set: Option<ConstSet>,
        has_null: bool,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: LikePattern,
        negated: bool,
    },
    /// `LIKE` with a pattern computed per row.
    LikeDynamic {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<char>,
        case_insensitive: bool,
        negated: bool,
    },
    /// `a || b` (`skip_nulls` false: NULL if any part is NULL) and `concat(...)` (NULLs skipped).
    Concat {
        parts: Vec<Expr>,
        skip_nulls: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Coalesce(Vec<Expr>),
    NullIf(Box<Expr>, Box<Expr>),
    /// `greatest` (true) / `least` (false), ignoring NULLs.
    Extreme(Vec<Expr>, bool),
    Cast(Box<Expr>, Type),
    Call(Func, Vec<Expr>),
    /// `format(fmt, args...)` with its format string parsed; strict in `args`.
    Format(std::sync::Arc<[Piece]>, Vec<Expr>),
    DateTrunc(TimeUnit, Box<Expr>),
    Extract(DateField, Box<Expr>),
    DateDiff(TimeUnit, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// A reference to column `index` of type `ty`.
    pub fn column(index: usize, ty: Type, nullable: bool) -> Expr {
        Expr { ty, nullable, node: Node::Column(index) }
    }

    /// A constant.
    pub fn literal(value: Value, ty: Type) -> Expr {
        Expr { ty, nullable: value.is_null(), node: Node::Literal(value) }
    }

    pub(crate) fn new(ty: Type, nullable: bool, node: Node) -> Expr {
        Expr { ty, nullable, node }
    }

    /// The result type.
    pub fn ty(&self) -> Type {
        self.ty
    }

    /// Whether the result may be NULL.
    pub fn nullable(&self) -> bool {
        self.nullable
    }

    /// The column position when the expression is a bare column reference.
    pub fn as_column(&self) -> Option<usize> {
        match self.node {
            Node::Column(index) => Some(index),
            _ => None,
        }
    }

    /// The value when the expression is a constant.
    pub fn as_literal(&self) -> Option<&Value> {
        match &self.node {
            Node::Literal(value) => Some(value),
            _ => None,
        }
    }

    pub(crate) fn node(&self) -> &Node {
        &self.node
    }

    /// Re-types an expression that is statically NULL (type [`Type::Null`]).
    pub(crate) fn with_type(mut self, ty: Type) -> Expr {
        self.ty = ty;
        self
    }

    /// The direct children, for constant folding at compile time.
    pub(crate) fn children(&self) -> Vec<&Expr> {
        match &self.node {
            Node::Column(_) | Node::Literal(_) => Vec::new(),
            Node::Neg(e)
            | Node::Not(e)
            | Node::IsNull(e, _)
            | Node::IsBool { expr: e, .. }
            | Node::Like { expr: e, .. }
            | Node::Cast(e, _)
            | Node::DateTrunc(_, e)
            | Node::Extract(_, e) => vec![e],
            Node::InConst { expr, .. } => vec![expr],
            Node::Arith(_, a, b)
            | Node::DecimalArith(_, _, a, b)
            | Node::Cmp(_, a, b)
            | Node::IsDistinct(a, b, _)
            | Node::NullIf(a, b)
            | Node::DateDiff(_, a, b) => vec![a, b],
            Node::LikeDynamic { expr, pattern, .. } => vec![expr, pattern],
            Node::Between { expr, low, high, .. } => vec![expr, low, high],
            Node::And(xs)
            | Node::Or(xs)
            | Node::Coalesce(xs)
            | Node::Extreme(xs, _)
            | Node::Call(_, xs)
            | Node::Format(_, xs)
            | Node::Concat { parts: xs, .. } => xs.iter().collect(),
            Node::InList { expr, list, .. } => {
                std::iter::once(&**expr).chain(list.iter()).collect()
            }
            Node::ArithChain(first, rest) => {
                std::iter::once(&**first).chain(rest.iter().map(|(_, e)| e)).collect()
            }
            Node::Case { operand, whens, otherwise } => operand
                .iter()
                .map(|e| &**e)
                .chain(whens.iter().flat_map(|(w, t)| [w, t]))
                .chain(otherwise.iter().map(|e| &**e))
                .collect(),
        }
    }

    /// Whether evaluating may overflow (the expression has integer `+ - * /`, unary minus, `abs`
    /// or `round(x, digits)`, or decimal arithmetic or rounding).
    pub fn can_overflow(&self) -> bool {
        let int_op = match &self.node {
            // A chain's running value starts as its first operand.
            Node::ArithChain(first, _) => first.ty == Type::Int,
            Node::Neg(_) | Node::Arith(..) | Node::Call(Func::Abs | Func::RoundTo, _) => {
                self.ty == Type::Int
            }
            Node::Call(Func::RoundHalfEven, args) => self.ty == Type::Int && args.len() > 1,
            Node::DecimalArith(..) | Node::Call(Func::RoundDecimal(..), _) => true,
            _ => false,
        };
        int_op || self.children().iter().any(|c| c.can_overflow())
    }

    /// Evaluates against a row of the schema the expression was compiled for.
    pub fn eval(&self, row: &[Value]) -> Value {
        self.eval_cow(row).into_owned()
    }

    /// Evaluates a predicate: NULL counts as false.
    pub fn eval_bool(&self, row: &[Value]) -> bool {
        self.eval_pred(row) == Some(true)
    }

    /// Evaluates, borrowing the result from the row or the tree when it is a column or a
    /// constant.
    #[inline]
    pub fn eval_cow<'a>(&'a self, row: &'a [Value]) -> Cow<'a, Value> {
        // The common leaves are handled inline at the call site; everything else goes through
        // the out-of-line evaluator.
        match &self.node {
            Node::Column(index) => Cow::Borrowed(&row[*index]),
            Node::Literal(value) => Cow::Borrowed(value),
            _ => self.eval_node(row),
        }
    }

    #[inline(never)]
    fn eval_node<'a>(&'a self, row: &'a [Value]) -> Cow<'a, Value> {
        let value = match &self.node {
            Node::Column(index) => return Cow::Borrowed(&row[*index]),
            Node::Literal(value) => return Cow::Borrowed(value),
            Node::Cmp(..)
            | Node::And(_)
            | Node::Or(_)
            | Node::Not(_)
            | Node::IsNull(..)
            | Node::IsBool { .. }
            | Node::IsDistinct(..)
            | Node::Between { .. }
            | Node::InList { .. }
            | Node::InConst { .. }
            | Node::Like { .. }
            | Node::LikeDynamic { .. } => match self.pred_node(row) {
                Some(b) => Value::Bool(b),
                None => Value::Null,
            },
            Node::Neg(e) => match &*e.eval_cow(row) {
                Value::Int(i) => int_or_overflow(i.checked_neg(), "unary -"),
                Value::Float(x) => Value::Float(-x),
                Value::Decimal(d) if d.is_zero() => Value::Decimal(*d),
                Value::Decimal(d) => Value::Decimal(-*d),
                Value::Interval(i) => Value::Interval(i.saturating_neg()),
                _ => Value::Null,
            },
            Node::Arith(op, a, b) => arith(*op, &a.eval_cow(row), &b.eval_cow(row)),
            Node::DecimalArith(op, to, a, b) => match (&*a.eval_cow(row), &*b.eval_cow(row)) {
                (Value::Decimal(x), Value::Decimal(y)) => decimal_arith(*op, *x, *y, *to),
                _ => Value::Null,
            },
            Node::ArithChain(first, rest) => {
                // Operands are numbers, temporals or intervals: cloning them never allocates.
                let mut acc = first.eval_cow(row).into_owned();
                for (op, e) in rest {
                    acc = arith(*op, &acc, &e.eval_cow(row));
                }
                acc
            }
            Node::Concat { parts, skip_nulls } => {
                let mut out = CompactString::default();
                for part in parts {
                    match &*part.eval_cow(row) {
                        Value::Null if *skip_nulls => {}
                        Value::Null => return Cow::Owned(Value::Null),
                        other => write_text(&mut out, other),
                    }
                }
                Value::Str(out)
            }
            Node::Case { operand, whens, otherwise } => {
                match operand {
                    None => {
                        for (when, then) in whens {
                            if when.eval_pred(row) == Some(true) {
                                return then.eval_cow(row);
                            }
                        }
                    }
                    Some(operand) => {
                        let subject = operand.eval_cow(row);
                        if !subject.is_null() {
                            for (when, then) in whens {
                                if cmp_values(&subject, &when.eval_cow(row))
                                    == Some(Ordering::Equal)
                                {
                                    return then.eval_cow(row);
                                }
                            }
                        }
                    }
                }
                match otherwise {
                    Some(e) => return e.eval_cow(row),
                    None => Value::Null,
                }
            }
            Node::Coalesce(args) => {
                for arg in args {
                    let v = arg.eval_cow(row);
                    if !v.is_null() {
                        return v;
                    }
                }
                Value::Null
            }
            Node::NullIf(a, b) => {
                let v = a.eval_cow(row);
                if cmp_values(&v, &b.eval_cow(row)) == Some(Ordering::Equal) {
                    Value::Null
                } else {
                    return v;
                }
            }
            Node::Extreme(args, greatest) => {
                let want = if *greatest { Ordering::Greater } else { Ordering::Less };
                let mut best: Option<Cow<'a, Value>> = None;
                for arg in args {
                    let v = arg.eval_cow(row);
                    if v.is_null() {
                        continue;
                    }
                    best = match best {
                        Some(b) if cmp_values(&v, &b) != Some(want) => Some(b),
                        _ => Some(v),
                    };
                }
                return best.unwrap_or(Cow::Owned(Value::Null));
            }
            Node::Cast(e, to) => cast(&e.eval_cow(row), *to),
            Node::Call(func, args) => call(*func, args, row),
            Node::Format(pieces, args) => {
                let values: Vec<Cow<'_, Value>> = args.iter().map(|a| a.eval_cow(row)).collect();
                if values.iter().any(|v| v.is_null()) {
                    return Cow::Owned(Value::Null);
                }
                let values: Vec<&Value> = values.iter().map(|v| &**v).collect();
                Value::Str(text_format::render(pieces, &values))
            }
            Node::DateTrunc(unit, e) => match instant(&e.eval_cow(row)) {
                Some(t) => Value::Timestamp(unit.trunc(t)),
                None => Value::Null,
            },
            Node::Extract(field, e) => match &*e.eval_cow(row) {
                Value::Interval(us) => Value::Float(temporal::epoch_seconds(*us)),
                v => match (instant(v), field) {
                    (Some(t), DateField::Epoch) => Value::Float(temporal::epoch_seconds(t)),
                    (Some(t), field) => Value::Int(field.extract(t)),
                    (None, _) => Value::Null,
                },
            },
            Node::DateDiff(unit, start, end) => {
                match (instant(&start.eval_cow(row)), instant(&end.eval_cow(row))) {
                    (Some(s), Some(e)) => Value::Int(unit.diff(s, e)),
                    _ => Value::Null,
                }
            }
        };
        Cow::Owned(value)
    }

    /// Evaluates a boolean expression with three-valued logic: `None` is NULL.
    #[inline]
    pub fn eval_pred(&self, row: &[Value]) -> Option<bool> {
        match &self.node {
            Node::Column(index) => row[*index].as_bool(),
            Node::Literal(value) => value.as_bool(),
            _ => self.pred_node(row),
        }
    }

    #[inline(never)]
    fn pred_node(&self, row: &[Value]) -> Option<bool> {
        match &self.node {
            Node::Column(index) => row[*index].as_bool(),
            Node::Literal(value) => value.as_bool(),
            Node::Cmp(op, a, b) => {
                cmp_values(&a.eval_cow(row), &b.eval_cow(row)).map(|ord| op.test(ord))
            }
            Node::And(args) => {
                let mut unknown = false;
                for arg in args {
                    match arg.eval_pred(row) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown {
                    None
                } else {
                    Some(true)
                }
            }
            Node::Or(args) => {
                let mut unknown = false;
                for arg in args {
                    match arg.eval_pred(row) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown {
                    None
                } else {
                    Some(false)
                }
            }
            Node::Not(e) => e.eval_pred(row).map(|b| !b),
            Node::IsNull(e, negated) => Some(e.eval_cow(row).is_null() != *negated),
            Node::IsBool { expr, value, negated } => {
                Some((expr.eval_pred(row) == Some(*value)) != *negated)
            }
            Node::IsDistinct(a, b, negated) => {
                let (a, b) = (a.eval_cow(row), b.eval_cow(row));
                let distinct = match (a.is_null(), b.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    (false, false) => cmp_values(&a, &b) != Some(Ordering::Equal),
                };
                Some(distinct != *negated)
            }
            Node::Between { expr, low, high, negated } => {
                let v = expr.eval_cow(row);
                let above = cmp_values(&v, &low.eval_cow(row)).map(|o| o != Ordering::Less);
                if above == Some(false) {
                    return Some(*negated);
                }
                let below = cmp_values(&v, &high.eval_cow(row)).map(|o| o != Ordering::Greater);
                match (above, below) {
                    (_, Some(false)) => Some(*negated),
                    (Some(true), Some(true)) => Some(!*negated),
                    _ => None,
                }
            }
            Node::InList { expr, list, negated } => {
                let v = expr.eval_cow(row);
                if v.is_null() {
                    return None;
                }
                let mut unknown = false;
                for item in list {
                    match cmp_values(&v, &item.eval_cow(row)) {
                        Some(Ordering::Equal) => return Some(!*negated),
                        None => unknown = true,
                        Some(_) => {}
                    }
                }
                if unknown {
                    None
                } else {
                    Some(*negated)
                }
            }
            Node::InConst { expr, values, set, has_null, negated } => {
                let v = expr.eval_cow(row);
                let found = match (&*v, set) {
                    (Value::Null, _) => return None,
                    (Value::Int(i), Some(ConstSet::Ints(set))) => set.contains(i),
                    (Value::Str(s), Some(ConstSet::Strs(set))) => set.contains(s.as_str()),
                    (v, _) => values.iter().any(|x| cmp_values(v, x) == Some(Ordering::Equal)),
                };
                if found {
                    Some(!*negated)
                } else if *has_null {
                    None
                } else {
                    Some(*negated)
                }
            }
            Node::Like { expr, pattern, negated } => match &*expr.eval_cow(row) {
                Value::Str(s) => Some(pattern.matches(s) != *negated),
                _ => None,
            },
            Node::LikeDynamic { expr, pattern, escape, case_insensitive, negated } => {
                let v = expr.eval_cow(row);
                let p = pattern.eval_cow(row);
                match (&*v, &*p) {
                    (Value::Str(s), Value::Str(p)) => {
                        let compiled = LikePattern::new(p, *escape, *case_insensitive);
                        Some(compiled.matches(s) != *negated)
                    }
                    _ => None,
                }
            }
            _ => self.eval_node(row).as_bool(),
        }
    }
}

/// The instant of a timestamp or (midnight of) a date.
fn instant(v: &Value) -> Option<i64> {
    match v {
        Value::Timestamp(t) => Some(*t),
        Value::Date(d) => Some(date_to_micros(*d)),
        _ => None,
    }
}

/// Total order on floats that still treats `-0.0 = 0.0`; NaN sorts above every number.
fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or_else(|| a.total_cmp(&b))
}

/// Exact comparison of an integer with a float.
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return if f.is_sign_negative() { Ordering::Greater } else { Ordering::Less };
    }
    if f >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    let whole = f.trunc();
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - whole)).unwrap_or(Ordering::Equal),
        other => other,
    }
}

/// SQL comparison of two values; `None` when either is NULL (or the types do not compare,
/// which the compiler rules out). Ints and floats compare numerically, dates compare with
/// timestamps as midnight UTC.
#[inline]
pub(crate) fn cmp_values(a: &Value, b: &Value) -> Option<Ordering> {
    Some(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Str(x), Value::Str(y)) => x.as_str().cmp(y.as_str()),
        (Value::Float(x), Value::Float(y)) => cmp_f64(*x, *y),
        (Value::Int(x), Value::Float(y)) => cmp_int_float(*x, *y),
        (Value::Float(x), Value::Int(y)) => cmp_int_float(*y, *x).reverse(),
        (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Date(x), Value::Timestamp(y)) => date_to_micros(*x).cmp(y),
        (Value::Timestamp(x), Value::Date(y)) => x.cmp(&date_to_micros(*y)),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Interval(x), Value::Interval(y)) => x.cmp(y),
        (Value::Decimal(x), Value::Decimal(y)) => x.cmp(y),
        (Value::Decimal(x), Value::Int(y)) => decimal::cmp_int(*x, *y),
        (Value::Int(x), Value::Decimal(y)) => decimal::cmp_int(*y, *x).reverse(),
        (Value::Decimal(x), Value::Float(y)) => decimal::cmp_float(*x, *y),
        (Value::Float(x), Value::Decimal(y)) => decimal::cmp_float(*y, *x).reverse(),
        _ => return None,
    })
}

/// `x op y` on decimals, fitted to `to`; NULL for a zero divisor, an overflow if it does not fit.
fn decimal_arith(op: ArithOp, x: Decimal, y: Decimal, to: DecimalType) -> Value {
    let (dop, symbol) = match op {
        ArithOp::Add => (DecimalOp::Add, "+"),
        ArithOp::Sub => (DecimalOp::Sub, "-"),
        ArithOp::Mul => (DecimalOp::Mul, "*"),
        ArithOp::Div => (DecimalOp::Div, "/"),
        ArithOp::Mod => (DecimalOp::Rem, "%"),
    };
    match decimal::checked(dop, x, y).map(|d| decimal::fit(d, to)) {
        Ok(Some(d)) => Value::Decimal(d),
        Err(DecimalFault::ZeroDivisor) => Value::Null,
        Ok(None) | Err(DecimalFault::Overflow) => decimal_overflow(symbol),
    }
}

fn float_arith(op: ArithOp, a: f64, b: f64) -> Value {
    match op {
        ArithOp::Add => Value::Float(a + b),
        ArithOp::Sub => Value::Float(a - b),
        ArithOp::Mul => Value::Float(a * b),
        ArithOp::Div if b == 0.0 => Value::Null,
        ArithOp::Div => Value::Float(a / b),
        ArithOp::Mod if b == 0.0 => Value::Null,
        ArithOp::Mod => Value::Float(a % b),
    }
}

fn scale_interval(us: i64, factor: f64) -> i64 {
    (us as f64 * factor).round() as i64
}

/// Binary arithmetic on two values (the compiler has checked the type combination).
pub(crate) fn arith(op: ArithOp, a: &Value, b: &Value) -> Value {
    use ArithOp::*;
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => match op {
            Add => int_or_overflow(x.checked_add(*y), "+"),
            Sub => int_or_overflow(x.checked_sub(*y), "-"),
            Mul => int_or_overflow(x.checked_mul(*y), "*"),
            Div | Mod if *y == 0 => Value::Null,
            Div => int_or_overflow(x.checked_div(*y), "/"),
            // Only `i64::MIN % -1` fails, and its exact value is 0.
            Mod => Value::Int(x.checked_rem(*y).unwrap_or(0)),
        },
        (Value::Float(x), Value::Float(y)) => float_arith(op, *x, *y),
        (Value::Int(x), Value::Float(y)) => float_arith(op, *x as f64, *y),
        (Value::Float(x), Value::Int(y)) => float_arith(op, *x, *y as f64),
        (Value::Timestamp(t), Value::Interval(i)) => match op {
            Add => Value::Timestamp(t.saturating_add(*i)),
            Sub => Value::Timestamp(t.saturating_sub(*i)),
            _ => Value::Null,
        },
        (Value::Interval(i), Value::Timestamp(t)) if op == Add => {
            Value::Timestamp(t.saturating_add(*i))
        }
        (Value::Timestamp(x), Value::Timestamp(y)) if op == Sub => {
            Value::Interval(x.saturating_sub(*y))
        }
        (Value::Date(d), Value::Int(n)) => match op {
            Add => Value::Date(clamp_days(i64::from(*d).saturating_add(*n))),
            Sub => Value::Date(clamp_days(i64::from(*d).saturating_sub(*n))),
            _ => Value::Null,
        },
        (Value::Int(n), Value::Date(d)) if op == Add => {
            Value::Date(clamp_days(i64::from(*d).saturating_add(*n)))
        }
        (Value::Timestamp(t), Value::Date(d)) if op == Sub => {
            Value::Interval(t.saturating_sub(date_to_micros(*d)))
        }
        (Value::Date(d), Value::Timestamp(t)) if op == Sub => {
            Value::Interval(date_to_micros(*d).saturating_sub(*t))
        }
        (Value::Date(x), Value::Date(y)) if op == Sub => Value::Int(i64::from(*x) - i64::from(*y)),
        (Value::Date(d), Value::Interval(i)) => match op {
            Add => Value::Timestamp(date_to_micros(*d).saturating_add(*i)),
            Sub => Value::Timestamp(date_to_micros(*d).saturating_sub(*i)),
            _ => Value::Null,
        },
        (Value::Interval(i), Value::Date(d)) if op == Add => {
            Value::Timestamp(date_to_micros(*d).saturating_add(*i))
        }
        (Value::Interval(x), Value::Interval(y)) => match op {
            Add => Value::Interval(x.saturating_add(*y)),
            Sub => Value::Interval(x.saturating_sub(*y)),
            _ => Value::Null,
        },
        (Value::Interval(i), Value::Int(n)) => match op {
            Mul => Value::Interval(i.saturating_mul(*n)),
            Div if *n == 0 => Value::Null,
            Div => Value::Interval(i.saturating_div(*n)),
            _ => Value::Null,
        },
        (Value::Int(n), Value::Interval(i)) if op == Mul => Value::Interval(i.saturating_mul(*n)),
        (Value::Interval(i), Value::Float(f)) => match op {
            Mul => Value::Interval(scale_interval(*i, *f)),
            Div if *f == 0.0 => Value::Null,
            Div => Value::Interval(scale_interval(*i, 1.0 / f)),
            _ => Value::Null,
        },
        (Value::Float(f), Value::Interval(i)) if op == Mul => {
            Value::Interval(scale_interval(*i, *f))
        }
        _ => Value::Null,
    }
}

fn float_to_int(x: f64) -> Value {
    let r = x.round();
    if r.is_finite() && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) {
        Value::Int(r as i64)
    } else {
        Value::Null
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    const TRUE: [&str; 6] = ["true", "t", "yes", "y", "on", "1"];
    const FALSE: [&str; 6] = ["false", "f", "no", "n", "off", "0"];
    if TRUE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| s.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// Parses a date, also accepting a full timestamp (its UTC day).
fn parse_day(s: &str) -> Option<i32> {
    parse_date(s).or_else(|| parse_timestamp(s).map(|t| clamp_days(micros_to_days(t))))
}

/// `CAST(v AS to)`; NULL when the conversion fails.
pub(crate) fn cast(v: &Value, to: Type) -> Value {
    match (v, to) {
        (Value::Null, _) => Value::Null,
        (Value::Str(s), Type::String) => Value::Str(s.clone()),
        (_, Type::String) => {
            let mut out = CompactString::default();
            write_text(&mut out, v);
            Value::Str(out)
        }
        (Value::Int(i), Type::Int) => Value::Int(*i),
        (Value::Float(x), Type::Int) => float_to_int(*x),
        (Value::Bool(b), Type::Int) => Value::Int(i64::from(*b)),
        (Value::Str(s), Type::Int) => s.trim().parse().map_or(Value::Null, Value::Int),
        (Value::Int(i), Type::Float) => Value::Float(*i as f64),
        (Value::Float(x), Type::Float) => Value::Float(*x),
        (Value::Bool(b), Type::Float) => Value::Float(if *b { 1.0 } else { 0.0 }),
        (Value::Str(s), Type::Float) => s.trim().parse().map_or(Value::Null, Value::Float),
        (Value::Bool(b), Type::Bool) => Value::Bool(*b),
        (Value::Int(i), Type::Bool) => Value::Bool(*i != 0),
        (Value::Float(x), Type::Bool) => Value::Bool(*x != 0.0),
        (Value::Str(s), Type::Bool) => parse_bool(s).map_or(Value::Null, Value::Bool),
        (Value::Date(d), Type::Date) => Value::Date(*d),
        (Value::Timestamp(t), Type::Date) => Value::Date(clamp_days(micros_to_days(*t))),
        (Value::Str(s), Type::Date) => parse_day(s).map_or(Value::Null, Value::Date),
        (Value::Timestamp(t), Type::Timestamp) => Value::Timestamp(*t),
        (Value::Date(d), Type::Timestamp) => Value::Timestamp(date_to_micros(*d)),
        (Value::Str(s), Type::Timestamp) => {
            parse_timestamp(s).map_or(Value::Null, Value::Timestamp)
        }
        (Value::Interval(i), Type::Interval) => Value::Interval(*i),
        (Value::Str(s), Type::Decimal(t)) => {
            decimal::parse(s, t).map_or(Value::Null, Value::Decimal)
        }
        (number, Type::Decimal(t)) => {
            decimal::from_number(number, t).map_or(Value::Null, Value::Decimal)
        }
        (Value::Decimal(d), Type::Int) => decimal::to_int(*d).map_or(Value::Null, Value::Int),
        (Value::Decimal(d), Type::Float) => Value::Float(decimal::to_float(*d)),
        (Value::Str(s), Type::Interval) => {
            temporal::parse_interval(s, None).map_or(Value::Null, Value::Interval)
        }
        _ => Value::Null,
    }
}

/// Appends the text form of a value (as `CAST(v AS TEXT)` prints it).
pub(crate) fn write_text(out: &mut CompactString, v: &Value) {
    match v {
        Value::Str(s) => out.push_str(s),
        // Dates outside the calendar range print as their day number (as `format_date` would,
        // without its overflow on extreme values).
        Value::Date(d) if !(temporal::MIN_DATE_DAYS..=temporal::MAX_DATE_DAYS).contains(d) => {
            let _ = write!(out, "{d}");
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

fn str_of(v: &Value) -> &str {
    match v {
        Value::Str(s) => s.as_str(),
        _ => "",
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(x) => *x as i64,
        _ => 0,
    }
}

fn float_of(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn string(s: &str) -> Value {
    Value::Str(CompactString::from(s))
}

/// A non-NaN float, or NULL.
fn finite_or_null(x: f64) -> Value {
    if x.is_nan() {
        Value::Null
    } else {
        Value::Float(x)
    }
}

/// Byte offset of the character at 0-based index `n`, or `s.len()` past the end.
fn char_offset(s: &str, n: u64) -> usize {
    if s.is_ascii() {
        return usize::try_from(n).map_or(s.len(), |n| n.min(s.len()));
    }
    usize::try_from(n).ok().and_then(|n| s.char_indices().nth(n)).map_or(s.len(), |(i, _)| i)
}

fn char_count(s: &str) -> u64 {
    if s.is_ascii() {
        s.len() as u64
    } else {
        s.chars().count() as u64
    }
}

/// `substr(s, start, len)` with PostgreSQL semantics: 1-based, positions before 1 count
/// against `len`, a negative `len` gives the empty string.
fn substr(s: &str, start: i64, len: Option<i64>) -> &str {
    let begin = start.max(1);
    let end = match len {
        Some(len) if len < 0 => return "",
        Some(len) => start.saturating_add(len),
        None => i64::MAX,
    };
    if end <= begin {
        return "";
    }
    let from = char_offset(s, (begin - 1) as u64);
    let to = if end == i64::MAX { s.len() } else { char_offset(s, (end - 1) as u64) };
    &s[from..to.max(from)]
}

/// `left(s, n)`: the first `n` characters; negative `n` drops the last `|n|`.
fn left(s: &str, n: i64) -> &str {
    let keep = if n >= 0 { n as u64 } else { char_count(s).saturating_sub(n.unsigned_abs()) };
    &s[..char_offset(s, keep)]
}

/// `right(s, n)`: the last `n` characters; negative `n` drops the first `|n|`.
fn right(s: &str, n: i64) -> &str {
    let skip = if n >= 0 { char_count(s).saturating_sub(n as u64) } else { n.unsigned_abs() };
    &s[char_offset(s, skip)..]
}

fn split_part<'a>(s: &'a str, delim: &str, n: i64) -> &'a str {
    if delim.is_empty() {
        return if n == 1 || n == -1 { s } else { "" };
    }
    if n > 0 {
        usize::try_from(n - 1).ok().and_then(|i| s.split(delim).nth(i)).unwrap_or("")
    } else if n < 0 {
        let count = s.split(delim).count() as u64;
        match count.checked_sub(n.unsigned_abs()) {
            Some(i) => usize::try_from(i).ok().and_then(|i| s.split(delim).nth(i)).unwrap_or(""),
            None => "",
        }
    } else {
        ""
    }
}

fn pad(s: &str, len: i64, fill: &str, on_left: bool) -> Value {
    if len > MAX_PAD {
        return Value::Null;
    }
    if len <= 0 {
        return string("");
    }
    let len = len as u64;
    let have = char_count(s);
    if have >= len {
        return string(&s[..char_offset(s, len)]);
    }
    if fill.is_empty() {
        return string(s);
    }
    let mut out = CompactString::with_capacity(s.len() + (len - have) as usize);
    let padding = fill.chars().cycle().take((len - have) as usize);
    if on_left {
        out.extend(padding);
        out.push_str(s);
    } else {
        out.push_str(s);
        out.extend(padding);
    }
    Value::Str(out)
}

fn trim<'s>(s: &'s str, chars: Option<&str>, side: TrimSide) -> &'s str {
    match (chars, side) {
        (None, TrimSide::Both) => s.trim(),
        (None, TrimSide::Leading) => s.trim_start(),
        (None, TrimSide::Trailing) => s.trim_end(),
        (Some(set), TrimSide::Both) => s.trim_matches(|c| set.contains(c)),
        (Some(set), TrimSide::Leading) => s.trim_start_matches(|c| set.contains(c)),
        (Some(set), TrimSide::Trailing) => s.trim_end_matches(|c| set.contains(c)),
    }
}

/// `round(x, digits)` of an int; `None` when the rounded value does not fit.
fn round_int(x: i64, digits: i64) -> Option<i64> {
    if digits >= 0 {
        return Some(x);
    }
    let Some(step) = u32::try_from(digits.unsigned_abs()).ok().and_then(|d| 10i64.checked_pow(d))
    else {
        return Some(0);
    };
    let (q, r) = (x / step, x % step);
    let q = if r.unsigned_abs() * 2 >= step as u64 { q + x.signum() } else { q };
    q.checked_mul(step)
}

fn round_float(x: f64, digits: i64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let digits = digits.clamp(-308, 308) as i32;
    if digits >= 0 {
        let factor = 10f64.powi(digits);
        let scaled = x * factor;
        if !scaled.is_finite() || digits > 15 {
            return x;
        }
        scaled.round() / factor
    } else {
        let factor = 10f64.powi(-digits);
        (x / factor).round() * factor
    }
}

/// `round_half_even(x, digits)` of an int or float: ties go to the even digit, on the number's
/// decimal text (so `round_half_even(2.5, 0)` is 2 and `round_half_even(0.125, 2)` is 0.12).
fn round_half_even(x: &Value, digits: i64) -> Value {
    let whole = DecimalType { precision: decimal::MAX_PRECISION, scale: 0 };
    match x {
        Value::Int(i) => {
            match decimal::round(Decimal::from(*i), digits.min(0), Rounding::HalfEven, whole) {
                Some(d) => {
                    decimal::to_int(d).map_or_else(|| overflow("round_half_even"), Value::Int)
                }
                None => overflow("round_half_even"),
            }
        }
        Value::Float(f) if !f.is_finite() => Value::Float(*f),
        Value::Float(f) => {
            let Ok(exact) = format!("{f}").parse::<Decimal>() else {
                return Value::Float(round_float(*f, digits)); // beyond 28 digits: no ties left
            };
            let scale = digits.clamp(0, i64::from(decimal::MAX_PRECISION)) as u8;
            let to = DecimalType { precision: decimal::MAX_PRECISION, scale };
            match decimal::round(exact, digits, Rounding::HalfEven, to) {
                Some(d) => Value::Float(decimal::to_float(d)),
                None => Value::Float(round_float(*f, digits)),
            }
        }
        _ => Value::Null,
    }
}

fn make_date(year: i64, month: i64, day: i64) -> Value {
    if !(-5_000_000..=5_000_000).contains(&year) || !(1..=12).contains(&month) {
        return Value::Null;
    }
    let month = month as u32;
    if day < 1 || day > i64::from(temporal::days_in_month(year, month)) {
        return Value::Null;
    }
    Value::Date(clamp_days(temporal::days_from_civil(year, month, day as u32)))
}

/// Evaluates a strict function call.
fn call(func: Func, args: &[Expr], row: &[Value]) -> Value {
    macro_rules! arg {
        ($i:expr) => {{
            let v = args[$i].eval_cow(row);
            if v.is_null() {
                return Value::Null;
            }
            v
        }};
    }
    match func {
        Func::Abs => match &*arg!(0) {
            Value::Int(i) => int_or_overflow(i.checked_abs(), "abs"),
            Value::Float(x) => Value::Float(x.abs()),
            Value::Decimal(d) => Value::Decimal(d.abs()),
            _ => Value::Null,
        },
        Func::Round | Func::Floor | Func::Ceil => match &*arg!(0) {
            Value::Int(i) => Value::Int(*i),
            Value::Float(x) => Value::Float(match func {
                Func::Round => x.round(),
                Func::Floor => x.floor(),
                _ => x.ceil(),
            }),
            _ => Value::Null,
        },
        Func::RoundDecimal(rounding, to) => {
            let Value::Decimal(d) = *arg!(0) else { return Value::Null };
            let digits = if args.len() > 1 { int_of(&*arg!(1)) } else { 0 };
            match decimal::round(d, digits, rounding, to) {
                Some(rounded) => Value::Decimal(rounded),
                None => decimal_overflow("round"),
            }
        }
        Func::RoundHalfEven => {
            let x = arg!(0);
            let digits = if args.len() > 1 { int_of(&*arg!(1)) } else { 0 };
            round_half_even(&x, digits)
        }
        Func::RoundTo => {
            let x = arg!(0);
            let digits = int_of(&*arg!(1));
            match &*x {
                Value::Int(i) => int_or_overflow(round_int(*i, digits), "round"),
                Value::Float(f) => Value::Float(round_float(*f, digits)),
                _ => Value::Null,
            }
        }
        Func::Sqrt => {
            let x = float_of(&*arg!(0));
            if x < 0.0 {
                Value::Null
            } else {
                Value::Float(x.sqrt())
            }
        }
        Func::Ln | Func::Log10 => {
            let x = float_of(&*arg!(0));
            if x <= 0.0 {
                Value::Null
            } else if func == Func::Ln {
                Value::Float(x.ln())
            } else {
                Value::Float(x.log10())
            }
        }
        Func::Exp => Value::Float(float_of(&*arg!(0)).exp()),
        Func::Power => {
            let base = float_of(&*arg!(0));
            finite_or_null(base.powf(float_of(&*arg!(1))))
        }
        Func::Sign => match &*arg!(0) {
            Value::Int(i) => Value::Int(i.signum()),
            Value::Float(x) if *x > 0.0 => Value::Int(1),
            Value::Float(x) if *x < 0.0 => Value::Int(-1),
            Value::Decimal(d) if d.is_zero() => Value::Int(0),
            Value::Decimal(d) => Value::Int(if d.is_sign_negative() { -1 } else { 1 }),
            _ => Value::Int(0),
        },
        Func::Lower => Value::Str(CompactString::from_str_to_lowercase(str_of(&*arg!(0)))),
        Func::Upper => Value::Str(CompactString::from_str_to_uppercase(str_of(&*arg!(0)))),
        Func::Length => Value::Int(char_count(str_of(&*arg!(0))) as i64),
        Func::Trim(side) => {
            let v = arg!(0);
            let s = str_of(&v);
            let trimmed = if args.len() > 1 {
                trim(s, Some(str_of(&*arg!(1))), side)
            } else {
                trim(s, None, side)
            };
            if trimmed.len() == s.len() {
                v.into_owned()
            } else {
                string(trimmed)
            }
        }
        Func::Substr => {
            let v = arg!(0);
            let start = int_of(&*arg!(1));
            let len = if args.len() > 2 { Some(int_of(&*arg!(2))) } else { None };
            string(substr(str_of(&v), start, len))
        }
        Func::Replace => {
            let v = arg!(0);
            let from = arg!(1);
            let to = arg!(2);
            let (s, from) = (str_of(&v), str_of(&from));
            if from.is_empty() || !s.contains(from) {
                v.into_owned()
            } else {
                Value::Str(CompactString::from(s.replace(from, str_of(&to))))
            }
        }
        Func::StartsWith | Func::EndsWith | Func::Contains => {
            let v = arg!(0);
            let p = arg!(1);
            let (s, p) = (str_of(&v), str_of(&p));
            Value::Bool(match func {
                Func::StartsWith => s.starts_with(p),
                Func::EndsWith => s.ends_with(p),
                _ => s.contains(p),
            })
        }
        Func::Strpos => {
            let v = arg!(0);
            let p = arg!(1);
            let s = str_of(&v);
            Value::Int(s.find(str_of(&p)).map_or(0, |b| char_count(&s[..b]) as i64 + 1))
        }
        Func::SplitPart => {
            let v = arg!(0);
            let d = arg!(1);
            let n = int_of(&*arg!(2));
            string(split_part(str_of(&v), str_of(&d), n))
        }
        Func::Left | Func::Right => {
            let v = arg!(0);
            let n = int_of(&*arg!(1));
            let s = str_of(&v);
            let part = if func == Func::Left { left(s, n) } else { right(s, n) };
            if part.len() == s.len() {
                v.into_owned()
            } else {
                string(part)
            }
        }
        Func::Lpad | Func::Rpad => {
            let v = arg!(0);
            let n = int_of(&*arg!(1));
            let fill = if args.len() > 2 { arg!(2) } else { Cow::Owned(string(" ")) };
            pad(str_of(&v), n, str_of(&fill), func == Func::Lpad)
        }
        Func::FormatNumber => {
            let x = arg!(0);
            text_format::format_number(&x, int_of(&*arg!(1)))
        }
        Func::ToDate => match &*arg!(0) {
            Value::Str(s) => parse_day(s).map_or(Value::Null, Value::Date),
            v => match instant(v) {
                Some(t) => Value::Date(clamp_days(micros_to_days(t))),
                None => Value::Null,
            },
        },
        Func::ToTimestamp => match &*arg!(0) {
            Value::Str(s) => parse_timestamp(s).map_or(Value::Null, Value::Timestamp),
            Value::Int(secs) => Value::Timestamp(secs.saturating_mul(1_000_000)),
            Value::Float(secs) if secs.is_nan() => Value::Null,
            Value::Float(secs) => Value::Timestamp((secs * 1e6).round() as i64),
            v => instant(v).map_or(Value::Null, Value::Timestamp),
        },
        Func::MakeDate => {
            let y = int_of(&*arg!(0));
            let m = int_of(&*arg!(1));
            let d = int_of(&*arg!(2));
            make_date(y, m, d)
        }
    }
}
