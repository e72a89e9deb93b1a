//! The byte-level RPC server: competing consumers on `koinos.rpc.<service>`.
//!
//! - up to `jobs` handlers run at once; `basic.qos` prefetch is a larger window
//!   ([`ServerOptions::prefetch`], at least [`MIN_PREFETCH`]) so that the next deliveries are
//!   already here while replies and acks travel: with prefetch = jobs every request waited for
//!   the broker to see the previous ack, and a 2-core replica (jobs = 2) topped out near 2k
//!   requests/s with its CPU mostly idle;
//! - a delivery is acked only after its handler finished and its reply was published, so a
//!   crash or a broker restart redelivers it instead of losing it; the handler's slot is free
//!   as soon as the handler returns (publishing the reply and acking hold only the window);
//! - wrong content type, oversized and expired deliveries are rejected (no requeue) and counted
//!   in `koinos_<svc>_rpc_deliveries_dropped_total{reason}`; a panicking handler too;
//! - on drain: stop consuming, requeue what was prefetched but not started, finish the running
//!   handlers, ack, close.

use crate::backoff::Backoff;
use crate::connection::{Connection, Link};
use crate::metrics::RpcMetrics;
use crate::{MqError, topology};
use futures::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Handles one request body; `None` means "send no reply" (the caller will time out).
pub trait RawHandler: Send + Sync + 'static {
    /// Handles one request.
    fn handle(&self, request: Vec<u8>) -> impl Future<Output = Option<Vec<u8>>> + Send;
}

impl<F, Fut> RawHandler for F
where
    F: Fn(Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Vec<u8>>> + Send,
{
    fn handle(&self, request: Vec<u8>) -> impl Future<Output = Option<Vec<u8>>> + Send {
        self(request)
    }
}

/// The smallest `basic.qos` prefetch window of a server (see [`ServerOptions::prefetch`]).
pub const MIN_PREFETCH: usize = 64;

/// Server settings; [`ServerOptions::new`] gives the Koinos defaults for `jobs` handlers.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Concurrent handlers (at least 1, at most 65535).
    pub jobs: usize,
    /// `basic.qos` prefetch: deliveries held unacknowledged, running or waiting for a handler
    /// slot or for their reply and ack to be sent (at least `jobs`, at most 65535). A backlog
    /// beyond it stays in the queue, where the autoscaler sees it.
    pub prefetch: usize,
    /// Larger requests are rejected and counted.
    pub max_message_size: usize,
    /// `x-expires` on the service queue: only for ephemeral services (tests, benchmarks); the
    /// Koinos service queues are permanent.
    pub idle_queue_expiry: Option<Duration>,
}

impl ServerOptions {
    /// Defaults for `jobs` concurrent handlers.
    pub fn new(jobs: usize) -> ServerOptions {
        let jobs = jobs.clamp(1, u16::MAX as usize);
        ServerOptions {
            jobs,
            prefetch: jobs.max(MIN_PREFETCH),
            max_message_size: topology::MAX_MESSAGE_SIZE,
            idle_queue_expiry: None,
        }
    }
}

/// Serves `koinos.rpc.<service>` until the connection drains.
#[derive(Debug)]
pub struct RpcServer;

impl RpcServer {
    /// Serves `service` with `jobs` concurrent handlers until [`Connection::begin_drain`] /
    /// [`Connection::close`]; survives broker restarts (re-declares and re-consumes).
    pub async fn serve<H: RawHandler>(
        conn: &Connection,
        service: &str,
        jobs: usize,
        handler: H,
    ) -> Result<(), MqError> {
        RpcServer::serve_with(conn, service, ServerOptions::new(jobs), handler).await
    }

    /// [`RpcServer::serve`] with explicit [`ServerOptions`].
    pub async fn serve_with<H: RawHandler>(
        conn: &Connection,
        service: &str,
        options: ServerOptions,
        handler: H,
    ) -> Result<(), MqError> {
        let queue = topology::rpc_queue(service);
        RpcServer::serve_queue(conn, service, &queue, options, handler).await
    }

