//! Reading a Fluvio topic: this worker's share of the partitions, one event-time watermark per
//! partition.
//!
//! A consumer thread streams the records of the worker's partitions and hands them over in
//! chunks; `read` decodes them against the schema. Each partition has its own [`EventClock`], so
//! whether a record is late depends only on its partition's own order, never on how partitions
//! interleave or on the worker count. The source's frontier is the smallest frontier of its
//! *active* partitions: a partition that delivered nothing for `idle_timeout` stops holding it
//! back, and a record it delivers later that is behind the source's frontier is a dead letter.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fluvio::consumer::{ConsumerConfigExtBuilder, OffsetManagementStrategy};
use fluvio::Offset;
use futures_util::StreamExt;

use super::client::{self, error};
use super::config::{FluvioSourceConfig, Start};
use crate::decode::JsonDecoder;
use crate::{
    ConnectorError, DeadLetter, EventClock, ReadStatus, Schema, SourceBatch, SourceReader, Time,
};

/// Records handed over at once by the consumer thread.
const CHUNK: usize = 4096;

/// Chunks the consumer thread may run ahead of the decoder.
const DEPTH: usize = 16;

/// What the consumer thread hands over: a record, or the end of a partition (`stop_at_end`).
#[derive(Debug)]
enum Fetched {
    Record { partition: u32, offset: i64, value: Vec<u8> },
    End { partition: u32 },
}

/// The per-partition watermarks of one reader; pure, so it is tested without a cluster.
#[derive(Debug)]
pub struct Watermarks {
    idle_timeout: Duration,
    partitions: BTreeMap<u32, PartitionClock>,
}

#[derive(Debug)]
struct PartitionClock {
    clock: EventClock,
    last_record: Instant,
    finished: bool,
}

impl Watermarks {
    /// Clocks for `partitions`, each a copy of `template`, all active from `now`.
    pub fn new(
        partitions: impl IntoIterator<Item = u32>,
        template: &EventClock,
        idle_timeout: Duration,
        now: Instant,
    ) -> Watermarks {
        let partitions = partitions
            .into_iter()
            .map(|p| {
                (p, PartitionClock { clock: template.clone(), last_record: now, finished: false })
            })
            .collect();
        Watermarks { idle_timeout, partitions }
    }

    /// Times a row of `partition` read at `now`: `Err` with the reason when it is late, either
    /// behind its own partition's frontier or behind `source_frontier` (which moved on while
    /// the partition was idle).
    pub fn stamp(
        &mut self,
        partition: u32,
        row: &[crate::Value],
        source_frontier: Time,
        now: Instant,
    ) -> Result<Time, String> {
        let Some(state) = self.partitions.get_mut(&partition) else {
            return Err(format!("partition {partition} is not read by this worker"));
        };
        state.last_record = now;
        let time = state.clock.stamp(row).map_err(|untimed| untimed.reason())?;
        if time < source_frontier {
            return Err(format!(
                "late: partition {partition} was idle while the source's frontier moved to {}",
                shelfflow_operators::value::format_timestamp(source_frontier as i64)
            ));
        }
        Ok(time)
    }

    /// Marks a partition as read to its end (`stop_at_end`).
    pub fn finish(&mut self, partition: u32) {
        if let Some(state) = self.partitions.get_mut(&partition) {
            state.finished = true;
        }
    }

    /// Whether no partition is active at `now`: each is finished or idle.
    pub fn all_idle(&self, now: Instant) -> bool {
        self.partitions
            .values()
            .all(|p| p.finished || now.duration_since(p.last_record) >= self.idle_timeout)
    }

    /// Whether every partition is finished.
    pub fn all_finished(&self) -> bool {
        self.partitions.values().all(|p| p.finished)
    }

    /// The frontier at `now`: the smallest frontier of the partitions that are neither finished
    /// nor idle; when there are none, the largest frontier of any partition (everything read so
    /// far is complete).
    pub fn frontier(&self, now: Instant) -> Time {
        let active = self
            .partitions
            .values()
            .filter(|p| !p.finished && now.duration_since(p.last_record) < self.idle_timeout);
        active.map(|p| p.clock.frontier()).min().unwrap_or_else(|| {
            self.partitions.values().map(|p| p.clock.frontier()).max().unwrap_or(0)
        })
    }
}

/// An open share of a Fluvio source.
pub struct FluvioReader {
    topic: String,
    decoder: JsonDecoder,
    idle_timeout: Duration,
    /// This worker's partitions.
    partitions: Vec<u32>,
    /// Whether the source ends at the partitions' ends as of opening (`stop_at_end`).
    stop_at_end: bool,
    /// The next offset of each partition.
    next: BTreeMap<u32, i64>,
    watermarks: Option<Watermarks>,
    feed: Option<mpsc::Receiver<Result<Vec<Fetched>, ConnectorError>>>,
    pending: std::collections::VecDeque<Fetched>,
}

