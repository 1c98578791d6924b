//! `shelfflow model train`: a demand forecast from the features pipeline's table, validated
//! on rolling-origin folds against baselines, and kept only where it beats them.
//!
//! One model forecasts every horizon day: the horizon day and the forecast day's weekday are
//! features (see [`FeatureKind`]). Categorical columns are coded by their sorted levels, which
//! the model card keeps, so a `category`/`subcategory` pair never collides in a one-hot name.

mod dataset;
mod fit;
mod folds;
mod metrics;
mod registry;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Serialize;
use shelfflow_operators::forecast::card::Encoder;
use shelfflow_operators::forecast::{Baseline, Feature, FeatureKind, Forecaster, ModelCard};
use shelfflow_operators::value::{format_date, Days};
use shelfflow_operators::{Type, Value};

use dataset::{examples, Example, Table};
use fit::{fit, predict, Data, Params};
use folds::{rolling_origin, Fold};
use metrics::Metrics;
use shelfflow_operators::forecast::card::number;

/// What `model train` is asked to do.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The features table (Parquet), as the features pipeline writes it.
    pub data: PathBuf,
    /// The models directory; versions go to `<out>/<name>/v<N>`.
    pub out: PathBuf,
    pub name: String,
    pub key: Vec<String>,
    pub date: String,
    pub target: String,
    /// Column whose values get a metrics line each (e.g. the category).
    pub group_by: Option<String>,
    pub horizon: u32,
    pub folds: u32,
    pub fold_days: u32,
    /// Days of origins a model learns from (the most recent before its validation window).
    pub train_days: u32,
    pub seed: u64,
    pub threads: u32,
    pub max_rounds: u32,
    pub json: Option<PathBuf>,
    pub database_url: Option<String>,
    pub quiet: bool,
}

/// Metrics of the model and of each baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    pub model: Metrics,
    pub baselines: BTreeMap<&'static str, Metrics>,
}

/// One fold's dates and scores.
#[derive(Debug, Clone, Serialize)]
pub struct FoldReport {
    pub first_origin: String,
    pub last_origin: String,
    pub train_examples: usize,
    pub rounds: u32,
    pub scores: Scores,
}

/// Everything `model train` measured and decided.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub name: String,
    pub version: String,
    pub directory: PathBuf,
    pub data_from: String,
    pub data_to: String,
    pub examples: usize,
    pub folds: Vec<FoldReport>,
    pub overall: Scores,
    pub per_group: BTreeMap<String, Scores>,
    pub refit_rounds: u32,
    pub best_baseline: &'static str,
    pub forecaster: String,
    pub gate: String,
    pub seed: u64,
    pub params: Params,
    pub training_seconds: f64,
}

/// A key column: text (a shelf) or a whole number (a store).
fn key_column(table: &Table, name: &str) -> anyhow::Result<usize> {
    table.column(name, Type::String).or_else(|_| table.column(name, Type::Int))
}

