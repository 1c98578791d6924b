//! Compiled aggregate functions and how each one is computed.

use crate::decimal::{self, Decimal, DecimalType};
use crate::expr::Expr;
use crate::value::{Type, Value};

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
    /// `median(x)`, `percentile_cont(x, p)` (both interpolated, as floats) and
    /// `percentile_disc(x, p)` (a value of the group), exact.
    Percentile {
        /// The value.
        value: Expr,
        /// `p`, in [0, 1].
        fraction: Fraction,
        /// `percentile_disc`: the first value whose position reaches the fraction.
        discrete: bool,
    },
    /// `var_pop(x)`, `var_samp(x)`, `stddev_pop(x)`, `stddev_samp(x)` as floats.
    Spread {
        /// The value.
        value: Expr,
        /// Which statistic.
        kind: Spread,
    },
}

/// A statistic of spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// Population variance: Σ(x − mean)² / n.
    VarPop,
    /// Sample variance: Σ(x − mean)² / (n − 1); NULL for fewer than two values.
    VarSamp,
    /// √ of the population variance.
    StddevPop,
    /// √ of the sample variance.
    StddevSamp,
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
            | AggFn::Max(e)
            | AggFn::Percentile { value: e, .. }
            | AggFn::Spread { value: e, .. } => vec![e],
            AggFn::First { value, time } | AggFn::Last { value, time } => vec![time, value],
        }
    }

    /// Result type and nullability.
    pub fn output(&self) -> (Type, bool) {
        match self {
            AggFn::CountStar | AggFn::Count(_) | AggFn::CountDistinct(_) => (Type::Int, false),
            AggFn::Sum(e) => match e.ty() {
                Type::Decimal(d) => (Type::Decimal(d.sum()), e.nullable()),
                ty => (ty, e.nullable()),
            },
            AggFn::Avg(e) => match e.ty() {
                Type::Decimal(d) => (Type::Decimal(d.avg()), e.nullable()),
                _ => (Type::Float, e.nullable()),
            },
            AggFn::Min(e) | AggFn::Max(e) => (e.ty(), e.nullable()),
            AggFn::First { value, .. } | AggFn::Last { value, .. } => (value.ty(), true),
            AggFn::Spread { .. } => (Type::Float, true),
            AggFn::Percentile { value, discrete: true, .. } => (value.ty(), value.nullable()),
            AggFn::Percentile { value, .. } => (Type::Float, value.nullable()),
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
    /// The aggregates' output column names, for errors.
    pub columns: Vec<String>,
}

/// The running state of one aggregate over one group. Every change of a row updates it in O(1)
/// or O(log n) of the group's distinct values, and it is read without rescanning the group, so
/// the cost of a change does not grow with the group.
#[derive(Debug, Clone)]
pub(crate) enum Acc {
    /// `count(*)`: the rows; `count(x)`: the non-NULL values.
    Count(i64),
    /// An integer sum, exact in 128 bits (a sum outside the `int` range is an error when read),
    /// and its non-NULL count.
    IntSum { sum: i128, n: i64 },
    /// A decimal sum of values of `scale`, exact as an integer count of units of that scale (a
    /// sum outside the output type is an error when read), and its non-NULL count.
    DecimalSum { sum: i128, scale: u32, n: i64 },
    /// A float sum, exact until it is rounded once when read, and its non-NULL count.
    FloatSum { sum: ExactSum, n: i64 },
    /// Count, sum and sum of squares of integers, exact.
    IntMoments { n: i64, sum: i128, squares: i128 },
    /// Count, sum and sum of squares of floats, each exact until read.
    FloatMoments { n: i64, sum: ExactSum, squares: ExactSum },
    /// The present values with their multiplicities (min, max, percentiles), and how many of
    /// them have a positive one (count distinct).
    Values { values: BTreeMap<Value, i64>, distinct: i64 },
    /// The present `(time, value)` pairs with their multiplicities (first, last).
    Timed(BTreeMap<(Value, Value), i64>),
}

use std::collections::BTreeMap;

use crate::sequential::add_multiplicity as add_to;

impl Acc {
    /// The empty state of `agg`.
    pub(crate) fn start(agg: &AggFn) -> Acc {
        match agg {
            AggFn::CountStar | AggFn::Count(_) => Acc::Count(0),
            AggFn::Sum(e) | AggFn::Avg(e) => match e.ty() {
                Type::Int => Acc::IntSum { sum: 0, n: 0 },
                Type::Decimal(d) => Acc::DecimalSum { sum: 0, scale: u32::from(d.scale), n: 0 },
                _ => Acc::FloatSum { sum: ExactSum::default(), n: 0 },
            },
            AggFn::Spread { value, .. } if value.ty() == Type::Int => {
                Acc::IntMoments { n: 0, sum: 0, squares: 0 }
            }
            AggFn::Spread { .. } => {
                Acc::FloatMoments { n: 0, sum: ExactSum::default(), squares: ExactSum::default() }
            }
            AggFn::CountDistinct(_) | AggFn::Min(_) | AggFn::Max(_) | AggFn::Percentile { .. } => {
                Acc::Values { values: BTreeMap::new(), distinct: 0 }
            }
            AggFn::First { .. } | AggFn::Last { .. } => Acc::Timed(BTreeMap::new()),
        }
    }

    /// Applies a row entering (`diff > 0`) or leaving (`diff < 0`) the group.
    pub(crate) fn update(&mut self, agg: &AggFn, row: &[Value], diff: i64) {
        let arg = |e: &Expr| e.eval(row);
        match (self, agg) {
            (Acc::Count(n), AggFn::CountStar) => *n += diff,
            (Acc::Count(n), AggFn::Count(e)) => {
                if !arg(e).is_null() {
                    *n += diff;
                }
            }
            (Acc::IntSum { sum, n }, AggFn::Sum(e) | AggFn::Avg(e)) => {
                if let Value::Int(v) = arg(e) {
                    // |v · diff| < 2^126: no 128-bit overflow within any real group.
                    *sum = sum.wrapping_add(i128::from(v) * i128::from(diff));
                    *n += diff;
                }
            }
            (Acc::DecimalSum { sum, scale, n }, AggFn::Sum(e) | AggFn::Avg(e)) => {
                if let Value::Decimal(mut v) = arg(e) {
                    v.rescale(*scale);
                    // |units| < 10^28 < 2^94: no 128-bit overflow within any real group.
                    *sum = sum.wrapping_add(v.mantissa() * i128::from(diff));
                    *n += diff;
                }
            }
            (Acc::FloatSum { sum, n }, AggFn::Sum(e) | AggFn::Avg(e)) => {
                if let Some(v) = arg(e).as_f64() {
                    sum.add_times(v, diff);
                    *n += diff;
                }
            }
            (Acc::IntMoments { n, sum, squares }, AggFn::Spread { value, .. }) => {
                if let Value::Int(v) = arg(value) {
                    let (v, d) = (i128::from(v), i128::from(diff));
                    *n += diff;
                    *sum = sum.wrapping_add(v.wrapping_mul(d));
                    *squares = squares.wrapping_add((v * v).wrapping_mul(d));
                }
            }
            (Acc::FloatMoments { n, sum, squares }, AggFn::Spread { value, .. }) => {
                if let Some(v) = arg(value).as_f64() {
                    *n += diff;
                    sum.add_times(v, diff);
                    squares.add_square_times(v, diff);
                }
            }
            (
                Acc::Values { values, distinct },
                AggFn::CountDistinct(e)
                | AggFn::Min(e)
                | AggFn::Max(e)
                | AggFn::Percentile { value: e, .. },
            ) => {
                let v = arg(e);
                if !v.is_null() {
                    let before = values.get(&v).copied().unwrap_or(0);
                    add_to(values, v, diff);
                    *distinct += i64::from(before + diff > 0) - i64::from(before > 0);
                }
            }
            (Acc::Timed(pairs), AggFn::First { value, time } | AggFn::Last { value, time }) => {
                let (t, v) = (arg(time), arg(value));
                if !t.is_null() && !v.is_null() {
                    add_to(pairs, (t, v), diff);
                }
            }
            _ => unreachable!("an accumulator is started from its own aggregate"),
        }
    }

    /// The aggregate's value for a non-empty group; an integer sum that does not fit in `int`
    /// is an error.
    pub(crate) fn value(&self, agg: &AggFn) -> Result<Value, SumOverflow> {
        Ok(match (self, agg) {
            (Acc::Count(n), _) => Value::Int(*n),
            (
                Acc::IntSum { n: 0, .. }
                | Acc::FloatSum { n: 0, .. }
                | Acc::DecimalSum { n: 0, .. },
                _,
            ) => Value::Null,
            (Acc::IntSum { sum, .. }, AggFn::Sum(_)) => match i64::try_from(*sum) {
                Ok(sum) => Value::Int(sum),
                Err(_) => return Err(SumOverflow::int(*sum)),
            },
            (Acc::DecimalSum { sum, scale, n }, _) => {
                let Type::Decimal(to) = agg.output().0 else { unreachable!("a decimal sum") };
                let total = Decimal::try_from_i128_with_scale(*sum, *scale);
                let value = match agg {
                    AggFn::Sum(_) => total.ok(),
                    _ => total.ok().and_then(|t| t.checked_div(Decimal::from(*n))),
                };
                match value.and_then(|v| decimal::fit(v, to)) {
                    Some(v) => Value::Decimal(v),
                    None => return Err(SumOverflow::decimal(*sum, *scale, to)),
                }
            }
            (Acc::IntSum { sum, n }, _) => Value::Float(*sum as f64 / *n as f64),
            (Acc::FloatSum { sum, .. }, AggFn::Sum(_)) => Value::Float(sum.value()),
            (Acc::FloatSum { sum, n }, _) => Value::Float(sum.value() / *n as f64),
            (Acc::IntMoments { n, sum, squares }, AggFn::Spread { kind, .. }) => {
                // n·Σx² − (Σx)² is exact; one division and one rounding follow.
                let scaled = i128::from(*n)
                    .checked_mul(*squares)
                    .and_then(|a| sum.checked_mul(*sum).and_then(|b| a.checked_sub(b)));
                let n = *n as f64;
                let spread = match scaled {
                    Some(s) => s.max(0) as f64 / n,
                    None => (*squares as f64 - (*sum as f64).powi(2) / n).max(0.0),
                };
                kind.finish(spread, n)
            }
            (Acc::FloatMoments { n, sum, squares }, AggFn::Spread { kind, .. }) => {
                let n = *n as f64;
                let spread = (squares.value() - sum.value().powi(2) / n).max(0.0);
                kind.finish(spread, n)
            }
            (Acc::Values { distinct, .. }, AggFn::CountDistinct(_)) => Value::Int(*distinct),
            (Acc::Values { values, .. }, AggFn::Percentile { fraction, discrete, .. }) => {
                percentile(values, *fraction, *discrete)
            }
            (Acc::Values { values, .. }, AggFn::Min(_)) => {
                values.iter().find(|(_, d)| **d > 0).map(|(v, _)| v.clone()).unwrap_or_default()
            }
            (Acc::Values { values, .. }, _) => values
                .iter()
                .rev()
                .find(|(_, d)| **d > 0)
                .map(|(v, _)| v.clone())
                .unwrap_or_default(),
            (Acc::Timed(pairs), AggFn::First { .. }) => {
                pairs.iter().find(|(_, d)| **d > 0).map(|((_, v), _)| v.clone()).unwrap_or_default()
            }
            (Acc::Timed(pairs), _) => pairs
                .iter()
                .rev()
                .find(|(_, d)| **d > 0)
                .map(|((_, v), _)| v.clone())
                .unwrap_or_default(),
            _ => unreachable!("an accumulator is read by its own aggregate"),
        })
    }
}

/// A sum whose exact value does not fit its output type: an `int` (64 bits) or a
/// `decimal(p, s)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} overflow: the sum {sum} does not fit in {target}")]
pub struct SumOverflow {
    /// `integer` or `decimal`.
    pub kind: &'static str,
    /// The exact sum, as text.
    pub sum: String,
    /// The type it does not fit in.
    pub target: String,
}

impl SumOverflow {
    fn int(sum: i128) -> SumOverflow {
        SumOverflow { kind: "integer", sum: sum.to_string(), target: "an int".to_owned() }
    }

    fn decimal(units: i128, scale: u32, to: DecimalType) -> SumOverflow {
        let digits = units.unsigned_abs().to_string();
        let scale = scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        let sign = if units < 0 { "-" } else { "" };
        let point = if scale > 0 { "." } else { "" };
        SumOverflow {
            kind: "decimal",
            sum: format!("{sign}{whole}{point}{fraction}"),
            target: Type::Decimal(to).to_string(),
        }
    }
}

/// A percentile's fraction `p` as the exact decimal it was written as: `numerator / 10^k`, so
/// that positions such as `0.7 · 10` are exact (in floats they are `7.000000000000001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    numerator: i128,
    denominator: i128,
}

