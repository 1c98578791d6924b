//! `connector: fluvio`: store streams in from Fluvio topics, changelogs out to Fluvio topics.
//!
//! - `config`: the source and sink YAML, the registry entries, topic-name checks.
//! - `client`: connecting (endpoint or `~/.fluvio/config` profile), topic metadata and creation.
//! - `source`: a worker's share of a topic's partitions, one event-time watermark per partition,
//!   idle partitions, dead letters with topic/partition@offset, offsets for the progress row.
//! - `sink`: every change as a keyed `{op, key, row, time}` record, through a batching producer.

mod client;
mod config;
mod sink;
mod source;
#[cfg(test)]
mod tests;

pub use client::create_topic;
pub use config::{
    check_topic, topic_name, Cluster, Compression, FluvioSinkConfig, FluvioSourceConfig, Start,
    SINK, SOURCE,
};
pub use sink::FluvioWriter;
pub use source::{FluvioReader, Watermarks};
