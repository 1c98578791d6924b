use polars::prelude::{
    BooleanChunked, DataFrame, DataType, Float64Chunked, Int32Chunked, Int64Chunked, IntoColumn,
    NewChunkedArray, StringChunked, TimeUnit, TimeZone,
};
use shelfflow_operators::value::{self, MICROS_PER_DAY};
use shelfflow_operators::{Field, Schema, Type, Value};

use super::cell::parse_utc_timestamp;
use super::*;

fn shelf_schema() -> Schema {
    Schema::new(vec![
        Field::new("event_id", Type::String, false),
        Field::new("event_type", Type::String, false),
        Field::new("shelf_id", Type::String, false),
        Field::new("quantity", Type::Int, false),
        Field::new("customer_id", Type::String, true),
        Field::new("ts", Type::Timestamp, false),
    ])
}

fn every_type() -> Schema {
    Schema::new(vec![
        Field::new("s", Type::String, false),
        Field::new("i", Type::Int, false),
        Field::new("f", Type::Float, false),
        Field::new("b", Type::Bool, false),
        Field::new("t", Type::Timestamp, false),
        Field::new("d", Type::Date, false),
        Field::new("n", Type::Int, true),
    ])
}

fn ts(text: &str) -> i64 {
    value::parse_timestamp(text).expect("valid timestamp")
}

fn decode(schema: &Schema, line: &str) -> Result<Vec<Value>, String> {
    JsonDecoder::new(schema).decode(line.as_bytes()).map_err(|err| err.to_string())
}

#[test]
fn decodes_every_type() {
    let row = decode(
        &every_type(),
        r#"{"s":"x","i":-3,"f":1.5,"b":true,"t":"2026-01-01T07:00:05.25Z","d":"2026-01-02","n":null}"#,
    );
    assert_eq!(
        row,
        Ok(vec![
            Value::str("x"),
            Value::Int(-3),
            Value::Float(1.5),
            Value::Bool(true),
            Value::Timestamp(ts("2026-01-01T07:00:05.250Z")),
            Value::Date(value::parse_date("2026-01-02").expect("date")),
            Value::Null,
        ])
    );
}

