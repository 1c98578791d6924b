use super::*;
use crate::value::{parse_date, parse_timestamp, Field, Schema, Type, Value};

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("quantity", Type::Int, false),
        Field::new("price", Type::Float, false),
        Field::new("name", Type::String, false),
        Field::new("ts", Type::Timestamp, false),
        Field::new("day", Type::Date, false),
        Field::new("flag", Type::Bool, true),
        Field::new("maybe", Type::Int, true),
        Field::new("note", Type::String, true),
        Field::new("my col", Type::Int, false),
        Field::new("a.b", Type::Int, false),
        Field::new("wait", Type::Interval, false),
        Field::new("yes", Type::Bool, false),
        Field::new("ts2", Type::Timestamp, true),
    ])
}

fn ts(text: &str) -> Value {
    Value::Timestamp(parse_timestamp(text).expect(text))
}

fn date(text: &str) -> Value {
    Value::Date(parse_date(text).expect(text))
}

fn s(text: &str) -> Value {
    Value::str(text)
}

fn row() -> Vec<Value> {
    vec![
        Value::Int(3),
        Value::Float(2.5),
        s("Widget"),
        ts("2026-01-01T07:35:10Z"),
        date("2026-01-01"),
        Value::Null,
        Value::Null,
        s("hello world"),
        Value::Int(7),
        Value::Int(9),
        Value::Interval(5 * 60 * 1_000_000),
        Value::Bool(true),
        ts("2026-01-03T00:00:00Z"),
    ]
}

fn compiled(sql: &str) -> Expr {
    compile(sql, &schema()).unwrap_or_else(|e| panic!("`{sql}` failed to compile: {e:?}"))
}

fn eval(sql: &str) -> Value {
    compiled(sql).eval(&row())
}

fn err(sql: &str) -> ExprError {
    match compile(sql, &schema()) {
        Ok(e) => panic!("`{sql}` compiled to {e:?}, expected an error"),
        Err(e) => e,
    }
}

fn check(cases: &[(&str, Value)]) {
    for (sql, expected) in cases {
        let got = eval(sql);
        assert_eq!(&got, expected, "`{sql}`");
    }
}

fn t() -> Value {
    Value::Bool(true)
}

fn f() -> Value {
    Value::Bool(false)
}

const NULL: Value = Value::Null;

const MINUTE: i64 = 60 * 1_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

#[test]
fn literals() {
    check(&[
        ("42", Value::Int(42)),
        ("-42", Value::Int(-42)),
        ("1.5", Value::Float(1.5)),
        ("1.5e3", Value::Float(1500.0)),
        ("99999999999999999999", Value::Float(1e20)),
        ("'it''s'", s("it's")),
        ("TRUE", t()),
        ("false", f()),
        ("NULL", NULL),
        ("DATE '2026-01-01'", date("2026-01-01")),
        ("TIMESTAMP '2026-01-01T07:00:00Z'", ts("2026-01-01T07:00:00Z")),
        ("TIMESTAMP '2026-01-01 07:00:00'", ts("2026-01-01T07:00:00Z")),
        ("INTERVAL '5 minutes'", Value::Interval(5 * MINUTE)),
        ("INTERVAL '1' HOUR", Value::Interval(HOUR)),
        ("INTERVAL '2 days'", Value::Interval(2 * DAY)),
        ("INTERVAL 5 MINUTE", Value::Interval(5 * MINUTE)),
        ("INTERVAL '1 hour 30 minutes'", Value::Interval(90 * MINUTE)),
        ("INTERVAL '1.5h'", Value::Interval(90 * MINUTE)),
        ("INTERVAL '-2 days'", Value::Interval(-2 * DAY)),
        ("INTERVAL '01:30:00'", Value::Interval(90 * MINUTE)),
        ("INTERVAL '250 ms'", Value::Interval(250_000)),
        ("INTERVAL '1 week'", Value::Interval(7 * DAY)),
    ]);
    assert_eq!(compiled("42").ty(), Type::Int);
    assert_eq!(compiled("1.5").ty(), Type::Float);
    assert_eq!(compiled("NULL").ty(), Type::Null);
    assert_eq!(compiled("INTERVAL '5 minutes'").ty(), Type::Interval);
    assert!(!compiled("42").nullable());
    assert!(compiled("NULL").nullable());
}

#[test]
fn bad_literals_are_errors() {
    let e = err("DATE '2026-13-01'");
    assert_eq!(e.kind, ExprErrorKind::Syntax);
    assert!(e.message.contains("invalid date literal"), "{e:?}");
    assert_eq!(e.location, Some((1, 6)));
    assert_eq!(err("TIMESTAMP 'yesterday'").kind, ExprErrorKind::Syntax);
    assert_eq!(err("INTERVAL '5 parsecs'").kind, ExprErrorKind::Syntax);
    assert_eq!(err("INTERVAL '1 month'").kind, ExprErrorKind::Unsupported);
    assert_eq!(err("INTERVAL '1' MONTH").kind, ExprErrorKind::Unsupported);
    assert_eq!(err("INTERVAL '1:30' HOUR TO MINUTE").kind, ExprErrorKind::Unsupported);
    assert_eq!(err("$1").kind, ExprErrorKind::Unsupported);
}

#[test]
fn columns_resolve_by_exact_name() {
    let e = compiled("quantity");
    assert_eq!(e.as_column(), Some(0));
    assert_eq!(e.ty(), Type::Int);
    assert!(!e.nullable());
    let e = compiled("note");
    assert_eq!(e.as_column(), Some(7));
    assert!(e.nullable());
    assert_eq!(compiled("\"my col\"").as_column(), Some(8));
    assert_eq!(compiled("\"quantity\"").as_column(), Some(0));
    assert_eq!(compiled("a.b").as_column(), Some(9));
    assert_eq!(compiled("(quantity)").as_column(), Some(0));
    assert_eq!(compiled("quantity + 1").as_column(), None);
    assert_eq!(eval("name"), s("Widget"));
    let manual = Expr::column(2, Type::String, false);
    assert_eq!(manual.eval(&row()), s("Widget"));
    assert_eq!(manual.as_column(), Some(2));
}

#[test]
fn unknown_column_has_hint_and_location() {
    let e = err("quantty > 3");
    assert_eq!(e.kind, ExprErrorKind::UnknownColumn);
    assert_eq!(e.message, "unknown column `quantty`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `quantity`?"));
    assert_eq!(e.location, Some((1, 1)));

    let e = err("price > 1 AND\n  Name = 'x'");
    assert_eq!(e.message, "unknown column `Name`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `name`?"));
    assert_eq!(e.location, Some((2, 3)));

    let small = Schema::new(vec![
        Field::new("a", Type::Int, false),
        Field::new("b", Type::Int, false),
        Field::new("c", Type::Int, false),
    ]);
    let e = compile("zzzzzz + 1", &small).unwrap_err();
    assert_eq!(e.kind, ExprErrorKind::UnknownColumn);
    assert_eq!(e.hint.as_deref(), Some("available columns: a, b, c"));

    let keywords = Schema::new(vec![
        Field::new("user", Type::Int, false),
        Field::new("current_date", Type::Date, false),
        Field::new("interval", Type::Int, false),
    ]);
    assert_eq!(compile("user + 1", &keywords).unwrap().ty(), Type::Int);
    assert_eq!(compile("current_date", &keywords).unwrap().as_column(), Some(1));
    assert_eq!(compile("\"interval\" * 2", &keywords).unwrap().ty(), Type::Int);
    let e = compile("current_user", &keywords).unwrap_err();
    assert_eq!(e.kind, ExprErrorKind::UnknownColumn);
    assert_eq!(e.message, "unknown column `current_user`");

    let e = compile("x", &Schema::default()).unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("the input has no columns"));
}

#[test]
fn arithmetic() {
    check(&[
        ("quantity + 2", Value::Int(5)),
        ("quantity - 5", Value::Int(-2)),
        ("quantity * price", Value::Float(7.5)),
        ("7 / 2", Value::Int(3)),
        ("-7 / 2", Value::Int(-3)),
        ("7.0 / 2", Value::Float(3.5)),
        ("7 % 3", Value::Int(1)),
        ("-7 % 3", Value::Int(-1)),
        ("7.5 % 2", Value::Float(1.5)),
        ("quantity / 0", NULL),
        ("quantity % 0", NULL),
        ("price / 0", NULL),
        ("price / 0.0", NULL),
        ("-quantity", Value::Int(-3)),
        ("-price", Value::Float(-2.5)),
        ("+quantity", Value::Int(3)),
        ("2 + 3 * 4", Value::Int(14)),
        ("(2 + 3) * 4", Value::Int(20)),
        ("maybe + 1", NULL),
        ("NULL + 1", NULL),
        ("9223372036854775807 + 1", NULL),
        ("mod(7, 3)", Value::Int(1)),
        ("\"my col\" * 2", Value::Int(14)),
    ]);
    assert_eq!(compiled("quantity + 2").ty(), Type::Int);
    assert!(!compiled("quantity + 2").nullable());
    assert_eq!(compiled("quantity * price").ty(), Type::Float);
    assert!(compiled("quantity / 2").nullable());
    assert!(compiled("maybe + 1").nullable());
    assert_eq!(compiled("NULL + 1").ty(), Type::Int);
}

