//! `connector: simulator` sources: the four streams of one simulated store.
//!
//! Every simulator source of a pipeline reads one stream of the same store, so their settings
//! (seed, days, reference data, ...) are merged: a setting may be given on any of them, and
//! where several give it they must agree. The runtime drives the store inside the dataflow,
//! where it can react to the pipeline's plans and orders (see [`super::FeedbackSpec`]).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};
use serde::Deserialize;
use shelfflow_operators::parse_config;
use shelfflow_operators::value::Micros;

use super::events::Stream;
use super::world::WorldConfig;
use crate::{ConfigError, ConnectorError, Schema, SourceConfig, SourceKind, SourceReader};

/// The `simulator` source.
pub const SOURCE: SourceKind = SourceKind {
    name: "simulator",
    summary:
        "one event stream of the closed-loop store simulation (shelf, POS, foot traffic, warehouse)",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = r#"stream: shelf_events          # shelf_events | pos_transactions | foot_traffic | wh_events
data: data                    # reference data written by `shelfflow data generate`
seed: 42
start: 2026-01-01             # first simulated day (UTC midnight)
days: 7
speed: max                    # max | realtime | <n>x, e.g. 60x
customers_per_day: 1000       # mean before weekday weights
putback_probability: 0.15
pick_delay: 60s               # restock plan -> warehouse pick
shelf_travel: 3m              # warehouse pick -> goods on the shelf
removal_time: "00:30"         # daily removal of expired batches
"#;

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn SourceConfig>, ConfigError> {
    let config = parse_config::<SimulatorSourceConfig>(value)?;
    let stream = Stream::parse(&config.stream).ok_or_else(|| {
        ConfigError::new("stream", format!("unknown stream `{}`", config.stream)).hint(
            shelfflow_operators::plan::name_hint(
                &config.stream,
                Stream::ALL.iter().map(|s| s.name()),
                "streams",
            ),
        )
    })?;
    let settings = Settings {
        data: config.data,
        seed: config.seed,
        start: config.start,
        days: config.days,
        speed: config.speed,
        customers_per_day: config.customers_per_day,
        putback_probability: config.putback_probability,
        pick_delay: config.pick_delay,
        shelf_travel: config.shelf_travel,
        removal_time: config.removal_time,
    };
    settings.check()?;
    Ok(Box::new(SimulatedStream { stream, settings }))
}

/// The YAML of a simulator source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulatorSourceConfig {
    stream: String,
    #[serde(default)]
    data: Option<PathBuf>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    start: Option<NaiveDate>,
    #[serde(default)]
    days: Option<u32>,
    #[serde(default)]
    speed: Option<String>,
    #[serde(default)]
    customers_per_day: Option<f64>,
    #[serde(default)]
    putback_probability: Option<f64>,
    #[serde(default, with = "humantime_serde")]
    pick_delay: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    shelf_travel: Option<Duration>,
    #[serde(default)]
    removal_time: Option<String>,
}

/// How fast simulated time runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the dataflow keeps up.
    Max,
    /// This many simulated seconds per wall-clock second.
    Factor(f64),
}

impl Speed {
    /// `max`, `realtime` or `<n>x`.
    pub fn parse(text: &str) -> Option<Speed> {
        match text {
            "max" => Some(Speed::Max),
            "realtime" => Some(Speed::Factor(1.0)),
            _ => text
                .strip_suffix('x')
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n > 0.0)
                .map(Speed::Factor),
        }
    }
}

/// Settings of the simulated store; `None` = not given here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Directory of the reference data.
    pub data: Option<PathBuf>,
    /// Random seed.
    pub seed: Option<u64>,
    /// First day.
    pub start: Option<NaiveDate>,
    /// Number of days.
    pub days: Option<u32>,
    /// `max`, `realtime`, `<n>x`.
    pub speed: Option<String>,
    /// Mean customers per day.
    pub customers_per_day: Option<f64>,
    /// Share of actions that put an item back.
    pub putback_probability: Option<f64>,
    /// Plan → pick.
    pub pick_delay: Option<Duration>,
    /// Pick → shelf.
    pub shelf_travel: Option<Duration>,
    /// Daily removal time `HH:MM`.
    pub removal_time: Option<String>,
}

fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .ok()
}

impl Settings {
    fn check(&self) -> Result<(), ConfigError> {
        if let Some(speed) = &self.speed {
            if Speed::parse(speed).is_none() {
                return Err(ConfigError::new("speed", format!("unknown speed `{speed}`"))
                    .hint("use max, realtime or a factor such as 60x"));
            }
        }
        if let Some(p) = self.putback_probability {
            if !(0.0..1.0).contains(&p) {
                return Err(ConfigError::new(
                    "putback_probability",
                    format!("expected a probability below 1, found {p}"),
                ));
            }
        }
        if let Some(c) = self.customers_per_day {
            if !(c.is_finite() && c >= 0.0) {
                return Err(ConfigError::new(
                    "customers_per_day",
                    format!("expected >= 0, found {c}"),
                ));
            }
        }
        if let Some(t) = &self.removal_time {
            if parse_time_of_day(t).is_none() {
                return Err(ConfigError::new(
                    "removal_time",
                    format!("expected HH:MM, found `{t}`"),
                )
                .hint("write it quoted, e.g. \"00:30\""));
            }
        }
        if self.pick_delay.is_some_and(|d| d < Duration::from_secs(1)) {
            return Err(ConfigError::new("pick_delay", "the pick delay must be at least 1s")
                .hint("the store reacts to plans through the dataflow, which takes a tick"));
        }
        Ok(())
    }

