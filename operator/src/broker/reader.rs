//! [`AmqpBrokerReader`]: reads clusters' brokers with their own credentials, one cached
//! connection per cluster.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Secret;
use koinos_mq::CaBundle;
use kube::{Api, Client};
use tokio::time::Instant;
use tracing::debug;

use super::session::ClusterBroker;
use super::target::{BrokerTarget, target};
use super::{BoxFuture, BrokerReadError, BrokerReader, ReadFailure};
use crate::crd::KoinosCluster;
use crate::crd::status::ChainStatus;
use crate::model::naming::{amqp_ca_secret, amqp_url_secret};
use crate::model::profile::ServiceKind;
use crate::model::{ValidatedCluster, validate};

/// Timeouts and cache lifetimes of the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Bound of every read, connecting included.
    pub timeout: Duration,
    /// How long a cluster's broker URL, looked up by name, is reused (the metrics API asks
    /// every few seconds per HPA; the status path always looks it up afresh).
    pub resolve_ttl: Duration,
    /// A cluster's connection is closed after this long without a read.
    pub idle: Duration,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            resolve_ttl: Duration::from_secs(5),
            idle: Duration::from_secs(300),
        }
    }
}

/// What one pass read from a cluster's broker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterReading {
    /// The chain's head; `None` when the chain service is disabled.
    pub head: Option<Result<ChainStatus, ReadFailure>>,
    /// Depth of each enabled service's RPC queue, by spec name (`blockStore`); services
    /// whose depth could not be read are absent.
    pub queue_depths: BTreeMap<String, u64>,
    /// Consumers attached to each of those queues, by spec name (read with the depth).
    pub queue_consumers: BTreeMap<String, u64>,
}

/// Reads clusters' brokers over AMQP; cheap to clone (clones share connections and caches).
#[derive(Clone)]
pub struct AmqpBrokerReader {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// Only clusters in this namespace are read (the operator's watch namespace).
    namespace: Option<String>,
    options: ReaderOptions,
    resolved: Mutex<HashMap<String, (Instant, Resolved)>>,
    brokers: Mutex<HashMap<String, Pooled>>,
}

type Resolved = Result<Arc<BrokerTarget>, ResolveFailure>;

#[derive(Clone, Debug)]
enum ResolveFailure {
    UnknownCluster,
    Unreadable(ReadFailure),
}

struct Pooled {
    url: String,
    ca: Option<CaBundle>,
    broker: Arc<ClusterBroker>,
    last_used: Instant,
}

fn key(namespace: &str, cluster: &str) -> String {
    format!("{namespace}/{cluster}")
}

/// A stable description of a failed API read (the status code, not the error text).
fn api_failure(what: String, error: &kube::Error) -> ReadFailure {
    let message = match error {
        kube::Error::Api(status) => format!("cannot read {what} (HTTP {})", status.code),
        _ => format!("cannot read {what} (API server unreachable)"),
    };
    ReadFailure::Credentials { message }
}

impl AmqpBrokerReader {
    /// A reader using `client` to find clusters and their Secrets, with default options.
    /// Must be called inside a Tokio runtime (it starts the idle-connection sweeper).
    pub fn new(client: Client) -> Self {
        Self::with_options(client, None, ReaderOptions::default())
    }

    /// A reader confined to `namespace` (others are [`BrokerReadError::UnknownCluster`]).
    pub fn with_options(client: Client, namespace: Option<String>, options: ReaderOptions) -> Self {
        let inner = Arc::new(Inner {
            client,
            namespace,
            options,
            resolved: Mutex::new(HashMap::new()),
            brokers: Mutex::new(HashMap::new()),
        });
        tokio::spawn(sweep(Arc::downgrade(&inner)));
        Self { inner }
    }

    pub fn options(&self) -> ReaderOptions {
        self.inner.options
    }

