//! Fluvio through the store pipeline into PostgreSQL, against a throwaway local Fluvio cluster
//! (`fluvio-run` on PATH or in `~/.fluvio/bin`) and PostgreSQL (the server of `$DATABASE_URL`,
//! else one started with `deploy/postgres.sh` for this run):
//!
//! 1. `shelfflow simulate --to fluvio` publishes `FLUVIO_BENCH_DAYS` (default 2) simulated days.
//! 2. Raw consume: a plain Fluvio consumer reads `shelf-events` and `wh-events` to their end.
//! 3. The store pipeline (`store_ops.yaml` with `config/fluvio.yaml`, read to the end) runs from
//!    the same topics into PostgreSQL and the changelog topics: events/s, wall time, peak memory.
//!
//! `cargo bench --bench fluvio`.

#[allow(dead_code)] // the test harness; the benchmark uses a part of it
#[path = "../tests/support"]
mod support {
    pub mod binary;
    pub mod fluvio;
    pub mod postgres;
}

#[path = "support/peak.rs"]
mod peak;

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use support::binary::shelfflow;

fn check(out: std::process::Output) -> std::process::Output {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn main() {
    let Some(cluster) = support::fluvio::start() else { return };
    let Some(server) = support::postgres::shared() else { return };
    let days: u32 =
        std::env::var("FLUVIO_BENCH_DAYS").ok().and_then(|d| d.parse().ok()).unwrap_or(2);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("target/bench-data");
    if !data.join("history.parquet").is_file() {
        check(
            shelfflow().args(["--quiet", "data", "generate", "--out"]).arg(&data).output().unwrap(),
        );
    }
    let started = Instant::now();
    check(
        shelfflow()
            .args(["--quiet", "simulate", "--days", &days.to_string(), "--data"])
            .arg(&data)
            .args(["--to", "fluvio", "--endpoint", &cluster.endpoint, "--partitions", "2"])
            .output()
            .unwrap(),
    );
    println!("published {days} simulated days in {:.1}s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let records =
        cluster.consume_all("shelf-events").len() + cluster.consume_all("wh-events").len();
    let raw = started.elapsed().as_secs_f64();
    println!("raw consume: {records} records in {raw:.2}s = {:.0} records/s", records as f64 / raw);

    let url = server.database("fluvio_bench");
    let summary = root.join("target/bench-fluvio-summary.json");
    let mut cmd = shelfflow();
    cmd.args(["--quiet", "run", "pipelines/store_ops.yaml", "--config", "config/fluvio.yaml"]);
    for source in ["shelf_events", "wh_events"] {
        cmd.args(["--set", &format!("sources.{source}.endpoint={}", cluster.endpoint)]);
        cmd.args(["--set", &format!("sources.{source}.stop_at_end=true")]);
    }
    for sink in ["fluvio_shelf_state", "fluvio_store_alerts", "fluvio_restock_plans"] {
        cmd.args(["--set", &format!("sinks.{sink}.endpoint={}", cluster.endpoint)]);
    }
    cmd.arg("--summary-json").arg(&summary);
    cmd.env("DATABASE_URL", &url).env("SHELFFLOW_DATA", &data).env("SIM_DAYS", days.to_string());
    cmd.env("SHELFFLOW_OUT", root.join("target/bench-fluvio-out"));
    cmd.stdout(Stdio::null());
    let (wall, peak_mib) = peak::measure(&mut cmd);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let events = json["events_in"].as_f64().unwrap_or(0.0);
    println!(
        "store pipeline Fluvio -> PostgreSQL: {events} events in {wall:.2}s = {:.0} events/s \
         (ratio to raw consume {:.2}), batch latency p50 {} ms p99 {} ms, peak RSS {peak_mib:.0} MiB",
        events / wall,
        (events / wall) / (records as f64 / raw),
        json["batch_latency_p50_ms"],
        json["batch_latency_p99_ms"],
    );
}
