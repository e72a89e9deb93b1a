//! The byte-level RPC client.
//!
//! Each client keeps a private reply queue (server-named, exclusive, auto-delete) bound on
//! `koinos.rpc` with its own name, and a map of correlation ids (32 random alphanumerics) to
//! waiting calls. Requests carry `expiration` and a timestamp, and are transient unless
//! [`CallOptions::persistent`]. They are published without confirms, like the official
//! clients: the reply is the acknowledgement, and confirms halved throughput at concurrency 1
//! (see `benches/rpc.rs`). A call survives a broker restart: when its reply queue is lost it
//! re-sends on the new one, so every call either gets its answer or times out. Dropping a call
//! future removes its map entry.

use crate::backoff::Backoff;
use crate::connection::Connection;
use crate::server::send_now;
use crate::{MqError, topology};
use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use rand::Rng;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

/// What to do when a request's `expiration` passes without a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryPolicy {
    /// One attempt: wait for the reply until the call's timeout.
    None,
    /// Like the Go and C++ clients: when an attempt's expiration passes, re-send with a new
    /// correlation id and double the expiration, up to `max_expiration`, until the timeout.
    ExponentialBackoff {
        /// Cap of the doubling expiration (30 s in the official clients).
        max_expiration: Duration,
    },
}

/// Per-call settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    /// The call fails with [`MqError::Timeout`] after this long.
    pub timeout: Duration,
    /// The request's AMQP `expiration` (first attempt); `None` means the timeout.
    pub expiration: Option<Duration>,
    /// Re-send policy.
    pub retry: RetryPolicy,
    /// Persistent delivery (C++ client): the queued request survives a broker restart and is
    /// processed even if this caller is gone. Off by default (Go client): after a restart the
    /// client re-sends anyway, and persistence costs about 30 % throughput.
    pub persistent: bool,
}

impl Default for CallOptions {
    /// 5 s timeout, expiration = timeout, no retry.
    fn default() -> Self {
        CallOptions::timeout(Duration::from_secs(5))
    }
}

impl CallOptions {
    /// No retry, expiration = `timeout`.
    pub fn timeout(timeout: Duration) -> CallOptions {
        CallOptions {
            timeout,
            expiration: None,
            retry: RetryPolicy::None,
            persistent: false,
        }
    }

    /// The Go `ExponentialBackoff` / C++ default: expiration 1 s doubling to 30 s.
    pub fn koinos_backoff(timeout: Duration) -> CallOptions {
        CallOptions {
            timeout,
            expiration: Some(Duration::from_secs(1)),
            retry: RetryPolicy::ExponentialBackoff {
                max_expiration: Duration::from_secs(30),
            },
            persistent: false,
        }
    }

    /// Makes the request persistent (see [`CallOptions::persistent`]).
    pub fn with_persistent(mut self) -> CallOptions {
        self.persistent = true;
        self
    }

    /// Sets the first attempt's expiration.
    pub fn with_expiration(mut self, expiration: Duration) -> CallOptions {
        self.expiration = Some(expiration);
        self
    }
}

/// An RPC client; cheap to clone (clones share the reply queue).
#[derive(Clone, Debug)]
pub struct RpcClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
struct ClientInner {
    session: watch::Receiver<Option<Arc<Session>>>,
    /// Stops the session task when the last clone is dropped.
    _stop: DropGuard,
}

#[derive(Debug)]
struct Session {
    id: u64,
    channel: Channel,
    reply_queue: String,
    pending: Mutex<HashMap<String, oneshot::Sender<Vec<u8>>>>,
}

/// Removes a call's correlation entry when the call ends or its future is dropped.
struct PendingEntry<'a> {
    session: &'a Session,
    correlation_id: String,
}

impl Drop for PendingEntry<'_> {
    fn drop(&mut self) {
        self.session
            .pending
            .lock()
            .expect("pending lock")
            .remove(&self.correlation_id);
    }
}

impl RpcClient {
    /// Starts a client on `conn`; its reply queue is (re)declared whenever the broker connects.
    pub fn new(conn: &Connection) -> RpcClient {
        let (tx, rx) = watch::channel(None);
        let stop = CancellationToken::new();
        tokio::spawn(run_sessions(conn.clone(), tx, stop.clone()));
        RpcClient {
            inner: Arc::new(ClientInner {
                session: rx,
                _stop: stop.drop_guard(),
            }),
        }
    }