#[test]
fn temporal_arithmetic() {
    check(&[
        ("ts + INTERVAL '5 minutes'", ts("2026-01-01T07:40:10Z")),
        ("ts - INTERVAL '1' HOUR", ts("2026-01-01T06:35:10Z")),
        ("INTERVAL '1 day' + ts", ts("2026-01-02T07:35:10Z")),
        ("ts + wait", ts("2026-01-01T07:40:10Z")),
        ("ts2 - ts", Value::Interval(ts_diff("2026-01-03T00:00:00Z", "2026-01-01T07:35:10Z"))),
        ("day + 1", date("2026-01-02")),
        ("day - 1", date("2025-12-31")),
        ("1 + day", date("2026-01-02")),
        ("DATE '2026-03-01' - DATE '2026-02-01'", Value::Int(28)),
        ("day + INTERVAL '6 hours'", ts("2026-01-01T06:00:00Z")),
        ("INTERVAL '1 hour' + INTERVAL '30 minutes'", Value::Interval(90 * MINUTE)),
        ("INTERVAL '1 hour' * 2", Value::Interval(2 * HOUR)),
        ("2 * INTERVAL '1 hour'", Value::Interval(2 * HOUR)),
        ("INTERVAL '1 hour' / 4", Value::Interval(15 * MINUTE)),
        ("INTERVAL '1 hour' * 1.5", Value::Interval(90 * MINUTE)),
        ("-INTERVAL '1 hour'", Value::Interval(-HOUR)),
        ("ts - day", Value::Interval(7 * HOUR + 35 * MINUTE + 10_000_000)),
    ]);
    assert_eq!(compiled("ts + INTERVAL '5 minutes'").ty(), Type::Timestamp);
    assert_eq!(compiled("ts2 - ts").ty(), Type::Interval);
    assert_eq!(compiled("day + 1").ty(), Type::Date);
    assert_eq!(compiled("day - day").ty(), Type::Int);
    assert!(!compiled("ts + INTERVAL '5 minutes'").nullable());
    assert!(compiled("ts2 - ts").nullable());
}

fn ts_diff(a: &str, b: &str) -> i64 {
    parse_timestamp(a).unwrap() - parse_timestamp(b).unwrap()
}

#[test]
fn arithmetic_type_errors() {
    let e = err("name + 1");
    assert_eq!(e.kind, ExprErrorKind::TypeMismatch);
    assert_eq!(e.message, "operator `+` cannot be applied to string and int");
    assert!(e.hint.as_deref().unwrap_or("").contains("||"));
    assert_eq!(e.location, Some((1, 1)));
    assert_eq!(err("ts + 1").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("ts + ts").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("yes * 2").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("-name").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("INTERVAL '1 hour' * INTERVAL '1 hour'").kind, ExprErrorKind::TypeMismatch);
}

#[test]
fn comparisons() {
    check(&[
        ("quantity = 3", t()),
        ("quantity <> 3", f()),
        ("quantity != 3", f()),
        ("quantity < 4", t()),
        ("quantity <= 3", t()),
        ("quantity > 3", f()),
        ("quantity >= 4", f()),
        ("quantity = 3.0", t()),
        ("price > 2", t()),
        ("2 < price", t()),
        ("9007199254740993 > 9007199254740992.0", t()),
        ("name = 'Widget'", t()),
        ("name < 'Z'", t()),
        ("name = 'widget'", f()),
        ("ts > TIMESTAMP '2026-01-01T07:00:00Z'", t()),
        ("ts > DATE '2026-01-01'", t()),
        ("day = TIMESTAMP '2026-01-01T00:00:00Z'", t()),
        ("day < ts", t()),
        ("ts >= '2026-01-01T07:00:00Z'", t()),
        ("day = '2026-01-01'", t()),
        ("wait > INTERVAL '1 minute'", t()),
        ("wait = '5 minutes'", t()),
        ("yes = TRUE", t()),
        ("maybe = 1", NULL),
        ("NULL = NULL", NULL),
        ("quantity = NULL", NULL),
        ("quantity IS DISTINCT FROM maybe", t()),
        ("maybe IS NOT DISTINCT FROM NULL", t()),
        ("quantity IS NOT DISTINCT FROM 3", t()),
        ("0.0 = -0.0", t()),
    ]);
    assert_eq!(compiled("quantity = 3").ty(), Type::Bool);
    assert!(!compiled("quantity = 3").nullable());
    assert!(compiled("maybe = 3").nullable());
    assert!(!compiled("maybe IS DISTINCT FROM 3").nullable());
}

#[test]
fn comparison_type_errors() {
    let e = err("name = 1");
    assert_eq!(e.kind, ExprErrorKind::TypeMismatch);
    assert_eq!(e.message, "cannot compare string with int");
    assert_eq!(e.location, Some((1, 1)));
    let e = err("quantity > 1 AND ts > 'soon'");
    assert_eq!(e.message, "cannot compare timestamp with string");
    assert_eq!(e.location, Some((1, 18)));
    assert!(e.hint.is_some());
    assert_eq!(err("yes < 1").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("quantity BETWEEN 'a' AND 'b'").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("quantity IN (1, 'two')").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("wait = 5").kind, ExprErrorKind::TypeMismatch);
}

#[test]
fn three_valued_logic() {
    // AND
    check(&[
        ("TRUE AND TRUE", t()),
        ("TRUE AND FALSE", f()),
        ("TRUE AND NULL", NULL),
        ("FALSE AND NULL", f()),
        ("NULL AND FALSE", f()),
        ("NULL AND NULL", NULL),
        ("yes AND flag", NULL),
        ("NOT yes AND flag", f()),
        // OR
        ("TRUE OR NULL", t()),
        ("NULL OR TRUE", t()),
        ("FALSE OR NULL", NULL),
        ("FALSE OR FALSE", f()),
        ("flag OR yes", t()),
        ("flag OR NOT yes", NULL),
        // NOT
        ("NOT TRUE", f()),
        ("NOT NULL", NULL),
        ("NOT flag", NULL),
        ("NOT NOT yes", t()),
        // chains
        ("quantity = 3 AND price > 2 AND name = 'Widget'", t()),
        ("quantity = 1 OR quantity = 2 OR quantity = 3", t()),
        ("(quantity = 1 OR quantity = 2) AND yes", f()),
        // IS
        ("flag IS NULL", t()),
        ("flag IS NOT NULL", f()),
        ("quantity IS NULL", f()),
        ("note IS NOT NULL", t()),
        ("flag IS TRUE", f()),
        ("flag IS NOT TRUE", t()),
        ("flag IS FALSE", f()),
        ("flag IS NOT FALSE", t()),
        ("yes IS TRUE", t()),
        ("flag IS UNKNOWN", t()),
        ("yes IS NOT UNKNOWN", t()),
    ]);
    let r = row();
    assert!(!compiled("flag").eval_bool(&r), "NULL is not true");
    assert!(!compiled("yes AND flag").eval_bool(&r));
    assert!(compiled("(NOT (yes AND flag)) IS NOT FALSE").eval_bool(&r));
    assert!(compiled("yes").eval_bool(&r));
    assert!(!compiled("flag IS NULL").nullable());
    assert!(compiled("yes AND flag").nullable());
    assert!(!compiled("yes AND quantity > 1").nullable());
    let e = err("quantity AND yes");
    assert_eq!(e.kind, ExprErrorKind::TypeMismatch);
    assert_eq!(e.message, "AND expects a boolean operand, found int");
    assert_eq!(err("NOT name").message, "NOT expects a boolean operand, found string");
    assert_eq!(err("yes OR 1").location, Some((1, 8)));
}

