use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use crate::plan::{
    parse_config, ConfigError, InputRef, OperatorConfig, OperatorKind, PlannedOperator,
};
use crate::value::{Field, Schema, Type, Value};

use super::booster::Predictor;
use super::card::{Forecaster, Mismatch, ModelCard, MODEL_FILE};
use super::operator::{ForecastStep, PlannedForecast, Source};

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "forecast",
    summary: "forecasts each row's next days with a trained model (`shelfflow model train`)",
    sample: "input: shelf_daily_features\nmodel: models/demand\n",
    parse,
};

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<ForecastConfig>(value)?))
}

/// Forecasts the model card's target for days 1 ..= horizon after each row's date, with the
/// model (or the baseline the model did not beat) of a trained version. A row that changes
/// retracts its forecasts and adds new ones. The input must have exactly the card's columns
/// (key, date, features, and the baseline's columns when a baseline forecasts).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ForecastConfig {
    /// The collection of feature rows, one per key and date.
    pub input: String,
    /// A models directory (its `ACTIVE` version is used) or one version directory.
    pub model: PathBuf,
    /// Name of the forecast column (default `forecast_units`).
    #[serde(default = "default_output")]
    pub output: String,
}

fn default_output() -> String {
    "forecast_units".to_owned()
}

impl OperatorConfig for ForecastConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.input, "input")]
    }

    fn plan(
        &self,
        name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let input = &inputs[0];
        let no_model = |message: String| {
            vec![ConfigError::new("model", message).hint(train_hint(&self.model))]
        };
        let dir = ModelCard::resolve(&self.model).map_err(no_model)?;
        let card = ModelCard::read(&dir).map_err(no_model)?;
        let encoder = card.encoder(input).map_err(|m| mismatch_errors(&card, &m))?;
        let mut errors = Vec::new();
        let key: Vec<usize> = card.key.iter().filter_map(|k| input.index_of(k)).collect();
        if key.len() != card.key.len() {
            errors.push(ConfigError::new(
                "input",
                format!("the model's key {:?} is not all in the input", card.key),
            ));
        }
        let taken = card.key.iter().chain([&card.date]).map(String::as_str);
        if taken
            .chain(["horizon_day", "target_date", "error_units", "model_version"])
            .any(|c| c == self.output)
        {
            errors.push(ConfigError::new(
                "output",
                format!("column `{}` already exists", self.output),
            ));
        }
        let source = match card.forecaster {
            Forecaster::Model => Source::Model(
                Predictor::load(&dir.join(MODEL_FILE), card.features.len()).map_err(no_model)?,
            ),
            Forecaster::Baseline(b) => {
                let columns =
                    (1..=card.horizon).map(|h| input.index_of(&b.column(&card.target, h)));
                match columns.collect::<Option<Vec<usize>>>() {
                    Some(columns) => Source::Baseline(columns),
                    None => {
                        errors.push(ConfigError::new(
                            "input",
                            format!(
                                "the input lacks a column the active baseline {} reads",
                                b.name()
                            ),
                        ));
                        Source::Baseline(Vec::new())
                    }
                }
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let schema = output_schema(input, &key, encoder_date(input, &card), &self.output);
        let forecaster = ForecastStep {
            operator: name.to_owned(),
            version: Value::str(&card.version),
            wape: card.validation_wape,
            horizon: card.horizon,
            key,
            encoder,
            source,
            input: input.clone(),
        };
        Ok(Box::new(PlannedForecast { forecaster: Arc::new(forecaster), schema }))
    }
}

/// How to train a model into `models/<name>` (a version directory's parent is its models
/// directory too).
fn train_hint(model: &std::path::Path) -> String {
    let is_version = model.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.strip_prefix('v').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    });
    let named = if is_version { model.parent().unwrap_or(model) } else { model };
    let name = named.file_name().and_then(|n| n.to_str()).unwrap_or("demand");
    let out =
        named.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    format!("train one: `shelfflow model train --out {} --name {name}`", out.display())
}

fn encoder_date(input: &Schema, card: &ModelCard) -> usize {
    input.index_of(&card.date).expect("the encoder checked the date column")
}

/// Key columns, the origin date, `horizon_day`, `target_date`, the forecast, its expected error
/// and the version.
fn output_schema(input: &Schema, key: &[usize], date: usize, output: &str) -> Schema {
    let mut fields: Vec<Field> = key.iter().map(|&k| input.field(k).clone()).collect();
    fields.push(input.field(date).clone());
    fields.push(Field::new("horizon_day", Type::Int, false));
    fields.push(Field::new("target_date", Type::Date, false));
    fields.push(Field::new(output, Type::Float, false));
    fields.push(Field::new("error_units", Type::Float, false));
    fields.push(Field::new("model_version", Type::String, false));
    let mut schema = Schema::new(fields);
    schema.key = Some((0..key.len() + 2).collect());
    schema
}

fn mismatch_errors(card: &ModelCard, mismatches: &[Mismatch]) -> Vec<ConfigError> {
    let retrain = format!(
        "the model {}/{} was trained on other columns: give it exactly those, or retrain with `shelfflow model train`",
        card.name, card.version
    );
    mismatches
        .iter()
        .map(|m| {
            let message = match m {
                Mismatch::Missing { column, ty } => {
                    format!("the model reads column `{column}` ({ty}), which the input lacks")
                }
                Mismatch::Mistyped { column, expected, found } => {
                    format!("the model reads `{column}` as {expected}, the input has {found}")
                }
                Mismatch::Extra { column } => {
                    format!("the input has column `{column}`, which the model does not read")
                }
            };
            ConfigError::new("input", message).hint(retrain.clone())
        })
        .collect()
}
