//! Demand from a forecast: what a supplier plan orders when `demand_from: forecast`.
//!
//! A key keeps the forecast rows of its latest origin day. For the `n` days from the cutoff's
//! day on, the demand is the sum of the forecast units of those days (days past the horizon repeat
//! it: with a 7-day horizon, the same weekday a week earlier), and the safety stock is
//! `safety_factor × √(Σ error²)` of the same days (forecast errors of different days partly cancel).

use std::collections::BTreeMap;

use crate::plan::Diff;
use crate::value::{Days, Row, Value};

use super::config::DemandFrom;

/// Where the forecast rows hold what the plan reads.
#[derive(Debug)]
pub struct ForecastRules {
    /// Key column positions in the forecast rows.
    pub key: Vec<usize>,
    /// The origin day (date): the forecast was made at its end.
    pub origin: usize,
    /// Days after the origin (int, 1 = the next day).
    pub horizon_day: usize,
    /// Expected units on that day.
    pub units: usize,
    /// Expected absolute error of `units` (float), if the forecast has one.
    pub error: Option<usize>,
    /// Whether orders follow the forecast (else it is only kept, for the rows' record).
    pub demand_from: DemandFrom,
    /// Multiplier of the forecast error in the safety stock.
    pub safety_factor: f64,
}

/// One origin's forecast: horizon day → (units, error, multiplicity).
type Horizon = BTreeMap<i64, (f64, f64, Diff)>;

/// A key's forecast rows, by origin day (older origins are dropped once a newer one arrives).
#[derive(Debug, Default)]
pub struct ForecastBook {
    /// Origin day → its forecast.
    by_origin: BTreeMap<Days, Horizon>,
    /// Rows of origins before this day are ignored (their origin was superseded).
    floor: Days,
}

/// The demand a cutoff plans for: units over the reorder cover and the order-up-to days,
/// each with its safety stock, and the demand per day over the order-up-to days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planned {
    /// Units (with safety stock) below which the key reorders.
    pub reorder_point: f64,
    /// Units (with safety stock) the order brings the position up to.
    pub order_up_to: f64,
    /// Forecast units per day over the order-up-to days.
    pub per_day: f64,
}

impl ForecastBook {
    /// Adds (or, with a negative `diff`, removes) one forecast row.
    pub fn update(&mut self, rules: &ForecastRules, row: &Row, diff: Diff) {
        let (Value::Date(origin), Some(h)) = (&row[rules.origin], row[rules.horizon_day].as_int())
        else {
            return;
        };
        if *origin < self.floor {
            return;
        }
        let units = crate::forecast::number(&row[rules.units]).unwrap_or(f64::NAN);
        let error = rules.error.and_then(|c| crate::forecast::number(&row[c])).unwrap_or(0.0);
        let days = self.by_origin.entry(*origin).or_default();
        let entry = days.entry(h).or_insert((units, error, 0));
        if diff > 0 {
            *entry = (units, error, entry.2 + diff);
        } else {
            entry.2 += diff;
        }
        if entry.2 <= 0 {
            days.remove(&h);
        }
        if days.is_empty() {
            self.by_origin.remove(origin);
        }
    }

    /// Whether the book holds no row.
    pub fn is_empty(&self) -> bool {
        self.by_origin.is_empty()
    }

    /// The latest origin's days, dropping older origins for good.
    fn latest(&mut self) -> Option<(Days, &Horizon)> {
        let origin = *self.by_origin.keys().next_back()?;
        self.by_origin.retain(|o, _| *o >= origin);
        self.floor = origin;
        self.by_origin.get(&origin).map(|days| (origin, days))
    }

    /// The demand a cutoff on `day` plans for `cover` and `up_to` days, or `None` without a
    /// complete forecast made before `day` (horizon days 1..=H all present, all finite).
    pub fn plan(
        &mut self,
        rules: &ForecastRules,
        day: Days,
        cover: f64,
        up_to: f64,
    ) -> Option<Planned> {
        let (origin, days) = self.latest()?;
        let horizon = days.len() as i64;
        let complete = (1..=horizon)
            .all(|h| days.get(&h).is_some_and(|(u, e, _)| u.is_finite() && e.is_finite()));
        if origin >= day || horizon == 0 || !complete {
            return None;
        }
        let first = i64::from(day - origin);
        let over = |n: f64| -> (f64, f64) {
            let (mut units, mut variance) = (0.0, 0.0);
            let whole = n.floor() as i64;
            for k in 0..=whole {
                let weight = if k < whole { 1.0 } else { n - n.floor() };
                if weight <= 0.0 {
                    continue;
                }
                let h = (first + k - 1).rem_euclid(horizon) + 1;
                let (u, e, _) = days[&h];
                units += weight * u;
                variance += weight * e * e;
            }
            (units, variance.sqrt())
        };
        let ((cover_units, cover_error), (up_units, up_error)) = (over(cover), over(up_to));
        Some(Planned {
            reorder_point: cover_units + rules.safety_factor * cover_error,
            order_up_to: up_units + rules.safety_factor * up_error,
            per_day: if up_to > 0.0 { up_units / up_to } else { 0.0 },
        })
    }
}
