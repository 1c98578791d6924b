//! Run counters, shared by the workers and the progress line. Workers add once per batch, never
//! per record.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use shelfflow_connectors::{DeadLetter, SourcePositions};
use shelfflow_operators::Time;

/// Per partitioned input, per worker: its share's frontier and whether it has caught up.
type Shares = BTreeMap<usize, BTreeMap<usize, (Time, bool)>>;

/// Counters of one run.
#[derive(Debug)]
pub struct Metrics {
    /// Rows read from sources (not tables).
    pub events_in: AtomicU64,
    /// Rows read from tables.
    pub table_rows: AtomicU64,
    /// Records sent to the dead-letter output.
    pub dead_letters: AtomicU64,
    /// Dead letters by the kind of their reason ([`DeadLetter::kind`]).
    pub dead_letter_kinds: Mutex<BTreeMap<String, u64>>,
    /// Violations found by each `check` operator, by its name.
    pub violations: Mutex<BTreeMap<String, u64>>,
    /// The earliest violation seen of a check with `on_violation: fail`: its time, the check
    /// and the violation.
    pub failed_check: Mutex<Option<(Time, String, String)>>,
    /// Per input: its frontier (event-time µs), `u64::MAX` once finished.
    pub frontiers: Vec<AtomicU64>,
    /// Per sink: changes written.
    pub changes: Vec<AtomicU64>,
    /// Per sink: one past the last time it has written every change of (0: none yet).
    pub committed: Vec<AtomicU64>,
    /// Per input: it has delivered everything available at least once (end of file, or the end
    /// of what a followed file holds so far).
    pub caught_up: Vec<AtomicBool>,
    /// Set to stop every worker (Ctrl-C, redeploy, write failure).
    pub stop: AtomicBool,
    /// Batch latencies in microseconds: from reading a batch to its results being committed.
    pub latencies: Mutex<Vec<u32>>,
    /// The same latencies in seconds, as a Prometheus histogram.
    pub latency_histogram: Histogram,
    /// Per partitioned input (read by several workers), per worker: its share's frontier and
    /// whether the share has caught up.
    shares: Mutex<Shares>,
    /// Where the sources with offsets have read to, for the sinks' progress rows.
    pub positions: SourcePositions,
    /// Why this process stopped the run, if it failed: the first failure's text.
    failure: Mutex<Option<String>>,
    /// The stop has been told to the other processes of a cluster, or came from one of them.
    pub(super) stop_told: AtomicBool,
    /// Another process stopped the run: which, and its failure if it failed.
    stopped_by: Mutex<Option<(usize, Option<String>)>>,
    /// Workers of this process done with the pipeline's dataflow.
    pub(super) drained: AtomicUsize,
    /// The other processes of a cluster that said which pipeline they run: `(process, shape)`.
    hellos: Mutex<Vec<(usize, u64)>>,
}

/// What one process of a cluster counted, for the summary of process 0.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    events_in: u64,
    table_rows: u64,
    dead_letter_kinds: Vec<(String, u64)>,
    violations: Vec<(String, u64)>,
    changes: Vec<u64>,
    latencies: Vec<u32>,
}

impl Metrics {
    /// Counters for `inputs` inputs and `sinks` sinks.
    pub fn new(inputs: usize, sinks: usize) -> Metrics {
        Metrics {
            events_in: AtomicU64::new(0),
            table_rows: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            dead_letter_kinds: Mutex::new(BTreeMap::new()),
            violations: Mutex::new(BTreeMap::new()),
            failed_check: Mutex::new(None),
            frontiers: (0..inputs).map(|_| AtomicU64::new(0)).collect(),
            changes: (0..sinks).map(|_| AtomicU64::new(0)).collect(),
            committed: (0..sinks).map(|_| AtomicU64::new(0)).collect(),
            caught_up: (0..inputs).map(|_| AtomicBool::new(false)).collect(),
            stop: AtomicBool::new(false),
            latencies: Mutex::new(Vec::new()),
            latency_histogram: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            shares: Mutex::new(BTreeMap::new()),
            positions: SourcePositions::default(),
            failure: Mutex::new(None),
            stop_told: AtomicBool::new(false),
            stopped_by: Mutex::new(None),
            drained: AtomicUsize::new(0),
            hellos: Mutex::new(Vec::new()),
        }
    }

    /// Stops the run because of a failure (the first one's text is kept, for other processes).
    pub fn fail(&self, reason: impl std::fmt::Display) {
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure.get_or_insert_with(|| reason.to_string());
        self.request_stop();
    }

