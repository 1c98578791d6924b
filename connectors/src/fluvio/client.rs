//! Talking to a Fluvio cluster: connecting, topic metadata, topic creation.
//!
//! The Fluvio client is async; shelfflow's readers and writers are threads. Each runs its own
//! `block_on` over the client's futures (the client's background tasks run on its global
//! executor), so no async runtime leaks into the rest of the engine.

use std::time::Duration;

use fluvio::metadata::partition::PartitionSpec;
use fluvio::metadata::topic::{CleanupPolicy, SegmentBasedPolicy, TopicSpec};
use fluvio::{Fluvio, FluvioClusterConfig};

use super::config::Cluster;
use crate::ConnectorError;

/// A Fluvio failure about `target` (a topic, or the cluster).
pub(crate) fn error(target: &str, message: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Cluster { target: target.to_owned(), message: message.to_string() }
}

/// Connects as the cluster settings say.
pub(crate) async fn connect(cluster: &Cluster) -> Result<Fluvio, ConnectorError> {
    let connected = match (&cluster.endpoint, &cluster.profile) {
        (Some(endpoint), _) => {
            Fluvio::connect_with_config(&FluvioClusterConfig::new(endpoint.clone())).await
        }
        (None, Some(profile)) => Fluvio::connect_with_profile(profile).await,
        (None, None) => Fluvio::connect().await,
    };
    connected.map_err(|e| {
        error(&format!("fluvio cluster ({})", cluster.describe()), format!("cannot connect: {e:#}"))
    })
}

/// The partition count of `topic`, `None` when it does not exist.
pub(crate) async fn partition_count(
    fluvio: &Fluvio,
    topic: &str,
) -> Result<Option<u32>, ConnectorError> {
    let admin = fluvio.admin().await;
    let topics = admin
        .list::<TopicSpec, _>(vec![topic.to_owned()])
        .await
        .map_err(|e| error(topic, format!("cannot read the topic: {e:#}")))?;
    Ok(topics.iter().find(|t| t.name == topic).map(|t| t.spec.partitions()))
}

/// How many partitions of `topic` the cluster has placed on an SPU so far.
async fn placed_partitions(fluvio: &Fluvio, topic: &str) -> Result<usize, ConnectorError> {
    let admin = fluvio.admin().await;
    let partitions = admin
        .list::<PartitionSpec, String>(Vec::new())
        .await
        .map_err(|e| error(topic, format!("cannot read its partitions: {e:#}")))?;
    let prefix = format!("{topic}-");
    Ok(partitions
        .iter()
        .filter(|p| p.name.strip_prefix(&prefix).is_some_and(|n| n.parse::<u32>().is_ok()))
        .count())
}

/// Creates `topic` with `partitions` partitions unless it exists (for a reader that must not
/// miss what a writer started later produces).
pub fn create_topic(cluster: &Cluster, topic: &str, partitions: u32) -> Result<(), ConnectorError> {
    fluvio_future::task::run_block_on(async {
        let fluvio = connect(cluster).await?;
        ensure_topic(&fluvio, topic, partitions, None).await
    })
}

/// Creates `topic` unless it exists.
pub(crate) async fn ensure_topic(
    fluvio: &Fluvio,
    topic: &str,
    partitions: u32,
    retention: Option<Duration>,
) -> Result<(), ConnectorError> {
    if partition_count(fluvio, topic).await?.is_some() {
        return Ok(());
    }
    let mut spec = TopicSpec::new_computed(partitions, 1, None);
    if let Some(retention) = retention {
        let seconds = u32::try_from(retention.as_secs()).unwrap_or(u32::MAX);
        spec.set_cleanup_policy(CleanupPolicy::Segment(SegmentBasedPolicy {
            time_in_seconds: seconds,
        }));
    }
    let admin = fluvio.admin().await;
    match admin.create(topic.to_owned(), false, spec).await {
        Ok(()) => {
            tracing::info!(topic, partitions, "created Fluvio topic");
        }
        // Another writer created it meanwhile.
        Err(e) if format!("{e:#}").contains("already exists") => {}
        Err(e) => return Err(error(topic, format!("cannot create the topic: {e:#}"))),
    }
    // The partitions need a leader before records can be produced.
    for _ in 0..100 {
        if placed_partitions(fluvio, topic).await? == partitions as usize {
            return Ok(());
        }
        fluvio_future::timer::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
