use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use shelfflow_operators::value;
use shelfflow_operators::{Field, Schema, Type, Value};

use super::*;
use crate::{
    Change, ChangeOp, DeadLetter, EventClock, ReadStatus, SinkConfig, SinkContext, SourceBatch,
    SourceConfig, SourceReader,
};

const S: u64 = 1_000_000;

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("shelf_id", Type::String, false),
        Field::new("quantity", Type::Int, false),
        Field::new("ts", Type::Timestamp, false),
    ])
}

fn ts(text: &str) -> i64 {
    value::parse_timestamp(text).expect("valid timestamp")
}

fn line(shelf: &str, quantity: i64, second: u32) -> String {
    format!(
        r#"{{"shelf_id":"{shelf}","quantity":{quantity},"ts":"2026-01-01T07:00:{second:02}Z"}}"#
    )
}

fn row(shelf: &str, quantity: i64, second: u32) -> Vec<Value> {
    vec![
        Value::str(shelf),
        Value::Int(quantity),
        Value::Timestamp(ts(&format!("2026-01-01T07:00:{second:02}Z"))),
    ]
}

fn path_in(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_string_lossy().into_owned()
}

fn source(yaml: &str) -> Result<Box<dyn SourceConfig>, crate::ConfigError> {
    (SOURCE.parse)(serde_yaml_ng::from_str(yaml).expect("yaml"))
}

fn sink(yaml: &str) -> Result<Box<dyn SinkConfig>, crate::ConfigError> {
    (SINK.parse)(serde_yaml_ng::from_str(yaml).expect("yaml"))
}

/// Reads everything from a finite reader, `max` records per call.
fn read_all(reader: &mut dyn SourceReader, clock: &mut EventClock, max: usize) -> SourceBatch {
    let mut all = SourceBatch::default();
    loop {
        let mut batch = SourceBatch::default();
        let status = reader.read(max, clock, &mut batch).expect("read");
        assert!(batch.rows.len() + batch.dead.len() <= max);
        all.rows.extend(batch.rows);
        all.dead.extend(batch.dead);
        match status {
            ReadStatus::More => {}
            ReadStatus::Finished => return all,
            ReadStatus::Idle => panic!("a finite file went idle"),
        }
    }
}

fn rows(batch: &SourceBatch) -> Vec<Vec<Value>> {
    batch.rows.iter().map(|(row, _)| row.clone()).collect()
}

fn context(dir: &Path, key: Vec<usize>) -> SinkContext {
    SinkContext {
        pipeline: "test".to_owned(),
        sink: "stock".to_owned(),
        schema: schema(),
        key,
        output_dir: dir.join("out"),
        description: None,
        definition_hash: String::new(),
        positions: Default::default(),
    }
}

#[test]
fn samples_parse_and_describe_themselves() {
    let config = source(SOURCE.sample).expect("source sample");
    assert_eq!(config.describe(), "data/shelf_events.jsonl (jsonl)");
    assert!(config.is_finite());
    assert_eq!(config.validate(&schema()), vec![]);

    let config = sink(SINK.sample).expect("sink sample");
    let ctx = context(Path::new("/tmp"), vec![0]);
    assert_eq!(config.describe(&ctx), "out/stock.jsonl (jsonl changelog)");
    assert_eq!(config.validate(&schema()), vec![]);
}

#[test]
fn unknown_keys_are_errors_with_a_hint() {
    let err = source("path: a.jsonl\nfolow: true").expect_err("unknown key");
    assert_eq!(err.path, "folow");
    assert_eq!(err.message, "unknown key `folow`");
    assert_eq!(err.hint.as_deref(), Some("did you mean `follow`?"));

    let err = sink("pth: out/a.csv").expect_err("unknown key");
    assert_eq!((err.path.as_str(), err.hint.as_deref()), ("pth", Some("did you mean `path`?")));

    let err = source("format: jsonl").expect_err("missing path");
    assert_eq!(err.message, "missing required key `path`");
}

