//! The KoinosCluster controller: validate (pure) -> build (pure) -> apply -> status.

pub mod apply;
pub mod build;
pub mod error;
pub mod events;
pub mod status;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, instrument, warn};

use self::apply::{Applied, AppliedCache, Applier};
use self::build::meta::{LABEL_MANAGED_BY, MANAGED_BY};
use self::error::Error;
use self::status::{BrokerObservation, Observed, Outcome};
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
    pub resync: Duration,
    /// `None`: brokers are not read (status.chain and queue depths stay as they are).
    pub broker: Option<BrokerOptions>,
    /// Consecutive failures per cluster (`ns/name`), for backoff.
    failures: Mutex<HashMap<String, u32>>,
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
    fn requeue_after(&self, stopped: bool) -> Duration {
        match &self.broker {
            Some(broker) if !stopped => self.resync.min(broker.chain_status_interval),
            _ => self.resync,
        }
    }

    /// This pass's look at the cluster's broker; `None` when brokers are not read.
    async fn read_broker(&self, vc: &ValidatedCluster) -> Option<BrokerObservation> {
        let broker = self.broker.as_ref()?;
        if vc.operation.stopped {
            return Some(BrokerObservation::Stopped);
        }
        Some(BrokerObservation::Read(
            broker.reader.read_cluster(vc).await,
        ))
    }
}

/// With no ready node in the managed broker a failed read says nothing new: report
/// `BrokerNotReady` instead (the read ran concurrently with the apply, at no extra latency).
fn merge_broker(mut observed: Observed, broker: Option<BrokerObservation>) -> Observed {
    observed.broker = match (observed.broker_ready, broker) {
        (Some(false), Some(BrokerObservation::Read(_))) => Some(BrokerObservation::BrokerNotReady),
        (_, broker) => broker,
    };
    observed
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
    let context = Arc::new(
        Context::new(
            client.clone(),
            metrics,
            options.resync,
            options.instance.clone(),
        )
        .with_broker(broker),
    );
    let children = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}"));
    let ns = &options.namespace;
    info!(
        namespace = ns.as_deref().unwrap_or("<all>"),
        "starting the KoinosCluster controller"
    );
    Controller::new(clusters, watcher::Config::default())
        .owns(api_for::<ConfigMap>(&client, ns), children.clone())
        .owns(api_for::<Secret>(&client, ns), children.clone())
        .owns(api_for::<Service>(&client, ns), children.clone())
        .owns(api_for::<NetworkPolicy>(&client, ns), children.clone())
        .owns(api_for::<StatefulSet>(&client, ns), children.clone())
        .owns(api_for::<Deployment>(&client, ns), children.clone())
        .owns(
            api_for::<HorizontalPodAutoscaler>(&client, ns),
            children.clone(),
        )
        .owns(api_for::<PodDisruptionBudget>(&client, ns), children)
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

fn key(cluster: &KoinosCluster) -> String {
    format!(
        "{}/{}",
        cluster.namespace().unwrap_or_default(),
        cluster.name_any()
    )
}