    /// Sends `request` to `koinos.rpc.<service>` and waits for the reply body.
    pub async fn call(
        &self,
        service: &str,
        request: &[u8],
        options: CallOptions,
    ) -> Result<Vec<u8>, MqError> {
        if request.len() > topology::MAX_MESSAGE_SIZE {
            return Err(MqError::MessageTooLarge {
                size: request.len(),
                max: topology::MAX_MESSAGE_SIZE,
            });
        }
        let deadline = Instant::now() + options.timeout;
        let timeout = || MqError::Timeout {
            service: service.to_owned(),
            after: options.timeout,
        };
        let routing_key = topology::rpc_queue(service);
        let mut expiration = options.expiration.unwrap_or(options.timeout);
        let mut failed_session = None;
        loop {
            let session = tokio::time::timeout_at(deadline, self.session(failed_session))
                .await
                .map_err(|_| timeout())?
                .ok_or(MqError::Closed)?;
            let correlation_id = correlation_id();
            let (tx, mut rx) = oneshot::channel();
            session
                .pending
                .lock()
                .expect("pending lock")
                .insert(correlation_id.clone(), tx);
            let _entry = PendingEntry {
                session: &session,
                correlation_id: correlation_id.clone(),
            };
            let props = request_properties(&correlation_id, &session.reply_queue, expiration)
                .with_delivery_mode(if options.persistent { 2 } else { 1 });
            // Queued for the I/O thread, not waited for: the reply is the acknowledgement, and
            // a request lost with its connection is re-sent on the next session.
            let published = send_now(session.channel.basic_publish(
                topology::RPC_EXCHANGE.into(),
                routing_key.as_str().into(),
                BasicPublishOptions::default(),
                request,
                props,
            ));
            if let Some(Err(_)) = published {
                failed_session = Some(session.id);
                continue;
            }
            let attempt_deadline = match options.retry {
                RetryPolicy::None => deadline,
                RetryPolicy::ExponentialBackoff { .. } => {
                    (Instant::now() + expiration).min(deadline)
                }
            };
            // An error means the session ended (its waiters were dropped): send again.
            let outcome = tokio::select! {
                reply = &mut rx => reply.ok(),
                _ = tokio::time::sleep_until(attempt_deadline) => {
                    if attempt_deadline >= deadline {
                        return Err(timeout());
                    }
                    None
                }
            };
            match outcome {
                Some(body) => return Ok(body),
                None if Instant::now() >= deadline => return Err(timeout()),
                None => {
                    if let RetryPolicy::ExponentialBackoff { max_expiration } = options.retry
                        && Instant::now() >= attempt_deadline
                    {
                        expiration = (expiration * 2).min(max_expiration);
                    }
                    failed_session = (!session.channel.status().connected()).then_some(session.id);
                }
            }
        }
    }

    /// Calls waiting for their reply now (a dropped call leaves none behind).
    pub fn pending_calls(&self) -> usize {
        self.inner
            .session
            .borrow()
            .as_ref()
            .map_or(0, |s| s.pending.lock().expect("pending lock").len())
    }

    /// True while the reply queue is live.
    pub fn is_ready(&self) -> bool {
        self.inner.session.borrow().is_some()
    }

    /// The current session, other than `not` (a session seen failing).
    async fn session(&self, not: Option<u64>) -> Option<Arc<Session>> {
        let mut rx = self.inner.session.clone();
        rx.wait_for(|s| s.as_ref().is_some_and(|s| Some(s.id) != not))
            .await
            .ok()
            .and_then(|s| s.clone())
    }
}

fn request_properties(
    correlation_id: &str,
    reply_to: &str,
    expiration: Duration,
) -> BasicProperties {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    BasicProperties::default()
        .with_content_type(topology::CONTENT_TYPE.into())
        .with_correlation_id(correlation_id.into())
        .with_reply_to(reply_to.into())
        .with_expiration(expiration.as_millis().max(1).to_string().into())
        .with_timestamp(now)
}

/// 32 random alphanumeric characters, like the C++ client.
pub(crate) fn correlation_id() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Keeps one session (channel + reply queue + consumer) alive per connection generation.
async fn run_sessions(
    conn: Connection,
    current: watch::Sender<Option<Arc<Session>>>,
    stop: CancellationToken,
) {
    static SESSION_IDS: AtomicU64 = AtomicU64::new(1);
    let mut backoff = Backoff::reconnect();
    loop {
        let link = tokio::select! {
            link = conn.link() => link,
            _ = stop.cancelled() => None,
        };
        let Some(link) = link else { break };
        let id = SESSION_IDS.fetch_add(1, Ordering::Relaxed);
        let result = tokio::select! {
            res = run_session(&link.conn, id, &current) => res,
            _ = conn.link_lost(link.generation) => Err(MqError::NotConnected),
            _ = stop.cancelled() => Ok(()),
        };
        // Dropping the waiting senders wakes those calls: they re-send on the next session.
        if let Some(ended) = current.send_replace(None) {
            ended.pending.lock().expect("pending lock").clear();
        }
        match result {
            Ok(()) => break,
            Err(err) => {
                if conn.is_closed() {
                    break;
                }
                tracing::debug!(error = %err, "rpc client session ended, restarting");
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                    _ = stop.cancelled() => break,
                }
            }
        }
    }
    current.send_replace(None);
}

async fn run_session(
    conn: &lapin::Connection,
    id: u64,
    current: &watch::Sender<Option<Arc<Session>>>,
) -> Result<(), MqError> {
    let channel = conn.create_channel().await?;
    let reply_queue = topology::declare_private_queue(&channel).await?;
    topology::bind(&channel, &reply_queue, topology::RPC_EXCHANGE, &reply_queue).await?;
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    let mut consumer = channel
        .basic_consume(
            reply_queue.as_str().into(),
            "".into(),
            no_ack,
            FieldTable::default(),
        )
        .await?;
    let session = Arc::new(Session {
        id,
        channel: channel.clone(),
        reply_queue,
        pending: Mutex::new(HashMap::new()),
    });
    current.send_replace(Some(session.clone()));
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let Some(correlation_id) = delivery.properties.correlation_id() else {
            continue;
        };
        let waiter = session
            .pending
            .lock()
            .expect("pending lock")
            .remove(correlation_id.as_str());
        // No waiter: a late reply to a timed-out, cancelled or re-sent call.
        if let Some(waiter) = waiter {
            let _ = waiter.send(delivery.data);
        }
    }
    Err(MqError::ConsumerCancelled(session.reply_queue.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_are_32_alphanumerics_and_distinct() {
        let a = correlation_id();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, correlation_id());
    }
}