    /// Reads the chain's head and every RPC queue depth of a validated cluster, concurrently,
    /// within about one timeout. Looks its URL Secret up afresh (the spec in hand is current).
    pub async fn read_cluster(&self, vc: &ValidatedCluster) -> ClusterReading {
        let chain_enabled = vc.service(ServiceKind::Chain).is_some();
        let failed = |failure: ReadFailure| ClusterReading {
            head: chain_enabled.then_some(Err(failure)),
            ..ClusterReading::default()
        };
        let target = match self.target_of(vc).await {
            Ok(target) => target,
            Err(failure) => return failed(failure),
        };
        let broker = match self.broker_for(&key(&vc.namespace, &vc.name), &target) {
            Ok(broker) => broker,
            Err(failure) => return failed(failure),
        };
        let head = async {
            match target.chain_enabled {
                true => Some(broker.head_info().await),
                false => None,
            }
        };
        let counts = join_all(target.queues.iter().map(|(queue, spec_name)| {
            let broker = broker.clone();
            async move { (spec_name.clone(), broker.queue_counts(queue).await) }
        }));
        let (head, counts) = tokio::join!(head, counts);
        let mut reading = ClusterReading {
            head,
            ..ClusterReading::default()
        };
        for (spec_name, counts) in counts {
            match counts {
                Ok(counts) => {
                    reading.queue_depths.insert(spec_name.clone(), counts.ready);
                    reading.queue_consumers.insert(spec_name, counts.consumers);
                }
                Err(failure) => {
                    debug!(cluster = %key(&vc.namespace, &vc.name), service = %spec_name, error = %failure.detail(), "queue depth");
                }
            }
        }
        reading
    }

