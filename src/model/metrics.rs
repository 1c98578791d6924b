//! Forecast accuracy: MAE, RMSE, WAPE and R² over (actual, forecast) pairs.

use serde::Serialize;

/// Accuracy of forecasts against actuals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    /// Forecasts scored.
    pub n: usize,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Weighted absolute percentage error: Σ|error| / Σ|actual| (NaN when every actual is 0).
    pub wape: f64,
    /// Coefficient of determination: 1 − SSE / SST (NaN when the actuals are constant).
    pub r2: f64,
}

impl Metrics {
    /// The metrics of `pairs` of (actual, forecast).
    pub fn of(pairs: impl IntoIterator<Item = (f64, f64)>) -> Metrics {
        let pairs: Vec<(f64, f64)> = pairs.into_iter().collect();
        let n = pairs.len();
        if n == 0 {
            return Metrics { n, mae: f64::NAN, rmse: f64::NAN, wape: f64::NAN, r2: f64::NAN };
        }
        let abs: f64 = pairs.iter().map(|(a, f)| (a - f).abs()).sum();
        let sse: f64 = pairs.iter().map(|(a, f)| (a - f).powi(2)).sum();
        let volume: f64 = pairs.iter().map(|(a, _)| a.abs()).sum();
        let mean = pairs.iter().map(|(a, _)| a).sum::<f64>() / n as f64;
        let sst: f64 = pairs.iter().map(|(a, _)| (a - mean).powi(2)).sum();
        Metrics {
            n,
            mae: abs / n as f64,
            rmse: (sse / n as f64).sqrt(),
            wape: if volume > 0.0 { abs / volume } else { f64::NAN },
            r2: if sst > 0.0 { 1.0 - sse / sst } else { f64::NAN },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_a_hand_computation() {
        // Actuals 2, 4, 6; forecasts 3, 4, 3: errors −1, 0, 3.
        let m = Metrics::of([(2.0, 3.0), (4.0, 4.0), (6.0, 3.0)]);
        assert_eq!(m.n, 3);
        assert!((m.mae - 4.0 / 3.0).abs() < 1e-12);
        assert!((m.rmse - (10.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.wape - 4.0 / 12.0).abs() < 1e-12);
        // Mean 4, SST 8, SSE 10: R² = 1 − 10/8.
        assert!((m.r2 - (1.0 - 10.0 / 8.0)).abs() < 1e-12);
    }

    #[test]
    fn degenerate_cases_are_nan_not_infinite() {
        let m = Metrics::of([(0.0, 1.0), (0.0, 0.0)]);
        assert!(m.wape.is_nan() && m.r2.is_nan());
        assert!(Metrics::of([]).mae.is_nan());
    }
}
