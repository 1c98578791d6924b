//! Model versions on disk (`<models>/<name>/v<N>/`, `ACTIVE`, `registry.jsonl`) and in
//! PostgreSQL (`analytics.ml_models`, one row per version).

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, Context};
use shelfflow_operators::forecast::card::{ACTIVE_FILE, CARD_FILE, MODEL_FILE};
use shelfflow_operators::forecast::ModelCard;
use xgboost_rs::Booster;

use super::Report;

/// The first free `v<N>` under a model's directory.
pub fn next_version(dir: &Path) -> anyhow::Result<String> {
    let mut highest = 0u32;
    if dir.is_dir() {
        for entry in
            std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let name = entry?.file_name();
            if let Some(n) =
                name.to_str().and_then(|n| n.strip_prefix('v')).and_then(|n| n.parse().ok())
            {
                highest = highest.max(n);
            }
        }
    }
    Ok(format!("v{}", highest + 1))
}

/// Writes the version's card, model, metrics; makes it the active version and appends it to
/// the model's registry file.
pub fn write_version(report: &Report, card: &ModelCard, booster: &Booster) -> anyhow::Result<()> {
    let dir = &report.directory;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    booster.save(dir.join(MODEL_FILE)).map_err(|e| anyhow!("cannot save the model: {e}"))?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    };
    write(CARD_FILE, serde_json::to_string_pretty(card)?)?;
    write("report.json", serde_json::to_string_pretty(report)?)?;
    let root = dir.parent().expect("a version directory has a parent");
    let active = root.join(format!(".{ACTIVE_FILE}.tmp"));
    std::fs::write(&active, format!("{}\n", report.version))?;
    std::fs::rename(&active, root.join(ACTIVE_FILE))?;
    let line = serde_json::json!({
        "version": report.version,
        "trained_at": chrono::Utc::now().to_rfc3339(),
        "forecaster": report.forecaster,
        "wape": report.overall.model.wape,
        "best_baseline": report.best_baseline,
        "best_baseline_wape": report.overall.baselines[report.best_baseline].wape,
        "data_from": report.data_from,
        "data_to": report.data_to,
        "seed": report.seed,
    });
    let mut file =
        std::fs::OpenOptions::new().create(true).append(true).open(root.join("registry.jsonl"))?;
    writeln!(file, "{line}")?;
    Ok(())
}

const SCHEMA_SQL: &str = "CREATE SCHEMA IF NOT EXISTS analytics;
CREATE TABLE IF NOT EXISTS analytics.ml_models (
    model_name text NOT NULL,
    version text NOT NULL,
    trained_at timestamptz NOT NULL DEFAULT now(),
    forecaster text NOT NULL,
    active boolean NOT NULL,
    wape double precision,
    mae double precision,
    best_baseline text NOT NULL,
    best_baseline_wape double precision,
    data_from date NOT NULL,
    data_to date NOT NULL,
    seed bigint NOT NULL,
    artifact_path text NOT NULL,
    metrics jsonb NOT NULL,
    PRIMARY KEY (model_name, version)
);
COMMENT ON TABLE analytics.ml_models IS 'Every trained version of every forecast model; active marks the one in use, forecaster says whether the model or a baseline forecasts';";

/// Adds the version to `analytics.ml_models` and makes it the only active one of its name, in
/// one transaction.
pub fn register(url: &str, report: &Report) -> anyhow::Result<()> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    let mut tx = client.transaction()?;
    tx.batch_execute(SCHEMA_SQL)?;
    tx.execute(
        "UPDATE analytics.ml_models SET active = false WHERE model_name = $1",
        &[&report.name],
    )?;
    let metrics = serde_json::to_string(report)?;
    tx.execute(
        "INSERT INTO analytics.ml_models (model_name, version, forecaster, active, wape, mae, best_baseline,
             best_baseline_wape, data_from, data_to, seed, artifact_path, metrics)
         VALUES ($1, $2, $3, true, $4, $5, $6, $7, $8::text::date, $9::text::date, $10, $11, $12::text::jsonb)",
        &[
            &report.name,
            &report.version,
            &report.forecaster,
            &report.overall.model.wape,
            &report.overall.model.mae,
            &report.best_baseline,
            &report.overall.baselines[report.best_baseline].wape,
            &report.data_from,
            &report.data_to,
            &(report.seed as i64),
            &report.directory.display().to_string(),
            &metrics,
        ],
    )?;
    tx.commit()?;
    Ok(())
}