    /// [`RpcServer::serve_with`] on `queue` instead of `koinos.rpc.<service>` (declared and
    /// bound to `koinos.rpc` under its own name the same way); metrics still name `service`.
    pub async fn serve_queue<H: RawHandler>(
        conn: &Connection,
        service: &str,
        queue: &str,
        options: ServerOptions,
        handler: H,
    ) -> Result<(), MqError> {
        let _active = conn.track_active();
        let ctx = Arc::new(ServerCtx {
            queue: queue.to_string(),
            options: {
                let jobs = options.jobs.clamp(1, u16::MAX as usize);
                ServerOptions {
                    jobs,
                    prefetch: options.prefetch.clamp(jobs, u16::MAX as usize),
                    ..options
                }
            },
            metrics: RpcMetrics::for_service(service),
            handler,
        });
        let draining = conn.draining();
        let mut backoff = Backoff::reconnect();
        loop {
            let link = tokio::select! {
                link = conn.link() => link,
                _ = draining.cancelled() => None,
            };
            let Some(link) = link else { return Ok(()) };
            match run_session(conn, &link, ctx.clone()).await {
                Ok(()) => return Ok(()),
                Err(err) => {
                    tracing::warn!(queue = %ctx.queue, error = %err, "rpc consumer stopped, restarting");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                        _ = draining.cancelled() => return Ok(()),
                    }
                }
            }
        }
    }
}

struct ServerCtx<H> {
    queue: String,
    options: ServerOptions,
    metrics: Arc<RpcMetrics>,
    handler: H,
}

/// Consumes on one link until drained (`Ok`) or until the link or consumer fails (`Err`).
async fn run_session<H: RawHandler>(
    conn: &Connection,
    link: &Link,
    ctx: Arc<ServerCtx<H>>,
) -> Result<(), MqError> {
    let (jobs, prefetch) = (ctx.options.jobs, ctx.options.prefetch);
    let channel = link.conn.create_channel().await?;
    channel
        .basic_qos(prefetch as u16, BasicQosOptions::default())
        .await?;
    topology::declare_service_queue(&channel, &ctx.queue, ctx.options.idle_queue_expiry).await?;
    let mut consumer = channel
        .basic_consume(
            ctx.queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %ctx.queue, jobs, prefetch, "serving rpc");
    let permits = Arc::new(Semaphore::new(jobs));
    // Held from delivery to ack: drain waits for every reply and ack to be sent.
    let unacked = Arc::new(Semaphore::new(prefetch));
    let draining = conn.draining();
    let lost = conn.link_lost(link.generation);
    tokio::pin!(lost);
    loop {
        tokio::select! {
            biased;
            _ = draining.cancelled() => break,
            _ = &mut lost => return Err(MqError::NotConnected),
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let received = Instant::now();
                    let permit = permits.clone().acquire_owned().await.expect("never closed");
                    let window = unacked.clone().acquire_owned().await.expect("never closed");
                    tokio::spawn(process(
                        ctx.clone(),
                        channel.clone(),
                        delivery,
                        received,
                        (permit, window),
                    ));
                }
                Some(Err(err)) => return Err(err.into()),
                None => return Err(MqError::ConsumerCancelled(ctx.queue.clone())),
            },
        }
    }
    drain(&channel, consumer, &unacked, prefetch).await;
    Ok(())
}

async fn drain(
    channel: &Channel,
    mut consumer: lapin::Consumer,
    unacked: &Semaphore,
    prefetch: usize,
) {
    let _ = channel
        .basic_cancel(consumer.tag(), BasicCancelOptions::default())
        .await;
    // Deliveries prefetched but not started go back to the queue for another replica.
    while let Ok(Some(Ok(delivery))) =
        tokio::time::timeout(Duration::from_millis(100), consumer.next()).await
    {
        let requeue = BasicNackOptions {
            requeue: true,
            ..Default::default()
        };
        let _ = delivery.nack(requeue).await;
    }
    let _ = unacked.acquire_many(prefetch as u32).await;
    let _ = channel.close(200, "drained".into()).await;
}