#[test]
fn between_and_in() {
    check(&[
        ("quantity BETWEEN 1 AND 3", t()),
        ("quantity BETWEEN 4 AND 9", f()),
        ("quantity NOT BETWEEN 4 AND 9", t()),
        ("price BETWEEN 2 AND 3", t()),
        ("ts BETWEEN '2026-01-01' AND '2026-01-02'", t()),
        ("maybe BETWEEN 1 AND 2", NULL),
        ("quantity BETWEEN NULL AND 2", f()),
        ("quantity BETWEEN NULL AND 5", NULL),
        ("quantity IN (1, 2, 3)", t()),
        ("quantity IN (1, 2)", f()),
        ("quantity NOT IN (1, 2)", t()),
        ("quantity NOT IN (1, 2, 3)", f()),
        ("quantity IN (1, NULL)", NULL),
        ("quantity IN (3, NULL)", t()),
        ("quantity NOT IN (1, NULL)", NULL),
        ("maybe IN (1, 2)", NULL),
        ("quantity IN (3.0)", t()),
        ("quantity IN (1 + 2)", t()),
        ("quantity IN (price, 3)", t()),
        ("quantity IN (price, 4)", f()),
        ("name IN ('Gadget', 'Widget')", t()),
        ("name IN ('a','b','c','d','e','f','g','h','Widget')", t()),
        ("name IN ('a','b','c','d','e','f','g','h','i')", f()),
        ("name NOT IN ('a','b','c','d','e','f','g','h','i')", t()),
        ("name IN ('a','b','c','d','e','f','g','h', NULL)", NULL),
        ("quantity IN (10,11,12,13,14,15,16,17,3)", t()),
        ("quantity IN (10,11,12,13,14,15,16,17,18)", f()),
        ("day IN ('2026-01-01', '2026-01-02')", t()),
    ]);
    assert!(!compiled("quantity IN (1, 2)").nullable());
    assert!(compiled("quantity IN (1, NULL)").nullable());
}

#[test]
fn like_patterns() {
    check(&[
        ("name LIKE 'Wid%'", t()),
        ("name LIKE '%get'", t()),
        ("name LIKE '%dge%'", t()),
        ("name LIKE 'Widget'", t()),
        ("name LIKE 'widget'", f()),
        ("name LIKE 'W_dget'", t()),
        ("name LIKE 'W_dg'", f()),
        ("name LIKE 'W%t'", t()),
        ("name LIKE 'W%x'", f()),
        ("name LIKE '%'", t()),
        ("name LIKE '%%'", t()),
        ("name LIKE ''", f()),
        ("'' LIKE ''", t()),
        ("name LIKE '_%_%_'", t()),
        ("name NOT LIKE 'Wid%'", f()),
        ("name ILIKE 'widget'", t()),
        ("name ILIKE 'WID%'", t()),
        ("name NOT ILIKE 'w%'", f()),
        ("'50%' LIKE '50\\%'", t()),
        ("'500' LIKE '50\\%'", f()),
        ("'a_b' LIKE 'a!_b' ESCAPE '!'", t()),
        ("'axb' LIKE 'a!_b' ESCAPE '!'", f()),
        ("'ünïcödé' LIKE '_n_c_d_'", t()),
        ("'aaa' LIKE '%a%a%a%'", t()),
        ("'aa' LIKE '%a%a%a%'", f()),
        ("note LIKE 'hello%'", t()),
        ("flag IS NULL AND maybe IS NULL AND NULL LIKE 'x'", NULL),
        ("name LIKE note", f()),
        ("note LIKE '%' || 'world'", t()),
        ("name LIKE NULL", NULL),
    ]);
    assert_eq!(err("quantity LIKE '1%'").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("name LIKE 'a' ESCAPE 'ab'").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("name SIMILAR TO 'a'").kind, ExprErrorKind::Unsupported);
}

#[test]
fn string_concatenation() {
    check(&[
        ("name || '-' || quantity", s("Widget-3")),
        ("'a' || 'b'", s("ab")),
        ("name || note", s("Widgethello world")),
        ("name || maybe", NULL),
        ("name || NULL", NULL),
        ("concat(name, '-', maybe, '-', quantity)", s("Widget--3")),
        ("concat(price, ' ', yes, ' ', day)", s("2.5 true 2026-01-01")),
    ]);
    assert_eq!(compiled("name || '-'").ty(), Type::String);
    assert!(compiled("name || maybe").nullable());
    assert!(!compiled("concat(name, maybe)").nullable());
    assert_eq!(err("1 || 2").kind, ExprErrorKind::TypeMismatch);
}

#[test]
fn case_expressions() {
    check(&[
        ("CASE WHEN quantity > 2 THEN 'many' ELSE 'few' END", s("many")),
        ("CASE WHEN quantity > 5 THEN 'many' ELSE 'few' END", s("few")),
        ("CASE WHEN quantity > 5 THEN 'many' END", NULL),
        ("CASE WHEN flag THEN 1 WHEN yes THEN 2 ELSE 3 END", Value::Int(2)),
        ("CASE WHEN quantity > 2 THEN 1 ELSE 2.5 END", Value::Float(1.0)),
        ("CASE WHEN quantity > 2 THEN NULL ELSE 1 END", NULL),
        ("CASE quantity WHEN 1 THEN 'one' WHEN 3 THEN 'three' ELSE 'other' END", s("three")),
        ("CASE quantity WHEN 1 THEN 'one' END", NULL),
        ("CASE maybe WHEN NULL THEN 'null' ELSE 'other' END", s("other")),
        ("CASE day WHEN '2026-01-01' THEN 1 ELSE 0 END", Value::Int(1)),
        ("CASE WHEN yes THEN day ELSE ts END", ts("2026-01-01T00:00:00Z")),
        ("if(quantity > 2, 'big', 'small')", s("big")),
        ("if(flag, 1, 2)", Value::Int(2)),
    ]);
    let e = compiled("CASE WHEN quantity > 2 THEN 1 ELSE 2.5 END");
    assert_eq!(e.ty(), Type::Float);
    assert!(!e.nullable());
    assert!(compiled("CASE WHEN quantity > 2 THEN 1 END").nullable());
    assert!(compiled("CASE WHEN yes THEN maybe ELSE 1 END").nullable());
    assert_eq!(compiled("CASE WHEN yes THEN NULL ELSE 'x' END").ty(), Type::String);
    let e = err("CASE WHEN yes THEN 'a' ELSE 1 END");
    assert_eq!(e.kind, ExprErrorKind::TypeMismatch);
    assert_eq!(e.message, "CASE has incompatible types: string and int");
    assert_eq!(e.location, Some((1, 29)));
    assert_eq!(err("CASE WHEN quantity THEN 1 END").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("CASE quantity WHEN 'x' THEN 1 END").kind, ExprErrorKind::TypeMismatch);
}

#[test]
fn null_handling_functions() {
    check(&[
        ("coalesce(maybe, quantity)", Value::Int(3)),
        ("coalesce(maybe, NULL, 7)", Value::Int(7)),
        ("coalesce(maybe, NULL)", NULL),
        ("coalesce(maybe, 2.5)", Value::Float(2.5)),
        ("coalesce(note, name)", s("hello world")),
        ("ifnull(maybe, 0)", Value::Int(0)),
        ("nullif(quantity, 3)", NULL),
        ("nullif(quantity, 4)", Value::Int(3)),
        ("nullif(maybe, 4)", NULL),
        ("greatest(1, quantity, 2)", Value::Int(3)),
        ("least(1, quantity, 2)", Value::Int(1)),
        ("greatest(1, price)", Value::Float(2.5)),
        ("greatest(maybe, 1)", Value::Int(1)),
        ("least(maybe, NULL)", NULL),
        ("greatest('a', name)", s("a")),
        ("least(ts, TIMESTAMP '2020-01-01T00:00:00Z')", ts("2020-01-01T00:00:00Z")),
    ]);
    assert!(!compiled("coalesce(maybe, 0)").nullable());
    assert!(compiled("coalesce(maybe, NULL)").nullable());
    assert!(!compiled("coalesce(quantity, maybe)").nullable());
    assert_eq!(compiled("coalesce(maybe, 2.5)").ty(), Type::Float);
    assert!(compiled("nullif(quantity, 4)").nullable());
    assert!(!compiled("greatest(maybe, 1)").nullable());
    assert_eq!(err("coalesce(name, 1)").kind, ExprErrorKind::TypeMismatch);
}