#[test]
fn numbers_convert_where_lossless() {
    let schema = Schema::new(vec![
        Field::new("i", Type::Int, false),
        Field::new("f", Type::Float, false),
        Field::new("big", Type::Float, false),
    ]);
    assert_eq!(
        decode(&schema, r#"{"i":2,"f":3,"big":18446744073709551615}"#),
        Ok(vec![Value::Int(2), Value::Float(3.0), Value::Float(18446744073709551615.0)])
    );
    let ints = Schema::new(vec![Field::new("i", Type::Int, false)]);
    assert_eq!(
        decode(&ints, r#"{"i":18446744073709551615}"#),
        Err("field `i`: expected int, found number 18446744073709551615".to_owned())
    );
    // A number with a fraction or an exponent is never an int, even when it is whole.
    for (json, shown) in [("2.5", "2.5"), ("2.0", "2.0"), ("1e3", "1000.0"), ("-0.0", "-0.0")] {
        assert_eq!(
            decode(&ints, &format!(r#"{{"i":{json}}}"#)),
            Err(format!("field `i`: expected int, found number {shown}")),
            "{json}"
        );
    }
}

#[test]
fn fields_may_come_in_any_order_and_unknown_ones_are_ignored() {
    let row = decode(
        &shelf_schema(),
        r#"{"ts":"2026-01-01T07:00:05Z","extra":{"nested":[1,{"a":null}]},"quantity":2,
            "shelf_id":"BEVWAT0001","event_type":"pickup","event_id":"e1","more":[true]}"#,
    );
    assert_eq!(
        row,
        Ok(vec![
            Value::str("e1"),
            Value::str("pickup"),
            Value::str("BEVWAT0001"),
            Value::Int(2),
            Value::Null,
            Value::Timestamp(ts("2026-01-01T07:00:05Z")),
        ])
    );
}

#[test]
fn escaped_strings_are_unescaped() {
    let schema = Schema::new(vec![Field::new("s", Type::String, false)]);
    assert_eq!(decode(&schema, r#"{"s":"a\"b\u00e9\n"}"#), Ok(vec![Value::str("a\"bé\n")]));
    // An escaped key still finds its column.
    assert_eq!(decode(&schema, r#"{"\u0073":"x"}"#), Ok(vec![Value::str("x")]));
}

#[test]
fn absent_and_null_fields_are_null_when_nullable() {
    let schema =
        Schema::new(vec![Field::new("a", Type::Int, true), Field::new("b", Type::String, true)]);
    assert_eq!(decode(&schema, r#"{"b":null}"#), Ok(vec![Value::Null, Value::Null]));
}

#[test]
fn rejects_records_with_exact_reasons() {
    let schema = shelf_schema();
    let good =
        r#""event_id":"e1","event_type":"pickup","shelf_id":"S1","ts":"2026-01-01T07:00:05Z""#;
    let cases = [
        (
            format!("{{{good},\"quantity\":\"abc\"}}"),
            r#"field `quantity`: expected int, found string "abc""#,
        ),
        (format!("{{{good}}}"), "missing field `quantity`"),
        (
            format!("{{{good},\"quantity\":1,\"ts\":\"yesterday\"}}"),
            r#"field `ts`: expected timestamp, found string "yesterday""#,
        ),
        (
            format!("{{{good},\"quantity\":1,\"shelf_id\":null}}"),
            "field `shelf_id`: null in a non-nullable column",
        ),
        (
            format!("{{{good},\"quantity\":true}}"),
            "field `quantity`: expected int, found boolean true",
        ),
        (format!("{{{good},\"quantity\":[1]}}"), "field `quantity`: expected int, found array"),
        (
            format!("{{{good},\"quantity\":{{\"n\":1}}}}"),
            "field `quantity`: expected int, found object",
        ),
        (
            format!("{{{good},\"quantity\":1,\"event_id\":7}}"),
            "field `event_id`: expected string, found number 7",
        ),
        (format!("{{{good},\"quantity\":1"), "malformed JSON: EOF while parsing an object"),
        (format!("{{{good},\"quantity\":1}} x"), "malformed JSON: trailing characters"),
        // Malformed JSON wins over a type error earlier in the line.
        (format!("{{{good},\"quantity\":\"abc\",}}"), "malformed JSON: trailing comma"),
        ("[1,2]".to_owned(), "malformed JSON: invalid type: sequence, expected a JSON object"),
        ("not json".to_owned(), "malformed JSON: expected ident"),
    ];
    for (line, reason) in cases {
        assert_eq!(decode(&schema, &line), Err(reason.to_owned()), "{line}");
    }
}

#[test]
fn invalid_utf8_is_malformed() {
    let schema = Schema::new(vec![Field::new("s", Type::String, false)]);
    assert_eq!(
        JsonDecoder::new(&schema).decode(b"{\"s\":\"\xff\"}").map_err(|e| e.to_string()),
        Err("malformed JSON: invalid UTF-8 at byte 6".to_owned())
    );
}

#[test]
fn long_values_are_cut_in_reasons() {
    let schema = Schema::new(vec![Field::new("i", Type::Int, false)]);
    let long = "x".repeat(100);
    let expected = format!("field `i`: expected int, found string \"{}…\"", "x".repeat(40));
    assert_eq!(decode(&schema, &format!(r#"{{"i":"{long}"}}"#)), Err(expected));
}

#[test]
fn json_numbers_and_booleans_are_not_read_from_strings() {
    let schema = Schema::new(vec![Field::new("b", Type::Bool, false)]);
    assert_eq!(
        decode(&schema, r#"{"b":"true"}"#),
        Err(r#"field `b`: expected bool, found string "true""#.to_owned())
    );
}

#[test]
fn the_fast_timestamp_path_agrees_with_parse_timestamp() {
    let mut checked = 0;
    for year in [1900, 1969, 1970, 1999, 2000, 2024, 2026, 2100, 9999] {
        for month in 1..=12 {
            for day in [1, 15, 28, 29, 30, 31] {
                for (time, fraction) in [
                    ("00:00:00", ""),
                    ("07:00:05", ".25"),
                    ("23:59:59", ".123456789"),
                    ("12:30:00", ".0000001"),
                ] {
                    let text = format!("{year:04}-{month:02}-{day:02}T{time}{fraction}Z");
                    let expected = value::parse_timestamp(&text);
                    if expected.is_some() {
                        assert_eq!(parse_utc_timestamp(text.as_bytes()), expected, "{text}");
                        checked += 1;
                    } else {
                        // Days that do not exist are rejected by both.
                        assert_eq!(parse_timestamp(&text), None, "{text}");
                    }
                }
            }
        }
    }
    assert!(checked > 1500);
    // Forms the fast path leaves to chrono.
    for text in [
        "2026-01-01T07:00:05+01:00",
        "2026-01-01 07:00:05",
        "2026-01-01t07:00:05z",
        "2026-01-01",
        " 2026-01-01T07:00:05Z",
        "2026-01-01T07:00:05.1234567891Z",
    ] {
        assert_eq!(parse_utc_timestamp(text.as_bytes()), None, "{text}");
        assert_eq!(parse_timestamp(text), value::parse_timestamp(text), "{text}");
    }
    for text in
        ["2026-01-01T24:00:00Z", "2026-01-01T07:00:05.Z", "2026-01-01T07:0a:05Z", "yesterday"]
    {
        assert_eq!(parse_timestamp(text), None, "{text}");
    }
}

#[test]
fn the_fast_date_path_agrees_with_parse_date() {
    for text in ["1970-01-01", "1969-12-31", "2000-02-29", "2026-06-30", "0001-01-01", "9999-12-31"]
    {
        assert_eq!(parse_date(text), value::parse_date(text), "{text}");
        assert!(parse_date(text).is_some());
    }
    for text in ["2026-02-29", "2026-13-01", "2026-00-10", "2026-01-01T", "today"] {
        assert_eq!(parse_date(text), None, "{text}");
    }
}

#[test]
fn text_cells_are_typed() {
    assert_eq!(parse_text(Type::Int, " 42 "), Ok(Value::Int(42)));
    assert_eq!(parse_text(Type::Int, " 2 "), Ok(Value::Int(2)));
    assert_eq!(parse_text(Type::Int, "2.0"), Err(Found::string("2.0")));
    assert_eq!(parse_text(Type::Int, "1e3"), Err(Found::string("1e3")));
    assert_eq!(parse_text(Type::Int, "2.5"), Err(Found::string("2.5")));
    assert_eq!(parse_text(Type::Float, "1e3"), Ok(Value::Float(1000.0)));
    assert_eq!(parse_text(Type::Bool, "TRUE"), Ok(Value::Bool(true)));
    assert_eq!(parse_text(Type::Bool, "yes"), Err(Found::string("yes")));
    assert_eq!(parse_text(Type::String, " as is "), Ok(Value::str(" as is ")));
    assert_eq!(parse_text(Type::Date, "2026-01-01"), Ok(Value::Date(20454)));
    assert_eq!(
        parse_text(Type::Timestamp, "2026-01-01T00:00:00+00:00"),
        Ok(Value::Timestamp(20454 * MICROS_PER_DAY))
    );
}

#[test]
fn objects_render_in_schema_order() {
    let schema = Schema::new(vec![
        Field::new("zeta", Type::String, false),
        Field::new("alpha \"quoted\"", Type::Timestamp, true),
        Field::new("n", Type::Int, true),
    ]);
    let row = vec![Value::str("a\"b"), Value::Timestamp(ts("2026-01-01T07:00:00Z")), Value::Null];
    assert_eq!(
        JsonObjects::all(&schema).render(&row).to_string(),
        r#"{"zeta":"a\"b","alpha \"quoted\"":"2026-01-01T07:00:00Z","n":null}"#
    );
    assert_eq!(
        JsonObjects::of(&schema, &[2, 0]).render(&row).to_string(),
        r#"{"n":null,"zeta":"a\"b"}"#
    );
}

fn frame() -> DataFrame {
    let utc = Some(TimeZone::UTC);
    let t = ts("2026-01-01T07:00:05.5Z");
    DataFrame::new(
        2,
        vec![
            Int32Chunked::from_slice_options("qty".into(), &[Some(2), None]).into_column(),
            Int64Chunked::from_slice("price".into(), &[3, 4]).into_column(),
            StringChunked::from_slice("when".into(), &["2026-01-01T07:00:05Z", "soon"])
                .into_column(),
            Int64Chunked::from_slice("at".into(), &[t * 1000, 0])
                .into_datetime(TimeUnit::Nanoseconds, utc)
                .into_column(),
            Int32Chunked::from_slice("day".into(), &[20454, 0]).into_date().into_column(),
            BooleanChunked::from_slice("ok".into(), &[true, false]).into_column(),
            Float64Chunked::from_slice("unused".into(), &[0.0, 1.0]).into_column(),
        ],
    )
    .expect("frame")
}

#[test]
fn frames_are_typed_by_column_name() {
    let schema = Schema::new(vec![
        Field::new("ok", Type::Bool, false),
        Field::new("qty", Type::Int, false),
        Field::new("price", Type::Float, false),
        Field::new("when", Type::Timestamp, false),
        Field::new("at", Type::Timestamp, false),
        Field::new("day", Type::Date, false),
        Field::new("day_start", Type::Timestamp, false),
    ]);
    let mut frame = frame();
    let day_start = frame.column("day").expect("day").clone().with_name("day_start".into());
    frame.with_column(day_start).expect("column");
    let table = FrameDecoder::new(&frame, &schema).expect("decoder");
    assert_eq!(table.len(), 2);
    assert_eq!(
        table.row(0),
        Ok(vec![
            Value::Bool(true),
            Value::Int(2),
            Value::Float(3.0),
            Value::Timestamp(ts("2026-01-01T07:00:05Z")),
            Value::Timestamp(ts("2026-01-01T07:00:05.5Z")),
            Value::Date(20454),
            Value::Timestamp(20454 * MICROS_PER_DAY),
        ])
    );
    assert_eq!(
        table.row(1).map_err(|e| e.to_string()),
        Err("field `qty`: null in a non-nullable column".to_owned())
    );
    assert_eq!(table.raw_row(1)[3], Value::str("soon"));
}

#[test]
fn bad_text_cells_reject_their_row() {
    let schema = Schema::new(vec![Field::new("when", Type::Timestamp, false)]);
    let table = FrameDecoder::new(&frame(), &schema).expect("decoder");
    assert!(table.row(0).is_ok());
    assert_eq!(
        table.row(1).map_err(|e| e.to_string()),
        Err(r#"field `when`: expected timestamp, found string "soon""#.to_owned())
    );
}

#[test]
fn frames_without_a_column_or_with_a_lossy_type_are_refused() {
    let missing = Schema::new(vec![Field::new("nope", Type::Int, false)]);
    assert_eq!(
        FrameDecoder::new(&frame(), &missing).map(|_| ()),
        Err(FrameError::MissingColumn("nope".to_owned()))
    );
    let lossy = Schema::new(vec![Field::new("unused", Type::Int, false)]);
    assert_eq!(
        FrameDecoder::new(&frame(), &lossy).map_err(|e| e.to_string()).map(|_| ()),
        Err("column `unused` is f64, which cannot be read as int".to_owned())
    );
}

#[test]
fn rows_become_typed_frames() {
    let schema = every_type();
    let row = vec![
        Value::str("x"),
        Value::Int(1),
        Value::Float(0.5),
        Value::Bool(false),
        Value::Timestamp(ts("2026-01-01T07:00:05Z")),
        Value::Date(20454),
        Value::Null,
    ];
    let native = frame_from_rows(&schema, &[&row], TimestampColumns::Native).expect("frame");
    assert_eq!(
        native.dtypes(),
        vec![
            DataType::String,
            DataType::Int64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
            DataType::Date,
            DataType::Int64,
        ]
    );
    // Reading the frame back gives the same row.
    assert_eq!(FrameDecoder::new(&native, &schema).expect("decoder").row(0), Ok(row.clone()));
    let text = frame_from_rows(&schema, &[&row], TimestampColumns::Text).expect("frame");
    assert_eq!(text.dtypes()[4], DataType::String);
    assert_eq!(FrameDecoder::new(&text, &schema).expect("decoder").row(0), Ok(row));
}

/// Lines per second of `decode` over `lines`, best of five passes.
fn lines_per_second(lines: &[String], mut decode: impl FnMut(&[u8]) -> bool) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let decoded = lines.iter().filter(|line| decode(line.as_bytes())).count();
        best = best.min(start.elapsed().as_secs_f64());
        assert_eq!(decoded, lines.len());
    }
    lines.len() as f64 / best
}

/// Release-mode measurement of the JSONL decoder, next to serde_json deserializing the same lines
/// into a derived struct of borrowed strings (no rows, no typing):
/// `cargo test --release -p shelfflow-connectors decode_rate -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement; run in release mode"]
fn decode_rate() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct ShelfEvent<'a> {
        event_id: &'a str,
        event_type: &'a str,
        shelf_id: &'a str,
        quantity: i64,
        customer_id: &'a str,
        ts: &'a str,
    }

    let lines: Vec<String> = (0..1_000_000)
        .map(|i| {
            format!(
                r#"{{"event_id":"e{i}","event_type":"pickup","shelf_id":"BEVWAT{:04}","quantity":{},"customer_id":"c{}","ts":"2026-01-01T07:{:02}:{:02}Z"}}"#,
                i % 1000,
                i % 7,
                i % 5000,
                (i / 60) % 60,
                i % 60
            )
        })
        .collect();
    let mut decoder = JsonDecoder::new(&shelf_schema());
    let rows = lines_per_second(&lines, |line| decoder.decode(line).is_ok());
    let baseline =
        lines_per_second(&lines, |line| serde_json::from_slice::<ShelfEvent<'_>>(line).is_ok());
    println!(
        "JsonDecoder: {:.2} million lines/s (serde_json into a borrowed struct: {:.2} million)",
        rows / 1e6,
        baseline / 1e6
    );
}
