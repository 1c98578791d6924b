//! Writing a changelog to a Fluvio topic.
//!
//! `write` renders each change into a keyed record and queues it for the producer thread (a
//! bounded queue: a slow cluster holds the dataflow back instead of growing memory). The producer
//! batches records (`batch_size`, `linger`, `compression`) and flushes whenever its queue runs
//! dry, and at `finish`.

use std::sync::mpsc;
use std::thread::JoinHandle;

use fluvio::{Compression as FluvioCompression, RecordKey, TopicProducerConfigBuilder};

use super::client::{self, error};
use super::config::{Compression, FluvioSinkConfig};
use crate::decode::{format_time, JsonObjects};
use crate::{Change, ChangeOp, ConnectorError, SinkContext, SinkWriter, Time, Value};

/// Chunks of records queued for the producer thread.
const DEPTH: usize = 64;

/// What the producer thread is sent.
enum Produce {
    Records(Vec<(Vec<u8>, Vec<u8>)>),
    /// Flush, then answer.
    Flush(mpsc::SyncSender<Result<(), ConnectorError>>),
}

/// An open Fluvio sink.
pub struct FluvioWriter {
    topic: String,
    keys: JsonObjects,
    rows: JsonObjects,
    key_columns: Vec<usize>,
    /// `{op, key, row, time}` records; without it, the row object alone (dead letters).
    envelope: bool,
    queue: Option<mpsc::SyncSender<Produce>>,
    thread: Option<JoinHandle<Result<(), ConnectorError>>>,
}

impl FluvioWriter {
    /// Connects, creates the topic when absent and starts the producer thread.
    pub fn open(
        config: &FluvioSinkConfig,
        ctx: &SinkContext,
        envelope: bool,
    ) -> Result<FluvioWriter, ConnectorError> {
        let topic = config.topic.clone();
        let cluster = config.cluster();
        let mut producer_config = TopicProducerConfigBuilder::default();
        producer_config.batch_size(config.batch_size).linger(config.linger);
        producer_config.compression(match config.compression {
            Compression::None => FluvioCompression::None,
            Compression::Gzip => FluvioCompression::Gzip,
            Compression::Snappy => FluvioCompression::Snappy,
            Compression::Lz4 => FluvioCompression::Lz4,
            Compression::Zstd => FluvioCompression::Zstd,
        });
        let producer_config =
            producer_config.build().map_err(|e| error(&topic, format!("producer: {e:#}")))?;
        let (partitions, retention) = (config.partitions, config.retention);
        let producer = fluvio_future::task::run_block_on(async {
            let fluvio = client::connect(&cluster).await?;
            client::ensure_topic(&fluvio, &topic, partitions, retention).await?;
            let producer = fluvio
                .topic_producer_with_config(topic.clone(), producer_config)
                .await
                .map_err(|e| error(&topic, format!("cannot produce: {e:#}")))?;
            Ok::<_, ConnectorError>((fluvio, producer))
        })?;
        let (queue, jobs) = mpsc::sync_channel(DEPTH);
        let name = topic.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fluvio-out:{topic}"))
            .spawn(move || fluvio_future::task::run_block_on(produce(producer, name, jobs)))
            .map_err(|e| error(&topic, format!("cannot start the producer thread: {e}")))?;
        Ok(FluvioWriter {
            topic,
            keys: JsonObjects::of(&ctx.schema, &ctx.key),
            rows: JsonObjects::all(&ctx.schema),
            key_columns: ctx.key.clone(),
            envelope,
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// The record key of a row: a single key column's value as text, else the key as a JSON
    /// object (`{}` for a collection of at most one row).
    fn key(&self, row: &[Value]) -> Vec<u8> {
        match self.key_columns.as_slice() {
            [column] => match row[*column].to_json() {
                serde_json::Value::String(text) => text.into_bytes(),
                other => other.to_string().into_bytes(),
            },
            _ => self.keys.render(row).to_string().into_bytes(),
        }
    }

    fn send(&mut self, job: Produce) -> Result<(), ConnectorError> {
        let sent = self.queue.as_ref().map(|q| q.send(job).is_ok()).unwrap_or(false);
        if sent {
            return Ok(());
        }
        // The producer thread ended: its error says why.
        Err(self.join().err().unwrap_or_else(|| error(&self.topic, "the producer stopped")))
    }

    fn join(&mut self) -> Result<(), ConnectorError> {
        self.queue = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(error(&self.topic, "the producer thread panicked")),
            None => Ok(()),
        }
    }
}

/// The producer thread: sends records as they come, flushes when the queue runs dry.
async fn produce(
    producer: (fluvio::Fluvio, fluvio::TopicProducerPool),
    topic: String,
    jobs: mpsc::Receiver<Produce>,
) -> Result<(), ConnectorError> {
    let (_fluvio, producer) = producer;
    let failed = |e: &dyn std::fmt::Display| error(&topic, format!("cannot produce: {e:#}"));
    let mut unflushed = false;
    loop {
        let job = match jobs.try_recv() {
            Ok(job) => job,
            Err(mpsc::TryRecvError::Empty) => {
                if unflushed {
                    producer.flush().await.map_err(|e| failed(&e))?;
                }
                match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
        };
        match job {
            Produce::Records(records) => {
                for (key, value) in records {
                    producer.send(RecordKey::from(key), value).await.map_err(|e| failed(&e))?;
                }
                unflushed = true;
            }
            Produce::Flush(done) => {
                let flushed = producer.flush().await.map_err(|e| failed(&e));
                unflushed = false;
                let _ = done.send(flushed);
            }
        }
    }
    producer.flush().await.map_err(|e| failed(&e))
}

impl SinkWriter for FluvioWriter {
    fn write(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        let time = format_time(time);
        let records = changes
            .iter()
            .filter(|change| self.envelope || change.op == ChangeOp::Upsert)
            .map(|change| {
                let value = if self.envelope {
                    let op = match change.op {
                        ChangeOp::Upsert => "upsert",
                        ChangeOp::Delete => "delete",
                    };
                    format!(
                        r#"{{"op":"{op}","key":{},"row":{},"time":"{time}"}}"#,
                        self.keys.render(change.row),
                        self.rows.render(change.row),
                    )
                } else {
                    self.rows.render(change.row).to_string()
                };
                (self.key(change.row), value.into_bytes())
            })
            .collect();
        self.send(Produce::Records(records))
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        let (done, answer) = mpsc::sync_channel(1);
        self.send(Produce::Flush(done))?;
        match answer.recv() {
            Ok(result) => result?,
            Err(_) => return self.join(),
        }
        self.join()
    }
}
