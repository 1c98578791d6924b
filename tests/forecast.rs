//! Forecasting end to end on a small synthetic store: the features pipeline against a
//! from-scratch recomputation, `model train` (folds, gate, determinism), and the forecast
//! pipeline (the same rows for 1 and 2 workers, located errors for a model that does not fit).

mod support {
    pub mod binary;
    #[allow(dead_code)] // this file uses part of it
    pub mod postgres;
}

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use support::binary::{scratch, shelfflow};
use support::postgres::{self as pg, psql};

/// Five products of the generated catalog (seed 42) and one the catalog does not have.
const SHELVES: [&str; 6] =
    ["BABBAB0478", "BEEIMP0109", "FLOYEA0712", "HOUGLO0452", "PASSOU0759", "X-UNKNOWN"];
const DAYS: i64 = 200;
/// 2025-01-01, a Wednesday.
const FIRST: &str = "2025-01-01";

/// Units sold by shelf `s` on day `d` (days after FIRST): a weekly pattern, a level per shelf
/// and a deterministic wobble.
fn units(s: usize, d: i64) -> i64 {
    if d < 0 {
        return 0; // before the first day (only ever summed into windows reported as NULL)
    }
    let weekday = (d + 2) % 7; // 0 = Monday
    let week = [4, 3, 3, 5, 8, 12, 9][weekday as usize];
    (week * (s as i64 + 1) / 2 + (d * 7 + s as i64 * 13) % 5 - 2).max(0)
}

fn date(d: i64) -> String {
    let first = chrono::NaiveDate::parse_from_str(FIRST, "%Y-%m-%d").unwrap();
    (first + chrono::Days::new(d as u64)).format("%Y-%m-%d").to_string()
}

/// The daily facts as JSONL, and the generated reference tables.
fn store(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let generate =
        shelfflow().args(["--quiet", "data", "generate", "--out"]).arg(&data).output().unwrap();
    assert!(generate.status.success(), "{}", String::from_utf8_lossy(&generate.stderr));
    let mut lines = String::new();
    for d in 0..DAYS {
        for (s, shelf) in SHELVES.iter().enumerate() {
            let line = serde_json::json!({
                "feature_date": date(d), "store_id": 1, "shelf_id": shelf,
                "people_count": 1000 + d % 7 * 10,
                "sales_qty": units(s, d), "stockout_events": i64::from(units(s, d) == 0),
                "discount": 0.0, "current_stock_shelf": 20, "current_stock_warehouse": 100,
                "min_expiration_days": 30, "qty_expiring_next_7d": 0,
            });
            lines.push_str(&format!("{line}\n"));
        }
    }
    let facts = dir.join("facts.jsonl");
    std::fs::write(&facts, lines).unwrap();
    facts
}