impl FluvioReader {
    /// Opens worker `worker`'s share (partition `p` goes to worker `p % workers`) of the source.
    pub fn open(
        config: &FluvioSourceConfig,
        schema: &Schema,
        worker: usize,
        workers: usize,
    ) -> Result<FluvioReader, ConnectorError> {
        let topic = config.topic.clone();
        let cluster = config.cluster();
        let (fluvio, count) = fluvio_future::task::run_block_on(async {
            let fluvio = client::connect(&cluster).await?;
            let count = client::partition_count(&fluvio, &topic).await?.ok_or_else(|| {
                error(
                    &topic,
                    "no such topic (create it, or start `shelfflow simulate --to fluvio`)",
                )
            })?;
            Ok::<_, ConnectorError>((fluvio, count))
        })?;
        let wanted: Vec<u32> = config.partitions.clone().unwrap_or_else(|| (0..count).collect());
        if let Some(missing) = wanted.iter().find(|&&p| p >= count) {
            return Err(error(&topic, format!("has no partition {missing} ({count} partitions)")));
        }
        let mine: Vec<u32> =
            wanted.into_iter().filter(|&p| p as usize % workers.max(1) == worker).collect();
        let mut reader = FluvioReader {
            topic: topic.clone(),
            decoder: JsonDecoder::new(schema),
            idle_timeout: config.idle_timeout,
            partitions: mine.clone(),
            stop_at_end: config.stop_at_end,
            next: BTreeMap::new(),
            watermarks: None,
            feed: None,
            pending: Default::default(),
        };
        if mine.is_empty() || (config.stop_at_end && config.start == Start::End) {
            reader.partitions.clear();
            return Ok(reader);
        }
        let (send, feed) = mpsc::sync_channel(DEPTH);
        let consumer = Consumer {
            topic,
            partitions: mine,
            start: config.start,
            name: config.consumer.clone(),
            stop_at_end: config.stop_at_end,
            max_fetch_bytes: i32::try_from(config.max_fetch_bytes).unwrap_or(i32::MAX),
        };
        std::thread::Builder::new()
            .name(format!("fluvio:{}", config.topic))
            .spawn(move || fluvio_future::task::run_block_on(consumer.run(fluvio, send)))
            .map_err(|e| error(&config.topic, format!("cannot start the consumer thread: {e}")))?;
        reader.feed = Some(feed);
        Ok(reader)
    }

    /// Whether this worker reads any partition.
    pub fn has_partitions(&self) -> bool {
        !self.partitions.is_empty()
    }

    /// Takes records the consumer thread has handed over, waiting briefly when there are none.
    fn fill(&mut self, max: usize) -> Result<(), ConnectorError> {
        let Some(feed) = &self.feed else { return Ok(()) };
        let mut wait = self.pending.is_empty();
        while self.pending.len() < max {
            let chunk = if wait {
                wait = false;
                feed.recv_timeout(Duration::from_millis(20)).map_err(|e| match e {
                    mpsc::RecvTimeoutError::Timeout => None,
                    mpsc::RecvTimeoutError::Disconnected => Some(()),
                })
            } else {
                feed.try_recv().map_err(|e| match e {
                    mpsc::TryRecvError::Empty => None,
                    mpsc::TryRecvError::Disconnected => Some(()),
                })
            };
            match chunk {
                Ok(records) => self.pending.extend(records?),
                Err(None) => break,
                // With `stop_at_end` the streams end after the partitions' ends were handed
                // over; otherwise they never end on their own.
                Err(Some(())) if self.stop_at_end => {
                    self.feed = None;
                    break;
                }
                Err(Some(())) => {
                    return Err(error(&self.topic, "the consumer stopped"));
                }
            }
        }
        Ok(())
    }
}

/// The consumer thread's settings.
struct Consumer {
    topic: String,
    partitions: Vec<u32>,
    start: Start,
    name: Option<String>,
    stop_at_end: bool,
    max_fetch_bytes: i32,
}

/// One partition's stream, tagged with the partition and the stream's generation (it grows
/// each time the partition's stream is reopened).
type Tagged = futures_util::stream::BoxStream<'static, (u32, u32, Result<Fetched, ConnectorError>)>;

