//! Fluvio through the store pipeline into PostgreSQL, against a throwaway local Fluvio cluster
//! (`fluvio-run` on PATH or in `~/.fluvio/bin`) and PostgreSQL (the server of `$DATABASE_URL`,
//! else one started with `deploy/postgres.sh` for this run):
//!
//! 1. `shelfflow simulate --to fluvio` publishes `FLUVIO_BENCH_DAYS` (default 2) simulated days.
//! 2. Raw consume: a plain Fluvio consumer reads `shelf-events` and `wh-events` to their end.
//! 3. The store pipeline (`store_ops.yaml` with `config/fluvio.yaml`, read to the end) runs from
//!    the same topics into PostgreSQL and the changelog topics: events/s, wall time, peak memory.
//! 4. The same pipeline from the same events as JSONL files, for the connector's share.
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
    // The same events as JSONL files, to tell the connector's cost from the pipeline's.
    let files = root.join("target/bench-fluvio-jsonl");
    check(
        shelfflow()
            .args(["--quiet", "simulate", "--days", &days.to_string(), "--data"])
            .arg(&data)
            .arg("--to")
            .arg(format!("jsonl:{}", files.display()))
            .output()
            .unwrap(),
    );

    let started = Instant::now();
    let records =
        cluster.consume_all("shelf-events").len() + cluster.consume_all("wh-events").len();
    let raw = started.elapsed().as_secs_f64();
    let raw_rate = records as f64 / raw;
    println!("raw Fluvio consume (plain consumer): {records} records in {raw:.2}s = {raw_rate:.0} records/s");

    // The store pipeline into PostgreSQL and the changelog topics, from the topics and from the
    // files; the cluster is the harness's profile.
    let store = |name: &str, from_files: bool| {
        let url = server.database(name);
        let summary = root.join(format!("target/{name}-summary.json"));
        let mut cmd = shelfflow();
        cmd.args(["--quiet", "run", "pipelines/store_ops.yaml", "--config", "config/fluvio.yaml"]);
        for source in ["shelf_events", "wh_events"] {
            if from_files {
                cmd.args(["--set", &format!("sources.{source}.connector=file")]);
                let path = files.join(format!("{source}.jsonl"));
                cmd.args(["--set", &format!("sources.{source}.path={}", path.display())]);
            } else {
                cmd.args(["--set", &format!("sources.{source}.stop_at_end=true")]);
            }
        }
        cmd.arg("--summary-json").arg(&summary);
        cmd.env("DATABASE_URL", &url).env("SHELFFLOW_DATA", &data);
        cmd.env("SIM_DAYS", days.to_string()).env("FLV_PROFILE_PATH", cluster.profile_path());
        cmd.env("SHELFFLOW_OUT", root.join(format!("target/{name}-out")));
        cmd.stdout(Stdio::null());
        let (wall, peak_mib) = peak::measure(&mut cmd);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        let events = json["events_in"].as_f64().unwrap_or(0.0);
        let latency = (json["batch_latency_p50_ms"].clone(), json["batch_latency_p99_ms"].clone());
        (events, wall, peak_mib, latency)
    };
    // The topics the pipeline writes, created now: creating one takes the cluster about a
    // second, which belongs to neither run.
    for topic in ["shelf-state", "store-alerts", "restock-plans", "store-feedback"] {
        cluster.create_topic(topic, 1);
    }
    let (events, wall, peak_mib, (p50, p99)) = store("fluvio_bench_files", true);
    let from_files = format!(
        "store pipeline, JSONL -> PostgreSQL:  {events} events in {wall:.2}s = {:.0} events/s, \
         batch latency p50 {p50} ms p99 {p99} ms, peak RSS {peak_mib:.0} MiB",
        events / wall,
    );
    let (events, wall, peak_mib, (p50, p99)) = store("fluvio_bench_topics", false);
    println!(
        "store pipeline, Fluvio -> PostgreSQL: {events} events in {wall:.2}s = {:.0} events/s \
         ({:.2} of the raw consume rate), batch latency p50 {p50} ms p99 {p99} ms, peak RSS \
         {peak_mib:.0} MiB",
        events / wall,
        events / wall / raw_rate,
    );
    println!("{from_files}");
}