fn features(dir: &Path, facts: &Path, format: &str) -> PathBuf {
    let out = dir.join("features");
    let table = out.join(format!("shelf_daily_features.{format}"));
    let run = shelfflow()
        .args(["--quiet", "run", "pipelines/features.yaml", "--set"])
        .arg(format!("sinks.features_parquet.path={}", table.display()))
        .env("FEATURES_DAILY", facts)
        .env("FEATURES_OUT", &out)
        .env("SHELFFLOW_DATA", dir.join("data"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    table
}

fn train(table: &Path, out: &Path) -> serde_json::Value {
    train_into(table, out, None)
}

fn train_into(table: &Path, out: &Path, url: Option<&str>) -> serde_json::Value {
    let json = out.join("report.json");
    let mut command = shelfflow();
    command.args(["--quiet", "model", "train"]);
    if let Some(url) = url {
        command.args(["--database-url", url]);
    }
    let run = command
        .args(["--fold-days", "14", "--train-days", "56"])
        .args(["--max-rounds", "40", "--data"])
        .arg(table)
        .arg("--out")
        .arg(out)
        .arg("--json")
        .arg(&json)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

/// The forecast pipeline on the features pipeline's collection, over the daily `facts`.
fn forecasting(dir: &Path, facts: &Path, models: &Path, out: &Path) -> std::process::Command {
    let mut command = shelfflow();
    command
        .args(["--quiet", "run", "pipelines/features.yaml", "pipelines/demand_forecast.yaml"])
        .env("FEATURES_DAILY", facts)
        .env("FEATURES_PARQUET", "false")
        .env("SHELFFLOW_DATA", dir.join("data"))
        .env("SHELFFLOW_OUT", out)
        .env("MODEL_DIR", models.join("demand"))
        .env("FORECAST_OUT", out);
    command
}

fn forecast(
    dir: &Path,
    facts: &Path,
    models: &Path,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    forecasting(dir, facts, models, out).args(extra).output().unwrap()
}

#[test]
fn features_match_a_recomputation_from_the_daily_facts() {
    let dir = scratch("forecast", "features");
    let facts = store(&dir);
    let csv = std::fs::read_to_string(features(&dir, &facts, "csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col =
        |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{name}"));
    let rows: HashMap<(String, String), Vec<String>> = lines
        .map(|l| {
            let cells: Vec<String> = l.split(',').map(str::to_owned).collect();
            ((cells[col("shelf_id")].clone(), cells[col("feature_date")].clone()), cells)
        })
        .collect();
    assert_eq!(rows.len(), SHELVES.len() * DAYS as usize, "one row per shelf and day");
    let sum = |s: usize, from: i64, to: i64| (from..to).map(|d| units(s, d)).sum::<i64>();
    for (s, shelf) in SHELVES.iter().enumerate() {
        for d in [0, 3, 6, 7, 13, 14, 27, 28, 100, DAYS - 1] {
            let row = &rows[&(shelf.to_string(), date(d))];
            let cell = |name: &str| row[col(name)].as_str();
            let full = |n: i64, v: String| if d >= n { v } else { String::new() };
            assert_eq!(cell("sales_qty"), units(s, d).to_string());
            assert_eq!(
                cell("sales_last_7d"),
                full(7, sum(s, d - 7, d).to_string()),
                "{shelf} day {d}"
            );
            assert_eq!(
                cell("sales_last_28d"),
                full(28, sum(s, d - 28, d).to_string()),
                "{shelf} day {d}"
            );
            assert_eq!(cell("sales_qty_lag_3d"), full(3, units(s, (d - 3).max(0)).to_string()));
            let mean28 = sum(s, d - 27, d + 1) as f64 / 28.0;
            let got: Option<f64> = cell("sales_qty_mean_28d").parse().ok();
            assert_eq!(got.is_some(), d >= 27, "{shelf} day {d}: mean over 28 days through today");
            if let Some(got) = got {
                assert!((got - mean28).abs() < 1e-9, "{shelf} day {d}: {got} vs {mean28}");
            }
            assert_eq!(cell("day_of_week"), ((d + 2) % 7).to_string());
        }
    }
}

#[test]
fn training_is_validated_by_time_gated_and_deterministic_and_forecasts_serve_it() {
    let dir = scratch("forecast", "train");
    let facts = store(&dir);
    let table = features(&dir, &facts, "parquet");
    let report = train(&table, &dir.join("models"));
    let folds = report["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 4);
    for pair in folds.windows(2) {
        assert!(pair[0]["last_origin"].as_str() < pair[1]["first_origin"].as_str(), "{pair:?}");
    }
    // The gate: the model forecasts only if it beats every baseline's WAPE overall.
    let overall = &report["overall"];
    let model_wape = overall["model"]["wape"].as_f64().unwrap();
    let best =
        overall["baselines"].as_object().unwrap().values().map(|m| m["wape"].as_f64().unwrap());
    let best = best.fold(f64::INFINITY, f64::min);
    assert_eq!(report["forecaster"] == "model", model_wape < best, "{report}");
    assert!(report["per_group"].as_object().unwrap().len() >= 2, "metrics per category");

    // The same data and seed give the same model, byte for byte.
    let again = train(&table, &dir.join("models-again"));
    let model = |root: &str| std::fs::read(dir.join(root).join("demand/v1/model.json")).unwrap();
    assert_eq!(model("models"), model("models-again"));
    assert_eq!(report["overall"], again["overall"]);
    assert_eq!(train(&table, &dir.join("models"))["version"], "v2", "versions accumulate");

    // Served: the forecasts of the last 28 days, the same for 1 and 2 workers.
    let mut outputs = Vec::new();
    for workers in ["1", "2"] {
        let out = dir.join(format!("forecast-{workers}"));
        let done = forecast(&dir, &facts, &dir.join("models"), &out, &["--workers", workers]);
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
        outputs.push(std::fs::read_to_string(out.join("demand_forecast_csv.csv")).unwrap());
    }
    assert_eq!(outputs[0], outputs[1], "forecasts differ between 1 and 2 workers");
    let header: Vec<&str> = outputs[0].lines().next().unwrap().split(',').collect();
    let units = header.iter().position(|c| *c == "forecast_units").expect("forecast_units");
    let rows: Vec<&str> = outputs[0].lines().skip(1).collect();
    assert_eq!(rows.len(), SHELVES.len() * 28 * 7);
    assert!(rows.iter().all(|r| r.ends_with(",v2")), "the active version forecasts");
    assert!(rows.iter().all(|r| r.split(',').nth(units).unwrap().parse::<f64>().unwrap() >= 0.0));
}

#[test]
fn a_model_that_does_not_fit_the_input_is_a_located_error() {
    let dir = scratch("forecast", "mismatch");
    let facts = store(&dir);
    let table = features(&dir, &facts, "parquet");
    train(&table, &dir.join("models"));
    let out = dir.join("out");
    let mistyped = forecast(
        &dir,
        &facts,
        &dir.join("models"),
        &out,
        &["--set", "sources.features.schema.people_count=float"],
    );
    assert_eq!(mistyped.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&mistyped.stderr);
    assert!(stderr.contains("pipelines/demand_forecast.yaml:"), "{stderr}");
    assert!(stderr.contains("`people_count` as int, the input has float"), "{stderr}");
    assert!(stderr.contains("retrain"), "{stderr}");

    let missing = forecast(&dir, &facts, &dir.join("no-models"), &out, &[]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("`shelfflow model train --out "), "{stderr}");
    assert!(stderr.contains("no-models --name demand`"), "{stderr}");
}

#[test]
fn features_models_and_forecasts_reach_postgresql_and_its_bi_views() {
    let Some(server) = pg::shared() else { return };
    let url = server.database("forecast");
    let dir = scratch("forecast", "postgres");
    let facts = store(&dir);
    let out = dir.join("features");
    let run = shelfflow()
        .args(["--quiet", "run", "pipelines/features.yaml"])
        .env("FEATURES_DAILY", &facts)
        .env("FEATURES_OUT", &out)
        .env("SHELFFLOW_DATA", dir.join("data"))
        .env("SHELFFLOW_POSTGRES", "true")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let count = |sql: &str| psql(&url, sql).trim().to_owned();
    let expected = (SHELVES.len() * DAYS as usize).to_string();
    assert_eq!(count("SELECT count(*) FROM analytics.shelf_daily_features"), expected);

    let table = out.join("shelf_daily_features.parquet");
    let models = dir.join("models");
    train_into(&table, &models, Some(&url));
    train_into(&table, &models, Some(&url));
    assert_eq!(
        count("SELECT string_agg(version || ':' || active, ',' ORDER BY version) FROM analytics.ml_models"),
        "v1:false,v2:true",
        "every version is kept, the newest is active"
    );
    assert_eq!(
        count("SELECT count(*) FROM analytics.ml_models WHERE metrics ? 'folds' AND wape > 0"),
        "2"
    );

    let served = forecasting(&dir, &facts, &models, &dir.join("forecast"))
        .env("SHELFFLOW_POSTGRES", "true")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(served.status.success(), "{}", String::from_utf8_lossy(&served.stderr));
    let views = std::fs::read_to_string("deploy/postgres/forecast_views.sql").unwrap();
    psql(&url, &views);
    assert_eq!(
        count("SELECT count(*) FROM analytics.v_demand_forecast_next7d"),
        (SHELVES.len() * 7).to_string()
    );
    // Forecasts made on the last 28 days whose forecast day has passed: days 173..199 of 200.
    let accuracy = count(
        "SELECT count(DISTINCT day) || ' ' || bool_and(wape >= 0 AND mae >= 0) FROM analytics.v_forecast_accuracy",
    );
    assert_eq!(accuracy, "27 true", "days with actuals, each with its error");
}
