//! The Koinos AMQP topology: exchange and queue names, message properties, and the
//! declarations every component makes when it (re)connects.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};
use std::time::Duration;

/// Direct exchange that carries RPC requests and replies.
pub const RPC_EXCHANGE: &str = "koinos.rpc";
/// Topic exchange that carries broadcasts.
pub const EVENT_EXCHANGE: &str = "koinos.event";
/// Prefix of every service's RPC queue: `koinos.rpc.<service>`.
pub const RPC_QUEUE_PREFIX: &str = "koinos.rpc.";
/// The only content type Koinos services accept (the official C++ services drop anything else).
pub const CONTENT_TYPE: &str = "application/octet-stream";
/// RabbitMQ's `max_message_size` in a Koinos deployment; larger messages are refused.
pub const MAX_MESSAGE_SIZE: usize = 536_870_912;

/// The durable RPC queue of `service`, which is also its routing key on [`RPC_EXCHANGE`].
pub fn rpc_queue(service: &str) -> String {
    format!("{RPC_QUEUE_PREFIX}{service}")
}

/// Declares both Koinos exchanges (durable, not auto-delete), as every official client does.
pub(crate) async fn declare_exchanges(channel: &Channel) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            RPC_EXCHANGE.into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            EVENT_EXCHANGE.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
}

/// Declares `koinos.rpc.<service>` (durable, shared by competing consumers) and binds it to
/// [`RPC_EXCHANGE`] with its own name. `idle_expiry` sets `x-expires` (ephemeral services).
pub(crate) async fn declare_service_queue(
    channel: &Channel,
    queue: &str,
    idle_expiry: Option<Duration>,
) -> lapin::Result<()> {
    let mut arguments = FieldTable::default();
    if let Some(expiry) = idle_expiry {
        let millis = u32::try_from(expiry.as_millis()).unwrap_or(u32::MAX);
        arguments.insert("x-expires".into(), AMQPValue::LongUInt(millis));
    }
    let options = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), options, arguments)
        .await?;
    bind(channel, queue, RPC_EXCHANGE, queue).await
}

/// Declares a server-named, exclusive, auto-delete queue and returns its name (`amq.gen-…`):
/// the shape of both RPC reply queues and broadcast subscription queues.
pub(crate) async fn declare_private_queue(channel: &Channel) -> lapin::Result<String> {
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    let queue = channel
        .queue_declare("".into(), options, FieldTable::default())
        .await?;
    Ok(queue.name().as_str().to_owned())
}

pub(crate) async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    routing_key: &str,
) -> lapin::Result<()> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            routing_key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_queue_is_prefix_plus_service_name() {
        assert_eq!(rpc_queue("block_store"), "koinos.rpc.block_store");
    }
}
