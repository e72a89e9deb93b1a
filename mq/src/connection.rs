//! A supervised broker connection: connects in the background (the broker may not be up yet),
//! reconnects with backoff after a failure, and hands every component the current live link so
//! each can re-declare its own topology, consumers and reply queues.

use crate::MqError;
use crate::backoff::Backoff;
use crate::tls::{self, CaBundle};
use crate::topology;
use futures::StreamExt;
use lapin::tcp::OwnedTLSConfig;
use lapin::uri::AMQPUri;
use lapin::{ConnectionProperties, Event};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long [`Connection::close`] waits for servers and subscribers to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one connection attempt (TCP, TLS, AMQP handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A handle to a supervised AMQP connection; cheap to clone, shared by every component.
#[derive(Clone, Debug)]
pub struct Connection {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The current live link, `None` while (re)connecting.
    link: watch::Sender<Option<Link>>,
    /// Cancelled when the process starts draining: servers and subscribers stop consuming.
    draining: CancellationToken,
    /// Cancelled when the connection closes for good: the supervisor stops.
    closed: CancellationToken,
    /// Number of servers/subscribers still running; `close` waits for it to reach zero.
    active: watch::Sender<usize>,
    /// Why the latest connection attempt failed; `None` once connected.
    last_error: Mutex<Option<String>>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

/// One established lapin connection; `generation` increases with every reconnect.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    pub(crate) conn: Arc<lapin::Connection>,
    pub(crate) generation: u64,
}

/// Held by a running server or subscriber so that [`Connection::close`] waits for its drain.
#[derive(Debug)]
pub(crate) struct ActiveGuard(Arc<Shared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.send_modify(|n| *n -= 1);
    }
}

impl Connection {
    /// Validates `url` and starts connecting in the background; returns at once, even when the
    /// broker is not up yet. Must be called inside a Tokio runtime.
    ///
    /// A URL whose path is `/` or empty means the vhost `/`, as in the Go and C++ clients.
    pub fn connect_supervised(url: &str) -> Result<Connection, MqError> {
        Self::connect_supervised_with(url, None)
    }

    /// [`Connection::connect_supervised`], with the CA bundle an `amqps://` broker's
    /// certificate must chain to (`None`: the system roots). A CA with an `amqp://` URL is
    /// refused: it would be ignored, and the caller meant TLS.
    pub fn connect_supervised_with(
        url: &str,
        ca: Option<&CaBundle>,
    ) -> Result<Connection, MqError> {
        let uri = parse_url(url)?;
        if ca.is_some() && uri.scheme != lapin::uri::AMQPScheme::AMQPS {
            return Err(MqError::InvalidUrl {
                url: redact(url),
                reason: "a CA is given but the URL is not amqps://".into(),
            });
        }
        let tls = tls::tls_config(&uri, ca)?;
        let target = Target {
            uri,
            tls,
            shown: redact(url),
        };
        let (link, _) = watch::channel(None);
        let (active, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            link,
            draining: CancellationToken::new(),
            closed: CancellationToken::new(),
            active,
            last_error: Mutex::new(None),
            supervisor: Mutex::new(None),
        });
        let task = tokio::spawn(supervise(target, shared.clone()));
        *shared.supervisor.lock().expect("supervisor lock") = Some(task);
        Ok(Connection { shared })
    }

    /// True while a live broker connection exists.
    pub fn is_connected(&self) -> bool {
        self.shared
            .link
            .borrow()
            .as_ref()
            .is_some_and(|l| l.conn.status().connected())
    }

    /// Waits until the broker connection is up, at most `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), MqError> {
        tokio::time::timeout(timeout, self.link())
            .await
            .ok()
            .flatten()
            .map(|_| ())
            .ok_or(MqError::NotConnected)
    }

    /// Why the latest connection attempt failed (e.g. connection refused, access refused);
    /// `None` while connected or before the first attempt has ended. Lets a caller that gave
    /// up waiting say why.
    pub fn last_error(&self) -> Option<String> {
        self.shared
            .last_error
            .lock()
            .expect("last_error lock")
            .clone()
    }

    /// Cancelled once [`Connection::begin_drain`] or [`Connection::close`] is called.
    pub fn draining(&self) -> CancellationToken {
        self.shared.draining.clone()
    }

    /// Tells servers and subscribers to stop consuming and finish their in-flight work; clients
    /// and broadcasters keep working until [`Connection::close`].
    pub fn begin_drain(&self) {
        self.shared.draining.cancel();
    }

    /// Drains servers and subscribers (stop consuming, finish handlers, ack), then closes the
    /// broker connection. Idempotent.
    pub async fn close(&self) {
        self.begin_drain();
        let mut active = self.shared.active.subscribe();
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, active.wait_for(|n| *n == 0))
            .await
            .is_ok();
        if !drained {
            tracing::warn!("drain timed out; closing with work in flight (it will be redelivered)");
        }
        self.shared.closed.cancel();
        let task = self.shared.supervisor.lock().expect("lock").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Waits for a live link; `None` once the connection is closed.
    pub(crate) async fn link(&self) -> Option<Link> {
        let mut rx = self.shared.link.subscribe();
        tokio::select! {
            res = rx.wait_for(|l| l.as_ref().is_some_and(|l| l.conn.status().connected())) => {
                res.ok().and_then(|l| l.clone())
            }
            _ = self.shared.closed.cancelled() => None,
        }
    }

    /// Resolves when `generation` is no longer the live link (lost, replaced, or closed).
    pub(crate) async fn link_lost(&self, generation: u64) {
        let mut rx = self.shared.link.subscribe();
        let _ = rx
            .wait_for(|l| l.as_ref().is_none_or(|l| l.generation != generation))
            .await;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.is_cancelled()
    }

    /// Registers a server or subscriber that `close` must wait for.
    pub(crate) fn track_active(&self) -> ActiveGuard {
        self.shared.active.send_modify(|n| *n += 1);
        ActiveGuard(self.shared.clone())
    }
}

