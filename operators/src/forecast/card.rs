//! The model card: what a trained forecaster reads and how a row becomes its feature vector.
//! Training (`shelfflow model train`) and serving (`op: forecast`) both go through
//! [`Encoder::encode`], so the two cannot disagree on a feature.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::value::{Days, Schema, Type, Value};

/// The card's file name inside a model version directory.
pub const CARD_FILE: &str = "card.json";
/// The XGBoost model's file name inside a model version directory.
pub const MODEL_FILE: &str = "model.json";
/// The file in a models directory that names the active version.
pub const ACTIVE_FILE: &str = "ACTIVE";

/// A trained forecaster's description (`card.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Model name (`demand`).
    pub name: String,
    /// Version directory name (`v3`).
    pub version: String,
    /// Columns identifying a series (e.g. `[shelf_id]`).
    pub key: Vec<String>,
    /// The `date` column of a row (the forecast's origin day).
    pub date: String,
    /// The column forecast (units sold per day).
    pub target: String,
    /// Days forecast after the origin (1 ..= horizon).
    pub horizon: u32,
    /// The model's inputs, in XGBoost column order.
    pub features: Vec<Feature>,
    /// Who forecasts: the model, or the baseline that beat it.
    pub forecaster: Forecaster,
    /// The forecaster's overall WAPE on the validation folds: its expected absolute error per
    /// unit forecast (0 when unknown, for cards written before it was recorded).
    #[serde(default)]
    pub validation_wape: f64,
}

/// One input of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    /// Column name (or the derived feature's name).
    pub name: String,
    /// How it is read.
    pub kind: FeatureKind,
}

/// How a feature is read; NULL is XGBoost's missing value for every kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// An `int` column.
    Int,
    /// A `float` column.
    Float,
    /// A `bool` column, as 0 or 1.
    Bool,
    /// A `string` column, as the index of its value in `levels` (an unseen value is missing).
    Category {
        /// Values seen in training, sorted.
        levels: Vec<String>,
    },
    /// Days from the origin to the forecast day (1 ..= horizon); not a column.
    HorizonDay,
    /// Weekday of the forecast day, 0 = Monday; not a column.
    TargetDayOfWeek,
}

impl FeatureKind {
    /// The column type this feature reads, `None` for derived features.
    pub fn column_type(&self) -> Option<Type> {
        match self {
            FeatureKind::Int => Some(Type::Int),
            FeatureKind::Float => Some(Type::Float),
            FeatureKind::Bool => Some(Type::Bool),
            FeatureKind::Category { .. } => Some(Type::String),
            FeatureKind::HorizonDay | FeatureKind::TargetDayOfWeek => None,
        }
    }
}

/// The active forecaster of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forecaster {
    /// The XGBoost model in [`MODEL_FILE`].
    Model,
    /// A baseline, because the model did not beat it.
    Baseline(Baseline),
}

/// The baselines every model is scored against, read from columns named after the target
/// (`<target>`, `<target>_lag_<k>d`, `<target>_mean_7d`, `<target>_mean_28d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The same weekday last week: the target on day `origin + h − 7`.
    SeasonalNaive,
    /// Mean of the 7 days through the origin.
    Mean7,
    /// Mean of the 28 days through the origin.
    Mean28,
}

impl Baseline {
    /// Every baseline, in report order.
    pub const ALL: [Baseline; 3] = [Baseline::SeasonalNaive, Baseline::Mean7, Baseline::Mean28];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::SeasonalNaive => "seasonal_naive",
            Baseline::Mean7 => "moving_avg_7d",
            Baseline::Mean28 => "moving_avg_28d",
        }
    }

    /// The column this baseline reads for horizon day `h` (1 ..= 7 for the seasonal naive).
    pub fn column(self, target: &str, h: u32) -> String {
        match self {
            Baseline::SeasonalNaive if h >= 7 => target.to_owned(),
            Baseline::SeasonalNaive => format!("{target}_lag_{}d", 7 - h),
            Baseline::Mean7 => format!("{target}_mean_7d"),
            Baseline::Mean28 => format!("{target}_mean_28d"),
        }
    }

    /// Every column it reads for horizons 1 ..= `horizon`.
    pub fn columns(self, target: &str, horizon: u32) -> Vec<String> {
        let mut columns: Vec<String> = (1..=horizon).map(|h| self.column(target, h)).collect();
        columns.dedup();
        columns
    }
}

