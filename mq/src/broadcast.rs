//! Broadcasts on the `koinos.event` topic exchange.
//!
//! - [`Broadcaster::publish`] waits for the broker's publisher confirm (re-sending across a
//!   reconnect), so a returned `Ok` means the broker routed the message.
//! - [`Subscriber`] binds one server-named exclusive queue per binding key (topic wildcards
//!   `*` and `#` work), re-declared after every reconnect, and yields [`Broadcast`]s in order
//!   per binding. Messages with another content type than `application/octet-stream` are
//!   dropped and counted in `koinos_mq_broadcasts_dropped_total`.

use crate::backoff::Backoff;
use crate::connection::{Connection, Link};
use crate::metrics;
use crate::{MqError, topology};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Messages a subscriber holds unacked, and buffers for its reader.
const SUBSCRIBER_BUFFER: usize = 256;

/// Publishes broadcasts with publisher confirms; cheap to clone.
#[derive(Clone, Debug)]
pub struct Broadcaster {
    conn: Connection,
    timeout: Duration,
    channel: Arc<Mutex<Option<(u64, Channel)>>>,
}

impl Broadcaster {
    /// A broadcaster whose `publish` gives up after 30 s without a confirm.
    pub fn new(conn: &Connection) -> Broadcaster {
        Broadcaster::with_timeout(conn, Duration::from_secs(30))
    }

    /// A broadcaster whose `publish` gives up after `timeout`.
    pub fn with_timeout(conn: &Connection, timeout: Duration) -> Broadcaster {
        Broadcaster {
            conn: conn.clone(),
            timeout,
            channel: Arc::new(Mutex::new(None)),
        }
    }

    /// Publishes `body` on `koinos.event` with routing key `topic` and waits for the confirm.
    pub async fn publish(&self, topic: &str, body: &[u8]) -> Result<(), MqError> {
        if body.len() > topology::MAX_MESSAGE_SIZE {
            return Err(MqError::MessageTooLarge {
                size: body.len(),
                max: topology::MAX_MESSAGE_SIZE,
            });
        }
        let deadline = Instant::now() + self.timeout;
        let props = BasicProperties::default().with_content_type(topology::CONTENT_TYPE.into());
        loop {
            let channel = tokio::time::timeout_at(deadline, self.channel())
                .await
                .map_err(|_| MqError::PublishTimeout(topic.to_owned()))??;
            let published = channel
                .basic_publish(
                    topology::EVENT_EXCHANGE.into(),
                    topic.into(),
                    BasicPublishOptions::default(),
                    body,
                    props.clone(),
                )
                .await;
            let confirmation = match published {
                Ok(confirm) => tokio::time::timeout_at(deadline, confirm).await,
                Err(err) => Ok(Err(err)),
            };
            match confirmation {
                Ok(Ok(Confirmation::Ack(_) | Confirmation::NotRequested)) => return Ok(()),
                Ok(Ok(Confirmation::Nack(_))) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(Err(err)) => {
                    tracing::debug!(error = %err, topic, "broadcast not confirmed, re-sending")
                }
                Err(_) => return Err(MqError::PublishTimeout(topic.to_owned())),
            }
            if Instant::now() >= deadline {
                return Err(MqError::PublishTimeout(topic.to_owned()));
            }
        }
    }

