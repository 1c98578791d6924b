use std::sync::Arc;

use differential_dataflow::AsCollection;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;

use crate::dead_letter::DeadLetter;
use crate::plan::{ArrangementCache, Coll, Diff, Output, PlannedOperator, Time};
use crate::value::{Row, Schema, Value};

use super::booster::Predictor;
use super::card::{number, Encoder};

#[derive(Debug)]
pub(crate) struct PlannedForecast {
    pub(crate) forecaster: Arc<ForecastStep>,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedForecast {
    fn outputs(&self) -> Vec<Output> {
        let rejected = Output { suffix: Some("rejected"), schema: crate::dead_letter::schema() };
        vec![Output { suffix: None, schema: self.schema.clone() }, rejected]
    }

    fn dead_letters(&self) -> Option<usize> {
        Some(1)
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        let forecaster = self.forecaster.clone();
        type Updates<'s> = Stream<'s, Time, Vec<(Row, Time, Diff)>>;
        let outcomes: Stream<'s, Time, Vec<Outcome>> =
            inputs[0].1.inner.clone().unary::<CapacityContainerBuilder<Vec<Outcome>>, _, _, _>(
                Pipeline,
                "Forecast",
                move |_, _| {
                    let mut batch = Vec::new();
                    move |input, output| {
                        input.for_each_time(|time, data| {
                            batch.clear();
                            for container in data {
                                batch.append(container);
                            }
                            output
                                .session(&time)
                                .give_iterator(forecaster.forecast(&batch).into_iter());
                        });
                    }
                },
            );
        let (ok, dead): (Updates<'s>, Updates<'s>) = outcomes.ok_err(|outcome: Outcome| outcome);
        vec![ok.as_collection(), dead.as_collection()]
    }
}

type Outcome = Result<(Row, Time, Diff), (Row, Time, Diff)>;

/// Who forecasts.
#[derive(Debug)]
pub(crate) enum Source {
    /// The trained model.
    Model(Predictor),
    /// The baseline the model did not beat: per horizon day, the column it reads.
    Baseline(Vec<usize>),
}

/// What a `forecast` operator does to a batch of rows (planned once, shared by the workers).
#[derive(Debug)]
pub(crate) struct ForecastStep {
    pub(crate) operator: String,
    pub(crate) version: Value,
    pub(crate) horizon: u32,
    /// The forecaster's validation WAPE: `error_units` is this share of the forecast.
    pub(crate) wape: f64,
    pub(crate) key: Vec<usize>,
    pub(crate) encoder: Encoder,
    pub(crate) source: Source,
    /// The input's schema, to show a rejected row.
    pub(crate) input: Schema,
}

impl ForecastStep {
    /// The forecasts of a batch of input updates: `horizon` rows per input row, with the input's
    /// time and difference, or one dead letter for a row the model cannot forecast.
    fn forecast(&self, batch: &[(Row, Time, Diff)]) -> Vec<Outcome> {
        let predictions = match self.predict(batch) {
            Ok(p) => p,
            Err(reason) => {
                return batch
                    .iter()
                    .map(|(row, t, d)| Err((self.dead(row, &reason), *t, *d)))
                    .collect()
            }
        };
        let h = self.horizon as usize;
        let mut out = Vec::with_capacity(batch.len() * h);
        for ((row, time, diff), values) in batch.iter().zip(predictions.chunks(h)) {
            let Some(origin) = self.encoder.origin(row) else {
                out.push(Err((self.dead(row, "the row has no date"), *time, *diff)));
                continue;
            };
            if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
                let reason = format!("the forecast is not a finite number ({bad})");
                out.push(Err((self.dead(row, &reason), *time, *diff)));
                continue;
            }
            for (day, value) in (1..=self.horizon).zip(values) {
                out.push(Ok((self.row(row, origin, day, *value), *time, *diff)));
            }
        }
        out
    }

    /// `horizon` predictions per row, from the model or the baseline's columns.
    fn predict(&self, batch: &[(Row, Time, Diff)]) -> Result<Vec<f32>, String> {
        match &self.source {
            Source::Baseline(columns) => {
                let read = |row: &Row, c: usize| number(&row[c]).map_or(f32::NAN, |v| v as f32);
                Ok(batch
                    .iter()
                    .flat_map(|(row, _, _)| columns.iter().map(|&c| read(row, c)))
                    .collect())
            }
            Source::Model(predictor) => {
                let mut values = Vec::new();
                for (row, _, _) in batch {
                    for h in 1..=self.horizon {
                        self.encoder.encode(row, h, &mut values);
                    }
                }
                predictor.predict(&values)
            }
        }
    }

    fn row(&self, input: &Row, origin: i32, day: u32, value: f32) -> Row {
        let mut row: Row = self.key.iter().map(|&k| input[k].clone()).collect();
        row.push(Value::Date(origin));
        row.push(Value::Int(i64::from(day)));
        row.push(Value::Date(origin + day as i32));
        let units = f64::from(value.max(0.0));
        row.push(Value::Float(units));
        row.push(Value::Float(units * self.wape));
        row.push(self.version.clone());
        row
    }

    fn dead(&self, row: &Row, reason: &str) -> Row {
        DeadLetter {
            position: format!("operators.{}", self.operator),
            reason: reason.to_owned(),
            raw: self.input.row_to_json(row).to_string(),
            time: 0,
        }
        .into_row(&self.operator)
    }
}