/// A card's feature columns resolved against an input schema.
#[derive(Debug, Clone)]
pub struct Encoder {
    /// Per feature: the input column it reads (`None` for derived ones).
    columns: Vec<Option<usize>>,
    kinds: Vec<FeatureKind>,
    date: usize,
}

/// Why a card does not fit an input schema (each is reported on its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The model reads a column the input lacks.
    Missing { column: String, ty: Type },
    /// The input column has another type.
    Mistyped { column: String, expected: Type, found: Type },
    /// The input has a column the model does not read.
    Extra { column: String },
}

impl ModelCard {
    /// Reads `card.json` of a version directory.
    pub fn read(dir: &Path) -> Result<ModelCard, String> {
        let path = dir.join(CARD_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a model card: {e}", path.display()))
    }

    /// The version directory a models directory's [`ACTIVE_FILE`] names, or `dir` itself when
    /// it holds a card.
    pub fn resolve(dir: &Path) -> Result<PathBuf, String> {
        if dir.join(CARD_FILE).is_file() {
            return Ok(dir.to_path_buf());
        }
        let active = dir.join(ACTIVE_FILE);
        let version = std::fs::read_to_string(&active).map_err(|_| {
            format!("no trained model in {} (no {ACTIVE_FILE} or {CARD_FILE})", dir.display())
        })?;
        Ok(dir.join(version.trim()))
    }

    /// Resolves the features against `schema`, listing every mismatch. Columns that are the key,
    /// the date, or read by the card's baseline are not extra.
    pub fn encoder(&self, schema: &Schema) -> Result<Encoder, Vec<Mismatch>> {
        let mut mismatches = Vec::new();
        let mut columns = Vec::new();
        for feature in &self.features {
            let Some(ty) = feature.kind.column_type() else {
                columns.push(None);
                continue;
            };
            match schema.index_of(&feature.name) {
                None => mismatches.push(Mismatch::Missing { column: feature.name.clone(), ty }),
                Some(at) if schema.field(at).ty != ty => mismatches.push(Mismatch::Mistyped {
                    column: feature.name.clone(),
                    expected: ty,
                    found: schema.field(at).ty,
                }),
                Some(at) => columns.push(Some(at)),
            }
        }
        let mut used: Vec<String> = self.key.iter().chain([&self.date]).cloned().collect();
        used.extend(self.features.iter().map(|f| f.name.clone()));
        if let Forecaster::Baseline(b) = self.forecaster {
            used.extend(b.columns(&self.target, self.horizon));
        }
        for name in schema.names() {
            if !used.iter().any(|u| u == name) {
                mismatches.push(Mismatch::Extra { column: name.to_owned() });
            }
        }
        let date = match schema.index_of(&self.date) {
            Some(at) if schema.field(at).ty == Type::Date => Some(at),
            Some(at) => {
                let found = schema.field(at).ty;
                let column = self.date.clone();
                mismatches.push(Mismatch::Mistyped { column, expected: Type::Date, found });
                None
            }
            None => {
                mismatches.push(Mismatch::Missing { column: self.date.clone(), ty: Type::Date });
                None
            }
        };
        match date {
            Some(date) if mismatches.is_empty() => {
                let kinds = self.features.iter().map(|f| f.kind.clone()).collect();
                Ok(Encoder { columns, kinds, date })
            }
            _ => Err(mismatches),
        }
    }
}

impl Encoder {
    /// The feature vector of `row` for horizon day `h`, appended to `out` (NaN = missing).
    pub fn encode(&self, row: &[Value], h: u32, out: &mut Vec<f32>) {
        let origin = self.origin(row);
        for (kind, column) in self.kinds.iter().zip(&self.columns) {
            let value = column.map(|c| &row[c]);
            out.push(encode_value(kind, value, origin, h));
        }
    }

