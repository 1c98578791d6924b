//! Decimal expressions: exact arithmetic, result types, casts, rounding and comparisons.

use super::{checked, compile, Expr, ExprErrorKind};
use crate::decimal::{Decimal, DecimalType};
use crate::value::{Field, Schema, Type, Value};

fn dec(p: u32, s: u32) -> Type {
    Type::Decimal(DecimalType::new(p, s).unwrap())
}

fn d(text: &str) -> Value {
    Value::Decimal(Decimal::from_str_exact(text).unwrap())
}

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("price", dec(10, 2), false),
        Field::new("rate", dec(5, 4), false),
        Field::new("qty", Type::Int, false),
        Field::new("x", Type::Float, false),
        Field::new("text", Type::String, false),
        Field::new("big", dec(28, 0), false),
        Field::new("none", dec(10, 2), true),
    ])
}

fn row() -> Vec<Value> {
    vec![
        d("19.99"),
        d("0.0825"),
        Value::Int(3),
        Value::Float(0.1),
        Value::str("12.345"),
        d("9999999999999999999999999999"),
        Value::Null,
    ]
}

fn compiled(sql: &str) -> Expr {
    compile(sql, &schema()).unwrap_or_else(|e| panic!("`{sql}`: {e:?}"))
}

/// The value's text (which shows the scale) and the expression's type.
fn eval(sql: &str) -> (String, Type) {
    let e = compiled(sql);
    let v = e.eval(&row());
    (v.to_string(), e.ty())
}

#[test]
fn arithmetic_is_exact_and_typed_by_the_operands() {
    assert_eq!(eval("price * qty"), ("59.97".into(), dec(28, 2)));
    assert_eq!(eval("price * rate"), ("1.649175".into(), dec(15, 6)));
    assert_eq!(eval("price + rate"), ("20.0725".into(), dec(13, 4)));
    assert_eq!(eval("price - 20"), ("-0.01".into(), dec(22, 2)));
    assert_eq!(eval("price / 3"), ("6.663333".into(), dec(14, 6)));
    assert_eq!(eval("price / qty"), ("6.663333".into(), dec(14, 6)));
    assert_eq!(eval("price % 7"), ("5.99".into(), dec(10, 2)));
    assert_eq!(eval("-price"), ("-19.99".into(), dec(10, 2)));
    // A number literal is the exact decimal it is written as, not the float nearest to it.
    assert_eq!(eval("price * 0.9"), ("17.991".into(), dec(11, 3)));
    assert_eq!(eval("price * 0.1 + price * 0.2 = price * 0.3"), ("true".into(), Type::Bool));
    // Mixing with a float column gives a float, and so does a literal no decimal holds.
    assert_eq!(eval("price + x"), ("20.09".into(), Type::Float));
    let (huge, ty) = eval("price * 1e30");
    assert_eq!(ty, Type::Float);
    assert!(huge.starts_with("1998999999999999"), "{huge}");
    // A chain keeps each step's type.
    assert_eq!(eval("price + price + price"), ("59.97".into(), dec(12, 2)));
    assert_eq!(eval("price / 0"), ("NULL".into(), dec(14, 6)));
    assert_eq!(eval("none + price"), ("NULL".into(), dec(11, 2)));
}

#[test]
fn an_overflow_is_an_error_never_a_wrapped_or_rounded_number() {
    let e = compiled("big * 10");
    let got = checked(|| e.eval(&row()));
    assert_eq!(got.unwrap_err().kind, "decimal");
    assert!(compiled("price + 1").can_overflow());
    let e = compiled("big + big");
    assert_eq!(checked(|| e.eval(&row())).unwrap_err().operator, "+");
    let fine = compiled("price * qty");
    assert_eq!(checked(|| fine.eval(&row())), Ok(d("59.97")));
}

