use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::aggregate::plan_aggregation;
use crate::plan::{
    parse_config, unknown_column, ConfigError, InputRef, OperatorConfig, OperatorKind,
    PlannedOperator,
};
use crate::value::{Field, Schema, Type};

use super::operator::PlannedWindow;

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "window",
    summary: "tumbling or hopping event-time windows with aggregates per window",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "input: sales_lines
size: 1h
slide: 15m
group_by: [item_category]
aggregates:
  revenue: sum(total_price)
  units: sum(quantity)
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<WindowConfig>(value)?))
}

/// Assigns each row to the windows `[start, start + size)` that contain its time, where starts
/// are multiples of `slide` (tumbling when `slide` is omitted: `slide = size`), and aggregates
/// per window and group. The output columns are `window_start`, `window_end`, the group columns,
/// then the aggregates. Window results update as rows arrive; rows behind a source's frontier are
/// dead-lettered, so a window is final once the frontier passes its end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct WindowConfig {
    /// The collection to window.
    pub input: String,
    /// Timestamp column that places a row in time (default: the input's event-time column).
    #[serde(default)]
    pub time: Option<String>,
    /// Window length, e.g. `1h`.
    #[serde(with = "humantime_serde")]
    pub size: Duration,
    /// Distance between window starts for hopping windows, e.g. `15m` (default: `size`).
    #[serde(default, with = "humantime_serde")]
    pub slide: Option<Duration>,
    /// Grouping columns within each window.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Output column → aggregate call, as in `aggregate`.
    pub aggregates: IndexMap<String, String>,
}

impl OperatorConfig for WindowConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.input, "input")]
    }

    fn plan(
        &self,
        _name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let input = &inputs[0];
        let mut errors = Vec::new();
        let time = match &self.time {
            Some(name) => {
                input.index_of(name).ok_or_else(|| unknown_column(input.names(), name, "time"))
            }
            None => input.event_time.ok_or_else(|| {
                ConfigError::new("time", "the input has no event-time column")
                    .hint("name a timestamp column with `time:`")
            }),
        };
        let time = match time {
            Ok(t) if input.fields[t].ty != Type::Timestamp => {
                errors.push(ConfigError::new(
                    "time",
                    format!(
                        "type mismatch: expected a timestamp column, found {}",
                        input.fields[t].ty
                    ),
                ));
                0
            }
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                0
            }
        };
        let size = self.size.as_micros() as i64;
        let slide = self.slide.map_or(size, |s| s.as_micros() as i64);
        if size <= 0 {
            errors.push(ConfigError::new("size", "expected a positive duration, found 0"));
        }
        if slide <= 0 || slide > size {
            errors.push(ConfigError::new(
                "slide",
                "expected a positive duration no longer than `size`",
            ));
        }
        for reserved in ["window_start", "window_end"] {
            if input.index_of(reserved).is_some() {
                errors.push(ConfigError::new(
                    "input",
                    format!("duplicate column `{reserved}`: the window adds it"),
                ));
            }
        }
        let mut extended = input.clone();
        extended.fields.push(Field::new("window_start", Type::Timestamp, false));
        extended.fields.push(Field::new("window_end", Type::Timestamp, false));
        let mut group_by = vec!["window_start".to_owned(), "window_end".to_owned()];
        group_by.extend(self.group_by.iter().cloned());
        let planned = plan_aggregation(&group_by, &self.aggregates, &extended).map_err(|errs| {
            errs.into_iter().map(|mut e| {
                // Group columns were shifted by the two window columns.
                if let Some(rest) = e.path.strip_prefix("group_by[") {
                    if let Some((n, tail)) = rest.split_once(']') {
                        if let Ok(n) = n.parse::<usize>() {
                            e.path = format!("group_by[{}]{tail}", n.saturating_sub(2));
                        }
                    }
                }
                e
            })
        });
        let (aggregation, schema) = match planned {
            Ok(p) => p,
            Err(errs) => {
                errors.extend(errs);
                return Err(errors);
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Box::new(PlannedWindow { time, size, slide, aggregation: aggregation.into(), schema }))
    }
}