impl Fraction {
    /// The fraction a literal in [0, 1] denotes, read from its shortest decimal text.
    pub fn new(p: f64) -> Option<Fraction> {
        if !(0.0..=1.0).contains(&p) {
            return None;
        }
        let text = p.to_string();
        let decimals = text.split_once('.').map_or("", |(_, d)| d);
        if decimals.len() > 18 {
            return Some(Fraction {
                numerator: (p * 1e18).round() as i128,
                denominator: 10i128.pow(18),
            });
        }
        let denominator = 10i128.pow(decimals.len() as u32);
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        Some(Fraction { numerator: digits.parse().ok()?, denominator })
    }

    /// The median's fraction, ½.
    pub const HALF: Fraction = Fraction { numerator: 1, denominator: 2 };

    /// `p · n` as a whole part and the remainder over the denominator.
    fn times(self, n: i64) -> (i64, i128) {
        let scaled = self.numerator * i128::from(n);
        ((scaled / self.denominator) as i64, scaled % self.denominator)
    }
}

/// The percentile of the present values (PostgreSQL's `percentile_cont` / `percentile_disc`):
/// with the `n` values sorted, `disc` is the value at 1-based position ⌈p·n⌉ (at least 1) and
/// `cont` interpolates linearly at 0-based position p·(n − 1).
fn percentile(values: &BTreeMap<Value, i64>, fraction: Fraction, discrete: bool) -> Value {
    let present = || values.iter().filter(|(_, d)| **d > 0);
    let n: i64 = present().map(|(_, d)| *d).sum();
    if n == 0 {
        return Value::Null;
    }
    // The value at 0-based position `k` of the sorted multiset.
    let nth = |k: i64| {
        let mut seen = 0;
        present()
            .find(|(_, d)| {
                seen += **d;
                seen > k
            })
            .map(|(v, _)| v)
    };
    if discrete {
        let (whole, rest) = fraction.times(n);
        let rank = (whole + i64::from(rest > 0)).max(1);
        return nth(rank - 1).cloned().unwrap_or_default();
    }
    let (low, rest) = fraction.times(n - 1);
    let Some(below) = nth(low).and_then(Value::as_f64) else { return Value::Null };
    if rest == 0 {
        return Value::Float(below);
    }
    let Some(above) = nth(low + 1).and_then(Value::as_f64) else { return Value::Null };
    let weight = rest as f64 / fraction.denominator as f64;
    Value::Float(below + weight * (above - below))
}

