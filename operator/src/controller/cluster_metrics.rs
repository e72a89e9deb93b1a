//! The per-cluster gauges of [`Metrics`] (`koinos_operator_chain_*`, `koinos_operator_queue_*`)
//! from what a pass read of the cluster's own broker: the same reading as `status.chain` and
//! `queueDepth`, with the same rules. A head read that fails keeps the last height (heights only
//! grow) and sets `chain_reachable` to 0; a queue that could not be read has no series (never a
//! stale depth); a stopped or deleted cluster has no series at all (nothing runs, nothing to
//! alert on).

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

/// `(spec name, queue)` of every service that has an RPC queue.
fn rpc_queues() -> impl Iterator<Item = (&'static str, &'static str)> {
    ServiceKind::ALL.iter().filter_map(|kind| {
        let profile = kind.profile();
        profile.rpc_queue.map(|queue| (profile.spec_name, queue))
    })
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
    vc.services
        .iter()
        .find(|s| s.profile.spec_name == spec_name)
        .is_some_and(|s| s.autoscaling.is_none() && s.replicas == 0)
}

/// Removes every series of cluster `namespace/cluster` (stopped, or deleted).
pub fn forget(metrics: &Metrics, namespace: &str, cluster: &str) {
    forget_chain(metrics, namespace, cluster);
    for (service, queue) in rpc_queues() {
        forget_queue(metrics, &[namespace, cluster, service, queue]);
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
                let label = |name: &str| {
                    metric
                        .get_label()
                        .iter()
                        .find(|l| l.name() == name)
                        .map(|l| l.value().to_string())
                        .unwrap_or_default()
                };
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
    for (service, queue) in rpc_queues() {
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
mod tests {
    use super::*;
    use crate::broker::ReadFailure;
    use crate::crd::status::ChainStatus;
    use crate::test_support::{DEVNET, validated};

    fn at(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap())
    }

    fn head(height: u64, block_time: i64) -> ChainStatus {
        ChainStatus {
            head_height: height,
            last_irreversible_block: height.saturating_sub(5),
            head_block_time: Some(at(block_time)),
            ..ChainStatus::default()
        }
    }

    fn read(
        head: Option<Result<ChainStatus, ReadFailure>>,
        queues: &[(&str, u64, u64)],
    ) -> BrokerObservation {
        BrokerObservation::Read(ClusterReading {
            head,
            queue_depths: queues.iter().map(|(s, d, _)| (s.to_string(), *d)).collect(),
            queue_consumers: queues.iter().map(|(s, _, c)| (s.to_string(), *c)).collect(),
        })
    }

    /// The exposition lines of the cluster gauges.
    fn series(metrics: &Metrics) -> Vec<String> {
        metrics
            .render()
            .lines()
            .filter(|l| {
                l.starts_with("koinos_operator_chain") || l.starts_with("koinos_operator_queue")
            })
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_read_sets_chain_and_queue_gauges_labelled_by_cluster() {
        let metrics = Metrics::new();
        let vc = validated(DEVNET);
        let observation = read(
            Some(Ok(head(120, 1_000))),
            &[("blockStore", 7, 2), ("chain", 0, 1)],
        );
        record(&metrics, &vc, Some(&observation), &at(1_012));
        let lines = series(&metrics);
        for expected in [
            r#"koinos_operator_chain_head_height{cluster="devnet",namespace="koinos"} 120"#,
            r#"koinos_operator_chain_last_irreversible_block{cluster="devnet",namespace="koinos"} 115"#,
            r#"koinos_operator_chain_lag_seconds{cluster="devnet",namespace="koinos"} 12"#,
            r#"koinos_operator_chain_reachable{cluster="devnet",namespace="koinos"} 1"#,
            r#"koinos_operator_queue_depth{cluster="devnet",namespace="koinos",queue="koinos.rpc.block_store",service="blockStore"} 7"#,
            r#"koinos_operator_queue_consumers{cluster="devnet",namespace="koinos",queue="koinos.rpc.block_store",service="blockStore"} 2"#,
            r#"koinos_operator_queue_consumers{cluster="devnet",namespace="koinos",queue="koinos.rpc.chain",service="chain"} 1"#,
        ] {
            assert!(
                lines.iter().any(|l| l == expected),
                "{expected} not in {lines:#?}"
            );
        }
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("koinos_operator_queue_depth"))
                .count(),
            2,
            "only the queues read: {lines:#?}"
        );
    }

    #[test]
    fn a_failed_read_keeps_the_height_and_drops_unread_queues() {
        let metrics = Metrics::new();
        let vc = validated(DEVNET);
        let ok = read(Some(Ok(head(120, 1_000))), &[("blockStore", 7, 2)]);
        record(&metrics, &vc, Some(&ok), &at(1_003));
        let failed = read(
            Some(Err(ReadFailure::ChainTimeout {
                after: std::time::Duration::from_secs(2),
            })),
            &[],
        );
        record(&metrics, &vc, Some(&failed), &at(1_033));
        let lines = series(&metrics);
        assert!(
            lines.contains(
                &r#"koinos_operator_chain_head_height{cluster="devnet",namespace="koinos"} 120"#
                    .to_string()
            ),
            "{lines:#?}"
        );
        assert!(
            lines.contains(
                &r#"koinos_operator_chain_reachable{cluster="devnet",namespace="koinos"} 0"#
                    .to_string()
            ),
            "{lines:#?}"
        );
        assert!(
            !lines.iter().any(|l| l.starts_with("koinos_operator_queue")),
            "a depth that could not be read is absent, never stale: {lines:#?}"
        );
        // Not ready: unreachable, no queues.
        record(
            &metrics,
            &vc,
            Some(&BrokerObservation::BrokerNotReady),
            &at(1_063),
        );
        assert!(
            series(&metrics).contains(
                &r#"koinos_operator_chain_reachable{cluster="devnet",namespace="koinos"} 0"#
                    .to_string()
            )
        );
    }

    #[test]
    fn stopped_or_forgotten_clusters_have_no_series_and_others_keep_theirs() {
        let metrics = Metrics::new();
        let devnet = validated(DEVNET);
        let other = validated(&DEVNET.replace("name: devnet", "name: other"));
        let ok = read(Some(Ok(head(9, 1_000))), &[("mempool", 1, 1)]);
        record(&metrics, &devnet, Some(&ok), &at(1_001));
        record(&metrics, &other, Some(&ok), &at(1_001));
        record(
            &metrics,
            &devnet,
            Some(&BrokerObservation::Stopped),
            &at(1_031),
        );
        assert!(
            series(&metrics)
                .iter()
                .all(|l| !l.contains(r#"cluster="devnet""#))
        );
        assert_eq!(series(&metrics).len(), 6, "{:#?}", series(&metrics));
        retain(&metrics, |_, cluster| cluster != "other");
        assert!(series(&metrics).is_empty());
        // Brokers not read: nothing changes.
        record(&metrics, &devnet, None, &at(1_061));
        assert!(series(&metrics).is_empty());
    }

    #[test]
    fn a_service_scaled_to_zero_has_no_consumers_series() {
        let metrics = Metrics::new();
        let vc = validated(&format!(
            "{DEVNET}  services: {{mempool: {{replicas: 0}}}}\n"
        ));
        let observation = read(None, &[("mempool", 3, 0), ("blockStore", 0, 0)]);
        record(&metrics, &vc, Some(&observation), &at(1));
        let lines = series(&metrics);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("koinos_operator_queue_depth") && l.contains("mempool"))
        );
        assert!(
            !lines
                .iter()
                .any(|l| l.starts_with("koinos_operator_queue_consumers") && l.contains("mempool")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("koinos_operator_queue_consumers")
                    && l.contains("blockStore"))
        );
    }

    #[test]
    fn a_disabled_chain_has_no_chain_series() {
        let metrics = Metrics::new();
        let vc = validated(DEVNET);
        record(
            &metrics,
            &vc,
            Some(&read(Some(Ok(head(3, 0))), &[])),
            &at(1),
        );
        record(
            &metrics,
            &vc,
            Some(&read(None, &[("blockStore", 0, 0)])),
            &at(2),
        );
        let lines = series(&metrics);
        assert!(
            !lines.iter().any(|l| l.starts_with("koinos_operator_chain")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("koinos_operator_queue_consumers") && l.ends_with(" 0"))
        );
    }
}
