//! Live views of collections: every change a view's output receives is broadcast as one JSON
//! message per closed time to the Server-Sent-Events clients of that collection. Sending never
//! waits: a client that falls behind its bounded buffer is dropped (and counted), so a slow or
//! dead client never slows the dataflow.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use shelfflow_connectors::{Change, ChangeOp, ConnectorError, SinkWriter};
use shelfflow_operators::value::format_timestamp;
use shelfflow_operators::{Schema, Time};
use tokio::sync::broadcast;

/// Messages a client may fall behind by before it is dropped.
pub const CLIENT_BUFFER: usize = 1024;

/// SSE clients dropped for falling behind, over the whole process.
pub static DROPPED_CLIENTS: AtomicU64 = AtomicU64::new(0);

/// The broadcast channels of one pipeline's views, by collection; they outlive redeploys, so a
/// client stays subscribed while the pipeline changes under it.
#[derive(Default)]
pub struct Views {
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<str>>>>,
}

impl Views {
    /// The channel of `collection`, created on first use.
    pub fn channel(&self, collection: &str) -> broadcast::Sender<Arc<str>> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .entry(collection.to_owned())
            .or_insert_with(|| broadcast::channel(CLIENT_BUFFER).0)
            .clone()
    }

    /// A writer that broadcasts the changes of `collection`.
    pub fn writer(&self, collection: &str, schema: &Schema) -> Box<dyn SinkWriter> {
        Box::new(ViewWriter {
            collection: collection.to_owned(),
            schema: schema.clone(),
            channel: self.channel(collection),
        })
    }
}

/// Broadcasts each closed time's changes as
/// `{"collection": ..., "time": ..., "changes": [{"op": "upsert", "row": {...}}]}`.
struct ViewWriter {
    collection: String,
    schema: Schema,
    channel: broadcast::Sender<Arc<str>>,
}

impl SinkWriter for ViewWriter {
    fn write(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        if self.channel.receiver_count() == 0 || changes.is_empty() {
            return Ok(());
        }
        let message = change_message(&self.collection, &self.schema, time, changes);
        // An error only means every client left meanwhile.
        let _ = self.channel.send(message.into());
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// One closed time's changes of `collection` as a JSON text.
pub fn change_message(
    collection: &str,
    schema: &Schema,
    time: Time,
    changes: &[Change<'_>],
) -> String {
    let changes: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| {
            let op = if c.op == ChangeOp::Upsert { "upsert" } else { "delete" };
            serde_json::json!({"op": op, "row": schema.row_to_json(c.row)})
        })
        .collect();
    let time = format_timestamp(time as i64);
    serde_json::json!({"collection": collection, "time": time, "changes": changes}).to_string()
}

/// Counts a client dropped for falling behind.
pub fn count_dropped_client() {
    DROPPED_CLIENTS.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use shelfflow_operators::value::Value;
    use shelfflow_operators::{Field, Type};

    #[test]
    fn a_view_broadcasts_each_time_as_one_message_and_drops_a_client_that_falls_behind() {
        let views = Views::default();
        let schema = Schema::new(vec![
            Field::new("shelf_id", Type::String, false),
            Field::new("stock", Type::Int, false),
        ]);
        let mut writer = views.writer("stock", &schema);
        let mut client = views.channel("stock").subscribe();
        let row = [Value::str("S1"), Value::Int(4)];
        writer.write(5_000_000, &[Change { op: ChangeOp::Upsert, row: &row }]).expect("writes");
        let message: serde_json::Value =
            serde_json::from_str(&client.try_recv().expect("one message")).expect("JSON");
        assert_eq!(message["changes"][0]["row"]["stock"], 4);
        assert_eq!(message["changes"][0]["op"], "upsert");
        assert_eq!(message["time"], "1970-01-01T00:00:05Z");
        assert_eq!(message["collection"], "stock");
        for _ in 0..=CLIENT_BUFFER {
            writer.write(6_000_000, &[Change { op: ChangeOp::Delete, row: &row }]).expect("writes");
        }
        assert!(matches!(client.try_recv(), Err(broadcast::error::TryRecvError::Lagged(_))));
    }
}
