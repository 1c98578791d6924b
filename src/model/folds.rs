//! Rolling-origin validation: folds split by date, never by series. A fold scores the
//! forecasts made on its origin days; its model learns only from examples whose forecast day
//! is before the fold's first origin, and stops early on the last `inner` days of that window.

use shelfflow_operators::value::Days;

use super::dataset::Example;

/// One fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    /// First origin day scored.
    pub start: Days,
    /// Last origin day scored.
    pub end: Days,
    /// First origin day of the inner validation window (`start − inner`).
    pub inner_start: Days,
}

impl Fold {
    /// Trains the fold's model: the forecast day is before the inner validation window.
    pub fn trains(&self, e: &Example) -> bool {
        e.target_day() < self.inner_start
    }

    /// Decides when to stop: made in the inner window, forecast day before the fold.
    pub fn stops(&self, e: &Example) -> bool {
        e.origin >= self.inner_start && e.target_day() < self.start
    }

    /// Scored: made on one of the fold's origin days.
    pub fn scores(&self, e: &Example) -> bool {
        (self.start..=self.end).contains(&e.origin)
    }
}

/// `count` consecutive folds of `length` origin days ending at the last origin day whose every
/// horizon day is in the data (`last_day − horizon`), each with an inner window of `inner`
/// days. `None` when the data is too short for them and a training window of `inner` days.
pub fn rolling_origin(
    first_day: Days,
    last_day: Days,
    horizon: u32,
    count: u32,
    length: u32,
    inner: u32,
) -> Option<Vec<Fold>> {
    let last_origin = last_day - horizon as Days;
    let first_start = last_origin - (count * length) as Days + 1;
    if first_start - (2 * inner + horizon) as Days <= first_day {
        return None;
    }
    Some(
        (0..count)
            .map(|k| {
                let start = first_start + (k * length) as Days;
                Fold { start, end: start + length as Days - 1, inner_start: start - inner as Days }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_examples(first: Days, last: Days, horizon: u32) -> Vec<Example> {
        (first..=last)
            .flat_map(|origin| {
                (1..=horizon)
                    .filter(move |h| origin + *h as Days <= last)
                    .map(move |horizon| Example { row: 0, origin, horizon, actual: 0.0 })
            })
            .collect()
    }

    #[test]
    fn folds_split_by_time_without_leakage() {
        let (first, last) = (0, 364);
        let folds = rolling_origin(first, last, 7, 4, 28, 28).unwrap();
        assert_eq!(folds.len(), 4);
        assert_eq!(folds[3].end, 357, "the last origin whose 7 days are all known");
        let examples = all_examples(first, last, 7);
        for fold in &folds {
            let train: Vec<_> = examples.iter().filter(|e| fold.trains(e)).collect();
            let stop: Vec<_> = examples.iter().filter(|e| fold.stops(e)).collect();
            let scored: Vec<_> = examples.iter().filter(|e| fold.scores(e)).collect();
            assert!(!train.is_empty() && !stop.is_empty() && !scored.is_empty());
            let first_scored = scored.iter().map(|e| e.origin).min().unwrap();
            // Every date a model learns from (features and actuals) is before every scored date.
            for e in train.iter().chain(&stop) {
                assert!(e.target_day() < first_scored, "{e:?} leaks into {fold:?}");
            }
            // Early stopping never sees the scored fold, nor does training see its stop window.
            let first_stop = stop.iter().map(|e| e.origin).min().unwrap();
            assert!(train.iter().all(|e| e.target_day() < first_stop));
        }
        for pair in folds.windows(2) {
            assert_eq!(pair[0].end + 1, pair[1].start, "folds are consecutive");
        }
    }

    #[test]
    fn too_short_a_history_has_no_folds() {
        assert_eq!(rolling_origin(0, 120, 7, 4, 28, 28), None);
    }
}
