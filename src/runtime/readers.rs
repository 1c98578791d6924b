//! The inputs a worker reads: one reader thread per input decodes batches of records, so parsing
//! and the dataflow overlap, and hands them to the worker through a bounded queue. Live tables
//! (polled database tables) follow the sources once loaded.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use differential_dataflow::input::InputSession;
use shelfflow_connectors::{
    clock, CatchUp, ConnectorError, DeadLetter, EventClock, ReadStatus, SourceBatch, SourceReader,
};
use shelfflow_operators::{Diff, Row, Time};

use super::metrics::Metrics;
use super::RunError;
use crate::planner::{InputRole, Plan};

/// Records read from one input per call, between two looks at the dataflow. Small enough that
/// a batch's rows are still in cache when the next operator takes them (16 Ki cost 10-20 %).
const BATCH: usize = 1024;

/// Batches a reader thread has decoded, bounded so a fast reader cannot run far ahead.
const FEED_DEPTH: usize = 16;

/// An input this worker reads. Decoding runs on a reader thread of its own, so parsing and the
/// dataflow overlap; the input's records still arrive in file order.
pub(super) struct Owned {
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) role: InputRole,
    pub(super) handle: Option<InputSession<Time, Row, Diff>>,
    pub(super) feed: mpsc::Receiver<Fed>,
    pub(super) frontier: Time,
    /// `Some(worker)` for this worker's share of a partitioned input.
    pub(super) share: Option<usize>,
    /// A table that keeps changing (a polled database table): once loaded, its frontier follows
    /// the sources' and its changes are stamped with it; it closes when every source has ended.
    pub(super) live: bool,
    /// Its last batch said it has been quiet past its idle timeout (a followed topic without
    /// records): it is drained, never waited for.
    pub(super) quiet: bool,
    /// A source whose late arrivals something reads: their session, the event-time column and
    /// the newest event time read so far.
    pub(super) late: Option<LateArrivals>,
}

/// The `<source>.late_arrivals` input of one source this worker reads.
pub(super) struct LateArrivals {
    pub(super) session: InputSession<Time, Row, Diff>,
    pub(super) event_time: usize,
    pub(super) newest: Option<i64>,
}

impl LateArrivals {
    /// Adds the rows of a batch (in the order they were read) that arrived behind the newest
    /// event time so far, each with how far behind, at its own time.
    pub(super) fn note(&mut self, rows: &[(Row, Time)]) {
        for (row, time) in rows {
            let Some(micros) = shelfflow_connectors::clock::event_micros(&row[self.event_time])
            else {
                continue;
            };
            if let Some(late_by) = clock::arrival_lateness(&mut self.newest, micros) {
                let late = shelfflow_operators::late_arrival::row(row.clone(), late_by);
                // At the row's own time, as the source's rows are (never behind the session).
                let at = (*time).max(*self.session.time());
                self.session.update_at(late, at, 1);
            }
        }
    }

    /// Moves the session's time up to `frontier` and flushes it.
    pub(super) fn advance_to(&mut self, frontier: Time) {
        if *self.session.time() < frontier {
            self.session.advance_to(frontier);
        }
        self.session.flush();
    }
}

/// What a reader thread sends: one decoded batch, or the error that ended it.
pub(super) enum Fed {
    Batch {
        batch: SourceBatch,
        status: ReadStatus,
        frontier: Time,
        read_at: Instant,
        /// The source has been quiet past its idle timeout (see [`SourceReader::idle`]).
        quiet: bool,
    },
    Failed(ConnectorError),
}

/// Which frontiers an idle input follows (see [`Metrics::idle_follow`]).
struct Follow {
    input: usize,
    share: Option<usize>,
    /// The pipeline's sources.
    sources: Arc<[usize]>,
}