/// Where the consumer thread is in one partition.
#[derive(Default)]
struct Progress {
    /// The generation of the partition's current stream; items of older ones are dropped.
    generation: u32,
    /// Stops the current stream.
    abort: Option<futures_util::stream::AbortHandle>,
    /// The offset the next record must have (unknown until the first record).
    next: Option<i64>,
    /// Whether the stream was reopened and has not delivered a record since. A reopened
    /// stream starts with the batch holding the offset asked for, so its first record is at or
    /// before it, unless retention removed those records: a real gap, accepted.
    reopened: bool,
    /// The offset at which the partition's end was last confirmed (`stop_at_end`).
    end_checked_at: Option<i64>,
}

impl Consumer {
    /// Streams the partitions and hands records over in chunks.
    ///
    /// Each partition has its own stream; with `stop_at_end`, each ends at the partition's end
    /// as the SPU reports it when the stream opens, and the end is handed over as
    /// [`Fetched::End`] once a stream reopened there ends at once.
    ///
    /// Offsets within a partition are contiguous, so a record past the expected offset means
    /// the client skipped records: the 0.50 client takes a batch cut at the fetch's `max_bytes`
    /// for a whole one and acknowledges past its missing tail (fixed upstream in
    /// fluvio-community/fluvio#4627). The partition's stream is then reopened at the first
    /// missing offset, and records seen twice are dropped.
    async fn run(
        self,
        fluvio: fluvio::Fluvio,
        send: mpsc::SyncSender<Result<Vec<Fetched>, ConnectorError>>,
    ) {
        let mut progress: BTreeMap<u32, Progress> = BTreeMap::new();
        let mut streams = futures_util::stream::SelectAll::new();
        for &partition in &self.partitions {
            let state = progress.entry(partition).or_default();
            match self.open(&fluvio, partition, self.first_offset(), state).await {
                Ok(stream) => streams.push(stream),
                Err(e) => {
                    let _ = send.send(Err(e));
                    return;
                }
            }
        }
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            let next = if chunk.is_empty() {
                streams.next().await
            } else {
                // Hand the chunk over as soon as the streams have nothing ready.
                let timeout = fluvio_future::timer::sleep(Duration::from_millis(2));
                match futures_util::future::select(streams.next(), Box::pin(timeout)).await {
                    futures_util::future::Either::Left((next, _)) => next,
                    futures_util::future::Either::Right(_) => {
                        if send.send(Ok(std::mem::take(&mut chunk))).is_err() {
                            return;
                        }
                        continue;
                    }
                }
            };
            let Some((partition, generation, item)) = next else {
                if !chunk.is_empty() {
                    let _ = send.send(Ok(chunk));
                }
                return;
            };
            let state = progress.get_mut(&partition).expect("opened above");
            if generation != state.generation {
                continue; // from a stream that was replaced
            }
            let fetched = match item {
                Ok(fetched) => fetched,
                Err(e) => {
                    let _ = send.send(Err(e));
                    return;
                }
            };
            if let (Fetched::End { .. }, Some(next)) = (&fetched, state.next) {
                // A cut batch at the very end shows no gap: make sure by asking once more from
                // the next offset; only a stream that ends right away is the partition's end.
                if state.end_checked_at != Some(next) {
                    state.end_checked_at = Some(next);
                    if let Err(e) = self.reopen(&fluvio, partition, next, state, &mut streams).await
                    {
                        let _ = send.send(Err(e));
                        return;
                    }
                    continue;
                }
            }
            if let Fetched::Record { offset, .. } = &fetched {
                let offset = *offset;
                let reopened = std::mem::take(&mut state.reopened);
                match state.next {
                    Some(next) if offset < next => continue, // sent again after a reopen
                    Some(next) if offset > next && reopened => {
                        tracing::warn!(
                            topic = %self.topic, partition, from = next, to = offset,
                            "records no longer in the topic (retention): skipped"
                        );
                        state.next = Some(offset + 1);
                    }
                    Some(next) if offset > next => {
                        tracing::debug!(
                            topic = %self.topic, partition, expected = next, got = offset,
                            "offset gap: reopening the partition's stream"
                        );
                        if let Err(e) =
                            self.reopen(&fluvio, partition, next, state, &mut streams).await
                        {
                            let _ = send.send(Err(e));
                            return;
                        }
                        continue;
                    }
                    _ => state.next = Some(offset + 1),
                }
            }
            chunk.push(fetched);
            if chunk.len() >= CHUNK && send.send(Ok(std::mem::take(&mut chunk))).is_err() {
                return;
            }
        }
    }

    /// Where the streams start.
    fn first_offset(&self) -> Offset {
        match self.start {
            Start::End => Offset::end(),
            Start::Beginning | Start::Committed => Offset::beginning(),
        }
    }

    /// Reopens a partition's stream at offset `next`.
    async fn reopen(
        &self,
        fluvio: &fluvio::Fluvio,
        partition: u32,
        next: i64,
        state: &mut Progress,
        streams: &mut futures_util::stream::SelectAll<Tagged>,
    ) -> Result<(), ConnectorError> {
        let at = Offset::absolute(next).expect("offsets are not negative");
        streams.push(self.open(fluvio, partition, at, state).await?);
        state.reopened = true;
        Ok(())
    }

    /// Opens (or reopens, at `at`) one partition's stream, replacing the one `state` holds.
    async fn open(
        &self,
        fluvio: &fluvio::Fluvio,
        partition: u32,
        at: Offset,
        state: &mut Progress,
    ) -> Result<Tagged, ConnectorError> {
        let topic = &self.topic;
        if let Some(abort) = state.abort.take() {
            abort.abort();
        } else if let (Some(name), Start::Beginning | Start::End) = (&self.name, self.start) {
            // Starting over: the consumer's old position would otherwise win.
            let key = (topic.clone(), partition);
            let _ = fluvio.delete_consumer_offset(name.clone(), key).await;
        }
        state.generation += 1;
        let generation = state.generation;
        let mut builder = ConsumerConfigExtBuilder::default();
        builder
            .topic(topic.clone())
            .partition(partition)
            .disable_continuous(self.stop_at_end)
            .max_bytes(self.max_fetch_bytes)
            .offset_start(at);
        if let Some(name) = &self.name {
            builder.offset_consumer(name.clone()).offset_strategy(OffsetManagementStrategy::Auto);
        }
        let config = builder.build().map_err(|e| error(topic, format!("{e:#}")))?;
        let records = fluvio
            .consumer_with_config(config)
            .await
            .map_err(|e| error(topic, format!("cannot consume partition {partition}: {e:#}")))?;
        let (records, abort) = futures_util::stream::abortable(records);
        state.abort = Some(abort);
        let failed = topic.clone();
        let records = records.map(move |record| {
            let item = match record {
                Ok(record) => Ok(Fetched::Record {
                    partition,
                    offset: record.offset(),
                    value: record.value().to_vec(),
                }),
                Err(code) => Err(error(&failed, format!("partition {partition}: {code}"))),
            };
            (partition, generation, item)
        });
        let end = futures_util::stream::once(async move {
            (partition, generation, Ok(Fetched::End { partition }))
        });
        Ok(records.chain(end).boxed())
    }
}