/// Parses an AMQP URL, mapping an empty vhost (`amqp://host/`) to `/` like the official clients.
pub fn parse_url(url: &str) -> Result<AMQPUri, MqError> {
    let mut uri: AMQPUri = url.parse().map_err(|reason| MqError::InvalidUrl {
        url: redact(url),
        reason,
    })?;
    if uri.vhost.is_empty() {
        uri.vhost = "/".to_owned();
    }
    Ok(uri)
}

/// The URL without its password, for error messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Where the supervisor connects: the URL, its TLS roots, and how to name it in messages.
struct Target {
    uri: AMQPUri,
    tls: OwnedTLSConfig,
    /// The URL without its password.
    shown: String,
}

async fn supervise(target: Target, shared: Arc<Shared>) {
    let uri = &target.uri;
    let mut backoff = Backoff::reconnect();
    let mut generation = 0;
    let mut failures = 0u32;
    while !shared.closed.is_cancelled() {
        let attempt = tokio::select! {
            res = connect_once(&target) => res,
            _ = shared.closed.cancelled() => break,
        };
        let conn = match attempt {
            Ok(conn) => Arc::new(conn),
            Err(err) => {
                failures += 1;
                // Name the broker: a TLS failure (unknown CA, wrong host name, a plaintext
                // listener) says nothing of which broker it was.
                let err = match tls::explain(&err.to_string()) {
                    Some(reading) => format!("{}: {err} ({reading})", target.shown),
                    None => format!("{}: {err}", target.shown),
                };
                *shared.last_error.lock().expect("last_error lock") = Some(err.clone());
                // The first failure is worth a warning; repeats while the broker is down are not.
                if failures == 1 {
                    tracing::warn!(error = %err, host = %uri.authority.host, "broker unreachable, retrying");
                } else {
                    tracing::debug!(error = %err, failures, "broker still unreachable");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_delay()) => continue,
                    _ = shared.closed.cancelled() => break,
                }
            }
        };
        failures = 0;
        *shared.last_error.lock().expect("last_error lock") = None;
        backoff.reset();
        generation += 1;
        let events = conn.events_listener();
        shared.link.send_replace(Some(Link {
            conn: conn.clone(),
            generation,
        }));
        tracing::info!(generation, host = %uri.authority.host, "connected to broker");
        let lost = wait_until_broken(&conn, events, &shared.closed).await;
        shared.link.send_replace(None);
        if lost {
            tracing::warn!(generation, "broker connection lost, reconnecting");
        } else {
            let _ = conn.close(200, "shutdown".into()).await;
        }
    }
    shared.link.send_replace(None);
}

async fn connect_once(target: &Target) -> Result<lapin::Connection, lapin::Error> {
    let name = format!("koinos-services/{}", std::process::id());
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    let runtime = lapin::runtime::default_runtime()?;
    let connect = lapin::Connection::connect_uri_with_config(
        target.uri.clone(),
        properties,
        target.tls.clone(),
        runtime,
    );
    // lapin bounds neither the TCP connect nor the handshakes: a listener that accepts and
    // stays silent must fail the attempt, not hang the supervisor.
    let conn = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| {
            lapin::Error::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no AMQP handshake within {CONNECT_TIMEOUT:?}"),
            ))
        })??;
    let channel = conn.create_channel().await?;
    topology::declare_exchanges(&channel).await?;
    channel.close(200, "declared".into()).await?;
    Ok(conn)
}

/// Returns true when the connection broke, false when `closed` was cancelled.
async fn wait_until_broken(
    conn: &lapin::Connection,
    events: impl futures::Stream<Item = Event>,
    closed: &CancellationToken,
) -> bool {
    let mut events = std::pin::pin!(events);
    // Events report errors promptly; the status poll catches anything the events miss.
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            event = events.next() => match event {
                // Channel-level errors are reported here too; only a dead connection counts.
                Some(Event::Error(err)) if !conn.status().connected() => {
                    tracing::debug!(error = %err, "broker connection error");
                    return true;
                }
                Some(_) => {}
                None => return true,
            },
            _ = poll.tick() => {
                if !conn.status().connected() {
                    return true;
                }
            }
            _ = closed.cancelled() => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_path_means_default_vhost() {
        let uri = parse_url("amqp://guest:guest@localhost:5672/").unwrap();
        assert_eq!(uri.vhost, "/");
        assert_eq!(parse_url("amqp://h:5672/%2f").unwrap().vhost, "/");
        assert_eq!(parse_url("amqp://h:5672/koinos").unwrap().vhost, "koinos");
    }

    #[test]
    fn bad_url_is_rejected_without_leaking_the_password() {
        let err = parse_url("http://user:secret@h/").unwrap_err().to_string();
        assert!(err.contains("user:***@h"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }
}
