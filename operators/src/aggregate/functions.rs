//! Compiled aggregate functions and how each one is computed.

use crate::expr::Expr;
use crate::value::{Row, Type, Value};

/// One compiled aggregate.
#[derive(Debug, Clone)]
pub enum AggFn {
    /// `count(*)`: rows in the group.
    CountStar,
    /// `count(x)`: rows where `x` is not NULL.
    Count(Expr),
    /// `count(DISTINCT x)` / `count_distinct(x)`: distinct non-NULL values.
    CountDistinct(Expr),
    /// `sum(x)`: NULL when every `x` is NULL.
    Sum(Expr),
    /// `avg(x)` as a float.
    Avg(Expr),
    /// `min(x)`.
    Min(Expr),
    /// `max(x)`.
    Max(Expr),
    /// `first(x[, time])`: `x` of the earliest row by event time.
    First {
        /// The value.
        value: Expr,
        /// The ordering time.
        time: Expr,
    },
    /// `last(x[, time])`: `x` of the latest row by event time.
    Last {
        /// The value.
        value: Expr,
        /// The ordering time.
        time: Expr,
    },
}

impl AggFn {
    /// The expressions this aggregate reads, in projection order.
    pub fn args(&self) -> Vec<&Expr> {
        match self {
            AggFn::CountStar => vec![],
            AggFn::Count(e)
            | AggFn::CountDistinct(e)
            | AggFn::Sum(e)
            | AggFn::Avg(e)
            | AggFn::Min(e)
            | AggFn::Max(e) => vec![e],
            AggFn::First { value, time } | AggFn::Last { value, time } => vec![time, value],
        }
    }

    /// Result type and nullability.
    pub fn output(&self) -> (Type, bool) {
        match self {
            AggFn::CountStar | AggFn::Count(_) | AggFn::CountDistinct(_) => (Type::Int, false),
            AggFn::Sum(e) => (e.ty(), e.nullable()),
            AggFn::Avg(e) => (Type::Float, e.nullable()),
            AggFn::Min(e) | AggFn::Max(e) => (e.ty(), e.nullable()),
            AggFn::First { value, .. } | AggFn::Last { value, .. } => (value.ty(), true),
        }
    }

    /// How many running integer sums this aggregate needs on the incremental (abelian) path,
    /// or `None` when it must see the whole group (min, max, distinct, float sums, ...).
    fn sums_needed(&self) -> Option<usize> {
        match self {
            AggFn::CountStar => Some(0),
            AggFn::Count(e) => Some(usize::from(e.nullable())),
            AggFn::Sum(e) | AggFn::Avg(e) if e.ty() == Type::Int => {
                Some(1 + usize::from(e.nullable()))
            }
            _ => None,
        }
    }
}

/// A keyed aggregation: group columns and aggregates over them.
#[derive(Debug, Clone)]
pub struct Aggregation {
    /// Positions of the grouping columns in the input row.
    pub key: Vec<usize>,
    /// The aggregates, in output order after the key columns.
    pub aggs: Vec<AggFn>,
}

/// Running integer sums: slot 0 counts rows; the others are per-aggregate sums. Used as the
/// difference type of the abelian path, so an update costs an addition, not a group rescan.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Sums(pub [i64; SUM_SLOTS]);

/// The number of running sums the abelian path supports.
pub const SUM_SLOTS: usize = 4;

impl differential_dataflow::difference::IsZero for Sums {
    fn is_zero(&self) -> bool {
        self.0 == [0; SUM_SLOTS]
    }
}

impl differential_dataflow::difference::Semigroup for Sums {
    fn plus_equals(&mut self, rhs: &Self) {
        for (a, b) in self.0.iter_mut().zip(rhs.0) {
            *a = a.wrapping_add(b);
        }
    }
}

impl differential_dataflow::difference::Monoid for Sums {
    fn zero() -> Self {
        Sums([0; SUM_SLOTS])
    }
}

impl differential_dataflow::difference::Abelian for Sums {
    fn negate(&mut self) {
        for a in &mut self.0 {
            *a = a.wrapping_neg();
        }
    }
}

impl differential_dataflow::difference::Multiply<isize> for Sums {
    type Output = Sums;
    fn multiply(mut self, rhs: &isize) -> Sums {
        for a in &mut self.0 {
            *a = a.wrapping_mul(*rhs as i64);
        }
        self
    }
}

/// Where each aggregate finds its inputs on the abelian path: (slot of the sum, slot of the
/// non-NULL count or 0 for "every row").
#[derive(Debug, Clone)]
pub(crate) struct SumLayout {
    slots: Vec<(usize, usize)>,
}

impl Aggregation {
    /// The slot layout when every aggregate is a count or an integer sum/avg that fits.
    pub(crate) fn sum_layout(&self) -> Option<SumLayout> {
        let mut next = 1;
        let mut slots = Vec::with_capacity(self.aggs.len());
        for agg in &self.aggs {
            let needed = agg.sums_needed()?;
            let (value, count) = match (agg, needed) {
                (AggFn::CountStar, _) | (AggFn::Count(_), 0) => (0, 0),
                (AggFn::Count(_), _) => (next, next),
                (_, 1) => (next, 0),
                _ => (next, next + 1),
            };
            next += needed;
            slots.push((value, count));
        }
        (next <= SUM_SLOTS).then_some(SumLayout { slots })
    }

