//! Gradient-boosted trees with XGBoost: one round at a time, early stopping on a validation
//! matrix, and the model kept at its best round.

use std::collections::HashMap;

use anyhow::{anyhow, Context};
use serde::Serialize;
use shelfflow_operators::forecast::booster::matrix;
use xgboost_rs::{Booster, DMatrix};

/// Training settings (fixed, written to the manifest).
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub max_depth: u32,
    pub eta: f64,
    pub subsample: f64,
    pub colsample_bytree: f64,
    pub min_child_weight: f64,
    pub max_rounds: u32,
    pub early_stopping_rounds: u32,
    pub threads: u32,
    pub seed: u64,
}

impl Params {
    /// XGBoost's parameters.
    fn config(&self) -> HashMap<String, String> {
        [
            ("objective", "count:poisson".to_owned()),
            ("eval_metric", "mae".to_owned()),
            ("tree_method", "hist".to_owned()),
            ("max_depth", self.max_depth.to_string()),
            ("eta", self.eta.to_string()),
            ("subsample", self.subsample.to_string()),
            ("colsample_bytree", self.colsample_bytree.to_string()),
            ("min_child_weight", self.min_child_weight.to_string()),
            ("nthread", self.threads.to_string()),
            ("seed", self.seed.to_string()),
            ("verbosity", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// Feature rows (`width` values each, NaN = missing) with their labels.
#[derive(Default)]
pub struct Data {
    pub values: Vec<f32>,
    pub labels: Vec<f32>,
}

impl Data {
    fn dmatrix(&self, width: usize) -> anyhow::Result<DMatrix> {
        let mut dmat = matrix(&self.values, width).map_err(|e| anyhow!("{e}"))?;
        dmat.set_labels(&self.labels).map_err(|e| anyhow!("{e}"))?;
        Ok(dmat)
    }
}

/// A fitted model and the rounds it kept.
pub struct Fitted {
    pub booster: Booster,
    pub rounds: u32,
}

/// Trains on `train`; with `valid`, stops once its MAE has not improved for
/// `early_stopping_rounds` and returns the model of the best round, else trains `rounds`.
/// `tick` is called after every round.
pub fn fit(
    params: &Params,
    width: usize,
    train: &Data,
    valid: Option<&Data>,
    rounds: u32,
    tick: &dyn Fn(),
) -> anyhow::Result<Fitted> {
    let dtrain = train.dmatrix(width)?;
    let dvalid = valid.map(|v| v.dmatrix(width)).transpose()?;
    let cached: Vec<&DMatrix> = [Some(&dtrain), dvalid.as_ref()].into_iter().flatten().collect();
    let mut booster = Booster::new_with_json_config(&cached, params.config())
        .map_err(|e| anyhow!("XGBoost: {e}"))?;
    let mut best: Option<(f32, u32, String)> = None;
    for round in 0..rounds {
        booster.update(&dtrain, round as i32).map_err(|e| anyhow!("XGBoost round {round}: {e}"))?;
        tick();
        let Some(dvalid) = &dvalid else { continue };
        let scores = booster.evaluate(dvalid, "valid").map_err(|e| anyhow!("XGBoost: {e}"))?;
        let mae = *scores.get("mae").context("XGBoost reported no MAE")?;
        if best.as_ref().is_none_or(|(b, _, _)| mae < *b) {
            let snapshot = booster.save_to_buffer("json".into()).map_err(|e| anyhow!("{e}"))?;
            best = Some((mae, round + 1, snapshot));
        } else if best
            .as_ref()
            .is_some_and(|(_, r, _)| round + 1 - r >= params.early_stopping_rounds)
        {
            break;
        }
    }
    match best {
        None => Ok(Fitted { booster, rounds }),
        Some((_, rounds, snapshot)) => {
            let booster = Booster::load_buffer(snapshot.as_bytes()).map_err(|e| anyhow!("{e}"))?;
            Ok(Fitted { booster, rounds })
        }
    }
}

/// Predictions of `booster` for rows of `width` features.
pub fn predict(booster: &Booster, width: usize, values: &[f32]) -> anyhow::Result<Vec<f32>> {
    let dmat = matrix(values, width).map_err(|e| anyhow!("{e}"))?;
    booster.predict(&dmat).map_err(|e| anyhow!("XGBoost: {e}"))
}
