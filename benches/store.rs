//! The store benchmark: `shelfflow demo` — the closed-loop simulated store (about 1,000 customers
//! a day) and the four store pipelines in one dataflow — over 28 simulated days at `--speed max`.
//! Prints wall time, events/s and peak memory.
//!
//! Each layout runs in turn: one process with one worker, one with two, and two processes of one
//! worker each (timely's cluster on loopback); `STORE_BENCH_LAYOUTS=1x1,2x1` picks some.
//!
//! `cargo bench --bench store` (`STORE_BENCH_DAYS=7` for a shorter run); `STORE_BENCH_STORES=8`
//! simulates a chain of eight stores (`demo --stores 8`), partitioned by store over the workers.

#[path = "support/peak.rs"]
mod peak;
use peak::measure;

use std::path::Path;
use std::process::Command;

fn main() {
    let days: u32 =
        std::env::var("STORE_BENCH_DAYS").ok().and_then(|d| d.parse().ok()).unwrap_or(28);
    let stores: usize =
        std::env::var("STORE_BENCH_STORES").ok().and_then(|d| d.parse().ok()).unwrap_or(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target");
    let data = target.join(format!("bench-data/store-{stores}"));
    let bin = env!("CARGO_BIN_EXE_shelfflow");
    if !data.join("stores.parquet").is_file() {
        let status = Command::new(bin)
            .current_dir(root)
            .args(["--quiet", "data", "generate", "--stores", &stores.to_string(), "--out"])
            .arg(&data)
            .status()
            .expect("shelfflow runs");
        assert!(status.success(), "data generate failed");
    }
    let layouts = std::env::var("STORE_BENCH_LAYOUTS").unwrap_or_else(|_| "1x1,1x2,2x1".into());
    for layout in layouts.split(',') {
        let (processes, workers) = layout
            .split_once('x')
            .and_then(|(p, w)| Some((p.parse::<usize>().ok()?, w.parse::<usize>().ok()?)))
            .expect("layouts look like 2x1 (processes x workers)");
        run_layout(root, &data, (days, stores), processes, workers);
    }
}

/// `demo` over `days` on `processes` processes of `workers` workers each (a timely cluster on
/// loopback when several), with its figures: process 0's summary, every process's peak memory.
fn run_layout(root: &Path, data: &Path, run: (u32, usize), processes: usize, workers: usize) {
    let (days, stores) = run;
    let bin = env!("CARGO_BIN_EXE_shelfflow");
    let target = root.join("target/bench-out");
    let summary = target.join(format!("store-summary-{processes}x{workers}.json"));
    let hosts = target.join("store-hosts.txt");
    std::fs::create_dir_all(&target).expect("bench dir");
    if processes > 1 {
        let ports: Vec<_> = (0..processes)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
            .collect();
        let lines: Vec<String> =
            ports.iter().map(|l| l.local_addr().unwrap().to_string()).collect();
        std::fs::write(&hosts, lines.join("\n")).expect("hosts file");
    }
    let commands = (0..processes).map(|process| {
        let mut cmd = Command::new(bin);
        cmd.current_dir(root)
            .args(["--quiet", "demo", "--no-db", "--days", &days.to_string(), "--data"])
            .arg(data)
            .arg("--out")
            .arg(target.join(format!("store-{processes}x{workers}-{process}")))
            .args(["--workers", &workers.to_string()])
            .arg("--summary-json")
            .arg(summary.with_extension(format!("{process}.json")));
        if processes > 1 {
            cmd.args(["--process", &process.to_string(), "--hosts"]).arg(&hosts);
        }
        cmd
    });
    let measured: Vec<(f64, f64)> = std::thread::scope(|scope| {
        let threads: Vec<_> =
            commands.map(|mut cmd| scope.spawn(move || measure(&mut cmd))).collect();
        threads.into_iter().map(|t| t.join().expect("measured")).collect()
    });
    let wall = measured.iter().map(|(w, _)| *w).fold(0.0, f64::max);
    let text = std::fs::read_to_string(summary.with_extension("0.json")).expect("summary");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let events = json["events_in"].as_f64().unwrap_or(0.0);
    let kpis = &json["kpis"];
    println!("store demo, {stores} store(s), {days} simulated days, {processes} process(es) x {workers} worker(s), --speed max");
    println!("  wall time          {wall:>10.1} s");
    println!("  events             {events:>10.0}  ({:.0} events/s)", events / wall);
    println!("  customers          {:>10}", kpis["customers"]);
    if let (Some(p50), Some(p99)) =
        (json["batch_latency_p50_ms"].as_f64(), json["batch_latency_p99_ms"].as_f64())
    {
        println!("  batch latency      {p50:>10.2} ms p50, {p99:.2} ms p99");
    }
    for (process, (_, peak)) in measured.iter().enumerate() {
        println!("  peak memory        {peak:>10.0} MiB  (process {process})");
    }
    println!("  simulated/wall     {:>10.0}x", f64::from(days) * 86_400.0 / wall);
}
