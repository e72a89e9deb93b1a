//! Koinos messaging over RabbitMQ (AMQP 0.9.1): the only crate of the workspace that talks to
//! the broker (the services and the operator both go through it).
//!
//! The topology is the official one (`koinos.rpc` direct, `koinos.event` topic, one durable
//! `koinos.rpc.<service>` queue per service), so our services interoperate with the official
//! ones. What we do better: manual acks after the handler, a bounded `basic.qos` window (the
//! backlog stays in the broker, where the autoscaler can see it), confirmed broadcasts,
//! reconnection with re-declaration, and draining on shutdown.
//!
//! # Using it
//!
//! ```no_run
//! # async fn demo() -> Result<(), koinos_mq::MqError> {
//! use koinos_mq::{Broadcaster, CallOptions, Connection, RpcClient, RpcServer, Subscriber};
//! // Returns at once; connects (and reconnects) in the background.
//! let conn = Connection::connect_supervised("amqp://guest:guest@localhost:5672/")?;
//!
//! // Serve `koinos.rpc.echo` with 8 concurrent handlers until `conn.close()`.
//! let server = conn.clone();
//! tokio::spawn(async move {
//!     RpcServer::serve(&server, "echo", 8, |body: Vec<u8>| async move { Some(body) }).await
//! });
//!
//! let client = RpcClient::new(&conn);
//! let reply = client.call("echo", b"hi", CallOptions::default()).await?;
//!
//! let mut subscriber = Subscriber::subscribe(&conn, &["koinos.block.*"]);
//! Broadcaster::new(&conn).publish("koinos.block.accept", b"...").await?;
//! let broadcast = subscriber.recv().await;
//!
//! conn.close().await; // drain servers and subscribers, then disconnect
//! # Ok(()) }
//! ```
//!
//! An `amqps://` URL connects over TLS (rustls), verifying the broker against the system roots
//! or, with [`Connection::connect_supervised_with`], a [`CaBundle`] that replaces them.
//!
//! Typed services (`<svc>_request` / `<svc>_response` envelopes) use [`typed`]: implement
//! [`typed::Handler`] and call [`typed::serve`]; call other services with
//! [`typed::TypedClient`]. Every exchange, queue and topic name is in [`topology`]; the RPC
//! and broadcast metrics this layer keeps are in [`metrics`], the process's one Prometheus
//! registry.

mod backoff;
mod broadcast;
mod client;
mod connection;
mod envelopes;
mod inspect;
pub mod metrics;
mod server;
mod tls;
pub mod topology;
pub mod typed;

pub use broadcast::{Broadcast, Broadcaster, Subscriber};
pub use client::{CallOptions, RetryPolicy, RpcClient};
pub use connection::{Connection, parse_url};
pub use inspect::QueueStats;
pub use lapin::uri::{AMQPScheme, AMQPUri};
pub use server::{RawHandler, RpcServer, ServerOptions};
pub use tls::CaBundle;

use std::time::Duration;

/// Errors of the messaging layer.
#[derive(Debug, thiserror::Error)]
pub enum MqError {
    /// The AMQP URL does not parse.
    #[error("invalid AMQP URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, password redacted.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The CA bundle for an `amqps://` broker is unusable.
    #[error("CA bundle {origin}: {reason}")]
    InvalidCa {
        /// Where it came from: a file, a Secret key, the system roots.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// No broker connection (yet) within the time allowed.
    #[error("not connected to the broker")]
    NotConnected,
    /// The connection was closed by [`Connection::close`].
    #[error("the broker connection is closed")]
    Closed,
    /// No reply within the call's timeout.
    #[error("rpc to {service} timed out after {after:?}")]
    Timeout {
        /// The called service.
        service: String,
        /// The call's timeout.
        after: Duration,
    },
    /// A broadcast was not confirmed in time.
    #[error("broadcast on {0} not confirmed in time")]
    PublishTimeout(String),
    /// Messages above RabbitMQ's `max_message_size` are refused.
    #[error("message of {size} bytes exceeds the {max} byte limit")]
    MessageTooLarge {
        /// Size of the message.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The broker cancelled a consumer (its queue was deleted).
    #[error("consumer on {0} was cancelled")]
    ConsumerCancelled(String),
    /// A broker operation failed.
    #[error("broker error: {0}")]
    Broker(#[from] lapin::Error),
}