/// Trains, validates, gates and writes a new version.
pub fn train(options: &TrainOptions) -> anyhow::Result<Report> {
    let started = Instant::now();
    let table = Table::read(&options.data)?;
    let key: Vec<usize> =
        options.key.iter().map(|k| key_column(&table, k)).collect::<Result<_, _>>()?;
    let date = table.column(&options.date, Type::Date)?;
    let target = table
        .schema
        .index_of(&options.target)
        .with_context(|| format!("no target column `{}`", options.target))?;
    let version = registry::next_version(&options.out.join(&options.name))?;
    let card = card_of(&table, options, &version);
    let encoder = card.encoder(&table.schema).map_err(|m| anyhow::anyhow!("{m:?}"))?;
    let all = examples(&table, &key, date, target, options.horizon);
    let (first, last) = day_range(&table, date)?;
    let Some(folds) = rolling_origin(
        first,
        last,
        options.horizon,
        options.folds,
        options.fold_days,
        options.fold_days,
    ) else {
        bail!(
            "{} days of data are too few for {} folds of {} days",
            last - first + 1,
            options.folds,
            options.fold_days
        );
    };
    let baselines = baseline_columns(&table, options)?;
    let group = options.group_by.as_deref().and_then(|g| table.schema.index_of(g));
    let params = Params {
        max_depth: 6,
        eta: 0.2,
        subsample: 0.8,
        colsample_bytree: 0.8,
        min_child_weight: 5.0,
        max_rounds: options.max_rounds,
        early_stopping_rounds: 20,
        threads: options.threads,
        seed: options.seed,
    };
    let trainer = Trainer {
        table: &table,
        encoder: &encoder,
        examples: &all,
        baselines: &baselines,
        group,
        params: &params,
        width: card.features.len(),
        window: options.train_days as Days,
    };
    let progress = progress_bar(options, (folds.len() as u64 + 1) * u64::from(options.max_rounds));
    let tick = || progress.inc(1);
    let mut fold_reports = Vec::new();
    let mut scored: Vec<Scored> = Vec::new();
    for fold in &folds {
        let (report, these) = trainer.validate(fold, &tick)?;
        progress.set_position(progress.position().next_multiple_of(u64::from(options.max_rounds)));
        fold_reports.push(report);
        scored.extend(these);
    }
    let refit_rounds = median(fold_reports.iter().map(|f| f.rounds).collect());
    let model = trainer.refit(last - options.horizon as Days, refit_rounds, &tick)?;
    progress.finish_and_clear();
    let overall = scores(scored.iter());
    let per_group = per_group(&scored);
    let (forecaster, best_baseline, gate) = choose(&overall);
    let validation_wape = match forecaster {
        Forecaster::Model => overall.model.wape,
        Forecaster::Baseline(_) => overall
            .baselines
            .iter()
            .find(|&(n, _)| *n == best_baseline)
            .map_or(0.0, |(_, m)| m.wape),
    };
    let card = ModelCard { forecaster, validation_wape, ..card };
    let report = Report {
        name: options.name.clone(),
        version: version.clone(),
        directory: options.out.join(&options.name).join(&version),
        data_from: format_date(first),
        data_to: format_date(last),
        examples: all.len(),
        folds: fold_reports,
        overall,
        per_group,
        refit_rounds,
        best_baseline,
        forecaster: match card.forecaster {
            Forecaster::Model => "model".to_owned(),
            Forecaster::Baseline(b) => b.name().to_owned(),
        },
        gate,
        seed: options.seed,
        params,
        training_seconds: started.elapsed().as_secs_f64(),
    };
    registry::write_version(&report, &card, &model.booster)?;
    if let Some(url) = &options.database_url {
        registry::register(url, &report).context("registering the model in PostgreSQL")?;
    }
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(report)
}

/// What every fit of one training run reads.
struct Trainer<'a> {
    table: &'a Table,
    encoder: &'a Encoder,
    examples: &'a [Example],
    baselines: &'a BaselineColumns,
    group: Option<usize>,
    params: &'a Params,
    width: usize,
    /// Days of origins a model learns from.
    window: Days,
}

impl Trainer<'_> {
    fn encode(&self, set: &mut Data, e: &Example) {
        self.encoder.encode(&self.table.rows[e.row], e.horizon, &mut set.values);
        set.labels.push(e.actual);
    }

    /// Fits the fold's model (stopping early on its inner window) and scores it and the
    /// baselines on the fold's forecasts that every baseline can make.
    fn validate(&self, fold: &Fold, tick: &dyn Fn()) -> anyhow::Result<(FoldReport, Vec<Scored>)> {
        let (mut learn, mut stop) = (Data::default(), Data::default());
        let recent = |e: &&Example| e.origin >= fold.inner_start - self.window;
        for e in self.examples.iter().filter(|e| fold.trains(e)).filter(recent) {
            self.encode(&mut learn, e);
        }
        for e in self.examples.iter().filter(|e| fold.stops(e)) {
            self.encode(&mut stop, e);
        }
        let fitted =
            fit(self.params, self.width, &learn, Some(&stop), self.params.max_rounds, tick)?;
        let scored: Vec<&Example> = self
            .examples
            .iter()
            .filter(|e| fold.scores(e) && self.baselines.defined(self.table, e))
            .collect();
        let mut values = Vec::new();
        for e in &scored {
            self.encoder.encode(&self.table.rows[e.row], e.horizon, &mut values);
        }
        let predictions = predict(&fitted.booster, self.width, &values)?;
        let these: Vec<Scored> = scored
            .iter()
            .zip(predictions)
            .map(|(e, p)| Scored::new(self.table, self.baselines, self.group, e, p))
            .collect();
        let report = FoldReport {
            first_origin: format_date(fold.start),
            last_origin: format_date(fold.end),
            train_examples: learn.labels.len(),
            rounds: fitted.rounds,
            scores: scores(these.iter()),
        };
        Ok((report, these))
    }

    /// The final model: `rounds` on the window of origins ending at `last_origin`.
    fn refit(
        &self,
        last_origin: Days,
        rounds: u32,
        tick: &dyn Fn(),
    ) -> anyhow::Result<fit::Fitted> {
        let mut everything = Data::default();
        for e in self.examples.iter().filter(|e| e.origin > last_origin - self.window) {
            self.encode(&mut everything, e);
        }
        fit(self.params, self.width, &everything, None, rounds, tick)
    }
}