#[test]
fn casts() {
    check(&[
        ("CAST(quantity AS FLOAT)", Value::Float(3.0)),
        ("CAST(price AS INT)", Value::Int(3)),
        ("CAST(2.4 AS BIGINT)", Value::Int(2)),
        ("CAST(-2.5 AS INTEGER)", Value::Int(-3)),
        ("CAST('42' AS INT)", Value::Int(42)),
        ("CAST(' 42 ' AS INT)", Value::Int(42)),
        ("CAST('4x' AS INT)", NULL),
        ("CAST('2.5' AS DOUBLE)", Value::Float(2.5)),
        ("CAST('abc' AS DOUBLE)", NULL),
        ("CAST(quantity AS TEXT)", s("3")),
        ("CAST(price AS VARCHAR)", s("2.5")),
        ("CAST(yes AS STRING)", s("true")),
        ("CAST(ts AS TEXT)", s("2026-01-01T07:35:10Z")),
        ("CAST(day AS TEXT)", s("2026-01-01")),
        ("CAST('true' AS BOOLEAN)", t()),
        ("CAST('no' AS BOOLEAN)", f()),
        ("CAST('maybe' AS BOOLEAN)", NULL),
        ("CAST(0 AS BOOLEAN)", f()),
        ("CAST(yes AS INT)", Value::Int(1)),
        ("CAST('2026-01-01' AS DATE)", date("2026-01-01")),
        ("CAST('2026-01-01T07:00:00Z' AS DATE)", date("2026-01-01")),
        ("CAST('2026-02-30' AS DATE)", NULL),
        ("CAST(ts AS DATE)", date("2026-01-01")),
        ("CAST(day AS TIMESTAMP)", ts("2026-01-01T00:00:00Z")),
        ("CAST('2026-01-01T07:00:00+01:00' AS TIMESTAMP)", ts("2026-01-01T06:00:00Z")),
        ("CAST('nope' AS TIMESTAMP)", NULL),
        ("CAST('90 seconds' AS INTERVAL)", Value::Interval(90_000_000)),
        ("CAST(NULL AS INT)", NULL),
        ("ts::date", date("2026-01-01")),
        ("'7'::int + 1", Value::Int(8)),
        ("TRY_CAST('x' AS INT)", NULL),
        ("CAST(1e300 AS INT)", NULL),
    ]);
    assert_eq!(compiled("CAST(quantity AS FLOAT)").ty(), Type::Float);
    assert!(!compiled("CAST(quantity AS FLOAT)").nullable());
    assert!(!compiled("CAST(quantity AS TEXT)").nullable());
    assert!(compiled("CAST(name AS INT)").nullable());
    assert!(compiled("CAST(price AS INT)").nullable());
    assert!(!compiled("CAST(ts AS DATE)").nullable());
    assert_eq!(compiled("CAST(NULL AS INT)").ty(), Type::Int);
    let e = err("CAST(ts AS INT)");
    assert_eq!(e.kind, ExprErrorKind::TypeMismatch);
    assert_eq!(e.message, "cannot cast timestamp to int");
    assert_eq!(err("CAST(quantity AS TIMESTAMP)").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("CAST(quantity AS BLOB)").kind, ExprErrorKind::Unsupported);
}

#[test]
fn math_functions() {
    check(&[
        ("abs(-3)", Value::Int(3)),
        ("abs(-2.5)", Value::Float(2.5)),
        ("round(2.5)", Value::Float(3.0)),
        ("round(-2.5)", Value::Float(-3.0)),
        ("round(2.345, 2)", Value::Float(2.35)),
        ("round(1234.5, -2)", Value::Float(1200.0)),
        ("round(quantity)", Value::Int(3)),
        ("round(1250, -2)", Value::Int(1300)),
        ("round(-1250, -2)", Value::Int(-1300)),
        ("round(1249, -2)", Value::Int(1200)),
        ("floor(2.7)", Value::Float(2.0)),
        ("floor(-2.2)", Value::Float(-3.0)),
        ("ceil(2.2)", Value::Float(3.0)),
        ("ceiling(2.2)", Value::Float(3.0)),
        ("floor(quantity)", Value::Int(3)),
        ("sqrt(16)", Value::Float(4.0)),
        ("sqrt(-1)", NULL),
        ("power(2, 10)", Value::Float(1024.0)),
        ("pow(2.0, 0.5) > 1.41", t()),
        ("power(-8, 0.5)", NULL),
        ("ln(1)", Value::Float(0.0)),
        ("ln(0)", NULL),
        ("log10(1000)", Value::Float(3.0)),
        ("exp(0)", Value::Float(1.0)),
        ("sign(-4)", Value::Int(-1)),
        ("sign(0.0)", Value::Int(0)),
        ("sign(price)", Value::Int(1)),
        ("mod(-7, 3)", Value::Int(-1)),
        ("abs(maybe)", NULL),
    ]);
    assert_eq!(compiled("abs(quantity)").ty(), Type::Int);
    assert!(!compiled("abs(quantity)").nullable());
    assert_eq!(compiled("sqrt(quantity)").ty(), Type::Float);
    assert!(compiled("sqrt(quantity)").nullable());
    assert!(!compiled("exp(price)").nullable());
}

#[test]
fn string_functions() {
    check(&[
        ("lower(name)", s("widget")),
        ("upper(name)", s("WIDGET")),
        ("upper('straße')", s("STRASSE")),
        ("length(name)", Value::Int(6)),
        ("char_length('ünï')", Value::Int(3)),
        ("trim('  x  ')", s("x")),
        ("ltrim('  x  ')", s("x  ")),
        ("rtrim('  x  ')", s("  x")),
        ("trim('xxaxx', 'x')", s("a")),
        ("TRIM('x' FROM 'xxaxx')", s("a")),
        ("TRIM(LEADING 'x' FROM 'xxaxx')", s("axx")),
        ("TRIM(TRAILING ' ' FROM '  a  ')", s("  a")),
        ("ltrim('xya', 'xy')", s("a")),
        ("substr(name, 2, 3)", s("idg")),
        ("substr(name, 4)", s("get")),
        ("substring(name, 0, 3)", s("Wi")),
        ("substring(name, -5, 3)", s("")),
        ("substring(name, 5, 100)", s("et")),
        ("SUBSTRING(name FROM 2 FOR 3)", s("idg")),
        ("SUBSTRING(name FROM 3)", s("dget")),
        ("substr('ünïcödé', 2, 3)", s("nïc")),
        ("substr(name, 2, -1)", s("")),
        ("replace(name, 'dg', 'DG')", s("WiDGet")),
        ("replace(name, '', 'x')", s("Widget")),
        ("replace(note, 'o', '0')", s("hell0 w0rld")),
        ("starts_with(name, 'Wid')", t()),
        ("ends_with(name, 'get')", t()),
        ("contains(note, 'o w')", t()),
        ("contains(note, 'xyz')", f()),
        ("strpos(name, 'dg')", Value::Int(3)),
        ("strpos(name, 'z')", Value::Int(0)),
        ("POSITION('dg' IN name)", Value::Int(3)),
        ("strpos('ünïcödé', 'c')", Value::Int(4)),
        ("split_part('a,b,c', ',', 2)", s("b")),
        ("split_part('a,b,c', ',', 4)", s("")),
        ("split_part('a,b,c', ',', -1)", s("c")),
        ("split_part('a,b,c', '', 1)", s("a,b,c")),
        ("left(name, 3)", s("Wid")),
        ("left(name, -2)", s("Widg")),
        ("left(name, 100)", s("Widget")),
        ("right(name, 3)", s("get")),
        ("right(name, -2)", s("dget")),
        ("lpad('7', 3, '0')", s("007")),
        ("lpad('abc', 5)", s("  abc")),
        ("lpad('abcdef', 3, '0')", s("abc")),
        ("rpad('ab', 5, 'xy')", s("abxyx")),
        ("rpad('ab', -1, 'x')", s("")),
        ("lpad('a', 100000000, 'x')", NULL),
        ("lower(note || 'X')", s("hello worldx")),
        ("length(maybe || 'x')", NULL),
    ]);
    assert_eq!(compiled("length(name)").ty(), Type::Int);
    assert!(!compiled("lower(name)").nullable());
    assert!(compiled("lower(note)").nullable());
}

#[test]
fn function_type_and_arity_errors() {
    let e = err("lower(quantity)");
    assert_eq!(e.kind, ExprErrorKind::TypeMismatch);
    assert_eq!(e.message, "function `lower` expects a string argument, found int");
    assert_eq!(e.location, Some((1, 7)));
    let e = err("lower(name, name)");
    assert_eq!(e.message, "function `lower` expects 1 argument, found 2");
    assert_eq!(e.location, Some((1, 1)));
    let e = err("substr(name, 'x')");
    assert_eq!(e.message, "function `substr` expects an int as argument 2, found string");
    assert_eq!(err("round(1, 2, 3)").message, "function `round` expects 1 or 2 arguments, found 3");
    assert_eq!(
        err("coalesce()").message,
        "function `coalesce` expects at least 1 argument, found 0"
    );
    assert_eq!(err("abs('x')").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("date_trunc('hour', name)").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("date_trunc(name, ts)").kind, ExprErrorKind::TypeMismatch);
    let e = err("date_trunc('hours2', ts)");
    assert_eq!(e.kind, ExprErrorKind::TypeMismatch);
    assert_eq!(e.hint.as_deref(), Some("did you mean `hour`?"));
    assert_eq!(err("upper(DISTINCT name)").kind, ExprErrorKind::Unsupported);
}

