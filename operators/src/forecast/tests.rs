use std::collections::HashMap;
use std::path::PathBuf;

use xgboost_rs::Booster;

use crate::testing::{run_planned, s, schema, state_at, yaml};
use crate::value::{Type, Value};

use super::booster::matrix;
use super::card::{Feature, FeatureKind, Forecaster, ModelCard, CARD_FILE, MODEL_FILE};
use super::KIND;

/// A version directory with a model that learned `units ≈ 2 × x` (x in 0..=9).
fn trained(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("shelfflow-forecast-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xs: Vec<f32> = (0..200).map(|i| (i % 10) as f32).collect();
    let mut dtrain = matrix(&xs, 1).unwrap();
    dtrain.set_labels(&xs.iter().map(|x| 2.0 * x).collect::<Vec<_>>()).unwrap();
    let config: HashMap<String, String> =
        [("max_depth", "3"), ("eta", "0.5"), ("nthread", "1"), ("seed", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    let mut booster = Booster::new_with_json_config(&[&dtrain], config).unwrap();
    for round in 0..20 {
        booster.update(&dtrain, round).unwrap();
    }
    booster.save(dir.join(MODEL_FILE)).unwrap();
    let card = ModelCard {
        name: "demand".into(),
        version: "v7".into(),
        key: vec!["shelf".into()],
        date: "day".into(),
        target: "units".into(),
        horizon: 2,
        features: vec![Feature { name: "x".into(), kind: FeatureKind::Int }],
        forecaster: Forecaster::Model,
        validation_wape: 0.25,
    };
    std::fs::write(dir.join(CARD_FILE), serde_json::to_string(&card).unwrap()).unwrap();
    dir
}

fn input() -> crate::Schema {
    schema(&[("shelf", Type::String), ("day", Type::Date), ("x", Type::Int)])
}

#[test]
fn a_changed_row_retracts_its_forecasts_and_adds_new_ones() {
    let dir = trained("retract");
    let config = format!("input: f\nmodel: {}\n", dir.display());
    let planned = (KIND.parse)(yaml(&config)).unwrap().plan("demand", &[input()]).unwrap();
    let names: Vec<String> = planned.outputs()[0].schema.names().map(str::to_owned).collect();
    assert_eq!(
        names,
        [
            "shelf",
            "day",
            "horizon_day",
            "target_date",
            "forecast_units",
            "error_units",
            "model_version"
        ]
    );
    let before = vec![s("S1"), Value::Date(100), Value::Int(1)];
    let after = vec![s("S1"), Value::Date(100), Value::Int(8)];
    let updates = vec![(before.clone(), 1, 1), (before, 2, -1), (after, 2, 1)];
    let mut outputs = run_planned(planned, vec![updates]);
    assert!(outputs[1].is_empty(), "no dead letters: {:?}", outputs[1]);
    let forecasts = outputs.remove(0);
    let units = |t| -> Vec<(i64, f64)> {
        state_at(&forecasts, t)
            .into_iter()
            .map(|r| match (&r[2], &r[4]) {
                (Value::Int(h), Value::Float(f)) => (*h, *f),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let (first, second) = (units(1), units(2));
    assert_eq!(first.len(), 2, "one row per horizon day");
    assert_eq!(second.len(), 2, "the old forecasts are gone");
    assert!((first[0].1 - 2.0).abs() < 0.5, "{first:?}");
    assert!((second[0].1 - 16.0).abs() < 1.0, "{second:?}");
    let rows = state_at(&forecasts, 2);
    assert_eq!(rows[1][3], Value::Date(102), "target_date = day + horizon_day");
    match (&rows[0][4], &rows[0][5]) {
        (Value::Float(units), Value::Float(error)) => {
            assert!((error - 0.25 * units).abs() < 1e-9, "error_units = WAPE × forecast")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rows[0][6], s("v7"));
    let _ = std::fs::remove_dir_all(dir);
}
