//! Wiring: the controller's options, its shared [`Context`], and [`run`]: the watches on
//! KoinosClusters and every child kind, driving [`reconcile`](super::reconcile).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::ListParams;
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{WatchStreamExt, predicates, reflector, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{info, warn};

use super::apply::{AppliedCache, Discovery};
use super::build::Child;
use super::build::meta::{LABEL_MANAGED_BY, MANAGED_BY};
use super::status::BrokerObservation;
use super::stores::ChildStores;
use super::{error_policy, reconcile};
use crate::broker::{AmqpBrokerReader, ReaderOptions};
use crate::crd::{FIELD_MANAGER, KoinosCluster};
use crate::metrics::Metrics;
use crate::model::ValidatedCluster;

/// Default of `--chain-status-interval`.
pub const DEFAULT_CHAIN_STATUS_INTERVAL: Duration = Duration::from_secs(30);

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// Watch one namespace, or all when `None`.
    pub namespace: Option<String>,
    /// Requeue interval of a healthy cluster (drift detection).
    pub resync: Duration,
    /// Identity in Events (e.g. the pod name).
    pub instance: Option<String>,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        Self {
            namespace: None,
            resync: Duration::from_secs(300),
            instance: None,
        }
    }
}

/// How the controller reads each cluster's own broker (`status.chain`, queue depths).
#[derive(Clone)]
pub struct BrokerOptions {
    /// Shared with the metrics API, so each cluster has one connection.
    pub reader: AmqpBrokerReader,
    /// Requeue interval of a running cluster, so that `status.chain` stays fresh.
    pub chain_status_interval: Duration,
}

impl BrokerOptions {
    /// A reader of the clusters in `namespace` (all when `None`), default interval.
    pub fn new(client: Client, namespace: Option<String>) -> Self {
        Self {
            reader: AmqpBrokerReader::with_options(client, namespace, ReaderOptions::default()),
            chain_status_interval: DEFAULT_CHAIN_STATUS_INTERVAL,
        }
    }
}

/// Shared state of the reconciler.
pub struct Context {
    pub client: Client,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub cache: AppliedCache,
    /// Whether optional kinds (the PodMonitor) are served, shared by every cluster's pass.
    pub discovery: Discovery,
    /// Watch caches of the children (filled by [`run_with_broker`]'s watches).
    pub stores: ChildStores,
    pub resync: Duration,
    /// `None`: brokers are not read (status.chain and queue depths stay as they are).
    pub broker: Option<BrokerOptions>,
    /// Consecutive failures per cluster (`ns/name`), for backoff.
    pub(super) failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(
        client: Client,
        metrics: Metrics,
        resync: Duration,
        instance: Option<String>,
    ) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            cache: AppliedCache::default(),
            discovery: Discovery::default(),
            stores: ChildStores::default(),
            resync,
            broker: None,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Also read each running cluster's broker.
    pub fn with_broker(mut self, broker: BrokerOptions) -> Self {
        self.broker = Some(broker);
        self
    }

    /// Requeue interval of a cluster that reconciled fine: running clusters come back at the
    /// chain status interval when brokers are read.
    pub(super) fn requeue_after(&self, stopped: bool) -> Duration {
        match &self.broker {
            Some(broker) if !stopped => self.resync.min(broker.chain_status_interval),
            _ => self.resync,
        }
    }

    /// This pass's look at the cluster's broker; `None` when brokers are not read.
    pub(super) async fn read_broker(&self, vc: &ValidatedCluster) -> Option<BrokerObservation> {
        let broker = self.broker.as_ref()?;
        if vc.is_stopped() {
            return Some(BrokerObservation::Stopped);
        }
        Some(BrokerObservation::Read(
            broker.reader.read_cluster(vc).await,
        ))
    }
}

