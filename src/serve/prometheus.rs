//! `GET /metrics`: the counters of every running pipeline in the Prometheus text format, encoded
//! at scrape time from the runs' own counters by a `prometheus-client` collector.

use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry as Exposition;

use crate::planner::{InputRole, Plan};
use crate::runtime::Metrics;

/// Whatever holds runs to expose: the `serve` registry, or the one deployment of `run --watch`.
pub trait Runs: std::fmt::Debug + Send + Sync + 'static {
    /// Calls `f` with each run's pipeline name, plan and counters.
    fn each_run(&self, f: &mut dyn FnMut(&str, &Plan, &Metrics));
}

type Labels = Vec<(&'static str, String)>;

/// Encodes every run's counters on each scrape.
#[derive(Debug)]
struct RunsCollector<R: Runs>(std::sync::Arc<R>);

/// One metric family: its samples, collected over every run before encoding.
struct Family<M> {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Labels, M)>,
}

impl<M: EncodeMetric> Family<M> {
    fn new(name: &'static str, help: &'static str) -> Family<M> {
        Family { name, help, samples: Vec::new() }
    }

    fn encode(&self, encoder: &mut DescriptorEncoder, kind: MetricType) -> std::fmt::Result {
        let mut family = encoder.encode_descriptor(self.name, self.help, None, kind)?;
        for (labels, metric) in &self.samples {
            metric.encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}

impl<R: Runs> Collector for RunsCollector<R> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut events = Family::new("shelfflow_events_in", "Records read from sources.");
        let mut table_rows = Family::new("shelfflow_table_rows", "Rows read from tables.");
        let mut dead =
            Family::new("shelfflow_dead_letters", "Records sent to the dead letters, by reason.");
        let mut changes = Family::new("shelfflow_changes_out", "Changes written, by sink.");
        let mut violations = Family::new(
            "shelfflow_check_violations",
            "Data-quality violations standing now, by check operator.",
        );
        let mut frontier = Family::new(
            "shelfflow_source_frontier_seconds",
            "Event time each input has completed, in seconds since the epoch.",
        );
        let mut lag = Family::new(
            "shelfflow_source_lag_seconds",
            "How far each open source's event time is behind the wall clock.",
        );
        let mut committed = Family::new(
            "shelfflow_sink_committed_seconds",
            "Event time up to which each sink has written every change.",
        );
        let mut latency = Vec::new();
        let now = chrono::Utc::now().timestamp_micros().max(0) as u64;
        self.0.each_run(&mut |pipeline, plan, metrics| {
            let of = |extra: Option<(&'static str, &str)>| -> Labels {
                let mut labels = vec![("pipeline", pipeline.to_owned())];
                labels.extend(extra.map(|(k, v)| (k, v.to_owned())));
                labels
            };
            let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            events.samples.push((of(None), ConstCounter::new(load(&metrics.events_in))));
            table_rows.samples.push((of(None), ConstCounter::new(load(&metrics.table_rows))));
            let kinds = metrics.dead_letter_kinds.lock().map(|k| k.clone()).unwrap_or_default();
            for (kind, n) in kinds {
                dead.samples.push((of(Some(("reason", &kind))), ConstCounter::new(n)));
            }
            let checks = metrics.violations.lock().map(|v| v.clone()).unwrap_or_default();
            for (check, n) in checks {
                violations.samples.push((of(Some(("check", &check))), ConstGauge::new(n as f64)));
            }
            for (i, sink) in plan.sinks.iter().enumerate() {
                let labels = of(Some(("sink", &sink.name)));
                changes
                    .samples
                    .push((labels.clone(), ConstCounter::new(load(&metrics.changes[i]))));
                if let Some(t) = metrics.committed_until(i) {
                    committed.samples.push((labels, ConstGauge::new(t as f64 / 1e6)));
                }
            }
            for (i, input) in plan.inputs.iter().enumerate() {
                let at = load(&metrics.frontiers[i]);
                if input.role != InputRole::Source || at == u64::MAX {
                    continue;
                }
                let labels = of(Some(("source", &input.name)));
                frontier.samples.push((labels.clone(), ConstGauge::new(at as f64 / 1e6)));
                lag.samples.push((labels, ConstGauge::new(now.saturating_sub(at) as f64 / 1e6)));
            }
            latency.push((of(None), metrics.latency_histogram.clone()));
        });
        events.encode(&mut encoder, MetricType::Counter)?;
        table_rows.encode(&mut encoder, MetricType::Counter)?;
        dead.encode(&mut encoder, MetricType::Counter)?;
        changes.encode(&mut encoder, MetricType::Counter)?;
        violations.encode(&mut encoder, MetricType::Gauge)?;
        frontier.encode(&mut encoder, MetricType::Gauge)?;
        lag.encode(&mut encoder, MetricType::Gauge)?;
        committed.encode(&mut encoder, MetricType::Gauge)?;
        let latency = Family {
            name: "shelfflow_sink_commit_latency_seconds",
            help: "From reading a batch of records to every sink having committed its results.",
            samples: latency,
        };
        latency.encode(&mut encoder, MetricType::Histogram)?;
        let process = [
            (
                "shelfflow_postgres_retries",
                "PostgreSQL connection and commit attempts retried.",
                shelfflow_connectors::postgres::RETRIES.load(Ordering::Relaxed),
            ),
            (
                "shelfflow_sse_clients_dropped",
                "Server-Sent-Events clients dropped for falling behind.",
                super::views::DROPPED_CLIENTS.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in process {
            ConstCounter::new(value).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)?;
        }
        Ok(())
    }
}

/// The exposition of `runs`, for `GET /metrics`.
pub fn exposition<R: Runs>(runs: std::sync::Arc<R>) -> Exposition {
    let mut exposition = Exposition::default();
    exposition.register_collector(Box::new(RunsCollector(runs)));
    exposition
}

/// The response to a scrape: the text exposition.
pub fn response(exposition: &Exposition) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, exposition).is_err() {
        text.clear();
    }
    let kind = "text/plain; version=0.0.4; charset=utf-8";
    ([(axum::http::header::CONTENT_TYPE, kind)], text).into_response()
}