#[test]
fn source_configs_are_checked() {
    let errors = |yaml: &str| -> Vec<(String, String)> {
        let config = source(yaml).expect("parses");
        config.validate(&schema()).into_iter().map(|e| (e.path, e.message)).collect()
    };
    assert_eq!(errors("path: data/x.csv\nformat: jsonl\nfollow: true"), vec![]);
    assert_eq!(
        errors("path: data/x.csv\nfollow: true"),
        vec![("follow".to_owned(), "`follow` needs a jsonl file, not csv".to_owned())]
    );
    assert_eq!(
        errors("path: data/x.txt\ndelimiter: \"\\n\""),
        vec![
            ("format".to_owned(), "cannot tell the format of `data/x.txt`".to_owned()),
            (
                "delimiter".to_owned(),
                "the delimiter '\\n' is not one ASCII character other than a quote or a line break"
                    .to_owned()
            ),
        ]
    );
    let config = source("path: data/x.PARQUET").expect("parses");
    assert_eq!(config.describe(), "data/x.PARQUET (parquet)");
    let config = source("path: data/x.ndjson\nfollow: true").expect("parses");
    assert_eq!(config.describe(), "data/x.ndjson (jsonl, followed)");
    assert!(!config.is_finite());
    assert!(source("path: x.csv\ndelimiter: ab").is_err());
}

#[test]
fn sinks_default_their_path_and_format() {
    let ctx = context(Path::new("/work"), vec![0]);
    let describe = |yaml: &str| sink(yaml).expect("parses").describe(&ctx);
    assert_eq!(describe("{}"), "/work/out/stock.jsonl (jsonl changelog)");
    assert_eq!(describe("format: parquet"), "/work/out/stock.parquet (parquet snapshot)");
    assert_eq!(describe("path: x/s.csv"), "x/s.csv (csv snapshot)");
    assert_eq!(describe("path: x/s.txt"), "x/s.txt (jsonl changelog)");
}

#[test]
fn jsonl_lines_become_rows_and_dead_letters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = path_in(&dir, "events.jsonl");
    let text = format!(
        "{}\r\n\n   \n{}\n{{\"shelf_id\":\"B\"}}\nnot json\n{}",
        line("A", 1, 1),
        line("B", 2, 2),
        line("C", 3, 3)
    );
    fs::write(&path, text).expect("write");
    let mut reader = JsonlReader::open(path.clone(), &schema(), false, 1 << 20).expect("open");
    let mut clock = EventClock::new(Some(2), S, 0);
    let batch = read_all(&mut reader, &mut clock, 100);
    assert_eq!(rows(&batch), vec![row("A", 1, 1), row("B", 2, 2), row("C", 3, 3)]);
    let frontier = clock.frontier();
    assert_eq!(
        batch.dead,
        vec![
            DeadLetter {
                position: format!("{path}:5"),
                reason: "missing field `quantity`".to_owned(),
                raw: r#"{"shelf_id":"B"}"#.to_owned(),
                time: ts("2026-01-01T07:00:02Z") as u64,
            },
            DeadLetter {
                position: format!("{path}:6"),
                reason: "malformed JSON: expected ident".to_owned(),
                raw: "not json".to_owned(),
                time: ts("2026-01-01T07:00:02Z") as u64,
            },
        ]
    );
    // Times are event times rounded up to the tick; the frontier follows the last one.
    assert_eq!(batch.rows[2].1, frontier);
    assert_eq!(frontier, (ts("2026-01-01T07:00:03Z") as u64));
}

#[test]
fn lines_across_chunk_boundaries_are_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = path_in(&dir, "events.jsonl");
    let lines: Vec<String> = (0..50).map(|i| line(&format!("S{i}"), i, (i % 60) as u32)).collect();
    fs::write(&path, lines.join("\n")).expect("write");
    let expected: Vec<Vec<Value>> =
        (0..50).map(|i| row(&format!("S{i}"), i, (i % 60) as u32)).collect();
    // Chunks smaller than a line, around a line, and larger than the file.
    for chunk in [1, 7, 52, 53, 64, 100, 1 << 20] {
        for max in [1, 3, 1000] {
            let mut reader =
                JsonlReader::open(path.clone(), &schema(), false, chunk).expect("open");
            let mut clock = EventClock::new(None, S, 0);
            let batch = read_all(&mut reader, &mut clock, max);
            assert_eq!(batch.dead, vec![], "chunk {chunk}, max {max}");
            assert_eq!(rows(&batch), expected, "chunk {chunk}, max {max}");
        }
    }
}