async fn process<H: RawHandler>(
    ctx: Arc<ServerCtx<H>>,
    channel: Channel,
    delivery: Delivery,
    received: Instant,
    (permit, _window): (OwnedSemaphorePermit, OwnedSemaphorePermit),
) {
    if let Some(reason) = refusal(&delivery, received, ctx.options.max_message_size) {
        ctx.metrics.dropped.with_label_values(&[reason]).inc();
        tracing::debug!(queue = %ctx.queue, reason, "rpc delivery dropped");
        let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
        return;
    }
    let Delivery {
        delivery_tag,
        data,
        properties,
        acker,
        redelivered,
        ..
    } = delivery;
    if redelivered {
        ctx.metrics.redelivered.inc();
    }
    ctx.metrics.in_flight.inc();
    let outcome = AssertUnwindSafe(ctx.handler.handle(data))
        .catch_unwind()
        .await;
    ctx.metrics.in_flight.dec();
    // The handler slot is free; the window slot is held until the ack is sent.
    drop(permit);
    let reply = match outcome {
        Ok(reply) => reply,
        Err(_) => {
            // A panicking handler must not take the server down or loop on redelivery.
            ctx.metrics.dropped.with_label_values(&["panic"]).inc();
            tracing::error!(queue = %ctx.queue, "rpc handler panicked; request dropped");
            let _ = acker.reject(BasicRejectOptions { requeue: false }).await;
            return;
        }
    };
    if let (Some(body), Some(reply_to), Some(correlation_id)) = (
        reply,
        properties.reply_to().clone(),
        properties.correlation_id().clone(),
    ) {
        let props = BasicProperties::default()
            .with_content_type(topology::CONTENT_TYPE.into())
            .with_correlation_id(correlation_id);
        let published = channel
            .basic_publish(
                topology::RPC_EXCHANGE.into(),
                reply_to,
                BasicPublishOptions::default(),
                &body,
                props,
            )
            .await;
        if let Err(err) = published {
            // No ack either: the request is redelivered on the next connection.
            tracing::debug!(error = %err, "reply not published");
            return;
        }
    }
    // The reply's frames are written (lapin resolves a publish once its last frame is out); the
    // ack goes straight to the channel's frame queue (`Acker::ack` would add a hop through
    // lapin's internal task) and is not waited for: a lost ack means a redelivery, and on
    // drain the channel's close is queued behind it.
    let ack = channel.basic_ack(delivery_tag, BasicAckOptions::default());
    if let Some(Err(err)) = send_now(ack) {
        tracing::debug!(error = %err, "ack failed; the request will be redelivered");
    }
}

/// Polls a lapin channel method once and leaves it: lapin queues a method's frames for the
/// connection's I/O thread on the first poll, before it waits for them to be written, so this
/// sends without a round trip through that thread. `Some` if it failed (or finished) at once.
pub(crate) fn send_now<F: Future>(method: F) -> Option<F::Output> {
    method.now_or_never()
}

/// Why a delivery must not be processed, if it must not.
fn refusal(delivery: &Delivery, received: Instant, max_size: usize) -> Option<&'static str> {
    let props = &delivery.properties;
    if props.content_type().as_ref().map(|c| c.as_str()) != Some(topology::CONTENT_TYPE) {
        return Some("content_type");
    }
    if delivery.data.len() > max_size {
        return Some("oversized");
    }
    let ttl_ms = props.expiration().as_ref()?.as_str().parse::<u64>().ok()?;
    if received.elapsed() > Duration::from_millis(ttl_ms) {
        return Some("expired");
    }
    // AMQP timestamps have one-second resolution: count from the latest instant it may denote.
    let sent_ms = props
        .timestamp()
        .map(|s| s.saturating_mul(1000).saturating_add(999))?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    (now_ms.saturating_sub(sent_ms) > ttl_ms).then_some("expired")
}
