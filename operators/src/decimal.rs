//! Exact decimals, in one place: the `decimal(p, s)` type's rules (what an operation's result
//! type is), and how values are fitted to a type, read from text and written as text.
//!
//! A value of `decimal(p, s)` is a [`Decimal`] whose scale is exactly `s` and whose absolute
//! value is below `10^(p - s)`. Every producer of decimal values (decoders, casts, arithmetic,
//! aggregates) goes through [`fit`], so a column's values always print with exactly `s`
//! decimals. Arithmetic is exact (`+ - *`); division and rounding round half away from zero
//! ("half up"), as PostgreSQL's `numeric` does. A result that does not fit its type is an
//! overflow, never a silently different number.

use std::cmp::Ordering;

pub use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;

/// The largest precision (digits in total): what a 96-bit mantissa holds in full.
pub const MAX_PRECISION: u8 = 28;

/// The scale of a division's result at least (`decimal / decimal` keeps the larger scale of its
/// operands, and at least this many decimals).
pub const MIN_DIVISION_SCALE: u8 = 6;

/// The hint for a schema written `{price: decimal(10,2)}`: in a YAML flow mapping the comma ends
/// the entry, leaving a type `decimal(10` and a column named `2)`.
pub const FLOW_MAPPING_HINT: &str = "in a `{ ... }` mapping the comma splits `decimal(p, s)`: \
     quote it, `price: \"decimal(10,2)\"`, or write one column per line";

/// Whether a YAML key is the tail of a `decimal(p, s)` that a flow mapping split (`2)`).
pub fn is_split_type_tail(key: &str) -> bool {
    key.strip_suffix(')').is_some_and(|digits| digits.trim().parse::<u32>().is_ok())
}

/// The type `decimal(precision, scale)` as written in schemas and casts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct DecimalType {
    /// Digits in total, 1 to [`MAX_PRECISION`].
    pub precision: u8,
    /// Digits after the point, 0 to `precision`.
    pub scale: u8,
}

impl DecimalType {
    /// `decimal(precision, scale)`, if the pair is valid.
    pub fn new(precision: u32, scale: u32) -> Option<DecimalType> {
        let valid = (1..=u32::from(MAX_PRECISION)).contains(&precision) && scale <= precision;
        valid.then_some(DecimalType { precision: precision as u8, scale: scale as u8 })
    }

    /// Digits before the point.
    const fn whole_digits(self) -> u8 {
        self.precision - self.scale
    }

    /// A type with `whole` digits before the point and `scale` after, within the limits: the
    /// scale first, then as many whole digits as still fit.
    fn bounded(whole: u32, scale: u32) -> DecimalType {
        let scale = scale.min(u32::from(MAX_PRECISION));
        let precision = (whole + scale).clamp(1, u32::from(MAX_PRECISION));
        DecimalType { precision: precision as u8, scale: scale as u8 }
    }

    /// The type an integer converts to: 19 digits hold every 64-bit integer.
    pub const INT: DecimalType = DecimalType { precision: 19, scale: 0 };

    /// The result type of `a + b` and `a - b`: the larger scale, and one more whole digit.
    pub fn for_add(a: DecimalType, b: DecimalType) -> DecimalType {
        let whole = a.whole_digits().max(b.whole_digits());
        DecimalType::bounded(u32::from(whole) + 1, u32::from(a.scale.max(b.scale)))
    }

    /// The result type of `a * b`: the scales and the whole digits add up.
    pub fn for_mul(a: DecimalType, b: DecimalType) -> DecimalType {
        let whole = u32::from(a.whole_digits()) + u32::from(b.whole_digits());
        DecimalType::bounded(whole, u32::from(a.scale) + u32::from(b.scale))
    }

    /// The result type of `a / b`: the larger scale (at least [`MIN_DIVISION_SCALE`]), and as
    /// many whole digits as `a` and `b`'s scale can give.
    pub fn for_div(a: DecimalType, b: DecimalType) -> DecimalType {
        let scale = a.scale.max(b.scale).max(MIN_DIVISION_SCALE);
        DecimalType::bounded(u32::from(a.whole_digits()) + u32::from(b.scale), u32::from(scale))
    }

    /// The result type of `a % b`: the larger scale, and the smaller number of whole digits.
    pub fn for_rem(a: DecimalType, b: DecimalType) -> DecimalType {
        let whole = a.whole_digits().min(b.whole_digits());
        DecimalType::bounded(u32::from(whole), u32::from(a.scale.max(b.scale)))
    }