#[test]
fn late_records_are_dead_letters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = path_in(&dir, "events.jsonl");
    let text = [line("A", 1, 10), line("B", 1, 12), line("C", 1, 11), line("D", 1, 12)].join("\n");
    fs::write(&path, text).expect("write");
    let mut reader = JsonlReader::open(path.clone(), &schema(), false, 1 << 20).expect("open");
    let mut clock = EventClock::new(Some(2), S, 0);
    let batch = read_all(&mut reader, &mut clock, 10);
    assert_eq!(rows(&batch), vec![row("A", 1, 10), row("B", 1, 12), row("D", 1, 12)]);
    let late = &batch.dead[0];
    assert_eq!(late.position, format!("{path}:3"));
    assert!(late.reason.starts_with("late"), "{}", late.reason);
    assert_eq!(late.reason, "late: behind the frontier 2026-01-01T07:00:12Z");
    assert_eq!(late.raw, line("C", 1, 11));
    assert_eq!(late.time, ts("2026-01-01T07:00:12Z") as u64);
}

#[test]
fn a_watermark_line_advances_the_frontier_without_a_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = path_in(&dir, "events.jsonl");
    let text = [
        line("A", 1, 10),
        r#"{"$watermark": "2026-01-01T07:00:30Z"}"#.to_owned(),
        line("B", 1, 20),
        line("C", 1, 30),
        r#" { "$watermark" : "2026-01-01T07:00:20Z" } "#.to_owned(),
        r#"{"$watermark": "soon"}"#.to_owned(),
        r#"{"$watermark": "2026-01-01T07:00:40Z", "shelf_id": "D"}"#.to_owned(),
    ]
    .join("\n");
    fs::write(&path, text).expect("write");
    let mut reader = JsonlReader::open(path.clone(), &schema(), false, 1 << 20).expect("open");
    let mut clock = EventClock::new(Some(2), S, 60 * S);
    let batch = read_all(&mut reader, &mut clock, 10);
    // The lateness (60 s) would accept B: the watermark line says nothing before 07:00:30 follows.
    assert_eq!(rows(&batch), vec![row("A", 1, 10), row("C", 1, 30)]);
    assert_eq!(batch.dead[0].reason, "late: behind the frontier 2026-01-01T07:00:30Z");
    assert_eq!(batch.dead[0].position, format!("{path}:3"));
    // An earlier watermark does not move it back; malformed ones are dead letters that say why.
    assert_eq!(clock.frontier(), ts("2026-01-01T07:00:30Z") as u64);
    assert_eq!(batch.dead.len(), 3, "{:?}", batch.dead);
    for dead in &batch.dead[1..] {
        assert!(dead.reason.starts_with("`$watermark`: expected"), "{}", dead.reason);
    }
    // A table has no event time to advance.
    let mut reader = JsonlReader::open(path, &schema(), false, 1 << 20).expect("open");
    let mut untimed = EventClock::new(None, S, 0);
    let batch = read_all(&mut reader, &mut untimed, 10);
    assert_eq!(batch.rows.len(), 3);
    assert_eq!(batch.dead[0].reason, "`$watermark` in an input without event time");
}

#[test]
fn a_followed_file_is_read_as_it_grows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = path_in(&dir, "events.jsonl");
    let first = line("A", 1, 1);
    let second = line("B", 2, 2);
    let (head, tail) = second.split_at(10);
    fs::write(&path, format!("{first}\n{head}")).expect("write");

    let mut reader = JsonlReader::open(path.clone(), &schema(), true, 16).expect("open");
    let mut clock = EventClock::new(Some(2), S, 0);
    let mut read = |max| {
        let mut batch = SourceBatch::default();
        let status = reader.read(max, &mut clock, &mut batch).expect("read");
        (status, rows(&batch), batch.dead.len())
    };
    assert_eq!(read(10), (ReadStatus::More, vec![row("A", 1, 1)], 0));
    // The partial second line stays buffered.
    assert_eq!(read(10), (ReadStatus::Idle, vec![], 0));

    let mut file = fs::OpenOptions::new().append(true).open(&path).expect("append");
    write!(file, "{tail}\n{}\n", line("C", 3, 3)).expect("append");
    assert_eq!(read(1), (ReadStatus::More, vec![row("B", 2, 2)], 0));
    assert_eq!(read(10), (ReadStatus::More, vec![row("C", 3, 3)], 0));
    assert_eq!(read(10), (ReadStatus::Idle, vec![], 0));

    // Truncated and rewritten: read again from the start.
    fs::write(&path, format!("{}\n", line("D", 4, 4))).expect("truncate");
    assert_eq!(read(10), (ReadStatus::Idle, vec![], 0));
    assert_eq!(read(10), (ReadStatus::More, vec![row("D", 4, 4)], 0));
}

