//! What the operator reads from a cluster's own broker: the depth of its RPC queues (the
//! autoscaling signal, docs/design.md "Replicas and autoscaling") and the chain's head (`status.chain`, docs/design.md "Status").
//!
//! The trait is the seam between the reader (AMQP, with the cluster's credentials) and its
//! users: the status writer and the `external.metrics.k8s.io` API server.
//!
//! [`AmqpBrokerReader`] is the implementation: it finds a cluster's AMQP URL in the cluster's
//! own Secret ([`target`]), keeps one supervised connection per cluster ([`session`]), closed
//! when idle, and bounds every read by a timeout (2 s by default).
//!
//! Queue depth = the ready messages of `koinos.rpc.<service>`, from a passive `queue.declare`.
//! AMQP reports no count of delivered-but-unacknowledged messages; our services ack after the
//! work and cap in-flight requests with `basic.qos` prefetch, so the ready messages are the
//! backlog. A queue that does not exist has depth 0: its service has not declared it yet, and
//! requests routed to it are dropped by the broker, so nothing is waiting (an HPA then sits at
//! its floor instead of reporting a failed metric).

pub mod admin;
pub mod management;
pub mod policy;
pub mod reader;
pub mod session;
pub mod target;
#[cfg(test)]
pub(crate) mod test_vhost;
pub mod users;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use reader::{AmqpBrokerReader, ClusterReading, ReaderOptions};

/// A boxed future, so the trait stays object-safe (`Arc<dyn BrokerReader>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a cluster's broker could not be read. Messages name the cluster and what failed; they
/// end up in a status condition or an API error, never in a reconcile error.
#[derive(Debug, thiserror::Error)]
pub enum BrokerReadError {
    /// No KoinosCluster of that name in the namespace (or not watched by this operator).
    #[error("KoinosCluster {namespace}/{cluster} not found")]
    UnknownCluster { namespace: String, cluster: String },
    /// The queue is not one of the cluster's RPC queues.
    #[error("queue {queue} is not an RPC queue of KoinosCluster {namespace}/{cluster}")]
    UnknownQueue {
        namespace: String,
        cluster: String,
        queue: String,
    },
    /// Credentials missing, connection refused, timeout, queue absent, bad reply.
    #[error("reading the broker of KoinosCluster {namespace}/{cluster}: {reason}")]
    Unavailable {
        namespace: String,
        cluster: String,
        reason: String,
    },
}

/// Why one read of a cluster's broker failed, classified for the `ChainReachable` condition:
/// each variant's [`ReadFailure::message`] depends only on stable facts (no error text, no
/// timestamps), so repeated failures do not rewrite the status; `detail` is for logs and
/// Events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// The AMQP URL could not be found: its Secret or key is missing, or it does not parse.
    Credentials { message: String },
    /// No connection to the broker (refused, DNS, authentication, timeout).
    Broker { endpoint: String, detail: String },
    /// Connected, but the chain service did not answer in time.
    ChainTimeout { after: Duration },
    /// The chain service answered with an error or something unexpected.
    ChainError { detail: String },
}

impl ReadFailure {
    /// `BrokerUnavailable` or `ChainUnavailable`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Credentials { .. } | Self::Broker { .. } => "BrokerUnavailable",
            Self::ChainTimeout { .. } | Self::ChainError { .. } => "ChainUnavailable",
        }
    }

    /// The stable message of the condition.
    pub fn message(&self) -> String {
        match self {
            Self::Credentials { message } => message.clone(),
            Self::Broker { endpoint, .. } => {
                format!("cannot connect to the cluster's broker at {endpoint}")
            }
            Self::ChainTimeout { after } => {
                format!("the chain service did not answer get_head_info within {after:?}")
            }
            Self::ChainError { .. } => {
                "the chain service answered get_head_info with an error".into()
            }
        }
    }

    /// The message plus what exactly went wrong (varies: Events and logs only).
    pub fn detail(&self) -> String {
        match self {
            Self::Broker { detail, .. } | Self::ChainError { detail } => {
                format!("{}: {detail}", self.message())
            }
            _ => self.message(),
        }
    }

    /// As a [`BrokerReadError`] of cluster `namespace/cluster`.
    pub fn into_error(self, namespace: &str, cluster: &str) -> BrokerReadError {
        BrokerReadError::Unavailable {
            namespace: namespace.into(),
            cluster: cluster.into(),
            reason: self.detail(),
        }
    }
}

/// Reads a KoinosCluster's broker.
pub trait BrokerReader: Send + Sync + 'static {
    /// Messages waiting in `queue` (e.g. `koinos.rpc.block_store`) of cluster
    /// `namespace/cluster`: the ready messages (see the module doc), 0 when the queue does
    /// not exist yet; [`BrokerReadError::UnknownQueue`] for anything but one of the cluster's
    /// enabled services' `koinos.rpc.<service>` queues.
    fn queue_depth<'a>(
        &'a self,
        namespace: &'a str,
        cluster: &'a str,
        queue: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerReadError>>;
}
