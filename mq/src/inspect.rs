//! Reading a queue's counters without touching its messages: a passive `queue.declare`, which
//! the broker answers with the queue's ready-message and consumer counts (or closes the
//! channel with 404 when the queue does not exist). Used by the operator to read a cluster's
//! RPC backlog (the autoscaling signal).

use crate::{Connection, MqError};
use lapin::ErrorKind;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

/// AMQP reply code of a passive declare on a missing queue.
const NOT_FOUND: u16 = 404;

/// A queue's counters as the broker reports them on a passive declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// Messages ready for delivery. AMQP has no count of delivered-but-unacknowledged
    /// messages; with consumers that ack after the work and cap it with `basic.qos`, the ready
    /// messages are the backlog.
    pub ready: u32,
    /// Consumers attached to the queue.
    pub consumers: u32,
}

impl Connection {
    /// The counters of `queue`, `None` when it does not exist. Waits for a live link (bound it
    /// with a timeout); one short-lived channel per call, because a 404 closes the channel.
    pub async fn queue_stats(&self, queue: &str) -> Result<Option<QueueStats>, MqError> {
        let link = self.link().await.ok_or(MqError::Closed)?;
        let channel = link.conn.create_channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        match channel
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
        {
            Ok(declared) => {
                // Best effort: the channel is released either way when the link goes.
                let _ = channel.close(200, "inspected".into()).await;
                Ok(Some(QueueStats {
                    ready: declared.message_count(),
                    consumers: declared.consumer_count(),
                }))
            }
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}

/// Whether the broker closed the channel because the queue does not exist.
fn is_not_found(err: &lapin::Error) -> bool {
    matches!(err.kind(), ErrorKind::ProtocolError(amqp) if amqp.get_id() == NOT_FOUND)
}