#[test]
fn csv_cells_are_typed_and_bad_ones_point_at_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = path_in(&dir, "stock.csv");
    let text = "note;quantity;shelf_id;ts\r\n\
                first;1;A;2026-01-01T07:00:01Z\r\n\
                \r\n\
                \"two\nlines\";x;B;2026-01-01T07:00:02Z\r\n\
                ;3;;2026-01-01 07:00:03\r\n\
                \"a;b\";4;\"\";2026-01-01T07:00:04Z";
    fs::write(&path, text).expect("write");
    let config = source(&format!("path: {path}\ndelimiter: \";\"")).expect("parses");
    let mut reader = config.open(&schema()).expect("open");
    let mut clock = EventClock::new(None, S, 0);
    let batch = read_all(reader.as_mut(), &mut clock, 2);
    assert_eq!(rows(&batch), vec![row("A", 1, 1), row("", 4, 4)]);
    assert_eq!(
        batch.dead,
        vec![
            DeadLetter {
                position: format!("{path}:4"),
                reason: r#"field `quantity`: expected int, found string "x""#.to_owned(),
                raw: "\"two\nlines\";x;B;2026-01-01T07:00:02Z".to_owned(),
                time: 0,
            },
            DeadLetter {
                position: format!("{path}:6"),
                reason: "field `shelf_id`: null in a non-nullable column".to_owned(),
                raw: ";3;;2026-01-01 07:00:03".to_owned(),
                time: 0,
            },
        ]
    );
}

#[test]
fn missing_columns_fail_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = path_in(&dir, "stock.csv");
    fs::write(&path, "shelf_id,ts\nA,2026-01-01T07:00:01Z\n").expect("write");
    let err = TableReader::csv(path.clone(), &schema(), b',').expect_err("no quantity");
    assert_eq!(err.to_string(), format!("{path}: no column `quantity` in the file"));
    assert!(matches!(err, crate::ConnectorError::Schema { .. }));
    let err = TableReader::csv(path_in(&dir, "none.csv"), &schema(), b',').expect_err("no file");
    assert!(matches!(err, crate::ConnectorError::Io { .. }));
}

fn upsert(row: &[Value]) -> Change<'_> {
    Change { op: ChangeOp::Upsert, row }
}

fn delete(row: &[Value]) -> Change<'_> {
    Change { op: ChangeOp::Delete, row }
}

#[test]
fn the_jsonl_sink_writes_a_changelog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(dir.path(), vec![0]);
    let mut writer = sink("{}").expect("parses").open(&ctx).expect("open");
    let (a, b) = (row("A", 1, 1), row("B\"", 2, 2));
    let time = ts("2026-01-01T07:00:05Z") as u64;
    writer.write(time, &[upsert(&a), upsert(&b)]).expect("write");
    writer.write(time + S, &[delete(&a)]).expect("write");
    writer.finish().expect("finish");
    let text = fs::read_to_string(dir.path().join("out/stock.jsonl")).expect("read");
    assert_eq!(
        text,
        concat!(
            r#"{"op":"upsert","key":{"shelf_id":"A"},"row":{"shelf_id":"A","quantity":1,"ts":"2026-01-01T07:00:01Z"},"time":"2026-01-01T07:00:05Z"}"#,
            "\n",
            r#"{"op":"upsert","key":{"shelf_id":"B\""},"row":{"shelf_id":"B\"","quantity":2,"ts":"2026-01-01T07:00:02Z"},"time":"2026-01-01T07:00:05Z"}"#,
            "\n",
            r#"{"op":"delete","key":{"shelf_id":"A"},"row":{"shelf_id":"A","quantity":1,"ts":"2026-01-01T07:00:01Z"},"time":"2026-01-01T07:00:06Z"}"#,
            "\n",
        )
    );
}

