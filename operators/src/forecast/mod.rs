//! `forecast` and the demand-forecast contract: the model card that training and serving share
//! ([`card`]), XGBoost matrices and loaded models ([`booster`]), and the operator.

pub mod booster;
pub mod card;
mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use card::{
    number, Baseline, Feature, FeatureKind, Forecaster, ModelCard, ACTIVE_FILE, CARD_FILE,
};
pub use config::{ForecastConfig, KIND};