impl Spread {
    /// The statistic from `n` times the population variance (`scaled`) over `n` values.
    fn finish(self, scaled: f64, n: f64) -> Value {
        let sample = matches!(self, Spread::VarSamp | Spread::StddevSamp);
        let divisor = if sample { n - 1.0 } else { n };
        if divisor < 1.0 {
            return Value::Null;
        }
        let variance = scaled / divisor;
        match self {
            Spread::VarPop | Spread::VarSamp => Value::Float(variance),
            Spread::StddevPop | Spread::StddevSamp => Value::Float(variance.sqrt()),
        }
    }
}

/// An exact sum of floats (Shewchuk's non-overlapping partials, as in Python's `math.fsum`):
/// adding and removing values in any order gives the same correctly rounded result, so a value
/// that leaves a group leaves no rounding error behind.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExactSum {
    partials: Vec<f64>,
    /// Multiplicities of +∞, −∞ and NaN, which the partials cannot hold.
    infinite: [i64; 3],
}

impl ExactSum {
    /// Adds `x` exactly.
    fn add(&mut self, mut x: f64) {
        if !x.is_finite() {
            let slot = if x.is_nan() { 2 } else { usize::from(x < 0.0) };
            self.infinite[slot] += 1;
            return;
        }
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
    }

    /// Removes a non-finite value added before.
    fn remove_infinite(&mut self, x: f64) {
        let slot = if x.is_nan() { 2 } else { usize::from(x < 0.0) };
        self.infinite[slot] -= 1;
    }