#[test]
fn the_csv_sink_writes_the_final_state_sorted_by_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(dir.path(), vec![0]);
    let mut writer = sink("format: csv").expect("parses").open(&ctx).expect("open");
    writer
        .write(1, &[upsert(&row("B", 2, 2)), upsert(&row("A", 1, 1)), upsert(&row("C", 3, 3))])
        .expect("write");
    writer.write(2, &[upsert(&row("A", 5, 5)), delete(&row("C", 3, 3))]).expect("write");
    writer.finish().expect("finish");
    let text = fs::read_to_string(dir.path().join("out/stock.csv")).expect("read");
    assert_eq!(text, "shelf_id,quantity,ts\nA,5,2026-01-01T07:00:05Z\nB,2,2026-01-01T07:00:02Z\n");
}

#[test]
fn parquet_snapshots_read_back_through_the_parquet_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = path_in(&dir, "deep/stock.parquet");
    let ctx = context(dir.path(), vec![0]);
    let mut writer = sink(&format!("path: {path}")).expect("parses").open(&ctx).expect("open");
    let mut b = row("B", 2, 2);
    b[2] = Value::Timestamp(ts("2026-01-01T07:00:02.123456Z"));
    writer
        .write(1, &[upsert(&b), upsert(&row("A", 1, 1)), upsert(&row("C", 3, 3))])
        .expect("write");
    writer.write(2, &[delete(&row("C", 3, 3))]).expect("write");
    writer.finish().expect("finish");

    let config = source(&format!("path: {path}")).expect("parses");
    assert_eq!(config.describe(), format!("{path} (parquet)"));
    let mut reader = config.open(&schema()).expect("open");
    let mut clock = EventClock::new(Some(2), S, 0);
    let batch = read_all(reader.as_mut(), &mut clock, 1);
    assert_eq!(rows(&batch), vec![row("A", 1, 1), b]);
    assert_eq!(batch.rows[1].1, ts("2026-01-01T07:00:03Z") as u64);

    // A string column read as int: one dead letter per row.
    let strict = Schema::new(vec![
        Field::new("shelf_id", Type::Int, true),
        Field::new("quantity", Type::Float, false),
    ]);
    let mut reader = TableReader::parquet(path.clone(), &strict).expect("open");
    let batch = read_all(&mut reader, &mut EventClock::new(None, S, 0), 10);
    assert_eq!(batch.rows, vec![]);
    assert_eq!(
        batch.dead[0],
        DeadLetter {
            position: format!("{path}:1"),
            reason: r#"field `shelf_id`: expected int, found string "A""#.to_owned(),
            raw: r#"{"shelf_id":"A","quantity":1.0}"#.to_owned(),
            time: 0,
        }
    );
    assert_eq!(batch.dead[1].position, format!("{path}:2"));

    let wrong = Schema::new(vec![Field::new("quantity", Type::Bool, false)]);
    let err = TableReader::parquet(path.clone(), &wrong).expect_err("bool from int");
    assert_eq!(
        err.to_string(),
        format!("{path}: column `quantity` is i64, which cannot be read as bool")
    );
}

#[test]
fn dead_letters_are_written_as_json_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path: PathBuf = dir.path().join("out/dead/letters.jsonl");
    let mut file = DeadLetterFile::create(&path).expect("create");
    let letter = DeadLetter {
        position: "data/e.jsonl:3".to_owned(),
        reason: "missing field `quantity`".to_owned(),
        raw: r#"{"shelf_id":"B"}"#.to_owned(),
        time: ts("2026-01-01T07:00:00Z") as u64,
    };
    file.write("shelf_events", &[letter]).expect("write");
    file.write("shelf_events", &[]).expect("write");
    file.finish().expect("finish");
    assert_eq!(
        fs::read_to_string(&path).expect("read"),
        concat!(
            r#"{"source":"shelf_events","position":"data/e.jsonl:3","reason":"missing field `quantity`","raw":"{\"shelf_id\":\"B\"}","time":"2026-01-01T07:00:00Z"}"#,
            "\n"
        )
    );
}

#[test]
fn an_empty_key_holds_a_single_row() {
    let ctx = context(Path::new("/tmp"), vec![]);
    let mut snapshot = Snapshot::new(&ctx);
    let (a, b) = (row("A", 1, 1), row("A", 2, 1));
    snapshot.apply(&[upsert(&a)]);
    snapshot.apply(&[upsert(&b)]);
    assert_eq!(snapshot.len(), 1, "a global aggregate keeps only its current row");
    assert_eq!(snapshot.rows().next(), Some(b.as_slice()));
}

