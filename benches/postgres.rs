//! The PostgreSQL sink benchmark, against a real server (the one of `$DATABASE_URL`, else one
//! started with `deploy/postgres.sh` for this run), in a fresh database `sink_bench`:
//!
//! 1. Throughput: 1,000,000 changes over 100,000 keys (1,000 per closed time) through the sink in
//!    append and in upsert mode, next to a raw binary `COPY` of the same rows into a bare table in
//!    the same run.
//! 2. Latency: changes handed to the sink at 10,000 per second (100 every 10 ms, each time its
//!    wall-clock instant) until they are committed and visible: p50 / p99.
//!
//! `cargo bench --bench postgres` (`PG_BENCH_ROWS=200000` for a shorter run).

use std::time::{Duration, Instant};

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type as PgType;
use postgres::{Client, NoTls};
use shelfflow_connectors::postgres::sql::Cell;
use shelfflow_connectors::postgres::{PostgresSinkConfig, PostgresWriter};
use shelfflow_connectors::{Change, ChangeOp, SinkContext, SinkWriter};
use shelfflow_operators::value::{Field, Type};
use shelfflow_operators::{Row, Schema, Value};

#[allow(dead_code)] // the test harness; the benchmark uses a part of it
#[path = "../tests/support/postgres.rs"]
mod pg;

const KEYS: usize = 100_000;
const PER_TIME: usize = 1_000;

fn schema() -> Schema {
    let mut schema = Schema::new(vec![
        Field::new("shelf_id", Type::String, false),
        Field::new("current_stock", Type::Int, false),
        Field::new("fill_pct", Type::Float, false),
        Field::new("item_category", Type::String, false),
        Field::new("updated_at", Type::Timestamp, false),
    ]);
    schema.key = Some(vec![0]);
    schema
}

/// The i-th change: shelves in turn, stock and time moving on.
fn row(i: usize) -> Row {
    let stock = (i * 7 % 100) as i64;
    vec![
        Value::str(&format!("SHELF{:06}", i % KEYS)),
        Value::Int(stock),
        Value::Float(stock as f64 / 1.2),
        Value::str(["DAIRY", "FRUITS", "BAKERY", "FISH"][i % 4]),
        Value::Timestamp(1_767_225_600_000_000 + i as i64 * 1_000),
    ]
}

fn writer(url: &str, table: &str, mode: &str) -> PostgresWriter {
    let schema = schema();
    let ctx = SinkContext {
        pipeline: "bench".to_owned(),
        sink: table.to_owned(),
        key: vec![0],
        schema,
        output_dir: "target/bench-out".into(),
        description: Some("Benchmark table.".to_owned()),
        definition_hash: "bench".to_owned(),
        positions: Default::default(),
    };
    let yaml = format!("url: {url}\nschema: bench\ntable: {table}\nmode: {mode}\n");
    let config: PostgresSinkConfig = serde_yaml_ng::from_str(&yaml).expect("config");
    let mut client = Client::connect(url, NoTls).expect("connect");
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.{table};
             DELETE FROM public.shelfflow_progress WHERE pipeline = 'bench' AND sink = '{table}'"
        ))
        .ok();
    PostgresWriter::open(&config, &ctx).expect("open")
}