    /// Combines the settings of several sources. `Err` lists each setting given differently.
    pub fn merge<'a>(
        all: impl IntoIterator<Item = (&'a str, &'a Settings)>,
    ) -> Result<Settings, Vec<(String, ConfigError)>> {
        let mut merged = Settings::default();
        let mut first: std::collections::HashMap<&'static str, &str> = Default::default();
        let mut errors = Vec::new();
        macro_rules! merge {
            ($name:literal, $field:ident, $source:expr, $settings:expr) => {
                if let Some(value) = &$settings.$field {
                    match &merged.$field {
                        None => {
                            merged.$field = Some(value.clone());
                            first.insert($name, $source);
                        }
                        Some(existing) if existing != value => errors.push((
                            $source.to_owned(),
                            ConfigError::new(
                                $name,
                                format!(
                                    "`{}` differs from the one of source `{}`: all simulator \
                                     sources read the same store",
                                    $name, first[$name]
                                ),
                            )
                            .hint("give it once, or the same value on every simulator source"),
                        )),
                        Some(_) => {}
                    }
                }
            };
        }
        for (source, settings) in all {
            merge!("data", data, source, settings);
            merge!("seed", seed, source, settings);
            merge!("start", start, source, settings);
            merge!("days", days, source, settings);
            merge!("speed", speed, source, settings);
            merge!("customers_per_day", customers_per_day, source, settings);
            merge!("putback_probability", putback_probability, source, settings);
            merge!("pick_delay", pick_delay, source, settings);
            merge!("shelf_travel", shelf_travel, source, settings);
            merge!("removal_time", removal_time, source, settings);
        }
        if errors.is_empty() {
            Ok(merged)
        } else {
            Err(errors)
        }
    }

    /// The reference data directory (default `data`).
    pub fn data_dir(&self) -> PathBuf {
        self.data.clone().unwrap_or_else(|| PathBuf::from("data"))
    }

    /// The simulation speed (default `max`).
    pub fn speed(&self) -> Speed {
        self.speed.as_deref().and_then(Speed::parse).unwrap_or(Speed::Max)
    }

    /// The store's behaviour, defaults filled in (store 1; see [`WorldConfig::for_store`]).
    pub fn world_config(&self) -> WorldConfig {
        let defaults = WorldConfig::default();
        let micros = |d: Duration| d.as_micros() as Micros;
        WorldConfig {
            seed: self.seed.unwrap_or(defaults.seed),
            store_id: defaults.store_id,
            opens_hour: defaults.opens_hour,
            closes_hour: defaults.closes_hour,
            start: self.start.map_or(defaults.start, |d| {
                d.and_time(NaiveTime::MIN).and_utc().timestamp_micros()
            }),
            days: self.days.unwrap_or(defaults.days),
            base_daily_customers: self.customers_per_day.unwrap_or(defaults.base_daily_customers),
            traffic_multiplier: defaults.traffic_multiplier,
            putback_probability: self.putback_probability.unwrap_or(defaults.putback_probability),
            pick_delay: self.pick_delay.map_or(defaults.pick_delay, micros),
            shelf_travel: self.shelf_travel.map_or(defaults.shelf_travel, micros),
            removal_time: self.removal_time.as_deref().and_then(parse_time_of_day).map_or(
                defaults.removal_time,
                |t| {
                    micros(Duration::from_secs(u64::from(
                        chrono::Timelike::num_seconds_from_midnight(&t),
                    )))
                },
            ),
        }
    }
}

/// A parsed simulator source: which stream, and the settings given on it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedStream {
    /// The stream read.
    pub stream: Stream,
    /// Settings given on this source.
    pub settings: Settings,
}

impl SimulatedStream {
    /// Position in the stream's canonical row of each column of `schema`.
    pub fn projection(&self, schema: &Schema) -> Vec<usize> {
        schema.fields.iter().filter_map(|f| self.stream.index_of(&f.name)).collect()
    }
}

impl SourceConfig for SimulatedStream {
    fn validate(&self, schema: &Schema) -> Vec<ConfigError> {
        crate::check_fields(schema, self.stream.fields(), &format!("stream {}", self.stream.name()))
    }

    fn describe(&self) -> String {
        format!("simulated store, stream {}", self.stream.name())
    }

    fn is_finite(&self) -> bool {
        true
    }

    fn open(&self, _schema: &Schema) -> Result<Box<dyn SourceReader>, ConnectorError> {
        Err(ConnectorError::Schema {
            path: self.settings.data_dir(),
            message: "the simulated store runs inside the dataflow; it cannot be read on its own"
                .to_owned(),
        })
    }

    fn simulation(&self) -> Option<&SimulatedStream> {
        Some(self)
    }
}