#[test]
fn unknown_functions_and_aggregates() {
    let e = err("sume(quantity)");
    assert_eq!(e.kind, ExprErrorKind::UnknownFunction);
    assert_eq!(e.message, "unknown function `sume`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `sum`?"));
    assert_eq!(e.location, Some((1, 1)));
    let e = err("1 + lowr(name)");
    assert_eq!(e.hint.as_deref(), Some("did you mean `lower`?"));
    assert_eq!(e.location, Some((1, 5)));
    let e = err("frobnicate(quantity)");
    assert_eq!(e.kind, ExprErrorKind::UnknownFunction);
    assert_eq!(e.hint, None);

    let e = err("sum(quantity)");
    assert_eq!(e.kind, ExprErrorKind::Unsupported);
    assert_eq!(e.message, "aggregate `sum` is not allowed here; use an `aggregate` operator");
    for sql in
        ["count(*)", "COUNT(DISTINCT name)", "avg(price) > 1", "max(quantity)", "first(price)"]
    {
        assert_eq!(err(sql).kind, ExprErrorKind::Unsupported, "{sql}");
    }
    assert_eq!(err("row_number() OVER ()").kind, ExprErrorKind::Unsupported);
    assert_eq!(err("lower(name) OVER ()").kind, ExprErrorKind::Unsupported);
    assert_eq!(err("now()").kind, ExprErrorKind::Unsupported);
    assert_eq!(err("current_timestamp").kind, ExprErrorKind::Unsupported);
    assert_eq!(err("quantity IN (SELECT 1)").kind, ExprErrorKind::Unsupported);
    assert_eq!(err("(SELECT 1)").kind, ExprErrorKind::Unsupported);
    assert_eq!(err("EXISTS (SELECT 1)").kind, ExprErrorKind::Unsupported);
    assert_eq!(err("ARRAY[1, 2]").kind, ExprErrorKind::Unsupported);
}

#[test]
fn date_trunc_and_extract() {
    check(&[
        ("date_trunc('hour', TIMESTAMP '2026-01-01T07:35:10Z')", ts("2026-01-01T07:00:00Z")),
        ("date_trunc('second', TIMESTAMP '2026-01-01T07:35:10.250Z')", ts("2026-01-01T07:35:10Z")),
        ("date_trunc('minute', ts)", ts("2026-01-01T07:35:00Z")),
        ("date_trunc('HOUR', ts)", ts("2026-01-01T07:00:00Z")),
        ("date_trunc('day', ts)", ts("2026-01-01T00:00:00Z")),
        ("date_trunc('week', ts)", ts("2025-12-29T00:00:00Z")),
        ("date_trunc('week', TIMESTAMP '2026-01-05T10:00:00Z')", ts("2026-01-05T00:00:00Z")),
        ("date_trunc('week', TIMESTAMP '2026-01-04T23:59:59Z')", ts("2025-12-29T00:00:00Z")),
        ("date_trunc('month', TIMESTAMP '2026-03-31T23:00:00Z')", ts("2026-03-01T00:00:00Z")),
        ("date_trunc('quarter', TIMESTAMP '2026-05-15T00:00:00Z')", ts("2026-04-01T00:00:00Z")),
        ("date_trunc('year', ts)", ts("2026-01-01T00:00:00Z")),
        ("date_trunc('month', DATE '2024-02-29')", ts("2024-02-01T00:00:00Z")),
        ("date_trunc('hour', TIMESTAMP '1969-12-31T23:30:00Z')", ts("1969-12-31T23:00:00Z")),
        ("date_trunc('year', TIMESTAMP '1900-06-01T00:00:00Z')", ts("1900-01-01T00:00:00Z")),
        ("date_trunc('hour', ts2)", ts("2026-01-03T00:00:00Z")),
        ("extract(dow from DATE '2026-01-01')", Value::Int(4)),
        ("extract(dow from DATE '2026-01-04')", Value::Int(0)),
        ("extract(isodow from DATE '2026-01-04')", Value::Int(7)),
        ("extract(isodow from DATE '2026-01-05')", Value::Int(1)),
        ("EXTRACT(YEAR FROM ts)", Value::Int(2026)),
        ("EXTRACT(MONTH FROM ts)", Value::Int(1)),
        ("EXTRACT(DAY FROM ts)", Value::Int(1)),
        ("EXTRACT(HOUR FROM ts)", Value::Int(7)),
        ("EXTRACT(MINUTE FROM ts)", Value::Int(35)),
        ("EXTRACT(SECOND FROM ts)", Value::Int(10)),
        ("EXTRACT(MILLISECOND FROM TIMESTAMP '2026-01-01T00:00:05.250Z')", Value::Int(5250)),
        ("EXTRACT(DOY FROM DATE '2026-12-31')", Value::Int(365)),
        ("EXTRACT(DOY FROM DATE '2024-12-31')", Value::Int(366)),
        ("EXTRACT(QUARTER FROM DATE '2026-08-01')", Value::Int(3)),
        ("EXTRACT(WEEK FROM DATE '2026-01-01')", Value::Int(1)),
        ("EXTRACT(WEEK FROM DATE '2021-01-03')", Value::Int(53)),
        ("EXTRACT(ISOYEAR FROM DATE '2021-01-03')", Value::Int(2020)),
        ("EXTRACT(WEEK FROM DATE '2024-12-30')", Value::Int(1)),
        ("EXTRACT(EPOCH FROM TIMESTAMP '1970-01-01T00:01:00.5Z')", Value::Float(60.5)),
        ("EXTRACT(EPOCH FROM DATE '1970-01-02')", Value::Float(86400.0)),
        ("EXTRACT(EPOCH FROM ts2 - ts)", Value::Float(145_490.0)),
        ("EXTRACT(HOUR FROM day)", Value::Int(0)),
        ("EXTRACT(YEAR FROM TIMESTAMP '1969-12-31T23:59:59Z')", Value::Int(1969)),
        ("EXTRACT(DOW FROM TIMESTAMP '1969-12-31T23:59:59Z')", Value::Int(3)),
        ("date_part('hour', ts)", Value::Int(7)),
        ("date_part('dow', day)", Value::Int(4)),
        ("date_part('epoch', DATE '1970-01-01')", Value::Float(0.0)),
    ]);
    assert_eq!(compiled("date_trunc('hour', ts)").ty(), Type::Timestamp);
    assert_eq!(compiled("date_trunc('hour', day)").ty(), Type::Timestamp);
    assert!(!compiled("date_trunc('hour', ts)").nullable());
    assert!(compiled("date_trunc('hour', ts2)").nullable());
    assert_eq!(compiled("EXTRACT(HOUR FROM ts)").ty(), Type::Int);
    assert_eq!(compiled("EXTRACT(EPOCH FROM ts)").ty(), Type::Float);
    assert_eq!(err("EXTRACT(HOUR FROM name)").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("EXTRACT(HOUR FROM wait)").kind, ExprErrorKind::TypeMismatch);
    assert_eq!(err("EXTRACT(CENTURY FROM ts)").kind, ExprErrorKind::Unsupported);
    let e = err("date_part('huor', ts)");
    assert_eq!(e.hint.as_deref(), Some("did you mean `hour`?"));
}

