//! The YAML of `connector: calendar` and its pure checks.

use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;
use shelfflow_operators::parse_config;

use super::source::{CalendarReader, FIELDS};
use crate::{ConfigError, ConnectorError, Schema, SourceConfig, SourceKind, SourceReader};

/// The `calendar` source.
pub const SOURCE: SourceKind = SourceKind {
    name: "calendar",
    summary: "emits day starts, supplier cutoffs and deliveries of a schedule in event time",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = r#"start: 2026-01-01             # first day (a date; the calendar is in UTC)
days: 28                      # how many days
day_start: "00:00"            # optional: when a business day begins
cutoffs:                      # optional: supplier order cutoffs
  days: [sunday, tuesday, thursday]
  at: "12:00"
deliveries:                   # optional: supplier delivery slots
  days: [monday, wednesday, friday]
  at: "08:00"
"#;

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn SourceConfig>, ConfigError> {
    let config = parse_config::<CalendarConfig>(value)?;
    let mut errors = config.check();
    if errors.is_empty() {
        Ok(Box::new(config))
    } else {
        Err(errors.remove(0))
    }
}

/// A weekly schedule: the same time of day on some weekdays.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weekly {
    /// Weekday names (`monday` .. `sunday`, or `mon` .. `sun`).
    pub days: Vec<String>,
    /// Time of day, `HH:MM` or `HH:MM:SS`.
    pub at: String,
}

impl Weekly {
    fn parsed(&self, path: &str) -> Result<(Vec<Weekday>, NaiveTime), ConfigError> {
        let mut days = Vec::new();
        for (i, day) in self.days.iter().enumerate() {
            match day.parse::<Weekday>() {
                Ok(d) => days.push(d),
                Err(_) => {
                    return Err(ConfigError::new(
                        format!("{path}.days.{i}"),
                        format!("expected a weekday, found `{day}`"),
                    )
                    .hint("use monday .. sunday"))
                }
            }
        }
        let at = parse_time(&self.at).ok_or_else(|| {
            ConfigError::new(
                format!("{path}.at"),
                format!("expected a time of day, found `{}`", self.at),
            )
            .hint("write it as \"HH:MM\", quoted")
        })?;
        Ok((days, at))
    }
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .ok()
}

/// Emits, in time order, one record per schedule point from `start` for `days` days:
/// `kind` = `day_start` (every day at `day_start`), `cutoff` (with `delivery_at`, the first
/// delivery slot strictly after it) and `delivery`. Fields: see [`FIELDS`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// First day.
    pub start: NaiveDate,
    /// Number of days.
    pub days: u32,
    /// When a business day begins (default midnight).
    #[serde(default)]
    pub day_start: Option<String>,
    /// Supplier order cutoffs.
    #[serde(default)]
    pub cutoffs: Option<Weekly>,
    /// Supplier deliveries.
    #[serde(default)]
    pub deliveries: Option<Weekly>,
}

/// The resolved schedule.
#[derive(Debug, Clone)]
pub(super) struct Schedule {
    pub start: NaiveDate,
    pub days: u32,
    pub day_start: NaiveTime,
    pub cutoffs: Option<(Vec<Weekday>, NaiveTime)>,
    pub deliveries: Option<(Vec<Weekday>, NaiveTime)>,
}

impl CalendarConfig {
    /// Every problem of the config.
    pub fn check(&self) -> Vec<ConfigError> {
        match self.schedule() {
            Ok(_) => Vec::new(),
            Err(errors) => errors,
        }
    }

    pub(super) fn schedule(&self) -> Result<Schedule, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let day_start = match &self.day_start {
            None => NaiveTime::MIN,
            Some(text) => parse_time(text).unwrap_or_else(|| {
                errors.push(
                    ConfigError::new(
                        "day_start",
                        format!("expected a time of day, found `{text}`"),
                    )
                    .hint("write it as \"HH:MM\", quoted"),
                );
                NaiveTime::MIN
            }),
        };
        let mut weekly = |w: &Option<Weekly>, path: &str| {
            w.as_ref().and_then(|w| w.parsed(path).map_err(|e| errors.push(e)).ok())
        };
        let cutoffs = weekly(&self.cutoffs, "cutoffs");
        let deliveries = weekly(&self.deliveries, "deliveries");
        if self.cutoffs.is_some() && self.deliveries.as_ref().is_none_or(|d| d.days.is_empty()) {
            errors.push(
                ConfigError::new("cutoffs", "cutoffs need delivery slots to deliver in")
                    .hint("add `deliveries: {days: [...], at: \"HH:MM\"}`"),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Schedule { start: self.start, days: self.days, day_start, cutoffs, deliveries })
    }
}

impl SourceConfig for CalendarConfig {
    fn validate(&self, schema: &Schema) -> Vec<ConfigError> {
        let mut errors = self.check();
        errors.extend(crate::check_fields(schema, FIELDS, "calendar"));
        errors
    }

    fn describe(&self) -> String {
        format!("calendar from {} for {} days", self.start, self.days)
    }

    fn is_finite(&self) -> bool {
        true
    }

    fn open(&self, schema: &Schema) -> Result<Box<dyn SourceReader>, ConnectorError> {
        let schedule = self.schedule().map_err(|e| ConnectorError::Schema {
            path: "calendar".into(),
            message: e.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; "),
        })?;
        Ok(Box::new(CalendarReader::new(&schedule, schema)))
    }
}