/// validate -> generated material -> build -> apply -> orphan cleanup (not when paused; the
/// broker read overlaps them) -> observe -> status -> Events.
#[instrument(skip(cluster, ctx), fields(cluster = %cluster.name_any(), ns = cluster.namespace().unwrap_or_default()))]
pub async fn reconcile(cluster: Arc<KoinosCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.time_reconcile();
    if cluster.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change()); // children go with it through owner references
    }
    let namespace = cluster.namespace().ok_or(Error::MissingNamespace)?;
    let vc = match crate::model::validate(&cluster, &namespace) {
        Ok(vc) => vc,
        Err(invalid) => {
            ctx.metrics.reconciles.with_label_values(&["invalid"]).inc();
            let outcome = Outcome::Invalid(invalid.to_string());
            update_status(&cluster, &ctx, outcome, None, false).await?;
            return Ok(Action::await_change());
        }
    };
    let (applied, observed) = if vc.operation.reconciliation_paused {
        // Paused means no child is written; the cluster still runs, so its chain is read.
        let (observed, broker) =
            tokio::join!(status::observe(&ctx.client, &vc), ctx.read_broker(&vc));
        (None, merge_broker(observed?, broker))
    } else {
        // The broker read (bounded by its timeout) overlaps the apply.
        let (applied, broker) = tokio::join!(apply_children(&ctx, &vc), ctx.read_broker(&vc));
        let observed = status::observe(&ctx.client, &vc).await?;
        (Some(applied), merge_broker(observed, broker))
    };
    let outcome = Outcome::of(applied.as_ref());
    let stopped = vc.operation.stopped;
    update_status(&cluster, &ctx, outcome, Some(&observed), stopped).await?;
    match applied {
        None => ctx.metrics.reconciles.with_label_values(&["paused"]).inc(),
        Some(applied) => {
            record_applied(&cluster, &ctx, &applied?).await;
            ctx.failures
                .lock()
                .expect("failures lock")
                .remove(&key(&cluster));
            ctx.metrics.reconciles.with_label_values(&["success"]).inc();
        }
    }
    Ok(Action::requeue(ctx.requeue_after(stopped)))
}

/// Generated material (read back, or made once) -> build (pure) -> apply -> orphan cleanup.
async fn apply_children(ctx: &Context, vc: &ValidatedCluster) -> Result<Applied, Error> {
    let generated = apply::ensure_generated(&ctx.client, vc).await?;
    let desired = build::build(vc, &generated);
    let mut applier = Applier::new(&ctx.client, &vc.namespace, &ctx.cache);
    applier.apply_all(&desired).await?;
    applier.delete_orphans(vc, &desired).await?;
    Ok(applier.applied)
}

/// Compute the status (pure), patch it when it changed, and publish the Events of the change.
async fn update_status(
    cluster: &KoinosCluster,
    ctx: &Context,
    outcome: Outcome,
    observed: Option<&Observed>,
    stopped: bool,
) -> Result<(), Error> {
    let old = cluster.status.as_ref();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let new = status::compute_status(
        old,
        cluster.metadata.generation,
        &outcome,
        observed,
        stopped,
        now,
    );
    if old == Some(&new) {
        return Ok(()); // a no-op patch is still a write
    }
    let api: Api<KoinosCluster> =
        Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let patch = json!({"apiVersion": "koinos.io/v1alpha1", "kind": "KoinosCluster", "status": new});
    api.patch_status(
        &cluster.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::PatchStatus {
        name: cluster.name_any(),
        source,
    })?;
    let notices = events::on_status_change(old, &new, &outcome, observed);
    events::publish(&ctx.recorder, cluster, notices).await;
    Ok(())
}

async fn record_applied(cluster: &KoinosCluster, ctx: &Context, applied: &Applied) {
    ctx.metrics
        .writes
        .with_label_values(&["apply"])
        .inc_by(applied.written.len() as u64);
    ctx.metrics
        .writes
        .with_label_values(&["delete"])
        .inc_by(applied.deleted.len() as u64);
    if !applied.written.is_empty() {
        info!(written = ?applied.written, unchanged = applied.unchanged, "applied children");
    }
    events::publish(&ctx.recorder, cluster, events::on_applied(applied)).await;
}

/// Invalid specs wait for a change; other errors back off exponentially (5 s .. 5 min).
pub fn error_policy(cluster: Arc<KoinosCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconciles.with_label_values(&["failure"]).inc();
    ctx.metrics
        .failures
        .with_label_values(&[error.category()])
        .inc();
    warn!(cluster = %key(&cluster), category = error.category(), %error, "reconcile failed");
    if matches!(error, Error::InvalidSpec(_)) {
        return Action::await_change();
    }
    let mut failures = ctx.failures.lock().expect("failures lock");
    let count = failures.entry(key(&cluster)).or_insert(0);
    *count = count.saturating_add(1);
    Action::requeue(backoff(*count))
}

/// 5 s, 10 s, 20 s, ... capped at 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    let seconds = 5u64.saturating_mul(1 << failures.saturating_sub(1).min(10));
    Duration::from_secs(seconds.min(300))
}

#[cfg(test)]
mod tests;