    /// The common type of two branches (`CASE`, `coalesce`, `union`): every value of either fits.
    pub fn unify(a: DecimalType, b: DecimalType) -> DecimalType {
        let whole = a.whole_digits().max(b.whole_digits());
        DecimalType::bounded(u32::from(whole), u32::from(a.scale.max(b.scale)))
    }

    /// The result type of `round(x, digits)` with constant `digits`: that many decimals (none
    /// for negative digits), with the whole digits of `x` and one more for a carry.
    pub fn round(self, digits: i64) -> DecimalType {
        let scale = digits.clamp(0, i64::from(MAX_PRECISION)) as u32;
        DecimalType::bounded(u32::from(self.whole_digits()) + 1, scale)
    }

    /// The result type of a sum of values of this type: the largest precision, same scale.
    pub fn sum(self) -> DecimalType {
        DecimalType { precision: MAX_PRECISION, scale: self.scale }
    }

    /// The result type of an average of values of this type.
    pub fn avg(self) -> DecimalType {
        DecimalType::bounded(
            u32::from(self.whole_digits()),
            u32::from(self.scale.max(MIN_DIVISION_SCALE)),
        )
    }
}

/// `d` as a value of type `to`: rounded half away from zero to its scale and written with
/// exactly that many decimals; `None` when it has too many whole digits for the type.
pub fn fit(d: Decimal, to: DecimalType) -> Option<Decimal> {
    let scale = u32::from(to.scale);
    let mut d = if d.scale() > scale {
        d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero)
    } else {
        d
    };
    d.rescale(scale);
    if d.scale() != scale {
        return None; // so many whole digits that the decimals do not fit in 96 bits
    }
    if d.is_zero() {
        d.set_sign_positive(true); // never `-0.00`
    }
    let limit = 10i128.pow(u32::from(to.precision));
    (d.mantissa().abs() < limit).then_some(d)
}

/// Which way `round`, `floor` and `ceil` go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// To the nearest, half away from zero: 2.5 → 3, -2.5 → -3 (`round`).
    HalfUp,
    /// To the nearest, half to even: 2.5 → 2, 3.5 → 4 (`round_half_even`, "banker's rounding").
    HalfEven,
    /// Down: -2.5 → -3 (`floor`).
    Floor,
    /// Up: -2.5 → -2 (`ceil`).
    Ceil,
}

/// `d` rounded to `digits` decimals (negative: to tens, hundreds, ...), then fitted to `to`.
pub fn round(d: Decimal, digits: i64, rounding: Rounding, to: DecimalType) -> Option<Decimal> {
    let strategy = match rounding {
        Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
        Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
        Rounding::Floor => RoundingStrategy::ToNegativeInfinity,
        Rounding::Ceil => RoundingStrategy::ToPositiveInfinity,
    };
    let rounded = if digits >= 0 {
        d.round_dp_with_strategy(digits.min(i64::from(MAX_PRECISION)) as u32, strategy)
    } else {
        let shift = Decimal::from_i128_with_scale(10i128.pow((-digits).min(28) as u32), 0);
        let scaled = d.checked_div(shift)?.round_dp_with_strategy(0, strategy);
        scaled.checked_mul(shift)?
    };
    fit(rounded, to)
}

/// Reads decimal text (`12.50`, `-3`, `+1.5`, `1.5e3`, `.5`) exactly, then fits it to `to`.
/// `None` for text that is not a number, or a number too large for the type.
pub fn parse(text: &str, to: DecimalType) -> Option<Decimal> {
    let text = text.trim();
    let text = text.strip_prefix('+').unwrap_or(text);
    let exact = Decimal::from_str_exact(text)
        .or_else(|_| Decimal::from_scientific(text))
        .or_else(|_| text.parse::<Decimal>());
    fit(exact.ok()?, to)
}

/// An integer as a decimal of type `to`, if it fits.
pub fn from_int(i: i64, to: DecimalType) -> Option<Decimal> {
    fit(Decimal::from(i), to)
}

/// A float as a decimal of type `to`: the float's shortest decimal text (`0.1` is `0.1`, not the
/// binary fraction nearest to it), rounded half up to the scale. `None` for NaN, ±inf, or a
/// value too large for the type.
pub fn from_float(x: f64, to: DecimalType) -> Option<Decimal> {
    if !x.is_finite() {
        return None;
    }
    parse(&format!("{x}"), to)
}