    /// The origin day of `row`.
    pub fn origin(&self, row: &[Value]) -> Option<Days> {
        match row[self.date] {
            Value::Date(d) => Some(d),
            _ => None,
        }
    }
}

fn encode_value(kind: &FeatureKind, value: Option<&Value>, origin: Option<Days>, h: u32) -> f32 {
    match (kind, value) {
        (FeatureKind::HorizonDay, _) => h as f32,
        (FeatureKind::TargetDayOfWeek, _) => {
            origin.map_or(f32::NAN, |d| weekday(d + h as Days) as f32)
        }
        (_, Some(Value::Int(v))) => *v as f32,
        (_, Some(Value::Float(v))) => *v as f32,
        (_, Some(Value::Bool(v))) => f32::from(u8::from(*v)),
        (FeatureKind::Category { levels }, Some(Value::Str(s))) => {
            levels.binary_search_by(|l| l.as_str().cmp(s.as_str())).map_or(f32::NAN, |i| i as f32)
        }
        _ => f32::NAN,
    }
}

/// A number cell as `f64`: what targets and baseline columns are read as (NULL, non-numbers and
/// non-finite floats are `None`).
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(v) => Some(*v as f64),
        Value::Float(v) if v.is_finite() => Some(*v),
        _ => None,
    }
}

/// Weekday of a day number (days since 1970-01-01, a Thursday), 0 = Monday.
pub fn weekday(day: Days) -> u32 {
    (day + 3).rem_euclid(7) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Field;

    fn card() -> ModelCard {
        ModelCard {
            name: "demand".into(),
            version: "v1".into(),
            key: vec!["shelf_id".into()],
            date: "day".into(),
            target: "units".into(),
            horizon: 2,
            features: vec![
                Feature { name: "units".into(), kind: FeatureKind::Int },
                Feature {
                    name: "category".into(),
                    kind: FeatureKind::Category { levels: vec!["BEER".into(), "WINE".into()] },
                },
                Feature { name: "horizon_day".into(), kind: FeatureKind::HorizonDay },
                Feature { name: "target_day_of_week".into(), kind: FeatureKind::TargetDayOfWeek },
            ],
            forecaster: Forecaster::Model,
            validation_wape: 0.2,
        }
    }

    fn input(units: Type) -> Schema {
        Schema::new(vec![
            Field::new("shelf_id", Type::String, false),
            Field::new("day", Type::Date, false),
            Field::new("units", units, true),
            Field::new("category", Type::String, true),
        ])
    }

    #[test]
    fn rows_encode_with_missing_values_and_derived_features() {
        let encoder = card().encoder(&input(Type::Int)).unwrap();
        let mut out = Vec::new();
        // 2026-01-01 is a Thursday (3); +2 days is Saturday (5).
        let day = crate::value::parse_date("2026-01-01").unwrap();
        let row = vec![Value::str("S1"), Value::Date(day), Value::Null, Value::str("WINE")];
        encoder.encode(&row, 2, &mut out);
        assert!(out[0].is_nan(), "NULL is missing");
        assert_eq!(&out[1..], &[1.0, 2.0, 5.0]);
        out.clear();
        let unseen = vec![Value::str("S1"), Value::Date(day), Value::Int(4), Value::str("MILK")];
        encoder.encode(&unseen, 1, &mut out);
        assert_eq!(out[0], 4.0);
        assert!(out[1].is_nan(), "an unseen category is missing");
    }

    #[test]
    fn mismatches_name_missing_mistyped_and_extra_columns() {
        let mut schema = input(Type::Float);
        schema.fields.push(Field::new("note", Type::String, true));
        schema.fields.retain(|f| f.name != "category");
        let errors = card().encoder(&schema).unwrap_err();
        assert!(errors.contains(&Mismatch::Mistyped {
            column: "units".into(),
            expected: Type::Int,
            found: Type::Float
        }));
        assert!(errors.contains(&Mismatch::Missing { column: "category".into(), ty: Type::String }));
        assert!(errors.contains(&Mismatch::Extra { column: "note".into() }));
    }

    #[test]
    fn seasonal_naive_reads_the_same_weekday_last_week() {
        assert_eq!(Baseline::SeasonalNaive.column("units", 7), "units");
        assert_eq!(Baseline::SeasonalNaive.column("units", 1), "units_lag_6d");
        assert_eq!(Baseline::Mean28.columns("units", 7), ["units_mean_28d"]);
    }
}
