//! `alert`: a condition per key gives the active alerts (stable `alert_id`, `opened_at`) and
//! their history (opened and resolved times).

mod config;
mod operator;
#[cfg(test)]
mod tests;

pub use config::{AlertConfig, KIND};
pub use operator::{track_alerts, AlertRules};