/// A number (an int, a float or a decimal of any type) as a decimal of type `to`; `None` for
/// anything else, or a number that does not fit.
pub fn from_number(value: &crate::Value, to: DecimalType) -> Option<Decimal> {
    match value {
        crate::Value::Decimal(d) => fit(*d, to),
        crate::Value::Int(i) => from_int(*i, to),
        crate::Value::Float(x) => from_float(*x, to),
        _ => None,
    }
}

/// A decimal as an integer, rounded half away from zero (as `float → int`); `None` beyond 64 bits.
pub fn to_int(d: Decimal) -> Option<i64> {
    let whole = d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(whole.mantissa() / 10i128.pow(whole.scale())).ok()
}

/// A decimal as the nearest float.
pub fn to_float(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(f64::NAN)
}

/// Exact comparison of a decimal with an integer.
pub fn cmp_int(d: Decimal, i: i64) -> Ordering {
    d.cmp(&Decimal::from(i))
}

/// Comparison of a decimal with a float, as floats (a float column is approximate anyway:
/// `0.1` as a decimal equals the float `0.1`); NaN sorts above every number.
pub fn cmp_float(d: Decimal, x: f64) -> Ordering {
    let y = to_float(d);
    y.partial_cmp(&x).unwrap_or_else(|| y.total_cmp(&x))
}

/// Checked arithmetic on two decimals: `None` when the exact result does not fit in 96 bits,
/// or for a division or remainder by zero (`zero_divisor`, which the caller makes NULL).
pub fn checked(op: DecimalOp, a: Decimal, b: Decimal) -> Result<Decimal, DecimalFault> {
    let zero = matches!(op, DecimalOp::Div | DecimalOp::Rem) && b.is_zero();
    if zero {
        return Err(DecimalFault::ZeroDivisor);
    }
    let result = match op {
        DecimalOp::Add => a.checked_add(b),
        DecimalOp::Sub => a.checked_sub(b),
        DecimalOp::Mul => a.checked_mul(b),
        DecimalOp::Div => a.checked_div(b),
        DecimalOp::Rem => a.checked_rem(b),
    };
    result.ok_or(DecimalFault::Overflow)
}

/// The arithmetic operations on decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

/// Why a decimal operation gave no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalFault {
    /// Division or remainder by zero (SQL NULL).
    ZeroDivisor,
    /// The result does not fit (an error: the record is a dead letter).
    Overflow,
}

