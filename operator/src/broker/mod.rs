//! What the operator reads from a cluster's own broker: the depth of its RPC queues (the
//! autoscaling signal, design §3) and the chain's head (`status.chain`, design §6).
//!
//! The trait is the seam between the reader (AMQP, with the cluster's credentials) and its
//! users: the status writer and the `external.metrics.k8s.io` API server.

use std::future::Future;
use std::pin::Pin;

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

/// Reads a KoinosCluster's broker.
pub trait BrokerReader: Send + Sync + 'static {
    /// Messages waiting in `queue` (e.g. `koinos.rpc.block_store`) of cluster
    /// `namespace/cluster`.
    fn queue_depth<'a>(
        &'a self,
        namespace: &'a str,
        cluster: &'a str,
        queue: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerReadError>>;
}