    /// Adds `x · times` exactly (the product split in two by a fused multiply-add).
    fn add_times(&mut self, x: f64, times: i64) {
        if !x.is_finite() {
            for _ in 0..times.unsigned_abs() {
                if times > 0 {
                    self.add(x);
                } else {
                    self.remove_infinite(x);
                }
            }
            return;
        }
        match times {
            1 => self.add(x),
            -1 => self.add(-x),
            _ => {
                let t = times as f64;
                let product = x * t;
                self.add(product);
                self.add(x.mul_add(t, -product));
            }
        }
    }

    /// Adds `x² · times` exactly.
    fn add_square_times(&mut self, x: f64, times: i64) {
        let square = x * x;
        if !square.is_finite() {
            self.add_times(square, times);
            return;
        }
        self.add_times(square, times);
        self.add_times(x.mul_add(x, -square), times);
    }

    /// The sum, correctly rounded.
    pub(crate) fn value(&self) -> f64 {
        match self.infinite {
            [_, _, nan] if nan > 0 => return f64::NAN,
            [p, m, _] if p > 0 && m > 0 => return f64::NAN,
            [p, _, _] if p > 0 => return f64::INFINITY,
            [_, m, _] if m > 0 => return f64::NEG_INFINITY,
            _ => {}
        }
        let p = &self.partials;
        let Some(&top) = p.last() else { return 0.0 };
        let (mut hi, mut lo, mut n) = (top, 0.0, p.len() - 1);
        while n > 0 {
            let (x, y) = (hi, p[n - 1]);
            n -= 1;
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Round half to even correctly when the rest of the partials lean the same way.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }
}

#[cfg(test)]
mod exact_sum_tests {
    use super::ExactSum;

    #[test]
    fn sums_are_exact_and_independent_of_order() {
        let mut a = ExactSum::default();
        for x in [1e16, 1.0, -1e16, 0.1, 0.2] {
            a.add_times(x, 1);
        }
        assert_eq!(a.value(), 1.0 + (0.1 + 0.2));
        let mut b = ExactSum::default();
        for x in [0.1, 1e16, 0.2, -1e16, 1.0] {
            b.add_times(x, 1);
        }
        assert_eq!(a.value(), b.value());
        // Removing what was added leaves nothing behind.
        for x in [0.1, 1e16, 0.2, -1e16, 1.0] {
            b.add_times(x, -1);
        }
        assert_eq!(b.value(), 0.0);
        b.add_times(2.5, 3);
        assert_eq!(b.value(), 7.5);
        b.add_times(f64::INFINITY, 1);
        assert_eq!(b.value(), f64::INFINITY);
        b.add_times(f64::INFINITY, -1);
        assert_eq!(b.value(), 7.5);
    }
}