#[test]
fn date_diff_and_conversions() {
    check(&[
        ("date_diff('day', DATE '2026-01-01', DATE '2026-01-31')", Value::Int(30)),
        (
            "date_diff('day', TIMESTAMP '2026-01-01T23:59:00Z', TIMESTAMP '2026-01-02T00:01:00Z')",
            Value::Int(1),
        ),
        (
            "date_diff('hour', TIMESTAMP '2026-01-01T07:59:00Z', TIMESTAMP '2026-01-01T08:00:00Z')",
            Value::Int(1),
        ),
        (
            "date_diff('hour', TIMESTAMP '2026-01-01T07:00:00Z', TIMESTAMP '2026-01-01T07:59:00Z')",
            Value::Int(0),
        ),
        ("date_diff('minute', ts, ts + INTERVAL '90 seconds')", Value::Int(1)),
        ("date_diff('second', ts, ts2)", Value::Int(145_490)),
        ("date_diff('week', DATE '2026-01-04', DATE '2026-01-05')", Value::Int(1)),
        ("date_diff('week', DATE '2026-01-05', DATE '2026-01-11')", Value::Int(0)),
        ("date_diff('month', DATE '2026-01-31', DATE '2026-02-01')", Value::Int(1)),
        ("date_diff('year', DATE '2025-12-31', DATE '2026-01-01')", Value::Int(1)),
        ("date_diff('day', DATE '2026-01-31', DATE '2026-01-01')", Value::Int(-30)),
        ("date_diff('day', day, ts2)", Value::Int(2)),
        ("datediff(DATE '2026-01-31', DATE '2026-01-01')", Value::Int(30)),
        ("datediff('day', DATE '2026-01-01', DATE '2026-01-31')", Value::Int(30)),
        ("date(ts)", date("2026-01-01")),
        ("to_date('2026-02-03')", date("2026-02-03")),
        ("to_date('garbage')", NULL),
        ("date(TIMESTAMP '1969-12-31T23:00:00Z')", date("1969-12-31")),
        ("to_timestamp('2026-01-01T07:00:00Z')", ts("2026-01-01T07:00:00Z")),
        ("to_timestamp('2026-01-01 07:00:00')", ts("2026-01-01T07:00:00Z")),
        ("to_timestamp(0)", ts("1970-01-01T00:00:00Z")),
        ("to_timestamp(1.5)", ts("1970-01-01T00:00:01.5Z")),
        ("to_timestamp('nope')", NULL),
        ("make_date(2026, 2, 28)", date("2026-02-28")),
        ("make_date(2026, 2, 29)", NULL),
        ("make_date(2024, 2, 29)", date("2024-02-29")),
        ("make_date(2026, 13, 1)", NULL),
        ("ts::date = DATE '2026-01-01'", t()),
    ]);
    assert_eq!(compiled("date_diff('day', ts, ts2)").ty(), Type::Int);
    assert!(!compiled("date(ts)").nullable());
    assert!(compiled("to_date(name)").nullable());
    assert_eq!(compiled("to_date(name)").ty(), Type::Date);
    assert_eq!(compiled("to_timestamp(name)").ty(), Type::Timestamp);
    assert!(
        compiled("make_date(2026, 1, 1)").nullable()
            || compiled("make_date(quantity, 1, 1)").nullable()
    );
}

#[test]
fn syntax_errors_are_cleaned() {
    let e = err("quantity +");
    assert_eq!(e.kind, ExprErrorKind::Syntax);
    assert_eq!(e.message, "expected an expression, found: EOF");
    assert_eq!(e.location, Some((1, 11)));

    let e = err("1 +* 2");
    assert_eq!(e.message, "expected an expression, found: *");
    assert_eq!(e.location, Some((1, 4)));

    let e = err("quantity > 1\n AND price ==== 2");
    assert_eq!(e.kind, ExprErrorKind::Syntax);
    assert_eq!(e.location, Some((2, 14)));
    assert!(!e.message.contains("Line"), "{e:?}");

    let e = err("'abc");
    assert_eq!(e.kind, ExprErrorKind::Syntax);
    assert_eq!(e.message, "unterminated string literal");
    assert_eq!(e.location, Some((1, 1)));

    let e = err("quantity price");
    assert_eq!(e.kind, ExprErrorKind::Syntax);
    assert_eq!(e.message, "expected end of expression, found: price");
    assert_eq!(e.location, Some((1, 10)));

    let e = err("(quantity > 1");
    assert_eq!(e.message, "expected ), found: EOF");

    assert_eq!(err("").kind, ExprErrorKind::Syntax);
    assert_eq!(err("   ").kind, ExprErrorKind::Syntax);
    assert_eq!(err("quantity;").kind, ExprErrorKind::Syntax);
    let e = err("quantity DIV 2");
    assert_eq!(e.kind, ExprErrorKind::Syntax);
    assert!(e.message.contains("`DIV`"), "{e:?}");
}

#[test]
fn aggregate_calls() {
    let schema = schema();
    let call = compile_aggregate_call("sum(quantity)", &schema).unwrap();
    assert_eq!(call.function, "sum");
    assert!(!call.distinct && !call.star);
    assert_eq!(call.args.len(), 1);
    assert_eq!(call.args[0].as_column(), Some(0));

    let call = compile_aggregate_call("COUNT(*)", &schema).unwrap();
    assert_eq!(call.function, "count");
    assert!(call.star);
    assert!(call.args.is_empty());

    let call = compile_aggregate_call("count(DISTINCT name)", &schema).unwrap();
    assert!(call.distinct);
    assert_eq!(call.args[0].as_column(), Some(2));

    let call = compile_aggregate_call("first(price)", &schema).unwrap();
    assert_eq!(call.function, "first");
    let call = compile_aggregate_call("last(price, ts)", &schema).unwrap();
    assert_eq!(call.function, "last");
    assert_eq!(call.args.len(), 2);
    assert_eq!(call.args[1].as_column(), Some(3));

    let call = compile_aggregate_call("sum(quantity * price)", &schema).unwrap();
    assert_eq!(call.args[0].ty(), Type::Float);
    assert_eq!(call.args[0].eval(&row()), Value::Float(7.5));

    let call = compile_aggregate_call("whatever(quantity)", &schema).unwrap();
    assert_eq!(call.function, "whatever");

    let e = compile_aggregate_call("quantity + 1", &schema).unwrap_err();
    assert_eq!(e.kind, ExprErrorKind::Syntax);
    assert_eq!(
        e.message,
        "expected an aggregate call such as `sum(quantity)`, found `quantity + 1`"
    );

    let e = compile_aggregate_call("sum(quantty)", &schema).unwrap_err();
    assert_eq!(e.kind, ExprErrorKind::UnknownColumn);
    assert_eq!(e.location, Some((1, 5)));

    let e = compile_aggregate_call("sum(sum(quantity))", &schema).unwrap_err();
    assert_eq!(e.kind, ExprErrorKind::Unsupported);

    assert_eq!(compile_aggregate_call("sum(", &schema).unwrap_err().kind, ExprErrorKind::Syntax);
    assert_eq!(
        compile_aggregate_call("sum(x) OVER ()", &schema).unwrap_err().kind,
        ExprErrorKind::Unsupported
    );
}

#[test]
fn constant_folding_and_static_types() {
    let e = compiled("1 + 2 * 3");
    assert_eq!(e.eval(&[]), Value::Int(7));
    let e = compiled("ts > TIMESTAMP '2026-01-01T00:00:00Z' - INTERVAL '1 hour'");
    assert_eq!(e.eval(&row()), t());
    let e = compiled("upper('abc')");
    assert_eq!(e.eval(&[]), s("ABC"));
    assert!(!e.nullable());
    let e = compiled("CAST('x' AS INT)");
    assert_eq!(e.eval(&[]), NULL);
    assert!(e.nullable());
}

#[test]
fn expr_is_send_sync_static_and_clone() {
    fn assert_traits<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
    assert_traits::<Expr>();
    assert_traits::<AggregateCall>();
    let e = compiled("name LIKE 'W%' AND quantity IN (1, 2, 3)");
    let copy = e.clone();
    let r = row();
    let handle =
        std::thread::Builder::new().name("eval".into()).spawn(move || copy.eval(&row())).unwrap();
    assert_eq!(handle.join().unwrap(), e.eval(&r));
}

#[test]
fn eval_borrows_columns_and_literals() {
    let r = row();
    let e = compiled("name");
    assert!(matches!(e.eval_cow(&r), std::borrow::Cow::Borrowed(_)));
    let e = compiled("coalesce(note, name)");
    assert!(matches!(e.eval_cow(&r), std::borrow::Cow::Borrowed(_)));
    let e = compiled("CASE WHEN yes THEN note ELSE name END");
    assert!(matches!(e.eval_cow(&r), std::borrow::Cow::Borrowed(_)));
    let long = "a string that is definitely longer than twenty four bytes";
    let r2 = vec![Value::str(long)];
    let schema = Schema::new(vec![Field::new("s", Type::String, false)]);
    let e = compile(&format!("s = '{long}'"), &schema).unwrap();
    assert_eq!(e.eval_pred(&r2), Some(true));
}