#[test]
fn casts_read_exactly_and_round_half_up() {
    assert_eq!(eval("CAST(text AS DECIMAL(10, 2))"), ("12.35".into(), dec(10, 2)));
    assert_eq!(eval("CAST('-2.345' AS NUMERIC(6,2))").0, "-2.35");
    assert_eq!(eval("CAST(x AS DECIMAL(5, 3))").0, "0.100");
    assert_eq!(eval("CAST(qty AS DECIMAL(4, 1))").0, "3.0");
    assert_eq!(eval("CAST(1000 AS DECIMAL(4, 1))").0, "NULL", "does not fit");
    assert_eq!(eval("CAST('abc' AS DECIMAL(4, 1))").0, "NULL");
    assert_eq!(eval("CAST(price AS DECIMAL(4, 1))").0, "20.0");
    assert_eq!(eval("CAST(price AS INT)"), ("20".into(), Type::Int));
    assert_eq!(eval("CAST(price AS FLOAT)"), ("19.99".into(), Type::Float));
    assert_eq!(eval("CAST(price AS TEXT)"), ("19.99".into(), Type::String));
    assert_eq!(eval("CAST(price * 1 AS TEXT)").0, "19.99");
    assert_eq!(eval("price::decimal(12, 4)").0, "19.9900");
}

#[test]
fn rounding_functions_and_formatting() {
    assert_eq!(eval("round(price, 1)"), ("20.0".into(), dec(10, 1)));
    assert_eq!(eval("round(rate, 2)"), ("0.08".into(), dec(4, 2)));
    assert_eq!(eval("round(CAST(2.345 AS DECIMAL(6,3)), 2)").0, "2.35");
    assert_eq!(eval("round_half_even(CAST(2.345 AS DECIMAL(6,3)), 2)").0, "2.34");
    assert_eq!(eval("round_half_even(CAST(2.355 AS DECIMAL(6,3)), 2)").0, "2.36");
    assert_eq!(eval("round(price)"), ("20".into(), dec(9, 0)));
    assert_eq!(eval("round(price, -1)").0, "20");
    assert_eq!(eval("round(price, qty)"), ("19.99".into(), dec(10, 2)));
    assert_eq!(eval("floor(-price)").0, "-20");
    assert_eq!(eval("ceil(price)").0, "20");
    assert_eq!(eval("abs(-price)").0, "19.99");
    assert_eq!(eval("sign(-price)").0, "-1");
    assert_eq!(eval("round_half_even(2.5)").0, "2");
    assert_eq!(eval("round_half_even(3.5)").0, "4");
    assert_eq!(eval("round_half_even(0.125, 2)").0, "0.12");
    assert_eq!(eval("round_half_even(25, -1)").0, "20");
    assert_eq!(eval("format_number(price * rate, 2)").0, "1.65");
    assert_eq!(eval("format('%.1f|%s', price, price)").0, "20.0|19.99");
    assert_eq!(eval("sqrt(CAST(4 AS DECIMAL(3,0)))").1, Type::Float);
}

#[test]
fn comparisons_and_branches_unify_decimals() {
    assert_eq!(eval("price > 19.98").0, "true");
    assert_eq!(eval("price = 19.99").0, "true");
    assert_eq!(eval("price < qty").0, "false");
    assert_eq!(eval("greatest(price, qty)"), ("19.99".into(), dec(21, 2)));
    assert_eq!(eval("coalesce(none, rate)"), ("0.0825".into(), dec(12, 4)));
    assert_eq!(eval("CASE WHEN qty > 1 THEN price ELSE 0 END"), ("19.99".into(), dec(21, 2)));
    assert_eq!(eval("CASE WHEN qty > 1 THEN price ELSE x END").1, Type::Float);
}

#[test]
fn a_mistyped_decimal_operand_is_a_type_error() {
    let e = compile("price + text", &schema()).unwrap_err();
    assert_eq!(e.kind, ExprErrorKind::TypeMismatch);
}