/// The gate: the model forecasts only when its overall WAPE beats the best baseline's;
/// otherwise that baseline does. Returns the forecaster, the best baseline and why.
fn choose(overall: &Scores) -> (Forecaster, &'static str, String) {
    let (best, best_wape) = overall
        .baselines
        .iter()
        .map(|(name, m)| (*name, m.wape))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("every baseline is scored");
    let wape = overall.model.wape;
    if wape < best_wape {
        let why = format!("the model is active: WAPE {wape:.4} beats {best} ({best_wape:.4})");
        (Forecaster::Model, best, why)
    } else {
        let why = format!(
            "{best} is active: the model's WAPE {wape:.4} does not beat its {best_wape:.4}"
        );
        (Forecaster::Baseline(baseline_named(best)), best, why)
    }
}

/// The card of a new version: every column but the key and the date is a feature, then the
/// horizon day and the forecast day's weekday.
fn card_of(table: &Table, options: &TrainOptions, version: &str) -> ModelCard {
    let skip: Vec<&String> = options.key.iter().chain([&options.date]).collect();
    let mut features: Vec<Feature> = table
        .schema
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| !skip.contains(&&f.name))
        .map(|(i, f)| Feature { name: f.name.clone(), kind: kind_of(table, i, f.ty) })
        .collect();
    features.push(Feature { name: "horizon_day".into(), kind: FeatureKind::HorizonDay });
    features
        .push(Feature { name: "target_day_of_week".into(), kind: FeatureKind::TargetDayOfWeek });
    ModelCard {
        name: options.name.clone(),
        version: version.to_owned(),
        key: options.key.clone(),
        date: options.date.clone(),
        target: options.target.clone(),
        horizon: options.horizon,
        features,
        forecaster: Forecaster::Model,
        validation_wape: 0.0,
    }
}

fn kind_of(table: &Table, column: usize, ty: Type) -> FeatureKind {
    match ty {
        Type::Int => FeatureKind::Int,
        Type::Bool => FeatureKind::Bool,
        Type::String => {
            let mut levels: Vec<String> =
                table.rows.iter().filter_map(|r| r[column].as_str().map(str::to_owned)).collect();
            levels.sort();
            levels.dedup();
            FeatureKind::Category { levels }
        }
        _ => FeatureKind::Float,
    }
}

fn day_range(table: &Table, date: usize) -> anyhow::Result<(Days, Days)> {
    let days = table.rows.iter().filter_map(|r| match r[date] {
        Value::Date(d) => Some(d),
        _ => None,
    });
    let (min, max) = days.fold((Days::MAX, Days::MIN), |(lo, hi), d| (lo.min(d), hi.max(d)));
    if min > max {
        bail!("the features table has no dated rows");
    }
    Ok((min, max))
}

/// Per baseline and horizon day, the column it reads.
struct BaselineColumns(Vec<(Baseline, Vec<usize>)>);

impl BaselineColumns {
    fn forecast(&self, table: &Table, which: usize, e: &Example) -> Option<f64> {
        let (_, columns) = &self.0[which];
        number(&table.rows[e.row][columns[e.horizon as usize - 1]])
    }

    fn defined(&self, table: &Table, e: &Example) -> bool {
        (0..self.0.len()).all(|b| self.forecast(table, b, e).is_some())
    }
}

