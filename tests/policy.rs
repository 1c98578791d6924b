//! The forecast policy closes the loop: `demo --policy forecast` computes the daily facts of the
//! running store, their features after the history, forecasts with a trained model, and the
//! warehouse orders from those forecasts; `demo --compare-policies` runs both policies.

mod support {
    pub mod binary;
}

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use support::binary::{scratch, shelfflow};

fn run(command: &mut std::process::Command) -> String {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Reference data, the features of its one-year history and a small model trained on them.
fn trained(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    run(shelfflow().args(["--quiet", "data", "generate", "--out"]).arg(&data));
    let features = dir.join("features");
    run(shelfflow()
        .args(["--quiet", "run", "pipelines/features.yaml"])
        .env("FEATURES_DAILY", data.join("history.parquet"))
        .env("FEATURES_OUT", &features)
        .env("SHELFFLOW_DATA", &data));
    let models = dir.join("models");
    run(shelfflow()
        .args(["--quiet", "model", "train", "--max-rounds", "30", "--fold-days", "14"])
        .args(["--train-days", "56", "--data"])
        .arg(&features)
        .arg("--out")
        .arg(&models)
        .env_remove("DATABASE_URL"));
    (data, models.join("demand"))
}

/// Forecast units by (shelf, origin day) and horizon day, from the demo's forecast CSV.
fn forecasts(csv: &str) -> HashMap<(String, String), Vec<(u32, f64)>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut by_origin: HashMap<(String, String), Vec<(u32, f64)>> = HashMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let key = (cells[col("shelf_id")].to_owned(), cells[col("feature_date")].to_owned());
        let units = cells[col("forecast_units")].parse().unwrap();
        by_origin.entry(key).or_default().push((cells[col("horizon_day")].parse().unwrap(), units));
    }
    by_origin
}

/// The final row of every supplier order, from the demo's changelog.
fn orders(jsonl: &str) -> Vec<serde_json::Value> {
    let mut last: HashMap<String, serde_json::Value> = HashMap::new();
    for line in jsonl.lines() {
        let change: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = change["key"]["order_id"].as_str().unwrap().to_owned();
        last.insert(id, change["row"].clone());
    }
    last.into_values().collect()
}

fn day_before(timestamp: &str) -> String {
    let day = chrono::NaiveDate::parse_from_str(&timestamp[..10], "%Y-%m-%d").unwrap();
    day.pred_opt().unwrap().to_string()
}

#[test]
fn the_forecast_policy_orders_from_the_forecasts_and_the_comparison_shows_both_policies() {
    let dir = scratch("policy", "forecast");
    let (data, model) = trained(&dir);
    let out = dir.join("out");
    let summary = dir.join("summary.json");
    run(shelfflow()
        .args(["--quiet", "demo", "--policy", "forecast", "--days", "7", "--no-db", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .arg("--summary-json")
        .arg(&summary)
        .env("MODEL_DIR", &model));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(summary["policy"], "forecast");
    let wape = summary["kpis"]["forecast.wape"].as_f64().unwrap();
    assert!(wape > 0.0 && wape < 1.0, "the forecast's WAPE on the simulated days: {wape}");
    assert!(summary["kpis"]["lost_sales.estimated_units"].as_f64().is_some(), "{summary}");

    // Live days reach the features and the forecast: one origin per day from the history's
    // last day (2025-12-31) to the simulation's last complete one (2026-01-06).
    let forecast = std::fs::read_to_string(out.join("demand_forecast/demand_forecast_csv.csv"));
    let forecast = forecasts(&forecast.unwrap());
    let mut origins: Vec<&String> = forecast.keys().map(|(_, origin)| origin).collect();
    origins.sort();
    origins.dedup();
    assert_eq!(origins.first().map(|o| o.as_str()), Some("2025-12-31"));
    assert_eq!(origins.last().map(|o| o.as_str()), Some("2026-01-06"));
    assert_eq!(origins.len(), 7);

    // Every order follows the forecast made the day before its cutoff: with a 14-day
    // order-up-to cover, the demand per day is the mean of the 7 forecast days (each twice).
    let orders =
        orders(&std::fs::read_to_string(out.join("warehouse/supplier_orders.jsonl")).unwrap());
    assert!(orders.len() > 100, "the loop orders: {}", orders.len());
    for order in &orders {
        let shelf = order["shelf_id"].as_str().unwrap().to_owned();
        let origin = day_before(order["cutoff_at"].as_str().unwrap());
        let days = &forecast[&(shelf, origin)];
        assert_eq!(days.len(), 7, "{order}");
        let mean = days.iter().map(|(_, units)| units).sum::<f64>() / 7.0;
        let demand = order["demand_per_day"].as_f64().unwrap();
        assert!((demand - mean).abs() < 1e-6 * mean.max(1.0), "{order}: forecast mean {mean}");
    }
    let delivered = orders.iter().filter(|o| o["status"] == "delivered").count();
    assert!(delivered > 0, "suppliers deliver the forecast's orders");

    // Both policies on one seed, side by side.
    let table = run(shelfflow()
        .args(["demo", "--compare-policies", "--days", "2", "--no-db", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(dir.join("compare"))
        .env("MODEL_DIR", &model));
    let header = table.lines().nth(1).unwrap();
    assert!(header.contains("rules") && header.contains("forecast"), "{table}");
    let wape_line = table.lines().find(|l| l.contains("forecast WAPE")).unwrap();
    let cells: Vec<&str> = wape_line.split_whitespace().collect();
    assert_eq!(cells[cells.len() - 2], "-", "the rules policy forecasts nothing: {table}");
    assert!(cells[cells.len() - 1].parse::<f64>().is_ok(), "{table}");
    for policy in ["rules", "forecast"] {
        assert!(dir.join("compare").join(policy).join("warehouse").is_dir(), "{policy}");
    }
}
