//! XGBoost at the edges: feature rows to a matrix (NaN = missing, zeros kept as values), and a
//! loaded model that predicts.

use std::path::Path;
use std::sync::Mutex;

use xgboost_rs::{Booster, DMatrix, XGBError};

/// A matrix of `values.len() / width` rows; NaN entries are missing (sparse), every other value,
/// zero included, is present.
pub fn matrix(values: &[f32], width: usize) -> Result<DMatrix, XGBError> {
    let mut indptr = Vec::with_capacity(values.len() / width.max(1) + 1);
    let mut indices = Vec::with_capacity(values.len());
    let mut data = Vec::with_capacity(values.len());
    indptr.push(0);
    for row in values.chunks(width.max(1)) {
        for (column, value) in row.iter().enumerate().filter(|(_, v)| !v.is_nan()) {
            indices.push(column);
            data.push(*value);
        }
        indptr.push(data.len());
    }
    DMatrix::from_csr(&indptr, &indices, &data, Some(width))
}

/// A trained model, shared by the workers that predict with it.
pub struct Predictor {
    booster: Mutex<Booster>,
    width: usize,
}

impl std::fmt::Debug for Predictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predictor").field("width", &self.width).finish()
    }
}

impl Predictor {
    /// Loads an XGBoost model file that reads `width` features.
    pub fn load(path: &Path, width: usize) -> Result<Predictor, String> {
        let booster = Booster::load(path)
            .map_err(|e| format!("cannot load the model {}: {e}", path.display()))?;
        Ok(Predictor { booster: Mutex::new(booster), width })
    }

    /// Predictions for rows of `width` features each.
    pub fn predict(&self, values: &[f32]) -> Result<Vec<f32>, String> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let dmat = matrix(values, self.width).map_err(|e| e.to_string())?;
        let booster = self.booster.lock().unwrap_or_else(|p| p.into_inner());
        booster.predict(&dmat).map_err(|e| e.to_string())
    }
}