impl SourceReader for FluvioReader {
    fn read(
        &mut self,
        max: usize,
        clock: &mut EventClock,
        out: &mut SourceBatch,
    ) -> Result<ReadStatus, ConnectorError> {
        let now = Instant::now();
        let watermarks = self.watermarks.get_or_insert_with(|| {
            Watermarks::new(self.partitions.iter().copied(), clock, self.idle_timeout, now)
        });
        if watermarks.all_finished() {
            return Ok(ReadStatus::Finished);
        }
        self.fill(max)?;
        let now = Instant::now();
        let watermarks = self.watermarks.as_mut().expect("created above");
        let mut records = 0;
        while let Some(fetched) = self.pending.pop_front() {
            let (partition, offset, value) = match fetched {
                Fetched::Record { partition, offset, value } => (partition, offset, value),
                Fetched::End { partition } => {
                    if self.stop_at_end {
                        watermarks.finish(partition);
                    }
                    continue;
                }
            };
            records += 1;
            self.next.insert(partition, offset + 1);
            let decoded = self.decoder.decode(&value).map_err(|e| e.to_string());
            let timed = decoded.and_then(|row| {
                watermarks.stamp(partition, &row, clock.frontier(), now).map(|t| (row, t))
            });
            match timed {
                Ok(timed) => out.rows.push(timed),
                Err(reason) => out.dead.push(DeadLetter {
                    position: format!("{}/{partition}@{offset}", self.topic),
                    reason,
                    raw: String::from_utf8_lossy(&value).into_owned(),
                    time: clock.frontier(),
                }),
            }
            if records >= max {
                break;
            }
        }
        clock.advance_to(watermarks.frontier(now));
        out.positions
            .extend(self.next.iter().map(|(&p, &next)| (format!("{}/{p}", self.topic), next)));
        let at_end =
            if watermarks.all_finished() { ReadStatus::Finished } else { ReadStatus::Idle };
        Ok(ReadStatus::after(records, at_end))
    }

    fn idle(&self) -> bool {
        self.watermarks.as_ref().is_some_and(|w| w.all_idle(Instant::now()))
    }
}