#[test]
fn the_json_sink_writes_the_final_state_as_one_document_at_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(dir.path(), vec![0]);
    let config = sink("format: json").expect("parses");
    assert!(config.describe(&ctx).ends_with("stock.json (json snapshot)"));
    let mut writer = config.open(&ctx).expect("open");
    writer.write(1, &[upsert(&row("B", 2, 2)), upsert(&row("A", 1, 1))]).expect("write");
    writer.write(2, &[upsert(&row("A", 5, 5))]).expect("write");
    assert!(!dir.path().join("out/stock.json").exists(), "nothing is visible before the end");
    writer.finish().expect("finish");
    let text = fs::read_to_string(dir.path().join("out/stock.json")).expect("read");
    let document: serde_json::Value = serde_json::from_str(&text).expect("one json document");
    assert_eq!(
        document,
        serde_json::json!([
            {"shelf_id": "A", "quantity": 5, "ts": "2026-01-01T07:00:05Z"},
            {"shelf_id": "B", "quantity": 2, "ts": "2026-01-01T07:00:02Z"},
        ])
    );
    assert!(!dir.path().join("out/.stock.json.tmp").exists(), "the temporary file is renamed");
}

#[test]
fn a_single_json_document_is_one_object_or_null() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ctx = context(dir.path(), vec![]);
    ctx.schema.key = Some(vec![]);
    let config = sink("{format: json, single: true}").expect("parses");
    assert!(config.validate(&ctx.schema).is_empty());
    let mut writer = config.open(&ctx).expect("open");
    writer.write(1, &[upsert(&row("A", 1, 1))]).expect("write");
    writer.write(2, &[upsert(&row("A", 10, 2))]).expect("write");
    writer.finish().expect("finish");
    let text = fs::read_to_string(dir.path().join("out/stock.json")).expect("read");
    assert_eq!(
        text,
        "{\n  \"shelf_id\": \"A\",\n  \"quantity\": 10,\n  \"ts\": \"2026-01-01T07:00:02Z\"\n}\n"
    );
    let mut writer = config.open(&ctx).expect("open");
    writer.finish().expect("finish");
    let text = fs::read_to_string(dir.path().join("out/stock.json")).expect("read");
    assert_eq!(text, "null\n", "no row");
}

#[test]
fn single_needs_json_and_an_input_of_at_most_one_row() {
    let keyed = schema();
    let errors = sink("{format: json, single: true}").unwrap().validate(&keyed);
    assert_eq!(errors[0].message, "`single: true` needs an input of at most one row");
    let errors = sink("{format: csv, single: true}").unwrap().validate(&keyed);
    assert_eq!(errors[0].message, "`single` applies to `format: json` only");
    let errors = source("{path: x.json, format: json}").unwrap().validate(&keyed);
    assert_eq!(errors[0].message, "a source cannot read a json document");
}

#[test]
fn row_updates_in_any_order_give_the_state_changes_by_key_give() {
    // Changes by key, time by time: A is updated twice, B inserted and deleted, C inserted.
    let (a1, a2, a3) = (row("A", 1, 1), row("A", 2, 2), row("A", 3, 3));
    let (b, c) = (row("B", 7, 1), row("C", 4, 2));
    let ctx = context(Path::new("/tmp"), vec![0]);
    let mut by_key = Snapshot::new(&ctx);
    by_key.apply(&[upsert(&a1), upsert(&b)]);
    by_key.apply(&[upsert(&a2), upsert(&c)]);
    by_key.apply(&[upsert(&a3), delete(&b)]);
    // The same history as row updates, shuffled across times, a row even retracted before it
    // was added: only the final counts matter.
    let mut by_rows = Snapshot::new(&ctx);
    let updates = [(&a3, 1), (&a2, -1), (&b, -1), (&a1, 1), (&c, 1), (&a2, 1), (&b, 1), (&a1, -1)];
    for (row, diff) in updates {
        by_rows.add(row.clone(), diff);
    }
    by_rows.settle();
    assert_eq!(by_rows.rows().collect::<Vec<_>>(), by_key.rows().collect::<Vec<_>>());
    assert_eq!(by_rows.rows().collect::<Vec<_>>(), vec![a3.as_slice(), c.as_slice()]);
}
