//! The KoinosCluster controller: validate (pure) -> build (pure) -> apply -> status.

pub mod apply;
pub mod broker_admin;
pub mod build;
pub mod cluster_metrics;
pub mod error;
pub mod events;
pub mod status;
pub mod stores;
pub mod users;
mod wiring;

pub use self::wiring::{
    BrokerOptions, Context, ControllerOptions, DEFAULT_CHAIN_STATUS_INTERVAL, run, run_with_broker,
};

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;
use tracing::{info, instrument, warn};

use self::apply::{Applied, Applier};
use self::error::Error;
use self::status::{BrokerObservation, Observed, Outcome};
use crate::crd::{FIELD_MANAGER, KoinosCluster};
use crate::model::ValidatedCluster;

/// With no ready node in the managed broker a failed read says nothing new: report
/// `BrokerNotReady` instead (the read ran concurrently with the apply, at no extra latency).
fn merge_broker(mut observed: Observed, broker: Option<BrokerObservation>) -> Observed {
    observed.broker = match (observed.broker_ready, broker) {
        (Some(false), Some(BrokerObservation::Read(_))) => Some(BrokerObservation::BrokerNotReady),
        (_, broker) => broker,
    };
    observed
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
    let namespace = cluster.namespace().ok_or(Error::MissingNamespace)?;
    if cluster.metadata.deletion_timestamp.is_some() {
        cluster_metrics::forget(&ctx.metrics, &namespace, &cluster.name_any());
        return Ok(Action::await_change()); // children go with it through owner references
    }
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
        let (observed, broker) = tokio::join!(
            status::observe(&ctx.client, Some(&ctx.stores), &vc),
            ctx.read_broker(&vc)
        );
        (None, merge_broker(observed?, broker))
    } else {
        // The broker read (bounded by its timeout) overlaps the apply.
        let (applied, broker) = tokio::join!(apply_children(&ctx, &vc), ctx.read_broker(&vc));
        let mut observed = status::observe(&ctx.client, Some(&ctx.stores), &vc).await?;
        observed.monitoring = applied.as_ref().ok().and_then(|a| a.monitoring.clone());
        observed.routes = applied.as_ref().ok().and_then(|a| a.routes.clone());
        observed.broker_users = applied.as_ref().ok().and_then(|a| a.broker_users.clone());
        (Some(applied), merge_broker(observed, broker))
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    cluster_metrics::record(&ctx.metrics, &vc, observed.broker.as_ref(), &now);
    let outcome = Outcome::of(applied.as_ref());
    let stopped = vc.is_stopped();
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

/// Generated material (read back, or made once) -> the broker's administrator (a rotation)
/// and users -> build (pure) -> apply -> orphan cleanup.
async fn apply_children(ctx: &Context, vc: &ValidatedCluster) -> Result<Applied, Error> {
    let mut generated = apply::ensure_generated(&ctx.client, Some(&ctx.stores), vc).await?;
    generated.p2p_load_balancer =
        status::p2p_load_balancer(&ctx.client, Some(&ctx.stores), vc).await?;
    // A new administrator, if asked for, before anything calls the management API with it.
    let admin = broker_admin::rotate_admin(&ctx.stores, vc, &mut generated).await;
    // Before the apply: a workload rolled onto a new user finds it in the broker.
    let broker_users = users::provision_users(&ctx.stores, vc, &generated).await;
    let desired = build::build(vc, &generated);
    let mut applier = Applier::new(&ctx.client, &vc.namespace, &ctx.cache)
        .with_stores(&ctx.stores)
        .with_discovery(&ctx.discovery);
    applier.apply_all(&desired).await?;
    applier.delete_orphans(vc, &desired).await?;
    if let broker_admin::AdminOutcome::Rotated { .. } = admin {
        // The Secret names the new administrator now; a failure here only means one more
        // rotation later (the request is still there).
        if let Err(error) = broker_admin::clear_rotation_request(&ctx.client, vc).await {
            warn!(%error, "broker administrator rotated; the request annotation stays");
        }
    }
    applier.applied.broker_users = broker_users;
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
