//! The per-cluster gauges of [`Metrics`] (`koinos_operator_chain_*`, `koinos_operator_queue_*`)
//! from what a pass read of the cluster's own broker: the same reading as `status.chain` and
//! `queueDepth`, with the same rules. A head read that fails keeps the last height (heights only
//! grow) and sets `chain_reachable` to 0; a queue that could not be read has no series (never a
//! stale depth); a stopped or deleted cluster has no series at all (nothing runs, nothing to
//! alert on).

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::status::BrokerObservation;
use super::status::chain::lag_seconds;
use crate::broker::ClusterReading;
use crate::metrics::Metrics;
use crate::model::ValidatedCluster;
use crate::model::profile::ServiceKind;

fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The chain gauges of one cluster.
fn chain_gauges(metrics: &Metrics) -> [&prometheus::IntGaugeVec; 4] {
    [
        &metrics.chain_head_height,
        &metrics.chain_last_irreversible_block,
        &metrics.chain_lag_seconds,
        &metrics.chain_reachable,
    ]
}

/// `(service, queue)` of every RPC queue the cluster may have: each Koinos service's that has
/// one (enabled or not: disabling one drops its series) and each extra service's (`service` its
/// name).
fn rpc_queues(vc: &ValidatedCluster) -> Vec<(String, String)> {
    let builtin = ServiceKind::ALL.iter().filter_map(|kind| {
        let profile = kind.profile();
        profile
            .rpc_queue
            .map(|queue| (profile.spec_name.to_string(), queue.to_string()))
    });
    let extra = vc
        .extra_services
        .iter()
        .map(|e| (e.name.clone(), e.queue.clone()));
    builtin.chain(extra).collect()
}

/// The value of label `name` of a collected series ("" when it has none).
fn label_value(metric: &prometheus::proto::Metric, name: &str) -> String {
    metric
        .get_label()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.value().to_string())
        .unwrap_or_default()
}

/// `(service, queue)` of the queue series of cluster `namespace/cluster` there are now (an
/// extra service removed from the spec leaves some that no longer are its queues).
fn queue_series(metrics: &Metrics, namespace: &str, cluster: &str) -> BTreeSet<(String, String)> {
    use prometheus::core::Collector;
    let mut found = BTreeSet::new();
    for gauge in [&metrics.queue_depth, &metrics.queue_consumers] {
        for family in gauge.collect() {
            for metric in family.get_metric() {
                let label = |name: &str| label_value(metric, name);
                if label("namespace") == namespace && label("cluster") == cluster {
                    found.insert((label("service"), label("queue")));
                }
            }
        }
    }
    found
}

fn forget_chain(metrics: &Metrics, namespace: &str, cluster: &str) {
    for gauge in chain_gauges(metrics) {
        // Absent already is fine: removing is how a series stops.
        let _ = gauge.remove_label_values(&[namespace, cluster]);
    }
}

fn forget_queue(metrics: &Metrics, labels: &[&str; 4]) {
    let _ = metrics.queue_depth.remove_label_values(labels);
    let _ = metrics.queue_consumers.remove_label_values(labels);
}

/// A service run with `replicas: 0` (and no autoscaling): nobody is meant to consume its queue,
/// so it has no consumers series (the consumer-missing alert would fire on purpose otherwise).
fn scaled_to_zero(vc: &ValidatedCluster, spec_name: &str) -> bool {
    let builtin = vc
        .services
        .iter()
        .find(|s| s.profile.spec_name == spec_name)
        .map(|s| (s.autoscaling.is_none(), s.replicas));
    let extra = || {
        vc.extra_services
            .iter()
            .find(|e| e.name == spec_name)
            .map(|e| (e.autoscaling.is_none(), e.replicas))
    };
    builtin
        .or_else(extra)
        .is_some_and(|(fixed, replicas)| fixed && replicas == 0)
}

