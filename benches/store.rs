//! The store benchmark: `shelfflow demo` — the closed-loop simulated store (about 1,000 customers
//! a day) and the four store pipelines in one dataflow — over 28 simulated days at `--speed max`.
//! Prints wall time, events/s and peak memory.
//!
//! `cargo bench --bench store` (`STORE_BENCH_DAYS=7` for a shorter run).

#[path = "support/peak.rs"]
mod peak;
use peak::measure;

use std::path::Path;
use std::process::Command;

fn main() {
    let days: u32 =
        std::env::var("STORE_BENCH_DAYS").ok().and_then(|d| d.parse().ok()).unwrap_or(28);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target");
    let data = target.join("bench-data/store");
    let out = target.join("bench-out/store");
    let summary = target.join("bench-out/store-summary.json");
    let bin = env!("CARGO_BIN_EXE_shelfflow");
    if !data.join("history.parquet").is_file() {
        let status = Command::new(bin)
            .current_dir(root)
            .args(["--quiet", "data", "generate", "--out"])
            .arg(&data)
            .status()
            .expect("shelfflow runs");
        assert!(status.success(), "data generate failed");
    }
    let mut cmd = Command::new(bin);
    cmd.current_dir(root)
        .args(["--quiet", "demo", "--no-db", "--days", &days.to_string(), "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary);
    let (wall, peak) = measure(&mut cmd);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    let events = json["events_in"].as_f64().unwrap_or(0.0);
    let kpis = &json["kpis"];
    println!("store demo, {days} simulated days, 1 worker, --speed max");
    println!("  wall time          {wall:>10.1} s");
    println!("  events             {events:>10.0}  ({:.0} events/s)", events / wall);
    println!("  customers          {:>10}", kpis["customers"]);
    println!("  peak memory        {peak:>10.0} MiB");
    println!("  simulated/wall     {:>10.0}x", f64::from(days) * 86_400.0 / wall);
}
