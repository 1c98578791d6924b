//! Where supplier orders take their demand from in `demo`: the rules (history) or the demand
//! forecast, and the side-by-side comparison of both on the same seed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::spec::Override;

/// The ordering policy a demo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// Demand per day from the recent history (`warehouse.demand: history`).
    Rules,
    /// Demand from the forecast model, with a safety stock (`warehouse.demand: forecast`).
    Forecast,
}

impl Policy {
    /// The policy config/policies.yaml selects for the pipelines in `dir`.
    pub fn configured(dir: &Path) -> Policy {
        match crate::spec::policy(dir, "warehouse.demand").as_deref() {
            Some("forecast") => Policy::Forecast,
            _ => Policy::Rules,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Policy::Rules => "rules",
            Policy::Forecast => "forecast",
        }
    }

    /// The pipelines a demo of this policy runs besides the store's: the daily facts (also for
    /// the rules when `facts`, for their lost-sales estimate), the features and the forecast the
    /// supplier orders read.
    pub fn extra_pipelines(self, facts: bool) -> &'static [&'static str] {
        match (self, facts) {
            (Policy::Rules, false) => &[],
            (Policy::Rules, true) => &["daily_facts.yaml"],
            (Policy::Forecast, _) => &["daily_facts.yaml", "features.yaml", "demand_forecast.yaml"],
        }
    }

    /// The override that makes warehouse.yaml's supplier orders follow this policy.
    pub fn demand_override(self) -> Override {
        let value = match self {
            Policy::Rules => "history",
            Policy::Forecast => "forecast",
        };
        Override {
            path: "operators.supplier_orders.demand_from".to_owned(),
            value: value.to_owned(),
            optional: true,
        }
    }
}

/// The models directory a forecast demo uses: `$MODEL_DIR`, else `models/demand`.
pub fn model_dir() -> PathBuf {
    std::env::var_os("MODEL_DIR").map_or_else(|| PathBuf::from("models/demand"), PathBuf::from)
}

/// Whether `dir` holds a trained version (or is one).
fn has_model(dir: &Path) -> bool {
    dir.join(shelfflow_operators::forecast::ACTIVE_FILE).is_file()
        || dir.join(shelfflow_operators::forecast::CARD_FILE).is_file()
}

/// Trains the demand model when `dir` holds none: the features pipeline over the history in
/// `data`, then `model train` with its defaults.
pub fn ensure_model(dir: &Path, data: &Path, pipelines: &Path, quiet: bool) -> anyhow::Result<()> {
    if has_model(dir) {
        return Ok(());
    }
    let (Some(name), Some(models)) = (dir.file_name(), dir.parent()) else {
        anyhow::bail!("{}: not a models directory such as models/demand", dir.display());
    };
    if !quiet {
        eprintln!("no demand model in {}: computing features and training one", dir.display());
    }
    let features = std::env::temp_dir().join(format!("shelfflow-features-{}", std::process::id()));
    std::env::set_var("FEATURES_OUT", &features);
    std::env::set_var("SHELFFLOW_DATA", data);
    std::env::set_var("FEATURES_DAILY", data.join("history.parquet"));
    std::env::set_var("FEATURES_PARQUET", "true");
    let plan = crate::load_plans(&[pipelines.join("features.yaml")], &[])
        .map_err(|message| anyhow::anyhow!("{message}"))?;
    let options = crate::runtime::RunOptions {
        workers: 1,
        quiet: true,
        tap: None,
        store: None,
        observe: None,
        cluster: None,
    };
    crate::run_plan(std::sync::Arc::new(plan), options)?;
    let data = features.display().to_string();
    let models = if models.as_os_str().is_empty() { Path::new(".") } else { models };
    let args = [
        "--data",
        data.as_str(),
        "--out",
        models.to_str().context("the models directory is not UTF-8")?,
        "--name",
        name.to_str().context("the model name is not UTF-8")?,
    ];
    let report = crate::model::train(&crate::train_options(&args, quiet)?)?;
    if !quiet {
        eprintln!("{}", report.gate);
    }
    let _ = std::fs::remove_dir_all(&features);
    Ok(())
}

/// One row of the comparison: a label and how to read it from a run's KPIs.
struct Line {
    label: &'static str,
    value: fn(&BTreeMap<String, f64>) -> Option<f64>,
    /// Digits after the point.
    digits: usize,
}

fn kpi(kpis: &BTreeMap<String, f64>, name: &str) -> f64 {
    kpis.get(name).copied().unwrap_or(0.0)
}

const LINES: [Line; 9] = [
    Line { label: "customers", value: |k| Some(kpi(k, "customers")), digits: 0 },
    Line { label: "stock-out minutes", value: |k| Some(kpi(k, "stockout.minutes")), digits: 0 },
    Line {
        label: "lost sales (est. units)",
        value: |k| k.get("lost_sales.estimated_units").copied(),
        digits: 0,
    },
    Line { label: "units sold", value: |k| Some(kpi(k, "units.sold")), digits: 0 },
    Line {
        label: "units expired",
        value: |k| Some(kpi(k, "units.expired.store") + kpi(k, "units.expired.warehouse")),
        digits: 0,
    },
    Line {
        label: "units ordered",
        value: |k| {
            Some(kpi(k, "supplier_orders.issued.units") + kpi(k, "supplier_orders.delivered.units"))
        },
        digits: 0,
    },
    Line {
        label: "supplier orders",
        value: |k| Some(kpi(k, "supplier_orders.issued") + kpi(k, "supplier_orders.delivered")),
        digits: 0,
    },
    Line { label: "deliveries", value: |k| Some(kpi(k, "deliveries")), digits: 0 },
    Line { label: "forecast WAPE", value: |k| k.get("forecast.wape").copied(), digits: 3 },
];

/// The comparison table of two runs' KPIs, rules first.
pub fn render_comparison(days: u32, seed: u64, runs: &[(Policy, BTreeMap<String, f64>)]) -> String {
    use std::fmt::Write as _;
    let mut out =
        format!("shelfflow demo --compare-policies: {days} simulated days, seed {seed}\n");
    let _ = write!(out, "  {:<26}", "");
    for (policy, _) in runs {
        let _ = write!(out, "{:>12}", policy.name());
    }
    out.push('\n');
    for line in &LINES {
        let _ = write!(out, "  {:<26}", line.label);
        for (_, kpis) in runs {
            match (line.value)(kpis) {
                Some(v) => {
                    let _ = write!(out, "{v:>12.*}", line.digits);
                }
                None => {
                    let _ = write!(out, "{:>12}", "-");
                }
            }
        }
        out.push('\n');
    }
    out
}