/// Starts the thread that reads and decodes one input. For a table (`unique_key` given), a row
/// whose key was already read is a dead letter: a table has one row per key.
fn spawn_reader(
    name: &str,
    mut reader: Box<dyn SourceReader>,
    mut clock: EventClock,
    unique_key: Option<Vec<usize>>,
    metrics: Arc<Metrics>,
    worker: usize,
    follow: Follow,
) -> Result<mpsc::Receiver<Fed>, RunError> {
    let (send, feed) = mpsc::sync_channel(FEED_DEPTH);
    let table = name.to_owned();
    let mut seen: std::collections::HashSet<Row> = std::collections::HashSet::new();
    let mut rows_read = 0usize;
    std::thread::Builder::new()
        .name(format!("read:{name}"))
        .spawn(move || loop {
            let mut batch = SourceBatch::default();
            let result = reader.read(BATCH, &mut clock, &mut batch);
            let quiet = matches!(result, Ok(ReadStatus::Idle)) && reader.idle();
            if quiet {
                // Nothing arrives: follow the other sources instead of holding them back.
                if let Some(to) = metrics.idle_follow(follow.input, follow.share, &follow.sources) {
                    clock.advance_to(to);
                }
            }
            metrics.positions.record(&table, worker, clock.frontier(), &batch.positions);
            if let (Some(key), Ok(_)) = (&unique_key, &result) {
                // A row deleted (or replaced) frees its key.
                for (row, _) in &batch.retracted {
                    seen.remove(&key.iter().map(|&c| row[c].clone()).collect::<Row>());
                }
                let rows = std::mem::take(&mut batch.rows);
                for (row, time) in rows {
                    rows_read += 1;
                    if seen.insert(key.iter().map(|&c| row[c].clone()).collect()) {
                        batch.rows.push((row, time));
                    } else {
                        let raw = serde_json::Value::Array(
                            row.iter().map(shelfflow_operators::Value::to_json).collect(),
                        )
                        .to_string();
                        let position = format!("{table}: row {rows_read}");
                        batch.dead.push(DeadLetter {
                            position,
                            reason: "duplicate key in table".to_owned(),
                            raw,
                            time,
                        });
                    }
                }
            }
            let fed = match result {
                Ok(status) => Fed::Batch {
                    batch,
                    status,
                    frontier: clock.frontier(),
                    read_at: Instant::now(),
                    quiet,
                },
                Err(e) => Fed::Failed(e),
            };
            let last =
                !matches!(fed, Fed::Batch { status: ReadStatus::More | ReadStatus::Idle, .. });
            if last {
                tracing::debug!(input = %table, frontier = clock.frontier(), "reader finished");
            }
            let idle = matches!(fed, Fed::Batch { status: ReadStatus::Idle, .. });
            if send.send(fed).is_err() || last || metrics.stopping() {
                return;
            }
            if idle {
                std::thread::sleep(Duration::from_millis(50));
            }
        })
        .map_err(|e| RunError::Dataflow(format!("cannot start the reader of `{name}`: {e}")))?;
    Ok(feed)
}

/// Applies every change a loaded live table's reader has sent so far, at the table's current
/// time (its changes happen "now" for the streams), without waiting for more.
fn apply_live_changes(
    table: &mut Owned,
    mut dead_input: Option<&mut InputSession<Time, Row, Diff>>,
    metrics: &Metrics,
) -> Result<(), RunError> {
    let Some(handle) = table.handle.as_mut() else { return Ok(()) };
    loop {
        match table.feed.try_recv() {
            Ok(Fed::Batch { mut batch, .. }) => {
                let now = *handle.time();
                let changes = (batch.rows.len() + batch.retracted.len()) as u64;
                for (row, _) in batch.retracted.drain(..) {
                    handle.update_at(row, now, -1);
                }
                for (row, _) in batch.rows.drain(..) {
                    handle.update_at(row, now, 1);
                }
                metrics.table_rows.fetch_add(changes, Ordering::Relaxed);
                if let Some(dead) = dead_input.as_deref_mut() {
                    send_dead_letters(&table.name, &mut batch.dead, dead, metrics);
                }
                handle.flush();
            }
            Ok(Fed::Failed(source)) => {
                return Err(RunError::Connector { component: table.name.clone(), source });
            }
            Err(_) => return Ok(()),
        }
    }
}

/// Counts `letters` and moves them into the dead-letter collection, each at its own time or the
/// collection's current one, whichever is later.
pub(super) fn send_dead_letters(
    source: &str,
    letters: &mut Vec<DeadLetter>,
    dead: &mut InputSession<Time, Row, Diff>,
    metrics: &Metrics,
) {
    metrics.count_dead_letters(letters);
    for letter in letters.drain(..) {
        let time = letter.time.max(*dead.time());
        dead.update_at(letter.into_row(source), time, 1);
    }
}

/// Microseconds since the epoch now.
fn wall_clock() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_micros() as u64)
}