/// Removes every series of cluster `namespace/cluster` (stopped, or deleted).
pub fn forget(metrics: &Metrics, namespace: &str, cluster: &str) {
    forget_chain(metrics, namespace, cluster);
    for (service, queue) in queue_series(metrics, namespace, cluster) {
        forget_queue(metrics, &[namespace, cluster, &service, &queue]);
    }
}

/// Removes the series of every cluster for which `keep(namespace, cluster)` is false.
pub fn retain(metrics: &Metrics, keep: impl Fn(&str, &str) -> bool) {
    use prometheus::core::Collector;
    let mut gone = std::collections::BTreeSet::new();
    for gauge in chain_gauges(metrics)
        .into_iter()
        .chain([&metrics.queue_depth, &metrics.queue_consumers])
    {
        for family in gauge.collect() {
            for metric in family.get_metric() {
                let label = |name: &str| label_value(metric, name);
                let (namespace, cluster) = (label("namespace"), label("cluster"));
                if !keep(&namespace, &cluster) {
                    gone.insert((namespace, cluster));
                }
            }
        }
    }
    for (namespace, cluster) in gone {
        forget(metrics, &namespace, &cluster);
    }
}

/// Sets the cluster's gauges from this pass's look at its broker (`None`: brokers are not
/// read, nothing changes). `now` is the clock the lag is measured against.
pub fn record(
    metrics: &Metrics,
    vc: &ValidatedCluster,
    broker: Option<&BrokerObservation>,
    now: &Time,
) {
    let Some(broker) = broker else { return };
    let (namespace, cluster) = (vc.namespace.as_str(), vc.name.as_str());
    let labels = [namespace, cluster];
    let empty = ClusterReading::default();
    let reading = match broker {
        BrokerObservation::Stopped => return forget(metrics, namespace, cluster),
        BrokerObservation::BrokerNotReady => {
            if vc.service(ServiceKind::Chain).is_some() {
                metrics.chain_reachable.with_label_values(&labels).set(0);
            }
            &empty
        }
        BrokerObservation::Read(reading) => {
            match &reading.head {
                None => forget_chain(metrics, namespace, cluster),
                Some(Err(_)) => metrics.chain_reachable.with_label_values(&labels).set(0),
                Some(Ok(head)) => {
                    metrics
                        .chain_head_height
                        .with_label_values(&labels)
                        .set(gauge_value(head.head_height));
                    metrics
                        .chain_last_irreversible_block
                        .with_label_values(&labels)
                        .set(gauge_value(head.last_irreversible_block));
                    match lag_seconds(head, now) {
                        Some(lag) => metrics
                            .chain_lag_seconds
                            .with_label_values(&labels)
                            .set(lag),
                        None => {
                            let _ = metrics.chain_lag_seconds.remove_label_values(&labels);
                        }
                    }
                    metrics.chain_reachable.with_label_values(&labels).set(1);
                }
            }
            reading
        }
    };
    let queues = rpc_queues(vc);
    for (service, queue) in queue_series(metrics, namespace, cluster) {
        if !queues.contains(&(service.clone(), queue.clone())) {
            forget_queue(metrics, &[namespace, cluster, &service, &queue]);
        }
    }
    for (service, queue) in &queues {
        let labels = [namespace, cluster, service, queue];
        match (
            reading.queue_depths.get(service),
            reading.queue_consumers.get(service),
        ) {
            (Some(depth), consumers) => {
                metrics
                    .queue_depth
                    .with_label_values(&labels)
                    .set(gauge_value(*depth));
                match consumers.filter(|_| !scaled_to_zero(vc, service)) {
                    Some(consumers) => metrics
                        .queue_consumers
                        .with_label_values(&labels)
                        .set(gauge_value(*consumers)),
                    None => {
                        let _ = metrics.queue_consumers.remove_label_values(&labels);
                    }
                }
            }
            (None, _) => forget_queue(metrics, &labels),
        }
    }
}

#[cfg(test)]
#[path = "cluster_metrics_tests.rs"]
mod tests;
