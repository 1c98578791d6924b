use shelfflow_operators::value::parse_timestamp;
use shelfflow_operators::{Field, Schema, Type, Value};

use super::*;
use crate::{Change, ChangeOp, SinkConfig, SinkContext, SinkWriter};

fn context() -> SinkContext {
    SinkContext {
        pipeline: "test".to_owned(),
        sink: "stock".to_owned(),
        schema: Schema::new(vec![
            Field::new("shelf_id", Type::String, false),
            Field::new("quantity", Type::Int, true),
            Field::new("price", Type::Float, false),
        ]),
        key: vec![0],
        output_dir: "out".into(),
        description: None,
        definition_hash: String::new(),
        positions: Default::default(),
    }
}

fn parse(yaml: &str) -> Result<Box<dyn SinkConfig>, crate::ConfigError> {
    (SINK.parse)(serde_yaml_ng::from_str(yaml).expect("yaml"))
}

fn row(shelf: &str, quantity: Option<i64>, price: f64) -> Vec<Value> {
    vec![Value::str(shelf), quantity.map_or(Value::Null, Value::Int), Value::Float(price)]
}

#[test]
fn the_sample_parses_and_unknown_keys_are_errors() {
    let config = parse(SINK.sample).expect("sample");
    assert_eq!(config.describe(&context()), "stdout (table, up to 50 rows)");
    assert_eq!(
        parse("mode: changelog").expect("parses").describe(&context()),
        "stdout (changelog)"
    );
    let err = parse("mode: table\nlimt: 5").expect_err("unknown key");
    assert_eq!((err.path.as_str(), err.hint.as_deref()), ("limt", Some("did you mean `limit`?")));
    assert!(parse("mode: tabel").is_err());
}

#[test]
fn tables_show_the_final_state_aligned() {
    let mut printer = TablePrinter::new(&context(), 2, Vec::new());
    let (a, b, c) =
        (row("A", Some(12), 1.5), row("BEVWAT0001", None, 0.25), row("C", Some(3), 2.0));
    printer
        .write(
            1,
            &[Change { op: ChangeOp::Upsert, row: &c }, Change { op: ChangeOp::Upsert, row: &a }],
        )
        .expect("write");
    printer.write(2, &[Change { op: ChangeOp::Upsert, row: &b }]).expect("write");
    printer.finish().expect("finish");
    let text = String::from_utf8(printer.into_inner()).expect("utf8");
    assert_eq!(
        text,
        "shelf_id    quantity  price\n\
         ----------  --------  -----\n\
         A                 12    1.5\n\
         BEVWAT0001      NULL   0.25\n\
         … 1 more rows\n\
         stock: 3 rows\n"
    );
}

#[test]
fn changelogs_print_every_change() {
    let mut printer = ChangelogPrinter::new(&context(), Vec::new());
    let time = parse_timestamp("2026-01-01T07:00:05Z").expect("time") as u64;
    let a = row("A", Some(1), 0.5);
    printer.write(time, &[Change { op: ChangeOp::Upsert, row: &a }]).expect("write");
    printer.write(time + 1_000_000, &[Change { op: ChangeOp::Delete, row: &a }]).expect("write");
    printer.finish().expect("finish");
    assert_eq!(
        String::from_utf8(printer.into_inner()).expect("utf8"),
        "2026-01-01T07:00:05Z  +  {\"shelf_id\":\"A\",\"quantity\":1,\"price\":0.5}\n\
         2026-01-01T07:00:06Z  -  {\"shelf_id\":\"A\",\"quantity\":1,\"price\":0.5}\n"
    );
}