    /// Adds one row's contributions to `sums` (abelian path).
    pub(crate) fn accumulate(&self, layout: &SumLayout, row: &[Value]) -> Sums {
        let mut sums = Sums::default();
        sums.0[0] = 1;
        for (agg, &(value, count)) in self.aggs.iter().zip(&layout.slots) {
            match agg {
                AggFn::CountStar => {}
                AggFn::Count(e) => {
                    if value != 0 && !e.eval(row).is_null() {
                        sums.0[value] = 1;
                    }
                }
                AggFn::Sum(e) | AggFn::Avg(e) => {
                    if let Value::Int(v) = e.eval(row) {
                        sums.0[value] = v;
                        if count != 0 {
                            sums.0[count] = 1;
                        }
                    }
                }
                _ => unreachable!("sum_layout admits only counts and integer sums"),
            }
        }
        sums
    }

    /// The aggregate values from the running sums of a non-empty group (abelian path).
    pub(crate) fn finish_sums(&self, layout: &SumLayout, sums: &Sums, out: &mut Row) {
        let rows = sums.0[0];
        for (agg, &(value, count)) in self.aggs.iter().zip(&layout.slots) {
            let non_null = if count == 0 { rows } else { sums.0[count] };
            out.push(match agg {
                AggFn::CountStar => Value::Int(rows),
                AggFn::Count(_) => Value::Int(if value == 0 { rows } else { sums.0[value] }),
                AggFn::Sum(_) if non_null == 0 => Value::Null,
                AggFn::Sum(_) => Value::Int(sums.0[value]),
                AggFn::Avg(_) if non_null == 0 => Value::Null,
                AggFn::Avg(_) => Value::Float(sums.0[value] as f64 / non_null as f64),
                _ => unreachable!("sum_layout admits only counts and integer sums"),
            });
        }
    }

    /// The projection of a row that the general path keeps per group: every aggregate's
    /// argument values, in order.
    pub(crate) fn project(&self, row: &[Value]) -> Row {
        self.aggs.iter().flat_map(|a| a.args()).map(|e| e.eval(row)).collect()
    }

    /// The aggregate values of a whole group of projected rows with multiplicities (general
    /// path). `group` is sorted, as differential dataflow hands it to `reduce`.
    pub(crate) fn finish_group(&self, group: &[(&Row, isize)], out: &mut Row) {
        let mut offset = 0;
        for agg in &self.aggs {
            let width = agg.args().len();
            let col = offset;
            offset += width;
            let values = || group.iter().map(move |(r, d)| (&r[col], *d));
            // The non-NULL argument values present in the group.
            let present = || values().filter(|(v, d)| !v.is_null() && *d > 0).map(|(v, _)| v);
            out.push(match agg {
                AggFn::CountStar => Value::Int(group.iter().map(|(_, d)| *d as i64).sum()),
                AggFn::Count(_) => {
                    Value::Int(values().filter(|(v, _)| !v.is_null()).map(|(_, d)| d as i64).sum())
                }
                AggFn::CountDistinct(_) => {
                    let mut distinct: Vec<&Value> = present().collect();
                    distinct.sort();
                    distinct.dedup();
                    Value::Int(distinct.len() as i64)
                }
                AggFn::Sum(e) => sum(values(), e.ty()).map_or(Value::Null, |(s, _)| s),
                AggFn::Avg(_) => match sum(values(), Type::Float) {
                    Some((Value::Float(s), n)) if n > 0 => Value::Float(s / n as f64),
                    _ => Value::Null,
                },
                AggFn::Min(_) => present().min().cloned().unwrap_or_default(),
                AggFn::Max(_) => present().max().cloned().unwrap_or_default(),
                AggFn::First { .. } | AggFn::Last { .. } => {
                    let timed = group
                        .iter()
                        .filter(|(r, d)| *d > 0 && !r[col].is_null() && !r[col + 1].is_null())
                        .map(|(r, _)| (&r[col], &r[col + 1]));
                    let pick =
                        if matches!(agg, AggFn::First { .. }) { timed.min() } else { timed.max() };
                    pick.map(|(_, v)| v.clone()).unwrap_or_default()
                }
            });
        }
    }
}

/// Sums non-NULL values weighted by multiplicity, as `ty`; also returns the non-NULL count.
fn sum<'a>(values: impl Iterator<Item = (&'a Value, isize)>, ty: Type) -> Option<(Value, i64)> {
    let mut int = 0i64;
    let mut float = 0f64;
    let mut n = 0i64;
    for (v, d) in values {
        match v {
            Value::Int(x) => {
                int = int.wrapping_add(x.wrapping_mul(d as i64));
                float += *x as f64 * d as f64;
            }
            Value::Float(x) => float += x * d as f64,
            _ => continue,
        }
        n += d as i64;
    }
    (n > 0).then(|| {
        let total = if ty == Type::Int { Value::Int(int) } else { Value::Float(float) };
        (total, n)
    })
}
