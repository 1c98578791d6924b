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

use fluvio::consumer::{ConsumerConfigExtBuilder, ConsumerStream, OffsetManagementStrategy};
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

/// One record as read.
#[derive(Debug)]
struct Raw {
    partition: u32,
    offset: i64,
    value: Vec<u8>,
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
    /// This worker's partitions and where each reading stops (`stop_at_end`).
    partitions: BTreeMap<u32, Option<i64>>,
    /// The next offset of each partition.
    next: BTreeMap<u32, i64>,
    watermarks: Option<Watermarks>,
    feed: Option<mpsc::Receiver<Result<Vec<Raw>, ConnectorError>>>,
    pending: std::collections::VecDeque<Raw>,
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
        let (fluvio, count, ends) = fluvio_future::task::run_block_on(async {
            let fluvio = client::connect(&cluster).await?;
            let count = client::partition_count(&fluvio, &topic).await?.ok_or_else(|| {
                error(
                    &topic,
                    "no such topic (create it, or start `shelfflow simulate --to fluvio`)",
                )
            })?;
            let ends = client::end_offsets(&fluvio, &topic).await?;
            Ok::<_, ConnectorError>((fluvio, count, ends))
        })?;
        let wanted: Vec<u32> = config.partitions.clone().unwrap_or_else(|| (0..count).collect());
        if let Some(missing) = wanted.iter().find(|&&p| p >= count) {
            return Err(error(&topic, format!("has no partition {missing} ({count} partitions)")));
        }
        let mine: Vec<u32> =
            wanted.into_iter().filter(|&p| p as usize % workers.max(1) == worker).collect();
        let partitions: BTreeMap<u32, Option<i64>> = mine
            .iter()
            .map(|&p| (p, config.stop_at_end.then(|| ends.get(&p).copied().unwrap_or(0))))
            .collect();
        let mut reader = FluvioReader {
            topic: topic.clone(),
            decoder: JsonDecoder::new(schema),
            idle_timeout: config.idle_timeout,
            partitions,
            next: BTreeMap::new(),
            watermarks: None,
            feed: None,
            pending: Default::default(),
        };
        if mine.is_empty() || (config.stop_at_end && config.start == Start::End) {
            return Ok(reader);
        }
        let (send, feed) = mpsc::sync_channel(DEPTH);
        let consumer = config.consumer.clone();
        let start = config.start;
        std::thread::Builder::new()
            .name(format!("fluvio:{topic}"))
            .spawn(move || {
                fluvio_future::task::run_block_on(consume(
                    fluvio, topic, mine, start, consumer, send,
                ))
            })
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
                Err(Some(())) => {
                    return Err(error(&self.topic, "the consumer stopped"));
                }
            }
        }
        Ok(())
    }
}

/// The consumer thread: streams `partitions` from `start` and hands records over in chunks.
async fn consume(
    fluvio: fluvio::Fluvio,
    topic: String,
    partitions: Vec<u32>,
    start: Start,
    consumer: Option<String>,
    send: mpsc::SyncSender<Result<Vec<Raw>, ConnectorError>>,
) {
    let stream = async {
        if let (Some(name), Start::Beginning | Start::End) = (&consumer, start) {
            // Starting over: the consumer's old position would otherwise win.
            for &p in &partitions {
                let _ = fluvio.delete_consumer_offset(name.clone(), (topic.clone(), p)).await;
            }
        }
        let mut builder = ConsumerConfigExtBuilder::default();
        builder.topic(topic.clone()).offset_start(match start {
            Start::End => Offset::end(),
            Start::Beginning | Start::Committed => Offset::beginning(),
        });
        for &p in &partitions {
            builder.partition(p);
        }
        if let Some(name) = &consumer {
            builder.offset_consumer(name.clone()).offset_strategy(OffsetManagementStrategy::Auto);
        }
        let config = builder.build().map_err(|e| error(&topic, format!("{e:#}")))?;
        fluvio
            .consumer_with_config(config)
            .await
            .map_err(|e| error(&topic, format!("cannot consume: {e:#}")))
    };
    let mut stream = match stream.await {
        Ok(stream) => stream,
        Err(e) => {
            let _ = send.send(Err(e));
            return;
        }
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        let next = if chunk.is_empty() {
            stream.next().await
        } else {
            // Hand the chunk over as soon as the stream has nothing ready.
            let timeout = fluvio_future::timer::sleep(Duration::from_millis(2));
            match futures_util::future::select(stream.next(), Box::pin(timeout)).await {
                futures_util::future::Either::Left((next, _)) => next,
                futures_util::future::Either::Right(_) => {
                    if send.send(Ok(std::mem::take(&mut chunk))).is_err() {
                        break;
                    }
                    continue;
                }
            }
        };
        match next {
            Some(Ok(record)) => {
                chunk.push(Raw {
                    partition: record.partition(),
                    offset: record.offset(),
                    value: record.value().to_vec(),
                });
                if chunk.len() >= CHUNK && send.send(Ok(std::mem::take(&mut chunk))).is_err() {
                    break;
                }
            }
            Some(Err(code)) => {
                let _ = send.send(Err(error(&topic, format!("consumer error: {code}"))));
                break;
            }
            None => break,
        }
    }
    if consumer.is_some() {
        let _ = stream.offset_flush().await;
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
            let mut w =
                Watermarks::new(self.partitions.keys().copied(), clock, self.idle_timeout, now);
            for (&p, end) in &self.partitions {
                if *end == Some(0) {
                    w.finish(p);
                }
            }
            w
        });
        if watermarks.all_finished() {
            return Ok(ReadStatus::Finished);
        }
        self.fill(max)?;
        let now = Instant::now();
        let watermarks = self.watermarks.as_mut().expect("created above");
        let mut records = 0;
        while let Some(raw) = self.pending.pop_front() {
            let end = self.partitions.get(&raw.partition).copied().flatten();
            if end.is_some_and(|end| raw.offset >= end) {
                continue; // produced after a backfill started
            }
            records += 1;
            self.next.insert(raw.partition, raw.offset + 1);
            let decoded = self.decoder.decode(&raw.value).map_err(|e| e.to_string());
            let timed = decoded.and_then(|row| {
                watermarks.stamp(raw.partition, &row, clock.frontier(), now).map(|t| (row, t))
            });
            match timed {
                Ok(timed) => out.rows.push(timed),
                Err(reason) => out.dead.push(DeadLetter {
                    position: format!("{}/{}@{}", self.topic, raw.partition, raw.offset),
                    reason,
                    raw: String::from_utf8_lossy(&raw.value).into_owned(),
                    time: clock.frontier(),
                }),
            }
            if end.is_some_and(|end| raw.offset + 1 >= end) {
                watermarks.finish(raw.partition);
            }
            if records >= max {
                break;
            }
        }
        clock.advance_to(watermarks.frontier(now));
        out.positions
            .extend(self.next.iter().map(|(&p, &next)| (format!("{}/{p}", self.topic), next)));
        Ok(if records > 0 {
            ReadStatus::More
        } else if watermarks.all_finished() {
            ReadStatus::Finished
        } else {
            ReadStatus::Idle
        })
    }
}