fn main() {
    let rows: usize =
        std::env::var("PG_BENCH_ROWS").ok().and_then(|r| r.parse().ok()).unwrap_or(1_000_000);
    let Some(server) = pg::shared() else { return };
    let url = server.database("sink_bench");
    println!("PostgreSQL sink benchmark ({rows} changes over {KEYS} keys, {PER_TIME} per time)");
    let data: Vec<Row> = (0..rows).map(row).collect();

    // 1. The sink, in both modes: one transaction per group of closed times.
    let through = |mode: &str| -> f64 {
        let mut sink = writer(&url, &format!("sink_{mode}"), mode);
        let started = Instant::now();
        for (t, chunk) in data.chunks(PER_TIME).enumerate() {
            let changes: Vec<Change<'_>> =
                chunk.iter().map(|r| Change { op: ChangeOp::Upsert, row: r }).collect();
            sink.write(t as u64 + 1, &changes).expect("write");
        }
        sink.finish().expect("finish");
        started.elapsed().as_secs_f64()
    };
    let upsert_secs = through("upsert");
    let append_secs = through("append");

    // The same rows with a raw binary COPY into a bare table.
    let mut client = Client::connect(&url, NoTls).expect("connect");
    client
        .batch_execute(
            "DROP TABLE IF EXISTS bench.raw_copy;
             CREATE TABLE bench.raw_copy (shelf_id text, current_stock bigint, fill_pct double precision,
                                          item_category text, updated_at timestamptz)",
        )
        .unwrap();
    let types = [PgType::TEXT, PgType::INT8, PgType::FLOAT8, PgType::TEXT, PgType::TIMESTAMPTZ];
    let started = Instant::now();
    let mut tx = client.transaction().unwrap();
    let copy = tx.copy_in("COPY bench.raw_copy FROM STDIN (FORMAT binary)").unwrap();
    let mut copy = BinaryCopyInWriter::new(copy, &types);
    for r in &data {
        copy.write_raw(r.iter().map(Cell)).unwrap();
    }
    copy.finish().unwrap();
    tx.commit().unwrap();
    let copy_secs = started.elapsed().as_secs_f64();
    let mut count = |table: &str| -> usize {
        let n: i64 =
            client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).unwrap().get(0);
        n as usize
    };
    assert_eq!(count("bench.sink_upsert"), KEYS.min(rows), "one row per key");
    assert_eq!(count("bench.sink_append"), rows, "one row per change");

    let rate = |secs: f64| rows as f64 / secs;
    let copy_rate = rate(copy_secs);
    println!("  raw binary COPY   {:>10.0} rows/s   {copy_secs:.2} s", copy_rate);
    for (mode, secs) in [("append", append_secs), ("upsert", upsert_secs)] {
        println!(
            "  sink ({mode})     {:>10.0} rows/s   {secs:.2} s   ratio to raw COPY {:.2}",
            rate(secs),
            rate(secs) / copy_rate
        );
    }

    // 2. Latency at 10,000 changes/s: 100 changes every 10 ms for 10 s.
    let mut sink = writer(&url, "sink_latency", "upsert");
    let origin = Instant::now();
    let mut in_flight: std::collections::VecDeque<(u64, Instant)> = Default::default();
    let mut latencies: Vec<f64> = Vec::new();
    let ticks = 1_000usize;
    for tick in 0..ticks {
        let due = origin + Duration::from_millis(10 * tick as u64);
        while Instant::now() < due {
            drain(&sink, &mut in_flight, &mut latencies);
            std::thread::sleep(Duration::from_micros(200));
        }
        let chunk: Vec<Row> = (0..100).map(|i| row(tick * 100 + i)).collect();
        let changes: Vec<Change<'_>> =
            chunk.iter().map(|r| Change { op: ChangeOp::Upsert, row: r }).collect();
        let time = tick as u64 + 1;
        sink.write(time, &changes).expect("write");
        in_flight.push_back((time, Instant::now()));
    }
    while !in_flight.is_empty() {
        drain(&sink, &mut in_flight, &mut latencies);
        std::thread::sleep(Duration::from_micros(200));
    }
    sink.finish().expect("finish");
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "  latency at 10,000 changes/s (handed to the sink -> committed): p50 {:.1} ms, p99 {:.1} ms",
        at(0.5),
        at(0.99)
    );
}

/// Records the latency of every time the sink has committed.
fn drain(
    sink: &PostgresWriter,
    in_flight: &mut std::collections::VecDeque<(u64, Instant)>,
    latencies: &mut Vec<f64>,
) {
    let committed = sink.committed();
    while in_flight.front().is_some_and(|(t, _)| *t <= committed) {
        let (_, at) = in_flight.pop_front().unwrap();
        latencies.push(at.elapsed().as_secs_f64() * 1000.0);
    }
}