fn baseline_columns(table: &Table, options: &TrainOptions) -> anyhow::Result<BaselineColumns> {
    let mut out = Vec::new();
    for baseline in Baseline::ALL {
        let columns = (1..=options.horizon)
            .map(|h| {
                let name = baseline.column(&options.target, h);
                table.schema.index_of(&name).with_context(|| {
                    format!("baseline {} needs column `{name}` in the features", baseline.name())
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        out.push((baseline, columns));
    }
    Ok(BaselineColumns(out))
}

fn baseline_named(name: &str) -> Baseline {
    Baseline::ALL.into_iter().find(|b| b.name() == name).expect("a known baseline")
}

/// One scored forecast: the actual, the model's and each baseline's forecast, and its group.
struct Scored {
    actual: f64,
    model: f64,
    baselines: Vec<(&'static str, f64)>,
    group: Option<String>,
}

impl Scored {
    fn new(
        table: &Table,
        baselines: &BaselineColumns,
        group: Option<usize>,
        e: &Example,
        p: f32,
    ) -> Scored {
        Scored {
            actual: f64::from(e.actual),
            model: f64::from(p),
            baselines: (0..baselines.0.len())
                .map(|b| {
                    (baselines.0[b].0.name(), baselines.forecast(table, b, e).unwrap_or(f64::NAN))
                })
                .collect(),
            group: group.and_then(|g| table.rows[e.row][g].as_str().map(str::to_owned)),
        }
    }
}

fn scores<'a>(scored: impl Iterator<Item = &'a Scored> + Clone) -> Scores {
    let model = Metrics::of(scored.clone().map(|s| (s.actual, s.model)));
    let names: Vec<&'static str> =
        scored.clone().next().map_or_else(Vec::new, |s| s.baselines.iter().map(|b| b.0).collect());
    let baselines = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| (name, Metrics::of(scored.clone().map(|s| (s.actual, s.baselines[i].1)))))
        .collect();
    Scores { model, baselines }
}

fn per_group(scored: &[Scored]) -> BTreeMap<String, Scores> {
    let mut groups: BTreeMap<&str, Vec<&Scored>> = BTreeMap::new();
    for s in scored {
        if let Some(g) = &s.group {
            groups.entry(g).or_default().push(s);
        }
    }
    groups.into_iter().map(|(g, members)| (g.to_owned(), scores(members.into_iter()))).collect()
}

fn median(mut values: Vec<u32>) -> u32 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(1).max(1)
}

fn progress_bar(options: &TrainOptions, total: u64) -> indicatif::ProgressBar {
    if options.quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("training {bar:30} {pos}/{len} rounds {elapsed}")
            .expect("valid template"),
    );
    bar
}

/// The report as the terminal table.
pub fn print(report: &Report) {
    println!(
        "model {} {} — data {} .. {}, {} examples, {} folds, seed {}",
        report.name,
        report.version,
        report.data_from,
        report.data_to,
        report.examples,
        report.folds.len(),
        report.seed
    );
    println!(
        "{:<26} {:<16} {:>9} {:>8} {:>8} {:>7} {:>7}",
        "fold (origins)", "forecaster", "n", "MAE", "RMSE", "WAPE", "R²"
    );
    let rows = |label: &str, s: &Scores| {
        let mut lines = vec![("model", s.model)];
        lines.extend(s.baselines.iter().map(|(n, m)| (*n, *m)));
        for (i, (name, m)) in lines.into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            println!(
                "{label:<26} {name:<16} {:>9} {:>8.3} {:>8.3} {:>7.4} {:>7.3}",
                m.n, m.mae, m.rmse, m.wape, m.r2
            );
        }
    };
    for f in &report.folds {
        rows(&format!("{} .. {}", f.first_origin, f.last_origin), &f.scores);
    }
    rows("overall", &report.overall);
    if !report.per_group.is_empty() {
        println!("\nWAPE per group (overall)   {:>8} {:>16}", "model", report.best_baseline);
        for (group, s) in &report.per_group {
            let best = s.baselines.get(report.best_baseline).map_or(f64::NAN, |m| m.wape);
            println!("{group:<26} {:>8.4} {best:>16.4}", s.model.wape);
        }
    }
    println!("\nrefit on the last days with {} rounds; {}", report.refit_rounds, report.gate);
    println!("written to {} in {:.1}s", report.directory.display(), report.training_seconds);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(model: f64, mean28: f64, naive: f64) -> Scores {
        let m = |wape| Metrics { n: 10, mae: 1.0, rmse: 1.0, wape, r2: 0.5 };
        let baselines = [("moving_avg_28d", m(mean28)), ("seasonal_naive", m(naive))].into();
        Scores { model: m(model), baselines }
    }

    #[test]
    fn the_gate_keeps_the_model_only_when_it_beats_the_best_baseline() {
        let (forecaster, best, _) = choose(&scores(0.20, 0.25, 0.30));
        assert_eq!((forecaster, best), (Forecaster::Model, "moving_avg_28d"));
        let (forecaster, best, why) = choose(&scores(0.27, 0.25, 0.24));
        assert_eq!(forecaster, Forecaster::Baseline(Baseline::SeasonalNaive));
        assert_eq!(best, "seasonal_naive");
        assert!(why.contains("does not beat"), "{why}");
        let (tie, _, _) = choose(&scores(0.25, 0.25, 0.30));
        assert_eq!(tie, Forecaster::Baseline(Baseline::Mean28), "a tie keeps the baseline");
    }
}