    /// The confirm-mode channel of the live link, opened on first use after each reconnect.
    async fn channel(&self) -> Result<Channel, MqError> {
        let mut slot = self.channel.lock().await;
        if let Some((_, channel)) = slot.as_ref().filter(|(_, c)| c.status().connected()) {
            return Ok(channel.clone());
        }
        let mut backoff = Backoff::reconnect();
        loop {
            let link = self.conn.link().await.ok_or(MqError::Closed)?;
            match open_confirm_channel(&link).await {
                Ok(channel) => {
                    *slot = Some((link.generation, channel.clone()));
                    return Ok(channel);
                }
                Err(err) => {
                    tracing::debug!(error = %err, "broadcast channel not opened, retrying");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }
}

async fn open_confirm_channel(link: &Link) -> Result<Channel, MqError> {
    let channel = link.conn.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

/// One received broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    /// The routing key it was published with.
    pub topic: String,
    /// The payload (a `koinos.broadcast.*` message).
    pub body: Vec<u8>,
}

/// Receives the broadcasts matching a set of binding keys.
#[derive(Debug)]
pub struct Subscriber {
    messages: mpsc::Receiver<Broadcast>,
    bound: watch::Receiver<u64>,
    _stop: DropGuard,
}

impl Subscriber {
    /// Subscribes to `bindings` (exact topics or `*`/`#` patterns); returns at once and binds
    /// whenever the broker is connected. Stops (and `recv` ends) when the connection drains.
    pub fn subscribe(conn: &Connection, bindings: &[&str]) -> Subscriber {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        let (bound_tx, bound_rx) = watch::channel(0);
        let stop = CancellationToken::new();
        let bindings = bindings.iter().map(|b| (*b).to_owned()).collect();
        tokio::spawn(run_subscriber(
            conn.clone(),
            bindings,
            tx,
            bound_tx,
            stop.clone(),
        ));
        Subscriber {
            messages: rx,
            bound: bound_rx,
            _stop: stop.drop_guard(),
        }
    }

    /// The next broadcast; `None` once the connection drained or closed.
    pub async fn recv(&mut self) -> Option<Broadcast> {
        self.messages.recv().await
    }

    /// Waits until every binding is in place on the broker (at most `timeout`): broadcasts
    /// published after that reach this subscriber.
    pub async fn wait_bound(&self, timeout: Duration) -> Result<(), MqError> {
        let mut bound = self.bound.clone();
        tokio::time::timeout(timeout, bound.wait_for(|generation| *generation > 0))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|_| ())
            .ok_or(MqError::NotConnected)
    }
}

static DROPPED: LazyLock<prometheus::IntCounterVec> = LazyLock::new(|| {
    let counter = prometheus::IntCounterVec::new(
        prometheus::Opts::new(
            "koinos_mq_broadcasts_dropped_total",
            "Broadcasts dropped by subscribers",
        ),
        &["reason"],
    )
    .expect("valid metric");
    metrics::register(&counter);
    counter
});

async fn run_subscriber(
    conn: Connection,
    bindings: Vec<String>,
    messages: mpsc::Sender<Broadcast>,
    bound: watch::Sender<u64>,
    stop: CancellationToken,
) {
    let _active = conn.track_active();
    let draining = conn.draining();
    let mut backoff = Backoff::reconnect();
    loop {
        let link = tokio::select! {
            link = conn.link() => link,
            _ = draining.cancelled() => None,
            _ = stop.cancelled() => None,
        };
        let Some(link) = link else { return };
        let result = tokio::select! {
            res = consume(&link, &bindings, &messages, &bound) => res,
            _ = conn.link_lost(link.generation) => Err(MqError::NotConnected),
            _ = draining.cancelled() => return,
            _ = stop.cancelled() => return,
        };
        if let Err(err) = result {
            if messages.is_closed() {
                return;
            }
            tracing::debug!(error = %err, "subscription ended, re-subscribing");
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = draining.cancelled() => return,
            _ = stop.cancelled() => return,
        }
    }
}

async fn consume(
    link: &Link,
    bindings: &[String],
    messages: &mpsc::Sender<Broadcast>,
    bound: &watch::Sender<u64>,
) -> Result<(), MqError> {
    let channel = link.conn.create_channel().await?;
    channel
        .basic_qos(SUBSCRIBER_BUFFER as u16, BasicQosOptions::default())
        .await?;
    let mut consumers = Vec::with_capacity(bindings.len());
    for binding in bindings {
        let queue = topology::declare_private_queue(&channel).await?;
        topology::bind(&channel, &queue, topology::EVENT_EXCHANGE, binding).await?;
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        consumers.push(consumer);
    }
    bound.send_replace(link.generation);
    let mut deliveries = futures::stream::select_all(consumers);
    while let Some(delivery) = deliveries.next().await {
        let delivery = delivery?;
        let content_type = delivery.properties.content_type().as_ref();
        if content_type.map(|c| c.as_str()) != Some(topology::CONTENT_TYPE) {
            DROPPED.with_label_values(&["content_type"]).inc();
        } else {
            let broadcast = Broadcast {
                topic: delivery.routing_key.as_str().to_owned(),
                body: delivery.data.clone(),
            };
            if messages.send(broadcast).await.is_err() {
                return Ok(()); // the subscriber was dropped
            }
        }
        // Acked once handed over: the bounded buffer gives the broker back-pressure.
        let _ = delivery.acker.ack(BasicAckOptions::default()).await;
    }
    Err(MqError::ConsumerCancelled(bindings.join(",")))
}