    /// The first failure of this process, if it failed.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok()?.clone()
    }

    /// Stops the run because process `process` of the cluster stopped it (with its failure, if
    /// it failed).
    pub fn stop_from(&self, process: usize, failure: Option<String>) {
        self.stop_told.store(true, Ordering::SeqCst);
        let mut by = self.stopped_by.lock().unwrap_or_else(|p| p.into_inner());
        by.get_or_insert((process, failure));
        self.request_stop();
    }

    /// The process of the cluster that stopped the run, and its failure if it failed.
    pub fn stopped_by(&self) -> Option<(usize, Option<String>)> {
        self.stopped_by.lock().ok()?.clone()
    }

    /// Records that process `process` of the cluster runs a pipeline of shape `shape`.
    pub(super) fn hello(&self, process: usize, shape: u64) {
        self.hellos.lock().unwrap_or_else(|p| p.into_inner()).push((process, shape));
    }

    /// The processes that said which pipeline they run.
    pub(super) fn hellos(&self) -> Vec<(usize, u64)> {
        self.hellos.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// Worker `worker`'s share of partitioned input `input`: its frontier and whether it has
    /// caught up.
    pub fn share(&self, input: usize, worker: usize) -> Option<(Time, bool)> {
        self.shares.lock().ok()?.get(&input)?.get(&worker).copied()
    }

    /// This process's counts, for process 0's summary.
    pub fn counts(&self) -> Counts {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let map = |m: &Mutex<BTreeMap<String, u64>>| {
            m.lock().map(|m| m.iter().map(|(k, n)| (k.clone(), *n)).collect()).unwrap_or_default()
        };
        Counts {
            events_in: load(&self.events_in),
            table_rows: load(&self.table_rows),
            dead_letter_kinds: map(&self.dead_letter_kinds),
            violations: map(&self.violations),
            changes: self.changes.iter().map(load).collect(),
            latencies: self.latencies.lock().map(|l| l.clone()).unwrap_or_default(),
        }
    }

    /// Adds another process's counts to this one's.
    pub fn absorb(&self, counts: &Counts) {
        self.events_in.fetch_add(counts.events_in, Ordering::Relaxed);
        self.table_rows.fetch_add(counts.table_rows, Ordering::Relaxed);
        self.count_kinds(counts.dead_letter_kinds.iter().map(|(kind, n)| (kind.as_str(), *n)));
        for (check, n) in &counts.violations {
            self.count_violations(check, i64::try_from(*n).unwrap_or(i64::MAX));
        }
        for (index, n) in counts.changes.iter().enumerate().filter(|(i, _)| *i < self.changes.len())
        {
            self.add_changes(index, *n);
        }
        self.record_latencies(&counts.latencies);
    }

    /// Sets the frontier of input `input`, or of worker `share`'s share of it: a partitioned
    /// input's frontier is the smallest of its shares'.
    pub fn set_frontier(&self, input: usize, share: Option<usize>, frontier: Time) {
        let frontier = match share {
            None => frontier,
            Some(worker) => {
                let Ok(mut shares) = self.shares.lock() else { return };
                let shares = shares.entry(input).or_default();
                shares.entry(worker).or_insert((0, false)).0 = frontier;
                shares.values().map(|(f, _)| *f).min().unwrap_or(frontier)
            }
        };
        self.frontiers[input].store(frontier, Ordering::Relaxed);
    }

    /// The frontier an idle input (or share) may follow: the slowest other open source among
    /// `sources`, or, for a share, the furthest other share of the same input, whichever is
    /// lower; `None` when there is nothing to follow.
    pub fn idle_follow(
        &self,
        input: usize,
        share: Option<usize>,
        sources: &[usize],
    ) -> Option<Time> {
        let others = sources
            .iter()
            .filter(|&&i| i != input)
            .map(|&i| self.frontiers[i].load(Ordering::Relaxed));
        let shares: Vec<Time> = share
            .and_then(|worker| {
                let shares = self.shares.lock().ok()?;
                let of_input = shares.get(&input)?;
                Some(of_input.iter().filter(|(w, _)| **w != worker).map(|(_, (f, _))| *f).collect())
            })
            .unwrap_or_default();
        shelfflow_connectors::clock::idle_frontier(others, shares)
    }

    /// Marks input `input` (or worker `share`'s share of it) as caught up; a partitioned input
    /// has caught up when all its shares have.
    pub fn set_caught_up(&self, input: usize, share: Option<usize>) {
        let all = match share {
            None => true,
            Some(worker) => {
                let Ok(mut shares) = self.shares.lock() else { return };
                let shares = shares.entry(input).or_default();
                shares.entry(worker).or_insert((0, false)).1 = true;
                shares.values().all(|(_, c)| *c)
            }
        };
        if all {
            self.caught_up[input].store(true, Ordering::Relaxed);
        }
    }

    /// Adds written changes of sink `index`.
    pub fn add_changes(&self, index: usize, n: u64) {
        self.changes[index].fetch_add(n, Ordering::Relaxed);
    }

    /// Records that sink `index` has written every change up to `time`.
    pub fn set_committed(&self, index: usize, time: Time) {
        self.committed[index].fetch_max(time.saturating_add(1), Ordering::Relaxed);
    }

    /// The last time sink `index` has written every change of, if any.
    pub fn committed_until(&self, index: usize) -> Option<Time> {
        self.committed[index].load(Ordering::Relaxed).checked_sub(1)
    }

    /// Whether every input has caught up with what is available.
    pub fn all_caught_up(&self) -> bool {
        self.caught_up.iter().all(|c| c.load(Ordering::Relaxed))
    }

    /// Asks every worker to stop.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was requested.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The smallest frontier of the inputs still running, if any.
    pub fn watermark(&self) -> Option<u64> {
        self.frontiers.iter().map(|f| f.load(Ordering::Relaxed)).filter(|f| *f != u64::MAX).min()
    }

    /// Counts dead letters read from the inputs, in total and by kind.
    pub fn count_dead_letters(&self, letters: &[DeadLetter]) {
        self.count_kinds(letters.iter().map(|l| (l.kind(), 1)));
    }

    /// Counts `n` dead letters of one kind of reason ([`shelfflow_connectors::reason_kind`]).
    pub fn count_dead_letter(&self, kind: &str, n: u64) {
        self.count_kinds(std::iter::once((kind, n)));
    }

    /// Adds `(kind, n)` counts to the total and to each kind, under one lock.
    fn count_kinds<'a>(&self, counts: impl Iterator<Item = (&'a str, u64)>) {
        let mut kinds = self.dead_letter_kinds.lock().unwrap_or_else(|p| p.into_inner());
        for (kind, n) in counts {
            self.dead_letters.fetch_add(n, Ordering::Relaxed);
            match kinds.get_mut(kind) {
                Some(count) => *count += n,
                None => {
                    kinds.insert(kind.to_owned(), n);
                }
            }
        }
    }

    /// Counts `n` violations (negative: retracted) found by check `check`.
    pub fn count_violations(&self, check: &str, n: i64) {
        let mut all = self.violations.lock().unwrap_or_else(|p| p.into_inner());
        let count = all.entry(check.to_owned()).or_default();
        *count = count.saturating_add_signed(n);
    }

    /// Stops the run because check `check` found `violation` at `time` and must fail; the
    /// earliest one seen (by time, then check and text) is kept for the error.
    pub fn fail_check(&self, time: Time, check: &str, violation: String) {
        let mut failed = self.failed_check.lock().unwrap_or_else(|p| p.into_inner());
        let found = (time, check.to_owned(), violation);
        if failed.as_ref().is_none_or(|earliest| found < *earliest) {
            *failed = Some(found);
        }
        self.request_stop();
    }

    /// Records batch latencies.
    pub fn record_latencies(&self, micros: &[u32]) {
        for &m in micros {
            self.latency_histogram.observe(f64::from(m) / 1e6);
        }
        if let Ok(mut all) = self.latencies.lock() {
            all.extend_from_slice(micros);
        }
    }

    /// The p-th percentile (0..=100) of batch latencies in microseconds.
    pub fn latency_percentile(&self, p: f64) -> Option<u32> {
        let mut all = self.latencies.lock().ok()?.clone();
        if all.is_empty() {
            return None;
        }
        all.sort_unstable();
        let rank = ((p / 100.0) * (all.len() - 1) as f64).round() as usize;
        Some(all[rank.min(all.len() - 1)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_input_follows_the_slowest_other_open_source() {
        let metrics = Metrics::new(4, 0);
        metrics.set_frontier(1, None, 50);
        metrics.set_frontier(2, None, 80);
        metrics.set_frontier(3, None, Time::MAX); // finished: nothing to follow
        assert_eq!(metrics.idle_follow(0, None, &[0, 1, 2, 3]), Some(50));
        assert_eq!(metrics.idle_follow(0, None, &[0, 3]), None);
    }

    #[test]
    fn an_idle_share_follows_the_other_shares_of_its_input() {
        let metrics = Metrics::new(2, 0);
        metrics.set_frontier(0, Some(0), 0);
        metrics.set_frontier(0, Some(1), 70);
        metrics.set_frontier(0, Some(2), 90);
        assert_eq!(metrics.idle_follow(0, Some(0), &[0]), Some(90));
        // Another source further behind bounds it.
        metrics.set_frontier(1, None, 60);
        assert_eq!(metrics.idle_follow(0, Some(0), &[0, 1]), Some(60));
    }

    #[test]
    fn counts_of_another_process_add_up() {
        let ours = Metrics::new(1, 2);
        let theirs = Metrics::new(1, 2);
        ours.events_in.store(10, Ordering::Relaxed);
        theirs.events_in.store(5, Ordering::Relaxed);
        ours.count_dead_letter("late", 1);
        theirs.count_dead_letter("late", 2);
        theirs.count_dead_letter("malformed", 3);
        theirs.count_violations("no_negative_stock", 4);
        theirs.add_changes(1, 7);
        theirs.record_latencies(&[100, 300]);
        ours.absorb(&theirs.counts());
        assert_eq!(ours.events_in.load(Ordering::Relaxed), 15);
        assert_eq!(ours.dead_letters.load(Ordering::Relaxed), 6);
        assert_eq!(ours.dead_letter_kinds.lock().unwrap()["late"], 3);
        assert_eq!(ours.violations.lock().unwrap()["no_negative_stock"], 4);
        assert_eq!(ours.changes[1].load(Ordering::Relaxed), 7);
        assert_eq!(ours.latency_percentile(100.0), Some(300));
    }
}