/// The 16-byte form of a decimal that rows are exchanged in (serde, e.g. between processes).
pub mod serde_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Decimal;

    /// Writes `d` as its 16 bytes.
    pub fn serialize<S: Serializer>(d: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        d.serialize().serialize(serializer)
    }

    /// Reads a decimal from its 16 bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        <[u8; 16]>::deserialize(deserializer).map(Decimal::deserialize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(p: u32, s: u32) -> DecimalType {
        DecimalType::new(p, s).unwrap()
    }

    fn d(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    #[test]
    fn types_are_checked() {
        assert!(DecimalType::new(10, 2).is_some());
        assert!(DecimalType::new(28, 28).is_some());
        assert!(DecimalType::new(0, 0).is_none());
        assert!(DecimalType::new(29, 2).is_none());
        assert!(DecimalType::new(4, 5).is_none());
    }

    #[test]
    fn fitting_rounds_half_up_pads_and_checks_the_whole_digits() {
        assert_eq!(fit(d("12.345"), t(10, 2)).unwrap().to_string(), "12.35");
        assert_eq!(fit(d("-12.345"), t(10, 2)).unwrap().to_string(), "-12.35");
        assert_eq!(fit(d("12.344"), t(10, 2)).unwrap().to_string(), "12.34");
        assert_eq!(fit(d("12.5"), t(10, 2)).unwrap().to_string(), "12.50");
        assert_eq!(fit(d("7"), t(10, 2)).unwrap().to_string(), "7.00");
        assert_eq!(fit(d("-0.001"), t(10, 2)).unwrap().to_string(), "0.00");
        assert_eq!(fit(d("99999999.99"), t(10, 2)).unwrap().to_string(), "99999999.99");
        assert_eq!(fit(d("99999999.995"), t(10, 2)), None, "rounds up past the precision");
        assert_eq!(fit(d("100000000"), t(10, 2)), None);
    }

    #[test]
    fn text_and_floats_are_read_exactly() {
        assert_eq!(parse("0.1", t(5, 3)).unwrap().to_string(), "0.100");
        assert_eq!(parse(" +1.5e2 ", t(6, 1)).unwrap().to_string(), "150.0");
        assert_eq!(parse(".5", t(3, 2)).unwrap().to_string(), "0.50");
        assert_eq!(parse("abc", t(3, 2)), None);
        assert_eq!(parse("", t(3, 2)), None);
        // The float nearest 2.675 is below it; its shortest text is 2.675, which rounds up.
        assert_eq!(from_float(2.675, t(5, 2)).unwrap().to_string(), "2.68");
        assert_eq!(from_float(0.1 + 0.2, t(5, 2)).unwrap().to_string(), "0.30");
        assert_eq!(from_float(f64::NAN, t(5, 2)), None);
        assert_eq!(from_int(-3, t(5, 2)).unwrap().to_string(), "-3.00");
        assert_eq!(from_int(1000, t(5, 2)), None);
    }

    #[test]
    fn result_types_follow_the_operands() {
        let money = t(10, 2);
        let rate = t(5, 4);
        assert_eq!(DecimalType::for_add(money, rate), t(13, 4));
        assert_eq!(DecimalType::for_mul(money, rate), t(15, 6));
        assert_eq!(DecimalType::for_mul(money, DecimalType::INT), t(28, 2));
        assert_eq!(DecimalType::for_div(money, money), t(16, 6));
        assert_eq!(DecimalType::for_rem(money, rate), t(5, 4));
        assert_eq!(DecimalType::unify(money, rate), t(12, 4));
        assert_eq!(money.round(1), t(10, 1));
        assert_eq!(money.round(-2), t(9, 0));
        assert_eq!(money.sum(), t(28, 2));
        assert_eq!(money.avg(), t(14, 6));
    }

    #[test]
    fn rounding_modes_differ_only_on_ties() {
        let to = t(10, 1);
        assert_eq!(round(d("2.25"), 1, Rounding::HalfUp, to).unwrap().to_string(), "2.3");
        assert_eq!(round(d("2.25"), 1, Rounding::HalfEven, to).unwrap().to_string(), "2.2");
        assert_eq!(round(d("2.35"), 1, Rounding::HalfEven, to).unwrap().to_string(), "2.4");
        assert_eq!(round(d("-2.25"), 1, Rounding::HalfUp, to).unwrap().to_string(), "-2.3");
        assert_eq!(round(d("2.26"), 1, Rounding::HalfEven, to).unwrap().to_string(), "2.3");
        assert_eq!(round(d("-2.5"), 0, Rounding::Floor, t(5, 0)).unwrap().to_string(), "-3");
        assert_eq!(round(d("-2.5"), 0, Rounding::Ceil, t(5, 0)).unwrap().to_string(), "-2");
        let whole = t(10, 0);
        assert_eq!(round(d("1250"), -2, Rounding::HalfUp, whole).unwrap().to_string(), "1300");
        assert_eq!(round(d("1250"), -2, Rounding::HalfEven, whole).unwrap().to_string(), "1200");
    }

    #[test]
    fn arithmetic_is_exact_and_overflow_is_reported() {
        assert_eq!(checked(DecimalOp::Add, d("0.1"), d("0.2")).unwrap(), d("0.3"));
        assert_eq!(checked(DecimalOp::Mul, d("19.99"), d("3")).unwrap().to_string(), "59.97");
        assert_eq!(checked(DecimalOp::Div, d("1"), d("0")), Err(DecimalFault::ZeroDivisor));
        assert_eq!(checked(DecimalOp::Mul, Decimal::MAX, d("2")), Err(DecimalFault::Overflow));
        assert_eq!(to_int(d("2.5")), Some(3));
        assert_eq!(to_int(d("-2.5")), Some(-3));
        assert_eq!(to_int(d("99999999999999999999")), None);
        assert_eq!(cmp_float(d("0.1"), 0.1), Ordering::Equal);
        assert_eq!(cmp_float(d("0.1"), f64::NAN), Ordering::Less);
        assert_eq!(cmp_int(d("2.00"), 2), Ordering::Equal);
    }
}