fn api_for<K>(client: &Client, namespace: &Option<String>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Run the controller until `shutdown` resolves, reading clusters' brokers with a reader of
/// its own every [`DEFAULT_CHAIN_STATUS_INTERVAL`]. Usable in-process (e2e tests) and by
/// `koinos-operator run` (after leader election).
pub async fn run(
    client: Client,
    options: ControllerOptions,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), kube::Error> {
    let broker = BrokerOptions::new(client.clone(), options.namespace.clone());
    run_with_broker(client, options, broker, metrics, shutdown).await
}

/// The watch of one child kind: its events trigger the owner's pass, and it fills the kind's
/// cache in `stores`.
fn child_watch<K: Child>(
    client: &Client,
    ns: &Option<String>,
    config: &watcher::Config,
    stores: &mut ChildStores,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send + use<K> {
    let (store, writer) = reflector::store();
    stores.insert::<K>(store);
    watcher(api_for::<K>(client, ns), config.clone())
        .default_backoff()
        .reflect(writer)
        .touched_objects()
}

/// Drops the gauges of a deleted cluster, and after a (re)list those of every cluster not
/// listed.
fn forget_deleted(
    metrics: &Metrics,
    listed: &reflector::Store<KoinosCluster>,
    event: &watcher::Event<KoinosCluster>,
) {
    match event {
        watcher::Event::Delete(cluster) => super::cluster_metrics::forget(
            metrics,
            &cluster.namespace().unwrap_or_default(),
            &cluster.name_any(),
        ),
        watcher::Event::InitDone => {
            let live: std::collections::HashSet<(String, String)> = listed
                .state()
                .iter()
                .map(|c| (c.namespace().unwrap_or_default(), c.name_any()))
                .collect();
            super::cluster_metrics::retain(metrics, |namespace, cluster| {
                live.contains(&(namespace.to_string(), cluster.to_string()))
            });
        }
        _ => {}
    }
}

/// [`run`] with a given broker reader and chain status interval.
pub async fn run_with_broker(
    client: Client,
    options: ControllerOptions,
    broker: BrokerOptions,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), kube::Error> {
    let clusters: Api<KoinosCluster> = api_for(&client, &options.namespace);
    // Fail fast with a clear error when the CRD is missing or RBAC forbids listing.
    clusters.list(&ListParams::default().limit(1)).await?;
    let mut context = Context::new(
        client.clone(),
        metrics,
        options.resync,
        options.instance.clone(),
    )
    .with_broker(broker);
    let children = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}"));
    let ns = &options.namespace;
    info!(
        namespace = ns.as_deref().unwrap_or("<all>"),
        "starting the KoinosCluster controller"
    );
    // Only spec changes (a new generation) trigger a pass, not status writes (the operator's
    // own, every chain status interval on a live chain) or metadata edits; the store still
    // reflects every change, so a pass always sees the latest status.
    let (reader, writer) = reflector::store();
    // A deleted cluster's gauges go with it (no pass runs for an object that is gone); after a
    // relist, those of clusters deleted during the gap too.
    let gauges = context.metrics.clone();
    let listed = reader.clone();
    let cluster_changes = watcher(clusters, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .inspect_ok(move |event| forget_deleted(&gauges, &listed, event))
        .applied_objects()
        .predicate_filter(predicates::generation, Default::default());
    // Each child kind's watch both triggers its owner's pass and fills a cache the apply step
    // reads instead of the API server.
    let stores = &mut context.stores;
    let config_maps = child_watch::<ConfigMap>(&client, ns, &children, stores);
    let secrets = child_watch::<Secret>(&client, ns, &children, stores);
    let services = child_watch::<Service>(&client, ns, &children, stores);
    let ingresses = child_watch::<Ingress>(&client, ns, &children, stores);
    let policies = child_watch::<NetworkPolicy>(&client, ns, &children, stores);
    let sets = child_watch::<StatefulSet>(&client, ns, &children, stores);
    let deployments = child_watch::<Deployment>(&client, ns, &children, stores);
    let hpas = child_watch::<HorizontalPodAutoscaler>(&client, ns, &children, stores);
    let pdbs = child_watch::<PodDisruptionBudget>(&client, ns, &children, stores);
    let context = Arc::new(context);
    Controller::for_stream(cluster_changes, reader)
        .owns_stream(config_maps)
        .owns_stream(secrets)
        .owns_stream(services)
        .owns_stream(ingresses)
        .owns_stream(policies)
        .owns_stream(sets)
        .owns_stream(deployments)
        .owns_stream(hpas)
        .owns_stream(pdbs)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "reconcile loop");
            }
        })
        .await;
    Ok(())
}