    /// `chain.get_head_info` of cluster `namespace/cluster`.
    pub async fn head_info(
        &self,
        namespace: &str,
        cluster: &str,
    ) -> Result<ChainStatus, BrokerReadError> {
        let target = self.resolve(namespace, cluster).await?;
        let broker = self
            .broker_for(&key(namespace, cluster), &target)
            .map_err(|f| f.into_error(namespace, cluster))?;
        broker
            .head_info()
            .await
            .map_err(|f| f.into_error(namespace, cluster))
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close_all(&self) {
        let brokers: Vec<_> = self
            .inner
            .brokers
            .lock()
            .expect("brokers lock")
            .drain()
            .map(|(_, pooled)| pooled.broker)
            .collect();
        join_all(brokers.iter().map(|b| b.close())).await;
    }

    /// Number of open cluster connections (for tests and metrics).
    pub fn open_connections(&self) -> usize {
        self.inner.brokers.lock().expect("brokers lock").len()
    }

    /// The target of a validated cluster, from its URL Secret read now; refreshes the cache.
    async fn target_of(&self, vc: &ValidatedCluster) -> Result<Arc<BrokerTarget>, ReadFailure> {
        let reference = amqp_url_secret(vc);
        let secrets: Api<Secret> = Api::namespaced(self.inner.client.clone(), &vc.namespace);
        let secret = secrets.get_opt(&reference.name).await.map_err(|error| {
            api_failure(
                format!("Secret {}/{}", vc.namespace, reference.name),
                &error,
            )
        })?;
        let ca_secret = match amqp_ca_secret(vc) {
            Some(ca) => secrets.get_opt(&ca.name).await.map_err(|error| {
                api_failure(format!("Secret {}/{}", vc.namespace, ca.name), &error)
            })?,
            None => None,
        };
        let resolved = target(vc, secret.as_ref(), ca_secret.as_ref()).map(Arc::new);
        self.inner.resolved.lock().expect("resolved lock").insert(
            key(&vc.namespace, &vc.name),
            (
                Instant::now(),
                resolved.clone().map_err(ResolveFailure::Unreadable),
            ),
        );
        resolved
    }

    /// The target of cluster `namespace/cluster` looked up by name, cached for `resolve_ttl`.
    async fn resolve(
        &self,
        namespace: &str,
        cluster: &str,
    ) -> Result<Arc<BrokerTarget>, BrokerReadError> {
        let unknown = || BrokerReadError::UnknownCluster {
            namespace: namespace.into(),
            cluster: cluster.into(),
        };
        if self
            .inner
            .namespace
            .as_deref()
            .is_some_and(|ns| ns != namespace)
        {
            return Err(unknown());
        }
        let cache_key = key(namespace, cluster);
        let cached = self
            .inner
            .resolved
            .lock()
            .expect("resolved lock")
            .get(&cache_key)
            .filter(|(at, _)| at.elapsed() < self.inner.options.resolve_ttl)
            .map(|(_, resolved)| resolved.clone());
        let resolved = match cached {
            Some(resolved) => resolved,
            None => {
                let resolved = self.lookup(namespace, cluster).await;
                self.inner
                    .resolved
                    .lock()
                    .expect("resolved lock")
                    .insert(cache_key, (Instant::now(), resolved.clone()));
                resolved
            }
        };
        resolved.map_err(|failure| match failure {
            ResolveFailure::UnknownCluster => unknown(),
            ResolveFailure::Unreadable(failure) => failure.into_error(namespace, cluster),
        })
    }

    async fn lookup(&self, namespace: &str, cluster: &str) -> Resolved {
        let clusters: Api<KoinosCluster> = Api::namespaced(self.inner.client.clone(), namespace);
        let kc = clusters
            .get_opt(cluster)
            .await
            .map_err(|error| {
                ResolveFailure::Unreadable(api_failure(
                    format!("KoinosCluster {namespace}/{cluster}"),
                    &error,
                ))
            })?
            .ok_or(ResolveFailure::UnknownCluster)?;
        let vc = validate(&kc, namespace).map_err(|_| {
            ResolveFailure::Unreadable(ReadFailure::Credentials {
                message: format!("KoinosCluster {namespace}/{cluster} has an invalid spec"),
            })
        })?;
        self.target_of(&vc)
            .await
            .map_err(ResolveFailure::Unreadable)
    }

    /// The cluster's cached connection, (re)created when absent or when its URL changed.
    fn broker_for(
        &self,
        cluster_key: &str,
        target: &BrokerTarget,
    ) -> Result<Arc<ClusterBroker>, ReadFailure> {
        let mut brokers = self.inner.brokers.lock().expect("brokers lock");
        if let Some(pooled) = brokers.get_mut(cluster_key)
            && pooled.url == target.url
            && pooled.ca == target.ca
        {
            pooled.last_used = Instant::now();
            return Ok(pooled.broker.clone());
        }
        let broker = Arc::new(ClusterBroker::connect(
            &target.url,
            target.ca.as_ref(),
            &target.endpoint,
            self.inner.options.timeout,
        )?);
        let replaced = brokers.insert(
            cluster_key.to_string(),
            Pooled {
                url: target.url.clone(),
                ca: target.ca.clone(),
                broker: broker.clone(),
                last_used: Instant::now(),
            },
        );
        if let Some(old) = replaced {
            debug!(
                cluster = cluster_key,
                "broker URL or CA changed: reconnecting"
            );
            tokio::spawn(async move { old.broker.close().await });
        }
        Ok(broker)
    }
}

impl BrokerReader for AmqpBrokerReader {
    fn queue_depth<'a>(
        &'a self,
        namespace: &'a str,
        cluster: &'a str,
        queue: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerReadError>> {
        Box::pin(async move {
            let target = self.resolve(namespace, cluster).await?;
            if !target.queues.contains_key(queue) {
                return Err(BrokerReadError::UnknownQueue {
                    namespace: namespace.into(),
                    cluster: cluster.into(),
                    queue: queue.into(),
                });
            }
            let broker = self
                .broker_for(&key(namespace, cluster), &target)
                .map_err(|f| f.into_error(namespace, cluster))?;
            broker
                .queue_depth(queue)
                .await
                .map_err(|f| f.into_error(namespace, cluster))
        })
    }
}

impl Drop for Inner {
    /// The last clone is gone: close its connections (their supervisors would otherwise keep
    /// reconnecting to brokers nobody reads any more).
    fn drop(&mut self) {
        let brokers: Vec<_> = match self.brokers.get_mut() {
            Ok(brokers) => brokers.drain().map(|(_, p)| p.broker).collect(),
            Err(_) => return,
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            for broker in brokers {
                runtime.spawn(async move { broker.close().await });
            }
        }
    }
}

/// Closes connections idle for longer than `options.idle`, until the reader is dropped.
async fn sweep(inner: Weak<Inner>) {
    let period = match inner.upgrade() {
        Some(inner) => (inner.options.idle / 4).max(Duration::from_secs(1)),
        None => return,
    };
    loop {
        tokio::time::sleep(period).await;
        let Some(inner) = inner.upgrade() else { return };
        let idle: Vec<_> = {
            let mut brokers = inner.brokers.lock().expect("brokers lock");
            let expired: Vec<String> = brokers
                .iter()
                .filter(|(_, p)| p.last_used.elapsed() >= inner.options.idle)
                .map(|(k, _)| k.clone())
                .collect();
            expired
                .into_iter()
                .filter_map(|k| brokers.remove(&k).map(|p| (k, p.broker)))
                .collect()
        };
        drop(inner);
        for (cluster, broker) in idle {
            debug!(%cluster, "closing an idle broker connection");
            broker.close().await;
        }
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod with_rabbitmq;