/// Live tables, once loaded, follow the slowest source (on any worker): their changes so far
/// are applied at their current time and their frontier moves up to the sources'. They close
/// when every source has ended.
pub(super) fn advance_live_tables(
    owned: &mut [Owned],
    sources: &[usize],
    mut dead_input: Option<&mut InputSession<Time, Row, Diff>>,
    metrics: &Metrics,
    failure: &mut Option<RunError>,
) {
    let follow = shelfflow_connectors::clock::live_table_frontier(
        sources.iter().map(|&i| metrics.frontiers[i].load(Ordering::Relaxed)),
    );
    for table in owned.iter_mut().filter(|o| o.live && o.handle.is_some()) {
        if !metrics.caught_up[table.index].load(Ordering::Relaxed) {
            continue;
        }
        if let Err(e) = apply_live_changes(table, dead_input.as_deref_mut(), metrics) {
            metrics.fail(e.chain());
            failure.get_or_insert(e);
        }
        if follow <= table.frontier {
            continue;
        }
        if follow == Time::MAX {
            table.handle = None;
            metrics.set_frontier(table.index, table.share, Time::MAX);
            continue;
        }
        table.frontier = follow;
        let handle = table.handle.as_mut().expect("open");
        handle.advance_to(follow);
        handle.flush();
        metrics.set_frontier(table.index, table.share, follow);
    }
}

/// Where a worker stands: its index among all workers of all processes, their number, and the
/// workers per process.
#[derive(Clone, Copy)]
pub(super) struct WorkerAt {
    pub(super) index: usize,
    pub(super) peers: usize,
    pub(super) local: usize,
}

impl WorkerAt {
    /// Whether this worker reads input `i` that is not partitioned: every such input is read on
    /// process 0 (where the simulated store runs too), spread over its workers; the records are
    /// exchanged by key from there.
    fn reads(&self, i: usize) -> bool {
        i % self.local == self.index
    }
}

/// Starts a reader thread for every input this worker reads (its own inputs, and its share of
/// partitioned ones), paired with the input's session. A reader that cannot start is recorded
/// in `failure` and stops the run.
pub(super) fn start_readers(
    plan: &Plan,
    handles: Vec<Option<InputSession<Time, Row, Diff>>>,
    mut late: Vec<Option<InputSession<Time, Row, Diff>>>,
    at: WorkerAt,
    sources: &Arc<[usize]>,
    metrics: &Arc<Metrics>,
    failure: &mut Option<RunError>,
) -> Vec<Owned> {
    let (index, peers) = (at.index, at.peers);
    let mut owned = Vec::new();
    for (i, handle) in handles.into_iter().enumerate() {
        let Some(handle) = handle else {
            metrics.caught_up[i].store(true, Ordering::Relaxed);
            continue; // a stream of the simulated store
        };
        let input = &plan.inputs[i];
        let share = input.config.partitioned().then_some(index);
        if share.is_none() && !at.reads(i) {
            continue; // dropping the handle closes this worker's share of the input
        }
        let opened = match share {
            Some(_) => input.config.open_share(&input.schema, index, peers),
            None => input.config.open(&input.schema).map(Some),
        };
        let reader = match opened {
            Ok(Some(reader)) => reader,
            Ok(None) => continue, // no partition for this worker
            Err(source) => {
                let e = RunError::Connector { component: input.name.clone(), source };
                metrics.fail(e.chain());
                failure.get_or_insert(e);
                continue;
            }
        };
        tracing::debug!(worker = index, input = %input.name, origin = %input.config.describe(), "reading");
        let clock =
            EventClock::new(input.schema.event_time, plan.tick, input.lateness).with_catch_up(
                plan.catch_up.map(|(tick, lag)| CatchUp { tick, lag, now: wall_clock() }),
            );
        let unique_key =
            (input.role == InputRole::Table).then(|| input.schema.key.clone().unwrap_or_default());
        let follow = Follow { input: i, share, sources: sources.clone() };
        let feed = match spawn_reader(
            &input.name,
            reader,
            clock,
            unique_key,
            metrics.clone(),
            index,
            follow,
        ) {
            Ok(feed) => feed,
            Err(e) => {
                metrics.fail(e.chain());
                failure.get_or_insert(e);
                continue;
            }
        };
        if share.is_some() {
            metrics.set_frontier(i, share, 0); // holds the input's frontier until it reads
        }
        owned.push(Owned {
            index: i,
            name: input.name.clone(),
            role: input.role,
            handle: Some(handle),
            feed,
            frontier: 0,
            share,
            live: input.role == InputRole::Table && !input.config.is_finite(),
            quiet: false,
            late: late[i]
                .take()
                .zip(input.schema.event_time)
                .map(|(session, event_time)| LateArrivals { session, event_time, newest: None }),
        });
    }
    for (i, frontier) in metrics.frontiers.iter().enumerate() {
        let config = &plan.inputs[i].config;
        if at.reads(i) && config.simulation().is_none() && !config.partitioned() {
            frontier.store(0, Ordering::Relaxed);
        }
    }

    owned
}