#[test]
fn deep_and_long_inputs_do_not_crash() {
    let schema = schema();
    // Long OR chains stay flat.
    let ors = (0..2000).map(|i| format!("quantity = {i}")).collect::<Vec<_>>().join(" OR ");
    let e = compile(&ors, &schema).unwrap();
    assert!(e.eval_bool(&row()));
    // Long arithmetic chains are compiled and evaluated iteratively.
    let sum = vec!["quantity"; 5000].join(" + ");
    assert_eq!(compile(&sum, &schema).unwrap().eval(&row()), Value::Int(15_000));
    let mixed = format!("{} - 1 * 2 / 1", vec!["1"; 100].join(" + "));
    assert_eq!(compile(&mixed, &schema).unwrap().eval(&[]), Value::Int(98));
    let e = compile("quantity + 1 - 2 * price + 0.5", &schema).unwrap();
    assert_eq!(e.ty(), Type::Float);
    assert_eq!(e.eval(&row()), Value::Float(-0.5));
    let e = compile("ts + INTERVAL '1 hour' - INTERVAL '30 minutes' - ts", &schema).unwrap();
    assert_eq!(e.ty(), Type::Interval);
    assert_eq!(e.eval(&row()), Value::Interval(30 * MINUTE));
    let e = compile("quantity + 1 + name", &schema).unwrap_err();
    assert_eq!(e.message, "operator `+` cannot be applied to int and string");
    // Other long left-deep chains are rejected cleanly instead of overflowing the stack.
    let too_deep = |sql: String| match compile(&sql, &schema) {
        Ok(_) => panic!("a chain of {} bytes compiled", sql.len()),
        Err(e) => assert_eq!(e.kind, ExprErrorKind::Unsupported, "{e:?}"),
    };
    too_deep(format!("quantity{}", " IS NULL".repeat(1000)));
    too_deep(format!("yes{}", " = TRUE".repeat(1000)));
    too_deep(format!("quantity{}", "::int".repeat(1000)));
    too_deep(format!("CAST(quantity AS INT){}", "::text".repeat(2000)));
    for sql in [
        format!("name{}", " COLLATE x".repeat(3000)),
        format!("ts{}", " AT TIME ZONE 'UTC'".repeat(2000)),
        format!("name{}", "[1]".repeat(3000)),
        format!("name{}", ".x".repeat(3000)),
    ] {
        assert!(compile(&sql, &schema).is_err());
    }
    // Deep parentheses hit the parser's recursion limit.
    let nested = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert!(compile(&nested, &schema).is_err());
    // Too many tokens.
    let huge = vec!["1"; 30_000].join(" + ");
    assert_eq!(compile(&huge, &schema).unwrap_err().kind, ExprErrorKind::Unsupported);
    // A big IN list.
    let list = (0..5000).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    let e = compile(&format!("quantity IN ({list})"), &schema).unwrap();
    assert!(e.eval_bool(&row()));
}

#[test]
fn nasty_inputs_never_panic() {
    let schema = schema();
    let nasty = [
        "",
        " ",
        "(",
        ")",
        "((",
        "'",
        "\"",
        "\"unterminated",
        "`",
        "[",
        "]",
        "{",
        "}",
        "-",
        "--",
        "/*",
        "*/",
        "/* x */ 1",
        "-- c\n1",
        ";",
        ",",
        ".",
        "..",
        "a..b",
        "1.2.3",
        "1e",
        "1e999",
        "0x",
        "0xFF",
        "x'AB'",
        "E'\\n'",
        "$$",
        "$1",
        "?",
        "@",
        "@@x",
        "#",
        "\\",
        "\u{0}",
        "\u{feff}1",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "ünïcödé = 1",
        "'ü' || 1",
        "CASE",
        "CASE END",
        "CASE WHEN END",
        "CAST(",
        "CAST(1 AS)",
        "CAST(1 AS FOO)",
        "EXTRACT(",
        "EXTRACT(FOO FROM ts)",
        "INTERVAL",
        "INTERVAL ''",
        "INTERVAL 'x'",
        "INTERVAL '1' FOO",
        "INTERVAL '99999999999999999999 days'",
        "DATE ''",
        "TIMESTAMP '2026'",
        "NOT",
        "NOT NOT",
        "a IS",
        "quantity IS NOT",
        "quantity BETWEEN",
        "quantity BETWEEN 1",
        "quantity IN",
        "quantity IN ()",
        "quantity IN (",
        "x LIKE",
        "name LIKE 'a' ESCAPE",
        "SELECT 1",
        "SELECT * FROM t",
        "1; DROP TABLE x",
        "f(",
        "f(,)",
        "f(a := 1)",
        "count(*) FILTER (WHERE x)",
        "sum(x) OVER (PARTITION BY y)",
        "*",
        "t.*",
        "quantity::",
        "quantity::foo",
        "ts AT TIME ZONE 'UTC'",
        "ARRAY[1]",
        "[1,2]",
        "{'a': 1}",
        "MAP {1: 2}",
        "ROW(1, 2)",
        "(1, 2)",
        "x -> x",
        "a.b.c.d",
        "\"\"",
        "lower()",
        "lower(*)",
        "date_trunc('hour')",
        "date_trunc(1, ts)",
        "substr(name)",
        "lpad(name, 9223372036854775807)",
        "round(price, 9223372036854775807)",
        "round(quantity, -9223372036854775808)",
        "-9223372036854775808",
        "9223372036854775807 * 9223372036854775807",
        "-9223372036854775807 - 10",
        "abs(-9223372036854775807 - 1)",
        "(-9223372036854775807 - 1) / -1",
        "(-9223372036854775807 - 1) % -1",
        "day + 9223372036854775807",
        "day - 9223372036854775807",
        "ts + INTERVAL '100000000 weeks'",
        "date_trunc('year', to_timestamp(-9223372036854775807))",
        "extract(year from to_timestamp(9223372036854775807))",
        "make_date(9223372036854775807, 1, 1)",
        "make_date(-5000000, 1, 1)",
        "date_diff('month', to_timestamp(-9223372036854775807), to_timestamp(9223372036854775807))",
        "to_timestamp(1e300)",
        "to_timestamp(-1e300)",
        "CAST(1e308 * 10 AS INT)",
        "split_part('a', 'a', -9223372036854775808)",
        "left(name, -9223372036854775808)",
        "right(name, -9223372036854775808)",
        "substr(name, -9223372036854775808, 9223372036854775807)",
        "substr(name, 9223372036854775807, 9223372036854775807)",
        "interval '1' second * 1e300",
        "'\u{1F600}' LIKE '_'",
        "date_trunc('hour', to_timestamp(-9223372036854775807 - 1))",
        "date_trunc('week', to_timestamp(-9223372036854775807 - 1))",
        "date_trunc('second', to_timestamp(9223372036854775807))",
        "date_diff('week', to_timestamp(-9223372036854775807 - 1), to_timestamp(9223372036854775807))",
        "extract(isoyear from to_timestamp(-9223372036854775807 - 1))",
        "round(quantity, -9223372036854775807 - 1)",
        "round(price, -9223372036854775807 - 1)",
        "ts - to_timestamp(-9223372036854775807 - 1)",
        "day - DATE '1970-01-01' + 9223372036854775807",
        "INTERVAL '1 hour' * -9223372036854775807 / -1",
        "name LIKE '\\'",
        "name ILIKE '%\u{130}%'",
    ];
    let r = row();
    let mut checked = 0;
    for sql in nasty {
        if let Ok(e) = compile(sql, &schema) {
            let _ = e.eval(&r);
            let _ = e.eval_bool(&r);
        }
        let _ = compile_aggregate_call(sql, &schema);
        checked += 1;
    }
    // Random byte strings and random token soups from a tiny LCG.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let pieces = [
        "quantity",
        "price",
        "name",
        "ts",
        "day",
        "flag",
        "maybe",
        "note",
        "wait",
        "(",
        ")",
        "+",
        "-",
        "*",
        "/",
        "%",
        "=",
        "<>",
        "<",
        ">=",
        "AND",
        "OR",
        "NOT",
        "IS",
        "NULL",
        "TRUE",
        "1",
        "2.5",
        "'x'",
        "'2026-01-01'",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "IN",
        "BETWEEN",
        "LIKE",
        "'%a_'",
        "||",
        ",",
        "lower(",
        "coalesce(",
        "date_trunc('hour',",
        "CAST(",
        "AS",
        "INT",
        "TEXT",
        "DATE",
        "TIMESTAMP",
        "INTERVAL",
        "'5 minutes'",
        "EXTRACT(",
        "FROM",
        "::",
        "sum(",
        "*",
        "DISTINCT",
        "abs(",
        "substr(",
        "greatest(",
    ];
    for _ in 0..3000 {
        let len = next() % 12;
        let sql = if next() % 3 == 0 {
            let bytes: Vec<u8> = (0..len * 2).map(|_| (next() % 128) as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..len).map(|_| pieces[next() % pieces.len()]).collect::<Vec<_>>().join(" ")
        };
        if let Ok(e) = compile(&sql, &schema) {
            let _ = e.eval(&r);
            let _ = e.eval_bool(&r);
            let nulls = vec![Value::Null; r.len()];
            let _ = e.eval(&nulls);
        }
        let _ = compile_aggregate_call(&sql, &schema);
        checked += 1;
    }
    assert!(checked > 3000);
}

