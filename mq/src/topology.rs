//! The Koinos AMQP topology: exchange, queue and topic names, message properties, and the
//! declarations every component makes when it (re)connects. The one home of every name on
//! the wire: services, the operator and tests spell them through these constants.

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

/// Declares the service names: [`service`] (`chain`, the `koinos.rpc.<service>` suffix, config
/// section and basedir subdirectory) and [`queue`] (`koinos.rpc.chain`), one pair per line.
macro_rules! services {
    ($($(#[$doc:meta])* $name:ident = $service:literal;)*) => {
        /// Service names: the `<service>` of `koinos.rpc.<service>`, of the `config.yml`
        /// section and of `basedir/<service>`.
        pub mod service {
            $($(#[$doc])* pub const $name: &str = $service;)*
        }
        /// The RPC queue of each service in [`service`]: `koinos.rpc.<service>`
        /// ([`rpc_queue`](super::rpc_queue) as constants).
        pub mod queue {
            $($(#[$doc])* pub const $name: &str = concat!("koinos.rpc.", $service);)*
        }
    };
}

services! {
    /// chain: applies blocks and transactions, the state.
    CHAIN = "chain";
    /// block_store: blocks and receipts by id and height.
    BLOCK_STORE = "block_store";
    /// mempool: pending transactions.
    MEMPOOL = "mempool";
    /// transaction_store: transactions by id.
    TRANSACTION_STORE = "transaction_store";
    /// contract_meta_store: contract ABIs.
    CONTRACT_META_STORE = "contract_meta_store";
    /// account_history: per-address history.
    ACCOUNT_HISTORY = "account_history";
    /// block_producer: no RPC queue of its own, named for its config section.
    BLOCK_PRODUCER = "block_producer";
    /// jsonrpc: the HTTP gateway, named for its config section.
    JSONRPC = "jsonrpc";
    /// p2p: gossip (official image).
    P2P = "p2p";
}

/// Broadcast topics (routing keys on [`EVENT_EXCHANGE`]).
pub mod topic {
    /// chain: a block was applied, on any fork (`broadcast.block_accepted`).
    pub const BLOCK_ACCEPT: &str = "koinos.block.accept";
    /// chain: the last irreversible block moved (`broadcast.block_irreversible`).
    pub const BLOCK_IRREVERSIBLE: &str = "koinos.block.irreversible";
    /// chain: the fork heads changed (`broadcast.fork_heads`).
    pub const BLOCK_FORKS: &str = "koinos.block.forks";
    /// chain: a transaction was accepted into the pending state.
    pub const TRANSACTION_ACCEPT: &str = "koinos.transaction.accept";
    /// chain: a pending transaction failed.
    pub const TRANSACTION_FAIL: &str = "koinos.transaction.fail";
    /// mempool: a transaction entered the mempool.
    pub const MEMPOOL_ACCEPT: &str = "koinos.mempool.accept";
    /// mempool: re-publishes each accepted block once it has pruned its transactions.
    pub const MEMPOOL_BLOCK_ACCEPTED: &str = "koinos.mempool.block_accepted";
    /// p2p: gossip on/off (gates block production).
    pub const GOSSIP_STATUS: &str = "koinos.gossip.status";
    /// Prefix of contract events: `koinos.event.<contract id, base58>.<event name>`.
    pub const CONTRACT_EVENT_PREFIX: &str = "koinos.event.";

    /// The topic of the contract event `name` of the contract `contract` (base58).
    pub fn contract_event(contract: &str, name: &str) -> String {
        format!("{CONTRACT_EVENT_PREFIX}{contract}.{name}")
    }
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

    #[test]
    fn queue_constants_are_the_rpc_queues_of_the_service_names() {
        assert_eq!(queue::CHAIN, rpc_queue(service::CHAIN));
        assert_eq!(queue::ACCOUNT_HISTORY, rpc_queue(service::ACCOUNT_HISTORY));
        assert_eq!(queue::P2P, "koinos.rpc.p2p");
        assert_eq!(
            topic::contract_event("1abc", "transfer"),
            "koinos.event.1abc.transfer"
        );
    }
}