#[test]
fn null_rows_respect_static_nullability() {
    // Every expression declared non-nullable must produce a non-NULL value on a row whose
    // non-nullable columns are set, and columns declared nullable are NULL.
    let r = row();
    for sql in [
        "quantity + 1",
        "quantity * price",
        "name || '!'",
        "concat(note, maybe)",
        "coalesce(maybe, 0)",
        "CASE WHEN flag THEN 1 ELSE 2 END",
        "flag IS NULL",
        "maybe IS DISTINCT FROM 1",
        "date_trunc('day', ts)",
        "EXTRACT(YEAR FROM day)",
        "lower(name)",
        "CAST(quantity AS TEXT)",
        "greatest(maybe, quantity)",
        "quantity IN (1, 2)",
        "abs(quantity)",
    ] {
        let e = compiled(sql);
        assert!(!e.nullable(), "`{sql}` should be non-nullable");
        assert!(!e.eval(&r).is_null(), "`{sql}` evaluated to NULL");
    }
}

#[test]
fn like_matches_a_reference_implementation() {
    fn reference(p: &[char], t: &[char], ci: bool) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|k| reference(rest, &t[k..], ci)),
            Some(('_', rest)) => !t.is_empty() && reference(rest, &t[1..], ci),
            Some((c, rest)) => {
                !t.is_empty()
                    && (t[0] == *c || (ci && t[0].to_lowercase().eq(c.to_lowercase())))
                    && reference(rest, &t[1..], ci)
            }
        }
    }
    let pattern_chars = ['a', 'b', 'A', 'é', '%', '%', '_'];
    let text_chars = ['a', 'b', 'A', 'é', 'É'];
    let mut state: u64 = 42;
    let mut next = |n: usize| {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % n
    };
    for _ in 0..20_000 {
        let p: Vec<char> = (0..next(7)).map(|_| pattern_chars[next(pattern_chars.len())]).collect();
        let t: Vec<char> = (0..next(9)).map(|_| text_chars[next(text_chars.len())]).collect();
        let ci = next(2) == 0;
        let (ps, ts): (String, String) = (p.iter().collect(), t.iter().collect());
        let compiled = super::like::LikePattern::new(&ps, None, ci);
        assert_eq!(
            compiled.matches(&ts),
            reference(&p, &t, ci),
            "{ts:?} {} {ps:?}",
            if ci { "ILIKE" } else { "LIKE" }
        );
    }
}

#[test]
fn date_range_constants_match_the_calendar_library() {
    use chrono::{Datelike, NaiveDate};
    let from_ce = |d: NaiveDate| d.num_days_from_ce() - crate::value::EPOCH_DAYS_FROM_CE;
    assert_eq!(super::temporal::MIN_DATE_DAYS, from_ce(NaiveDate::MIN));
    assert_eq!(super::temporal::MAX_DATE_DAYS, from_ce(NaiveDate::MAX));
    // Date arithmetic saturates inside the range, so the result still formats as a date.
    assert_eq!(eval("CAST(day + 9223372036854775807 AS TEXT)"), s("+262142-12-31"));
    assert_eq!(eval("CAST(day - 9223372036854775807 AS TEXT)"), s("-262143-01-01"));
    // Out-of-range dates from the input print as day numbers instead of panicking.
    let schema = Schema::new(vec![Field::new("d", Type::Date, false)]);
    let e = compile("CAST(d AS TEXT) || '!'", &schema).unwrap();
    assert_eq!(e.eval(&[Value::Date(i32::MAX)]), s("2147483647!"));
}

#[test]
fn calendar_arithmetic_matches_chrono() {
    use chrono::{Datelike, NaiveDate};
    let mut day = -800_000i64;
    while day < 800_000 {
        let date =
            NaiveDate::from_num_days_from_ce_opt(day as i32 + crate::value::EPOCH_DAYS_FROM_CE)
                .unwrap();
        let (y, m, d) = super::temporal::civil_from_days(day);
        assert_eq!((y, m, d), (i64::from(date.year()), date.month(), date.day()), "{date}");
        assert_eq!(super::temporal::days_from_civil(y, m, d), day);
        let micros = day * crate::value::MICROS_PER_DAY;
        use super::temporal::DateField;
        assert_eq!(
            DateField::Dow.extract(micros),
            i64::from(date.weekday().num_days_from_sunday())
        );
        assert_eq!(DateField::Week.extract(micros), i64::from(date.iso_week().week()));
        assert_eq!(DateField::IsoYear.extract(micros), i64::from(date.iso_week().year()));
        assert_eq!(DateField::Doy.extract(micros), i64::from(date.ordinal()));
        day += 97;
    }
}

#[test]
fn integer_overflow_is_detected_never_wrapped() {
    let overflow = |sql: &str| checked(|| compiled(sql).eval(&row())).map_err(|o| o.operator);
    assert_eq!(overflow("9223372036854775807 + quantity"), Err("+"));
    assert_eq!(overflow("-9223372036854775807 - quantity"), Err("-"));
    assert_eq!(overflow("quantity * 4611686018427387904"), Err("*"));
    assert_eq!(overflow("(-9223372036854775807 - 1) / -1"), Err("/"));
    assert_eq!(overflow("-(-9223372036854775805 - quantity)"), Err("unary -"));
    assert_eq!(overflow("abs(-9223372036854775805 - quantity)"), Err("abs"));
    assert_eq!(overflow("round(9223372036854775807 - quantity + 3, -1)"), Err("round"));
    // The first overflow is reported, even when a later operation hides its NULL.
    assert_eq!(overflow("coalesce(9223372036854775807 + quantity, 0)"), Err("+"));
    assert_eq!(overflow("quantity * 2 + 1.5"), Ok(Value::Float(7.5)));
    assert_eq!(overflow("(-9223372036854775807 - 1) % -1"), Ok(Value::Int(0)));
    assert_eq!(overflow("price * 1e308 * 10"), Ok(Value::Float(f64::INFINITY)));
    // Each evaluation starts clean.
    assert_eq!(overflow("quantity + 1"), Ok(Value::Int(4)));
    assert!(compiled("quantity * 2 + 1.5").can_overflow());
    assert!(compiled("abs(quantity)").can_overflow());
    assert!(!compiled("price * 2 + quantity").can_overflow());
    assert!(!compiled("length(name) > 2").can_overflow());
    // A constant that overflows is not folded away: it is reported per row.
    assert_eq!(overflow("CAST(9223372036854775807 + 1 AS FLOAT)"), Err("+"));
}

#[test]
fn decimal_casts_without_a_precision_are_rejected_with_a_hint() {
    for sql in [
        "price::numeric",
        "CAST(quantity AS DEC)",
        "CAST(price AS DECIMAL(29, 2))",
        "CAST(price AS MONEY)",
    ] {
        let e = err(sql);
        assert_eq!(e.kind, ExprErrorKind::Unsupported, "{sql}");
        assert!(e.hint.as_deref().unwrap_or("").contains("DECIMAL(p, s)"), "{sql}: {e:?}");
    }
}

#[test]
fn format_number_and_format() {
    check(&[
        ("format_number(price, 2)", s("2.50")),
        ("format_number(2.675, 2)", s("2.68")),
        ("format_number(quantity, 1)", s("3.0")),
        ("format_number(-0.004, 2)", s("0.00")),
        ("format_number(maybe, 2)", NULL),
        (
            "format('%05d|%-8s|%.1f|%s%%', quantity, name, price, flag IS NULL)",
            s("00003|Widget  |2.5|true%"),
        ),
        ("format('%s on %s', day, ts)", s("2026-01-01 on 2026-01-01T07:35:10Z")),
        ("format('%6.2f', price)", s("  2.50")),
        ("format('no conversions')", s("no conversions")),
        ("format('%s', note)", s("hello world")),
        ("format('%d', maybe)", NULL),
        ("lpad(CAST(quantity AS TEXT), 4, '0')", s("0003")),
    ]);
    assert!(!compiled("format_number(price, 2)").nullable());
    assert!(compiled("format_number(price, quantity)").nullable());
    let e = err("format_number(price, 21)");
    assert!(e.message.contains("0 to 20 decimals"), "{}", e.message);
    assert!(err("format_number(name, 2)").message.contains("expects a number"));
    let e = err("format('%d of %d', quantity)");
    assert_eq!(
        e.message,
        "function `format`: the format string has 2 conversions, found 1 arguments after it"
    );
    let e = err("format('%x', quantity)");
    assert_eq!(e.message, "function `format`: unsupported conversion `%x`");
    assert!(e.hint.as_deref().unwrap_or("").contains("%05d"));
    assert_eq!(e.location, Some((1, 8)));
    let e = err("format('%d', price)");
    assert_eq!(e.message, "function `format`: `%d` expects an int, found float");
    assert_eq!(e.location, Some((1, 14)));
    assert!(err("format('%f', name)").message.contains("`%f` expects a number"));
    assert!(err("format(name, quantity)").message.contains("constant string format string"));
    assert!(err("format()").message.contains("at least 1 argument"));
}
